//! [`RedisCache`]: a cache tier shared by every replica, in Redis, with wrangle-cache's
//! in-process cache in front of it.

mod codec;
mod error;
mod remote;

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use wrangle_cache::{Cache, LoadError};
use wrangle_rt::{DefaultRuntime, Runtime};

pub use codec::{BytesCodec, RedisCodec, Utf8Codec};
pub use error::RedisCacheError;

use crate::future::{RedisCacheGet, RedisCacheInvalidate};
use crate::input::{check_duration, full_key, millis};
use crate::{MAX_KEY_LEN, Redis, RedisError, RedisErrorKind};
use remote::{Counters, Local, Remote, bump};

/// A cache shared by every replica: values live in Redis with a time to live, encoded by
/// your [`RedisCodec`]; a missing value is loaded by one replica while the others wait for
/// it; and an in-process [`wrangle_cache::Cache`] in front answers repeated reads without a
/// round trip.
///
/// [`get`](Self::get) looks in three places:
///
/// 1. **The in-process tier**: a fresh entry is returned at once. Concurrent callers of a
///    key in this process share one lookup (wrangle-cache's single-flight).
/// 2. **Redis** (`<prefix>v:<key>`): a stored value is decoded, kept in the in-process tier
///    until the moment it expires in Redis (its remaining time to live, read with it), and
///    returned.
/// 3. **The loader**, on one replica: the first replica to take the key's load lock
///    (`SET <prefix>l:<key> NX PX <lock time>`, renewed while the load runs) loads, stores
///    the value with `SET ... PX <time to live>`, and releases the lock. The others poll for
///    the value every [`poll_interval`](RedisCacheBuilder::poll_interval) (default 20 ms)
///    and return it once it is stored, for as long as the lock is held (a load that never
///    ends keeps them waiting, as the in-process single-flight does).
///
/// ```text
/// replica A  get(k): miss, lock ok  -- load (300 ms) -- SET k, unlock -> value
/// replica B  get(k): miss, locked   .. GET .. GET .. GET ............ GET -> value
/// replica C                  get(k): miss, locked .. GET .. GET ..... GET -> value
/// ```
///
/// Waiting by polling, not by keyspace notifications or pub/sub: polling needs no
/// server configuration (`notify-keyspace-events` is off by default and often not
/// settable on a managed Redis) and no second connection per process, and a waiter cannot
/// miss a notification sent between its read and its subscription. It costs one `GET` per
/// waiter per poll interval while a load runs, and up to one interval of latency.
///
/// What to know:
///
/// - **Failed loads are not shared or stored**: the loading replica gets the loader's error
///   ([`RedisCacheError::Load`]) and releases the lock; a waiting replica then takes the
///   lock and loads itself. A replica that dies while loading leaves its lock to expire
///   (the [lock time](RedisCacheBuilder::lock_time), default 10 s); a waiter then loads.
/// - **Redis unreachable**: the value is loaded here, without the other replicas (counted
///   in `unavailable`), and kept in the in-process tier only: a Redis outage costs extra
///   loads, never an error. A server error (not an outage) is a
///   [`RedisCacheError::Redis`].
/// - **Time to live**: one for all values ([`RedisCache::builder`]). A value is never
///   returned after it expired in Redis: the in-process copy expires at the same moment
///   (measured from before the read, so a little early, never late). Server time and the
///   runtime's clock are both read as durations, so the replicas' wall clocks do not matter.
/// - **[`invalidate`](Self::invalidate)** deletes the value in Redis and in this process;
///   other replicas may serve their in-process copy until it expires. For values that must
///   change at once everywhere, use a short time to live or no in-process tier
///   ([`local_max_entries(0)`](RedisCacheBuilder::local_max_entries)).
///
/// Keys are bytes (`String`, `Vec<u8>`, `&'static str`...), at most
/// [`MAX_KEY_LEN`] with the prefix. Values are at most [`MAX_VALUE_LEN`] once encoded.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use wrangle_redis::{Redis, RedisCache, Utf8Codec};
///
/// # wrangle_rt::VirtualRuntime::new().block_on(async {
/// let redis = Redis::open("redis://127.0.0.1:6379/").unwrap();
/// let profiles: RedisCache<String, String, Utf8Codec> =
///     RedisCache::builder(redis, Utf8Codec, Duration::from_secs(300))
///         .prefix("profiles:")
///         .local_max_entries(10_000)
///         .build()
///         .unwrap();
///
/// // On every replica: the profile service is asked once per user per 5 minutes in all.
/// let user = "user-42".to_string();
/// let profile = profiles
///     .get(user.clone(), || async move {
///         // fetch from the profile service
///         Ok::<_, String>(format!("{{\"id\":\"{user}\"}}"))
///     })
///     .await
///     .unwrap();
/// println!("{profile}");
/// let s = profiles.stats();
/// println!("loaded here {} times, {} Redis hits", s.started, s.remote_hits);
/// # });
/// ```
pub struct RedisCache<K, V, C, R: Runtime = DefaultRuntime> {
    inner: Arc<Inner<K, V, C, R>>,
}

/// The longest encoded value stored: 512 MiB, Redis's own limit for a string
/// (`proto-max-bulk-len`). A longer value is not stored (the load still returns it, and
/// counts a `remote_errors`).
pub const MAX_VALUE_LEN: usize = 512 * 1024 * 1024;

struct Inner<K, V, C, R: Runtime> {
    local: Cache<K, Local<V>, R>,
    redis: Redis<R>,
    codec: Arc<C>,
    prefix: Vec<u8>,
    ttl: Duration,
    ttl_ms: u64,
    lock_ttl: Duration,
    lock_ms: u64,
    poll: Duration,
    counters: Arc<Counters>,
}

impl<K, V, C, R: Runtime> Clone for RedisCache<K, V, C, R> {
    fn clone(&self) -> Self {
        RedisCache {
            inner: self.inner.clone(),
        }
    }
}

/// A snapshot of a [`RedisCache`]'s counters (this process only).
///
/// Invariant: `started == completed + failed + cancelled + running` (the loads run here).
/// Every `get` that returned a value counted one of `hits`, `remote_hits`, `waited`,
/// `completed` (a value it loaded, `unavailable` included).
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use wrangle_redis::{BytesCodec, Redis, RedisCache};
///
/// # wrangle_rt::VirtualRuntime::new().block_on(async {
/// let redis = Redis::open("redis://127.0.0.1/").unwrap();
/// let cache: RedisCache<&str, Vec<u8>, BytesCodec> =
///     RedisCache::builder(redis, BytesCodec, Duration::from_secs(60)).build().unwrap();
/// for _ in 0..3 {
///     cache.get("k", || async { Ok::<_, String>(vec![1, 2, 3]) }).await.unwrap();
/// }
/// let s = cache.stats();
/// // Loaded here (or found in Redis) once, then served from this process.
/// assert_eq!(s.hits, 2);
/// assert_eq!(s.completed + s.remote_hits + s.waited, 1);
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisCacheStats {
    /// Gets answered by the in-process tier (a fresh entry, or a load of another caller in
    /// this process).
    pub hits: u64,
    /// Gets answered from Redis.
    pub remote_hits: u64,
    /// Gets that waited for another replica's load and got its value.
    pub waited: u64,
    /// Loads run in this process (as the replica holding the key's lock, or while Redis
    /// was unreachable).
    pub started: u64,
    /// Loads that returned a value.
    pub completed: u64,
    /// Loads that returned an error or panicked.
    pub failed: u64,
    /// Loads dropped before they ended.
    pub cancelled: u64,
    /// Loads running now.
    pub running: usize,
    /// Loads run here because Redis was unreachable (also in `started`).
    pub unavailable: u64,
    /// Redis calls that failed as unreachable, or a value that could not be stored.
    pub remote_errors: u64,
}

/// Configures a [`RedisCache`]: made by [`RedisCache::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_redis::{Redis, RedisCache, RedisErrorKind, Utf8Codec};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let redis = Redis::builder("redis://127.0.0.1/").runtime(rt).build().unwrap();
/// // A lock that expires before its first renewal could be taken by a second loader.
/// let err = RedisCache::<String, String, _, _>::builder(redis, Utf8Codec, Duration::from_secs(60))
///     .lock_time(Duration::from_millis(2))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.kind(), RedisErrorKind::InvalidDuration);
/// ```
#[must_use = "a builder does nothing until built"]
pub struct RedisCacheBuilder<K, V, C, R: Runtime = DefaultRuntime> {
    redis: Redis<R>,
    codec: C,
    ttl: Duration,
    prefix: Vec<u8>,
    local_max_entries: usize,
    lock_ttl: Duration,
    poll: Duration,
    _types: std::marker::PhantomData<fn() -> (K, V)>,
}

impl<K, V, C, R: Runtime> fmt::Debug for RedisCacheBuilder<K, V, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCacheBuilder")
            .field("ttl", &self.ttl)
            .field("prefix", &String::from_utf8_lossy(&self.prefix))
            .field("local_max_entries", &self.local_max_entries)
            .field("lock_time", &self.lock_ttl)
            .field("poll_interval", &self.poll)
            .finish_non_exhaustive()
    }
}

impl<K, V, C, R> RedisCache<K, V, C, R>
where
    K: Hash + Eq + Clone + Send + Sync + AsRef<[u8]> + 'static,
    V: Clone + Send + Sync + 'static,
    C: RedisCodec<V>,
    R: Runtime,
{
    /// Configures a cache whose values live `ttl` in Redis, encoded by `codec`, on
    /// `redis` (whose runtime times the waits). Defaults: prefix `"wrangle:cache:"`, 10,000
    /// entries in the in-process tier, a lock time of 10 s, a poll interval of 20 ms.
    pub fn builder(redis: Redis<R>, codec: C, ttl: Duration) -> RedisCacheBuilder<K, V, C, R> {
        RedisCacheBuilder {
            redis,
            codec,
            ttl,
            prefix: b"wrangle:cache:".to_vec(),
            local_max_entries: 10_000,
            lock_ttl: Duration::from_secs(10),
            poll: Duration::from_millis(20),
            _types: std::marker::PhantomData,
        }
    }

    /// The value of `key`: from this process, from Redis, or loaded with `loader` by one
    /// replica (see [`RedisCache`]).
    ///
    /// The loader's error type must be `Clone`: the callers of this process that share a
    /// load each receive it (wrap an error that is not `Clone` in an `Arc`).
    ///
    /// # Examples
    ///
    /// Three replicas (here, three handles in one process, as three processes would be)
    /// ask for the same missing key at once: one loads it.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use futures_lite::future::zip;
    /// use wrangle_redis::{Redis, RedisCache, Utf8Codec};
    /// use wrangle_rt::Runtime;
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let loads = Arc::new(AtomicU32::new(0));
    /// let replica = || {
    ///     let redis = Redis::open("redis://127.0.0.1/").unwrap();
    ///     RedisCache::<&str, String, _>::builder(redis, Utf8Codec, Duration::from_secs(60))
    ///         .build()
    ///         .unwrap()
    /// };
    /// let get = |cache: RedisCache<&'static str, String, Utf8Codec>| {
    ///     let loads = loads.clone();
    ///     cache.get("exchange-rates", move || async move {
    ///         loads.fetch_add(1, Ordering::SeqCst);
    ///         wrangle_rt::DefaultRuntime::current().sleep(Duration::from_millis(300)).await;
    ///         Ok::<_, String>("EUR=1.08".to_string())
    ///     })
    /// };
    /// let (a, (b, c)) = zip(get(replica()), zip(get(replica()), get(replica()))).await;
    /// let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    /// assert!(a == b && b == c);
    /// assert_eq!(loads.load(Ordering::SeqCst), 1);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisCacheError::Load`] with the loader's error, [`RedisCacheError::Panicked`] if
    /// the loader or the codec panicked, [`RedisCacheError::Encode`] and
    /// [`RedisCacheError::Decode`] with the codec's errors, [`RedisCacheError::Redis`] for a
    /// key that is empty or too long ([`RedisErrorKind::InvalidKey`]) or an error answered
    /// by the server. Never for an unreachable Redis: the value is then loaded here.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the load if this caller runs it: in this process the next
    /// caller of the key takes over (wrangle-cache's hand-over); on the server, the key's
    /// lock is released by a detached task (or expires), and another replica's waiter
    /// loads. A waiter that is dropped just stops polling.
    pub fn get<E, F, Fut>(&self, key: K, loader: F) -> RedisCacheGet<V, E, C::Error>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Clone + Send + Sync + 'static,
    {
        let inner = self.inner.clone();
        RedisCacheGet::new(async move { inner.get(key, loader).await })
    }

    /// Deletes `key`'s value in Redis and in this process's tier; resolves to whether Redis
    /// had one. Other replicas may serve their in-process copy until it expires.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisCache, Utf8Codec};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// let cache: RedisCache<&str, String, _> =
    ///     RedisCache::builder(redis, Utf8Codec, Duration::from_secs(60)).build().unwrap();
    /// let v1 = cache.get("config", || async { Ok::<_, String>("v1".to_string()) });
    /// assert_eq!(v1.await.unwrap(), "v1");
    /// // The config changed: drop the cached copy, the next get loads again.
    /// assert!(cache.invalidate(&"config").await.unwrap());
    /// let v2 = cache.get("config", || async { Ok::<_, String>("v2".to_string()) });
    /// assert_eq!(v2.await.unwrap(), "v2");
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// A [`RedisError`] for an invalid key or a failed call (the in-process copy is
    /// removed either way).
    ///
    /// # Cancel safety
    ///
    /// The in-process copy is removed when this is called; dropping the future may or may
    /// not have deleted the value in Redis.
    pub fn invalidate(&self, key: &K) -> RedisCacheInvalidate {
        self.inner.local.invalidate(key);
        let redis = self.inner.redis.clone();
        let value_key = self.inner.key(b"v:", key.as_ref());
        RedisCacheInvalidate::new(async move {
            let value_key = value_key?;
            let deleted: i64 = redis
                .call(move |mut conn| async move {
                    redis::cmd("DEL")
                        .arg(value_key)
                        .query_async(&mut conn)
                        .await
                })
                .await?;
            Ok(deleted == 1)
        })
    }

    /// A snapshot of this process's counters; see [`RedisCacheStats`].
    #[must_use]
    pub fn stats(&self) -> RedisCacheStats {
        let c = &self.inner.counters;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        RedisCacheStats {
            hits: get(&c.hits),
            remote_hits: get(&c.remote_hits),
            waited: get(&c.waited),
            completed: get(&c.completed),
            failed: get(&c.failed),
            cancelled: get(&c.cancelled),
            running: c.running.load(Ordering::Relaxed),
            started: get(&c.started),
            unavailable: get(&c.unavailable),
            remote_errors: get(&c.remote_errors),
        }
    }
}

impl<K, V, C, R> Inner<K, V, C, R>
where
    K: Hash + Eq + Clone + Send + Sync + AsRef<[u8]> + 'static,
    V: Clone + Send + Sync + 'static,
    C: RedisCodec<V>,
    R: Runtime,
{
    fn key(&self, kind: &[u8], key: &[u8]) -> Result<Vec<u8>, RedisError> {
        if key.is_empty() {
            return Err(RedisError::new(RedisErrorKind::InvalidKey, "empty key"));
        }
        let mut prefix = self.prefix.clone();
        prefix.extend_from_slice(kind);
        full_key(&prefix, key)
    }

    async fn get<E, F, Fut>(&self, key: K, loader: F) -> Result<V, RedisCacheError<E, C::Error>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
        E: Clone + Send + Sync + 'static,
    {
        let value_key = self
            .key(b"v:", key.as_ref())
            .map_err(RedisCacheError::Redis)?;
        let lock_key = self
            .key(b"l:", key.as_ref())
            .map_err(RedisCacheError::Redis)?;
        let rt = self.redis.runtime();
        let mut loader = Some(loader);
        // At most a few rounds: an entry found stale is dropped and looked up again.
        for _ in 0..3 {
            let remote = Remote {
                redis: self.redis.clone(),
                codec: self.codec.clone(),
                value_key: value_key.clone(),
                lock_key: lock_key.clone(),
                ttl: self.ttl,
                ttl_ms: self.ttl_ms,
                lock_ms: self.lock_ms,
                lock_ttl: self.lock_ttl,
                poll: self.poll,
                counters: self.counters.clone(),
            };
            let found = self
                .local
                .try_get_or_insert_with(key.clone(), || {
                    let loader = loader.take().expect("the in-process tier calls it once");
                    remote.load(loader)
                })
                .await;
            let local = match found {
                Ok(local) => local,
                Err(LoadError::Failed(e)) => return Err(e.into()),
                Err(LoadError::Panicked(p)) => return Err(RedisCacheError::Panicked(p)),
                Err(_) => {
                    return Err(RedisCacheError::Redis(RedisError::new(
                        RedisErrorKind::Server,
                        "the in-process tier failed in a way this version does not know",
                    )));
                }
            };
            if loader.is_none() {
                // Looked up for this call: fresh by construction.
                return Ok(local.value);
            }
            if rt.now() < local.until {
                bump(&self.counters.hits);
                return Ok(local.value);
            }
            self.local.invalidate(&key);
        }
        // Stale three times in a row (a value at the end of its life): load it.
        let loader = loader.take().expect("not called in the rounds above");
        let remote = Remote {
            redis: self.redis.clone(),
            codec: self.codec.clone(),
            value_key,
            lock_key,
            ttl: self.ttl,
            ttl_ms: self.ttl_ms,
            lock_ms: self.lock_ms,
            lock_ttl: self.lock_ttl,
            poll: self.poll,
            counters: self.counters.clone(),
        };
        match remote.load(loader).await {
            Ok(local) => Ok(local.value),
            Err(e) => Err(e.into()),
        }
    }
}

impl<K, V, C, R> RedisCacheBuilder<K, V, C, R>
where
    K: Hash + Eq + Clone + Send + Sync + AsRef<[u8]> + 'static,
    V: Clone + Send + Sync + 'static,
    C: RedisCodec<V>,
    R: Runtime,
{
    /// Prepended to every key on the server (default `"wrangle:cache:"`); values are at
    /// `<prefix>v:<key>`, load locks at `<prefix>l:<key>`. Caches with different codecs must
    /// not share a prefix.
    pub fn prefix(mut self, prefix: impl AsRef<[u8]>) -> Self {
        self.prefix = prefix.as_ref().to_vec();
        self
    }

    /// The most entries kept in this process's tier (default 10,000); 0 keeps none (every
    /// get asks Redis; loads are still shared).
    pub fn local_max_entries(mut self, max: usize) -> Self {
        self.local_max_entries = max;
        self
    }

    /// How long a replica's load lock lasts without renewal (default 10 s): renewed every
    /// third of it while the load runs, so it only matters when the loading process dies,
    /// as the longest the other replicas wait before one of them loads.
    pub fn lock_time(mut self, lock: Duration) -> Self {
        self.lock_ttl = lock;
        self
    }

    /// How often a replica waiting for another's load looks for its value (default 20 ms).
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Builds the cache; nothing is sent to the server.
    ///
    /// # Errors
    ///
    /// [`RedisErrorKind::InvalidDuration`] for a time to live, lock time or poll interval
    /// that is zero or longer than [`MAX_DURATION`](crate::MAX_DURATION), or a lock time
    /// below 3 ms; [`RedisErrorKind::InvalidKey`] for a prefix longer than [`MAX_KEY_LEN`].
    pub fn build(self) -> Result<RedisCache<K, V, C, R>, RedisError> {
        let ttl_ms = millis(self.ttl)?;
        let lock_ms = millis(self.lock_ttl)?;
        if lock_ms < 3 {
            return Err(RedisError::new(
                RedisErrorKind::InvalidDuration,
                "lock time below 3 ms",
            ));
        }
        check_duration(self.poll)?;
        if self.prefix.len() + 2 >= MAX_KEY_LEN {
            return Err(RedisError::new(
                RedisErrorKind::InvalidKey,
                "prefix longer than MAX_KEY_LEN",
            ));
        }
        let local = Cache::builder()
            .max_entries(self.local_max_entries)
            .time_to_live(self.ttl)
            .runtime(self.redis.runtime().clone())
            .build()
            .map_err(|_| {
                RedisError::new(
                    RedisErrorKind::InvalidDuration,
                    "time to live refused by wrangle-cache",
                )
            })?;
        Ok(RedisCache {
            inner: Arc::new(Inner {
                local,
                redis: self.redis,
                codec: Arc::new(self.codec),
                prefix: self.prefix,
                ttl: self.ttl,
                ttl_ms,
                lock_ttl: self.lock_ttl,
                lock_ms,
                poll: self.poll,
                counters: Arc::new(Counters::default()),
            }),
        })
    }
}

impl<K, V, C, R: Runtime> fmt::Debug for RedisCache<K, V, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("RedisCache")
            .field("prefix", &String::from_utf8_lossy(&i.prefix))
            .field("ttl", &i.ttl)
            .field("lock_time", &i.lock_ttl)
            .field("poll_interval", &i.poll)
            .finish_non_exhaustive()
    }
}

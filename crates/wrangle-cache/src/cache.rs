//! [`Cache`]: a concurrent cache with TTL, time to idle and per-key single-flight loads.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use wrangle_rt::{DefaultRuntime, Runtime};

use crate::builder::CacheBuilder;
use crate::finish::{Fallible, Plain};
use crate::flow::{Flow, FnInit};
use crate::future::{GetOrInsertWith, TryGetOrInsertWith};
use crate::inner::Inner;
use crate::stats::CacheStats;
use crate::store::Store;

/// A concurrent cache whose loads are shared per key, with a time to live and a time to
/// idle on the runtime's clock.
///
/// - Bounded by entries or by weight, with [S3-FIFO](crate::Policy::S3Fifo) (the default,
///   from `quick_cache`) or exact [LRU](crate::Policy::Lru) eviction; capacity 0 keeps
///   nothing and still shares loads.
/// - [`get_or_insert_with`](Cache::get_or_insert_with): on a miss, concurrent callers of one
///   key share one load. Dropping the caller that runs it cancels nothing for the others:
///   one of them takes the load over. A panicking loader is an error for every caller and
///   caches nothing; [`try_get_or_insert_with`](Cache::try_get_or_insert_with) shares errors
///   the same way and never caches them.
/// - An expired entry is never returned. Time to live counts from the end of the load;
///   reads do not extend it.
///
/// Cloning a `Cache` is cheap and shares it. The cache owns no tasks: time is read through
/// the runtime, nothing runs in the background (for refresh-ahead and preemptive loads, see
/// [`Memoized`](crate::Memoized)).
///
/// # Examples
///
/// Ten concurrent requests for one missing user make one query; the eleventh, a minute
/// later, finds the entry expired and queries again.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use wrangle_cache::Cache;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let users: Cache<u32, String, _> = Cache::builder()
///     .max_entries(10_000)
///     .time_to_live(Duration::from_secs(60))
///     .runtime(rt.clone())
///     .build()
///     .unwrap();
/// let queries = Arc::new(AtomicU32::new(0));
///
/// let fetch = |id: u32| {
///     let (users, rt, queries) = (users.clone(), rt.clone(), queries.clone());
///     async move {
///         users
///             .get_or_insert_with(id, || async move {
///                 queries.fetch_add(1, Ordering::Relaxed);
///                 rt.sleep(Duration::from_millis(20)).await; // the database
///                 format!("user {id}")
///             })
///             .await
///             .unwrap()
///     }
/// };
/// rt.block_on(async {
///     let requests: Vec<_> = (0..10).map(|_| rt.spawn(fetch(7))).collect();
///     for r in requests {
///         assert_eq!(r.await.unwrap(), "user 7");
///     }
///     assert_eq!(queries.load(Ordering::Relaxed), 1);
///
///     rt.sleep(Duration::from_secs(60)).await;
///     fetch(7).await;
///     assert_eq!(queries.load(Ordering::Relaxed), 2);
/// });
/// ```
pub struct Cache<K, V, R: Runtime = DefaultRuntime> {
    inner: Arc<Inner<K, V, R>>,
}

impl<K, V, R: Runtime> Clone for Cache<K, V, R> {
    fn clone(&self) -> Self {
        Cache {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V, R: Runtime> fmt::Debug for Cache<K, V, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache of at most `max_entries` entries, S3-FIFO, without expiry, on
    /// [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_cache::Cache;
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let cache: Cache<&str, u32> = Cache::new(2);
    /// cache.insert("a", 1);
    /// assert_eq!(cache.get(&"a"), Some(1));
    /// # });
    /// ```
    ///
    /// # Panics
    ///
    /// Outside any runtime in a build without a runtime feature (see
    /// [`DefaultRuntime::current`]).
    #[must_use]
    pub fn new(max_entries: usize) -> Self {
        Cache::with_runtime(DefaultRuntime::current(), max_entries)
    }

    /// Configures a cache: capacity by entries or weight, policy, time to live, time to
    /// idle, runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_cache::{Cache, Policy};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let cache: Cache<u64, String> = Cache::builder()
    ///     .max_entries(128)
    ///     .policy(Policy::Lru)
    ///     .time_to_live(Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// # drop(cache);
    /// # });
    /// ```
    #[must_use]
    pub fn builder() -> CacheBuilder<K, V> {
        CacheBuilder::new()
    }
}

impl<K, V, R> Cache<K, V, R>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    pub(crate) fn from_inner(inner: Arc<Inner<K, V, R>>) -> Self {
        Cache { inner }
    }

    pub(crate) fn inner(&self) -> &Arc<Inner<K, V, R>> {
        &self.inner
    }

    /// A cache of at most `max_entries` entries, S3-FIFO, without expiry, whose clock is
    /// `rt`'s.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_cache::Cache;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let cache: Cache<u8, u8, _> = Cache::with_runtime(VirtualRuntime::new(), 0);
    /// cache.insert(1, 1); // capacity 0: nothing is kept
    /// assert_eq!(cache.get(&1), None);
    /// assert_eq!(cache.stats().evictions, 1);
    /// ```
    #[must_use]
    pub fn with_runtime(rt: R, max_entries: usize) -> Self {
        CacheBuilder::new()
            .max_entries(max_entries)
            .runtime(rt)
            .build()
            .expect("a capacity alone is always valid")
    }

    /// The value of `key`, if a fresh one is cached. Counts a hit or a miss; with
    /// [`Policy::Lru`](crate::Policy::Lru) a hit makes the entry the most recent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_cache::Cache;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let cache: Cache<&str, u32, _> = Cache::builder()
    ///     .time_to_live(Duration::from_secs(1))
    ///     .runtime(rt.clone())
    ///     .build()
    ///     .unwrap();
    /// cache.insert("k", 1);
    /// rt.block_on(rt.sleep(Duration::from_millis(999)));
    /// assert_eq!(cache.get(&"k"), Some(1));
    /// rt.block_on(rt.sleep(Duration::from_millis(1)));
    /// assert_eq!(cache.get(&"k"), None); // expired entries are never returned
    /// ```
    pub fn get(&self, key: &K) -> Option<V> {
        let found = match &self.inner.store {
            Store::Bare(bare) => bare.get(key),
            _ => self
                .inner
                .lookup(key, self.inner.now())
                .map(|entry| entry.value),
        };
        match found {
            Some(value) => {
                self.inner.counters.hits.incr();
                Some(value)
            }
            None => {
                self.inner.counters.misses.incr();
                None
            }
        }
    }

    /// Stores `value` under `key`, replacing what was there; its time to live starts now.
    /// A load of `key` in progress replaces it again when it ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_cache::Cache;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let cache: Cache<&str, u32, _> = Cache::with_runtime(VirtualRuntime::new(), 10);
    /// cache.insert("k", 1);
    /// cache.insert("k", 2);
    /// assert_eq!((cache.get(&"k"), cache.len()), (Some(2), 1));
    /// ```
    pub fn insert(&self, key: K, value: V) {
        self.inner.insert(key, value);
    }

    /// Removes `key`'s entry; whether there was one. A load of `key` in progress still
    /// answers its callers, but its value is not stored, and the next caller loads anew.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_cache::Cache;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let cache: Cache<&str, u32, _> = Cache::with_runtime(VirtualRuntime::new(), 10);
    /// cache.insert("k", 1);
    /// assert!(cache.invalidate(&"k"));
    /// assert!(!cache.invalidate(&"k"));
    /// assert_eq!(cache.stats().invalidations, 1);
    /// ```
    pub fn invalidate(&self, key: &K) -> bool {
        self.inner.invalidate(key)
    }

    /// Removes every entry. Loads in progress answer their callers but store nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_cache::Cache;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let cache: Cache<u32, u32, _> = Cache::with_runtime(VirtualRuntime::new(), 10);
    /// (0..5).for_each(|i| cache.insert(i, i));
    /// cache.clear();
    /// assert!(cache.is_empty());
    /// ```
    pub fn clear(&self) {
        self.inner.clear();
    }

    /// Entries held now (expired ones that no read removed yet included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.store.len()
    }

    /// Whether no entry is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the counters; see [`CacheStats`] for their invariant.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        self.inner.stats()
    }

    /// The value of `key`, loaded with `init` on a miss, the load shared by every
    /// concurrent caller of `key`.
    ///
    /// On a hit `init` is dropped uncalled. On a miss the first caller runs `init()` and
    /// awaits it; the others wait for its value. `init` is called, and its future polled,
    /// under `catch_unwind`: a panic ends the load, every caller receives it as a
    /// [`PanicPayload`](wrangle_rt::PanicPayload) (waiters get one carrying its message),
    /// and nothing is cached.
    ///
    /// # Examples
    ///
    /// The leader is dropped halfway through its load; the other caller takes it over and
    /// nothing is lost or poisoned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_cache::Cache;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let cache: Cache<&str, u32, _> = Cache::with_runtime(rt.clone(), 10);
    /// let load = |v: u32| {
    ///     let rt = rt.clone();
    ///     move || async move {
    ///         rt.sleep(Duration::from_millis(100)).await;
    ///         v
    ///     }
    /// };
    /// rt.block_on(async {
    ///     let leader = rt.spawn({
    ///         let cache = cache.clone();
    ///         let init = load(1);
    ///         async move { cache.get_or_insert_with("k", init).await }
    ///     });
    ///     rt.sleep(Duration::from_millis(10)).await;
    ///     let waiter = rt.spawn({
    ///         let cache = cache.clone();
    ///         let init = load(2);
    ///         async move { cache.get_or_insert_with("k", init).await }
    ///     });
    ///     rt.sleep(Duration::from_millis(40)).await;
    ///     drop(leader); // cancels the leader mid-load
    ///     assert_eq!(waiter.await.unwrap().unwrap(), 2);
    /// });
    /// let s = cache.stats();
    /// assert_eq!((s.started, s.cancelled, s.completed), (2, 1, 1));
    /// ```
    ///
    /// # Errors
    ///
    /// The loader's panic, as a [`PanicPayload`](wrangle_rt::PanicPayload).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, and cancelling costs the others nothing: a dropped waiter just leaves;
    /// a dropped leader drops its loader's future and hands the load to the waiters (the
    /// first of them to run calls its own `init`), so a key's load runs at most once more
    /// per cancelled leader.
    pub fn get_or_insert_with<F, Fut>(
        &self,
        key: K,
        init: F,
    ) -> GetOrInsertWith<'_, K, V, R, F, Fut>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        GetOrInsertWith::new(Flow::new(&*self.inner, key, FnInit(init), Plain))
    }

    /// The value of `key`, loaded with the fallible `init` on a miss, the load shared by
    /// every concurrent caller of `key`.
    ///
    /// As [`get_or_insert_with`](Cache::get_or_insert_with), and an error ends the load for
    /// every caller sharing it: the leader receives it, the waiters a clone. Errors are
    /// never cached: the next call loads again. (To cache errors for a while, see
    /// [`MemoizedBuilder::cache_errors_for`](crate::MemoizedBuilder::cache_errors_for).)
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_cache::{Cache, LoadError};
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let cache: Cache<u32, String, _> = Cache::with_runtime(rt.clone(), 10);
    /// rt.block_on(async {
    ///     let err = cache
    ///         .try_get_or_insert_with(1, || async { Err::<String, _>("backend down") })
    ///         .await
    ///         .unwrap_err();
    ///     assert!(matches!(err, LoadError::Failed("backend down")));
    ///     // Not cached: the next call loads again, and succeeds.
    ///     let ok = cache
    ///         .try_get_or_insert_with(1, || async { Ok::<_, &str>("one".to_string()) })
    ///         .await;
    ///     assert_eq!(ok.unwrap(), "one");
    /// });
    /// assert_eq!(cache.stats().started, 2);
    /// ```
    ///
    /// # Errors
    ///
    /// [`LoadError::Failed`](crate::LoadError::Failed) with the loader's error,
    /// [`LoadError::Panicked`](crate::LoadError::Panicked) with its panic.
    /// A caller that joins a load run by a caller with another error type (or by an
    /// infallible one) and sees it fail looks again, and may load itself.
    ///
    /// # Cancel safety
    ///
    /// As [`get_or_insert_with`](Cache::get_or_insert_with).
    pub fn try_get_or_insert_with<F, Fut, E>(
        &self,
        key: K,
        init: F,
    ) -> TryGetOrInsertWith<'_, K, V, R, F, Fut, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
        E: Clone + Send + Sync + 'static,
    {
        TryGetOrInsertWith::new(Flow::new(&*self.inner, key, FnInit(init), Fallible::new()))
    }

    /// The runtime whose clock the cache reads.
    #[must_use]
    pub fn runtime(&self) -> &R {
        &self.inner.rt
    }
}

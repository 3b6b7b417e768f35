//! [`RedisLease`]: one holder at a time, a fencing token, renewal in the background.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wrangle_rt::{CancellationToken, JoinHandle, Runtime};

use crate::future::{LeaseAcquire, LeaseLost, LeaseRelease, LeaseTryAcquire};
use crate::input::{full_key, has_hash_tag, millis};
use crate::{Redis, RedisError, RedisErrorKind};

/// Takes the lease if free: {1, fencing token} or {0, milliseconds it is still held}.
static ACQUIRE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
           return {1, redis.call('INCR', KEYS[2])}
         end
         return {0, redis.call('PTTL', KEYS[1])}",
    )
});

/// Extends the lease if this owner still holds it: 1, else 0.
pub(crate) static RENEW: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then
           return redis.call('PEXPIRE', KEYS[1], ARGV[2])
         end
         return 0",
    )
});

/// Deletes the lease if this owner still holds it: 1, else 0.
pub(crate) static RELEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then
           return redis.call('DEL', KEYS[1])
         end
         return 0",
    )
});

/// A held lease on a key in Redis: at most one holder at a time, across every process.
///
/// - **Fencing token**: each grant takes [`token`](Self::token) from an `INCR` on
///   `<key>:fence`, so tokens grow strictly from holder to holder. A resource that remembers
///   the highest token it has seen and refuses lower ones is safe even from a holder that
///   was paused past its lease.
/// - **Renewal**: a task on the runtime extends the lease every third of its time to live
///   while the guard lives; the guard owns it and cancels it on drop.
/// - **Loss**: when a renewal finds the lease gone (it expired and someone else took it) or
///   fails (or hangs) until the lease's time is up (measured locally from the last renewal
///   sent), the lease is lost: [`is_held`](Self::is_held) turns false and
///   [`lost`](Self::lost) completes, at the local deadline at the latest. [`is_held`](Self::is_held) reads the local deadline itself, so it is false
///   from that instant on even before the renewal task notices.
/// - **Release**: [`release`](Self::release), or dropping the guard (a detached task then
///   deletes the lease, best effort; if that fails, the lease expires within its time to
///   live). A holder killed outright is replaced once its lease expires.
///
/// The key is used as is (no prefix); the token counter lives at `<key>:fence` and is never
/// deleted, so tokens keep growing across releases. On a
/// Redis Cluster (`Redis::cluster_builder`) the key needs a hash tag (`{jobs}:leader`)
/// so that both live in one slot; a key without one is refused with
/// [`RedisErrorKind::InvalidKey`] before anything is sent.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use wrangle_redis::{Redis, RedisLease};
///
/// # wrangle_rt::VirtualRuntime::new().block_on(async {
/// let redis = Redis::open("redis://127.0.0.1/").unwrap();
/// let lease = RedisLease::acquire(&redis, "jobs:compaction", Duration::from_secs(10)).await.unwrap();
/// let token = lease.token();
/// // Do the work, passing `token` to whatever you write to, and stop when the lease is lost.
/// let work = async { /* compact, writing with `token` */ };
/// futures_lite::future::or(work, lease.lost()).await;
/// lease.release().await.unwrap();
/// # let _ = token;
/// # });
/// ```
pub struct RedisLease<R: Runtime = wrangle_rt::DefaultRuntime> {
    shared: Arc<Shared<R>>,
    renewal: Option<JoinHandle<()>>,
}

struct Shared<R: Runtime> {
    redis: Redis<R>,
    key: Vec<u8>,
    owner: Vec<u8>,
    ttl_ms: u64,
    ttl: Duration,
    token: u64,
    /// Cancelled when the lease is lost or given up.
    lost: CancellationToken,
    /// The local instant after which the lease may have expired on the server.
    valid_until: Mutex<Instant>,
}

impl<R: Runtime> Shared<R> {
    fn valid_until(&self) -> Instant {
        *self
            .valid_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A value nobody else will write to the key: 128 random bits per process (std's hasher
/// seeds) and a counter.
pub(crate) fn owner_id() -> Vec<u8> {
    static SEED: LazyLock<(u64, u64)> = LazyLock::new(|| {
        let a = RandomState::new().hash_one(std::process::id());
        let b = RandomState::new().hash_one(std::time::SystemTime::now());
        (a, b)
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{:016x}-{}-{n}", SEED.0, SEED.1, std::process::id()).into_bytes()
}

impl<R: Runtime> RedisLease<R> {
    /// Takes the lease on `key` for `ttl` if nobody holds it: `Ok(None)` if someone does.
    ///
    /// `ttl` is the lease's time to live on the server, renewed every `ttl / 3`; a holder
    /// that dies is replaced within `ttl` (plus the contender's retry). Sent in whole
    /// milliseconds, at least 3.
    ///
    /// # Errors
    ///
    /// [`RedisErrorKind::InvalidKey`], or [`RedisErrorKind::InvalidDuration`] for a `ttl`
    /// below 3 ms or above [`MAX_DURATION`](crate::MAX_DURATION), before anything is sent;
    /// a [`RedisError`] from the call.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLease};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// match RedisLease::try_acquire(&redis, "report:daily", Duration::from_secs(30)).await.unwrap() {
    ///     Some(lease) => println!("this replica runs the report (token {})", lease.token()),
    ///     None => println!("another replica has it"),
    /// }
    /// # });
    /// ```
    pub fn try_acquire(
        redis: &Redis<R>,
        key: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> LeaseTryAcquire<R> {
        let redis = redis.clone();
        let key = full_key(b"", key.as_ref());
        LeaseTryAcquire::new(async move {
            let (key, ttl_ms) = checked(&redis, key, ttl)?;
            Ok(attempt(&redis, key, ttl, ttl_ms).await?.ok())
        })
    }

    /// Waits until the lease on `key` is free and takes it; see
    /// [`try_acquire`](Self::try_acquire). While someone holds it, the future sleeps on the
    /// runtime's timer until the holder's lease would expire (at most a third of `ttl`)
    /// and tries again.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire): a failed call ends the wait with its error.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLease};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// let lease = RedisLease::acquire(&redis, "migrations", Duration::from_secs(5)).await.unwrap();
    /// // Only one replica runs the migrations; the others wait here, then find them done.
    /// assert!(lease.is_held());
    /// # });
    /// ```
    pub fn acquire(redis: &Redis<R>, key: impl AsRef<[u8]>, ttl: Duration) -> LeaseAcquire<R> {
        let redis = redis.clone();
        let key = full_key(b"", key.as_ref());
        LeaseAcquire::new(async move {
            let (key, ttl_ms) = checked(&redis, key, ttl)?;
            loop {
                match attempt(&redis, key.clone(), ttl, ttl_ms).await? {
                    Ok(lease) => return Ok(lease),
                    Err(held_for) => {
                        let pause = held_for.clamp(Duration::from_millis(1), ttl / 3);
                        redis.runtime().sleep(pause).await;
                    }
                }
            }
        })
    }

    /// The fencing token of this grant: larger than every earlier holder's.
    #[must_use]
    pub fn token(&self) -> u64 {
        self.shared.token
    }

    /// The key this lease is on.
    #[must_use]
    pub fn key(&self) -> &[u8] {
        &self.shared.key
    }

    /// Whether the lease is still held: not lost, and the last renewal sent is less than
    /// its time to live ago (on the runtime's clock).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLease};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// let lease = RedisLease::acquire(&redis, "leader", Duration::from_secs(3)).await.unwrap();
    /// for batch in 0..100 {
    ///     if !lease.is_held() {
    ///         break; // someone else leads now: stop writing
    ///     }
    ///     println!("batch {batch} with token {}", lease.token());
    /// }
    /// # });
    /// ```
    #[must_use]
    pub fn is_held(&self) -> bool {
        !self.shared.lost.is_cancelled()
            && self.shared.redis.runtime().now() < self.shared.valid_until()
    }

    /// Completes when the lease is lost (or given up): race your work against it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLease};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// let lease = RedisLease::acquire(&redis, "singleton", Duration::from_secs(3)).await.unwrap();
    /// let serve = std::future::pending::<()>(); // the singleton's work
    /// futures_lite::future::or(serve, lease.lost()).await;
    /// eprintln!("lease lost; stepping down");
    /// # });
    /// ```
    pub fn lost(&self) -> LeaseLost {
        let lost = self.shared.lost.clone();
        LeaseLost::new(async move { lost.cancelled().await })
    }

    /// Gives the lease up: stops renewing and deletes it on the server if still ours.
    /// Resolves to whether it was still ours.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLease};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// let lease = RedisLease::acquire(&redis, "rebuild-index", Duration::from_secs(5)).await.unwrap();
    /// // ... rebuild ...
    /// assert!(lease.release().await.unwrap());
    /// // The next holder need not wait for the expiry.
    /// assert!(RedisLease::try_acquire(&redis, "rebuild-index", Duration::from_secs(5)).await.unwrap().is_some());
    /// # });
    /// ```
    pub fn release(mut self) -> LeaseRelease {
        self.renewal.take();
        self.shared.lost.cancel();
        let shared = self.shared.clone();
        LeaseRelease::new(async move { release(&shared).await })
    }
}

impl<R: Runtime> Drop for RedisLease<R> {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            drop(renewal);
            self.shared.lost.cancel();
            let shared = self.shared.clone();
            let rt = self.shared.redis.runtime().clone();
            rt.spawn(async move {
                let _ = release(&shared).await;
            })
            .detach();
        }
    }
}

fn checked<R: Runtime>(
    redis: &Redis<R>,
    key: Result<Vec<u8>, RedisError>,
    ttl: Duration,
) -> Result<(Vec<u8>, u64), RedisError> {
    let key = key?;
    // The acquire script touches the key and `<key>:fence`: in a cluster both must live in
    // one slot, which only a hash tag guarantees (`{tag}` hashes both to the tag's slot).
    if redis.is_cluster() && !has_hash_tag(&key) {
        return Err(RedisError::new(
            RedisErrorKind::InvalidKey,
            "in a Redis Cluster a lease key needs a hash tag (such as `{jobs}:leader`), so that \
             its fence counter `<key>:fence` lives in the same slot",
        ));
    }
    let ttl_ms = millis(ttl)?;
    if ttl_ms < 3 {
        return Err(RedisError::new(
            RedisErrorKind::InvalidDuration,
            "lease time to live below 3 ms",
        ));
    }
    Ok((key, ttl_ms))
}

/// One try: the lease, or how long it is still held by someone else.
async fn attempt<R: Runtime>(
    redis: &Redis<R>,
    key: Vec<u8>,
    ttl: Duration,
    ttl_ms: u64,
) -> Result<Result<RedisLease<R>, Duration>, RedisError> {
    let owner = owner_id();
    let mut fence = key.clone();
    fence.extend_from_slice(b":fence");
    let sent = redis.runtime().now();
    let (granted, value): (i64, i64) = redis
        .call({
            let (key, owner) = (key.clone(), owner.clone());
            move |mut conn| async move {
                let mut invocation = ACQUIRE.prepare_invoke();
                invocation.key(key).key(fence).arg(owner).arg(ttl_ms);
                invocation.invoke_async(&mut conn).await
            }
        })
        .await?;
    if granted == 0 {
        // PTTL: -1 (no expiry: not ours to fix) or -2 (just expired) retry soon.
        return Ok(Err(Duration::from_millis(value.max(1).unsigned_abs())));
    }
    let shared = Arc::new(Shared {
        redis: redis.clone(),
        key,
        owner,
        ttl_ms,
        ttl,
        token: value.unsigned_abs(),
        lost: CancellationToken::new(),
        valid_until: Mutex::new(sent.checked_add(ttl).unwrap_or(sent)),
    });
    let renewal = redis.runtime().spawn(renew(shared.clone()));
    Ok(Ok(RedisLease {
        shared,
        renewal: Some(renewal),
    }))
}

/// The renewal task: every third of the time to live, extend the lease; lost when the
/// server says it is someone else's, or when renewals fail until the local deadline.
async fn renew<R: Runtime>(shared: Arc<Shared<R>>) {
    let rt = shared.redis.runtime().clone();
    let interval = (shared.ttl / 3).max(Duration::from_millis(1));
    let mut pause = interval;
    loop {
        let deadline = shared.valid_until();
        let now = rt.now();
        if now >= deadline {
            shared.lost.cancel();
            return;
        }
        // Wake up for the next renewal, or at the deadline, whichever comes first.
        rt.sleep(pause.min(deadline - now)).await;
        if rt.now() >= shared.valid_until() {
            shared.lost.cancel();
            return;
        }
        let sent = rt.now();
        let (key, owner, ttl_ms) = (shared.key.clone(), shared.owner.clone(), shared.ttl_ms);
        let call = shared.redis.call(move |mut conn| async move {
            let mut invocation = RENEW.prepare_invoke();
            invocation.key(key).arg(owner).arg(ttl_ms);
            invocation.invoke_async::<i64>(&mut conn).await
        });
        // A call timeout longer than what is left of the lease must not delay the loss.
        let deadline = shared.valid_until();
        let renewed = futures_lite::future::or(async { Some(call.await) }, async {
            rt.sleep_until(deadline).await;
            None
        })
        .await;
        let Some(renewed) = renewed else {
            shared.lost.cancel();
            return;
        };
        match renewed {
            Ok(1) => {
                let until = sent.checked_add(shared.ttl).unwrap_or(sent);
                *shared
                    .valid_until
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = until;
                pause = interval;
            }
            Ok(_) => {
                shared.lost.cancel();
                return;
            }
            // Unreachable for now: retry sooner, until the deadline.
            Err(_) => pause = (interval / 4).max(Duration::from_millis(1)),
        }
    }
}

async fn release<R: Runtime>(shared: &Shared<R>) -> Result<bool, RedisError> {
    let (key, owner) = (shared.key.clone(), shared.owner.clone());
    let deleted: i64 = shared
        .redis
        .call(move |mut conn| async move {
            let mut invocation = RELEASE.prepare_invoke();
            invocation.key(key).arg(owner);
            invocation.invoke_async(&mut conn).await
        })
        .await?;
    Ok(deleted == 1)
}

impl<R: Runtime> fmt::Debug for RedisLease<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLease")
            .field("key", &String::from_utf8_lossy(&self.shared.key))
            .field("token", &self.shared.token)
            .field("ttl", &self.shared.ttl)
            .field("held", &self.is_held())
            .finish_non_exhaustive()
    }
}

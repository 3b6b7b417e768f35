//! [`RedisLimiter`]: GCRA evaluated atomically on the server, keyed, shared by every process
//! that uses the same keys.

mod error;

use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use wrangle_rt::{DefaultRuntime, Runtime};

pub use error::RedisLimitError;

use crate::future::{LimiterAcquire, LimiterCheck};
use crate::input::full_key;
use crate::{MAX_DURATION, OnUnavailable, Redis, RedisError};

/// The one script of the limiter: loaded once per server, then called by its SHA1
/// (`EVALSHA`, with `SCRIPT LOAD` and a retry when the server answers `NOSCRIPT`).
static GCRA: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("gcra.lua")));

/// A rate limit shared by every process that uses the same Redis and key: the generic cell
/// rate algorithm (as [`wrangle_sync::GcraLimiter`](https://docs.rs/wrangle-sync)), evaluated
/// atomically on the server by one Lua script, on the server's clock (`TIME`), so the
/// replicas' clocks do not matter.
///
/// In any window of length `T`, all processes together are admitted at most
/// `burst + rate * T / per` requests per key; a request is refused only when admitting it
/// would break that bound. Each key costs one small string on the server, which expires as
/// soon as the key's limit has fully recovered.
///
/// [`check`](Self::check) answers at once (one round trip); [`acquire`](Self::acquire)
/// reserves the next slot on the server (in arrival order across every process) and sleeps
/// on the wrangle runtime's timer for as long as the server said.
///
/// The arithmetic is in whole microseconds: the interval between two admissions
/// (`per / rate`) is rounded up, so the limiter never admits faster than asked.
///
/// # Examples
///
/// ```no_run
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use wrangle_redis::{OnUnavailable, Redis, RedisLimitError, RedisLimiter};
///
/// # wrangle_rt::VirtualRuntime::new().block_on(async {
/// let redis = Redis::open("redis://127.0.0.1:6379/").unwrap();
/// // 100 requests per second per client, bursts of 20, across every replica.
/// let limiter = RedisLimiter::builder(redis, NonZeroU32::new(100).unwrap(), Duration::from_secs(1))
///     .burst(NonZeroU32::new(20).unwrap())
///     .prefix("api:limit:")
///     .on_unavailable(OnUnavailable::FailOpen)
///     .build()
///     .unwrap();
/// match limiter.check("client-42").await {
///     Ok(()) => { /* serve the request */ }
///     Err(RedisLimitError::Limited { retry_after }) => {
///         println!("429, Retry-After: {}", retry_after.as_secs_f64().ceil());
///     }
///     Err(e) => eprintln!("limiter failed: {e}"),
/// }
/// # });
/// ```
pub struct RedisLimiter<R: Runtime = DefaultRuntime> {
    inner: Arc<Inner<R>>,
}

impl<R: Runtime> Clone for RedisLimiter<R> {
    fn clone(&self) -> Self {
        RedisLimiter {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<R: Runtime> {
    redis: Redis<R>,
    prefix: Vec<u8>,
    interval_us: u64,
    burst: u32,
    policy: OnUnavailable,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    started: AtomicU64,
    completed: AtomicU64,
    admitted_unavailable: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    running: AtomicUsize,
}

/// A snapshot of a [`RedisLimiter`]'s counters (this process only).
///
/// Invariant: `started == completed + skipped + failed + cancelled + running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisLimiterStats {
    /// Checks and acquires begun.
    pub started: u64,
    /// Admitted, including `admitted_unavailable`.
    pub completed: u64,
    /// Admitted by [`OnUnavailable::FailOpen`] while Redis was unreachable.
    pub admitted_unavailable: u64,
    /// Refused by the limit ([`RedisLimitError::Limited`]).
    pub skipped: u64,
    /// Ended with another error.
    pub failed: u64,
    /// Dropped before they ended.
    pub cancelled: u64,
    /// In flight now.
    pub running: usize,
}

/// The configuration of a [`RedisLimiter`] was invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidLimiterConfig {
    /// `per` is zero.
    ZeroPeriod,
    /// `per / rate` is below one microsecond, the resolution of the server's clock.
    RateTooHigh,
    /// `per` or the burst window (`burst * per / rate`) is longer than
    /// [`MAX_DURATION`].
    PeriodTooLong,
    /// The prefix is longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    PrefixTooLong,
}

impl fmt::Display for InvalidLimiterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidLimiterConfig::ZeroPeriod => "limiter period is zero",
            InvalidLimiterConfig::RateTooHigh => "limiter rate above one per microsecond",
            InvalidLimiterConfig::PeriodTooLong => {
                "limiter period or burst window longer than MAX_DURATION"
            }
            InvalidLimiterConfig::PrefixTooLong => "limiter prefix longer than MAX_KEY_LEN",
        })
    }
}

impl std::error::Error for InvalidLimiterConfig {}

/// Configures a [`RedisLimiter`]: [`RedisLimiter::builder`].
///
/// # Examples
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use wrangle_redis::{InvalidLimiterConfig, Redis, RedisLimiter};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let redis = Redis::builder("redis://127.0.0.1/").runtime(rt).build().unwrap();
/// let ten = NonZeroU32::new(10).unwrap();
/// // Ten per nanosecond is finer than the server's clock.
/// let too_fast = RedisLimiter::builder(redis, ten, Duration::from_nanos(1)).build();
/// assert_eq!(too_fast.unwrap_err(), InvalidLimiterConfig::RateTooHigh);
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct RedisLimiterBuilder<R: Runtime = DefaultRuntime> {
    redis: Redis<R>,
    rate: NonZeroU32,
    per: Duration,
    burst: NonZeroU32,
    prefix: Vec<u8>,
    policy: OnUnavailable,
}

impl<R: Runtime> RedisLimiter<R> {
    /// A limiter of `rate` requests per `per` for each key, on `redis` (whose runtime times
    /// the waits). Bursts default to 1, the key prefix to `"wrangle:limit:"`, the policy to
    /// [`OnUnavailable::FailClosed`].
    pub fn builder(redis: Redis<R>, rate: NonZeroU32, per: Duration) -> RedisLimiterBuilder<R> {
        RedisLimiterBuilder {
            redis,
            rate,
            per,
            burst: NonZeroU32::MIN,
            prefix: b"wrangle:limit:".to_vec(),
            policy: OnUnavailable::FailClosed,
        }
    }
}

impl<R: Runtime> RedisLimiterBuilder<R> {
    /// Up to `burst` requests at once after a quiet period (default 1).
    pub fn burst(mut self, burst: NonZeroU32) -> Self {
        self.burst = burst;
        self
    }

    /// Prepended to every key on the server (default `"wrangle:limit:"`). Two limiters
    /// with the same prefix and different quotas must not share keys.
    pub fn prefix(mut self, prefix: impl AsRef<[u8]>) -> Self {
        self.prefix = prefix.as_ref().to_vec();
        self
    }

    /// What to do when Redis is unreachable (default [`OnUnavailable::FailClosed`]).
    pub fn on_unavailable(mut self, policy: OnUnavailable) -> Self {
        self.policy = policy;
        self
    }

    /// Builds the limiter; nothing is sent to the server.
    ///
    /// # Errors
    ///
    /// See [`InvalidLimiterConfig`].
    pub fn build(self) -> Result<RedisLimiter<R>, InvalidLimiterConfig> {
        if self.per.is_zero() {
            return Err(InvalidLimiterConfig::ZeroPeriod);
        }
        if self.per > MAX_DURATION {
            return Err(InvalidLimiterConfig::PeriodTooLong);
        }
        let interval = self
            .per
            .as_nanos()
            .div_ceil(1_000 * u128::from(self.rate.get()));
        if self.per.as_micros() < u128::from(self.rate.get()) {
            return Err(InvalidLimiterConfig::RateTooHigh);
        }
        if interval * u128::from(self.burst.get()) > MAX_DURATION.as_micros() {
            return Err(InvalidLimiterConfig::PeriodTooLong);
        }
        if self.prefix.len() >= crate::MAX_KEY_LEN {
            return Err(InvalidLimiterConfig::PrefixTooLong);
        }
        Ok(RedisLimiter {
            inner: Arc::new(Inner {
                redis: self.redis,
                prefix: self.prefix,
                // Bounded by MAX_DURATION in microseconds above.
                interval_us: u64::try_from(interval).unwrap_or(u64::MAX),
                burst: self.burst.get(),
                policy: self.policy,
                counters: Counters::default(),
            }),
        })
    }
}

enum Mode {
    Check,
    Reserve,
}

impl<R: Runtime> RedisLimiter<R> {
    /// Admits one request for `key` now, or refuses it with
    /// [`RedisLimitError::Limited`] and how long until it would conform. One round trip.
    ///
    /// Keys are bytes (binary is fine), at most [`MAX_KEY_LEN`](crate::MAX_KEY_LEN)
    /// with the prefix, and not empty.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLimitError, RedisLimiter};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// let one = NonZeroU32::MIN;
    /// let limiter = RedisLimiter::builder(redis, one, Duration::from_secs(60)).build().unwrap();
    /// limiter.check("password-reset:alice@example.com").await.unwrap();
    /// // A second reset mail within the minute is refused, by every replica.
    /// let err = limiter.check("password-reset:alice@example.com").await.unwrap_err();
    /// assert!(matches!(err, RedisLimitError::Limited { retry_after } if retry_after <= Duration::from_secs(60)));
    /// # });
    /// ```
    pub fn check(&self, key: impl AsRef<[u8]>) -> LimiterCheck {
        self.check_n(key, 1)
    }

    /// Admits a request of cost `n` for `key` now (all of it or none), or refuses it.
    ///
    /// `n == 0` is admitted without a call; `n > burst` is [`RedisLimitError::ExceedsBurst`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLimitError, RedisLimiter};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// // A bandwidth budget: 1 MiB per second in KiB units, bursts of 256 KiB.
    /// let kib = RedisLimiter::builder(redis, NonZeroU32::new(1024).unwrap(), Duration::from_secs(1))
    ///     .burst(NonZeroU32::new(256).unwrap())
    ///     .build()
    ///     .unwrap();
    /// kib.check_n("upload:tenant-7", 200).await.unwrap();
    /// assert!(matches!(kib.check_n("upload:tenant-7", 300).await, Err(RedisLimitError::ExceedsBurst)));
    /// # });
    /// ```
    pub fn check_n(&self, key: impl AsRef<[u8]>, n: u32) -> LimiterCheck {
        let call = self.call(key.as_ref(), n, Mode::Check);
        LimiterCheck::new(call)
    }

    /// Waits until one request for `key` is admitted: reserves the next slot on the server,
    /// then sleeps on the runtime's timer for the time the server said. Reservations are
    /// served in the order they reached the server, across processes.
    ///
    /// Returns `Ok(())` once admitted; errors only as [`check`](Self::check) (never
    /// [`RedisLimitError::Limited`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLimiter};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// // A crawler shared by many workers: at most 5 fetches per second per host.
    /// let per_host = RedisLimiter::builder(redis, NonZeroU32::new(5).unwrap(), Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// for page in 0..10 {
    ///     per_host.acquire("example.com").await.unwrap();
    ///     println!("fetch page {page}");
    /// }
    /// # });
    /// ```
    pub fn acquire(&self, key: impl AsRef<[u8]>) -> LimiterAcquire {
        self.acquire_n(key, 1)
    }

    /// Waits until a request of cost `n` for `key` is admitted; see
    /// [`acquire`](Self::acquire) and [`check_n`](Self::check_n).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLimiter};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// // An upstream API allows 600 "units" per minute; a batch call costs its batch size.
    /// let units = RedisLimiter::builder(redis, NonZeroU32::new(600).unwrap(), Duration::from_secs(60))
    ///     .burst(NonZeroU32::new(100).unwrap())
    ///     .build()
    ///     .unwrap();
    /// let batch = vec!["a"; 50];
    /// units.acquire_n("upstream", batch.len() as u32).await.unwrap();
    /// # });
    /// ```
    pub fn acquire_n(&self, key: impl AsRef<[u8]>, n: u32) -> LimiterAcquire {
        let call = self.call(key.as_ref(), n, Mode::Reserve);
        LimiterAcquire::new(call)
    }

    /// The number of admissions per `per` and the burst.
    #[must_use]
    pub fn burst(&self) -> u32 {
        self.inner.burst
    }

    /// A snapshot of this process's counters; see [`RedisLimiterStats`].
    #[must_use]
    pub fn stats(&self) -> RedisLimiterStats {
        let c = &self.inner.counters;
        RedisLimiterStats {
            started: c.started.load(Ordering::Relaxed),
            completed: c.completed.load(Ordering::Relaxed),
            admitted_unavailable: c.admitted_unavailable.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            cancelled: c.cancelled.load(Ordering::Relaxed),
            running: c.running.load(Ordering::Relaxed),
        }
    }

    fn call(
        &self,
        key: &[u8],
        n: u32,
        mode: Mode,
    ) -> impl Future<Output = Result<(), RedisLimitError>> + Send + 'static {
        let inner = self.inner.clone();
        let key = full_key(&inner.prefix, key);
        let c = &inner.counters;
        c.started.fetch_add(1, Ordering::Relaxed);
        c.running.fetch_add(1, Ordering::Relaxed);
        let mut running = Running {
            inner: inner.clone(),
            finished: false,
        };
        async move {
            let out = run(&inner, key, n, mode).await;
            let c = &inner.counters;
            match &out {
                Ok(false) => {
                    c.completed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(true) => {
                    c.completed.fetch_add(1, Ordering::Relaxed);
                    c.admitted_unavailable.fetch_add(1, Ordering::Relaxed);
                }
                Err(RedisLimitError::Limited { .. }) => {
                    c.skipped.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    c.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            running.finished = true;
            drop(running);
            out.map(drop)
        }
    }
}

/// Counts a call as running until it ends, or as cancelled if it is dropped first.
struct Running<R: Runtime> {
    inner: Arc<Inner<R>>,
    finished: bool,
}

impl<R: Runtime> Drop for Running<R> {
    fn drop(&mut self) {
        let c = &self.inner.counters;
        if !self.finished {
            c.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        c.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One check or reservation; `Ok(true)` when admitted by the fail-open policy.
async fn run<R: Runtime>(
    inner: &Inner<R>,
    key: Result<Vec<u8>, RedisError>,
    n: u32,
    mode: Mode,
) -> Result<bool, RedisLimitError> {
    let key = key?;
    if n == 0 {
        return Ok(false);
    }
    if n > inner.burst {
        return Err(RedisLimitError::ExceedsBurst);
    }
    let window = inner.interval_us * u64::from(inner.burst);
    let flag = match mode {
        Mode::Check => "c",
        Mode::Reserve => "r",
    };
    let interval = inner.interval_us;
    let reply = inner
        .redis
        .call(move |mut conn| async move {
            let mut invocation = GCRA.prepare_invoke();
            invocation
                .key(key)
                .arg(interval)
                .arg(window)
                .arg(n)
                .arg(flag);
            invocation.invoke_async::<(i64, i64)>(&mut conn).await
        })
        .await;
    let (admitted, wait_us) = match reply {
        Ok(reply) => reply,
        Err(e) if e.is_unavailable() && inner.policy == OnUnavailable::FailOpen => {
            return Ok(true);
        }
        Err(e) => return Err(e.into()),
    };
    let wait = Duration::from_micros(u64::try_from(wait_us).unwrap_or(0));
    match (admitted, mode) {
        (0, _) => Err(RedisLimitError::Limited { retry_after: wait }),
        (_, Mode::Reserve) if !wait.is_zero() => {
            let rt = inner.redis.runtime();
            rt.sleep(wait).await;
            Ok(false)
        }
        _ => Ok(false),
    }
}

impl<R: Runtime> fmt::Debug for RedisLimiter<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("prefix", &String::from_utf8_lossy(&self.inner.prefix))
            .field("interval", &Duration::from_micros(self.inner.interval_us))
            .field("burst", &self.inner.burst)
            .field("on_unavailable", &self.inner.policy)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

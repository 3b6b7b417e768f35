//! [`GcraLimiter`]: rate + burst, the generic cell rate algorithm (governor's model).

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project::{pin_project, pinned_drop};
use wrangle_rt::{DefaultRuntime, Runtime, saturating_deadline};

use super::jitter::JitterRng;
use super::reserve_wait::ReserveWait;
use super::{InsufficientCapacity, InvalidQuota, LimiterStats, Quota, RateLimited};

/// The arithmetic of GCRA, in nanoseconds on the runtime's cheap clock
/// ([`Runtime::monotonic_nanos`]); a theoretical arrival time of 0 means "fully recovered".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gcra {
    /// Nanoseconds between two admissions at the sustained rate.
    pub(crate) interval: u64,
    /// How far ahead of now the theoretical arrival time may run: `(burst - 1) * interval`.
    pub(crate) tolerance: u64,
    /// The most cells admitted at once.
    pub(crate) burst: u32,
}

impl Gcra {
    pub(crate) fn new(
        rate: NonZeroU32,
        per: Duration,
        burst: NonZeroU32,
    ) -> Result<Self, InvalidQuota> {
        if per.is_zero() {
            return Err(InvalidQuota::ZeroPeriod);
        }
        let interval = per.as_nanos() / u128::from(rate.get());
        if interval == 0 {
            return Err(InvalidQuota::RateTooHigh);
        }
        // The theoretical arrival time runs up to `burst * interval` ahead of now, in u64
        // nanoseconds: bounded here, so no sum below ever saturates (a saturated tolerance
        // would admit everything).
        let window = interval * u128::from(burst.get());
        if per > InvalidQuota::MAX_PERIOD || window > InvalidQuota::MAX_PERIOD.as_nanos() {
            return Err(InvalidQuota::PeriodTooLong);
        }
        let interval = u64::try_from(interval).map_err(|_| InvalidQuota::PeriodTooLong)?;
        let tolerance = interval * u64::from(burst.get() - 1);
        Ok(Gcra {
            interval,
            tolerance,
            burst: burst.get(),
        })
    }

    pub(crate) fn from_quota(q: Quota) -> Result<Self, InvalidQuota> {
        Gcra::new(q.rate, q.per, q.burst)
    }

    /// `n` cells, or the typed refusal if more than the burst (they could never conform).
    pub(crate) fn cells(self, n: NonZeroU32) -> Result<u32, InsufficientCapacity> {
        if n.get() > self.burst {
            Err(InsufficientCapacity(self.burst))
        } else {
            Ok(n.get())
        }
    }

    /// The earliest admission of `n` cells (at most the burst) at or after `now`, given the
    /// theoretical arrival time `tat`: as `n` single admissions at one instant, the last of
    /// which must conform. `(n - 1) * interval` is within the burst window, so no overflow.
    #[inline]
    pub(crate) fn slot(self, tat: u64, now: u64, n: u32) -> u64 {
        let extra = u64::from(n - 1) * self.interval;
        tat.saturating_add(extra)
            .saturating_sub(self.tolerance)
            .max(now)
    }

    /// The theoretical arrival time after admitting `n` cells at `slot`.
    #[inline]
    pub(crate) fn next_tat(self, tat: u64, slot: u64, n: u32) -> u64 {
        tat.max(slot).saturating_add(u64::from(n) * self.interval)
    }
}

/// A GCRA rate limiter: a sustained `rate` per period with bursts of up to `burst`.
///
/// The state is one atomic word (the "theoretical arrival time"), so [`check`](Self::check)
/// is lock-free. [`acquire`](Self::acquire) reserves the next conforming instant, in call
/// order (FIFO), and sleeps on the runtime's timer until then. In any window of length `T`
/// it admits at most `burst + rate * T / per`.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::GcraLimiter;
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// // 10 per second, bursts of 3.
/// let limiter = GcraLimiter::with_runtime(
///     rt.clone(),
///     NonZeroU32::new(10).unwrap(),
///     Duration::from_secs(1),
///     NonZeroU32::new(3).unwrap(),
/// )
/// .unwrap();
/// rt.block_on(async {
///     let mut at = Vec::new();
///     for _ in 0..5 {
///         limiter.acquire().await;
///         at.push((rt.now() - start).as_millis());
///     }
///     assert_eq!(at, [0, 0, 0, 100, 200]);
/// });
/// ```
pub struct GcraLimiter<R: Runtime = DefaultRuntime> {
    rt: R,
    quota: Gcra,
    jitter: JitterRng,
    tat: AtomicU64,
    reserved: AtomicU64,
    refused: AtomicU64,
    refunded: AtomicU64,
}

impl GcraLimiter {
    /// `rate` admissions per `per`, bursts of up to `burst`, on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let limiter = wrangle_sync::GcraLimiter::new(
    ///         NonZeroU32::new(100).unwrap(),
    ///         Duration::from_secs(1),
    ///         NonZeroU32::new(10).unwrap(),
    ///     )
    ///     .unwrap();
    ///     assert!(limiter.check().is_ok());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota`] if `per` is zero, `per / rate` is below one nanosecond, or `per` or
    /// the burst window (`burst * per / rate`) is longer than
    /// [`InvalidQuota::MAX_PERIOD`](crate::InvalidQuota::MAX_PERIOD).
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn new(rate: NonZeroU32, per: Duration, burst: NonZeroU32) -> Result<Self, InvalidQuota> {
        GcraLimiter::with_runtime(DefaultRuntime::current(), rate, per, burst)
    }

    /// A limiter for `quota`, on [`DefaultRuntime::current`] (governor's
    /// `RateLimiter::direct`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use wrangle_sync::{GcraLimiter, Quota};
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let limiter = GcraLimiter::from_quota(Quota::per_minute(NonZeroU32::MIN)).unwrap();
    ///     assert!(limiter.check().is_ok());
    ///     assert!(limiter.check().is_err()); // the next in a minute
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota`] as [`with_runtime`](Self::with_runtime); see [`Quota`].
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn from_quota(quota: Quota) -> Result<Self, InvalidQuota> {
        GcraLimiter::from_quota_with_runtime(DefaultRuntime::current(), quota)
    }
}

impl<R: Runtime> GcraLimiter<R> {
    /// `rate` admissions per `per`, bursts of up to `burst`, on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_sync::{GcraLimiter, InvalidQuota};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let max = NonZeroU32::MAX;
    /// let err = GcraLimiter::with_runtime(rt, max, Duration::from_nanos(1), max).unwrap_err();
    /// assert_eq!(err, InvalidQuota::RateTooHigh);
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota`] if `per` is zero, `per / rate` is below one nanosecond, or `per` or
    /// the burst window (`burst * per / rate`) is longer than
    /// [`InvalidQuota::MAX_PERIOD`](crate::InvalidQuota::MAX_PERIOD).
    pub fn with_runtime(
        rt: R,
        rate: NonZeroU32,
        per: Duration,
        burst: NonZeroU32,
    ) -> Result<Self, InvalidQuota> {
        let quota = Gcra::new(rate, per, burst)?;
        Ok(GcraLimiter::build(rt, quota))
    }

    /// A limiter for `quota`, on `rt` (governor's `RateLimiter::direct_with_clock`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use wrangle_sync::{GcraLimiter, Quota};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let limiter =
    ///     GcraLimiter::from_quota_with_runtime(rt, Quota::per_second(NonZeroU32::new(3).unwrap()))
    ///         .unwrap();
    /// for _ in 0..3 {
    ///     limiter.check().unwrap(); // the burst of 3
    /// }
    /// assert!(limiter.check().is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota`] as [`with_runtime`](Self::with_runtime); see [`Quota`].
    pub fn from_quota_with_runtime(rt: R, quota: Quota) -> Result<Self, InvalidQuota> {
        Ok(GcraLimiter::build(rt, Gcra::from_quota(quota)?))
    }

    fn build(rt: R, quota: Gcra) -> Self {
        GcraLimiter {
            jitter: JitterRng::for_runtime(&rt),
            rt,
            quota,
            tat: AtomicU64::new(0),
            reserved: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            refunded: AtomicU64::new(0),
        }
    }

    /// Seeds the random jitter of this limiter's waits ([`GcraAcquire::jitter`]), for waits
    /// that repeat exactly. Without it, a limiter on virtual time uses a fixed seed and one on
    /// a real runtime a random one.
    #[must_use]
    pub fn jitter_seed(self, seed: u64) -> Self {
        self.jitter.reseed(seed);
        self
    }

    /// Admits now if that conforms to the rate and burst; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let one = NonZeroU32::MIN;
    /// let limiter =
    ///     wrangle_sync::GcraLimiter::with_runtime(rt, one, Duration::from_secs(1), one).unwrap();
    /// assert!(limiter.check().is_ok());
    /// assert!(limiter.check().is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`RateLimited`] with the instant the call would conform.
    #[inline]
    pub fn check(&self) -> Result<(), RateLimited> {
        self.check_cells(1)
    }

    /// Admits `n` cells at once now if that conforms (governor's `check_n`); never waits.
    /// Either all `n` pass or none.
    ///
    /// # Examples
    ///
    /// A batch of 3 rows against a limit of 4 rows per second:
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use wrangle_sync::{GcraLimiter, Quota};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let n = |n| NonZeroU32::new(n).unwrap();
    /// let limiter = GcraLimiter::from_quota_with_runtime(rt, Quota::per_second(n(4))).unwrap();
    /// assert!(limiter.check_n(n(3)).unwrap().is_ok());
    /// assert!(limiter.check_n(n(3)).unwrap().is_err()); // only 1 left: none pass
    /// assert!(limiter.check_n(n(1)).unwrap().is_ok());
    /// assert!(limiter.check_n(n(5)).is_err()); // more than the burst: never
    /// ```
    ///
    /// # Errors
    ///
    /// The outer [`InsufficientCapacity`] if `n` is above the burst (no wait would help); the
    /// inner [`RateLimited`] with the instant the `n` cells would conform.
    pub fn check_n(&self, n: NonZeroU32) -> Result<Result<(), RateLimited>, InsufficientCapacity> {
        let n = self.quota.cells(n)?;
        Ok(self.check_cells(n))
    }

    /// Counts a refusal; the call would conform in `wait_ns`.
    #[cold]
    #[inline(never)]
    fn refuse(&self, wait_ns: u64) -> RateLimited {
        self.refused.fetch_add(1, Ordering::Relaxed);
        RateLimited {
            retry_at: saturating_deadline(self.rt.now(), Duration::from_nanos(wait_ns)),
        }
    }

    /// Inlined, so that [`check`](Self::check)'s `n = 1` folds the burst arithmetic away.
    #[inline]
    fn check_cells(&self, n: u32) -> Result<(), RateLimited> {
        let now = self.rt.monotonic_nanos();
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let slot = self.quota.slot(tat, now, n);
            if slot > now {
                return Err(self.refuse(slot - now));
            }
            let next = self.quota.next_tat(tat, slot, n);
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(actual) => tat = actual,
            }
        }
    }

    /// Waits until a call conforms: reserves the next conforming instant (in call order) and
    /// sleeps until it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// let one = NonZeroU32::MIN;
    /// let limiter = wrangle_sync::GcraLimiter::with_runtime(
    ///     rt.clone(),
    ///     one,
    ///     Duration::from_secs(1),
    ///     one,
    /// )
    /// .unwrap();
    /// rt.block_on(async {
    ///     limiter.acquire().await;
    ///     limiter.acquire().await;
    /// });
    /// assert_eq!(rt.now() - start, Duration::from_secs(1));
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The slot is reserved on the first poll. Dropped before its slot comes, the future
    /// gives it back if nobody reserved after it; otherwise the slot goes unused (the
    /// limiter admits fewer, never more).
    pub fn acquire(&self) -> GcraAcquire<'_, R> {
        GcraAcquire {
            limiter: self,
            n: 1,
            jitter: Duration::ZERO,
            inner: ReserveWait::new(),
        }
    }

    /// Waits until `n` cells conform at once (governor's `until_n_ready`): reserves the
    /// earliest instant they do, in call order, and sleeps until it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_sync::{GcraLimiter, Quota};
    ///
    /// let rt = VirtualRuntime::new();
    /// let n = |n| NonZeroU32::new(n).unwrap();
    /// // 10 per second (one every 100 ms), bursts of 4.
    /// let quota = Quota::per_second(n(10)).allow_burst(n(4));
    /// let limiter = GcraLimiter::from_quota_with_runtime(rt.clone(), quota).unwrap();
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     limiter.acquire_n(n(4)).unwrap().await; // the whole burst, at once
    ///     limiter.acquire_n(n(2)).unwrap().await; // two more cells: 200 ms later
    /// });
    /// assert_eq!(rt.now() - start, Duration::from_millis(200));
    /// assert!(limiter.acquire_n(n(5)).is_err()); // above the burst: refused at the call
    /// ```
    ///
    /// # Errors
    ///
    /// [`InsufficientCapacity`] at once if `n` is above the burst.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire): the `n` cells are given back if nobody reserved after
    /// them.
    pub fn acquire_n(&self, n: NonZeroU32) -> Result<GcraAcquire<'_, R>, InsufficientCapacity> {
        let n = self.quota.cells(n)?;
        Ok(GcraAcquire {
            limiter: self,
            n,
            jitter: Duration::ZERO,
            inner: ReserveWait::new(),
        })
    }

    /// The burst: the most cells admitted at once.
    #[must_use]
    pub fn burst_size(&self) -> NonZeroU32 {
        NonZeroU32::new(self.quota.burst).expect("a quota's burst is not zero")
    }

    /// A snapshot of the counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let one = NonZeroU32::MIN;
    /// let limiter =
    ///     wrangle_sync::GcraLimiter::with_runtime(rt, one, Duration::from_secs(1), one).unwrap();
    /// assert!(limiter.check().is_ok());
    /// assert!(limiter.check().is_err());
    /// assert_eq!(limiter.stats().skipped, 1);
    /// ```
    ///
    /// Admissions by [`check`](Self::check) are not counted in `admitted` (see
    /// [`LimiterStats`]); slots reserved by [`acquire`](Self::acquire) are.
    #[must_use]
    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            admitted: self.reserved.load(Ordering::Relaxed),
            skipped: self.refused.load(Ordering::Relaxed),
            refunded: self.refunded.load(Ordering::Relaxed),
            keys: 0,
        }
    }

    /// Reserves the next conforming slot; the ticket is the theoretical arrival time after it.
    ///
    /// The limiter keeps its time line on the runtime's fast clock; the returned instant is
    /// on the runtime's clock (`rt_now` plus the wait), ready for its timer.
    fn reserve(&self, rt_now: Instant, n: u32, jitter: Duration) -> (Instant, u64) {
        let now = self.rt.monotonic_nanos();
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let slot = self.quota.slot(tat, now, n);
            let next = self.quota.next_tat(tat, slot, n);
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.reserved.fetch_add(1, Ordering::Relaxed);
                    let mut wait = Duration::from_nanos(slot - now);
                    if !wait.is_zero() && !jitter.is_zero() {
                        wait = wait.saturating_add(self.jitter.up_to(jitter));
                    }
                    return (saturating_deadline(rt_now, wait), next);
                }
                Err(actual) => tat = actual,
            }
        }
    }

    fn refund(&self, ticket: u64, n: u32) {
        let back = ticket - u64::from(n) * self.quota.interval;
        if self
            .tat
            .compare_exchange(ticket, back, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.reserved.fetch_sub(1, Ordering::Relaxed);
            self.refunded.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<R: Runtime> fmt::Debug for GcraLimiter<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcraLimiter")
            .field("interval", &Duration::from_nanos(self.quota.interval))
            .field("tolerance", &Duration::from_nanos(self.quota.tolerance))
            .field("runtime", &self.rt.name())
            .finish()
    }
}

/// The future of [`GcraLimiter::acquire`].
///
/// # Cancel safety
///
/// See [`GcraLimiter::acquire`].
#[pin_project(PinnedDrop)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct GcraAcquire<'a, R: Runtime> {
    limiter: &'a GcraLimiter<R>,
    n: u32,
    jitter: Duration,
    #[pin]
    inner: ReserveWait<u64, R::Sleep>,
}

impl<R: Runtime> Future for GcraAcquire<'_, R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let (limiter, n, jitter) = (*this.limiter, *this.n, *this.jitter);
        this.inner
            .poll_reserve(&limiter.rt, cx, |now| limiter.reserve(now, n, jitter))
    }
}

impl<R: Runtime> GcraAcquire<'_, R> {
    /// Adds a random delay of up to `max` to the wait, if there is one (governor's
    /// `until_ready_with_jitter`): a crowd of waiters released by one limiter spreads out
    /// instead of arriving together. A call admitted at once is not delayed. The cells are
    /// reserved at their conforming instant, so jitter never admits more than the quota.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_sync::{GcraLimiter, Quota};
    ///
    /// let rt = VirtualRuntime::new();
    /// let limiter = GcraLimiter::from_quota_with_runtime(
    ///     rt.clone(),
    ///     Quota::with_period(Duration::from_secs(1)),
    /// )
    /// .unwrap();
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     limiter.acquire().jitter(Duration::from_millis(100)).await; // at once: no jitter
    ///     assert_eq!(rt.now(), start);
    ///     limiter.acquire().jitter(Duration::from_millis(100)).await;
    /// });
    /// let waited = rt.now() - start;
    /// assert!(waited >= Duration::from_secs(1) && waited <= Duration::from_millis(1100));
    /// ```
    pub fn jitter(mut self, max: Duration) -> Self {
        self.jitter = max;
        self
    }
}

#[pinned_drop]
impl<R: Runtime> PinnedDrop for GcraAcquire<'_, R> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        if let Some(ticket) = this.inner.take_outstanding() {
            this.limiter.refund(ticket, *this.n);
        }
    }
}

impl<R: Runtime> fmt::Debug for GcraAcquire<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcraAcquire")
            .field("n", &self.n)
            .field("jitter", &self.jitter)
            .finish_non_exhaustive()
    }
}

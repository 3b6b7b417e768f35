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

use super::LimiterStats;
use super::reserve_wait::ReserveWait;
use super::{InvalidQuota, RateLimited};

/// The arithmetic of GCRA, in nanoseconds on the runtime's cheap clock
/// ([`Runtime::monotonic_nanos`]); a theoretical arrival time of 0 means "fully recovered".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quota {
    /// Nanoseconds between two admissions at the sustained rate.
    pub(crate) interval: u64,
    /// How far ahead of now the theoretical arrival time may run: `(burst - 1) * interval`.
    pub(crate) tolerance: u64,
}

impl Quota {
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
        Ok(Quota {
            interval,
            tolerance,
        })
    }

    /// The earliest admission at or after `now` given the theoretical arrival time `tat`.
    pub(crate) fn slot(self, tat: u64, now: u64) -> u64 {
        tat.saturating_sub(self.tolerance).max(now)
    }

    /// The theoretical arrival time after admitting at `slot`.
    pub(crate) fn next_tat(self, tat: u64, slot: u64) -> u64 {
        tat.max(slot).saturating_add(self.interval)
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
    quota: Quota,
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
        let quota = Quota::new(rate, per, burst)?;
        Ok(GcraLimiter {
            rt,
            quota,
            tat: AtomicU64::new(0),
            reserved: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            refunded: AtomicU64::new(0),
        })
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
    pub fn check(&self) -> Result<(), RateLimited> {
        let now = self.rt.monotonic_nanos();
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let slot = self.quota.slot(tat, now);
            if slot > now {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return Err(RateLimited {
                    retry_at: saturating_deadline(self.rt.now(), Duration::from_nanos(slot - now)),
                });
            }
            let next = self.quota.next_tat(tat, slot);
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
            inner: ReserveWait::new(),
        }
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
    fn reserve(&self, rt_now: Instant) -> (Instant, u64) {
        let now = self.rt.monotonic_nanos();
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let slot = self.quota.slot(tat, now);
            let next = self.quota.next_tat(tat, slot);
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.reserved.fetch_add(1, Ordering::Relaxed);
                    let wait = Duration::from_nanos(slot - now);
                    return (saturating_deadline(rt_now, wait), next);
                }
                Err(actual) => tat = actual,
            }
        }
    }

    fn refund(&self, ticket: u64) {
        let back = ticket - self.quota.interval;
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
    #[pin]
    inner: ReserveWait<u64, R::Sleep>,
}

impl<R: Runtime> Future for GcraAcquire<'_, R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let limiter = *this.limiter;
        this.inner
            .poll_reserve(&limiter.rt, cx, |now| limiter.reserve(now))
    }
}

#[pinned_drop]
impl<R: Runtime> PinnedDrop for GcraAcquire<'_, R> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        if let Some(ticket) = this.inner.take_outstanding() {
            this.limiter.refund(ticket);
        }
    }
}

impl<R: Runtime> fmt::Debug for GcraAcquire<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcraAcquire").finish_non_exhaustive()
    }
}

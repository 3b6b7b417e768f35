//! [`RateLimiter`]: at most N admissions in any window of one period (a sliding-window log).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project::{pin_project, pinned_drop};
use wrangle_rt::{DefaultRuntime, Runtime, saturating_deadline};

use super::jitter::JitterRng;
use super::reserve_wait::ReserveWait;
use super::{InsufficientCapacity, InvalidQuota, LimiterStats, RateLimited};
use crate::loom::{Mutex, lock};

/// A sliding-window rate limiter: at most `limit` admissions in any window of `period`.
///
/// It keeps the instant of each admission in the last period (so memory is O(`limit`)).
/// [`acquire`](Self::acquire) reserves the earliest free slot and sleeps on the runtime's
/// timer until then; slots go out in call order (FIFO), so nobody starves.
/// [`check`](Self::check) never waits: it admits only if a slot is free now and nobody
/// reserved ahead of it. Admission instants are taken from the runtime's monotonic clock, so
/// on virtual time the limiter is exact.
///
/// This is the intended design of async-utils' `RateLimiter`, whose window never drains
/// upstream (after `limit` calls every later one spins for ever).
///
/// # Examples
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::RateLimiter;
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// let two = NonZeroU32::new(2).unwrap();
/// let limiter = RateLimiter::with_runtime(rt.clone(), two, Duration::from_millis(100)).unwrap();
/// rt.block_on(async {
///     let mut admitted = Vec::new();
///     for _ in 0..5 {
///         limiter.acquire().await;
///         admitted.push((rt.now() - start).as_millis());
///     }
///     assert_eq!(admitted, [0, 0, 100, 100, 200]);
/// });
/// ```
pub struct RateLimiter<R: Runtime = DefaultRuntime> {
    rt: R,
    jitter: JitterRng,
    limit: usize,
    period: Duration,
    state: Mutex<State>,
}

struct State {
    /// Admission instants (past, or reserved in the future), sorted.
    stamps: VecDeque<Instant>,
    /// Reservations made so far; the last one may be refunded.
    reservations: u64,
    admitted: u64,
    refused: u64,
    refunded: u64,
}

impl RateLimiter {
    /// A limiter of `limit` admissions per `period`, on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let limiter = wrangle_sync::RateLimiter::new(NonZeroU32::MIN, Duration::from_secs(1))
    ///         .unwrap();
    ///     assert!(limiter.check().is_ok());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota::ZeroPeriod`] if `period` is zero, [`InvalidQuota::PeriodTooLong`] if
    /// it is longer than [`InvalidQuota::MAX_PERIOD`].
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn new(limit: NonZeroU32, period: Duration) -> Result<Self, InvalidQuota> {
        RateLimiter::with_runtime(DefaultRuntime::current(), limit, period)
    }
}

impl<R: Runtime> RateLimiter<R> {
    /// A limiter of `limit` admissions per `period`, on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_sync::{InvalidQuota, RateLimiter};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let err = RateLimiter::with_runtime(rt, NonZeroU32::MIN, Duration::ZERO).unwrap_err();
    /// assert_eq!(err, InvalidQuota::ZeroPeriod);
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota::ZeroPeriod`] if `period` is zero, [`InvalidQuota::PeriodTooLong`] if
    /// it is longer than [`InvalidQuota::MAX_PERIOD`].
    pub fn with_runtime(rt: R, limit: NonZeroU32, period: Duration) -> Result<Self, InvalidQuota> {
        if period.is_zero() {
            return Err(InvalidQuota::ZeroPeriod);
        }
        if period > InvalidQuota::MAX_PERIOD {
            return Err(InvalidQuota::PeriodTooLong);
        }
        let limit = usize::try_from(limit.get()).unwrap_or(usize::MAX);
        Ok(RateLimiter {
            jitter: JitterRng::for_runtime(&rt),
            rt,
            limit,
            period,
            state: Mutex::new(State {
                stamps: VecDeque::with_capacity(limit.min(1024)),
                reservations: 0,
                admitted: 0,
                refused: 0,
                refunded: 0,
            }),
        })
    }

    /// Admits now if a slot is free and nobody reserved one ahead; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let limiter =
    ///     wrangle_sync::RateLimiter::with_runtime(rt, NonZeroU32::MIN, Duration::from_secs(1))
    ///         .unwrap();
    /// assert!(limiter.check().is_ok());
    /// assert!(limiter.check().is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`RateLimited`] with the instant the next slot frees up.
    pub fn check(&self) -> Result<(), RateLimited> {
        self.check_slots(1)
    }

    /// Admits `n` calls at once now if `n` slots are free now and nobody reserved ahead
    /// (governor's `check_n`); never waits. Either all `n` pass or none; the `n` count
    /// against the limit in every window that holds them, and as one admission in
    /// [`stats`](Self::stats).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let n = |n| NonZeroU32::new(n).unwrap();
    /// let limiter =
    ///     wrangle_sync::RateLimiter::with_runtime(rt, n(10), Duration::from_secs(1)).unwrap();
    /// assert!(limiter.check_n(n(7)).unwrap().is_ok());
    /// assert!(limiter.check_n(n(4)).unwrap().is_err()); // 3 left: none pass
    /// assert!(limiter.check_n(n(3)).unwrap().is_ok());
    /// assert_eq!(limiter.check_n(n(11)).unwrap_err().capacity(), 10);
    /// ```
    ///
    /// # Errors
    ///
    /// The outer [`InsufficientCapacity`] if `n` is above the limit (no window could ever hold
    /// them); the inner [`RateLimited`] with the instant `n` slots are free.
    pub fn check_n(&self, n: NonZeroU32) -> Result<Result<(), RateLimited>, InsufficientCapacity> {
        let n = self.slots(n)?;
        Ok(self.check_slots(n))
    }

    /// `n` slots, or the typed refusal if more than the limit.
    fn slots(&self, n: NonZeroU32) -> Result<usize, InsufficientCapacity> {
        match usize::try_from(n.get()) {
            Ok(n) if n <= self.limit => Ok(n),
            _ => Err(InsufficientCapacity(
                u32::try_from(self.limit).unwrap_or(u32::MAX),
            )),
        }
    }

    fn check_slots(&self, n: usize) -> Result<(), RateLimited> {
        let now = self.rt.now();
        let mut st = lock(&self.state);
        let at = st.next_slot(now, self.limit, self.period, n);
        if at > now {
            st.refused += 1;
            return Err(RateLimited { retry_at: at });
        }
        st.push(at, n);
        Ok(())
    }

    /// Seeds the random jitter of this limiter's waits ([`RateAcquire::jitter`]); see
    /// [`GcraLimiter::jitter_seed`](crate::GcraLimiter::jitter_seed).
    #[must_use]
    pub fn jitter_seed(self, seed: u64) -> Self {
        self.jitter.reseed(seed);
        self
    }

    /// Waits for a slot: reserves the earliest one (in call order) and sleeps until it.
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
    /// let limiter = wrangle_sync::RateLimiter::with_runtime(
    ///     rt.clone(),
    ///     NonZeroU32::MIN,
    ///     Duration::from_secs(1),
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
    /// gives the slot back if no later caller has reserved one since; otherwise the slot goes
    /// unused (the limiter then admits fewer, never more, than its limit).
    pub fn acquire(&self) -> RateAcquire<'_, R> {
        RateAcquire {
            limiter: self,
            n: 1,
            jitter: Duration::ZERO,
            inner: ReserveWait::new(),
        }
    }

    /// Waits for `n` slots at once (governor's `until_n_ready`): reserves the earliest
    /// instant `n` are free (in call order) and sleeps until it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let n = |n| NonZeroU32::new(n).unwrap();
    /// let limiter =
    ///     wrangle_sync::RateLimiter::with_runtime(rt.clone(), n(5), Duration::from_secs(1))
    ///         .unwrap();
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     limiter.acquire_n(n(3)).unwrap().await; // at 0
    ///     limiter.acquire_n(n(3)).unwrap().await; // 2 left: at 1 s, when the first 3 expire
    /// });
    /// assert_eq!(rt.now() - start, Duration::from_secs(1));
    /// ```
    ///
    /// # Errors
    ///
    /// [`InsufficientCapacity`] at once if `n` is above the limit.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire): the `n` slots are given back if no later caller has
    /// reserved since.
    pub fn acquire_n(&self, n: NonZeroU32) -> Result<RateAcquire<'_, R>, InsufficientCapacity> {
        let n = self.slots(n)?;
        Ok(RateAcquire {
            limiter: self,
            n,
            jitter: Duration::ZERO,
            inner: ReserveWait::new(),
        })
    }

    /// The limit per period.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The window length.
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// A snapshot of the counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let limiter =
    ///     wrangle_sync::RateLimiter::with_runtime(rt, NonZeroU32::MIN, Duration::from_secs(1))
    ///         .unwrap();
    /// let _ = limiter.check();
    /// let _ = limiter.check();
    /// assert_eq!((limiter.stats().admitted, limiter.stats().skipped), (1, 1));
    /// ```
    #[must_use]
    pub fn stats(&self) -> LimiterStats {
        let st = lock(&self.state);
        LimiterStats {
            admitted: st.admitted,
            skipped: st.refused,
            refunded: st.refunded,
            keys: 0,
        }
    }

    fn reserve(&self, now: Instant, n: usize, jitter: Duration) -> (Instant, u64) {
        let mut st = lock(&self.state);
        let at = st.next_slot(now, self.limit, self.period, n);
        st.push(at, n);
        let ticket = st.reservations;
        drop(st);
        if at > now && !jitter.is_zero() {
            // The slots stay at `at`: a later admission never exceeds the limit.
            return (saturating_deadline(at, self.jitter.up_to(jitter)), ticket);
        }
        (at, ticket)
    }

    fn refund(&self, ticket: u64, n: usize) {
        let mut st = lock(&self.state);
        if st.reservations == ticket {
            let keep = st.stamps.len() - n;
            st.stamps.truncate(keep);
            st.reservations -= 1;
            st.admitted -= 1;
            st.refunded += 1;
        }
    }
}

impl State {
    /// The earliest instant at or after `now` when `n` (at most `limit`) more admissions keep
    /// every window of `period` at `limit` or fewer.
    fn next_slot(&mut self, now: Instant, limit: usize, period: Duration, n: usize) -> Instant {
        while self
            .stamps
            .front()
            .is_some_and(|&t| saturating_deadline(t, period) <= now)
        {
            self.stamps.pop_front();
        }
        if self.stamps.len() + n <= limit {
            // Reserved slots are sorted, and every past one is within the window.
            return self.stamps.back().map_or(now, |&last| last.max(now));
        }
        // The window ending at the slot may hold `limit - n` of the latest stamps: the one
        // before them must have left it.
        let gate = saturating_deadline(self.stamps[self.stamps.len() + n - limit - 1], period);
        gate.max(now)
            .max(*self.stamps.back().expect("more than `limit - n` stamps"))
    }

    fn push(&mut self, at: Instant, n: usize) {
        self.stamps.extend(std::iter::repeat_n(at, n));
        self.reservations += 1;
        self.admitted += 1;
    }
}

impl<R: Runtime> fmt::Debug for RateLimiter<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.limit)
            .field("period", &self.period)
            .field("runtime", &self.rt.name())
            .finish()
    }
}

/// The future of [`RateLimiter::acquire`].
///
/// # Cancel safety
///
/// See [`RateLimiter::acquire`]: a dropped waiter gives its slot back when nobody reserved
/// after it; otherwise the slot goes unused.
#[pin_project(PinnedDrop)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RateAcquire<'a, R: Runtime> {
    limiter: &'a RateLimiter<R>,
    n: usize,
    jitter: Duration,
    #[pin]
    inner: ReserveWait<u64, R::Sleep>,
}

impl<R: Runtime> Future for RateAcquire<'_, R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let (limiter, n, jitter) = (*this.limiter, *this.n, *this.jitter);
        this.inner
            .poll_reserve(&limiter.rt, cx, |now| limiter.reserve(now, n, jitter))
    }
}

impl<R: Runtime> RateAcquire<'_, R> {
    /// Adds a random delay of up to `max` to the wait, if there is one; see
    /// [`GcraAcquire::jitter`](crate::future::GcraAcquire::jitter).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let limiter =
    ///     wrangle_sync::RateLimiter::with_runtime(rt.clone(), NonZeroU32::MIN, Duration::from_secs(1))
    ///         .unwrap();
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     limiter.acquire().jitter(Duration::from_millis(200)).await; // at once: no jitter
    ///     limiter.acquire().jitter(Duration::from_millis(200)).await;
    /// });
    /// let waited = rt.now() - start;
    /// assert!(waited >= Duration::from_secs(1) && waited <= Duration::from_millis(1200));
    /// ```
    pub fn jitter(mut self, max: Duration) -> Self {
        self.jitter = max;
        self
    }
}

#[pinned_drop]
impl<R: Runtime> PinnedDrop for RateAcquire<'_, R> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        if let Some(ticket) = this.inner.take_outstanding() {
            this.limiter.refund(ticket, *this.n);
        }
    }
}

impl<R: Runtime> fmt::Debug for RateAcquire<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateAcquire")
            .field("n", &self.n)
            .field("jitter", &self.jitter)
            .finish_non_exhaustive()
    }
}

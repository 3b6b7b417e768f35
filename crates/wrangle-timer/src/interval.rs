//! [`Interval`]: a drift-free, deadline-based interval stream.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::Stream;
use wrangle_rt::{DefaultRuntime, Runtime, Sleep};

use crate::ConfigError;

/// A stream of ticks on a fixed grid `start, start + period, start + 2·period, ...` of the
/// runtime's monotonic clock.
///
/// Each deadline is computed from the previous one by exact integer addition, so there is no
/// cumulative drift at any tick count: tick `n` is due at exactly `start + n·period`. A tick is
/// never yielded before it is due. When the consumer falls so far behind that the next grid
/// point has already passed by the time it takes a tick, the [`MissedTick`] policy chosen at
/// construction decides what follows (there is no default policy). A tick taken late by less
/// than one period keeps the grid.
///
/// `Interval` is a [`Stream`] of the instants the ticks were due at, and has a
/// [`tick`](Interval::tick) method. The stream never ends (it has no `close`: drop it to stop
/// ticking), so it is deliberately not a `futures_core::stream::FusedStream`: it could only
/// ever answer "not terminated". In a `select!` loop, poll it directly or through `fuse()`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::{Interval, MissedTick};
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// rt.block_on(async {
///     let period = Duration::from_millis(10);
///     let mut iv = Interval::with_runtime(rt.clone(), period, MissedTick::Skip).unwrap();
///     assert_eq!(iv.tick().await, start); // the first tick is immediate
///     assert_eq!(iv.tick().await, start + period);
///     assert_eq!(iv.tick().await, start + 2 * period);
/// });
/// assert_eq!(rt.now() - start, Duration::from_millis(20));
/// ```
pub struct Interval<R: Runtime = DefaultRuntime> {
    rt: R,
    period: Duration,
    next: Instant,
    sleep: Pin<Box<R::Sleep>>,
    policy: MissedTick,
    stats: IntervalStats,
}

/// Counters of an [`Interval`], from [`Interval::stats`].
///
/// Invariants: `late <= started`; and as long as the period and the policy are not changed,
/// each grid point up to the last tick's is either yielded once (`started`) or `skipped`:
/// under [`MissedTick::Burst`] and [`MissedTick::Skip`], `started + skipped` is the number of
/// those grid points (`Delay` moves the grid, and skips nothing).
///
/// # Examples
///
/// A consumer that stalls for 3.5 periods, under [`MissedTick::Skip`]:
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::{Interval, MissedTick};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let second = Duration::from_secs(1);
///     let mut iv = Interval::with_runtime(rt.clone(), second, MissedTick::Skip).unwrap();
///     iv.tick().await; // t = 0
///     rt.sleep(second * 7 / 2).await; // stalls until 3.5 s
///     iv.tick().await; // the tick due at 1 s, taken late at 3.5 s
///     iv.tick().await; // then 4 s: the grid points 2 s and 3 s are dropped
///     let stats = iv.stats();
///     assert_eq!((stats.started, stats.late, stats.skipped), (3, 1, 2));
/// });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntervalStats {
    /// Ticks yielded (each starts the consumer's work for one grid point).
    pub started: u64,
    /// Ticks taken when the next grid point had already passed (the consumer was at least one
    /// period behind).
    pub late: u64,
    /// Grid points dropped by [`MissedTick::Skip`].
    pub skipped: u64,
}

impl Interval<DefaultRuntime> {
    /// An interval on the [current runtime](DefaultRuntime::current) whose first tick is due
    /// now.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero period, [`ConfigError::OutOfRange`] for a period
    /// too large for the clock.
    pub fn new(period: Duration, policy: MissedTick) -> Result<Self, ConfigError> {
        Interval::with_runtime(DefaultRuntime::current(), period, policy)
    }

    /// An interval on the [current runtime](DefaultRuntime::current) whose first tick is due
    /// at `start`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{DefaultRuntime, Runtime};
    /// use wrangle_timer::{Interval, MissedTick};
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let start = DefaultRuntime::current().now() + Duration::from_secs(5);
    ///     let mut iv = Interval::at(start, Duration::from_secs(1), MissedTick::Skip).unwrap();
    ///     assert_eq!(iv.tick().await, start);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`new`](Interval::new).
    pub fn at(start: Instant, period: Duration, policy: MissedTick) -> Result<Self, ConfigError> {
        Interval::at_with_runtime(DefaultRuntime::current(), start, period, policy)
    }
}

impl<R: Runtime> Interval<R> {
    /// An interval on `rt` whose first tick is due now.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero period, [`ConfigError::OutOfRange`] for a period
    /// too large for the clock.
    pub fn with_runtime(rt: R, period: Duration, policy: MissedTick) -> Result<Self, ConfigError> {
        let start = rt.now();
        Interval::at_with_runtime(rt, start, period, policy)
    }

    /// An interval on `rt` whose first tick is due at `start` (which may be in the past: the
    /// missed-tick policy then applies as usual).
    ///
    /// # Errors
    ///
    /// As for [`with_runtime`](Interval::with_runtime).
    pub fn at_with_runtime(
        rt: R,
        start: Instant,
        period: Duration,
        policy: MissedTick,
    ) -> Result<Self, ConfigError> {
        if period.is_zero() {
            return Err(ConfigError::ZeroPeriod);
        }
        let far = period.checked_mul(2).ok_or(ConfigError::OutOfRange)?;
        start.checked_add(far).ok_or(ConfigError::OutOfRange)?;
        let sleep = Box::pin(rt.sleep_until(start));
        Ok(Interval {
            rt,
            period,
            next: start,
            sleep,
            policy,
            stats: IntervalStats::default(),
        })
    }

    /// Waits for the next tick and returns the instant it was due at.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_timer::{Interval, MissedTick};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut iv = Interval::with_runtime(rt.clone(), Duration::from_secs(1), MissedTick::Skip)
    ///         .unwrap();
    ///     let first = iv.tick().await;
    ///     assert_eq!(iv.tick().await - first, Duration::from_secs(1));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a tick is consumed only when the future completes, so dropping it loses no
    /// tick.
    pub fn tick(&mut self) -> Tick<'_, R> {
        Tick { interval: self }
    }

    /// Polls for the next tick; returns the instant it was due at.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::{Interval, MissedTick};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let mut iv = Interval::with_runtime(rt.clone(), Duration::from_secs(1), MissedTick::Skip)
    ///     .unwrap();
    /// let first = rt.block_on(std::future::poll_fn(|cx| iv.poll_tick(cx)));
    /// # let _ = first;
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let due = self.next;
        let Some(after) = due.checked_add(self.period) else {
            // The clock's range is exhausted (centuries away): no further tick can be due.
            return Poll::Pending;
        };
        let now = self.rt.now();
        let next = if now < after {
            after
        } else {
            self.stats.late += 1;
            match self.policy {
                MissedTick::Burst => after,
                MissedTick::Delay => now.checked_add(self.period).unwrap_or(after),
                MissedTick::Skip => {
                    let behind = (now - due).as_nanos() / self.period.as_nanos();
                    self.stats.skipped += behind as u64;
                    u32::try_from(behind + 1)
                        .ok()
                        .and_then(|n| self.period.checked_mul(n))
                        .and_then(|d| due.checked_add(d))
                        .unwrap_or(after)
                }
            }
        };
        self.set_next(next);
        self.stats.started += 1;
        Poll::Ready(due)
    }

    fn set_next(&mut self, next: Instant) {
        self.next = next;
        self.sleep.as_mut().reset(next);
    }

    /// Restarts the grid so that the next tick is due one period from now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::{Interval, MissedTick};
    ///
    /// let rt = VirtualRuntime::new();
    /// let mut iv = Interval::with_runtime(rt.clone(), Duration::from_secs(1), MissedTick::Skip)
    ///     .unwrap();
    /// iv.reset();
    /// assert_eq!(iv.next_due(), rt.now() + Duration::from_secs(1));
    /// ```
    pub fn reset(&mut self) {
        let next = self.rt.now().checked_add(self.period).unwrap_or(self.next);
        self.set_next(next);
    }

    /// Restarts the grid so that the next tick is due now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::{Interval, MissedTick};
    ///
    /// let rt = VirtualRuntime::new();
    /// let mut iv = Interval::with_runtime(rt.clone(), Duration::from_secs(1), MissedTick::Skip)
    ///     .unwrap();
    /// iv.reset_immediately();
    /// assert_eq!(iv.next_due(), rt.now());
    /// ```
    pub fn reset_immediately(&mut self) {
        let now = self.rt.now();
        self.set_next(now);
    }

    /// Restarts the grid so that the next tick is due at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::{Interval, MissedTick};
    ///
    /// let rt = VirtualRuntime::new();
    /// let mut iv = Interval::with_runtime(rt.clone(), Duration::from_secs(1), MissedTick::Skip)
    ///     .unwrap();
    /// let at = rt.now() + Duration::from_secs(30);
    /// iv.reset_at(at);
    /// assert_eq!(rt.block_on(iv.tick()), at);
    /// ```
    pub fn reset_at(&mut self, deadline: Instant) {
        self.set_next(deadline);
    }

    /// The instant the next tick is due at.
    #[must_use]
    pub fn next_due(&self) -> Instant {
        self.next
    }

    /// The period.
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The missed-tick policy.
    #[must_use]
    pub fn missed_tick(&self) -> MissedTick {
        self.policy
    }

    /// Changes the missed-tick policy from the next tick on.
    pub fn set_missed_tick(&mut self, policy: MissedTick) {
        self.policy = policy;
    }

    /// Counters: ticks yielded, late ticks, skipped grid points (see [`IntervalStats`] for the
    /// invariants and an example).
    #[must_use]
    pub fn stats(&self) -> IntervalStats {
        self.stats
    }
}

impl<R: Runtime> fmt::Debug for Interval<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("period", &self.period)
            .field("next", &self.next)
            .field("policy", &self.policy)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

// Nothing is pinned structurally: the sleep is boxed.
impl<R: Runtime> Unpin for Interval<R> {}

impl<R: Runtime> Stream for Interval<R> {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

/// The future of [`Interval::tick`]: the instant the next tick was due at.
///
/// # Examples
///
/// Racing a tick against a shutdown signal: the losing tick is not lost, the next `tick`
/// yields it.
///
/// ```
/// use std::time::Duration;
/// use futures_lite::FutureExt;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::{Interval, MissedTick};
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// rt.block_on(async {
///     let mut iv = Interval::with_runtime(rt.clone(), Duration::from_secs(10), MissedTick::Delay)
///         .unwrap();
///     iv.tick().await;
///     let tick: wrangle_timer::future::Tick<'_, _> = iv.tick();
///     let shutdown = async {
///         rt.sleep(Duration::from_secs(1)).await;
///         start
///     };
///     assert_eq!(tick.or(shutdown).await, start); // the shutdown won at 1 s
///     assert_eq!(iv.tick().await, start + Duration::from_secs(10));
/// });
/// ```
///
/// # Cancel safety
///
/// Cancel safe: dropping it loses no tick.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Tick<'a, R: Runtime = DefaultRuntime> {
    interval: &'a mut Interval<R>,
}

impl<R: Runtime> fmt::Debug for Tick<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tick").finish_non_exhaustive()
    }
}

impl<R: Runtime> Future for Tick<'_, R> {
    type Output = Instant;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Instant> {
        self.get_mut().interval.poll_tick(cx)
    }
}

/// What an [`Interval`](crate::Interval) does when a tick is taken so late that the next grid
/// point has already passed (the consumer stalled for at least one period).
///
/// There is deliberately no default: the right choice depends on the job, and a silent
/// "burst" default surprises people.
///
/// With a period of 10 ms, ticks due at 0, 10, 20, 30... and a consumer that stalls from 5 ms
/// to 35 ms, the ticks taken after the stall are:
///
/// | policy | instants the ticks are taken at |
/// |---|---|
/// | `Burst` | 35 (due 10), 35 (due 20), 35 (due 30), 40, 50... |
/// | `Delay` | 35 (due 10), 45, 55... |
/// | `Skip`  | 35 (due 10), 40, 50... |
///
/// # Examples
///
/// The table above, run: the instants (in ms) at which the four ticks after the stall are
/// taken.
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::{Interval, MissedTick};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let ms = Duration::from_millis;
///     for (policy, taken_at) in [
///         (MissedTick::Burst, [35, 35, 35, 40]),
///         (MissedTick::Delay, [35, 45, 55, 65]),
///         (MissedTick::Skip, [35, 40, 50, 60]),
///     ] {
///         let start = rt.now();
///         let mut iv = Interval::with_runtime(rt.clone(), ms(10), policy).unwrap();
///         iv.tick().await; // due at 0
///         rt.sleep(ms(35)).await; // the consumer stalls
///         for expected in taken_at {
///             iv.tick().await;
///             assert_eq!(rt.now() - start, ms(expected), "{policy:?}");
///         }
///     }
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissedTick {
    /// Catch up: every missed grid point is yielded at once, back to back, until the interval is
    /// back on its grid.
    Burst,
    /// Yield one late tick, then restart the grid one period after the instant it was taken.
    /// Later ticks are shifted by the stall.
    Delay,
    /// Yield one late tick, then continue with the next grid point after now; the grid points
    /// in between are dropped (and counted in [`IntervalStats::skipped`](crate::IntervalStats)).
    Skip,
}

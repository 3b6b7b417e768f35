//! [`Timer`]: a tick task on a fixed grid, each tick running as its own task.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wrangle_rt::{
    CancellationToken, DefaultRuntime, ErrorReporter, JoinHandle, Runtime, TaskOutput,
};

use crate::driver::{Cancel, Driver, runtime_or_current};
use crate::tracked_call::{Counters, Ended, Reporting, build, settle, spawn_tracked};
use crate::{ConfigError, Interval, MissedTick, Overlap};

/// Which tick a [`Timer`] call is for: its index on the grid and the instant it is due.
///
/// See [`Timer`] for an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimerTick {
    /// 0 for the first tick, then 1, 2...; ticks skipped after a stall keep their index.
    pub index: u64,
    /// The grid point the tick is for: `start + index·period`.
    pub due: Instant,
}

/// Counters of a [`Timer`], from [`Timer::stats`].
///
/// Invariant: `started == completed + failed + cancelled + running`. Under
/// [`Overlap::Skip`], [`Overlap::Queue`] and [`Overlap::Replace`], `running <= 1`.
///
/// See [`Timer`] for an example.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimerStats {
    /// Ticks started.
    pub started: u64,
    /// Ticks that finished successfully.
    pub completed: u64,
    /// Ticks that returned an error or panicked.
    pub failed: u64,
    /// Ticks cancelled by [`Overlap::Replace`] or by cancelling, aborting or dropping the
    /// timer.
    pub cancelled: u64,
    /// Grid points that started no tick: dropped by [`Overlap::Skip`], or passed while the
    /// timer was behind (waiting under [`Overlap::Queue`], a slow cancellation).
    pub skipped: u64,
    /// Ticks running now.
    pub running: usize,
}

/// A timer that starts a tick every period on a fixed grid from the moment it is created
/// (the first tick at once), each tick running as its own task (aiotools' `create_timer`, but
/// without drift).
///
/// What happens when a tick is due while the previous one still runs is the [`Overlap`]
/// policy, the one [`ScheduledTask`](crate::ScheduledTask) has too. Period 10 ms, ticks that
/// take 15 ms (8 ms for the last):
///
/// ```text
/// time (ms)  0    5    10   15   20   25   30   35   40   45
/// grid       t0        t1        t2        t3        t4
/// Allow      t0-------------     t2-------------     t4-------------
///                      t1-------------     t3-------------   (ticks overlap)
/// Replace    t0--------x         t2--------x         t4------
///                      t1--------x         t3--------x   (x: cancelled)
/// Skip       t0-------------     t2-------------     t4------
///                      t1 skipped          t3 skipped
/// Queue      t0-------------               t2-------------
///                           t1-------------               t3-   (each waits: late)
/// ```
///
/// A failing or panicking tick (a closure that panics before it returns its future included)
/// is counted in `failed`, reported to the timer's [`ErrorReporter`] (a panic as a
/// [`PanicPayload`](wrangle_rt::PanicPayload)), and the timer goes on. If the timer falls
/// behind the grid (waiting under [`Overlap::Queue`], a slow cancellation), the grid points it
/// missed are skipped and counted in [`TimerStats::skipped`].
///
/// Dropping the timer cancels it and every running tick without waiting;
/// [`abort`](Timer::abort) does the same while keeping the timer, and
/// [`cancel`](Timer::cancel) also waits until every tick is gone.
///
/// # Examples
///
/// Ticks of 2.5 s every second, allowed to overlap: at 3.2 s, four ticks have started and the
/// first has ended.
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::{Overlap, Timer, TimerTick};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let sleeper = rt.clone();
///     let timer = Timer::with_runtime(rt.clone(), Duration::from_secs(1), Overlap::Allow,
///         move |tick: TimerTick| {
///             let rt = sleeper.clone();
///             assert_eq!(tick.due, rt.now()); // started on its grid point
///             async move { rt.sleep(Duration::from_millis(2500)).await }
///         })
///         .unwrap();
///     rt.sleep(Duration::from_millis(3200)).await;
///     let stats = timer.stats();
///     assert_eq!((stats.started, stats.completed, stats.running), (4, 1, 3));
///     let last = timer.cancel().await;
///     assert_eq!((last.cancelled, last.running), (3, 0));
/// });
/// ```
#[must_use = "dropping a Timer cancels it and its ticks"]
pub struct Timer {
    driver: Driver,
    counters: Arc<Counters>,
    period: Duration,
    overlap: Overlap,
}

/// Configures a [`Timer`]: error reporter and name.
///
/// # Examples
///
/// Failed ticks reported under the timer's name:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use wrangle_rt::{ErrorReporter, Runtime, Unhandled, VirtualRuntime};
/// use wrangle_timer::{Overlap, Timer, TimerTick};
///
/// let rt = VirtualRuntime::new();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// rt.block_on(async {
///     let timer = Timer::builder(Duration::from_secs(1), Overlap::Replace)
///         .error_reporter(ErrorReporter::new(move |u: Unhandled| {
///             sink.lock().unwrap().push(u.to_string())
///         }))
///         .name("poller")
///         .runtime(rt.clone()).spawn(|tick: TimerTick| async move {
///             if tick.index == 1 { Err("upstream down") } else { Ok(()) }
///         })
///         .unwrap();
///     rt.sleep(Duration::from_millis(2500)).await;
///     assert_eq!(timer.cancel().await.failed, 1);
/// });
/// assert_eq!(*seen.lock().unwrap(), ["unhandled error in poller: upstream down"]);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until you call `spawn`"]
pub struct TimerBuilder<R = DefaultRuntime> {
    period: Duration,
    overlap: Overlap,
    reporter: Option<ErrorReporter>,
    name: Cow<'static, str>,
    rt: Option<R>,
}

impl<R: Runtime> TimerBuilder<R> {
    /// Where failed ticks are reported (default: the process-wide handler).
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// The name failed ticks are reported under (default `"wrangle_timer::Timer"`).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The runtime the timer runs on (default: the [current runtime](DefaultRuntime::current)
    /// when [`spawn`](TimerBuilder::spawn) is called).
    pub fn runtime<R2: Runtime>(self, rt: R2) -> TimerBuilder<R2> {
        TimerBuilder {
            period: self.period,
            overlap: self.overlap,
            reporter: self.reporter,
            name: self.name,
            rt: Some(rt),
        }
    }

    /// Starts the timer on its [`runtime`](TimerBuilder::runtime).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero period, [`ConfigError::OutOfRange`] for a period
    /// too large for the clock.
    ///
    /// # Panics
    ///
    /// Without [`runtime`](TimerBuilder::runtime), if no runtime is available (see
    /// [`DefaultRuntime::current`]).
    pub fn spawn<F, Fut>(mut self, f: F) -> Result<Timer, ConfigError>
    where
        F: FnMut(TimerTick) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        let rt = runtime_or_current(self.rt.take());
        self.spawn_on(rt, f)
    }

    fn spawn_on<F, Fut>(self, rt: R, mut f: F) -> Result<Timer, ConfigError>
    where
        F: FnMut(TimerTick) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        let (period, overlap) = (self.period, self.overlap);
        let mut interval = Interval::with_runtime(rt.clone(), period, MissedTick::Skip)?;
        let start = interval.next_due();
        let counters = Arc::new(Counters::default());
        let reporting = Reporting::new(self.reporter, self.name);
        let token = CancellationToken::new();
        let driver = {
            let (rt, counters, token) = (rt.clone(), counters.clone(), token.clone());
            async move {
                let mut running: Vec<JoinHandle<Ended>> = Vec::new();
                let mut grid_skipped = 0;
                'ticks: while let Some(due) = token.run_until_cancelled(interval.tick()).await {
                    // Grid points the interval dropped because the timer was behind.
                    let dropped = interval.stats().skipped;
                    Counters::add(&counters.skipped, dropped - grid_skipped);
                    grid_skipped = dropped;
                    running.retain(|h| !h.is_finished());
                    match overlap {
                        Overlap::Allow => {}
                        Overlap::Replace => {
                            for h in running.drain(..) {
                                settle(h.cancel().await, &counters);
                            }
                        }
                        Overlap::Skip => {
                            if !running.is_empty() {
                                Counters::bump(&counters.skipped);
                                continue;
                            }
                        }
                        Overlap::Queue => {
                            while let Some(mut h) = running.pop() {
                                match token.run_until_cancelled(&mut h).await {
                                    Some(result) => {
                                        settle(result, &counters);
                                    }
                                    None => {
                                        settle(h.cancel().await, &counters);
                                        break 'ticks;
                                    }
                                }
                            }
                        }
                    }
                    // Exact: `due` lies on the grid, a whole number of periods after `start`.
                    let index = ((due - start).as_nanos() / period.as_nanos()) as u64;
                    let call = build(|| f(TimerTick { index, due }));
                    running.push(spawn_tracked(&rt, call, &counters, &reporting));
                }
                for h in running {
                    settle(h.cancel().await, &counters);
                }
            }
        };
        Ok(Timer {
            driver: Driver::new(token, rt.spawn(driver)),
            counters,
            period,
            overlap,
        })
    }
}

impl Timer {
    /// Starts a timer on the [current runtime](DefaultRuntime::current) that calls `f` every
    /// `period`, the first time at once, with the `overlap` policy.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero period, [`ConfigError::OutOfRange`] for a period
    /// too large for the clock.
    pub fn new<F, Fut>(period: Duration, overlap: Overlap, f: F) -> Result<Self, ConfigError>
    where
        F: FnMut(TimerTick) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        Timer::builder(period, overlap).spawn(f)
    }

    /// Starts a timer on `rt`.
    ///
    /// # Errors
    ///
    /// As for [`new`](Timer::new).
    pub fn with_runtime<R, F, Fut>(
        rt: R,
        period: Duration,
        overlap: Overlap,
        f: F,
    ) -> Result<Self, ConfigError>
    where
        R: Runtime,
        F: FnMut(TimerTick) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        Timer::builder(period, overlap).runtime(rt).spawn(f)
    }

    /// A builder, to choose the error reporter and the name (see [`TimerBuilder`]).
    pub fn builder(period: Duration, overlap: Overlap) -> TimerBuilder {
        TimerBuilder {
            period,
            overlap,
            reporter: None,
            name: Cow::Borrowed("wrangle_timer::Timer"),
            rt: None,
        }
    }

    /// The period.
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The overlap policy.
    #[must_use]
    pub fn overlap(&self) -> Overlap {
        self.overlap
    }

    /// Counters: ticks started, completed, failed, cancelled, skipped, running (see
    /// [`TimerStats`] for the invariant, and [`Timer`] for an example).
    #[must_use]
    pub fn stats(&self) -> TimerStats {
        Timer::stats_of(&self.counters)
    }

    fn stats_of(c: &Counters) -> TimerStats {
        let s = c.snapshot();
        TimerStats {
            started: s.started,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            skipped: s.skipped,
            running: s.running,
        }
    }

    /// Returns `true` once the timer has ended, after [`abort`](Timer::abort) once its ticks
    /// are gone (a timer otherwise never ends on its own).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.driver.is_finished()
    }

    /// Requests the cancellation of the timer and of every running tick, without waiting: no
    /// tick starts after this. [`cancel`](Timer::cancel) also waits.
    ///
    /// # Examples
    ///
    /// A timer shared with another task, which aborts it through a reference:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::{Overlap, Timer, TimerTick};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let timer = Arc::new(Timer::with_runtime(rt.clone(), Duration::from_secs(1),
    ///         Overlap::Allow, |_: TimerTick| std::future::pending::<()>()).unwrap());
    ///     let (watchdog, sleeper) = (timer.clone(), rt.clone());
    ///     rt.spawn(async move {
    ///         sleeper.sleep(Duration::from_millis(1500)).await;
    ///         watchdog.abort();
    ///     })
    ///     .detach();
    ///     rt.sleep(Duration::from_secs(5)).await;
    ///     assert!(timer.is_finished());
    ///     let stats = timer.stats();
    ///     assert_eq!((stats.started, stats.cancelled, stats.running), (2, 2, 0));
    /// });
    /// ```
    pub fn abort(&self) {
        self.driver.abort();
    }

    /// Cancels the timer and every running tick, waits until they are all gone, and returns the
    /// final counters. See [`Timer`] for an example.
    ///
    /// # Cancel safety
    ///
    /// The cancellation is requested when `cancel` is called; dropping the returned future
    /// only stops waiting for the ticks to be gone.
    pub fn cancel(self) -> Cancel<TimerStats> {
        let counters = self.counters.clone();
        self.driver.cancel(move || Timer::stats_of(&counters))
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("period", &self.period)
            .field("overlap", &self.overlap)
            .field("stats", &self.stats())
            .finish()
    }
}

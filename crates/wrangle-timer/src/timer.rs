//! [`Timer`]: a tick task on a fixed grid, each tick running as its own task.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wrangle_rt::{CancellationToken, DefaultRuntime, ErrorReporter, JoinHandle, Runtime};

use crate::call::{Counters, Ended, Reporting, build, settle, spawn_tracked};
use crate::stop::Driver;
use crate::{ConfigError, Interval, MissedTick, Outcome, Stop};

/// What a [`Timer`] does with a tick that is still running when the next one is due.
///
/// # Examples
///
/// ```
/// use wrangle_timer::DelayPolicy;
/// assert_ne!(DelayPolicy::Accumulate, DelayPolicy::Cancel);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DelayPolicy {
    /// Let it run: ticks may overlap (aiotools' `DEFAULT`).
    Accumulate,
    /// Cancel it, and wait until it is gone, before starting the next tick (aiotools'
    /// `CANCEL`).
    Cancel,
}

/// Which tick a [`Timer`] call is for.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
///
/// let rt = VirtualRuntime::new();
/// let timer = Timer::with_runtime(rt, Duration::from_secs(1), DelayPolicy::Accumulate,
///     |tick: TimerTick| async move { println!("tick {} due at {:?}", tick.index, tick.due) })
///     .unwrap();
/// # drop(timer);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimerTick {
    /// 0 for the first tick, then 1, 2...; ticks skipped after a stall keep their index.
    pub index: u64,
    /// The grid point the tick is for: `start + index·period`.
    pub due: Instant,
}

/// Counters of a [`Timer`].
///
/// # Examples
///
/// ```
/// assert_eq!(wrangle_timer::TimerStats::default().running, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimerStats {
    /// Ticks started.
    pub started: u64,
    /// Ticks that finished successfully.
    pub completed: u64,
    /// Ticks that returned an error or panicked.
    pub failed: u64,
    /// Ticks cancelled by [`DelayPolicy::Cancel`] or by stopping the timer.
    pub cancelled: u64,
    /// Ticks running now.
    pub running: u64,
}

/// A timer that starts a tick every period on a fixed grid from the moment it is created
/// (the first tick at once), each tick running as its own task (aiotools' `create_timer`, but
/// without drift).
///
/// Ticks may overlap under [`DelayPolicy::Accumulate`]; under [`DelayPolicy::Cancel`] a new
/// tick first cancels the previous unfinished one. A failing or panicking tick (a closure
/// that panics before it returns its future included) is counted in `failed`, reported to
/// the timer's [`ErrorReporter`], and the timer goes on. If the timer itself falls behind the
/// grid (a slow cancellation), the grid points it missed are skipped.
///
/// Dropping the timer cancels it and every running tick; [`stop`](Timer::stop) does the same
/// and waits until every tick is gone.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let sleeper = rt.clone();
///     let timer = Timer::with_runtime(rt.clone(), Duration::from_secs(1), DelayPolicy::Accumulate,
///         move |_tick: TimerTick| {
///             let rt = sleeper.clone();
///             async move { rt.sleep(Duration::from_millis(2500)).await }
///         })
///         .unwrap();
///     rt.sleep(Duration::from_millis(3500)).await;
///     let stats = timer.stats();
///     assert_eq!((stats.started, stats.completed, stats.running), (4, 1, 3));
///     timer.stop().await;
/// });
/// ```
#[must_use = "dropping a Timer cancels it and its ticks"]
pub struct Timer {
    driver: Driver,
    counters: Arc<Counters>,
    period: Duration,
    policy: DelayPolicy,
}

/// Configures a [`Timer`]: error reporter and name.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let timer = Timer::builder(Duration::from_secs(1), DelayPolicy::Cancel)
///     .name("poller")
///     .spawn_with_runtime(rt, |_: TimerTick| async {})
///     .unwrap();
/// # drop(timer);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until you call `spawn`"]
pub struct TimerBuilder {
    period: Duration,
    policy: DelayPolicy,
    reporter: Option<ErrorReporter>,
    name: Cow<'static, str>,
}

impl TimerBuilder {
    /// Where failed ticks are reported (default: the process-wide handler).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{ErrorReporter, Unhandled};
    /// use wrangle_timer::{DelayPolicy, Timer};
    ///
    /// let b = Timer::builder(Duration::from_secs(1), DelayPolicy::Cancel)
    ///     .error_reporter(ErrorReporter::new(|u: Unhandled| eprintln!("{u}")));
    /// # drop(b);
    /// ```
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// The name failed ticks are reported under (default `"wrangle_timer::Timer"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::{DelayPolicy, Timer};
    /// let b = Timer::builder(Duration::from_secs(1), DelayPolicy::Cancel).name("poll");
    /// # drop(b);
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the timer on the [current runtime](DefaultRuntime::current).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let t = Timer::builder(Duration::from_secs(1), DelayPolicy::Accumulate)
    ///         .spawn(|_: TimerTick| async {})
    ///         .unwrap();
    ///     t.stop().await;
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero period, [`ConfigError::OutOfRange`] for a period
    /// too large for the clock.
    pub fn spawn<F, Fut>(self, f: F) -> Result<Timer, ConfigError>
    where
        F: FnMut(TimerTick) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Outcome,
    {
        self.spawn_with_runtime(DefaultRuntime::current(), f)
    }

    /// Starts the timer on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let t = Timer::builder(Duration::from_secs(1), DelayPolicy::Accumulate)
    ///     .spawn_with_runtime(rt, |_: TimerTick| async {})
    ///     .unwrap();
    /// # drop(t);
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`spawn`](TimerBuilder::spawn).
    pub fn spawn_with_runtime<R, F, Fut>(self, rt: R, mut f: F) -> Result<Timer, ConfigError>
    where
        R: Runtime,
        F: FnMut(TimerTick) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Outcome,
    {
        let (period, policy) = (self.period, self.policy);
        let mut interval = Interval::with_runtime(rt.clone(), period, MissedTick::Skip)?;
        let start = interval.next_due();
        let counters = Arc::new(Counters::default());
        let reporting = Reporting::new(self.reporter, self.name);
        let token = CancellationToken::new();
        let driver = {
            let (rt, counters, token) = (rt.clone(), counters.clone(), token.clone());
            async move {
                let mut running: Vec<JoinHandle<Ended>> = Vec::new();
                while let Some(due) = token.run_until_cancelled(interval.tick()).await {
                    running.retain(|h| !h.is_finished());
                    if policy == DelayPolicy::Cancel {
                        for h in running.drain(..) {
                            settle(h.cancel().await, &counters);
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
            policy,
        })
    }
}

impl Timer {
    /// Starts a timer on the [current runtime](DefaultRuntime::current) that calls `f` every
    /// `period`, the first time at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let t = Timer::new(Duration::from_secs(1), DelayPolicy::Cancel, |_: TimerTick| async {})
    ///         .unwrap();
    ///     t.stop().await;
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero period, [`ConfigError::OutOfRange`] for a period
    /// too large for the clock.
    pub fn new<F, Fut>(period: Duration, policy: DelayPolicy, f: F) -> Result<Self, ConfigError>
    where
        F: FnMut(TimerTick) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Outcome,
    {
        Timer::builder(period, policy).spawn(f)
    }

    /// Starts a timer on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let t = Timer::with_runtime(rt, Duration::from_secs(1), DelayPolicy::Cancel,
    ///     |_: TimerTick| async {}).unwrap();
    /// # drop(t);
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`new`](Timer::new).
    pub fn with_runtime<R, F, Fut>(
        rt: R,
        period: Duration,
        policy: DelayPolicy,
        f: F,
    ) -> Result<Self, ConfigError>
    where
        R: Runtime,
        F: FnMut(TimerTick) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Outcome,
    {
        Timer::builder(period, policy).spawn_with_runtime(rt, f)
    }

    /// A builder, to choose the error reporter and the name.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::{DelayPolicy, Timer};
    /// let b = Timer::builder(Duration::from_secs(1), DelayPolicy::Accumulate);
    /// # drop(b);
    /// ```
    pub fn builder(period: Duration, policy: DelayPolicy) -> TimerBuilder {
        TimerBuilder {
            period,
            policy,
            reporter: None,
            name: Cow::Borrowed("wrangle_timer::Timer"),
        }
    }

    /// The period.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let t = Timer::with_runtime(rt, Duration::from_secs(1), DelayPolicy::Cancel,
    ///     |_: TimerTick| async {}).unwrap();
    /// assert_eq!(t.period(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The delay policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let t = Timer::with_runtime(rt, Duration::from_secs(1), DelayPolicy::Cancel,
    ///     |_: TimerTick| async {}).unwrap();
    /// assert_eq!(t.delay_policy(), DelayPolicy::Cancel);
    /// ```
    #[must_use]
    pub fn delay_policy(&self) -> DelayPolicy {
        self.policy
    }

    /// Counters: ticks started, completed, failed, cancelled, running.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let t = Timer::with_runtime(rt.clone(), Duration::from_secs(1), DelayPolicy::Cancel,
    ///         |_: TimerTick| async {}).unwrap();
    ///     rt.sleep(Duration::from_millis(2500)).await;
    ///     assert_eq!(t.stats().completed, 3);
    /// });
    /// ```
    #[must_use]
    pub fn stats(&self) -> TimerStats {
        Timer::stats_of(&self.counters)
    }

    fn stats_of(c: &Counters) -> TimerStats {
        TimerStats {
            started: Counters::get(&c.started),
            completed: Counters::get(&c.completed),
            failed: Counters::get(&c.failed),
            cancelled: Counters::get(&c.cancelled),
            running: c.running(),
        }
    }

    /// Cancels the timer and every running tick, waits until they are all gone, and returns the
    /// final counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::{DelayPolicy, Timer, TimerTick};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let t = Timer::with_runtime(rt.clone(), Duration::from_secs(1), DelayPolicy::Accumulate,
    ///         |_: TimerTick| std::future::pending::<()>()).unwrap();
    ///     rt.sleep(Duration::from_millis(2500)).await;
    ///     assert_eq!(t.stats().running, 3);
    ///     let last = t.stop().await;
    ///     assert_eq!((last.running, last.cancelled), (0, 3));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Stopping is requested when `stop` is called; dropping the returned future only stops
    /// waiting for the ticks to be gone.
    pub fn stop(self) -> Stop<TimerStats> {
        let counters = self.counters.clone();
        self.driver.stop(move || Timer::stats_of(&counters))
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("period", &self.period)
            .field("policy", &self.policy)
            .field("stats", &self.stats())
            .finish()
    }
}

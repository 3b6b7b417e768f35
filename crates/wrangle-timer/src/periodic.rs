//! [`PeriodicTask`]: calls that never overlap, one period apart from start to start.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use wrangle_rt::{CancellationToken, DefaultRuntime, ErrorReporter, Runtime};

use crate::call::{Counters, Ended, Reporting, build, run_call};
use crate::stop::Driver;
use crate::{ConfigError, ErrorPolicy, Outcome, Stop};

/// A background task that calls a function periodically: the first call at once, calls never
/// overlap, and each call starts one period after the previous one started (or as soon as it
/// ends, if it took longer than a period).
///
/// So the spacing is `max(period, duration of the call)`, corrected at each call; unlike
/// [`Interval`](crate::Interval) there is no fixed grid to catch up with.
///
/// Each call runs as its own task. A call that returns an error or panics is sent to the
/// task's [`ErrorReporter`] (the process-wide handler unless you set one); then, by the
/// [`ErrorPolicy`], the task keeps going (the default) or stops. A closure that panics before
/// it returns its future is such a failed call too: counted in `failed`, reported, and
/// handled by the policy.
///
/// Dropping the `PeriodicTask` cancels it, including a call in progress;
/// [`stop`](PeriodicTask::stop) does the same and waits until it is gone.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::PeriodicTask;
///
/// let rt = VirtualRuntime::new();
/// let calls = Arc::new(AtomicU32::new(0));
/// rt.block_on(async {
///     let counter = calls.clone();
///     let task = PeriodicTask::with_runtime(rt.clone(), Duration::from_millis(50), move || {
///         let counter = counter.clone();
///         async move { counter.fetch_add(1, Ordering::SeqCst); }
///     })
///     .unwrap();
///     rt.sleep(Duration::from_millis(120)).await; // calls at 0, 50 and 100 ms
///     drop(task);
/// });
/// assert_eq!(calls.load(Ordering::SeqCst), 3);
/// ```
#[must_use = "dropping a PeriodicTask cancels it"]
pub struct PeriodicTask {
    driver: Driver,
    counters: Arc<Counters>,
    period: Duration,
}

/// Counters of a [`PeriodicTask`].
///
/// # Examples
///
/// ```
/// let stats = wrangle_timer::PeriodicStats::default();
/// assert_eq!(stats.calls, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeriodicStats {
    /// Calls started.
    pub calls: u64,
    /// Calls that returned successfully.
    pub completed: u64,
    /// Calls that returned an error or panicked.
    pub failed: u64,
    /// Calls cancelled by stopping or dropping the task.
    pub cancelled: u64,
}

/// Configures a [`PeriodicTask`]: error policy, error reporter and name.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_timer::{ErrorPolicy, PeriodicTask};
///
/// let rt = VirtualRuntime::new();
/// let task = PeriodicTask::builder(Duration::from_secs(1))
///     .on_error(ErrorPolicy::Stop)
///     .name("heartbeat")
///     .spawn_with_runtime(rt, || async { Ok::<(), std::io::Error>(()) })
///     .unwrap();
/// # drop(task);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until you call `spawn`"]
pub struct PeriodicBuilder {
    period: Duration,
    policy: ErrorPolicy,
    reporter: Option<ErrorReporter>,
    name: Cow<'static, str>,
}

impl PeriodicBuilder {
    /// What to do after a call fails: [`ErrorPolicy::Continue`] (the default) or
    /// [`ErrorPolicy::Stop`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::{ErrorPolicy, PeriodicTask};
    ///
    /// let b = PeriodicTask::builder(Duration::from_secs(1)).on_error(ErrorPolicy::Stop);
    /// # drop(b);
    /// ```
    pub fn on_error(mut self, policy: ErrorPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Where failed calls are reported (default: the process-wide handler).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{ErrorReporter, Unhandled};
    /// use wrangle_timer::PeriodicTask;
    ///
    /// let b = PeriodicTask::builder(Duration::from_secs(1))
    ///     .error_reporter(ErrorReporter::new(|u: Unhandled| eprintln!("{u}")));
    /// # drop(b);
    /// ```
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// The name failed calls are reported under (default `"wrangle_timer::PeriodicTask"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = wrangle_timer::PeriodicTask::builder(Duration::from_secs(1)).name("refresh");
    /// # drop(b);
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the task on the [current runtime](DefaultRuntime::current).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::PeriodicTask;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let task = PeriodicTask::builder(Duration::from_secs(1)).spawn(|| async {}).unwrap();
    ///     task.stop().await;
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero period, [`ConfigError::OutOfRange`] for a period
    /// too large for the clock.
    pub fn spawn<F, Fut>(self, f: F) -> Result<PeriodicTask, ConfigError>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Outcome,
    {
        self.spawn_with_runtime(DefaultRuntime::current(), f)
    }

    /// Starts the task on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::PeriodicTask;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let task = PeriodicTask::builder(Duration::from_secs(1))
    ///     .spawn_with_runtime(rt, || async {})
    ///     .unwrap();
    /// # drop(task);
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`spawn`](PeriodicBuilder::spawn).
    pub fn spawn_with_runtime<R, F, Fut>(self, rt: R, mut f: F) -> Result<PeriodicTask, ConfigError>
    where
        R: Runtime,
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Outcome,
    {
        let period = self.period;
        if period.is_zero() {
            return Err(ConfigError::ZeroPeriod);
        }
        rt.deadline_after(period.checked_mul(2).ok_or(ConfigError::OutOfRange)?)
            .map_err(|_| ConfigError::OutOfRange)?;
        let counters = Arc::new(Counters::default());
        let reporting = Reporting::new(self.reporter, self.name);
        let policy = self.policy;
        let token = CancellationToken::new();
        let driver = {
            let (rt, counters, token) = (rt.clone(), counters.clone(), token.clone());
            async move {
                loop {
                    let start = rt.now();
                    let ended = run_call(&rt, build(&mut f), &counters, &reporting, &token).await;
                    if ended == Ended::Cancelled
                        || (ended == Ended::Failed && policy == ErrorPolicy::Stop)
                    {
                        return;
                    }
                    let Some(next) = start.checked_add(period) else {
                        return;
                    };
                    if rt.now() < next
                        && token
                            .run_until_cancelled(rt.sleep_until(next))
                            .await
                            .is_none()
                    {
                        return;
                    }
                }
            }
        };
        Ok(PeriodicTask {
            driver: Driver::new(token, rt.spawn(driver)),
            counters,
            period,
        })
    }
}

impl PeriodicTask {
    /// Starts calling `f` every `period` on the [current runtime](DefaultRuntime::current),
    /// continuing after failures.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::PeriodicTask;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let task = PeriodicTask::new(Duration::from_secs(1), || async {}).unwrap();
    ///     assert_eq!(task.period(), Duration::from_secs(1));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero period, [`ConfigError::OutOfRange`] for a period
    /// too large for the clock.
    pub fn new<F, Fut>(period: Duration, f: F) -> Result<Self, ConfigError>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Outcome,
    {
        PeriodicTask::builder(period).spawn(f)
    }

    /// Starts calling `f` every `period` on `rt`, continuing after failures.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::PeriodicTask;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let task = PeriodicTask::with_runtime(rt, Duration::from_secs(1), || async {}).unwrap();
    /// # drop(task);
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`new`](PeriodicTask::new).
    pub fn with_runtime<R, F, Fut>(rt: R, period: Duration, f: F) -> Result<Self, ConfigError>
    where
        R: Runtime,
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Outcome,
    {
        PeriodicTask::builder(period).spawn_with_runtime(rt, f)
    }

    /// A builder, to choose the error policy, the error reporter and the name.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = wrangle_timer::PeriodicTask::builder(Duration::from_secs(10));
    /// # drop(builder);
    /// ```
    pub fn builder(period: Duration) -> PeriodicBuilder {
        PeriodicBuilder {
            period,
            policy: ErrorPolicy::Continue,
            reporter: None,
            name: Cow::Borrowed("wrangle_timer::PeriodicTask"),
        }
    }

    /// The period.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::PeriodicTask;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let task = PeriodicTask::with_runtime(rt, Duration::from_secs(2), || async {}).unwrap();
    /// assert_eq!(task.period(), Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Counters: calls started, completed, failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::PeriodicTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let task = PeriodicTask::with_runtime(rt.clone(), Duration::from_secs(1), || async {})
    ///         .unwrap();
    ///     rt.sleep(Duration::from_millis(2500)).await;
    ///     assert_eq!(task.stats().completed, 3);
    /// });
    /// ```
    #[must_use]
    pub fn stats(&self) -> PeriodicStats {
        PeriodicTask::stats_of(&self.counters)
    }

    fn stats_of(c: &Counters) -> PeriodicStats {
        PeriodicStats {
            calls: Counters::get(&c.started),
            completed: Counters::get(&c.completed),
            failed: Counters::get(&c.failed),
            cancelled: Counters::get(&c.cancelled),
        }
    }

    /// Returns `true` once the task has ended (stopped by [`ErrorPolicy::Stop`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::{ErrorPolicy, PeriodicTask};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let task = PeriodicTask::builder(Duration::from_secs(1))
    ///         .on_error(ErrorPolicy::Stop)
    ///         .error_reporter(wrangle_rt::ErrorReporter::new(|_| {}))
    ///         .spawn_with_runtime(rt.clone(), || async { Err::<(), _>("broken") })
    ///         .unwrap();
    ///     rt.sleep(Duration::from_secs(5)).await;
    ///     assert!(task.is_finished());
    ///     assert_eq!(task.stats().calls, 1);
    /// });
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.driver.is_finished()
    }

    /// Cancels the task, including a call in progress, waits until it is gone, and returns the
    /// final counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::PeriodicTask;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let task = PeriodicTask::with_runtime(rt.clone(), Duration::from_secs(1), || async {})
    ///         .unwrap();
    ///     let stats = task.stop().await;
    ///     assert_eq!(stats.calls, stats.completed + stats.cancelled);
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The task is cancelled when `stop` is called; dropping the returned future only stops
    /// waiting for it to be gone.
    pub fn stop(self) -> Stop<PeriodicStats> {
        let counters = self.counters.clone();
        self.driver.stop(move || PeriodicTask::stats_of(&counters))
    }
}

impl fmt::Debug for PeriodicTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeriodicTask")
            .field("period", &self.period)
            .field("stats", &self.stats())
            .field("finished", &self.is_finished())
            .finish()
    }
}

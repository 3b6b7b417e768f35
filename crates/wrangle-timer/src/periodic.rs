//! [`PeriodicTask`]: calls that never overlap, one period apart from start to start; and
//! [`FailurePolicy`], what it (and a [`ScheduledTask`](crate::ScheduledTask)) does after a
//! failed call.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use wrangle_rt::{CancellationToken, DefaultRuntime, ErrorReporter, Runtime, TaskOutput};

use crate::ConfigError;
use crate::driver::{Cancel, Driver, runtime_or_current};
use crate::tracked_call::{Counters, Ended, Reporting, build, run_call};

/// What a [`PeriodicTask`] or a [`ScheduledTask`](crate::ScheduledTask) does after a call
/// fails (returns an error or panics).
///
/// The failure is always counted in the stats' `failed` and reported to the owner's
/// [`ErrorReporter`] first; the policy only decides whether calls go on.
///
/// # Examples
///
/// A task that must not go on after its first failure (a refresh whose credentials were
/// revoked): with [`FailurePolicy::Stop`] it ends, and [`PeriodicTask::is_finished`] says so.
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{ErrorReporter, Runtime, VirtualRuntime};
/// use wrangle_timer::{FailurePolicy, PeriodicTask};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let task = PeriodicTask::builder(Duration::from_secs(1))
///         .failure_policy(FailurePolicy::Stop)
///         .error_reporter(ErrorReporter::new(|_| {}))
///         .runtime(rt.clone()).spawn(|| async { Err::<(), _>("credentials revoked") })
///         .unwrap();
///     rt.sleep(Duration::from_secs(5)).await;
///     assert!(task.is_finished());
///     assert_eq!((task.stats().started, task.stats().failed), (1, 1));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Keep calling on schedule (the default).
    #[default]
    Continue,
    /// Start no call after the first failure; the owner then ends.
    Stop,
}

/// A background task that calls a function periodically: the first call at once, calls never
/// overlap, and each call starts one period after the previous one started (or as soon as it
/// ends, if it took longer than a period).
///
/// So the spacing is `max(period, duration of the call)`, corrected at each call; unlike
/// [`Interval`](crate::Interval) there is no fixed grid to catch up with. Period 10 ms, call
/// B takes 14 ms, the others 3 ms:
///
/// ```text
/// time (ms)  0    5    10   15   20   25   30   35   40   45
/// period     |         |         |         |         |
/// calls      A--       B-------------C--       D--       E--
///                                    ^ B overran: C starts as B ends,
///                                      D and E each one period after the previous start
/// ```
///
/// Its overlap behaviour is fixed, and is neither of the [`Overlap`](crate::Overlap) policies
/// of [`Timer`](crate::Timer) and [`ScheduledTask`](crate::ScheduledTask) exactly: calls never
/// overlap and none is skipped, like [`Overlap::Queue`](crate::Overlap::Queue), but the periods
/// an overrunning call covered are not made up (one call follows it, not one per missed
/// period). Use a `Timer` or a `ScheduledTask` for another policy.
///
/// Each call runs as its own task. A call that returns an error or panics is sent to the
/// task's [`ErrorReporter`] (the process-wide handler unless you set one); then, by the
/// [`FailurePolicy`], the task keeps going (the default) or stops. A closure that panics
/// before it returns its future is such a failed call too: counted in `failed`, reported as a
/// [`PanicPayload`](wrangle_rt::PanicPayload), and handled by the policy.
///
/// Dropping the `PeriodicTask` cancels it, including a call in progress, without waiting;
/// [`abort`](PeriodicTask::abort) does the same while keeping the task;
/// [`cancel`](PeriodicTask::cancel) also waits until it is gone.
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

/// Counters of a [`PeriodicTask`], from [`PeriodicTask::stats`].
///
/// Invariant: `started == completed + failed + cancelled + running`, and `running <= 1` (calls
/// never overlap). A call whose closure panicked before returning its future is counted in
/// `started` and `failed`.
///
/// See [`PeriodicTask`] for an example.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeriodicStats {
    /// Calls started.
    pub started: u64,
    /// Calls that returned successfully.
    pub completed: u64,
    /// Calls that returned an error or panicked.
    pub failed: u64,
    /// Calls cancelled by cancelling, aborting or dropping the task.
    pub cancelled: u64,
    /// Calls running now (0 or 1).
    pub running: usize,
}

/// Configures a [`PeriodicTask`]: failure policy, error reporter and name.
///
/// # Examples
///
/// Failures go to your reporter under the task's name:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use wrangle_rt::{ErrorReporter, Runtime, Unhandled, VirtualRuntime};
/// use wrangle_timer::{FailurePolicy, PeriodicTask};
///
/// let rt = VirtualRuntime::new();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// rt.block_on(async {
///     let task = PeriodicTask::builder(Duration::from_secs(1))
///         .failure_policy(FailurePolicy::Continue)
///         .error_reporter(ErrorReporter::new(move |u: Unhandled| {
///             sink.lock().unwrap().push(u.to_string())
///         }))
///         .name("heartbeat")
///         .runtime(rt.clone()).spawn(|| async { Err::<(), _>("no route to host") })
///         .unwrap();
///     rt.sleep(Duration::from_millis(1500)).await;
///     task.cancel().await;
/// });
/// assert_eq!(*seen.lock().unwrap(), [
///     "unhandled error in heartbeat: no route to host",
///     "unhandled error in heartbeat: no route to host",
/// ]);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until you call `spawn`"]
pub struct PeriodicBuilder<R = DefaultRuntime> {
    period: Duration,
    policy: FailurePolicy,
    reporter: Option<ErrorReporter>,
    name: Cow<'static, str>,
    rt: Option<R>,
}

impl<R: Runtime> PeriodicBuilder<R> {
    /// What to do after a call fails: [`FailurePolicy::Continue`] (the default) or
    /// [`FailurePolicy::Stop`] (see [`FailurePolicy`] for an example).
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Where failed calls are reported (default: the process-wide handler); see
    /// [`PeriodicBuilder`] for an example.
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// The name failed calls are reported under (default `"wrangle_timer::PeriodicTask"`).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The runtime the task runs on (default: the [current runtime](DefaultRuntime::current)
    /// when [`spawn`](PeriodicBuilder::spawn) is called).
    pub fn runtime<R2: Runtime>(self, rt: R2) -> PeriodicBuilder<R2> {
        PeriodicBuilder {
            period: self.period,
            policy: self.policy,
            reporter: self.reporter,
            name: self.name,
            rt: Some(rt),
        }
    }

    /// Starts the task on its [`runtime`](PeriodicBuilder::runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_timer::PeriodicTask;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let task = PeriodicTask::builder(Duration::from_secs(1)).spawn(|| async {}).unwrap();
    ///     task.cancel().await;
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero period, [`ConfigError::OutOfRange`] for a period
    /// too large for the clock.
    ///
    /// # Panics
    ///
    /// Without [`runtime`](PeriodicBuilder::runtime), if no runtime is available (see
    /// [`DefaultRuntime::current`]).
    pub fn spawn<F, Fut>(mut self, f: F) -> Result<PeriodicTask, ConfigError>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        let rt = runtime_or_current(self.rt.take());
        self.spawn_on(rt, f)
    }

    fn spawn_on<F, Fut>(self, rt: R, mut f: F) -> Result<PeriodicTask, ConfigError>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
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
                        || (ended == Ended::Failed && policy == FailurePolicy::Stop)
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
        Fut::Output: TaskOutput,
    {
        PeriodicTask::builder(period).spawn(f)
    }

    /// Starts calling `f` every `period` on `rt`, continuing after failures.
    ///
    /// # Errors
    ///
    /// As for [`new`](PeriodicTask::new).
    pub fn with_runtime<R, F, Fut>(rt: R, period: Duration, f: F) -> Result<Self, ConfigError>
    where
        R: Runtime,
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        PeriodicTask::builder(period).runtime(rt).spawn(f)
    }

    /// A builder, to choose the failure policy, the error reporter and the name (see
    /// [`PeriodicBuilder`]).
    pub fn builder(period: Duration) -> PeriodicBuilder {
        PeriodicBuilder {
            period,
            policy: FailurePolicy::Continue,
            reporter: None,
            name: Cow::Borrowed("wrangle_timer::PeriodicTask"),
            rt: None,
        }
    }

    /// The period.
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Counters: calls started, completed, failed, cancelled, running (see [`PeriodicStats`]
    /// for the invariant).
    ///
    /// # Examples
    ///
    /// A call that takes 1.5 periods: at 2.5 s the second call (started at 1.5 s, as soon as
    /// the first ended) is still running.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::PeriodicTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let sleeper = rt.clone();
    ///     let task = PeriodicTask::with_runtime(rt.clone(), Duration::from_secs(1), move || {
    ///         let rt = sleeper.clone();
    ///         async move { rt.sleep(Duration::from_millis(1500)).await }
    ///     })
    ///     .unwrap();
    ///     rt.sleep(Duration::from_millis(2500)).await;
    ///     let stats = task.stats();
    ///     assert_eq!((stats.started, stats.completed, stats.running), (2, 1, 1));
    /// });
    /// ```
    #[must_use]
    pub fn stats(&self) -> PeriodicStats {
        PeriodicTask::stats_of(&self.counters)
    }

    fn stats_of(c: &Counters) -> PeriodicStats {
        let s = c.snapshot();
        PeriodicStats {
            started: s.started,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            running: s.running,
        }
    }

    /// Returns `true` once the task has ended: stopped by [`FailurePolicy::Stop`] (see its
    /// example), or by [`abort`](PeriodicTask::abort) once the call in progress is gone.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.driver.is_finished()
    }

    /// Requests the cancellation of the task, including a call in progress, without waiting:
    /// no call starts after this. The task stays readable ([`stats`](PeriodicTask::stats),
    /// [`is_finished`](PeriodicTask::is_finished)); [`cancel`](PeriodicTask::cancel) also
    /// waits.
    ///
    /// # Examples
    ///
    /// Aborting from a shared reference, then watching the call in progress go:
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::PeriodicTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let task = PeriodicTask::with_runtime(rt.clone(), Duration::from_secs(1), || {
    ///         std::future::pending::<()>()
    ///     })
    ///     .unwrap();
    ///     rt.sleep(Duration::from_secs(1)).await;
    ///     let shared = &task;
    ///     shared.abort();
    ///     rt.sleep(Duration::from_secs(1)).await;
    ///     assert!(task.is_finished());
    ///     assert_eq!((task.stats().cancelled, task.stats().running), (1, 0));
    /// });
    /// ```
    pub fn abort(&self) {
        self.driver.abort();
    }

    /// Cancels the task, including a call in progress, waits until it is gone, and returns the
    /// final counters. See [`Cancel`] for an example.
    ///
    /// # Cancel safety
    ///
    /// The task is cancelled when `cancel` is called; dropping the returned future only stops
    /// waiting for it to be gone.
    pub fn cancel(self) -> Cancel<PeriodicStats> {
        let counters = self.counters.clone();
        self.driver
            .cancel(move || PeriodicTask::stats_of(&counters))
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

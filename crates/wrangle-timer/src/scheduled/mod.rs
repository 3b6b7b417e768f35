//! [`ScheduledTask`]: runs a function at the instants of a wall-clock [`Schedule`], and its
//! policies [`Overlap`] (shared with [`Timer`](crate::Timer)) and [`Misfire`].

mod run;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use wrangle_rt::{CancellationToken, DefaultRuntime, ErrorReporter, Runtime, TaskOutput};

use crate::driver::{Cancel, Driver, runtime_or_current};
use crate::tracked_call::{Counters, Reporting};
use crate::wall_sleep::{DEFAULT_MAX_SLEEP, WallSleep, check_max_sleep};
use crate::{ConfigError, FailurePolicy, Schedule};
use run::Run;

/// Runs a function at the instants of a wall-clock [`Schedule`]: a [`WallSchedule`] (one
/// instant, or a grid with a phase) or a [`CronSchedule`](crate::CronSchedule).
///
/// Each run is its own task and gets the instant it is for. The policies:
///
/// - [`Overlap`]: an instant comes due while a run is going (skip, queue, replace, allow up to
///   [`max_concurrency`](ScheduledBuilder::max_concurrency));
/// - [`Misfire`]: instants already passed when the task came to them (skip, run once, run all);
/// - [`FailurePolicy`]: after a failed or panicking run (reported to the task's
///   [`ErrorReporter`], a panic as a [`PanicPayload`](wrangle_rt::PanicPayload)), continue or
///   stop starting new runs. A closure that panics before it returns its future is a failed
///   run too. A [`Schedule`] that panics is reported and counted in
///   [`ScheduledStats::schedule_panicked`]; the run of the instant it had already given still
///   happens, then the task stops (`Stop`) or asks the schedule again
///   [`max_sleep`](ScheduledBuilder::max_sleep) later (`Continue`).
///
/// The defaults, `Overlap::Skip` and `Misfire::Skip`, are concurrent_tasks'
/// `OnTimePeriodicTask(..., ignore_overdue=True)`: runs never overlap, and overdue instants are
/// dropped. `ignore_overdue=False` (run missed instants back to back) is `Overlap::Queue` with
/// `Misfire::RunAll`.
///
/// Wall-clock time: the task sleeps on the monotonic clock, at most
/// [`DEFAULT_MAX_SLEEP`] at a time, and re-reads the wall clock on each wake-up, so it notices
/// jumps and suspends. A run never starts before its instant on the wall clock; an instant the
/// task was waiting for runs once even if the clock jumps past it.
///
/// Dropping the task cancels it and its runs without waiting; [`abort`](ScheduledTask::abort)
/// does the same while keeping the task, and [`cancel`](ScheduledTask::cancel) also waits
/// until they are gone.
///
/// [`WallSchedule`]: crate::WallSchedule
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use jiff::{SignedDuration, tz::TimeZone};
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::{ScheduledTask, WallSchedule};
///
/// let rt = VirtualRuntime::new();
/// let runs = Arc::new(Mutex::new(Vec::new()));
/// rt.block_on(async {
///     let paris = TimeZone::get("Europe/Paris").unwrap();
///     let anchor = rt.wall_now().to_zoned(paris) + SignedDuration::from_mins(90);
///     let schedule = WallSchedule::every(anchor, SignedDuration::from_hours(1)).unwrap();
///     let seen = runs.clone();
///     let task = ScheduledTask::with_runtime(rt.clone(), schedule, move |at: jiff::Timestamp| {
///         seen.lock().unwrap().push(at.to_string());
///         async {}
///     })
///     .unwrap();
///     rt.sleep(Duration::from_secs(3 * 3600)).await;
///     drop(task);
/// });
/// // The anchor is a phase: the grid started half an hour in, before it.
/// assert_eq!(*runs.lock().unwrap(), [
///     "2000-01-01T00:30:00Z", "2000-01-01T01:30:00Z", "2000-01-01T02:30:00Z",
/// ]);
/// ```
#[must_use = "dropping a ScheduledTask cancels it"]
pub struct ScheduledTask {
    driver: Driver,
    counters: Arc<Counters>,
}

/// Counters of a [`ScheduledTask`], from [`ScheduledTask::stats`].
///
/// Invariant: `started == completed + failed + cancelled + running`. Under every
/// [`Overlap`] policy but [`Overlap::Allow`], `running <= 1`; under `Allow`, `running` is at
/// most the [`max_concurrency`](ScheduledBuilder::max_concurrency). Each instant of the
/// schedule the task came to is either started or `skipped`, once.
///
/// `schedule_panicked` is not a run: it counts the panics of the [`Schedule`] itself, which
/// start no run and so are outside the invariant.
///
/// # Examples
///
/// An every-minute schedule whose runs take 90 s, under the default [`Overlap::Skip`]: every
/// other instant is skipped.
///
/// ```
/// use std::time::Duration;
/// use jiff::{SignedDuration, tz::TimeZone};
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::{ScheduledTask, WallSchedule};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
///     let schedule = WallSchedule::every(anchor, SignedDuration::from_mins(1)).unwrap();
///     let sleeper = rt.clone();
///     let task = ScheduledTask::with_runtime(rt.clone(), schedule, move |_at: jiff::Timestamp| {
///         let rt = sleeper.clone();
///         async move { rt.sleep(Duration::from_secs(90)).await }
///     })
///     .unwrap();
///     rt.sleep(Duration::from_secs(5 * 60 + 30)).await;
///     // Instants at 1..=5 min: runs at 1, 3 and 5 min; 2 and 4 skipped.
///     let stats = task.cancel().await;
///     assert_eq!((stats.started, stats.completed, stats.skipped), (3, 2, 2));
///     assert_eq!((stats.cancelled, stats.running), (1, 0));
/// });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScheduledStats {
    /// Runs started.
    pub started: u64,
    /// Runs that finished successfully.
    pub completed: u64,
    /// Runs that returned an error or panicked.
    pub failed: u64,
    /// Runs cancelled by [`Overlap::Replace`] or by stopping the task.
    pub cancelled: u64,
    /// Instants dropped by [`Overlap::Skip`] or a [`Misfire`] policy.
    pub skipped: u64,
    /// Runs going on now.
    pub running: usize,
    /// Times the [`Schedule`] itself panicked when asked for an instant. Each is reported;
    /// under [`FailurePolicy::Stop`] the task then ends, under [`FailurePolicy::Continue`] it
    /// asks again [`max_sleep`](ScheduledBuilder::max_sleep) later.
    pub schedule_panicked: u64,
}

/// Configures a [`ScheduledTask`].
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use wrangle_timer::{CronSchedule, Misfire, Overlap, ScheduledTask};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let cron = CronSchedule::parse("*/5 * * * *", jiff::tz::TimeZone::UTC).unwrap();
/// let task = ScheduledTask::builder(cron)
///     .overlap(Overlap::Allow)
///     .max_concurrency(NonZeroUsize::new(2).unwrap())
///     .misfire(Misfire::RunOnce)
///     .runtime(rt).spawn(|_at: jiff::Timestamp| async {})
///     .unwrap();
/// # drop(task);
/// ```
#[must_use = "a builder does nothing until you call `spawn`"]
pub struct ScheduledBuilder<S, R = DefaultRuntime> {
    schedule: S,
    overlap: Overlap,
    misfire: Misfire,
    max_concurrency: NonZeroUsize,
    max_sleep: Duration,
    on_failure: FailurePolicy,
    reporter: Option<ErrorReporter>,
    name: Cow<'static, str>,
    rt: Option<R>,
}

impl<S, R> fmt::Debug for ScheduledBuilder<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScheduledBuilder")
            .field("overlap", &self.overlap)
            .field("misfire", &self.misfire)
            .field("max_concurrency", &self.max_concurrency)
            .field("max_sleep", &self.max_sleep)
            .field("failure_policy", &self.on_failure)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<S: Schedule, R: Runtime> ScheduledBuilder<S, R> {
    /// The overlap policy (default [`Overlap::Skip`]).
    pub fn overlap(mut self, overlap: Overlap) -> Self {
        self.overlap = overlap;
        self
    }

    /// The misfire policy (default [`Misfire::Skip`]).
    pub fn misfire(mut self, misfire: Misfire) -> Self {
        self.misfire = misfire;
        self
    }

    /// How many runs may go on at once under [`Overlap::Allow`] (default: no limit). The other
    /// overlap policies run one at a time.
    pub fn max_concurrency(mut self, limit: NonZeroUsize) -> Self {
        self.max_concurrency = limit;
        self
    }

    /// The longest monotonic sleep between two readings of the wall clock (default
    /// [`DEFAULT_MAX_SLEEP`]): the bound on how late a run is after a wall-clock jump forward.
    pub fn max_sleep(mut self, max_sleep: Duration) -> Self {
        self.max_sleep = max_sleep;
        self
    }

    /// What to do after a run fails (default [`FailurePolicy::Continue`]). With
    /// [`FailurePolicy::Stop`], no run starts after a failure has been seen.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.on_failure = policy;
        self
    }

    /// Where failed runs are reported (default: the process-wide handler).
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// The name failed runs are reported under (default `"wrangle_timer::ScheduledTask"`).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The runtime the task runs on (default: the [current runtime](DefaultRuntime::current)
    /// when [`spawn`](ScheduledBuilder::spawn) is called).
    pub fn runtime<R2: Runtime>(self, rt: R2) -> ScheduledBuilder<S, R2> {
        ScheduledBuilder {
            schedule: self.schedule,
            overlap: self.overlap,
            misfire: self.misfire,
            max_concurrency: self.max_concurrency,
            max_sleep: self.max_sleep,
            on_failure: self.on_failure,
            reporter: self.reporter,
            name: self.name,
            rt: Some(rt),
        }
    }

    /// Starts the task on its [`runtime`](ScheduledBuilder::runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::Zoned;
    /// use wrangle_timer::{ScheduledTask, WallSchedule};
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let at: Zoned = "2030-01-01T00:00:00[UTC]".parse().unwrap();
    ///     let task = ScheduledTask::builder(WallSchedule::once(at))
    ///         .spawn(|_at: jiff::Timestamp| async {})
    ///         .unwrap();
    ///     task.cancel().await;
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero [`max_sleep`](ScheduledBuilder::max_sleep).
    ///
    /// # Panics
    ///
    /// Without [`runtime`](ScheduledBuilder::runtime), if no runtime is available (see
    /// [`DefaultRuntime::current`]).
    pub fn spawn<F, Fut>(mut self, f: F) -> Result<ScheduledTask, ConfigError>
    where
        F: FnMut(Timestamp) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        let rt = runtime_or_current(self.rt.take());
        self.spawn_on(rt, f)
    }

    fn spawn_on<F, Fut>(self, rt: R, f: F) -> Result<ScheduledTask, ConfigError>
    where
        F: FnMut(Timestamp) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        let max_sleep = check_max_sleep(self.max_sleep)?;
        let counters = Arc::new(Counters::default());
        let token = CancellationToken::new();
        let run = Run {
            limit: match self.overlap {
                Overlap::Allow => self.max_concurrency.get(),
                _ => 1,
            },
            wall: WallSleep::new(rt.clone(), max_sleep),
            schedule: self.schedule,
            overlap: self.overlap,
            misfire: self.misfire,
            on_failure: self.on_failure,
            reporting: Reporting::new(self.reporter, self.name),
            counters: counters.clone(),
            token: token.clone(),
            running: VecDeque::new(),
            failed_seen: false,
        };
        Ok(ScheduledTask {
            driver: Driver::new(token, rt.spawn(run.drive(f))),
            counters,
        })
    }
}

impl ScheduledTask {
    /// Starts running `f` at the instants of `schedule` on the
    /// [current runtime](DefaultRuntime::current), with the default policies.
    ///
    /// # Errors
    ///
    /// As for [`ScheduledBuilder::spawn`].
    pub fn new<S, F, Fut>(schedule: S, f: F) -> Result<Self, ConfigError>
    where
        S: Schedule,
        F: FnMut(Timestamp) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        ScheduledTask::builder(schedule).spawn(f)
    }

    /// Starts running `f` at the instants of `schedule` on `rt`, with the default policies.
    ///
    /// # Errors
    ///
    /// As for [`ScheduledBuilder::spawn`].
    pub fn with_runtime<R, S, F, Fut>(rt: R, schedule: S, f: F) -> Result<Self, ConfigError>
    where
        R: Runtime,
        S: Schedule,
        F: FnMut(Timestamp) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        ScheduledTask::builder(schedule).runtime(rt).spawn(f)
    }

    /// A builder, to choose the policies, the wall-clock polling bound, the error reporter and
    /// the name.
    pub fn builder<S: Schedule>(schedule: S) -> ScheduledBuilder<S> {
        ScheduledBuilder {
            schedule,
            overlap: Overlap::Skip,
            misfire: Misfire::Skip,
            max_concurrency: NonZeroUsize::MAX,
            max_sleep: DEFAULT_MAX_SLEEP,
            on_failure: FailurePolicy::Continue,
            reporter: None,
            name: Cow::Borrowed("wrangle_timer::ScheduledTask"),
            rt: None,
        }
    }

    /// Counters: runs started, completed, failed, cancelled, running; instants skipped; panics
    /// of the schedule (see [`ScheduledStats`] for the invariant and an example).
    #[must_use]
    pub fn stats(&self) -> ScheduledStats {
        ScheduledTask::stats_of(&self.counters)
    }

    fn stats_of(c: &Counters) -> ScheduledStats {
        let s = c.snapshot();
        ScheduledStats {
            started: s.started,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            skipped: s.skipped,
            running: s.running,
            schedule_panicked: s.schedule_panicked,
        }
    }

    /// Returns `true` once the task has ended: its schedule is exhausted and its runs are over,
    /// or it stopped after a failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::SignedDuration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::{ScheduledTask, WallSchedule};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let at = rt.wall_now().to_zoned(jiff::tz::TimeZone::UTC) + SignedDuration::from_secs(5);
    ///     let task = ScheduledTask::with_runtime(rt.clone(), WallSchedule::once(at),
    ///         |_at: jiff::Timestamp| async {}).unwrap();
    ///     rt.sleep(std::time::Duration::from_secs(6)).await;
    ///     assert!(task.is_finished());
    ///     assert_eq!(task.stats().completed, 1);
    /// });
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.driver.is_finished()
    }

    /// Requests the cancellation of the task and of its runs, without waiting: no run starts
    /// after this. [`cancel`](ScheduledTask::cancel) also waits.
    ///
    /// # Examples
    ///
    /// Aborting through a shared reference; the run in progress is gone soon after:
    ///
    /// ```
    /// use std::time::Duration;
    /// use jiff::{SignedDuration, tz::TimeZone};
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_timer::{ScheduledTask, WallSchedule};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
    ///     let every_minute = WallSchedule::every(anchor, SignedDuration::from_mins(1)).unwrap();
    ///     let task = ScheduledTask::with_runtime(rt.clone(), every_minute,
    ///         |_at: jiff::Timestamp| std::future::pending::<()>()).unwrap();
    ///     rt.sleep(Duration::from_secs(61)).await;
    ///     let shared = &task;
    ///     shared.abort();
    ///     rt.sleep(Duration::from_secs(600)).await;
    ///     assert!(task.is_finished());
    ///     let stats = task.stats();
    ///     assert_eq!((stats.started, stats.cancelled, stats.running), (1, 1, 0));
    /// });
    /// ```
    pub fn abort(&self) {
        self.driver.abort();
    }

    /// Cancels the task and its runs, waits until they are gone, and returns the final counters
    /// (see [`ScheduledStats`] for an example).
    ///
    /// # Cancel safety
    ///
    /// The cancellation is requested when `cancel` is called; dropping the returned future
    /// only stops waiting for the runs to be gone.
    pub fn cancel(self) -> Cancel<ScheduledStats> {
        let counters = self.counters.clone();
        self.driver
            .cancel(move || ScheduledTask::stats_of(&counters))
    }
}

impl fmt::Debug for ScheduledTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScheduledTask")
            .field("stats", &self.stats())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// What a [`Timer`](crate::Timer) or a [`ScheduledTask`](crate::ScheduledTask) does when a
/// tick or an instant comes due while an earlier run is still going. The [`Timer`](crate::Timer)
/// docs have a timing diagram of the four.
///
/// # Examples
///
/// Ticks of 15 ms every 10 ms: `Skip` drops the ticks due while one runs, `Queue` starts each
/// one late, as soon as the previous one ends.
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::{Overlap, Timer, TimerTick};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     for (overlap, started, skipped) in [(Overlap::Skip, 3, 2), (Overlap::Queue, 4, 0)] {
///         let sleeper = rt.clone();
///         let timer = Timer::with_runtime(rt.clone(), Duration::from_millis(10), overlap,
///             move |_: TimerTick| {
///                 let rt = sleeper.clone();
///                 async move { rt.sleep(Duration::from_millis(15)).await }
///             })
///             .unwrap();
///         rt.sleep(Duration::from_millis(48)).await;
///         let stats = timer.cancel().await;
///         // Skip: ticks at 0, 20 and 40 ms. Queue: at 0, 15, 30 and 45 ms.
///         assert_eq!((stats.started, stats.skipped), (started, skipped), "{overlap:?}");
///     }
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Overlap {
    /// Do not run for this tick or instant (counted in `skipped`). Runs never overlap.
    Skip,
    /// Wait for the running run to end, then run for this tick or instant, late. Runs never
    /// overlap. For a [`ScheduledTask`], instants that pass while waiting are then misfires,
    /// handled by the [`Misfire`] policy; for a [`Timer`](crate::Timer), grid points that pass
    /// are skipped.
    Queue,
    /// Cancel the running run (and wait until it is gone), then run for this tick or instant.
    /// Runs never overlap.
    Replace,
    /// Run concurrently: without a bound for a [`Timer`](crate::Timer), up to
    /// [`max_concurrency`](ScheduledBuilder::max_concurrency) for a [`ScheduledTask`], which at
    /// that bound waits for a run to end as [`Queue`](Overlap::Queue) does.
    Allow,
}

/// What a [`ScheduledTask`] does about instants that had already passed when it came to them:
/// a wall-clock jump forward, a suspended machine, a one-shot instant in the past, or a run
/// that was queued for long.
///
/// An instant the task was sleeping toward is never a misfire: if the wall clock jumps past it,
/// it runs once, late. Catch-up runs are never dropped for overlapping: under [`Overlap::Skip`]
/// they wait for the running run, as under [`Overlap::Queue`].
///
/// # Examples
///
/// A one-shot instant an hour in the past is a misfire: skipped by default, run at once with
/// [`Misfire::RunOnce`].
///
/// ```
/// use std::time::Duration;
/// use jiff::{SignedDuration, tz::TimeZone};
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::{Misfire, ScheduledTask, WallSchedule};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let an_hour_ago = (rt.wall_now() - SignedDuration::from_hours(1)).to_zoned(TimeZone::UTC);
///     for (misfire, started, skipped) in [(Misfire::Skip, 0, 1), (Misfire::RunOnce, 1, 0)] {
///         let task = ScheduledTask::builder(WallSchedule::once(an_hour_ago.clone()))
///             .misfire(misfire)
///             .runtime(rt.clone()).spawn(|_at: jiff::Timestamp| async {})
///             .unwrap();
///         rt.sleep(Duration::from_secs(1)).await;
///         let stats = task.stats();
///         assert_eq!((stats.started, stats.skipped), (started, skipped), "{misfire:?}");
///     }
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Misfire {
    /// Drop every passed instant (counted in `skipped`) and wait for the next future one.
    Skip,
    /// Run once now for the latest passed instant, dropping the others.
    RunOnce,
    /// Run for every passed instant, back to back.
    RunAll,
}

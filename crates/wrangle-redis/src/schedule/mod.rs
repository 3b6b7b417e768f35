//! [`RedisSchedule`]: a wrangle-timer schedule run by every replica, each fire time claimed
//! on Redis so that it runs on one of them.

mod builder;
mod fire;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::future::Future;

use wrangle_rt::{DefaultRuntime, Runtime};
use wrangle_timer::{ScheduledStats, ScheduledTask};

pub use builder::RedisScheduleBuilder;

use crate::Redis;
use crate::future::ScheduleCancel;

/// A [`wrangle_timer::Schedule`] (an interval grid, a cron expression, your own calendar)
/// that every replica runs, whose every fire time runs on exactly one of them.
///
/// Each replica runs the schedule with a [`ScheduledTask`] of its own, with the timer
/// crate's policies ([`Misfire`](wrangle_timer::Misfire), [`Overlap`](wrangle_timer::Overlap),
/// [`FailurePolicy`](wrangle_timer::FailurePolicy)) applied per replica. When a fire time
/// comes due, the replica claims it on Redis before running it:
/// `SET <name>:<fire time in ms since the Unix epoch> <replica id> NX PX <claim ttl>`. The
/// first replica to claim a fire time runs it; the others count it as
/// [`lost`](RedisScheduleStats::lost) and do nothing. Catch-up runs
/// ([`Misfire::RunOnce`](wrangle_timer::Misfire::RunOnce),
/// [`Misfire::RunAll`](wrangle_timer::Misfire::RunAll)) claim their fire times the same way,
/// so a replica that catches up after a pause runs only what nobody else ran.
///
/// ```text
/// fire times   t0        t1        t2        t3 (replica B killed after t1)
/// replica A    lost      claimed   lost      claimed
/// replica B    claimed   lost      -         -
/// replica C    lost      lost      claimed   lost
/// ```
///
/// What to know:
///
/// - **The same fire times on every replica.** The claim key is the fire time, so every
///   replica must compute the same instants: cron expressions do; for an interval, anchor the
///   [`WallSchedule`](wrangle_timer::WallSchedule) on a fixed instant shared by every replica
///   (a constant, not each process's `now`). The wall clocks of the replicas should be
///   synchronised (NTP): a replica whose clock is ahead claims fire times early. Fire
///   times are claimed at millisecond resolution: two fire times within one millisecond
///   share a claim.
/// - **Claims last [`claim_ttl`](RedisScheduleBuilder::claim_ttl)** (default 1 hour) from
///   the moment they are made, one small key per fire time. A replica that comes to a fire
///   time later than that (a catch-up after a long suspend) finds no claim and runs it again:
///   choose the claim time longer than the longest catch-up you allow, and short enough for
///   the keys it keeps (a 50 ms schedule keeps 72,000 keys an hour).
/// - **Exactly once, unless a replica dies mid-run.** The claim is taken before the run: a
///   replica killed while running a fire time has claimed it, and nobody runs it again (at
///   most once under crashes; make such runs idempotent and resumable if that matters).
/// - **Redis unreachable** ([`RedisError::is_unavailable`](crate::RedisError::is_unavailable)):
///   the [`OnUnavailable`](crate::OnUnavailable) policy decides: skip the fire time on this
///   replica (the default, counted in `skipped`), or run it unclaimed (`FailOpen`, counted in
///   `unclaimed`: it may then run on several replicas). Each failed claim is reported to the
///   [error reporter](RedisScheduleBuilder::error_reporter) as a [`RedisError`](crate::RedisError)
///   and counted in `claim_errors`. Nothing stops: the next fire time claims again, and the
///   [`Redis`] handle reconnects by itself once the server is back. A server error (not an
///   outage) skips the fire time under either policy.
///
/// Runs get the fire time (a [`jiff::Timestamp`](wrangle_timer::jiff::Timestamp)); a run
/// that returns an error or panics is reported (a panic as a
/// [`PanicPayload`](wrangle_rt::PanicPayload)) and counted in `failed`, and the schedule
/// goes on as its [`FailurePolicy`](wrangle_timer::FailurePolicy) says. The closure is
/// called only for fire times this replica claimed.
///
/// Dropping the schedule cancels its task and runs without waiting;
/// [`abort`](Self::abort) requests the same, [`cancel`](Self::cancel) also waits.
///
/// # Examples
///
/// ```no_run
/// use wrangle_redis::{Redis, RedisSchedule};
/// use wrangle_timer::jiff::{self, SignedDuration, Zoned};
/// use wrangle_timer::{CronSchedule, Misfire, WallSchedule};
///
/// # wrangle_rt::VirtualRuntime::new().block_on(async {
/// let redis = Redis::open("redis://127.0.0.1:6379/").unwrap();
///
/// // On every replica: the nightly report runs once a night, on one of them.
/// let nightly = CronSchedule::parse("0 3 * * *", jiff::tz::TimeZone::UTC).unwrap();
/// let report = RedisSchedule::builder(redis.clone(), "jobs:nightly-report", nightly)
///     .misfire(Misfire::RunOnce) // a replica back from a pause catches up, if nobody did
///     .spawn(|at: jiff::Timestamp| async move {
///         println!("building the report due at {at}");
///     })
///     .unwrap();
///
/// // Every 10 s on a grid every replica agrees on: anchored on a fixed instant.
/// let anchor: Zoned = "2024-01-01T00:00:00[UTC]".parse().unwrap();
/// let every_10s = WallSchedule::every(anchor, SignedDuration::from_secs(10)).unwrap();
/// let sweep = RedisSchedule::spawn(&redis, "jobs:sweep", every_10s, |_at: jiff::Timestamp| async {
///     // delete expired sessions
/// })
/// .unwrap();
///
/// // ...
/// let stats = sweep.cancel().await;
/// println!("ran {} sweeps here, {} elsewhere", stats.claimed, stats.lost);
/// # drop(report);
/// # });
/// ```
#[must_use = "dropping a RedisSchedule cancels it"]
pub struct RedisSchedule<R: Runtime = DefaultRuntime> {
    task: ScheduledTask,
    counters: Arc<Counters>,
    _runtime: PhantomData<R>,
}

/// The counters of a [`RedisSchedule`], shared with its runs.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    claimed: AtomicU64,
    lost: AtomicU64,
    unclaimed: AtomicU64,
    skipped: AtomicU64,
    claim_errors: AtomicU64,
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
}

impl Counters {
    // Sequentially consistent, so that a snapshot that sees a run's end sees its start.
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::SeqCst);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }

    /// Ends before starts, so that `running` is never negative in a snapshot; claim errors
    /// before skips (a run that fails closed counts its skip first), so that a snapshot
    /// never shows a failed claim without its skip.
    fn snapshot(&self, task: ScheduledStats) -> RedisScheduleStats {
        let claim_errors = Counters::get(&self.claim_errors);
        let completed = Counters::get(&self.completed);
        let failed = Counters::get(&self.failed);
        let cancelled = Counters::get(&self.cancelled);
        let started = Counters::get(&self.started);
        let running = started.saturating_sub(completed + failed + cancelled);
        RedisScheduleStats {
            claimed: Counters::get(&self.claimed),
            lost: Counters::get(&self.lost),
            unclaimed: Counters::get(&self.unclaimed),
            skipped: Counters::get(&self.skipped) + task.skipped,
            claim_errors,
            started,
            completed,
            failed,
            cancelled,
            running: usize::try_from(running).unwrap_or(usize::MAX),
            schedule_panicked: task.schedule_panicked,
        }
    }
}

/// A snapshot of a [`RedisSchedule`]'s counters (this replica only).
///
/// Each fire time this replica came to ends up in exactly one of `claimed` (it ran here),
/// `lost` (another replica claimed it), `unclaimed` (run here without a claim, Redis being
/// unreachable under [`OnUnavailable::FailOpen`](crate::OnUnavailable::FailOpen)) or
/// `skipped` (dropped here by the misfire or overlap policy, by Redis being unreachable under
/// [`OnUnavailable::FailClosed`](crate::OnUnavailable::FailClosed) or failing, or by a
/// cancellation while its claim was in flight); a fire time whose claim is in flight is in
/// none yet. Runs: `started == claimed + unclaimed` and
/// `started == completed + failed + cancelled + running`.
///
/// Across replicas, when none died mid-run, the sum of `claimed` is the number of fire
/// times that ran.
///
/// # Examples
///
/// ```no_run
/// use wrangle_redis::{Redis, RedisSchedule};
/// use wrangle_timer::{CronSchedule, jiff};
///
/// # wrangle_rt::VirtualRuntime::new().block_on(async {
/// let redis = Redis::open("redis://127.0.0.1/").unwrap();
/// let every_minute = CronSchedule::parse("* * * * *", jiff::tz::TimeZone::UTC).unwrap();
/// let job = RedisSchedule::spawn(&redis, "jobs:sync", every_minute, |_at: jiff::Timestamp| async {})
///     .unwrap();
/// // ... an hour later, for a dashboard:
/// let s = job.stats();
/// let came_to = s.claimed + s.lost + s.unclaimed + s.skipped; // about 60
/// let share = s.claimed as f64 / came_to.max(1) as f64; // about 1/3 with three replicas
/// if s.claim_errors > 0 {
///     eprintln!("{} fire times could not be claimed (Redis down?)", s.claim_errors);
/// }
/// println!("ran {:.0}% of the fire times here", share * 100.0);
/// assert_eq!(s.started, s.completed + s.failed + s.cancelled + s.running as u64);
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisScheduleStats {
    /// Fire times this replica claimed (and so ran).
    pub claimed: u64,
    /// Fire times another replica had claimed.
    pub lost: u64,
    /// Fire times run here without a claim while Redis was unreachable
    /// ([`OnUnavailable::FailOpen`](crate::OnUnavailable::FailOpen)).
    pub unclaimed: u64,
    /// Fire times dropped here: by the misfire or overlap policy, by a failed claim under
    /// [`OnUnavailable::FailClosed`](crate::OnUnavailable::FailClosed) (or a server error),
    /// or by a cancellation while the claim was in flight.
    pub skipped: u64,
    /// Claims that failed (Redis unreachable, slow or answering an error); each also counts
    /// in `skipped` or `unclaimed`, and was reported.
    pub claim_errors: u64,
    /// Runs started here (`claimed + unclaimed`).
    pub started: u64,
    /// Runs that succeeded.
    pub completed: u64,
    /// Runs that returned an error or panicked.
    pub failed: u64,
    /// Runs cancelled (by [`Overlap::Replace`](wrangle_timer::Overlap::Replace) or by
    /// stopping the schedule).
    pub cancelled: u64,
    /// Runs going on now.
    pub running: usize,
    /// Times the [`Schedule`](wrangle_timer::Schedule) itself panicked (as
    /// [`ScheduledStats::schedule_panicked`]).
    pub schedule_panicked: u64,
}

impl<R: Runtime> RedisSchedule<R> {
    /// Configures a replicated schedule named `name` (the prefix of its claim keys: the same
    /// on every replica, and unique to this schedule) on `redis`, whose runtime runs it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wrangle_redis::{OnUnavailable, Redis, RedisSchedule};
    /// use wrangle_timer::{CronSchedule, FailurePolicy, Overlap, jiff};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// let every_minute = CronSchedule::parse("* * * * *", jiff::tz::TimeZone::UTC).unwrap();
    /// let heartbeat = RedisSchedule::builder(redis, "jobs:heartbeat", every_minute)
    ///     .overlap(Overlap::Skip)
    ///     .failure_policy(FailurePolicy::Continue)
    ///     // A missed heartbeat is worse than a duplicate one: run it while Redis is down.
    ///     .on_unavailable(OnUnavailable::FailOpen)
    ///     .claim_ttl(Duration::from_secs(600))
    ///     .spawn(|_at: jiff::Timestamp| async { Ok::<(), std::io::Error>(()) })
    ///     .unwrap();
    /// # drop(heartbeat);
    /// # });
    /// ```
    pub fn builder<S: wrangle_timer::Schedule>(
        redis: Redis<R>,
        name: impl AsRef<[u8]>,
        schedule: S,
    ) -> RedisScheduleBuilder<S, R> {
        RedisScheduleBuilder::new(redis, name.as_ref(), schedule)
    }

    /// Runs `schedule` under `name` with the default policies ([`Misfire::Skip`],
    /// [`Overlap::Skip`], [`OnUnavailable::FailClosed`](crate::OnUnavailable::FailClosed),
    /// claims kept 1 hour): see [`builder`](Self::builder) for the others.
    ///
    /// [`Misfire::Skip`]: wrangle_timer::Misfire::Skip
    /// [`Overlap::Skip`]: wrangle_timer::Overlap::Skip
    ///
    /// # Errors
    ///
    /// As [`RedisScheduleBuilder::spawn`].
    pub fn spawn<S, F, Fut>(
        redis: &Redis<R>,
        name: impl AsRef<[u8]>,
        schedule: S,
        f: F,
    ) -> Result<Self, crate::RedisError>
    where
        S: wrangle_timer::Schedule,
        F: FnMut(wrangle_timer::jiff::Timestamp) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: wrangle_rt::TaskOutput,
    {
        RedisSchedule::builder(redis.clone(), name, schedule).spawn(f)
    }

    /// A snapshot of this replica's counters; see [`RedisScheduleStats`].
    #[must_use]
    pub fn stats(&self) -> RedisScheduleStats {
        self.counters.snapshot(self.task.stats())
    }

    /// Whether the schedule has ended here: exhausted (or stopped by its failure policy) and
    /// its runs over.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Requests the cancellation of the schedule and its runs on this replica, without
    /// waiting: no claim is made after this. [`cancel`](Self::cancel) also waits.
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Cancels the schedule and its runs on this replica, waits until they are gone, and
    /// returns the final counters.
    ///
    /// The other replicas go on: the fire times this one would have claimed are claimed by
    /// them.
    pub fn cancel(self) -> ScheduleCancel {
        let counters = self.counters;
        let cancel = self.task.cancel();
        ScheduleCancel::new(async move {
            let task = cancel.await;
            counters.snapshot(task)
        })
    }
}

impl<R: Runtime> fmt::Debug for RedisSchedule<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSchedule")
            .field("stats", &self.stats())
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

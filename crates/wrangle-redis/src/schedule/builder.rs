//! [`RedisScheduleBuilder`]: the timer crate's policies, and the claims'.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wrangle_rt::{DefaultRuntime, ErrorReporter, Runtime, TaskOutput};
use wrangle_timer::jiff::Timestamp;
use wrangle_timer::{FailurePolicy, Misfire, Overlap, Schedule, ScheduledBuilder, ScheduledTask};

use super::fire::{Fire, KEY_SUFFIX_MAX};
use super::{Counters, RedisSchedule};
use crate::input::{check_duration, full_key, millis};
use crate::lease::owner_id;
use crate::{MAX_KEY_LEN, OnUnavailable, Redis, RedisError, RedisErrorKind};

/// The name runs and claims are reported under.
const ORIGIN: &str = "wrangle_redis::RedisSchedule";

/// Configures a [`RedisSchedule`]: made by [`RedisSchedule::builder`].
///
/// The timer crate's policies ([`misfire`](Self::misfire), [`overlap`](Self::overlap),
/// [`failure_policy`](Self::failure_policy), ...) apply to this replica's
/// [`ScheduledTask`] as they are documented there; the claims add
/// [`claim_ttl`](Self::claim_ttl), [`on_unavailable`](Self::on_unavailable) and
/// [`replica_id`](Self::replica_id).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_redis::{Redis, RedisErrorKind, RedisSchedule};
/// use wrangle_timer::{CronSchedule, jiff};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let redis = Redis::builder("redis://127.0.0.1/").runtime(rt).build().unwrap();
/// let hourly = CronSchedule::parse("0 * * * *", jiff::tz::TimeZone::UTC).unwrap();
/// // A claim that expires at once could not keep a fire time from running twice.
/// let err = RedisSchedule::builder(redis, "jobs:hourly", hourly)
///     .claim_ttl(Duration::ZERO)
///     .spawn(|_at: jiff::Timestamp| async {})
///     .unwrap_err();
/// assert_eq!(err.kind(), RedisErrorKind::InvalidDuration);
/// ```
#[must_use = "a builder does nothing until you call `spawn`"]
pub struct RedisScheduleBuilder<S, R: Runtime = DefaultRuntime> {
    redis: Redis<R>,
    name: Vec<u8>,
    timer: ScheduledBuilder<S, R>,
    max_sleep: Option<Duration>,
    claim_ttl: Duration,
    policy: OnUnavailable,
    replica: Option<Vec<u8>>,
    reporter: ErrorReporter,
}

impl<S, R: Runtime> fmt::Debug for RedisScheduleBuilder<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisScheduleBuilder")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("timer", &self.timer)
            .field("claim_ttl", &self.claim_ttl)
            .field("on_unavailable", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S: Schedule, R: Runtime> RedisScheduleBuilder<S, R> {
    pub(super) fn new(redis: Redis<R>, name: &[u8], schedule: S) -> Self {
        let timer = ScheduledTask::builder(schedule)
            .name(ORIGIN)
            .runtime(redis.runtime().clone());
        RedisScheduleBuilder {
            redis,
            name: name.to_vec(),
            timer,
            max_sleep: None,
            claim_ttl: Duration::from_secs(3600),
            policy: OnUnavailable::FailClosed,
            replica: None,
            reporter: ErrorReporter::default(),
        }
    }

    /// The misfire policy of this replica (default [`Misfire::Skip`]); catch-up runs claim
    /// their fire times too, so they run only where nobody ran them.
    pub fn misfire(mut self, misfire: Misfire) -> Self {
        self.timer = self.timer.misfire(misfire);
        self
    }

    /// The overlap policy of this replica (default [`Overlap::Skip`]). A claim is part of
    /// its run: under `Skip`, a fire time due while the previous claim or run is going is
    /// skipped here (another replica may claim it).
    pub fn overlap(mut self, overlap: Overlap) -> Self {
        self.timer = self.timer.overlap(overlap);
        self
    }

    /// How many runs (claims included) may go on at once here under [`Overlap::Allow`]
    /// (default: no limit).
    pub fn max_concurrency(mut self, limit: NonZeroUsize) -> Self {
        self.timer = self.timer.max_concurrency(limit);
        self
    }

    /// The longest monotonic sleep between two readings of the wall clock (default
    /// [`DEFAULT_MAX_SLEEP`](wrangle_timer::DEFAULT_MAX_SLEEP)).
    pub fn max_sleep(mut self, max_sleep: Duration) -> Self {
        self.max_sleep = Some(max_sleep);
        self
    }

    /// What to do after a run fails (default [`FailurePolicy::Continue`]). A failed claim is
    /// not a failed run: it never stops the schedule.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.timer = self.timer.failure_policy(policy);
        self
    }

    /// Where failed runs and failed claims are reported (default: the process-wide handler).
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.timer = self.timer.error_reporter(reporter.clone());
        self.reporter = reporter;
        self
    }

    /// How long a claim is kept on the server, from the moment it is made (default 1
    /// hour): a replica that comes to a fire time later than that may run it again. Sent in
    /// whole milliseconds, rounded up.
    pub fn claim_ttl(mut self, ttl: Duration) -> Self {
        self.claim_ttl = ttl;
        self
    }

    /// What to do with a fire time whose claim finds Redis unreachable (default
    /// [`OnUnavailable::FailClosed`]: skip it here).
    pub fn on_unavailable(mut self, policy: OnUnavailable) -> Self {
        self.policy = policy;
        self
    }

    /// The value of this replica's claims (default: random bytes and the process id, unique
    /// per schedule): set it to a host name or pod name to see in Redis which replica ran
    /// which fire time. At most [`MAX_KEY_LEN`] bytes, not empty.
    pub fn replica_id(mut self, id: impl AsRef<[u8]>) -> Self {
        self.replica = Some(id.as_ref().to_vec());
        self
    }

    /// Starts this replica's schedule: `f(fire_time)` runs for each fire time this replica
    /// claims.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::num::NonZeroUsize;
    /// use wrangle_redis::{Redis, RedisSchedule};
    /// use wrangle_timer::jiff::{self, SignedDuration, Timestamp};
    /// use wrangle_timer::{Overlap, WallSchedule};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let redis = Redis::open("redis://127.0.0.1/").unwrap();
    /// // Every 5 minutes since the Unix epoch: the same grid on every replica.
    /// let epoch = Timestamp::UNIX_EPOCH.to_zoned(jiff::tz::TimeZone::UTC);
    /// let grid = WallSchedule::every(epoch, SignedDuration::from_mins(5)).unwrap();
    /// // Long runs may overlap, up to 3 at a time on each replica.
    /// let exports = RedisSchedule::builder(redis, "jobs:export", grid)
    ///     .overlap(Overlap::Allow)
    ///     .max_concurrency(NonZeroUsize::new(3).unwrap())
    ///     .replica_id(std::env::var("HOSTNAME").unwrap_or_default())
    ///     .spawn(|at: Timestamp| async move {
    ///         // export the window ending at `at`; an error is reported and counted
    ///         Ok::<_, std::io::Error>(at)
    ///     })
    ///     .unwrap();
    /// # drop(exports);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisErrorKind::InvalidKey`] for an empty name, a name too long for
    /// [`MAX_KEY_LEN`] with a fire time appended, or an empty or too long replica id;
    /// [`RedisErrorKind::InvalidDuration`] for a claim time or a `max_sleep` that is zero or
    /// longer than [`MAX_DURATION`](crate::MAX_DURATION). Nothing is spawned then.
    pub fn spawn<F, Fut>(self, f: F) -> Result<RedisSchedule<R>, RedisError>
    where
        F: FnMut(Timestamp) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        let name = full_key(b"", &self.name)?;
        if name.len() > MAX_KEY_LEN - KEY_SUFFIX_MAX {
            return Err(RedisError::new(
                RedisErrorKind::InvalidKey,
                "schedule name too long for MAX_KEY_LEN with a fire time appended",
            ));
        }
        let claim_ms = millis(self.claim_ttl)?;
        let mut timer = self.timer;
        if let Some(max_sleep) = self.max_sleep {
            check_duration(max_sleep)?;
            timer = timer.max_sleep(max_sleep);
        }
        let replica = match self.replica {
            Some(id) if id.is_empty() || id.len() > MAX_KEY_LEN => {
                return Err(RedisError::new(
                    RedisErrorKind::InvalidKey,
                    "replica id empty or longer than MAX_KEY_LEN",
                ));
            }
            Some(id) => id,
            None => owner_id(),
        };
        let counters = Arc::new(Counters::default());
        let fire = Arc::new(Fire {
            redis: self.redis,
            name,
            replica,
            claim_ms,
            policy: self.policy,
            reporter: self.reporter,
            counters: counters.clone(),
            body: Mutex::new(f),
        });
        let task = timer.spawn(move |at| fire.clone().run(at)).map_err(|_| {
            // Every duration the timer checks was checked above.
            RedisError::new(RedisErrorKind::InvalidDuration, "refused by wrangle-timer")
        })?;
        Ok(RedisSchedule {
            task,
            counters,
            _runtime: PhantomData,
        })
    }
}

//! [`Schedule`]: when a [`ScheduledTask`](crate::ScheduledTask) fires.

use jiff::Timestamp;

/// A sequence of wall-clock instants: what a [`ScheduledTask`](crate::ScheduledTask) follows.
///
/// Implemented by [`WallSchedule`](crate::WallSchedule) and
/// [`CronSchedule`](crate::CronSchedule); implement it for your own calendars.
///
/// A `ScheduledTask` calls its schedule under `catch_unwind`: a panic is reported, counted in
/// `ScheduledStats::schedule_panicked` and handled by the task's `FailurePolicy` (see
/// [`ScheduledTask`](crate::ScheduledTask)); it never takes the task down silently.
///
/// # Examples
///
/// ```
/// use jiff::{SignedDuration, Timestamp};
/// use wrangle_timer::Schedule;
///
/// /// Every full minute, in UTC.
/// struct EveryMinute;
///
/// impl Schedule for EveryMinute {
///     fn next_fire(&self, after: Timestamp) -> Option<Timestamp> {
///         let secs = after.as_second().div_euclid(60) * 60 + 60;
///         Timestamp::from_second(secs).ok()
///     }
/// }
///
/// let t: Timestamp = "2024-01-01T10:00:30Z".parse().unwrap();
/// assert_eq!(EveryMinute.next_fire(t).unwrap().to_string(), "2024-01-01T10:01:00Z");
/// assert_eq!(EveryMinute.first_fire(t), EveryMinute.next_fire(t));
/// # let _ = SignedDuration::ZERO;
/// ```
pub trait Schedule: Send + Sync + 'static {
    /// The first instant strictly after `after`, or `None` once the schedule is exhausted.
    ///
    /// Must be strictly increasing: `next_fire(t) > t`.
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::{SignedDuration, Zoned};
    /// use wrangle_timer::{Schedule, WallSchedule};
    ///
    /// let anchor: Zoned = "2024-06-01T12:00:00[Europe/Paris]".parse().unwrap();
    /// let s = WallSchedule::every(anchor.clone(), SignedDuration::from_hours(1)).unwrap();
    /// let next = s.next_fire(anchor.timestamp()).unwrap();
    /// assert_eq!(next.duration_since(anchor.timestamp()), SignedDuration::from_hours(1));
    /// ```
    fn next_fire(&self, after: Timestamp) -> Option<Timestamp>;

    /// The first instant to consider when a task starts at `now`. It may lie in the past (a
    /// one-shot schedule whose instant has passed); the task's
    /// [`Misfire`](crate::Misfire) policy then decides. Defaults to
    /// [`next_fire(now)`](Schedule::next_fire).
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::Zoned;
    /// use wrangle_timer::{Schedule, WallSchedule};
    ///
    /// let at: Zoned = "2024-06-01T12:00:00[Europe/Paris]".parse().unwrap();
    /// let later = at.timestamp() + jiff::SignedDuration::from_hours(2);
    /// assert_eq!(WallSchedule::once(at.clone()).first_fire(later), Some(at.timestamp()));
    /// ```
    fn first_fire(&self, now: Timestamp) -> Option<Timestamp> {
        self.next_fire(now)
    }
}

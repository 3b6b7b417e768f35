//! [`WallSchedule`]: a wall-clock grid anchored on a `jiff::Zoned`.

use jiff::{SignedDuration, Timestamp, Zoned};

use crate::{ConfigError, Schedule};

const DAY: SignedDuration = SignedDuration::from_hours(24);

/// A wall-clock schedule: one instant, or a grid `anchor + k·interval` for every integer `k`
/// (concurrent_tasks' `OnTimePeriodicTask`).
///
/// The anchor is a [`Zoned`], so a civil time without a zone cannot be passed. With an interval
/// the anchor is only a **phase**: the grid extends before it, so runs may start before the
/// anchor.
///
/// How the grid meets daylight saving time depends on the interval:
///
/// - **One day or more: civil time.** Points are `anchor + k·interval` computed on the civil
///   clock of the anchor's zone, so a daily job at 23:00 stays at 23:00 across DST changes (the
///   gap is 25 h across the autumn change, 23 h across the spring one). A point that falls in a
///   spring-forward gap moves forward by the gap's length (02:30 becomes 03:30); a point in an
///   autumn overlap takes its first occurrence.
/// - **Less than a day: elapsed time.** Points are `anchor + k·interval` on the timeline, so an
///   interval of 6 h is always exactly 6 h, and the local times shift by an hour across a DST
///   change (23:00 CEST, 04:00 CET, 10:00 CET...).
///
/// # Examples
///
/// ```
/// use jiff::{SignedDuration, Zoned};
/// use wrangle_timer::WallSchedule;
///
/// // The day before the autumn change in Paris.
/// let at: Zoned = "2024-10-26T23:00:00[Europe/Paris]".parse().unwrap();
///
/// let daily = WallSchedule::every(at.clone(), SignedDuration::from_hours(24)).unwrap();
/// let next = daily.next_after(at.timestamp()).unwrap();
/// assert_eq!(next.to_string(), "2024-10-27T23:00:00+01:00[Europe/Paris]");
/// assert_eq!(next.timestamp().duration_since(at.timestamp()), SignedDuration::from_hours(25));
///
/// let six_hourly = WallSchedule::every(at.clone(), SignedDuration::from_hours(6)).unwrap();
/// let next = six_hourly.next_after(at.timestamp()).unwrap();
/// assert_eq!(next.to_string(), "2024-10-27T04:00:00+01:00[Europe/Paris]");
/// assert_eq!(next.timestamp().duration_since(at.timestamp()), SignedDuration::from_hours(6));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WallSchedule {
    anchor: Zoned,
    every: Option<SignedDuration>,
}

impl WallSchedule {
    /// A schedule with the single instant `at`.
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::Zoned;
    /// use wrangle_timer::WallSchedule;
    ///
    /// let at: Zoned = "2030-01-01T09:00:00[America/New_York]".parse().unwrap();
    /// let once = WallSchedule::once(at.clone());
    /// assert_eq!(once.next_after(at.timestamp()), None);
    /// ```
    #[must_use]
    pub fn once(at: Zoned) -> Self {
        WallSchedule {
            anchor: at,
            every: None,
        }
    }

    /// A grid of instants `interval` apart, with `anchor` as its phase.
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::{SignedDuration, Zoned};
    /// use wrangle_timer::{ConfigError, WallSchedule};
    ///
    /// let at: Zoned = "2030-01-01T09:00:00[America/New_York]".parse().unwrap();
    /// assert!(WallSchedule::every(at.clone(), SignedDuration::from_mins(15)).is_ok());
    /// assert_eq!(
    ///     WallSchedule::every(at, SignedDuration::from_mins(-15)).unwrap_err(),
    ///     ConfigError::NegativePeriod,
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] or [`ConfigError::NegativePeriod`] for an interval that is
    /// not positive; [`ConfigError::OutOfRange`] if `anchor + interval` is past the range of
    /// `jiff` instants (the year 9999).
    pub fn every(anchor: Zoned, interval: SignedDuration) -> Result<Self, ConfigError> {
        if interval.is_zero() {
            return Err(ConfigError::ZeroPeriod);
        }
        if interval.is_negative() {
            return Err(ConfigError::NegativePeriod);
        }
        let schedule = WallSchedule {
            anchor,
            every: Some(interval),
        };
        // An interval that leads out of the representable range from the anchor itself is a
        // configuration error; the end of the range later on only ends the grid.
        if schedule.point(1).is_none() {
            return Err(ConfigError::OutOfRange);
        }
        Ok(schedule)
    }

    /// The anchor.
    #[must_use]
    pub fn anchor(&self) -> &Zoned {
        &self.anchor
    }

    /// The interval, if the schedule repeats.
    #[must_use]
    pub fn interval(&self) -> Option<SignedDuration> {
        self.every
    }

    /// Returns `true` if points keep their civil time across DST changes (an interval of one
    /// day or more).
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::{SignedDuration, Zoned};
    /// use wrangle_timer::WallSchedule;
    ///
    /// let at: Zoned = "2030-01-01T09:00:00[Europe/Paris]".parse().unwrap();
    /// let daily = WallSchedule::every(at.clone(), SignedDuration::from_hours(24)).unwrap();
    /// let hourly = WallSchedule::every(at, SignedDuration::from_hours(1)).unwrap();
    /// assert!(daily.keeps_civil_time());
    /// assert!(!hourly.keeps_civil_time());
    /// ```
    #[must_use]
    pub fn keeps_civil_time(&self) -> bool {
        self.every.is_some_and(|i| i >= DAY)
    }

    /// Grid point `k` (`anchor` is point 0).
    fn point(&self, k: i64) -> Option<Zoned> {
        let Some(interval) = self.every else {
            return (k == 0).then(|| self.anchor.clone());
        };
        let offset =
            SignedDuration::try_from_nanos_i128(interval.as_nanos().checked_mul(i128::from(k))?)?;
        let tz = self.anchor.time_zone();
        if self.keeps_civil_time() {
            let dt = self.anchor.datetime().checked_add(offset).ok()?;
            tz.to_ambiguous_zoned(dt).compatible().ok()
        } else {
            let ts = self.anchor.timestamp().checked_add(offset).ok()?;
            Some(ts.to_zoned(tz.clone()))
        }
    }

    /// An index `k` whose point is within a day of `at` (exact for elapsed-time grids).
    fn index_near(&self, at: Timestamp, interval: SignedDuration) -> Option<i64> {
        let diff = if self.keeps_civil_time() {
            let civil = at.to_zoned(self.anchor.time_zone().clone()).datetime();
            civil.duration_since(self.anchor.datetime())
        } else {
            at.duration_since(self.anchor.timestamp())
        };
        i64::try_from(diff.as_nanos().div_euclid(interval.as_nanos())).ok()
    }

    /// The first point strictly after `after`, or `None` if there is none (a single instant
    /// already passed, or the end of the representable range).
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::{SignedDuration, Zoned};
    /// use wrangle_timer::WallSchedule;
    ///
    /// // A phase in the future still defines points before it.
    /// let anchor: Zoned = "2024-05-01T12:00:00+00:00[UTC]".parse().unwrap();
    /// let s = WallSchedule::every(anchor, SignedDuration::from_mins(50)).unwrap();
    /// let now: jiff::Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
    /// assert_eq!(s.next_after(now).unwrap().timestamp().to_string(), "2024-05-01T10:20:00Z");
    /// ```
    #[must_use]
    pub fn next_after(&self, after: Timestamp) -> Option<Zoned> {
        let Some(interval) = self.every else {
            return (self.anchor.timestamp() > after).then(|| self.anchor.clone());
        };
        let mut k = self.index_near(after, interval)?.checked_sub(1)?;
        loop {
            let p = self.point(k)?;
            if p.timestamp() > after {
                return Some(p);
            }
            k = k.checked_add(1)?;
        }
    }

    /// The last point at or before `at`.
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::{SignedDuration, Zoned};
    /// use wrangle_timer::WallSchedule;
    ///
    /// let anchor: Zoned = "2024-05-01T12:00:00+00:00[UTC]".parse().unwrap();
    /// let s = WallSchedule::every(anchor.clone(), SignedDuration::from_mins(50)).unwrap();
    /// assert_eq!(s.last_at_or_before(anchor.timestamp()), Some(anchor));
    /// ```
    #[must_use]
    pub fn last_at_or_before(&self, at: Timestamp) -> Option<Zoned> {
        let Some(interval) = self.every else {
            return (self.anchor.timestamp() <= at).then(|| self.anchor.clone());
        };
        let mut k = self.index_near(at, interval)?.checked_add(2)?;
        loop {
            let p = self.point(k)?;
            if p.timestamp() <= at {
                return Some(p);
            }
            k = k.checked_sub(1)?;
        }
    }
}

impl Schedule for WallSchedule {
    fn next_fire(&self, after: Timestamp) -> Option<Timestamp> {
        self.next_after(after).map(|z| z.timestamp())
    }

    fn first_fire(&self, now: Timestamp) -> Option<Timestamp> {
        match self.every {
            None => Some(self.anchor.timestamp()),
            Some(_) => self.next_fire(now),
        }
    }
}

//! [`CronSchedule`]: cron expressions evaluated in a `jiff` time zone.

use std::fmt;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, Zoned};

use super::field::{self as cron_field, Field};
use crate::{CronError, Schedule};

/// How many years ahead a search for the next match goes before giving up (a pattern such as
/// 30 February never matches). Eight years include a leap day.
const SEARCH_YEARS: i16 = 8;

/// A cron expression evaluated on the civil clock of a time zone.
///
/// # Syntax
///
/// Five fields, `minute hour day-of-month month day-of-week`, or six with `second` first.
/// Each field is a comma-separated list of `*`, `?`, `a`, `a-b`, `*/n`, `a-b/n` or `a/n`
/// (from `a` to the end of the range). Months and weekdays take English three-letter names
/// (`jan`, `mon`, any case); Sunday is 0 or 7. When both day fields are restricted, a day
/// matches if **either** matches (as in Vixie cron); when one of them is `*` or `?`, only the
/// other counts. Shorthands: `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily`
/// (`@midnight`), `@hourly`.
///
/// # Daylight saving time
///
/// Matching is done on civil (local) time, then mapped to instants:
///
/// - **Gap** (spring forward): local times that do not exist fire **once, right after the
///   gap**, at the instant the clocks change (`30 2 * * *` in New York on the spring change
///   fires at 03:00 EDT). Several matches inside one gap fire once.
/// - **Overlap** (fall back): local times that happen twice fire **once**, at their first
///   occurrence. This applies to every expression, including ones such as `*/15 * * * *`, so
///   such a job does not run during the repeated hour; use a
///   [`WallSchedule`](crate::WallSchedule) with a sub-day interval for elapsed-time spacing.
///
/// # Examples
///
/// ```
/// use jiff::tz::TimeZone;
/// use wrangle_timer::CronSchedule;
///
/// let ny = TimeZone::get("America/New_York").unwrap();
/// let cron = CronSchedule::parse("30 2 * * *", ny).unwrap();
/// let before: jiff::Timestamp = "2024-03-10T05:00:00Z".parse().unwrap(); // 00:00 EST
/// let next = cron.next_after(before).unwrap();
/// assert_eq!(next.to_string(), "2024-03-10T03:00:00-04:00[America/New_York]");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CronSchedule {
    expression: String,
    tz: TimeZone,
    second: Field,
    minute: Field,
    hour: Field,
    day: Field,
    month: Field,
    weekday: Field,
}

impl CronSchedule {
    /// Parses `expression`, to be evaluated in `tz`.
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::tz::TimeZone;
    /// use wrangle_timer::CronSchedule;
    ///
    /// let paris = TimeZone::get("Europe/Paris").unwrap();
    /// assert!(CronSchedule::parse("0 9 * * mon-fri", paris.clone()).is_ok());
    /// assert!(CronSchedule::parse("*/10 * * * * *", paris.clone()).is_ok());
    /// assert!(CronSchedule::parse("@daily", paris.clone()).is_ok());
    /// assert!(CronSchedule::parse("0 9 * *", paris).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`CronError`] for a wrong number of fields, a malformed or out-of-range field, or an
    /// unknown shorthand.
    pub fn parse(expression: &str, tz: TimeZone) -> Result<Self, CronError> {
        let trimmed = expression.trim();
        let expanded = match trimmed {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s if s.starts_with('@') => return Err(CronError::UnknownShorthand(s.to_owned())),
            s => s,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let (second, rest) = match parts.len() {
            5 => (
                Field {
                    bits: 1,
                    star: false,
                },
                &parts[..],
            ),
            6 => (
                cron_field::parse(&cron_field::SECOND, parts[0])?,
                &parts[1..],
            ),
            found => return Err(CronError::FieldCount { found }),
        };
        Ok(CronSchedule {
            expression: trimmed.to_owned(),
            tz,
            second,
            minute: cron_field::parse(&cron_field::MINUTE, rest[0])?,
            hour: cron_field::parse(&cron_field::HOUR, rest[1])?,
            day: cron_field::parse(&cron_field::DAY, rest[2])?,
            month: cron_field::parse(&cron_field::MONTH, rest[3])?,
            weekday: cron_field::parse(&cron_field::WEEKDAY, rest[4])?,
        })
    }

    /// The expression, as given (trimmed).
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone the expression is evaluated in.
    #[must_use]
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    fn day_matches(&self, date: Date) -> bool {
        let dom = self.day.has(date.day() as u8);
        let dow = self
            .weekday
            .has(date.weekday().to_sunday_zero_offset() as u8);
        if self.day.star || self.weekday.star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The next civil date-time at or after `dt` that matches, within the search horizon.
    fn next_civil(&self, mut dt: DateTime, until_year: i16) -> Option<DateTime> {
        let hour_step = SignedDuration::from_hours(1);
        let minute_step = SignedDuration::from_mins(1);
        loop {
            if dt.year() > until_year {
                return None;
            }
            if !self.month.has(dt.month() as u8) {
                let first = dt.date().first_of_month().last_of_month().tomorrow().ok()?;
                dt = first.to_datetime(Time::midnight());
                continue;
            }
            if !self.day_matches(dt.date()) {
                dt = dt.date().tomorrow().ok()?.to_datetime(Time::midnight());
                continue;
            }
            if !self.hour.has(dt.hour() as u8) {
                let top = dt.with().minute(0).second(0).build().ok()?;
                dt = top.checked_add(hour_step).ok()?;
                continue;
            }
            if !self.minute.has(dt.minute() as u8) {
                let top = dt.with().second(0).build().ok()?;
                dt = top.checked_add(minute_step).ok()?;
                continue;
            }
            match self.second.next_from(dt.second() as u8) {
                Some(s) => return dt.with().second(s as i8).build().ok(),
                None => {
                    let top = dt.with().second(0).build().ok()?;
                    dt = top.checked_add(minute_step).ok()?;
                }
            }
        }
    }

    /// The instant a matching civil time fires at, by the DST rules above.
    fn resolve(&self, dt: DateTime) -> Option<Timestamp> {
        let ambiguous = self.tz.to_ambiguous_timestamp(dt);
        match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
                ambiguous.earlier().ok()
            }
            AmbiguousOffset::Gap { .. } => {
                // Read with the offset from before the gap, the time lands after the change;
                // the change itself is the latest transition before that.
                let past_gap = ambiguous.compatible().ok()?;
                let probe = past_gap.checked_add(SignedDuration::from_nanos(1)).ok()?;
                Some(self.tz.preceding(probe).next()?.timestamp())
            }
        }
    }

    /// The first firing instant strictly after `after`, or `None` if the expression has no
    /// match in the next eight years (such as `0 0 30 2 *`).
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::tz::TimeZone;
    /// use wrangle_timer::CronSchedule;
    ///
    /// let cron = CronSchedule::parse("0 9 * * mon-fri", TimeZone::get("Europe/Paris").unwrap())
    ///     .unwrap();
    /// let saturday: jiff::Timestamp = "2024-06-01T12:00:00Z".parse().unwrap();
    /// let next = cron.next_after(saturday).unwrap();
    /// assert_eq!(next.to_string(), "2024-06-03T09:00:00+02:00[Europe/Paris]");
    /// ```
    #[must_use]
    pub fn next_after(&self, after: Timestamp) -> Option<Zoned> {
        let local = after.to_zoned(self.tz.clone()).datetime();
        let until_year = local.year().saturating_add(SEARCH_YEARS);
        let start = local.with().subsec_nanosecond(0).build().ok()?;
        let mut dt = start.checked_add(SignedDuration::from_secs(1)).ok()?;
        loop {
            let found = self.next_civil(dt, until_year)?;
            if let Some(at) = self.resolve(found) {
                // A repeated local time whose first occurrence has passed is not fired again.
                if at > after {
                    return Some(at.to_zoned(self.tz.clone()));
                }
            }
            dt = found.checked_add(SignedDuration::from_secs(1)).ok()?;
        }
    }
}

impl Schedule for CronSchedule {
    fn next_fire(&self, after: Timestamp) -> Option<Timestamp> {
        self.next_after(after).map(|z| z.timestamp())
    }
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronSchedule")
            .field("expression", &self.expression)
            .field("tz", &self.tz.iana_name())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

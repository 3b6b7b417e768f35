//! [`CronError`]: why a cron expression was rejected.

use std::fmt;

/// A cron expression that [`CronSchedule::parse`](crate::CronSchedule::parse) rejected.
///
/// # Examples
///
/// ```
/// use jiff::tz::TimeZone;
/// use wrangle_timer::{CronError, CronSchedule};
///
/// let err = CronSchedule::parse("61 * * * *", TimeZone::UTC).unwrap_err();
/// assert_eq!(err.to_string(), "invalid minute field `61`: value out of range 0-59");
/// assert!(matches!(err, CronError::Field { field: "minute", .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CronError {
    /// The expression does not have 5 fields (minute to weekday) or 6 (seconds first).
    FieldCount {
        /// How many fields were found.
        found: usize,
    },
    /// One field is malformed or out of range.
    Field {
        /// Which field: `second`, `minute`, `hour`, `day of month`, `month` or `day of week`.
        field: &'static str,
        /// The field's text.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An `@` shorthand that is not one of `@yearly`, `@annually`, `@monthly`, `@weekly`,
    /// `@daily`, `@midnight`, `@hourly`.
    UnknownShorthand(String),
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CronError::FieldCount { found } => {
                write!(f, "expected 5 or 6 fields, found {found}")
            }
            CronError::Field {
                field,
                text,
                reason,
            } => write!(f, "invalid {field} field `{text}`: {reason}"),
            CronError::UnknownShorthand(s) => write!(f, "unknown shorthand `{s}`"),
        }
    }
}

impl std::error::Error for CronError {}

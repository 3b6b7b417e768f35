//! [`ConfigError`]: invalid configuration, reported at construction.

use std::fmt;

/// Invalid timer configuration, reported when the timer is built, never later.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_timer::{ConfigError, Interval, MissedTick};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let err = Interval::with_runtime(rt, Duration::ZERO, MissedTick::Skip).unwrap_err();
/// assert_eq!(err, ConfigError::ZeroPeriod);
/// assert_eq!(err.to_string(), "the period must be greater than zero");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A period or interval of zero.
    ZeroPeriod,
    /// A negative interval (a `jiff::SignedDuration`).
    NegativePeriod,
    /// A period too large for the clock to represent the deadlines it leads to.
    OutOfRange,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroPeriod => f.write_str("the period must be greater than zero"),
            ConfigError::NegativePeriod => f.write_str("the period must not be negative"),
            ConfigError::OutOfRange => {
                f.write_str("the instant or period is outside the representable range")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

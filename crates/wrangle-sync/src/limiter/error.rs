//! The errors of the rate limiters.

use std::fmt;

/// A rate limiter refused a call: no capacity until `retry_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub(crate) retry_at: std::time::Instant,
}

impl RateLimited {
    /// The earliest instant, on the limiter's runtime clock, at which the call would pass
    /// (if nobody else takes the capacity first).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_sync::RateLimiter;
    ///
    /// let rt = VirtualRuntime::new();
    /// let limiter = RateLimiter::with_runtime(rt.clone(), NonZeroU32::MIN, Duration::from_secs(1))
    ///     .unwrap();
    /// limiter.check().unwrap();
    /// let refused = limiter.check().unwrap_err();
    /// assert_eq!(refused.retry_at() - rt.now(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn retry_at(&self) -> std::time::Instant {
        self.retry_at
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rate limited")
    }
}

impl std::error::Error for RateLimited {}

/// A rate limiter's configuration cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidQuota {
    /// The period is zero.
    ZeroPeriod,
    /// The period divided by the rate is below one nanosecond: a rate above 10^9 per second
    /// (refused rather than clamped to 1 ns as governor does, which would admit fewer than
    /// asked without saying so).
    RateTooHigh,
    /// The period, or the burst window (`burst` times `period / rate`), is longer than
    /// [`InvalidQuota::MAX_PERIOD`].
    PeriodTooLong,
}

impl InvalidQuota {
    /// The longest period a rate limiter accepts, and the longest burst window (`burst` times
    /// `period / rate`) of the GCRA limiters: 100 years.
    ///
    /// Longer configurations are refused with [`InvalidQuota::PeriodTooLong`] at
    /// construction: the limiters add these durations to instants and to nanosecond
    /// counters, and beyond this the sum would overflow (a panic) or saturate (a limit that
    /// no longer limits).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_sync::{InvalidQuota, RateLimiter};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let longest = InvalidQuota::MAX_PERIOD;
    /// assert!(RateLimiter::with_runtime(rt.clone(), NonZeroU32::MIN, longest).is_ok());
    /// let err = RateLimiter::with_runtime(rt, NonZeroU32::MIN, Duration::MAX).unwrap_err();
    /// assert_eq!(err, InvalidQuota::PeriodTooLong);
    /// ```
    pub const MAX_PERIOD: std::time::Duration =
        std::time::Duration::from_secs(100 * 365 * 24 * 3600);
}

impl fmt::Display for InvalidQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidQuota::ZeroPeriod => f.write_str("rate limit period is zero"),
            InvalidQuota::RateTooHigh => {
                f.write_str("rate limit interval between admissions is below one nanosecond")
            }
            InvalidQuota::PeriodTooLong => {
                f.write_str("rate limit period or burst window is longer than 100 years")
            }
        }
    }
}

impl std::error::Error for InvalidQuota {}

/// A request for more cells at once than the limiter's burst: it could never be admitted,
/// however long it waited (governor's `InsufficientCapacity`). Returned at once by
/// `check_n` and `acquire_n` of every limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsufficientCapacity(pub(crate) u32);

impl InsufficientCapacity {
    /// The most cells the limiter admits at once (its burst; for a
    /// [`RateLimiter`](crate::RateLimiter), its limit per period).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use wrangle_sync::{GcraLimiter, Quota};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let quota = Quota::per_second(NonZeroU32::new(5).unwrap());
    /// let limiter = GcraLimiter::from_quota_with_runtime(rt, quota).unwrap();
    /// let err = limiter.check_n(NonZeroU32::new(6).unwrap()).unwrap_err();
    /// assert_eq!(err.capacity(), 5);
    /// ```
    #[must_use]
    pub fn capacity(&self) -> u32 {
        self.0
    }
}

impl fmt::Display for InsufficientCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "more cells requested at once than the rate limiter's capacity of {}",
            self.0
        )
    }
}

impl std::error::Error for InsufficientCapacity {}

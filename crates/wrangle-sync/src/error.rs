//! Error types shared by the primitives of this crate.

use std::fmt;

/// The semaphore was closed while waiting, or before the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(pub(crate) ());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why [`PrioritySemaphore::try_acquire`](crate::PrioritySemaphore::try_acquire) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// The semaphore is closed.
    Closed,
    /// Not enough permits are free, or other callers are already waiting for them.
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

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
    /// The period divided by the rate is below one nanosecond.
    RateTooHigh,
}

impl fmt::Display for InvalidQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidQuota::ZeroPeriod => f.write_str("rate limit period is zero"),
            InvalidQuota::RateTooHigh => {
                f.write_str("rate limit interval between admissions is below one nanosecond")
            }
        }
    }
}

impl std::error::Error for InvalidQuota {}

/// The batcher was stopped: the item is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PutError<T>(pub T);

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PutError(..)")
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("batcher stopped")
    }
}

impl<T> std::error::Error for PutError<T> {}

/// A batcher's configuration cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidBatchConfig {
    /// `max_wait` is zero.
    ZeroMaxWait,
}

impl fmt::Display for InvalidBatchConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidBatchConfig::ZeroMaxWait => f.write_str("batch max_wait is zero"),
        }
    }
}

impl std::error::Error for InvalidBatchConfig {}

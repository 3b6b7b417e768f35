//! Error types shared by the primitives of this crate.

use std::fmt;

/// The semaphore was closed while waiting, or before the call; or the call asked for more
/// permits than a semaphore can ever hold
/// ([`MAX_PERMITS`](crate::PrioritySemaphore::MAX_PERMITS)), a wait that could never end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(pub(crate) AcquireFailure);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcquireFailure {
    Closed,
    TooManyPermits,
}

impl AcquireError {
    /// Whether the semaphore was closed (rather than asked for more than
    /// [`MAX_PERMITS`](crate::PrioritySemaphore::MAX_PERMITS)).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_sync::PrioritySemaphore;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let sem = PrioritySemaphore::new(1);
    ///     let too_many = sem.acquire_many(PrioritySemaphore::MAX_PERMITS + 1).await;
    ///     assert!(!too_many.unwrap_err().is_closed());
    ///     sem.close();
    ///     assert!(sem.acquire().await.unwrap_err().is_closed());
    /// });
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.0 == AcquireFailure::Closed
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            AcquireFailure::Closed => f.write_str("semaphore closed"),
            AcquireFailure::TooManyPermits => {
                f.write_str("more permits asked than PrioritySemaphore::MAX_PERMITS")
            }
        }
    }
}

impl std::error::Error for AcquireError {}

/// A [`PrioritySemaphore`](crate::PrioritySemaphore) would hold more than
/// [`MAX_PERMITS`](crate::PrioritySemaphore::MAX_PERMITS) permits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyPermits(pub(crate) ());

impl fmt::Display for TooManyPermits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore permits would exceed PrioritySemaphore::MAX_PERMITS")
    }
}

impl std::error::Error for TooManyPermits {}

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

/// The longest period a rate limiter accepts, and the longest burst window (`burst` times
/// `period / rate`) of the GCRA limiters: 100 years.
///
/// Longer configurations are refused with [`InvalidQuota::PeriodTooLong`] at construction:
/// the limiters add these durations to instants and to nanosecond counters, and beyond this
/// the sum would overflow (a panic) or saturate (a limit that no longer limits).
///
/// # Examples
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use wrangle_sync::{InvalidQuota, MAX_QUOTA_PERIOD, RateLimiter};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// assert!(RateLimiter::with_runtime(rt.clone(), NonZeroU32::MIN, MAX_QUOTA_PERIOD).is_ok());
/// let err = RateLimiter::with_runtime(rt, NonZeroU32::MIN, Duration::MAX).unwrap_err();
/// assert_eq!(err, InvalidQuota::PeriodTooLong);
/// ```
pub const MAX_QUOTA_PERIOD: std::time::Duration =
    std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// A rate limiter's configuration cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidQuota {
    /// The period is zero.
    ZeroPeriod,
    /// The period divided by the rate is below one nanosecond.
    RateTooHigh,
    /// The period, or the burst window (`burst` times `period / rate`), is longer than
    /// [`MAX_QUOTA_PERIOD`].
    PeriodTooLong,
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

/// Why a non-blocking put failed; the item is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryPutError<T> {
    /// The queue is at capacity.
    Full(T),
    /// The queue is closed.
    Closed(T),
}

impl<T> TryPutError<T> {
    /// The item that was not put.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::MIN);
    /// q.try_put(1).unwrap();
    /// assert_eq!(q.try_put(2).unwrap_err().into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(t) | TryPutError::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("queue full"),
            TryPutError::Closed(_) => f.write_str("queue closed"),
        }
    }
}

impl<T> std::error::Error for TryPutError<T> {}

/// Why a waiting put failed; the item is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PutTimeoutError<T> {
    /// The timeout passed with the queue still full.
    Timeout(T),
    /// The queue is closed.
    Closed(T),
}

impl<T> PutTimeoutError<T> {
    /// The item that was not put.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::MIN);
    /// q.try_put(1).unwrap();
    /// let err = q.put_blocking_timeout(2, Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err.into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutTimeoutError::Timeout(t) | PutTimeoutError::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for PutTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            PutTimeoutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for PutTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutTimeoutError::Timeout(_) => f.write_str("timed out waiting for room in the queue"),
            PutTimeoutError::Closed(_) => f.write_str("queue closed"),
        }
    }
}

impl<T> std::error::Error for PutTimeoutError<T> {}

/// Why a get failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetError {
    /// Nothing to take now (non-blocking calls), or not before the timeout.
    Empty,
    /// The queue is closed and drained.
    Closed,
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Empty => f.write_str("queue empty"),
            GetError::Closed => f.write_str("queue closed"),
        }
    }
}

impl std::error::Error for GetError {}

/// [`DualQueue::task_done`](crate::DualQueue::task_done) was called more times than items
/// were put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDoneError(pub(crate) ());

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done called more times than items were put")
    }
}

impl std::error::Error for TaskDoneError {}

/// The queue was closed before a slot could be reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueClosed(pub(crate) ());

impl fmt::Display for QueueClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue closed")
    }
}

impl std::error::Error for QueueClosed {}

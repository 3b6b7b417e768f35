//! The errors of [`PrioritySemaphore`](crate::PrioritySemaphore).

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

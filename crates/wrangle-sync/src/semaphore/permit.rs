//! Permits of a [`PrioritySemaphore`]: [`SemaphorePermit`] and [`OwnedSemaphorePermit`].

use std::fmt;
use std::sync::Arc;

use super::PrioritySemaphore;

/// Permits borrowed from a [`PrioritySemaphore`], returned when dropped.
#[must_use = "the permits are returned as soon as this is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a PrioritySemaphore,
    n: usize,
}

impl<'a> SemaphorePermit<'a> {
    pub(crate) fn new(sem: &'a PrioritySemaphore, n: usize) -> Self {
        SemaphorePermit { sem, n }
    }

    /// How many permits this holds.
    #[must_use]
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Drops the permits without returning them: the semaphore has that many fewer for good.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = wrangle_sync::PrioritySemaphore::new(2);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.sem.forget(self.n);
        self.n = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release(self.n);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}

/// Permits of a [`PrioritySemaphore`] held through an [`Arc`], returned when dropped.
#[must_use = "the permits are returned as soon as this is dropped"]
pub struct OwnedSemaphorePermit {
    sem: Arc<PrioritySemaphore>,
    n: usize,
}

impl OwnedSemaphorePermit {
    pub(crate) fn new(sem: Arc<PrioritySemaphore>, n: usize) -> Self {
        OwnedSemaphorePermit { sem, n }
    }

    /// How many permits this holds.
    #[must_use]
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// The semaphore these permits come from.
    #[must_use]
    pub fn semaphore(&self) -> &Arc<PrioritySemaphore> {
        &self.sem
    }

    /// Drops the permits without returning them: the semaphore has that many fewer for good.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(wrangle_sync::PrioritySemaphore::new(1));
    /// Arc::clone(&sem).try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.sem.forget(self.n);
        self.n = 0;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.release(self.n);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}

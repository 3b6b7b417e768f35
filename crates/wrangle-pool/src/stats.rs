//! [`PoolStats`]: cheap counters of a pool.

/// A snapshot of a pool's counters.
///
/// Every submitted task ends exactly once as completed, timed out, panicked or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolStats {
    /// Tasks accepted by `spawn`/`run`.
    pub submitted: u64,
    /// Tasks waiting for a free slot.
    pub queued: usize,
    /// Tasks running now.
    pub active: usize,
    /// Tasks that produced their output.
    pub completed: u64,
    /// Tasks stopped by the per-task timeout.
    pub timed_out: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Tasks cancelled before they finished (including those that never started).
    pub cancelled: u64,
}

impl PoolStats {
    /// Tasks that ended without output because they failed: timed out or panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let stats = wrangle_pool::PoolStats::default();
    /// assert_eq!(stats.failed(), 0);
    /// ```
    #[must_use]
    pub fn failed(&self) -> u64 {
        self.timed_out + self.panicked
    }

    /// Tasks that have ended, one way or another.
    ///
    /// # Examples
    ///
    /// ```
    /// let stats = wrangle_pool::PoolStats::default();
    /// assert_eq!(stats.finished(), 0);
    /// ```
    #[must_use]
    pub fn finished(&self) -> u64 {
        self.completed + self.timed_out + self.panicked + self.cancelled
    }
}

//! [`ConcurrentStats`](crate::ConcurrentStats).

/// Counters of a concurrent runner, from [`Concurrent::stats`](crate::Concurrent::stats) or
/// [`ConcurrentInline::stats`](crate::ConcurrentInline::stats).
///
/// Every future is counted once when it ends, so at any time
/// `started == completed + failed + cancelled + running`; once the stream has ended,
/// `running == 0`. A future cancelled by someone else (its runtime shut down) is yielded as
/// [`ConcurrentError::Cancelled`](crate::ConcurrentError::Cancelled) and counted as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConcurrentStats {
    /// Futures started.
    pub started: u64,
    /// Futures that returned `Ok`.
    pub completed: u64,
    /// Futures that returned `Err` or panicked.
    pub failed: u64,
    /// Futures cancelled by the runner (after an error, under
    /// [`ErrorPolicy::Stop`](crate::ErrorPolicy::Stop)).
    pub cancelled: u64,
    /// Futures started and not counted yet: running, or ended with an output not yet taken.
    pub running: usize,
}

//! [`ErrorPolicy`] and [`ConcurrentStats`].

/// What a concurrent runner does when a future fails or panics.
///
/// An error of the input stream itself always ends the run, whatever the policy.
///
/// # Examples
///
/// ```
/// use wrangle_task::ErrorPolicy;
/// assert_eq!(ErrorPolicy::default(), ErrorPolicy::Stop);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ErrorPolicy {
    /// Cancel the futures still in flight, wait until they are gone, yield the error and end.
    #[default]
    Stop,
    /// Yield errors as items, in completion order, and keep going.
    Yield,
}

/// Counters of a concurrent runner, from [`Concurrent::stats`](crate::Concurrent::stats) or
/// [`ConcurrentInline::stats`](crate::ConcurrentInline::stats).
///
/// # Examples
///
/// ```
/// let stats = wrangle_task::ConcurrentStats::default();
/// assert_eq!(stats.started, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConcurrentStats {
    /// Futures started.
    pub started: u64,
    /// Futures that returned `Ok`.
    pub succeeded: u64,
    /// Futures that returned `Err` or panicked.
    pub failed: u64,
    /// Futures cancelled by the runner (after an error, under [`ErrorPolicy::Stop`]).
    pub cancelled: u64,
    /// Futures in flight now.
    pub in_flight: usize,
}

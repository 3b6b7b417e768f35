//! Errors of the pools.

use std::fmt;

use wrangle_rt::PanicPayload;

/// Why a pooled task produced no output.
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task was cancelled: its handle was dropped or cancelled, or the pool was dropped or
    /// shut down past its deadline. A task cancelled before it started never ran.
    Cancelled,
    /// The task ran longer than the pool's per-task timeout, counted from its start.
    TimedOut,
    /// The task panicked; the pool kept working.
    Panicked(PanicPayload),
    /// The pool was closed before the task was submitted ([`TaskPool::run`](crate::TaskPool::run)).
    Closed,
    /// Waiting here would deadlock: [`ThreadedPool::run_blocking`](crate::ThreadedPool::run_blocking)
    /// was called on the pool's own thread, or a task running on the only worker of a
    /// [`TaskPool`](crate::TaskPool) of size 1 waited for a task it submitted to that pool
    /// (see "Deadlocks" in the `TaskPool` docs).
    WouldDeadlock,
}

impl TaskError {
    /// Returns `true` for [`TaskError::TimedOut`].
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, TaskError::TimedOut)
    }

    /// Returns `true` for [`TaskError::Cancelled`].
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// Returns `true` for [`TaskError::Panicked`].
    #[must_use]
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("pooled task was cancelled"),
            TaskError::TimedOut => f.write_str("pooled task timed out"),
            TaskError::Panicked(p) => fmt::Display::fmt(p, f),
            TaskError::Closed => f.write_str("pool is closed"),
            TaskError::WouldDeadlock => f.write_str(
                "waiting here would deadlock: the awaited task can only run after this wait",
            ),
        }
    }
}

impl std::error::Error for TaskError {}

/// A pool refused a task because it is closed; the task is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SpawnError<F>(pub F);

impl<F> SpawnError<F> {
    /// Returns the refused task.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(wrangle_rt::VirtualRuntime::new());
    /// pool.close();
    /// let refused = pool.spawn(async { 1 }).unwrap_err().into_inner();
    /// # drop(refused);
    /// ```
    pub fn into_inner(self) -> F {
        self.0
    }
}

impl<F> fmt::Debug for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpawnError(..)")
    }
}

impl<F> fmt::Display for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pool is closed")
    }
}

impl<F> std::error::Error for SpawnError<F> {}

/// A [`TaskPool::shutdown_timeout`](crate::TaskPool::shutdown_timeout) whose deadline passed
/// before the pool drained; the remaining tasks were cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownTimedOut {
    pub(crate) cancelled: usize,
}

impl ShutdownTimedOut {
    /// How many tasks (running or queued) were cancelled at the deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// pool.spawn(std::future::pending::<()>()).unwrap().detach();
    /// let err = rt.block_on(pool.shutdown_timeout(Duration::from_secs(1))).unwrap_err();
    /// assert_eq!(err.cancelled(), 1);
    /// ```
    #[must_use]
    pub fn cancelled(&self) -> usize {
        self.cancelled
    }
}

impl fmt::Display for ShutdownTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pool did not drain before the deadline; {} tasks cancelled",
            self.cancelled
        )
    }
}

impl std::error::Error for ShutdownTimedOut {}

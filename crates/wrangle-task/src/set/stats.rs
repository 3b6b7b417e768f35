//! [`TaskId`] and [`TaskSetStats`]: the small types of a [`TaskSet`](crate::TaskSet).

use std::fmt;

/// The id a [`TaskSet`](crate::TaskSet) gives a task it spawns: unique within that set (a
/// per-set counter, starting at 0, that never wraps in practice: 2^64 spawns), handed back
/// with the task's output by [`join_next_with_id`](crate::TaskSet::join_next_with_id) and used
/// by [`abort`](crate::TaskSet::abort).
///
/// wrangle's runtimes do not all number their tasks (smol and async-std do not), so the id is
/// the set's own, not the runtime's: two sets may hand out the same id.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::TaskSet;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let mut set = TaskSet::with_runtime(rt.clone());
///     let slow = set.spawn(std::future::pending::<&str>());
///     let fast = set.spawn(async { "fast" });
///     assert_ne!(slow, fast);
///     // Ids tell which output belongs to which task.
///     let (id, out) = set.join_next_with_id().await.unwrap();
///     assert_eq!((id, out.unwrap()), (fast, "fast"));
///     assert!(set.abort(slow));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub(crate) u64);

impl TaskId {
    /// The id as a number (the set's counter when the task was spawned).
    #[must_use]
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The counters of a [`TaskSet`](crate::TaskSet), from
/// [`TaskSet::stats`](crate::TaskSet::stats).
///
/// A task's outcome is counted when the set hands it out (by `join_next`, `try_join_next`,
/// `shutdown` or `cancel`): until then it is `running`, even if it has finished, because
/// nobody has looked yet. The invariant:
///
/// `started == completed + failed + cancelled + detached + running`, and `running == len()`.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::TaskSet;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let mut set = TaskSet::with_runtime(rt.clone());
///     set.spawn(async { 1 });
///     set.spawn(std::future::pending());
///     set.spawn(std::future::pending());
///     assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
///     set.detach_all(); // the two pending tasks run on, outside the set
///     let s = set.stats();
///     assert_eq!((s.started, s.completed, s.detached, s.running), (3, 1, 2, 0));
///     assert_eq!(s.started, s.completed + s.failed + s.cancelled + s.detached + s.running as u64);
/// });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskSetStats {
    /// Tasks spawned into the set.
    pub started: u64,
    /// Tasks handed out with their output.
    pub completed: u64,
    /// Tasks handed out with a panic ([`JoinError::Panicked`](wrangle_rt::JoinError)).
    pub failed: u64,
    /// Tasks handed out cancelled ([`JoinError::Cancelled`](wrangle_rt::JoinError)): aborted,
    /// or dropped by their runtime.
    pub cancelled: u64,
    /// Tasks let go by [`detach_all`](crate::TaskSet::detach_all): they run on, uncounted.
    pub detached: u64,
    /// Tasks in the set now, running or finished and not handed out yet.
    pub running: usize,
}

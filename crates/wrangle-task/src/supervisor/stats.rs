//! [`SupervisorStats`] and [`ServerStats`].

use crate::ScopeStats;

/// The counters of a [`Supervisor`](crate::Supervisor)'s tasks (those spawned through
/// [`SupervisorHandle::spawn`](super::SupervisorHandle::spawn)), read from the supervisor
/// before its run, from a [`SupervisorHandle`](super::SupervisorHandle) inside it, or from a
/// [`ShutdownHandle`](super::ShutdownHandle) at any time, also after the run.
///
/// The invariant: `started == completed + failed + cancelled + running`. A task is `failed`
/// when it returned an error or panicked (the error is the supervisor's unhandled error, or is
/// reported if the stop is already under way); `cancelled` when the drain deadline, a forced
/// exit or the drop of the run's future dropped it. The body itself is not counted.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::{Supervisor, SupervisorError};
///
/// let rt = VirtualRuntime::new();
/// let sup = Supervisor::with_runtime(rt.clone());
/// let handle = sup.shutdown_handle();
/// let r = rt.block_on(sup.run(|sup| async move {
///     for i in 0..3 {
///         sup.spawn(async move { if i == 2 { Err("third failed") } else { Ok(()) } }).unwrap();
///     }
///     sup.token().cancelled().await; // the failure starts the stop
///     Ok::<_, std::io::Error>(())
/// }));
/// assert!(matches!(r, Err(SupervisorError::Failed(_))));
/// let s = handle.stats();
/// assert_eq!((s.started, s.completed, s.failed, s.running), (3, 2, 1, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SupervisorStats {
    /// Tasks spawned through the supervisor.
    pub started: u64,
    /// Tasks that ended with `Ok` (or `()`).
    pub completed: u64,
    /// Tasks that ended with an error or a panic.
    pub failed: u64,
    /// Tasks dropped before they ended.
    pub cancelled: u64,
    /// Tasks running now.
    pub running: usize,
}

impl SupervisorStats {
    pub(crate) fn from_scope(s: ScopeStats) -> Self {
        SupervisorStats {
            started: s.started,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            running: s.running,
        }
    }
}

/// The counters of a [`Server`](crate::Server)'s workers, from
/// [`Server::stats`](crate::Server::stats): one worker run per thread.
///
/// The invariant: `started == completed + failed + cancelled + running`, and
/// `started <= workers`. A worker is `started` when its task was spawned on its thread,
/// `failed` when it returned an error or panicked, `cancelled` when the drain deadline (or a
/// dropped `serve`) dropped it.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use wrangle_rt::{VirtualRuntime, thread::ThreadFlavor};
/// use wrangle_task::{Server, SupervisorError};
///
/// let server = Server::new(NonZeroUsize::new(3).unwrap()).flavor(ThreadFlavor::Virtual);
/// let r = VirtualRuntime::new().block_on(server.serve(|ctx| async move {
///     if ctx.index() == 1 {
///         return Err(std::io::Error::other("worker 1 failed"));
///     }
///     ctx.token().cancelled().await; // the others stop when worker 1 fails
///     Ok(())
/// }));
/// assert!(matches!(r, Err(SupervisorError::Failed(_))));
/// let s = server.stats();
/// assert_eq!((s.started, s.completed, s.failed, s.running), (3, 2, 1, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Workers started.
    pub started: u64,
    /// Workers that returned `Ok(())`.
    pub completed: u64,
    /// Workers that returned an error or panicked.
    pub failed: u64,
    /// Workers dropped before they returned.
    pub cancelled: u64,
    /// Workers running now.
    pub running: usize,
}

impl ServerStats {
    pub(crate) fn from_supervisor(s: SupervisorStats) -> Self {
        ServerStats {
            started: s.started,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            running: s.running,
        }
    }
}

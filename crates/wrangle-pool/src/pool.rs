//! [`TaskPool`]: a bounded pool of tasks with a per-task timeout, its counters
//! ([`TaskPoolStats`]) and its named futures ([`Run`], [`Shutdown`], [`ShutdownTimeout`]).
//! The workers' loop is in `worker.rs`.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use event_listener::{Event, EventListener, IntoNotification};
use wrangle_rt::{CancellationToken, DefaultRuntime, ErrorReporter, JoinHandle, Runtime};

use crate::deadline::{Deadlines, reaper};
use crate::deadline_slot::DeadlineSlot;
use crate::dispatch::{Crew, Dispatch, Roster};
use crate::job::{Detached, Job, drop_caught};
use crate::joint::JointTask;
use crate::trace::TaskName;
use crate::worker::{InCtx, Registry, WorkerCtx, with_current, worker};
use crate::{PoolJoinHandle, ShutdownTimedOut, SpawnError, TaskError};
use wrangle_rt::short_lock::{ShortLock, ShortLockGuard};

/// A pool that runs at most `size` tasks at a time, each under an optional timeout counted
/// from its start.
///
/// - [`spawn`](TaskPool::spawn) submits a task from **any thread, async or not**, and returns a
///   [`PoolJoinHandle`]; [`run`](TaskPool::run) submits and awaits. The pool is a cheap
///   `Clone`, `Send + Sync` handle, so it is also the thread-safe pool.
/// - Tasks beyond `size` wait in a FIFO queue. A task cancelled while queued never runs.
/// - The timeout counts from the task's start, never from its time in the queue.
/// - A panicking task is isolated: its handle reports it, the pool keeps working.
/// - [`close`](TaskPool::close) refuses new work; [`shutdown`](TaskPool::shutdown) closes and
///   waits for every task to finish; [`shutdown_timeout`](TaskPool::shutdown_timeout) cancels
///   what is left at a deadline. The pool drains even if the shutdown future is dropped.
/// - Dropping the last clone of the pool cancels everything still queued or running. On
///   smol or async-std the cancelled workers' futures are dropped by the executor the next
///   time it runs; an executor you stop running for good (a `block_on(ex.run(..))` that
///   returns) keeps them, and they keep the pool and the runtime handle: `shutdown().await`
///   the pool before you leave the executor's run.
/// - Outputs nobody awaits are dropped at once, never retained.
/// - [`stats`](TaskPool::stats) counts every task once, see [`TaskPoolStats`].
///
/// Tasks run inside at most `size` worker tasks spawned on the runtime, so pooled work runs in
/// parallel on multi-threaded runtimes without a runtime task per submission.
///
/// The pool has no `abort()`: dropping the last clone of it cancels everything at once, and
/// [`shutdown_timeout`](TaskPool::shutdown_timeout) with a zero timeout cancels everything and
/// waits until it is gone.
///
/// # Deadlocks: do not wait inside a pool for work queued in the same pool
///
/// A pooled task that awaits another task of **its own pool** holds a worker while it waits.
/// If every worker is held that way, the awaited tasks stay queued and nothing ever
/// progresses: the classic thread-pool starvation deadlock, which no timeout short of the
/// per-task one ends. Submit such sub-tasks to another pool (or await them outside the pool),
/// or size the pool for the nesting depth.
///
/// Where the deadlock is certain, the pool says so instead of hanging: a task running on the
/// only worker of a pool of size 1 that waits for a task it submitted to that pool (its
/// [`PoolJoinHandle`], or [`run`](TaskPool::run)) gets [`TaskError::WouldDeadlock`] at once,
/// and the submitted task is cancelled with its handle. Larger pools cannot tell a deadlock
/// from a long wait and are not checked (like `ThreadedPool`, which returns `WouldDeadlock`
/// for a blocking wait on its own thread).
///
/// # Examples
///
/// Two slots and a 15 ms timeout: the slow task times out while the fast one runs beside it.
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::time::Duration;
/// use wrangle_pool::TaskPool;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let pool = TaskPool::builder()
///     .size(NonZeroUsize::new(2).unwrap())
///     .timeout(Duration::from_millis(15))
///     .runtime(rt.clone())
///     .build();
/// rt.block_on(async {
///     let slow = pool.spawn({ let rt = rt.clone(); async move { rt.sleep(Duration::from_secs(1)).await } });
///     let fast = pool.run(async { "done" }).await;
///     assert_eq!(fast.unwrap(), "done");
///     assert!(slow.unwrap().await.unwrap_err().is_timeout());
/// });
/// ```
pub struct TaskPool<R: Runtime = DefaultRuntime> {
    owner: Arc<Owner<R>>,
}

impl<R: Runtime> Clone for TaskPool<R> {
    fn clone(&self) -> Self {
        TaskPool {
            owner: self.owner.clone(),
        }
    }
}

/// Held by the user-facing clones only: when the last one goes, everything is cancelled.
struct Owner<R: Runtime> {
    shared: Arc<Shared<R>>,
}

impl<R: Runtime> Drop for Owner<R> {
    fn drop(&mut self) {
        self.shared.abort();
    }
}

pub(crate) struct Shared<R: Runtime> {
    pub(crate) rt: R,
    pub(crate) timeout: Option<Duration>,
    reporter: ErrorReporter,
    /// The live workers (their counters and deadline slots) and the counts of those gone.
    pub(crate) registry: Registry,
    /// The submission state, the queue among it (ADR 0103).
    state: ShortLock<State>,
    /// Which worker goes to the queue, and when (`dispatch.rs`).
    pub(crate) crew: Crew,
    /// Idle workers wait here for work.
    pub(crate) work: Event,
    /// Shutdown waits here for the last worker to leave (and the last tracked future).
    pub(crate) drained: Event,
    /// `wait_empty` waits here for nothing to be queued, running or tracked.
    pub(crate) emptied: Event,
    /// Deadlines of running tasks, when the pool has a timeout.
    pub(crate) deadlines: Deadlines,
}

pub(crate) struct State {
    /// Tasks not started yet, FIFO, under the lock every submission takes anyway (ADR 0103):
    /// a push and the decision to wake a worker are one step, nothing is pushed after
    /// `close`, and a worker that finds it empty goes idle in the same critical section, so
    /// no task is left without a worker.
    pub(crate) queue: VecDeque<JointTask>,
    /// Tasks submitted so far (kept here, under the lock the submission takes anyway).
    submitted: u64,
    pub(crate) roster: Roster,
    handles: Vec<JoinHandle<()>>,
    pub(crate) closed: bool,
    /// Everything was cancelled (the pool was dropped, or a shutdown deadline passed).
    aborted: bool,
    /// Bumped by each `reopen`: a worker of an earlier generation that leaves a reopened pool
    /// hands its place on (see `WorkerExit`).
    pub(crate) generation: u64,
    /// Cancelled when the pool closes; replaced by `reopen`. Users get children of it.
    pub(crate) token: CancellationToken,
    /// Futures of `track_future`, counted beside the pool's own tasks.
    pub(crate) tracked: TrackedCounts,
}

/// The counts of tracked futures (`tracker.rs`), kept under the pool's lock.
#[derive(Debug, Default)]
pub(crate) struct TrackedCounts {
    /// Not dropped yet: what `wait_empty` and `shutdown` wait for.
    pub(crate) live: usize,
    /// Not ended yet (`TaskPoolStats::running`).
    pub(crate) running: usize,
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) cancelled: u64,
}

impl<R: Runtime> fmt::Debug for TaskPool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.owner.shared;
        f.debug_struct("TaskPool")
            .field("size", &s.crew.size())
            .field("timeout", &s.timeout)
            .field("closed", &self.is_closed())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Configures a [`TaskPool`]; made by [`TaskPool::builder`]: size (default unbounded),
/// per-task timeout (default none), error reporter (default the process-wide handler) and
/// runtime (default [`DefaultRuntime::current`] at [`build`](Self::build)).
///
/// # Examples
///
/// Failures nobody awaits (detached tasks) go to the error reporter:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use wrangle_rt::{ErrorReporter, Runtime, Unhandled, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let pool = wrangle_pool::TaskPool::builder()
///     .timeout(Duration::from_millis(10))
///     .error_reporter(ErrorReporter::new(move |u: Unhandled| sink.lock().unwrap().push(u.to_string())))
///     .runtime(rt.clone())
///     .build();
/// let slow = { let rt = rt.clone(); async move { rt.sleep(Duration::from_secs(1)).await } };
/// pool.spawn_detached(slow).unwrap();
/// rt.block_on(pool.shutdown());
/// assert_eq!(pool.stats().timed_out, 1);
/// assert!(seen.lock().unwrap()[0].contains("timed out"));
/// ```
#[derive(Debug, Clone)]
pub struct TaskPoolBuilder<R: Runtime = DefaultRuntime> {
    size: Option<NonZeroUsize>,
    timeout: Option<Duration>,
    reporter: ErrorReporter,
    rt: Option<R>,
}

impl<R: Runtime> TaskPoolBuilder<R> {
    /// At most `size` tasks run at once (default: unbounded).
    pub fn size(mut self, size: NonZeroUsize) -> Self {
        self.size = Some(size);
        self
    }

    /// Each task may run for at most `timeout`, counted from its start (default: no limit).
    /// A timeout too long for the clock (`Duration::MAX`) means no limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Where failures of detached tasks go (default: the process-wide handler).
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = reporter;
        self
    }

    /// The runtime the pool's workers run on (default: [`DefaultRuntime::current`] when
    /// [`build`](Self::build) is called).
    pub fn runtime<R2: Runtime>(self, rt: R2) -> TaskPoolBuilder<R2> {
        TaskPoolBuilder {
            size: self.size,
            timeout: self.timeout,
            reporter: self.reporter,
            rt: Some(rt),
        }
    }

    /// Builds the pool, on the runtime given to [`runtime`](Self::runtime) or else on the
    /// runtime of the current context.
    ///
    /// # Panics
    ///
    /// Without a [`runtime`](Self::runtime), as [`DefaultRuntime::current`]: only in a build
    /// without any runtime feature, outside a virtual runtime.
    #[must_use]
    pub fn build(self) -> TaskPool<R> {
        let rt = self.rt.unwrap_or_else(default_runtime);
        TaskPool {
            owner: Arc::new(Owner {
                shared: Arc::new(Shared {
                    rt,
                    timeout: self.timeout,
                    reporter: self.reporter,
                    registry: Registry::new(),
                    state: ShortLock::new(State {
                        submitted: 0,
                        queue: VecDeque::new(),
                        roster: Roster::default(),
                        handles: Vec::new(),
                        closed: false,
                        aborted: false,
                        generation: 0,
                        token: CancellationToken::new(),
                        tracked: TrackedCounts::default(),
                    }),
                    crew: Crew::new(self.size),
                    work: Event::new(),
                    drained: Event::new(),
                    emptied: Event::new(),
                    deadlines: Deadlines::default(),
                }),
            }),
        }
    }
}

/// The runtime of a builder given none: only a `TaskPoolBuilder<DefaultRuntime>` can be
/// without one (every other `R` comes from [`TaskPoolBuilder::runtime`]).
fn default_runtime<R: Runtime>() -> R {
    let rt: Box<dyn std::any::Any> = Box::new(DefaultRuntime::current());
    match rt.downcast::<R>() {
        Ok(rt) => *rt,
        Err(_) => unreachable!("only a DefaultRuntime builder can be without a runtime"),
    }
}

impl TaskPool {
    /// A pool of at most `size` concurrent tasks, on the runtime of the current context.
    ///
    /// # Examples
    ///
    /// A pool of 2: the third task waits for a free slot, however many are submitted.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let pool = wrangle_pool::TaskPool::new(NonZeroUsize::new(2).unwrap());
    ///     let start = rt.now();
    ///     let tick = |rt: VirtualRuntime| async move { rt.sleep(Duration::from_millis(10)).await };
    ///     let handles: Vec<_> = (0..3).map(|_| pool.spawn(tick(rt.clone())).unwrap()).collect();
    ///     for h in handles {
    ///         h.await.unwrap();
    ///     }
    ///     // Two ran at once, the third after them.
    ///     assert_eq!(rt.now() - start, Duration::from_millis(20));
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// As [`DefaultRuntime::current`].
    #[must_use]
    pub fn new(size: NonZeroUsize) -> Self {
        TaskPool::with_runtime(DefaultRuntime::current(), size)
    }

    /// A pool without a size limit, on the runtime of the current context: every task starts
    /// at once (still under the pool's timeout, counters and cancel-on-drop).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let pool = wrangle_pool::TaskPool::unbounded();
    ///     let start = rt.now();
    ///     let tick = |rt: VirtualRuntime| async move { rt.sleep(Duration::from_millis(10)).await };
    ///     let handles: Vec<_> = (0..100).map(|_| pool.spawn(tick(rt.clone())).unwrap()).collect();
    ///     for h in handles {
    ///         h.await.unwrap();
    ///     }
    ///     // All hundred ran at once.
    ///     assert_eq!(rt.now() - start, Duration::from_millis(10));
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// As [`DefaultRuntime::current`].
    #[must_use]
    pub fn unbounded() -> Self {
        TaskPool::unbounded_with_runtime(DefaultRuntime::current())
    }

    /// A builder for size, timeout, error reporter and runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    /// use wrangle_rt::{ErrorReporter, Unhandled, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::builder()
    ///     .size(NonZeroUsize::new(8).unwrap())
    ///     .timeout(Duration::from_secs(5))
    ///     .error_reporter(ErrorReporter::new(|u: Unhandled| eprintln!("{u}")))
    ///     .runtime(rt.clone())
    ///     .build();
    /// assert_eq!(rt.block_on(pool.run(async { 1 })).unwrap(), 1);
    /// ```
    #[must_use]
    pub fn builder() -> TaskPoolBuilder {
        TaskPoolBuilder {
            size: None,
            timeout: None,
            reporter: ErrorReporter::default(),
            rt: None,
        }
    }
}

impl<R: Runtime> TaskPool<R> {
    /// A pool of at most `size` concurrent tasks on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
    /// // Submitted from outside the runtime, run when it runs.
    /// let h = pool.spawn(async { 6 * 7 }).unwrap();
    /// assert_eq!(rt.block_on(h).unwrap(), 42);
    /// ```
    #[must_use]
    pub fn with_runtime(rt: R, size: NonZeroUsize) -> Self {
        TaskPool::builder().size(size).runtime(rt).build()
    }

    /// A pool without a size limit on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// assert_eq!(rt.block_on(pool.run(async { 3 })).unwrap(), 3);
    /// ```
    #[must_use]
    pub fn unbounded_with_runtime(rt: R) -> Self {
        TaskPool::builder().runtime(rt).build()
    }

    /// Submits `future`; callable from any thread, async or not.
    ///
    /// # Errors
    ///
    /// [`SpawnError`] with the future, if the pool is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// // From a plain thread:
    /// let h = std::thread::scope(|s| s.spawn(|| pool.spawn(async { 5 })).join().unwrap()).unwrap();
    /// assert_eq!(rt.block_on(h).unwrap(), 5);
    /// ```
    pub fn spawn<F>(&self, future: F) -> Result<PoolJoinHandle<F::Output>, SpawnError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(future, None)
    }

    /// Submits `future` like [`spawn`](TaskPool::spawn), under a name that labels the task in
    /// diagnostics: with the `tracing` feature, the task's span (`pool.task`) carries it as
    /// `task.name` (without the feature the name is dropped, and this is `spawn`).
    ///
    /// A name is given at spawn, as `tokio::task::Builder::name` does, because that is where
    /// the caller knows what the task is for; a method beside `spawn` keeps `spawn` itself
    /// free of a name argument most callers do not need.
    ///
    /// # Errors
    ///
    /// [`SpawnError`] with the future, if the pool is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// let user = 42;
    /// // `String` or `&'static str`: a name can say which of many alike tasks this is.
    /// let h = pool.spawn_named(format!("fetch-user-{user}"), async move { user }).unwrap();
    /// assert_eq!(rt.block_on(h).unwrap(), 42);
    /// ```
    pub fn spawn_named<F>(
        &self,
        name: impl Into<Cow<'static, str>>,
        future: F,
    ) -> Result<PoolJoinHandle<F::Output>, SpawnError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(future, Some(name.into()))
    }

    fn spawn_inner<F>(
        &self,
        future: F,
        name: TaskName,
    ) -> Result<PoolJoinHandle<F::Output>, SpawnError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let shared = &self.owner.shared;
        let mut st = shared.lock();
        if st.closed {
            return Err(SpawnError(future));
        }
        let (cell, handle) = crate::joint::joint_pair(Job::new(future, name));
        st.queue.push_back(cell);
        st.submitted += 1;
        shared.find_searcher(st);
        // Submitted by a task running on the only worker of this pool: if that task waits for
        // it there, the handle says so instead of waiting for ever.
        let waiter = if shared.crew.size().is_some_and(|s| s.get() == 1) {
            with_current(|w| w.sole_worker_of(shared.id())).flatten()
        } else {
            None
        };
        Ok(PoolJoinHandle::new(handle, waiter))
    }

    /// Submits `future` to run detached: what `spawn(future)` followed by
    /// [`PoolJoinHandle::detach`] does, without making the handle (one allocation per task
    /// instead of two). The cheapest way to hand fire-and-forget work to the pool, from any
    /// thread.
    ///
    /// The task's output is dropped; a timeout or a panic goes to the pool's error reporter
    /// (see [`TaskPoolBuilder::error_reporter`]), as for any detached task. Like every queued or
    /// running task it is cancelled by [`shutdown_timeout`](Self::shutdown_timeout) at its
    /// deadline and by dropping the pool, and counted in [`stats`](Self::stats).
    ///
    /// # Errors
    ///
    /// [`SpawnError`] with the future, if the pool is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// let done = Arc::new(AtomicUsize::new(0));
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         for _ in 0..10 {
    ///             let done = done.clone();
    ///             pool.spawn_detached(async move { done.fetch_add(1, Ordering::SeqCst); })
    ///                 .unwrap();
    ///         }
    ///     });
    /// });
    /// rt.block_on(pool.shutdown());
    /// assert_eq!(done.load(Ordering::SeqCst), 10);
    /// assert_eq!(pool.stats().completed, 10);
    /// ```
    pub fn spawn_detached<F>(&self, future: F) -> Result<(), SpawnError<F>>
    where
        F: Future + Send + 'static,
    {
        let shared = &self.owner.shared;
        let mut st = shared.lock();
        if st.closed {
            return Err(SpawnError(future));
        }
        st.queue
            .push_back(crate::joint::detached(Detached::new(future, None)));
        st.submitted += 1;
        shared.find_searcher(st);
        Ok(())
    }

    /// Submits `future` at once and returns a future of its output.
    ///
    /// The task is submitted when `run` is called, not when the returned future is first
    /// polled; dropping the returned future cancels the task, as dropping its handle does.
    ///
    /// # Errors
    ///
    /// [`TaskError::Closed`] if the pool is closed; otherwise as the task's
    /// [`PoolJoinHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// rt.block_on(async {
    ///     // Both tasks are submitted before either is awaited: they run at the same time.
    ///     let start = rt.now();
    ///     let sleep = |rt: VirtualRuntime| async move { rt.sleep(Duration::from_millis(10)).await };
    ///     let (a, b) = (pool.run(sleep(rt.clone())), pool.run(sleep(rt.clone())));
    ///     a.await.unwrap();
    ///     b.await.unwrap();
    ///     assert_eq!(rt.now() - start, Duration::from_millis(10));
    ///     pool.close();
    ///     assert!(matches!(pool.run(async {}).await, Err(wrangle_pool::TaskError::Closed)));
    /// });
    /// ```
    pub fn run<F>(&self, future: F) -> Run<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Run {
            handle: self.spawn(future).ok(),
        }
    }

    /// Refuses new tasks from now on; queued and running tasks go on. Returns `true` if this
    /// call closed the pool, `false` if it was closed already.
    ///
    /// The pool's [`token`](TaskPool::token) is cancelled, so tasks that watch it can finish
    /// early. [`reopen`](TaskPool::reopen) opens the pool again.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// let queued = pool.spawn(async { "still runs" }).unwrap();
    /// assert!(pool.close());
    /// assert!(!pool.close());
    /// // The refused task is handed back.
    /// let refused = pool.spawn(async { "refused" }).unwrap_err().into_inner();
    /// assert_eq!(rt.block_on(refused), "refused");
    /// assert_eq!(rt.block_on(queued).unwrap(), "still runs");
    /// ```
    pub fn close(&self) -> bool {
        let shared = &self.owner.shared;
        let mut st = shared.lock();
        if st.closed {
            return false;
        }
        st.closed = true;
        // The woken workers search once more, see the closed queue and leave.
        let idle = shared.crew.wake_idle(&mut st.roster);
        let none_left = st.is_drained();
        let token = st.token.clone();
        drop(st);
        // Idle workers see the closed, empty queue and leave.
        shared.work.notify(idle.additional());
        if none_left {
            shared.drained.notify(usize::MAX);
        }
        token.cancel();
        true
    }

    /// Returns `true` once [`close`](TaskPool::close) (or a shutdown) was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.owner.shared.lock().closed
    }

    /// Closes the pool at once and returns a future that waits until every queued and running
    /// task has ended, and every [tracked future](TaskPool::track_future) was dropped.
    ///
    /// Every handle resolves. The pool drains even if the returned future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// let h = pool.spawn({
    ///     let rt = rt.clone();
    ///     async move { rt.sleep(Duration::from_secs(1)).await }
    /// })
    /// .unwrap();
    /// let start = rt.now();
    /// rt.block_on(pool.shutdown());
    /// // The running task finished: shutdown waited for it, and cancelled nothing.
    /// assert_eq!(rt.now() - start, Duration::from_secs(1));
    /// assert!(h.is_finished());
    /// assert_eq!(pool.stats().completed, 1);
    /// ```
    pub fn shutdown(&self) -> Shutdown<'_, R> {
        self.close();
        Shutdown {
            drained: self.drained(),
        }
    }

    /// Like [`shutdown`](TaskPool::shutdown), but cancels whatever has not ended within
    /// `timeout` (counted from the first poll), and waits until it is gone.
    ///
    /// The pool is closed at once, when this is called.
    ///
    /// # Errors
    ///
    /// [`ShutdownTimedOut`] with the number of tasks cancelled, if the deadline passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// let h = pool.spawn(std::future::pending::<()>()).unwrap();
    /// let err = rt.block_on(pool.shutdown_timeout(Duration::from_secs(5))).unwrap_err();
    /// assert_eq!(err.cancelled(), 1);
    /// assert!(rt.block_on(h).unwrap_err().is_cancelled());
    /// ```
    pub fn shutdown_timeout(&self, timeout: Duration) -> ShutdownTimeout<'_> {
        self.close();
        let shared = &*self.owner.shared;
        let drained = self.drained();
        ShutdownTimeout {
            inner: Box::pin(async move {
                if shared.rt.timeout(timeout, drained).await.is_ok() {
                    return Ok(());
                }
                let running = shared.registry.totals().running;
                let (queued, handles) = shared.take_all();
                let cancelled = queued.len() + running;
                for job in queued {
                    drop_caught(job, &shared.reporter);
                }
                for h in handles {
                    // Cancel-and-wait: when this returns, the running tasks' futures are gone.
                    let _ = h.cancel().await;
                }
                Err(ShutdownTimedOut { cancelled })
            }),
        }
    }

    fn drained(&self) -> Drained<'_, R> {
        Drained {
            shared: &self.owner.shared,
            listener: None,
        }
    }

    /// A snapshot of the counters; see [`TaskPoolStats`] for what they count and the
    /// invariant they keep.
    ///
    /// A task's end is counted before its handle resolves: read right after a handle (or
    /// [`PoolJoinHandle::cancel`]) returned, the snapshot includes it.
    ///
    /// # Examples
    ///
    /// One slot: the first task runs, the second waits; each end is counted once.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
    /// rt.block_on(async {
    ///     let stuck = pool.spawn(std::future::pending::<()>()).unwrap();
    ///     let queued = pool.spawn(async {}).unwrap();
    ///     wrangle_rt::yield_now().await;
    ///     let s = pool.stats();
    ///     assert_eq!((s.submitted, s.running, s.queued), (2, 1, 1));
    ///     assert!(stuck.cancel().await.unwrap_err().is_cancelled());
    ///     queued.await.unwrap();
    ///     let s = pool.stats();
    ///     assert_eq!((s.completed, s.cancelled, s.running, s.queued), (1, 1, 0, 0));
    ///     assert_eq!(s.finished(), s.submitted);
    /// });
    /// ```
    #[must_use]
    pub fn stats(&self) -> TaskPoolStats {
        let shared = &self.owner.shared;
        let (submitted, queued, tracked) = {
            let st = shared.lock();
            let t = &st.tracked;
            let tracked = (t.running, t.completed, t.failed, t.cancelled);
            (st.submitted, st.queue.len(), tracked)
        };
        let t = shared.registry.totals();
        TaskPoolStats {
            submitted,
            queued,
            running: t.running + tracked.0,
            completed: t.completed + tracked.1,
            failed: t.failed + tracked.2,
            timed_out: t.timed_out,
            cancelled: t.cancelled + tracked.3,
        }
    }

    /// The runtime the pool runs on.
    #[must_use]
    pub fn runtime(&self) -> &R {
        &self.owner.shared.rt
    }

    /// The state shared with the workers (for `tracker.rs`).
    pub(crate) fn shared(&self) -> &Arc<Shared<R>> {
        &self.owner.shared
    }
}

/// A snapshot of a [`TaskPool`]'s counters (also what a `ThreadedPool` reports).
///
/// Every submitted task ends exactly once, as completed, failed (panicked), timed out or
/// cancelled, and is counted there before its handle resolves. The invariant:
///
/// ```text
/// submitted == queued + running + completed + failed + timed_out + cancelled
/// ```
///
/// holds whenever no task is between the queue and its first poll: always once the pool is
/// idle, shut down or dropped, and after every handle resolved with nothing queued. A snapshot
/// taken while tasks come and go reads each counter at a slightly different moment, so it
/// may be off by the tasks in motion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TaskPoolStats {
    /// Tasks accepted by `spawn`, `spawn_detached` or `run`, and futures accepted by
    /// `track_future`.
    pub submitted: u64,
    /// Tasks waiting for a free slot.
    pub queued: usize,
    /// Tasks whose body has started and not ended, and tracked futures not ended.
    pub running: usize,
    /// Tasks that produced their output.
    pub completed: u64,
    /// Tasks that panicked. The pool does not look into a task's output, so a panic is the
    /// only way a task fails (a timeout is counted in `timed_out`).
    pub failed: u64,
    /// Tasks stopped by the per-task timeout.
    pub timed_out: u64,
    /// Tasks cancelled before they finished (including those that never started).
    pub cancelled: u64,
}

impl TaskPoolStats {
    /// Tasks that have ended, one way or another:
    /// `completed + failed + timed_out + cancelled`.
    #[must_use]
    pub fn finished(&self) -> u64 {
        self.completed + self.failed + self.timed_out + self.cancelled
    }
}

/// Future returned by [`TaskPool::run`] and
/// [`ThreadedPool::run`](crate::ThreadedPool::run): the output of a task submitted when
/// `run` was called.
///
/// # Cancel safety
///
/// Dropping it cancels the task, as dropping its [`PoolJoinHandle`] does: a queued task never
/// runs, a running one is dropped on its worker.
#[must_use = "dropping this future cancels the task; `.await` it"]
pub struct Run<T> {
    /// `None`: the pool was closed and refused the task.
    handle: Option<PoolJoinHandle<T>>,
}

impl<T> fmt::Debug for Run<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run").field("handle", &self.handle).finish()
    }
}

impl<T> Future for Run<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.handle {
            Some(h) => Pin::new(h).poll(cx),
            None => Poll::Ready(Err(TaskError::Closed)),
        }
    }
}

/// Waits until the last worker of the pool has left.
struct Drained<'a, R: Runtime> {
    shared: &'a Shared<R>,
    listener: Option<EventListener>,
}

impl<R: Runtime> Future for Drained<'_, R> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(listener) = &mut self.listener {
                ready!(Pin::new(listener).poll(cx));
                self.listener = None;
            }
            let listener = self.shared.drained.listen();
            if self.shared.lock().is_drained() {
                return Poll::Ready(());
            }
            self.listener = Some(listener);
        }
    }
}

/// Future returned by [`TaskPool::shutdown`]: resolves once every queued and running task of
/// the (closed) pool has ended.
///
/// # Cancel safety
///
/// Cancel safe: the pool was closed when `shutdown` was called, and dropping this future
/// stops the waiting, not the draining; nothing is cancelled.
#[must_use = "the pool is closed already; `.await` this to wait until it drained"]
pub struct Shutdown<'a, R: Runtime = DefaultRuntime> {
    drained: Drained<'a, R>,
}

impl<R: Runtime> fmt::Debug for Shutdown<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("waiting", &self.drained.listener.is_some())
            .finish()
    }
}

impl<R: Runtime> Future for Shutdown<'_, R> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.drained).poll(cx)
    }
}

/// Future returned by [`TaskPool::shutdown_timeout`].
///
/// # Cancel safety
///
/// Dropping it before the deadline stops the waiting; the pool (closed when
/// `shutdown_timeout` was called) still drains, and nothing is cancelled. Dropped after the
/// deadline, while it waits for the cancelled tasks to be gone, the cancellation goes on
/// without the waiting.
#[must_use = "the pool is closed already; `.await` this to wait for the drain or the deadline"]
pub struct ShutdownTimeout<'a> {
    inner: Pin<Box<dyn Future<Output = Result<(), ShutdownTimedOut>> + Send + 'a>>,
}

impl fmt::Debug for ShutdownTimeout<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownTimeout").finish_non_exhaustive()
    }
}

impl Future for ShutdownTimeout<'_> {
    type Output = Result<(), ShutdownTimedOut>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<R: Runtime> Shared<R> {
    /// Arms `slot` with the deadline of a task starting now. A deadline that cannot be
    /// represented is not armed: the task runs without a limit, as a timeout that far away
    /// never fires.
    pub(crate) fn arm(self: &Arc<Self>, slot: &DeadlineSlot, timeout: Duration) {
        let Ok(timeout) = u64::try_from(timeout.as_nanos()) else {
            return;
        };
        let Some(deadline) = self.rt.monotonic_nanos().checked_add(timeout) else {
            return;
        };
        if self.deadlines.arm(slot, deadline) {
            let handle = self.rt.spawn(reaper(self.clone()));
            let mut st = self.lock();
            if st.aborted {
                drop(st);
                drop(handle);
            } else {
                st.handles.push(handle);
            }
        }
    }

    /// With work queued and no worker on its way to the queue, sends one: an idle worker, or a
    /// new one while the pool is below its size. Takes the guard so that the wake-up happens
    /// after the lock is released.
    pub(crate) fn find_searcher(self: &Arc<Self>, mut st: ShortLockGuard<'_, State>) {
        let empty = st.queue.is_empty();
        match self.crew.dispatch(&mut st.roster, || empty) {
            Dispatch::Nobody => {}
            Dispatch::Idle => {
                drop(st);
                self.work.notify(1.additional());
            }
            Dispatch::New => {
                let generation = st.generation;
                let ctx = Arc::new(WorkerCtx::new(
                    self.reporter.clone(),
                    self.timeout.is_some(),
                    self.id(),
                    self.crew.size().is_some_and(|s| s.get() == 1),
                ));
                self.registry.add(ctx.clone());
                let worker = self.rt.spawn(InCtx::new(
                    ctx.clone(),
                    worker(self.clone(), ctx, generation),
                ));
                st.handles.push(worker);
            }
        }
    }

    /// This pool's identity, compared only (see [`WorkerCtx::sole_worker_of`]).
    fn id(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    pub(crate) fn lock(&self) -> ShortLockGuard<'_, State> {
        self.state.lock()
    }

    /// The counter of submissions, for tracked futures (`tracker.rs`).
    pub(crate) fn count_submitted(st: &mut State) {
        st.submitted += 1;
    }

    /// Takes every queued job and worker handle out of the pool and closes it.
    fn take_all(&self) -> (VecDeque<JointTask>, Vec<JoinHandle<()>>) {
        let mut st = self.lock();
        st.closed = true;
        st.aborted = true;
        let queue = std::mem::take(&mut st.queue);
        // Counted here, as they are never started.
        self.registry.dropped_queued(queue.len());
        let token = st.token.clone();
        let taken = (queue, std::mem::take(&mut st.handles));
        drop(st);
        token.cancel();
        taken
    }

    /// Under the lock: nothing queued, running or tracked (every worker idle, or none).
    pub(crate) fn is_empty_locked(&self, st: &State) -> bool {
        st.roster.idle == st.roster.workers && st.tracked.live == 0 && st.queue.is_empty()
    }

    /// Reopens a closed pool (`TaskPool::reopen`); `false` if it was open.
    pub(crate) fn reopen(&self) -> bool {
        let mut st = self.lock();
        if !st.closed {
            return false;
        }
        st.closed = false;
        st.generation += 1;
        st.token = CancellationToken::new();
        if std::mem::take(&mut st.aborted) {
            // The reaper was cancelled with everything else: the next deadline starts one.
            self.deadlines.reaper_gone();
        }
        true
    }

    /// Cancels everything at once (the last pool handle was dropped).
    fn abort(&self) {
        let (queue, handles) = self.take_all();
        // Dropped outside the lock: dropping a job resolves its handle, dropping a worker
        // handle cancels the worker and the job it runs.
        for job in queue {
            drop_caught(job, &self.reporter);
        }
        drop(handles);
        self.drained.notify(usize::MAX);
        self.emptied.notify(usize::MAX);
    }
}

impl State {
    /// No worker left and no tracked future alive: what a shutdown waits for.
    pub(crate) fn is_drained(&self) -> bool {
        self.roster.workers == 0 && self.tracked.live == 0
    }
}

//! [`TaskPool`]: a bounded pool of tasks with a per-task timeout.

use std::fmt;
use std::future::{Future, poll_fn};
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use concurrent_queue::ConcurrentQueue;
use event_listener::{Event, IntoNotification};
use wrangle_rt::{DefaultRuntime, ErrorReporter, JoinHandle, Runtime};

use crate::crew::{Crew, Dispatch, Roster};
use crate::deadline::{Deadlines, reaper};
use crate::job::{Detached, Job, drop_caught};
use crate::slot::Slot;
use crate::worker::{InCtx, Registry, WorkerCtx, with_current};
use crate::{PoolHandle, PoolStats, ShutdownTimedOut, SpawnError, TaskError};

type BoxJob = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A pool that runs at most `size` tasks at a time, each under an optional timeout counted
/// from its start.
///
/// - [`spawn`](TaskPool::spawn) submits a task from **any thread, async or not**, and returns a
///   [`PoolHandle`]; [`run`](TaskPool::run) submits and awaits. The pool is a cheap `Clone`,
///   `Send + Sync` handle, so it is also the thread-safe pool.
/// - Tasks beyond `size` wait in a FIFO queue. A task cancelled while queued never runs.
/// - The timeout counts from the task's start, never from its time in the queue.
/// - A panicking task is isolated: its handle reports it, the pool keeps working.
/// - [`close`](TaskPool::close) refuses new work; [`shutdown`](TaskPool::shutdown) closes and
///   waits for every task to finish; [`shutdown_timeout`](TaskPool::shutdown_timeout) cancels
///   what is left at a deadline. The pool drains even if the shutdown future is dropped.
/// - Dropping the last clone of the pool cancels everything still queued or running.
/// - Outputs nobody awaits are dropped at once, never retained.
///
/// Tasks run inside at most `size` worker tasks spawned on the runtime, so pooled work runs in
/// parallel on multi-threaded runtimes without a runtime task per submission.
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
/// [`PoolHandle`], or [`run`](TaskPool::run)) gets [`TaskError::WouldDeadlock`] at once, and
/// the submitted task is cancelled with its handle. Larger pools cannot tell a deadlock from
/// a long wait and are not checked (like `ThreadedPool`, which returns `WouldDeadlock` for a
/// blocking wait on its own thread).
///
/// # Examples
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
///     .build_with_runtime(rt.clone());
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
    /// Tasks not started yet, FIFO. Pushed only under the `state` lock (so a push and the
    /// decision to wake a worker are one step, and nothing is pushed after `close`); popped
    /// without it by workers, which take the lock only to find it empty and wait.
    queue: ConcurrentQueue<BoxJob>,
    state: Mutex<State>,
    /// Which worker goes to the queue, and when (`crew.rs`).
    crew: Crew,
    /// Idle workers wait here for work.
    work: Event,
    /// Shutdown waits here for the last worker to leave.
    drained: Event,
    /// Deadlines of running tasks, when the pool has a timeout.
    pub(crate) deadlines: Deadlines,
}

struct State {
    /// Tasks submitted so far (kept here, under the lock the submission takes anyway).
    submitted: u64,
    roster: Roster,
    handles: Vec<JoinHandle<()>>,
    closed: bool,
    /// Everything was cancelled (the pool was dropped, or a shutdown deadline passed).
    aborted: bool,
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

/// Configures a [`TaskPool`]; made by [`TaskPool::builder`].
#[derive(Debug, Clone, Default)]
pub struct TaskPoolBuilder {
    size: Option<NonZeroUsize>,
    timeout: Option<Duration>,
    reporter: ErrorReporter,
}

impl TaskPoolBuilder {
    /// At most `size` tasks run at once (default: unbounded).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// let b = wrangle_pool::TaskPool::builder().size(NonZeroUsize::new(8).unwrap());
    /// # drop(b);
    /// ```
    pub fn size(mut self, size: NonZeroUsize) -> Self {
        self.size = Some(size);
        self
    }

    /// Each task may run for at most `timeout`, counted from its start (default: no limit).
    /// A timeout too long for the clock (`Duration::MAX`) means no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = wrangle_pool::TaskPool::builder().timeout(std::time::Duration::from_secs(5));
    /// # drop(b);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Where failures of detached tasks go (default: the process-wide handler).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = wrangle_pool::TaskPool::builder()
    ///     .error_reporter(wrangle_rt::ErrorReporter::new(|u: wrangle_rt::Unhandled| eprintln!("{u}")));
    /// # drop(b);
    /// ```
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = reporter;
        self
    }

    /// Builds the pool on the runtime of the current context ([`DefaultRuntime::current`]).
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let pool = wrangle_pool::TaskPool::builder().build();
    ///     assert_eq!(pool.run(async { 1 }).await.unwrap(), 1);
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// As [`DefaultRuntime::current`]: only in a build without any runtime feature, outside a
    /// virtual runtime.
    #[must_use]
    pub fn build(self) -> TaskPool {
        self.build_with_runtime(DefaultRuntime::current())
    }

    /// Builds the pool on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::TaskPool::builder().build_with_runtime(wrangle_rt::VirtualRuntime::new());
    /// # drop(pool);
    /// ```
    #[must_use]
    pub fn build_with_runtime<R: Runtime>(self, rt: R) -> TaskPool<R> {
        TaskPool {
            owner: Arc::new(Owner {
                shared: Arc::new(Shared {
                    rt,
                    timeout: self.timeout,
                    reporter: self.reporter,
                    registry: Registry::default(),
                    queue: ConcurrentQueue::unbounded(),
                    state: Mutex::new(State {
                        submitted: 0,
                        roster: Roster::default(),
                        handles: Vec::new(),
                        closed: false,
                        aborted: false,
                    }),
                    crew: Crew::new(self.size),
                    work: Event::new(),
                    drained: Event::new(),
                    deadlines: Deadlines::default(),
                }),
            }),
        }
    }
}

impl TaskPool {
    /// A pool of at most `size` concurrent tasks (`None`: unbounded), on the runtime of the
    /// current context.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let pool = wrangle_pool::TaskPool::new(NonZeroUsize::new(4));
    ///     assert_eq!(pool.run(async { 2 }).await.unwrap(), 2);
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// As [`DefaultRuntime::current`].
    #[must_use]
    pub fn new(size: Option<NonZeroUsize>) -> Self {
        TaskPool::with_runtime(DefaultRuntime::current(), size)
    }

    /// A builder for size, timeout and error handler.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = wrangle_pool::TaskPool::builder();
    /// # drop(builder);
    /// ```
    #[must_use]
    pub fn builder() -> TaskPoolBuilder {
        TaskPoolBuilder::default()
    }
}

impl<R: Runtime> TaskPool<R> {
    /// A pool of at most `size` concurrent tasks (`None`: unbounded) on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::TaskPool::with_runtime(wrangle_rt::VirtualRuntime::new(), None);
    /// # drop(pool);
    /// ```
    #[must_use]
    pub fn with_runtime(rt: R, size: Option<NonZeroUsize>) -> Self {
        let mut b = TaskPool::builder();
        b.size = size;
        b.build_with_runtime(rt)
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
    /// let pool = wrangle_pool::TaskPool::with_runtime(rt.clone(), None);
    /// // From a plain thread:
    /// let h = std::thread::scope(|s| s.spawn(|| pool.spawn(async { 5 })).join().unwrap()).unwrap();
    /// assert_eq!(rt.block_on(h).unwrap(), 5);
    /// ```
    pub fn spawn<F>(&self, future: F) -> Result<PoolHandle<F::Output>, SpawnError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let shared = &self.owner.shared;
        let mut st = shared.lock();
        if st.closed {
            return Err(SpawnError(future));
        }
        let (cell, handle) = wrangle_rt::adapter::task_pair(Job::new(future));
        push(&shared.queue, Box::pin(cell));
        st.submitted += 1;
        shared.find_searcher(st);
        // Submitted by a task running on the only worker of this pool: if that task waits for
        // it there, the handle says so instead of waiting for ever.
        let waiter = if shared.crew.size().is_some_and(|s| s.get() == 1) {
            with_current(|w| w.sole_worker_of(shared.id())).flatten()
        } else {
            None
        };
        Ok(PoolHandle::new(handle, waiter))
    }

    /// Submits `future` to run detached: what `spawn(future)` followed by
    /// [`PoolHandle::detach`] does, without making the handle (one allocation per task instead
    /// of two). The cheapest way to hand fire-and-forget work to the pool, from any thread.
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
    /// let pool = wrangle_pool::TaskPool::with_runtime(rt.clone(), None);
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
        push(&shared.queue, Box::pin(Detached::new(future)));
        st.submitted += 1;
        shared.find_searcher(st);
        Ok(())
    }

    /// Submits `future` and waits for its output.
    ///
    /// # Errors
    ///
    /// [`TaskError::Closed`] if the pool is closed; otherwise as the task's [`PoolHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::with_runtime(rt.clone(), None);
    /// assert_eq!(rt.block_on(pool.run(async { 3 })).unwrap(), 3);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the task (a queued task never runs).
    pub async fn run<F>(&self, future: F) -> Result<F::Output, TaskError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.spawn(future) {
            Ok(h) => h.await,
            Err(_) => Err(TaskError::Closed),
        }
    }

    /// Refuses new tasks from now on; queued and running tasks go on.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::TaskPool::with_runtime(wrangle_rt::VirtualRuntime::new(), None);
    /// pool.close();
    /// assert!(pool.is_closed());
    /// assert!(pool.spawn(async {}).is_err());
    /// ```
    pub fn close(&self) {
        let shared = &self.owner.shared;
        let mut st = shared.lock();
        st.closed = true;
        // The woken workers search once more, see the closed queue and leave.
        let idle = shared.crew.wake_idle(&mut st.roster);
        let none_left = st.roster.workers == 0;
        drop(st);
        // Idle workers see the closed, empty queue and leave.
        shared.work.notify(idle.additional());
        if none_left {
            shared.drained.notify(usize::MAX);
        }
    }

    /// Returns `true` once [`close`](TaskPool::close) (or a shutdown) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::TaskPool::with_runtime(wrangle_rt::VirtualRuntime::new(), None);
    /// assert!(!pool.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.owner.shared.lock().closed
    }

    /// Closes the pool and waits until every queued and running task has ended.
    ///
    /// Every handle resolves. The pool drains even if this future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::with_runtime(rt.clone(), None);
    /// let h = pool.spawn(async { 1 }).unwrap();
    /// rt.block_on(pool.shutdown());
    /// assert!(h.is_finished());
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it stops the waiting, not the draining.
    pub async fn shutdown(&self) {
        self.close();
        self.drained().await;
    }

    /// Like [`shutdown`](TaskPool::shutdown), but cancels whatever has not ended within
    /// `timeout`, and waits until it is gone.
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
    /// let pool = wrangle_pool::TaskPool::with_runtime(rt.clone(), None);
    /// let h = pool.spawn(std::future::pending::<()>()).unwrap();
    /// assert!(rt.block_on(pool.shutdown_timeout(Duration::from_secs(5))).is_err());
    /// assert!(rt.block_on(h).unwrap_err().is_cancelled());
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping it before the deadline stops the waiting; the pool still drains, and nothing
    /// is cancelled.
    pub async fn shutdown_timeout(&self, timeout: Duration) -> Result<(), ShutdownTimedOut> {
        self.close();
        let shared = &self.owner.shared;
        if shared.rt.timeout(timeout, self.drained()).await.is_ok() {
            return Ok(());
        }
        let active = shared.registry.totals().active;
        let (queued, handles) = shared.take_all();
        let cancelled = queued.len() + active;
        for job in queued {
            drop_caught(job, &shared.reporter);
        }
        for h in handles {
            // Cancel-and-wait: when this returns, the running tasks' futures are gone.
            let _ = h.cancel().await;
        }
        Err(ShutdownTimedOut { cancelled })
    }

    async fn drained(&self) {
        let shared = &self.owner.shared;
        loop {
            let listener = shared.drained.listen();
            if shared.lock().roster.workers == 0 {
                return;
            }
            listener.await;
        }
    }

    /// A snapshot of the counters.
    ///
    /// A task's end is counted before its handle resolves: read right after a handle (or
    /// [`PoolHandle::cancel`](crate::PoolHandle::cancel)) returned, the snapshot includes it.
    /// `active` counts tasks whose body has started and not ended.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::with_runtime(rt.clone(), None);
    /// rt.block_on(pool.run(async {})).unwrap();
    /// let stats = pool.stats();
    /// assert_eq!((stats.submitted, stats.completed, stats.active), (1, 1, 0));
    /// ```
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        let shared = &self.owner.shared;
        let (submitted, queued) = {
            let st = shared.lock();
            (st.submitted, shared.queue.len())
        };
        let t = shared.registry.totals();
        PoolStats {
            submitted,
            queued,
            active: t.active,
            completed: t.completed,
            timed_out: t.timed_out,
            panicked: t.panicked,
            cancelled: t.cancelled,
        }
    }

    /// The runtime the pool runs on.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::Runtime;
    /// let pool = wrangle_pool::TaskPool::with_runtime(wrangle_rt::VirtualRuntime::new(), None);
    /// assert_eq!(pool.runtime().name(), "virtual");
    /// ```
    #[must_use]
    pub fn runtime(&self) -> &R {
        &self.owner.shared.rt
    }
}

impl<R: Runtime> Shared<R> {
    /// Arms `slot` with the deadline of a task starting now. A deadline that cannot be
    /// represented is not armed: the task runs without a limit, as a timeout that far away
    /// never fires.
    fn arm(self: &Arc<Self>, slot: &Slot, timeout: Duration) {
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
    fn find_searcher(self: &Arc<Self>, mut st: MutexGuard<'_, State>) {
        match self.crew.dispatch(&mut st.roster, || self.queue.is_empty()) {
            Dispatch::Nobody => {}
            Dispatch::Idle => {
                drop(st);
                self.work.notify(1.additional());
            }
            Dispatch::New => {
                let ctx = Arc::new(WorkerCtx::new(
                    self.reporter.clone(),
                    self.timeout.is_some(),
                    self.id(),
                    self.crew.size().is_some_and(|s| s.get() == 1),
                ));
                self.registry.add(ctx.clone());
                let worker = self
                    .rt
                    .spawn(InCtx::new(ctx.clone(), worker(self.clone(), ctx)));
                st.handles.push(worker);
            }
        }
    }

    /// This pool's identity, compared only (see [`WorkerCtx::sole_worker_of`]).
    fn id(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held while user code runs.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes every queued job and worker handle out of the pool and closes it.
    fn take_all(&self) -> (Vec<BoxJob>, Vec<JoinHandle<()>>) {
        let mut st = self.lock();
        st.closed = true;
        st.aborted = true;
        let queue: Vec<BoxJob> = self.queue.try_iter().collect();
        // Counted here, as they are never started.
        self.registry.dropped_queued(queue.len());
        (queue, std::mem::take(&mut st.handles))
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
    }
}

/// A worker: runs queued tasks one at a time until the pool closes or drops it. Counted out
/// when it leaves, however it leaves (returned, or dropped, even before its first poll).
fn worker<R: Runtime>(
    shared: Arc<Shared<R>>,
    ctx: Arc<WorkerCtx>,
) -> impl Future<Output = ()> + Send + 'static {
    let exit = WorkerExit { shared, ctx };
    async move {
        // A local, declared before the work's future: dropped after it, so a task the worker
        // was running is gone when the worker is counted out.
        let exit = exit;
        work(&exit.shared, &exit.ctx).await;
    }
}

async fn work<R: Runtime>(shared: &Arc<Shared<R>>, ctx: &WorkerCtx) {
    // The waker last registered in the deadline slot.
    let mut registered = None;
    // Spawned (or woken) searching, see `crew.rs`. A worker stays counted while it
    // runs a task's first poll: a task that finishes there brings it straight back to the
    // queue, so a flood of short tasks keeps one worker busy instead of waking more.
    loop {
        let next = match shared.queue.pop() {
            Ok(job) => Ok(job),
            Err(_) => {
                // Empty: look again under the lock, which every push takes, so a task pushed
                // now is either seen here or finds this worker idle.
                let mut st = shared.lock();
                match shared.queue.pop() {
                    Ok(job) => Ok(job),
                    Err(_) => {
                        if st.closed {
                            shared.crew.stop_searching();
                            return;
                        }
                        shared.crew.go_idle(&mut st.roster);
                        Err(shared.work.listen())
                    }
                }
            }
        };
        match next {
            Ok(mut job) => {
                ctx.take();
                // The timeout counts from the task's start, never from its time in the queue.
                if let (Some(slot), Some(timeout)) = (&ctx.slot, shared.timeout) {
                    shared.arm(slot, timeout);
                }
                let mut counted = true;
                poll_fn(|cx| {
                    if let Some(slot) = &ctx.slot {
                        // The reaper wakes this worker when the task's deadline passes.
                        slot.register(cx.waker(), &mut registered);
                    }
                    let polled = job.as_mut().poll(cx);
                    if polled.is_pending() && counted {
                        // The task waits: this worker is not coming back soon. Stop counting
                        // it, and send another worker to whatever is queued.
                        counted = false;
                        // With no worker to spare there is nobody to send: no lock.
                        if shared.crew.task_waits() {
                            shared.find_searcher(shared.lock());
                        }
                    }
                    polled
                })
                .await;
                drop_caught(job, &ctx.reporter);
                if let Some(slot) = &ctx.slot {
                    // The task is done with: its deadline, if any, no longer applies.
                    slot.clear();
                }
                ctx.finish();
                if !counted {
                    shared.crew.task_done();
                }
            }
            // Whoever claimed this idle worker counted it as searching.
            Err(listener) => listener.await,
        }
    }
}

/// Pushes onto the unbounded queue, which refuses only when closed; the pool never closes it.
fn push(queue: &ConcurrentQueue<BoxJob>, job: BoxJob) {
    if queue.push(job).is_err() {
        unreachable!("the pool's queue is unbounded and never closed");
    }
}

/// Counts a worker out when it leaves, however it leaves (returned, or cancelled).
struct WorkerExit<R: Runtime> {
    shared: Arc<Shared<R>>,
    ctx: Arc<WorkerCtx>,
}

impl<R: Runtime> Drop for WorkerExit<R> {
    fn drop(&mut self) {
        // A task it was running when it was dropped was dropped with it: cancelled.
        self.ctx.finish();
        if let Some(slot) = &self.ctx.slot {
            slot.clear();
        }
        self.shared.registry.remove(&self.ctx);
        let mut st = self.shared.lock();
        self.shared.crew.leave(&mut st.roster);
        let last = st.roster.workers == 0;
        drop(st);
        if last {
            self.shared.drained.notify(usize::MAX);
        }
    }
}

//! A worker: its loop ([`worker`]: take a queued task, run it, come back) and its own state
//! (the deadline slot of the task it runs, its share of the pool's counters, and the pool's
//! error reporter). The task a worker polls reaches that state through a thread-local set
//! while the worker is polled, so a pooled task holds no reference to the pool: submitting
//! and finishing a task touch no shared reference count, and the counters a task bumps are
//! written by one thread only.

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use wrangle_rt::{ErrorReporter, Runtime};

use crate::deadline_slot::DeadlineSlot;
use crate::job::drop_caught;
use crate::loom::{Mutex, MutexGuard, lock};
use crate::pool::Shared;

thread_local! {
    static CURRENT: Cell<Option<Arc<WorkerCtx>>> = const { Cell::new(None) };
}

/// Calls `f` with the context of the worker being polled on this thread, if any.
///
/// `f` must not poll anything: the context is out of the thread-local while it runs.
pub(crate) fn with_current<T>(f: impl FnOnce(&WorkerCtx) -> T) -> Option<T> {
    CURRENT.with(|c| {
        let ctx = c.take();
        let out = ctx.as_deref().map(f);
        c.set(ctx);
        out
    })
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Completed,
    TimedOut,
    Panicked,
    Cancelled,
}

/// One worker's state; on its own cache lines, as the worker writes it on every task.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct WorkerCtx {
    pub(crate) reporter: ErrorReporter,
    /// The pool this worker belongs to (the address of its shared state, compared only) and
    /// whether that pool has a single worker: see [`WorkerCtx::sole_worker_of`].
    pool: usize,
    sole: bool,
    /// The deadline of the task this worker runs (pools with a timeout only).
    pub(crate) slot: Option<DeadlineSlot>,
    /// The waker this worker was last polled with: a cancel of the task it runs wakes it
    /// (`joint.rs`). Set by the worker whenever it changed, before it polls a task.
    waker: Mutex<Option<Waker>>,
    /// The model's stand-in for the context's end: see `joint::model::Worker::retire`.
    #[cfg(loom)]
    retired: crate::loom::AtomicBool,
    /// Written by this worker's thread only (plain load and store, no read-modify-write);
    /// read by `stats`. `busy` is 1 from a task's first poll until its end is recorded.
    busy: AtomicUsize,
    /// A task was taken off the queue and its end is not recorded yet.
    pending: AtomicBool,
    completed: AtomicU64,
    timed_out: AtomicU64,
    panicked: AtomicU64,
    cancelled: AtomicU64,
}

/// Adds one to a counter that only the calling thread writes.
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl WorkerCtx {
    pub(crate) fn new(reporter: ErrorReporter, with_slot: bool, pool: usize, sole: bool) -> Self {
        WorkerCtx {
            reporter,
            pool,
            sole,
            slot: with_slot.then(DeadlineSlot::default),
            waker: Mutex::new(None),
            #[cfg(loom)]
            retired: crate::loom::AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            pending: AtomicBool::new(false),
            completed: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
        }
    }

    /// The worker took a task off the queue.
    pub(crate) fn take(&self) {
        self.pending.store(true, Ordering::Relaxed);
    }

    /// The task's body starts (its first poll); returns this worker's [`id`](Self::id).
    pub(crate) fn begin(&self) -> usize {
        self.busy.store(1, Ordering::Relaxed);
        self.id()
    }

    /// Whether the task taken off the queue has not started: what a never-polled job dropped
    /// on this worker is (nothing else runs between the take and the first poll).
    pub(crate) fn taken_not_begun(&self) -> bool {
        self.pending.load(Ordering::Relaxed) && self.busy.load(Ordering::Relaxed) == 0
    }

    /// The task records how it ended, from its poll or, cancelled, from its drop on this
    /// worker: before its handle can see the end, so that `stats()` read after a handle
    /// resolved counts it. Once per task.
    pub(crate) fn record(&self, end: End) {
        if !self.pending.load(Ordering::Relaxed) {
            return;
        }
        bump(match end {
            End::Completed => &self.completed,
            End::TimedOut => &self.timed_out,
            End::Panicked => &self.panicked,
            End::Cancelled => &self.cancelled,
        });
        self.pending.store(false, Ordering::Relaxed);
        self.busy.store(0, Ordering::Relaxed);
    }

    /// The worker is done with its task: one that recorded no end was cancelled without
    /// being dropped on this worker (before it started, or with the worker itself).
    pub(crate) fn finish(&self) {
        self.record(End::Cancelled);
    }

    /// This context's address: which worker started a task, compared, never dereferenced.
    pub(crate) fn id(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    /// This worker's id if it is the only worker of pool `pool` (a pool of size 1): a task it
    /// runs and that waits for another task of that pool waits for ever, the other task being
    /// able to start only on this worker, after the waiting one.
    pub(crate) fn sole_worker_of(&self, pool: usize) -> Option<usize> {
        (self.sole && self.pool == pool).then(|| self.id())
    }

    /// Makes `waker` the one a cancel and the deadline wake; `last` is the worker's own copy
    /// of what it registered, so an unchanged waker costs no lock.
    pub(crate) fn register(&self, waker: &Waker, last: &mut Option<Waker>) {
        if !last.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *lock(&self.waker) = Some(waker.clone());
            if let Some(slot) = &self.slot {
                slot.set_waker(waker.clone());
            }
            *last = Some(waker.clone());
        }
    }

    /// The waker to wake this worker with.
    pub(crate) fn waker(&self) -> Option<Waker> {
        #[cfg(loom)]
        assert!(
            !self.retired.load(Ordering::SeqCst),
            "a cancel read the context of a worker that let go of the task"
        );
        lock(&self.waker).clone()
    }

    /// See `joint::model::Worker::retire`.
    #[cfg(loom)]
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
    }

    /// Whether the deadline of the running task has passed.
    pub(crate) fn fired(&self) -> bool {
        self.slot.as_ref().is_some_and(DeadlineSlot::fired)
    }
}

/// A worker's future, with its context made current while it is polled.
#[pin_project::pin_project]
pub(crate) struct InCtx<F> {
    ctx: Option<Arc<WorkerCtx>>,
    #[pin]
    future: F,
}

impl<F> InCtx<F> {
    pub(crate) fn new(ctx: Arc<WorkerCtx>, future: F) -> Self {
        InCtx {
            ctx: Some(ctx),
            future,
        }
    }
}

impl<F: Future> Future for InCtx<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let previous = CURRENT.with(|c| c.replace(this.ctx.take()));
        // Moved back even if the poll unwinds (pooled tasks catch their panics; this is for
        // the pool's own code).
        let _back = MoveBack {
            home: this.ctx,
            previous,
        };
        this.future.poll(cx)
    }
}

/// Puts the worker's context back from the thread-local, and the thread-local's previous
/// value (a worker polled inside another's task, say by a nested `block_on`).
struct MoveBack<'a> {
    home: &'a mut Option<Arc<WorkerCtx>>,
    previous: Option<Arc<WorkerCtx>>,
}

impl Drop for MoveBack<'_> {
    fn drop(&mut self) {
        let previous = self.previous.take();
        *self.home = CURRENT.with(|c| c.replace(previous));
    }
}

/// The counts of workers that have left, and of queued tasks dropped by an abort.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Totals {
    pub(crate) running: usize,
    pub(crate) completed: u64,
    pub(crate) timed_out: u64,
    /// Panicked tasks: `TaskPoolStats::failed`.
    pub(crate) failed: u64,
    pub(crate) cancelled: u64,
}

impl Totals {
    fn add(&mut self, w: &WorkerCtx) {
        self.running += w.busy.load(Ordering::Relaxed);
        self.completed += w.completed.load(Ordering::Relaxed);
        self.timed_out += w.timed_out.load(Ordering::Relaxed);
        self.failed += w.panicked.load(Ordering::Relaxed);
        self.cancelled += w.cancelled.load(Ordering::Relaxed);
    }
}

/// The pool's live workers, for the counters and the reaper.
#[derive(Debug)]
pub(crate) struct Registry {
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    workers: Vec<Arc<WorkerCtx>>,
    retired: Totals,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            inner: Mutex::new(RegistryInner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RegistryInner> {
        lock(&self.inner)
    }

    pub(crate) fn add(&self, ctx: Arc<WorkerCtx>) {
        self.lock().workers.push(ctx);
    }

    /// A worker leaves: its counts move to the retired totals in the same step, so a
    /// snapshot never counts them twice or misses them.
    pub(crate) fn remove(&self, ctx: &Arc<WorkerCtx>) {
        let mut inner = self.lock();
        if let Some(i) = inner.workers.iter().position(|w| Arc::ptr_eq(w, ctx)) {
            inner.workers.swap_remove(i);
            inner.retired.add(ctx);
        }
    }

    /// Counts `n` queued tasks dropped without running.
    pub(crate) fn dropped_queued(&self, n: usize) {
        self.lock().retired.cancelled += n as u64;
    }

    /// The counts of every worker, live or gone.
    pub(crate) fn totals(&self) -> Totals {
        let inner = self.lock();
        let mut totals = inner.retired;
        for w in &inner.workers {
            totals.add(w);
        }
        totals
    }

    /// Fires the slots whose deadline is at or before `now`; returns the earliest deadline
    /// still armed.
    pub(crate) fn fire_passed(&self, now: u64) -> Option<u64> {
        self.lock()
            .workers
            .iter()
            .filter_map(|w| w.slot.as_ref()?.fire_if_passed(now))
            .min()
    }

    /// Whether any live worker's deadline is armed and has not fired.
    pub(crate) fn any_armed(&self) -> bool {
        self.lock()
            .workers
            .iter()
            .any(|w| w.slot.as_ref().is_some_and(DeadlineSlot::is_armed))
    }
}

/// A worker: runs queued tasks one at a time until the pool closes or drops it. Counted out
/// when it leaves, however it leaves (returned, or dropped, even before its first poll).
pub(crate) fn worker<R: Runtime>(
    shared: Arc<Shared<R>>,
    ctx: Arc<WorkerCtx>,
    generation: u64,
) -> impl Future<Output = ()> + Send + 'static {
    let exit = WorkerExit {
        shared,
        ctx,
        generation,
    };
    async move {
        // A local, declared before the work's future: dropped after it, so a task the worker
        // was running is gone when the worker is counted out.
        let exit = exit;
        work(&exit.shared, &exit.ctx).await;
    }
}

async fn work<R: Runtime>(shared: &Arc<Shared<R>>, ctx: &WorkerCtx) {
    // The waker last registered in this worker's context (and its deadline slot).
    let mut registered = None;
    // Spawned (or woken) searching, see `dispatch.rs`. A worker stays counted while it
    // runs a task's first poll: a task that finishes there brings it straight back to the
    // queue, so a flood of short tasks keeps one worker busy instead of waking more.
    loop {
        let next = {
            // The queue lives under the pool's lock, which every push takes: a task pushed
            // now is either seen here or finds this worker idle.
            let mut st = shared.lock();
            match st.queue.pop_front() {
                Some(job) => Ok(job),
                None => {
                    if st.closed {
                        shared.crew.stop_searching();
                        return;
                    }
                    shared.crew.go_idle(&mut st.roster);
                    let listener = shared.work.listen();
                    // The last busy worker going idle empties the pool: `wait_empty`.
                    if shared.is_empty_locked(&st) {
                        drop(st);
                        shared.emptied.notify(usize::MAX);
                    }
                    Err(listener)
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
                    // A cancel, and the reaper when the task's deadline passes, wake this
                    // worker through the waker it registered.
                    ctx.register(cx.waker(), &mut registered);
                    let polled = job.run(cx, ctx);
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

/// Counts a worker out when it leaves, however it leaves (returned, or cancelled).
struct WorkerExit<R: Runtime> {
    shared: Arc<Shared<R>>,
    ctx: Arc<WorkerCtx>,
    /// The pool's generation when this worker was spawned (see `State::generation`).
    generation: u64,
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
        let drained = st.is_drained();
        let empty = self.shared.is_empty_locked(&st);
        if st.generation != self.generation && !st.closed {
            // It was leaving a closed pool that was reopened meanwhile: a submission made
            // since may have found the pool at its size with this worker, and sent nobody.
            // (Only a worker of an earlier generation does this, once: a worker dropped with
            // its runtime never spawns another.)
            self.shared.find_searcher(st);
        } else {
            drop(st);
        }
        if drained {
            self.shared.drained.notify(usize::MAX);
        }
        if empty {
            self.shared.emptied.notify(usize::MAX);
        }
    }
}

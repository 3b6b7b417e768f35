//! A worker's own state: the deadline slot of the task it runs, its share of the pool's
//! counters, and the pool's error reporter. The task a worker polls reaches it through a
//! thread-local set while the worker is polled, so a pooled task holds no reference to the
//! pool: submitting and finishing a task touch no shared reference count, and the counters a
//! task bumps are written by one thread only.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use wrangle_rt::ErrorReporter;

use crate::slot::Slot;

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
    pub(crate) slot: Option<Slot>,
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
            slot: with_slot.then(Slot::default),
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

    /// Whether the deadline of the running task has passed.
    pub(crate) fn fired(&self) -> bool {
        self.slot.as_ref().is_some_and(Slot::fired)
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
    pub(crate) active: usize,
    pub(crate) completed: u64,
    pub(crate) timed_out: u64,
    pub(crate) panicked: u64,
    pub(crate) cancelled: u64,
}

impl Totals {
    fn add(&mut self, w: &WorkerCtx) {
        self.active += w.busy.load(Ordering::Relaxed);
        self.completed += w.completed.load(Ordering::Relaxed);
        self.timed_out += w.timed_out.load(Ordering::Relaxed);
        self.panicked += w.panicked.load(Ordering::Relaxed);
        self.cancelled += w.cancelled.load(Ordering::Relaxed);
    }
}

/// The pool's live workers, for the counters and the reaper.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    workers: Vec<Arc<WorkerCtx>>,
    retired: Totals,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, RegistryInner> {
        // No lock here is held across user code.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
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
            .any(|w| w.slot.as_ref().is_some_and(Slot::is_armed))
    }
}

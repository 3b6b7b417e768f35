//! A pooled task and its handle's state in one allocation (ADR 0104): the only `unsafe` code
//! of wrangle-pool.
//!
//! [`joint_pair`] puts the task's future and the state its [`JointHandle`] reads (the phase,
//! the join waker, the cancel request) in one `Arc`. The queue holds the [`JointTask`], the
//! only value that touches the future: the worker that takes it polls the future in place,
//! with its own waker, and drops it in place. The handle touches only the state, behind a
//! [`ShortLock`]. Two safety arguments, each stated where it is used:
//!
//! - **The future is exclusive to the `JointTask`.** It sits in an `UnsafeCell` that only
//!   [`Joint::with_running`] opens, and only the cell's one `JointTask` calls that (it is not
//!   `Clone`, and only its owner, a worker or the queue, reaches it: a worker polls it and
//!   drops it). The future never moves:
//!   it lives inside the `Arc`'s allocation until it is dropped in place.
//! - **A cancel reaches the worker running the task** through a pointer to the worker's
//!   context, registered under the lock at the task's first wait instead of a clone of the
//!   waker (a reference count's increment and decrement per task). The pointer is read only
//!   under the lock and only while the task has not ended, and a worker ends its task (under
//!   the lock) before it lets go of it, its context outliving every task it holds.
//!
//! `tests/loom.rs` models the protocol between the two sides (with loom's `UnsafeCell`
//! checking the exclusive access), and `cargo xtask asan wrangle-pool` runs the pool's tests
//! under AddressSanitizer, once with its quarantine on.
#![allow(unsafe_code)]

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use wrangle_rt::short_lock::{ShortLock, ShortLockGuard, replace_waker};
use wrangle_rt::{JoinError, PanicPayload};

use crate::job::drop_caught;
use crate::loom::{AtomicBool, Ordering, UnsafeCell};
use crate::worker::WorkerCtx;

/// Where the task is, as its handle sees it. Small (no `JoinError`, whose payload is bigger
/// than most outputs): every queued task's allocation has room for it.
enum Phase<T> {
    Pending,
    Done(T),
    Cancelled,
    /// The future's destructor panicked (a panic of a poll is the job's own outcome). Boxed
    /// thin: it is rare, and a fat box would make the phase a word bigger.
    Panicked(Box<PanicPayload>),
    /// The handle took the result, or is gone and never will.
    Taken,
}

struct State<T> {
    phase: Phase<T>,
    /// The handle was dropped or detached: the result is dropped where the task ends.
    handle_gone: bool,
    /// The worker running the task, from its first wait: a cancel wakes it.
    worker: Option<WorkerRef>,
    join_waker: Option<Waker>,
}

/// The worker that runs a task (see the module's second safety argument).
#[derive(Clone, Copy)]
struct WorkerRef(NonNull<WorkerCtx>);

// SAFETY: a `WorkerRef` is only dereferenced as a shared `&WorkerCtx` (`WorkerCtx` is `Sync`),
// in `Joint::cancel_locked`, where the context is known alive.
unsafe impl Send for WorkerRef {}
// SAFETY: as above.
unsafe impl Sync for WorkerRef {}

/// The part of the cell only its [`JointTask`] touches.
struct Running<F> {
    future: Option<F>,
    /// The worker is registered in `State::worker`.
    registered: bool,
}

struct Joint<F: Future> {
    /// Set under the lock while the task has not ended; read by the task side before each
    /// poll without it, and under it at the first wait, so a cancel is never missed.
    cancel_requested: AtomicBool,
    state: ShortLock<State<F::Output>>,
    running: UnsafeCell<Running<F>>,
}

// SAFETY: `running` is only reached through `Joint::with_running`, whose callers are the cell's
// one `JointTask` (module docs): never from two threads at once, so sharing a `Joint` shares
// nothing of `F` but its ownership (hence `F: Send`). The rest is an atomic or behind the lock.
unsafe impl<F: Future + Send> Sync for Joint<F> where F::Output: Send {}

impl<F: Future> Joint<F> {
    fn lock(&self) -> ShortLockGuard<'_, State<F::Output>> {
        self.state.lock()
    }

    /// Calls `f` with the future and the registration flag.
    ///
    /// # Safety
    ///
    /// Only the cell's `JointTask` may call this (the task side is one `&mut self` method at a
    /// time, so never re-entrantly either).
    unsafe fn with_running<R>(&self, f: impl FnOnce(Pin<&mut Option<F>>, &mut bool) -> R) -> R {
        self.running.with_mut(|running| {
            // SAFETY: exclusive by the caller's contract, for the duration of `f`.
            let running = unsafe { &mut *running };
            // SAFETY: the future lives inside the `Arc`'s allocation, which never moves, and
            // is never moved out: it is dropped in place by `set(None)`.
            let future = unsafe { Pin::new_unchecked(&mut running.future) };
            f(future, &mut running.registered)
        })
    }

    /// The task side's end: publishes how the task ended and wakes the handle. Returns what
    /// nobody will read (the handle is gone) for the caller to drop after the lock: it can be
    /// the user's output, whose destructor is user code.
    #[must_use = "the unread end is dropped by the caller, outside the lock"]
    fn finish(&self, ended: Phase<F::Output>) -> Option<Phase<F::Output>> {
        let (waker, unread) = {
            let mut st = self.lock();
            let unread = if matches!(st.phase, Phase::Pending) && !st.handle_gone {
                st.phase = ended;
                None
            } else {
                if matches!(st.phase, Phase::Pending) {
                    st.phase = Phase::Taken;
                }
                Some(ended)
            };
            // The worker lets go of the task now: its pointer is not to be read again.
            st.worker = None;
            (st.join_waker.take(), unread)
        };
        if let Some(w) = waker {
            w.wake();
        }
        unread
    }

    /// Requests the cancel and wakes the worker running the task, if it waits.
    fn cancel_locked(&self, st: ShortLockGuard<'_, State<F::Output>>) {
        if !matches!(st.phase, Phase::Pending) {
            return;
        }
        self.cancel_requested.store(true, Ordering::Release);
        // SAFETY: `worker` was set under this lock by the worker running the task, and the
        // phase is still `Pending` under this same lock, so that worker has not ended the task:
        // a worker moves the phase out of `Pending` (`finish`, under this lock, also clearing
        // `worker`) before it lets go of a task, whether it ends it or drops it, and its
        // context outlives every task it holds (`worker.rs`: owned by the worker's exit guard,
        // dropped after the task). `tests/loom.rs` checks that no cancel reads it later.
        let waker = st.worker.and_then(|w| unsafe { w.0.as_ref() }.waker());
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Drops the future in place, catching a panic of its destructor.
    fn drop_future(future: Pin<&mut Option<F>>) -> Result<(), Box<dyn Any + Send>> {
        catch_unwind(AssertUnwindSafe(move || {
            let mut future = future;
            future.set(None);
        }))
    }
}

/// The task side, type-erased for the queue.
trait Run: Send + Sync {
    /// Polls the task on `worker`.
    ///
    /// # Safety
    ///
    /// Only the cell's `JointTask` may call it.
    unsafe fn run(&self, cx: &mut Context<'_>, worker: &WorkerCtx) -> Poll<()>;

    /// Drops the task unfinished: a cancel.
    ///
    /// # Safety
    ///
    /// Only the cell's `JointTask` may call it.
    unsafe fn abandon(&self);
}

impl<F: Future + Send> Run for Joint<F>
where
    F::Output: Send,
{
    unsafe fn run(&self, cx: &mut Context<'_>, worker: &WorkerCtx) -> Poll<()> {
        // SAFETY: forwarded contract.
        unsafe {
            self.with_running(|future, registered| self.run_on(future, registered, cx, worker))
        }
    }

    unsafe fn abandon(&self) {
        // SAFETY: forwarded contract.
        unsafe {
            self.with_running(|future, _| {
                if future.is_some() {
                    // A cancel or a panic payload: nothing of the user's runs in its drop.
                    drop(self.finish(match Self::drop_future(future) {
                        Ok(()) => Phase::Cancelled,
                        Err(p) => Phase::Panicked(Box::new(PanicPayload::new(p))),
                    }));
                }
            });
        }
    }
}

impl<F: Future> Joint<F> {
    /// [`Run::run`], with the task side's part of the cell opened.
    fn run_on(
        &self,
        mut future: Pin<&mut Option<F>>,
        registered: &mut bool,
        cx: &mut Context<'_>,
        worker: &WorkerCtx,
    ) -> Poll<()> {
        if future.is_none() {
            return Poll::Ready(());
        }
        if self.cancel_requested.load(Ordering::Acquire) {
            drop(self.finish(match Self::drop_future(future) {
                Ok(()) => Phase::Cancelled,
                Err(p) => Phase::Panicked(Box::new(PanicPayload::new(p))),
            }));
            return Poll::Ready(());
        }
        let inner = future.as_mut().as_pin_mut().expect("checked above");
        // The pool's job catches its future's panics; this is for the pool's own code.
        let output = match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => {
                if !*registered {
                    // Register the worker for a cancel, once: the task never leaves it, and
                    // the worker keeps its own waker current. A cancel requested since the
                    // check above is seen here, under the lock it is requested under: poll
                    // again at once to act on it.
                    *registered = true;
                    let mut st = self.lock();
                    st.worker = Some(WorkerRef(NonNull::from(worker)));
                    if self.cancel_requested.load(Ordering::Acquire) {
                        drop(st);
                        cx.waker().wake_by_ref();
                    }
                }
                return Poll::Pending;
            }
            Ok(Poll::Ready(v)) => Ok(v),
            Err(p) => Err(p),
        };
        // Drop the future before announcing the result, so a waiter sees it gone.
        let dropped = Self::drop_future(future);
        let unread = self.finish(match (output, dropped) {
            (Ok(v), Ok(())) => Phase::Done(v),
            (Err(p), _) | (Ok(_), Err(p)) => Phase::Panicked(Box::new(PanicPayload::new(p))),
        });
        // The output of a task whose handle is gone: its destructor may panic.
        drop_caught(unread, &worker.reporter);
        Poll::Ready(())
    }
}

/// A detached task: no handle, so nothing but the future, behind the same queued type as a
/// task with a handle ([`JointTask`] is two words, where an enum of the two kinds would be
/// three: a long queue of them stays in cache longer).
struct Solo<F> {
    running: UnsafeCell<Option<F>>,
}

// SAFETY: `running` is only reached by the cell's one `JointTask` (as for `Joint`).
unsafe impl<F: Send> Sync for Solo<F> {}

impl<F: Future<Output = ()> + Send> Run for Solo<F> {
    unsafe fn run(&self, cx: &mut Context<'_>, _worker: &WorkerCtx) -> Poll<()> {
        self.running.with_mut(|future| {
            // SAFETY: exclusive by the caller's contract (only the cell's `JointTask` calls
            // this), for the duration of this closure.
            let future = unsafe { &mut *future };
            match future {
                // SAFETY: the future lives inside the `Arc`'s allocation, which never moves,
                // and is never moved out: it is dropped in place.
                Some(f) => unsafe { Pin::new_unchecked(f) }.poll(cx),
                None => Poll::Ready(()),
            }
        })
    }

    unsafe fn abandon(&self) {
        // A panic of the destructor unwinds to the worker's `drop_caught`, which reports it.
        self.running.with_mut(|future| {
            // SAFETY: as in `run`; `set` drops the future in place.
            unsafe { Pin::new_unchecked(&mut *future) }.set(None);
        });
    }
}

/// A queued task with no handle: `future` handles its own outcome (`job::Detached`).
pub(crate) fn detached<F>(future: F) -> JointTask
where
    F: Future<Output = ()> + Send + 'static,
{
    JointTask {
        cell: Arc::new(Solo {
            running: UnsafeCell::new(Some(future)),
        }),
    }
}

/// The queued side of a pooled task: the worker that takes it runs it; dropping it unfinished
/// cancels the task.
pub(crate) struct JointTask {
    cell: Arc<dyn Run>,
}

impl JointTask {
    /// The size of the cell (without the `Arc`'s counts), for `job.rs`'s size test.
    #[cfg(all(test, not(feature = "tracing")))]
    pub(crate) fn cell_size(&self) -> usize {
        size_of_val(&*self.cell)
    }

    /// Polls the task on `worker`, the only worker that ever polls it.
    pub(crate) fn run(&mut self, cx: &mut Context<'_>, worker: &WorkerCtx) -> Poll<()> {
        // SAFETY: this is the cell's only `JointTask`, borrowed mutably for the call.
        unsafe { self.cell.run(cx, worker) }
    }
}

impl Drop for JointTask {
    fn drop(&mut self) {
        // SAFETY: this is the cell's only `JointTask`, being dropped.
        unsafe { self.cell.abandon() }
    }
}

/// The handle's side, type-erased for [`JointHandle`].
trait JoinSide<T>: Send + Sync {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>>;
    /// The handle goes away: with `cancel`, the task is cancelled too.
    fn release(&self, cancel: bool);
    fn request_cancel(&self);
    fn is_done(&self) -> bool;
}

impl<F: Future + Send> JoinSide<F::Output> for Joint<F>
where
    F::Output: Send,
{
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<F::Output, JoinError>> {
        let mut st = self.lock();
        match std::mem::replace(&mut st.phase, Phase::Taken) {
            Phase::Done(v) => Poll::Ready(Ok(v)),
            Phase::Cancelled | Phase::Taken => Poll::Ready(Err(JoinError::Cancelled)),
            Phase::Panicked(p) => Poll::Ready(Err(JoinError::Panicked(*p))),
            Phase::Pending => {
                st.phase = Phase::Pending;
                let replaced = replace_waker(&mut st.join_waker, cx.waker());
                drop(st);
                drop(replaced);
                Poll::Pending
            }
        }
    }

    fn release(&self, cancel: bool) {
        let mut st = self.lock();
        st.handle_gone = true;
        if cancel {
            self.cancel_locked(st);
        }
    }

    fn request_cancel(&self) {
        self.cancel_locked(self.lock());
    }

    fn is_done(&self) -> bool {
        !matches!(self.lock().phase, Phase::Pending)
    }
}

/// Wraps `future` into the queued [`JointTask`] and the [`JointHandle`] that awaits it, in one
/// allocation.
pub(crate) fn joint_pair<F>(future: F) -> (JointTask, JointHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let cell = Arc::new(Joint {
        cancel_requested: AtomicBool::new(false),
        state: ShortLock::new(State {
            phase: Phase::Pending,
            handle_gone: false,
            worker: None,
            join_waker: None,
        }),
        running: UnsafeCell::new(Running {
            future: Some(future),
            registered: false,
        }),
    });
    let handle = JointHandle {
        cell: Some(cell.clone()),
    };
    (JointTask { cell }, handle)
}

/// The handle's side: resolves to the task's output, or how it failed to produce one.
/// Dropping it cancels the task; [`detach`](Self::detach) lets it run.
pub(crate) struct JointHandle<T> {
    /// `None` once the output was taken or the handle detached.
    cell: Option<Arc<dyn JoinSide<T>>>,
}

impl<T> JointHandle<T> {
    /// Lets the task run; its output is dropped where it ends.
    pub(crate) fn detach(mut self) {
        if let Some(c) = self.cell.take() {
            c.release(false);
        }
    }

    /// Whether the task ended (an emptied handle's task did).
    pub(crate) fn is_finished(&self) -> bool {
        self.cell.as_ref().is_none_or(|c| c.is_done())
    }

    /// Requests the task's cancel; the handle then resolves once it took effect (or to the
    /// output, if the task had ended first).
    pub(crate) fn request_cancel(&self) {
        if let Some(c) = &self.cell {
            c.request_cancel();
        }
    }
}

impl<T> Future for JointHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(c) = self.cell.as_ref() else {
            // Only a handle whose output was taken is empty: polled again, it has nothing.
            return Poll::Ready(Err(JoinError::Cancelled));
        };
        let out = std::task::ready!(c.poll_join(cx));
        self.cell = None;
        Poll::Ready(out)
    }
}

impl<T> Drop for JointHandle<T> {
    fn drop(&mut self) {
        if let Some(c) = self.cell.take() {
            c.release(true);
        }
    }
}

/// The cell's two sides for `tests/loom.rs` (under `--cfg loom` only): a worker context
/// with a waker, the queued task and the handle.
#[cfg(loom)]
pub mod model {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use crate::worker::WorkerCtx;

    /// A worker's context, its waker registered.
    #[derive(Debug)]
    pub struct Worker(Arc<WorkerCtx>);

    impl Worker {
        /// A worker polled with `waker`.
        pub fn new(waker: &Waker) -> Self {
            let ctx = WorkerCtx::new(wrangle_rt::ErrorReporter::default(), false, 0, false);
            ctx.register(waker, &mut None);
            Worker(Arc::new(ctx))
        }

        /// The worker lets go of its context: from now on the model fails if a cancel reads it.
        pub fn retire(&self) {
            self.0.retire();
        }
    }

    /// The queued side.
    #[allow(missing_debug_implementations)]
    pub struct Task(super::JointTask, Waker);

    impl Task {
        /// Polls the task on `worker`, with the worker's waker.
        pub fn run(&mut self, worker: &Worker) -> Poll<()> {
            let waker = self.1.clone();
            self.0.run(&mut Context::from_waker(&waker), &worker.0)
        }
    }

    /// The handle's side.
    #[allow(missing_debug_implementations)]
    pub struct Handle<T>(super::JointHandle<T>);

    impl<T> Handle<T> {
        /// Requests the cancel.
        pub fn request_cancel(&self) {
            self.0.request_cancel();
        }

        /// Lets the task run on without a handle.
        pub fn detach(self) {
            self.0.detach();
        }

        /// Polls the handle once: `Some(Ok(output))`, `Some(Err(()))` if cancelled, `None`
        /// if the task has not ended.
        pub fn try_join(&mut self) -> Option<Result<T, ()>> {
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(&mut self.0).poll(&mut cx) {
                Poll::Ready(r) => Some(r.map_err(drop)),
                Poll::Pending => None,
            }
        }
    }

    /// A task whose worker polls it with `waker`, and its handle.
    pub fn pair<F>(future: F, waker: &Waker) -> (Task, Handle<F::Output>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, handle) = super::joint_pair(future);
        (Task(task, waker.clone()), Handle(handle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_task_is_two_words_a_handle_three_and_a_small_phase_two() {
        // What keeps 10,000 queued tasks and their handles in cache: see `JointTask`,
        // `join_handle::Marks` and `Phase`.
        assert_eq!(size_of::<JointTask>(), 2 * size_of::<usize>());
        assert_eq!(
            size_of::<crate::PoolJoinHandle<u64>>(),
            3 * size_of::<usize>()
        );
        assert_eq!(size_of::<Phase<u64>>(), 2 * size_of::<usize>());
    }
}

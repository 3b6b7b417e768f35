//! The portable task cell: [`task_pair`] and [`blocking_pair`] give a runtime without a
//! cancelling handle of its own (smol, async-std, the virtual runtime, your executor) the
//! [`JoinHandle`] semantics of every wrangle runtime.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_lite::FutureExt;

use crate::loom::{AtomicBool, Ordering};
use crate::short_lock::{ShortLock, ShortLockGuard, replace_waker};
use crate::{JoinError, JoinHandle};

pub(crate) struct RawShared<T> {
    /// Set (under the lock, with the task's waker taken) when the task is to be cancelled;
    /// read without the lock before each poll, and under it before the task registers its
    /// waker, so a cancel is never missed.
    cancel_requested: AtomicBool,
    state: ShortLock<RawState<T>>,
}

pub(crate) struct RawState<T> {
    pub(crate) phase: Phase<T>,
    pub(crate) handle_gone: bool,
    pub(crate) task_waker: Option<Waker>,
    pub(crate) join_waker: Option<Waker>,
}

pub(crate) enum Phase<T> {
    Pending,
    Done(Result<T, JoinError>),
    Taken,
}

impl<T> Phase<T> {
    pub(crate) fn is_done(&self) -> bool {
        !matches!(self, Phase::Pending)
    }
}

impl<T> RawShared<T> {
    pub(crate) fn lock(&self) -> ShortLockGuard<'_, RawState<T>> {
        // The lock is never held across user code, so poisoning cannot leave a broken state.
        self.state.lock()
    }

    pub(crate) fn request_cancel(&self) {
        self.cancel_and_release(true, false);
    }

    /// The handle is going away: the output will not be read; with `cancel`, the task is
    /// cancelled too (drop), otherwise it runs on (detach).
    pub(crate) fn release(&self, cancel: bool) {
        self.cancel_and_release(cancel, true);
    }

    pub(crate) fn cancel_and_release(&self, cancel: bool, release: bool) {
        let waker = {
            let mut st = self.lock();
            st.handle_gone |= release;
            if !cancel || st.phase.is_done() {
                return;
            }
            self.cancel_requested.store(true, Ordering::Release);
            st.task_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub(crate) fn finish(&self, result: Result<T, JoinError>) {
        let (waker, unread) = {
            let mut st = self.lock();
            let unread = if st.phase.is_done() {
                Some(result)
            } else if st.handle_gone {
                st.phase = Phase::Taken;
                Some(result)
            } else {
                st.phase = Phase::Done(result);
                None
            };
            (st.join_waker.take(), unread)
        };
        if let Some(w) = waker {
            w.wake();
        }
        // The output nobody will read: its destructor is user code, run after the short lock.
        drop(unread);
    }

    pub(crate) fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let mut st = self.lock();
        match std::mem::replace(&mut st.phase, Phase::Taken) {
            Phase::Done(r) => Poll::Ready(r),
            Phase::Taken => Poll::Ready(Err(JoinError::Cancelled)),
            Phase::Pending => {
                st.phase = Phase::Pending;
                let replaced = replace_waker(&mut st.join_waker, cx.waker());
                drop(st);
                drop(replaced);
                Poll::Pending
            }
        }
    }
}

pub(crate) struct RawJoin<T> {
    pub(crate) shared: Option<Arc<RawShared<T>>>,
}

impl<T> Future for RawJoin<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let s = self.shared.as_ref().expect("polled after completion");
        let out = std::task::ready!(s.poll_join(cx));
        self.shared = None;
        Poll::Ready(out)
    }
}

/// A spawned future wrapped so that any executor can run it with the semantics of
/// [`JoinHandle`]: cancellation on request, panic capture, and the output delivered to the handle.
///
/// Made by [`task_pair`]. Spawn it, detached, on the executor you are adapting.
#[pin_project::pin_project(PinnedDrop)]
#[must_use = "a TaskCell does nothing unless it is spawned"]
pub struct TaskCell<F: Future> {
    #[pin]
    future: Option<F>,
    shared: Arc<RawShared<F::Output>>,
}

impl<F: Future> fmt::Debug for TaskCell<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskCell")
            .field("finished", &self.future.is_none())
            .finish()
    }
}

impl<F: Future> Future for TaskCell<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if this.future.is_none() {
            return Poll::Ready(());
        }
        if this.shared.cancel_requested.load(Ordering::Acquire) {
            let dropped = catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
            this.shared.finish(match dropped {
                Ok(()) => Err(JoinError::Cancelled),
                Err(p) => Err(JoinError::panicked(p)),
            });
            return Poll::Ready(());
        }
        let fut = this.future.as_mut().as_pin_mut().expect("checked above");
        let polled = AssertUnwindSafe(fut).catch_unwind().poll(cx);
        let result = match polled {
            Poll::Pending => {
                // Register for a cancel only now (a task finished at its first poll never
                // clones its waker). A cancel requested since the check above is seen here,
                // under the lock it is requested under: poll again at once to act on it.
                let mut st = this.shared.lock();
                if this.shared.cancel_requested.load(Ordering::Acquire) {
                    drop(st);
                    cx.waker().wake_by_ref();
                } else {
                    let replaced = replace_waker(&mut st.task_waker, cx.waker());
                    drop(st);
                    drop(replaced);
                }
                return Poll::Pending;
            }
            Poll::Ready(Ok(v)) => Ok(v),
            Poll::Ready(Err(p)) => Err(JoinError::panicked(p)),
        };
        // Drop the future before announcing the result, so a waiter sees it gone.
        let dropped = catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
        this.shared.finish(match (result, dropped) {
            (Ok(v), Ok(())) => Ok(v),
            (Err(e), _) => Err(e),
            (Ok(_), Err(p)) => Err(JoinError::panicked(p)),
        });
        Poll::Ready(())
    }
}

#[pin_project::pinned_drop]
impl<F: Future> PinnedDrop for TaskCell<F> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        if this.future.is_some() {
            // The executor dropped the task without finishing it (for example at shutdown).
            let dropped = catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
            this.shared.finish(match dropped {
                Ok(()) => Err(JoinError::Cancelled),
                Err(p) => Err(JoinError::panicked(p)),
            });
        }
    }
}

/// Wraps `future` into a [`TaskCell`] to spawn on any executor, and the [`JoinHandle`] that
/// controls it.
///
/// This is how a [`Runtime`](crate::Runtime) implementation for an executor whose own handles
/// do not cancel, or do not report panics, provides normalised handles: spawn the cell detached,
/// return the handle. The async-std adapter works this way.
///
/// # Examples
///
/// ```
/// let (cell, handle) = wrangle_rt::adapter::task_pair(async { 40 + 2 });
/// // Any executor can run the cell; here, a plain `block_on`.
/// futures_lite::future::block_on(cell);
/// assert_eq!(futures_lite::future::block_on(handle).unwrap(), 42);
/// ```
pub fn task_pair<F: Future>(future: F) -> (TaskCell<F>, JoinHandle<F::Output>) {
    let shared = Arc::new(RawShared {
        cancel_requested: AtomicBool::new(false),
        state: ShortLock::new(RawState {
            phase: Phase::Pending,
            handle_gone: false,
            task_waker: None,
            join_waker: None,
        }),
    });
    let handle = JoinHandle::from_cell(shared.clone());
    (
        TaskCell {
            future: Some(future),
            shared,
        },
        handle,
    )
}

/// Wraps blocking work `f` into a [`BlockingCell`] to run on any thread, and the [`JoinHandle`]
/// that awaits it.
///
/// Dropping the handle before the cell runs means the work never runs; once it runs, blocking
/// work cannot be interrupted.
///
/// # Examples
///
/// ```
/// let (cell, handle) = wrangle_rt::adapter::blocking_pair(|| 6 * 7);
/// std::thread::spawn(move || cell.run()).join().unwrap();
/// assert_eq!(futures_lite::future::block_on(handle).unwrap(), 42);
/// ```
pub fn blocking_pair<F, T>(f: F) -> (BlockingCell<F, T>, JoinHandle<T>)
where
    F: FnOnce() -> T,
{
    let (cell, handle) = task_pair(BlockingFuture { f: Some(f) });
    (BlockingCell { cell }, handle)
}

/// Blocking work wrapped by [`blocking_pair`]; call [`run`](BlockingCell::run) on a thread that
/// may block.
#[must_use = "a BlockingCell does nothing unless it is run"]
pub struct BlockingCell<F: FnOnce() -> T, T> {
    cell: TaskCell<BlockingFuture<F>>,
}

impl<F: FnOnce() -> T, T> fmt::Debug for BlockingCell<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingCell").finish_non_exhaustive()
    }
}

impl<F: FnOnce() -> T, T> BlockingCell<F, T> {
    /// Runs the work on the current thread (unless its handle was dropped or cancelled first)
    /// and delivers the result to the handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let (cell, handle) = wrangle_rt::adapter::blocking_pair(|| "done");
    /// cell.run();
    /// assert_eq!(futures_lite::future::block_on(handle).unwrap(), "done");
    /// ```
    pub fn run(self) {
        let mut cell = std::pin::pin!(self.cell);
        // A BlockingFuture completes on its first poll, so a no-op waker is enough.
        let mut cx = Context::from_waker(Waker::noop());
        let _ = cell.as_mut().poll(&mut cx);
    }
}

struct BlockingFuture<F> {
    f: Option<F>,
}

impl<F> Unpin for BlockingFuture<F> {}

impl<F: FnOnce() -> T, T> Future for BlockingFuture<F> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        let f = self.f.take().expect("blocking work polled twice");
        Poll::Ready(f())
    }
}

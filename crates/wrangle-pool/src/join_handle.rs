//! [`PoolJoinHandle`]: the handle of a pooled task, and [`Cancel`], its cancel-and-wait future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{JoinError, PanicPayload};

use crate::joint::JointHandle;

use crate::TaskError;
use crate::job::{FailureKind, JobOutcome};
use crate::worker::{WorkerCtx, with_current};

/// An owned permission to await a pooled task's output.
///
/// Resolves to `Ok(output)` or a [`TaskError`]. Like every wrangle handle, **dropping it cancels
/// the task** (a queued task then never runs); [`detach`](PoolJoinHandle::detach) lets it run,
/// its output dropped and its failure (timeout, panic) sent to the pool's error reporter.
/// [`abort`](PoolJoinHandle::abort) requests the cancellation and keeps the handle to await;
/// [`cancel`](PoolJoinHandle::cancel) cancels and waits until the task's future is gone.
///
/// # Examples
///
/// Three ways to end with a task: await it, let it run on, or cancel it.
///
/// ```
/// use std::time::Duration;
/// use wrangle_pool::TaskPool;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let pool = TaskPool::unbounded_with_runtime(rt.clone());
/// rt.block_on(async {
///     let answer = pool.spawn(async { 7 }).unwrap();
///     assert_eq!(answer.await.unwrap(), 7);
///
///     let log = pool.spawn({
///         let rt = rt.clone();
///         async move { rt.sleep(Duration::from_millis(5)).await }
///     });
///     log.unwrap().detach(); // runs to its end without a handle
///
///     let forever = pool.spawn(std::future::pending::<()>()).unwrap();
///     assert!(forever.cancel().await.unwrap_err().is_cancelled());
/// });
/// rt.block_on(pool.shutdown());
/// let s = pool.stats();
/// assert_eq!((s.completed, s.cancelled), (2, 1));
/// ```
///
/// # Cancel safety
///
/// Dropping the `.await` drops the handle and cancels the task; nothing is left running.
#[must_use = "dropping a PoolJoinHandle cancels the task at once, and so does `let _ = pool.spawn(..)` (unlike Tokio); keep the handle, call `.detach()`, or submit fire-and-forget work with `spawn_detached`"]
pub struct PoolJoinHandle<T> {
    inner: JointHandle<JobOutcome<T>>,
    marks: Marks,
}

/// Two facts about a handle in one word (a handle is three words: a long `Vec` of them stays
/// in cache longer): whether [`PoolJoinHandle::abort`] requested the cancellation (bit 0),
/// and the worker that submitted the task if it is the only worker of the task's pool (the
/// rest: its `WorkerCtx::id`, an address aligned to 128, or 0), for the task cannot start
/// while that worker waits for it.
#[derive(Clone, Copy)]
struct Marks(usize);

impl Marks {
    const ABORTED: usize = 1;

    fn aborted(self) -> bool {
        self.0 & Self::ABORTED != 0
    }

    fn sole_worker(self) -> Option<usize> {
        Some(self.0 & !Self::ABORTED).filter(|&id| id != 0)
    }
}

impl<T> fmt::Debug for PoolJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolJoinHandle")
            .field("finished", &self.is_finished())
            .field("aborted", &self.marks.aborted())
            .finish()
    }
}

fn map<T>(r: Result<JobOutcome<T>, JoinError>) -> Result<T, TaskError> {
    match r {
        Ok(JobOutcome::Done(v)) => Ok(v),
        Ok(JobOutcome::Failed(f)) => Err(match (*f).take() {
            FailureKind::TimedOut => TaskError::TimedOut,
            FailureKind::Panicked(p) => TaskError::Panicked(PanicPayload::new(p)),
        }),
        Err(JoinError::Panicked(p)) => Err(TaskError::Panicked(p)),
        Err(_) => Err(TaskError::Cancelled),
    }
}

impl<T> PoolJoinHandle<T> {
    pub(crate) fn new(inner: JointHandle<JobOutcome<T>>, sole_worker: Option<usize>) -> Self {
        let id = sole_worker.unwrap_or(0);
        debug_assert_eq!(id & Marks::ABORTED, 0, "a worker's id is aligned");
        PoolJoinHandle {
            inner,
            marks: Marks(id),
        }
    }

    /// Lets the task run without a handle. After [`abort`](Self::abort), the cancellation
    /// goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_pool::TaskPool;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = TaskPool::unbounded_with_runtime(rt.clone());
    /// pool.spawn(async { println!("fire and forget") }).unwrap().detach();
    /// rt.block_on(pool.shutdown());
    /// assert_eq!(pool.stats().completed, 1);
    /// ```
    pub fn detach(self) {
        if self.marks.aborted() {
            // Dropped, the handle lets the requested cancellation go on.
            drop(self.inner);
        } else {
            self.inner.detach();
        }
    }

    /// Returns `true` once the task has ended. After [`abort`](Self::abort), `false` until
    /// the handle resolved: the handle no longer sees the task, only the cancellation's end.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        !self.marks.aborted() && self.inner.is_finished()
    }

    /// Requests the task's cancellation and returns at once, never waiting (tokio's
    /// `JoinHandle::abort`). The handle then resolves to [`TaskError::Cancelled`] once the
    /// task's future is gone, or to the task's output if it had already finished. A queued
    /// task never runs. Calling it again does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_pool::TaskPool;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = TaskPool::unbounded_with_runtime(rt.clone());
    /// let mut h = pool.spawn(std::future::pending::<()>()).unwrap();
    /// h.abort(); // from sync code: nothing to wait for here
    /// assert!(rt.block_on(h).unwrap_err().is_cancelled());
    /// assert_eq!(pool.stats().cancelled, 1);
    /// ```
    pub fn abort(&mut self)
    where
        T: Send + 'static,
    {
        if !self.marks.aborted() {
            self.inner.request_cancel();
            self.marks.0 |= Marks::ABORTED;
        }
    }

    /// Cancels the task and returns a future that resolves once its future has been dropped:
    /// to [`TaskError::Cancelled`], or to the task's output if it had already finished.
    ///
    /// # Examples
    ///
    /// The task's destructor has run when the cancel resolves:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use wrangle_pool::TaskPool;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// struct Flag(Arc<AtomicBool>);
    /// impl Drop for Flag {
    ///     fn drop(&mut self) { self.0.store(true, Ordering::SeqCst) }
    /// }
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = TaskPool::unbounded_with_runtime(rt.clone());
    /// let dropped = Arc::new(AtomicBool::new(false));
    /// let flag = Flag(dropped.clone());
    /// rt.block_on(async {
    ///     let h = pool.spawn(async move { let _flag = flag; std::future::pending::<()>().await }).unwrap();
    ///     wrangle_rt::yield_now().await; // let it start
    ///     assert!(h.cancel().await.unwrap_err().is_cancelled());
    ///     assert!(dropped.load(Ordering::SeqCst));
    /// });
    /// ```
    pub fn cancel(self) -> Cancel<T>
    where
        T: Send + 'static,
    {
        if !self.marks.aborted() {
            self.inner.request_cancel();
        }
        Cancel { inner: self.inner }
    }

    /// Blocks the current (non-async) thread until the task ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_pool::ThreadedPool;
    ///
    /// let pool = ThreadedPool::builder().name("doc").build().unwrap();
    /// let h = pool.spawn(async { 2 + 2 }).unwrap();
    /// assert_eq!(h.join_blocking().unwrap(), 4);
    /// ```
    ///
    /// # Panics
    ///
    /// Never by itself; do not call it from async code, where it would block the executor.
    pub fn join_blocking(self) -> Result<T, TaskError> {
        futures_lite::future::block_on(self)
    }
}

impl<T> Future for PoolJoinHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let marks = self.marks;
        let polled = Pin::new(&mut self.inner).poll(cx).map(map);
        if polled.is_pending()
            && !marks.aborted()
            && let Some(id) = marks.sole_worker()
        {
            // Waited for on the worker that must run it, after this wait: for ever.
            if with_current(WorkerCtx::id) == Some(id) {
                return Poll::Ready(Err(TaskError::WouldDeadlock));
            }
        }
        polled
    }
}

/// Future returned by [`PoolJoinHandle::cancel`]: resolves once the task's future has been
/// dropped (or to its output, if it had finished first).
///
/// # Cancel safety
///
/// The cancellation is requested when `cancel` is called; dropping this future only stops the
/// waiting, the task is cancelled all the same.
#[must_use = "the task is cancelled already; `.await` this to wait until it is gone"]
pub struct Cancel<T> {
    inner: JointHandle<JobOutcome<T>>,
}

impl<T> fmt::Debug for Cancel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel").finish_non_exhaustive()
    }
}

impl<T> Future for Cancel<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx).map(map)
    }
}

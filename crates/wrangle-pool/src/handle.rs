//! [`PoolHandle`]: the handle of a pooled task.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{JoinError, JoinHandle, PanicPayload};

use crate::TaskError;
use crate::job::{FailureKind, Outcome};
use crate::worker::{WorkerCtx, with_current};

/// An owned permission to await a pooled task's output.
///
/// Resolves to `Ok(output)` or a [`TaskError`]. Like every wrangle handle, **dropping it cancels
/// the task** (a queued task then never runs); [`detach`](PoolHandle::detach) lets it run, its
/// output dropped and its failure (timeout, panic) sent to the pool's error handler.
///
/// # Examples
///
/// ```
/// use wrangle_pool::TaskPool;
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let pool = TaskPool::with_runtime(rt.clone(), None);
/// let handle = pool.spawn(async { 7 }).unwrap();
/// assert_eq!(rt.block_on(handle).unwrap(), 7);
/// ```
///
/// # Cancel safety
///
/// Dropping the `.await` drops the handle and cancels the task; nothing is left running.
#[must_use = "dropping a PoolHandle cancels the task at once, and so does `let _ = pool.spawn(..)` (unlike Tokio); keep the handle, call `.detach()`, or submit fire-and-forget work with `spawn_detached`"]
pub struct PoolHandle<T> {
    inner: JoinHandle<Outcome<T>>,
    /// The worker that submitted the task, if it is the only worker of the task's pool: the
    /// task cannot start while that worker waits for it.
    sole_worker: Option<usize>,
}

impl<T> fmt::Debug for PoolHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolHandle")
            .field("finished", &self.inner.is_finished())
            .finish()
    }
}

fn map<T>(r: Result<Outcome<T>, JoinError>) -> Result<T, TaskError> {
    match r {
        Ok(Outcome::Done(v)) => Ok(v),
        Ok(Outcome::Failed(f)) => Err(match f.take() {
            FailureKind::TimedOut => TaskError::TimedOut,
            FailureKind::Panicked(p) => TaskError::Panicked(PanicPayload::new(p)),
        }),
        Err(JoinError::Panicked(p)) => Err(TaskError::Panicked(p)),
        Err(_) => Err(TaskError::Cancelled),
    }
}

impl<T> PoolHandle<T> {
    pub(crate) fn new(inner: JoinHandle<Outcome<T>>, sole_worker: Option<usize>) -> Self {
        PoolHandle { inner, sole_worker }
    }

    /// Lets the task run without a handle.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_pool::TaskPool;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = TaskPool::with_runtime(rt.clone(), None);
    /// pool.spawn(async { println!("fire and forget") }).unwrap().detach();
    /// rt.block_on(pool.shutdown());
    /// assert_eq!(pool.stats().completed, 1);
    /// ```
    pub fn detach(self) {
        self.inner.detach();
    }

    /// Returns `true` once the task has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_pool::TaskPool;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = TaskPool::with_runtime(rt.clone(), None);
    /// let h = pool.spawn(async {}).unwrap();
    /// assert!(!h.is_finished());
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// Cancels the task and waits until its future has been dropped. Resolves to its output if
    /// it had already finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_pool::TaskPool;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = TaskPool::with_runtime(rt.clone(), None);
    /// let h = pool.spawn(std::future::pending::<()>()).unwrap();
    /// assert!(rt.block_on(h.cancel()).unwrap_err().is_cancelled());
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The cancellation is requested at once; dropping the future only stops the waiting.
    pub async fn cancel(self) -> Result<T, TaskError>
    where
        T: Send + 'static,
    {
        map(self.inner.cancel().await)
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

impl<T> Future for PoolHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let polled = Pin::new(&mut self.inner).poll(cx).map(map);
        if polled.is_pending()
            && let Some(id) = self.sole_worker
        {
            // Waited for on the worker that must run it, after this wait: for ever.
            if with_current(WorkerCtx::id) == Some(id) {
                return Poll::Ready(Err(TaskError::WouldDeadlock));
            }
        }
        polled
    }
}

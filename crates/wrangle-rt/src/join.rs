//! Normalised task handles: [`JoinHandle`], [`JoinError`] and [`PanicPayload`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Waker};

use futures_lite::FutureExt;

use crate::adapter::task_cell::{RawJoin, RawShared};
use crate::loom::IgnorePoison;

/// The panic payload captured from a task, as `std::panic::catch_unwind` returns it.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// The payload of a panic captured inside a task.
///
/// The payload is kept so it can be re-raised with [`PanicPayload::resume`], and its message
/// (when the panic was raised with a string, as `panic!` does) is kept for display.
pub struct PanicPayload {
    message: Option<String>,
    // A `Mutex` makes the payload `Sync`, so `JoinError` can travel inside `Box<dyn Error + Send + Sync>`.
    payload: StdMutex<Payload>,
}

impl PanicPayload {
    /// Wraps a payload caught with `std::panic::catch_unwind`, for wrappers that capture
    /// panics themselves.
    ///
    /// # Examples
    ///
    /// ```
    /// let caught = std::panic::catch_unwind(|| panic!("oops")).unwrap_err();
    /// let p = wrangle_rt::PanicPayload::new(caught);
    /// assert_eq!(p.message(), Some("oops"));
    /// ```
    pub fn new(payload: Box<dyn Any + Send + 'static>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            Some((*s).to_owned())
        } else {
            payload.downcast_ref::<String>().cloned()
        };
        PanicPayload {
            message,
            payload: StdMutex::new(payload),
        }
    }

    /// The panic message, when the panic was raised with a string.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{JoinError, Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let err = rt.spawn(async { panic!("boom") }).await.unwrap_err();
    ///     match err {
    ///         JoinError::Panicked(p) => assert_eq!(p.message(), Some("boom")),
    ///         other => panic!("unexpected {other}"),
    ///     }
    /// });
    /// ```
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Returns the raw payload, as `std::panic::catch_unwind` returns it.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let err = rt.block_on(rt.spawn(async { std::panic::panic_any(7_u32) })).unwrap_err();
    /// let payload = err.into_panic().unwrap().into_inner();
    /// assert_eq!(payload.downcast_ref::<u32>(), Some(&7));
    /// ```
    #[must_use]
    pub fn into_inner(self) -> Box<dyn Any + Send + 'static> {
        self.payload.into_inner().ignore_poison()
    }

    /// Re-raises the panic on the current thread.
    ///
    /// # Examples
    ///
    /// ```should_panic
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let err = rt.block_on(rt.spawn(async { panic!("boom") })).unwrap_err();
    /// err.into_panic().unwrap().resume();
    /// ```
    pub fn resume(self) -> ! {
        std::panic::resume_unwind(self.into_inner())
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicPayload")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "task panicked: {m}"),
            None => f.write_str("task panicked"),
        }
    }
}

/// A caught panic is an error like any other, so user code that panicked can travel in a
/// `Result`, a `Box<dyn Error>` or an `anyhow::Error` beside the errors it could have returned.
impl std::error::Error for PanicPayload {}

/// Why a task produced no output.
#[derive(Debug)]
#[non_exhaustive]
pub enum JoinError {
    /// The task was cancelled (its handle was cancelled or dropped, or its runtime shut down)
    /// before it finished. Its future has been dropped.
    Cancelled,
    /// The task panicked; the panic was caught and did not reach the runtime.
    Panicked(PanicPayload),
}

impl JoinError {
    /// Returns `true` if the task was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::JoinError;
    /// assert!(JoinError::Cancelled.is_cancelled());
    /// ```
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// Returns `true` if the task panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::JoinError;
    /// assert!(!JoinError::Cancelled.is_panic());
    /// ```
    #[must_use]
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// Returns the panic payload if the task panicked.
    ///
    /// # Errors
    ///
    /// Returns `self` unchanged if the task was cancelled instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::JoinError;
    /// assert!(JoinError::Cancelled.into_panic().is_err());
    /// ```
    pub fn into_panic(self) -> Result<PanicPayload, JoinError> {
        match self {
            JoinError::Panicked(p) => Ok(p),
            other => Err(other),
        }
    }

    pub(crate) fn panicked(payload: Payload) -> Self {
        JoinError::Panicked(PanicPayload::new(payload))
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("task was cancelled"),
            JoinError::Panicked(p) => fmt::Display::fmt(p, f),
        }
    }
}

impl std::error::Error for JoinError {}

/// An owned permission to await a spawned task.
///
/// Resolves to `Ok(output)` when the task finishes, or to a [`JoinError`] when it was cancelled or
/// panicked. The behaviour is the same on every runtime:
///
/// - **Dropping the handle cancels the task** (structured by default; Tokio's own handle would
///   detach). Call [`detach`](JoinHandle::detach) to let it run on.
/// - [`cancel`](JoinHandle::cancel) cancels the task and waits until its future has been dropped.
/// - A panic inside the task is captured and returned as [`JoinError::Panicked`]; it never takes
///   down the runtime, a worker thread, or the awaiting task.
///
/// # Examples
///
/// ```
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let handle = rt.spawn(async { 1 + 1 });
///     assert_eq!(handle.await.unwrap(), 2);
/// });
/// ```
///
/// # Cancel safety
///
/// Awaiting a `JoinHandle` is cancel safe in the sense that dropping the `.await` (together with
/// the handle) cancels the task: the output is never silently lost while the task runs on. To keep
/// the task running, [`detach`](JoinHandle::detach) it first.
#[must_use = "dropping a JoinHandle cancels the task at once, and so does `let _ = rt.spawn(..)` (unlike Tokio); keep the handle, or call `.detach()` to let the task run on its own"]
pub struct JoinHandle<T> {
    // `ManuallyDrop` so that a joined handle's drop is one comparison, not a call to the
    // enum's drop glue: `poll` drops what it took before it writes `Done`, and `Drop` takes
    // each variant's contents itself (every other variant holds an `Option`, `None` once
    // taken), so nothing is left behind.
    inner: ManuallyDrop<Inner<T>>,
}

type CancelFuture<T> = Pin<Box<dyn Future<Output = Result<T, JoinError>> + Send>>;

enum Inner<T> {
    // Tokio catches panics itself and reports them in its `JoinError`.
    #[cfg(feature = "runtime-tokio")]
    Tokio(Option<tokio::task::JoinHandle<T>>),
    // Spawned with `propagate_panic(true)`: a panic is stored and re-raised when the handle is
    // polled, where it is caught again.
    Task(Option<async_task::FallibleTask<T>>),
    Raw(Option<Arc<RawShared<T>>>),
    /// After `abort`: the cancellation was requested; this resolves when it took effect. In a
    /// `Mutex` only so the handle stays `Sync`: it is reached through `&mut` (`get_mut`), never
    /// locked. Boxed so the rare variant does not make every handle bigger.
    Aborted(Option<Box<StdMutex<CancelFuture<T>>>>),
    /// The output was returned: nothing is left to drop (a joined handle's drop is one
    /// comparison).
    Done,
}

impl<T> JoinHandle<T> {
    /// The handle of a task run by a [`TaskCell`](crate::adapter::TaskCell).
    pub(crate) fn from_cell(shared: Arc<RawShared<T>>) -> Self {
        JoinHandle {
            inner: ManuallyDrop::new(Inner::Raw(Some(shared))),
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    #[cfg(feature = "runtime-tokio")]
    pub(crate) fn from_tokio(handle: tokio::task::JoinHandle<T>) -> Self {
        JoinHandle {
            inner: ManuallyDrop::new(Inner::Tokio(Some(handle))),
        }
    }

    /// From an async-task handle whose task was spawned with `propagate_panic(true)`.
    pub(crate) fn from_task(task: async_task::Task<T>) -> Self {
        JoinHandle {
            inner: ManuallyDrop::new(Inner::Task(Some(task.fallible()))),
        }
    }

    /// Returns `true` if the task has finished (completed, panicked or been cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let handle = rt.spawn(async {});
    ///     assert!(!handle.is_finished());
    ///     wrangle_rt::yield_now().await;
    ///     assert!(handle.is_finished());
    /// });
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        match &*self.inner {
            #[cfg(feature = "runtime-tokio")]
            Inner::Tokio(h) => h.as_ref().is_none_or(|h| h.is_finished()),
            Inner::Task(t) => t.as_ref().is_none_or(|t| t.is_finished()),
            Inner::Raw(s) => s.as_ref().is_none_or(|s| s.lock().phase.is_done()),
            // Not known until the handle is polled; `false` keeps "finished" a promise.
            Inner::Aborted(f) => f.is_none(),
            Inner::Done => true,
        }
    }

    /// Lets the task run to completion without a handle; its output is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let done = Arc::new(AtomicBool::new(false));
    /// let flag = done.clone();
    /// rt.block_on(async {
    ///     rt.spawn(async move { flag.store(true, Ordering::SeqCst) }).detach();
    ///     wrangle_rt::yield_now().await;
    /// });
    /// assert!(done.load(Ordering::SeqCst));
    /// ```
    pub fn detach(mut self) {
        match &mut *self.inner {
            // Tokio's handle detaches when dropped.
            #[cfg(feature = "runtime-tokio")]
            Inner::Tokio(h) => drop(h.take()),
            Inner::Task(t) => {
                if let Some(t) = t.take() {
                    t.detach();
                }
            }
            Inner::Raw(s) => {
                if let Some(s) = s.take() {
                    s.release(false);
                }
            }
            // Already cancelled: nothing is left to run on.
            Inner::Aborted(f) => drop(f.take()),
            Inner::Done => {}
        }
    }

    /// Requests the task's cancellation and returns at once; the handle stays awaitable.
    ///
    /// Awaiting the handle afterwards resolves as [`cancel`](Self::cancel)'s future does:
    /// `Err(JoinError::Cancelled)` once the future has been dropped, or the task's own result
    /// if it finished first. Aborting twice is harmless, and so is aborting a handle already
    /// joined (through `&mut`). Tokio's `JoinHandle::abort`, on every runtime.
    ///
    /// # Examples
    ///
    /// A supervisor that stops a worker now and collects its result later:
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut worker = rt.spawn(std::future::pending::<u32>());
    ///     worker.abort(); // never waits
    ///     // ... other shutdown work ...
    ///     assert!(worker.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&mut self)
    where
        T: Send + 'static,
    {
        if matches!(*self.inner, Inner::Aborted(_) | Inner::Done) {
            return;
        }
        let mut cancel = self.take_cancel();
        // One poll makes the request for every kind of task (async-task's `cancel` is lazy);
        // it cannot be ready unless the task already finished.
        let mut cx = Context::from_waker(Waker::noop());
        // The old variant was emptied by `take_cancel`: assigning drops nothing that matters.
        *self.inner = match cancel.as_mut().poll(&mut cx) {
            Poll::Ready(out) => Inner::Aborted(Some(Box::new(StdMutex::new(Box::pin(
                std::future::ready(out),
            ))))),
            Poll::Pending => Inner::Aborted(Some(Box::new(StdMutex::new(cancel)))),
        };
    }

    /// Cancels the task and waits until its future has been dropped.
    ///
    /// Resolves to `Ok(output)` if the task finished before the cancellation took effect,
    /// to `Err(JoinError::Cancelled)` once the future has been dropped, or to
    /// `Err(JoinError::Panicked)` if it panicked. A task that never started never runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let handle = rt.spawn(std::future::pending::<()>());
    ///     assert!(handle.cancel().await.unwrap_err().is_cancelled());
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The cancellation is requested when `cancel` is called; dropping the returned future
    /// before it completes still cancels the task but does not wait for it.
    pub fn cancel(mut self) -> Cancel<T>
    where
        T: Send + 'static,
    {
        Cancel {
            fut: self.take_cancel(),
        }
    }

    /// Requests the cancellation and returns the future that waits for it, leaving the handle
    /// empty.
    fn take_cancel(&mut self) -> CancelFuture<T>
    where
        T: Send + 'static,
    {
        match &mut *self.inner {
            #[cfg(feature = "runtime-tokio")]
            Inner::Tokio(h) => {
                let h = h.take().expect("JoinHandle polled after completion");
                h.abort();
                Box::pin(async move { map_tokio(h.await) })
            }
            Inner::Task(t) => {
                let t = t.take().expect("JoinHandle polled after completion");
                Box::pin(async move {
                    match AssertUnwindSafe(t.cancel()).catch_unwind().await {
                        Ok(Some(v)) => Ok(v),
                        Ok(None) => Err(JoinError::Cancelled),
                        Err(p) => Err(JoinError::panicked(p)),
                    }
                })
            }
            Inner::Raw(s) => {
                let s = s.take().expect("JoinHandle polled after completion");
                s.request_cancel();
                Box::pin(RawJoin { shared: Some(s) })
            }
            Inner::Aborted(f) => f
                .take()
                .expect("JoinHandle polled after completion")
                .into_inner()
                .ignore_poison(),
            Inner::Done => panic!("JoinHandle polled after completion"),
        }
    }
}

#[cfg(feature = "runtime-tokio")]
fn map_tokio<T>(r: Result<T, tokio::task::JoinError>) -> Result<T, JoinError> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => match e.try_into_panic() {
            Ok(p) => Err(JoinError::panicked(p)),
            Err(_) => Err(JoinError::Cancelled),
        },
    }
}

impl<T> JoinHandle<T> {
    /// After the output was returned: the contents were dropped by `poll`; writing over the
    /// `ManuallyDrop` drops nothing (what is overwritten is an emptied variant).
    #[inline]
    fn set_done(&mut self) {
        self.inner = ManuallyDrop::new(Inner::Done);
    }

    /// `Drop` of a handle that was not joined: cancels, detaches or releases the task.
    #[inline(never)]
    fn release(&mut self) {
        // Every variant's contents are taken and dropped here: `inner` is a `ManuallyDrop`.
        match &mut *self.inner {
            #[cfg(feature = "runtime-tokio")]
            Inner::Tokio(h) => {
                if let Some(h) = h.take() {
                    h.abort();
                }
            }
            // Dropping an async-task handle cancels the task.
            Inner::Task(t) => drop(t.take()),
            Inner::Raw(s) => {
                if let Some(s) = s.take() {
                    s.release(true);
                }
            }
            // Dropping the cancel future of an aborted task waits for nothing.
            Inner::Aborted(f) => drop(f.take()),
            Inner::Done => {}
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    #[inline]
    fn drop(&mut self) {
        if !matches!(*self.inner, Inner::Done) {
            self.release();
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut *self.inner {
            #[cfg(feature = "runtime-tokio")]
            Inner::Tokio(slot) => {
                let h = slot.as_mut().expect("JoinHandle polled after completion");
                let out = std::task::ready!(Pin::new(h).poll(cx));
                drop(slot.take());
                self.set_done();
                Poll::Ready(map_tokio(out))
            }
            Inner::Task(slot) => {
                let t = slot.as_mut().expect("JoinHandle polled after completion");
                let out = match catch_unwind(AssertUnwindSafe(|| Pin::new(t).poll(cx))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(Some(v))) => Ok(v),
                    Ok(Poll::Ready(None)) => Err(JoinError::Cancelled),
                    Err(p) => Err(JoinError::panicked(p)),
                };
                drop(slot.take());
                self.set_done();
                Poll::Ready(out)
            }
            Inner::Raw(slot) => {
                let s = slot.as_ref().expect("JoinHandle polled after completion");
                let out = std::task::ready!(s.poll_join(cx));
                drop(slot.take());
                self.set_done();
                Poll::Ready(out)
            }
            Inner::Aborted(slot) => {
                let f = slot.as_mut().expect("JoinHandle polled after completion");
                let f = f.get_mut().ignore_poison();
                let out = std::task::ready!(f.as_mut().poll(cx));
                drop(slot.take());
                self.set_done();
                Poll::Ready(out)
            }
            Inner::Done => panic!("JoinHandle polled after completion"),
        }
    }
}

/// Future returned by [`JoinHandle::cancel`].
///
/// # Cancel safety
///
/// Dropping it still cancels the task, but does not wait for the task's future to be dropped.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Cancel<T> {
    fut: Pin<Box<dyn Future<Output = Result<T, JoinError>> + Send>>,
}

impl<T> fmt::Debug for Cancel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel").finish_non_exhaustive()
    }
}

impl<T> Future for Cancel<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.fut.as_mut().poll(cx)
    }
}

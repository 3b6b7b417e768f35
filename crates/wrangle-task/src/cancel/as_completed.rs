//! [`as_completed`]: run futures as tasks and yield their outputs in completion order.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::Stream;
use wrangle_rt::{DefaultRuntime, JoinError, JoinHandle, PanicPayload, Runtime};

use crate::concurrent::future_set::FutureSet;

type Starter<T> = Box<dyn FnOnce() -> Vec<JoinHandle<T>> + Send>;

/// Runs every future as a task on [`DefaultRuntime::current`] and yields their outputs in
/// **completion order**, each `Ok(output)` or a [`JoinError`] (a panic).
///
/// The tasks start when the stream is first polled. To leave early and wait until the rest are
/// gone, call [`cancel`](AsCompleted::cancel); dropping the stream cancels them without waiting.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures_lite::StreamExt;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let order: Vec<u64> = rt.block_on(async {
///     let jobs = [30u64, 20, 10].map(|ms| {
///         let rt = rt.clone();
///         async move {
///             rt.sleep(Duration::from_millis(ms)).await;
///             ms
///         }
///     });
///     wrangle_task::as_completed(jobs).map(Result::unwrap).collect().await
/// });
/// assert_eq!(order, [10, 20, 30]);
/// ```
///
/// # Panics
///
/// Like [`DefaultRuntime::current`].
///
/// # Cancel safety
///
/// Dropping a pending `next()` loses nothing. Dropping the stream cancels the tasks still
/// running without waiting; [`cancel`](AsCompleted::cancel) cancels and waits.
pub fn as_completed<I>(futures: I) -> AsCompleted<<I::Item as Future>::Output>
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Future + Send + 'static,
    <I::Item as Future>::Output: Send + 'static,
{
    as_completed_with_runtime(DefaultRuntime::current(), futures)
}

/// [`as_completed`] on a given runtime.
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let s = wrangle_task::as_completed_with_runtime(rt.clone(), (1..=2).map(|i| async move { i }));
/// assert_eq!(rt.block_on(s.count()), 2);
/// ```
///
/// # Cancel safety
///
/// As for [`as_completed`].
pub fn as_completed_with_runtime<R, I>(
    rt: R,
    futures: I,
) -> AsCompleted<<I::Item as Future>::Output>
where
    R: Runtime,
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Future + Send + 'static,
    <I::Item as Future>::Output: Send + 'static,
{
    let futures = futures.into_iter();
    AsCompleted {
        start: Some(Box::new(move || futures.map(|f| rt.spawn(f)).collect())),
        slots: FutureSet::default(),
    }
}

/// The stream of [`as_completed`].
///
/// # Cancel safety
///
/// Dropping a pending `next()` loses nothing. Dropping the stream cancels the tasks still
/// running without waiting; [`cancel`](AsCompleted::cancel) cancels and waits.
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<T> {
    start: Option<Starter<T>>,
    slots: FutureSet<JoinHandle<T>>,
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("started", &self.start.is_none())
            .field("remaining", &self.slots.len())
            .finish()
    }
}

// Outputs are only moved, never pinned.
impl<T> Unpin for AsCompleted<T> {}

impl<T: Send + 'static> AsCompleted<T> {
    /// Cancels the tasks still running and waits until they are gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use futures_lite::StreamExt;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// struct Count(Arc<AtomicUsize>);
    /// impl Drop for Count {
    ///     fn drop(&mut self) { self.0.fetch_add(1, Ordering::SeqCst); }
    /// }
    ///
    /// let rt = VirtualRuntime::new();
    /// let dropped = Arc::new(AtomicUsize::new(0));
    /// rt.block_on(async {
    ///     let slow: Vec<_> = (0..3).map(|_| {
    ///         let c = Count(dropped.clone());
    ///         async move { let _c = c; std::future::pending::<()>().await }
    ///     }).collect();
    ///     let mut s = wrangle_task::as_completed_with_runtime(rt.clone(), slow);
    ///     let _ = futures_lite::future::poll_once(s.next()).await;
    ///     s.cancel().await;
    /// });
    /// assert_eq!(dropped.load(Ordering::SeqCst), 3);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future still cancels the tasks, without waiting.
    pub fn cancel(mut self) -> CancelRemaining {
        self.start = None;
        let cancels: Vec<_> = self
            .slots
            .take_all()
            .into_iter()
            .map(JoinHandle::cancel)
            .collect();
        CancelRemaining {
            inner: Box::pin(async move {
                for c in cancels {
                    let _ = c.await;
                }
            }),
        }
    }
}

impl<T> Stream for AsCompleted<T> {
    type Item = Result<T, JoinError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(start) = self.start.take() {
            for h in start() {
                self.slots.insert(h);
            }
        }
        match self.slots.poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Ok(out))) => Poll::Ready(Some(out)),
            Poll::Ready(Some(Err(p))) => {
                Poll::Ready(Some(Err(JoinError::Panicked(PanicPayload::new(p)))))
            }
        }
    }
}

/// Terminated once the tasks were started and every output was yielded: the next poll
/// returns `None`.
impl<T> futures_core::stream::FusedStream for AsCompleted<T> {
    fn is_terminated(&self) -> bool {
        self.start.is_none() && self.slots.pending() == 0
    }
}

/// The future of [`AsCompleted::cancel`].
///
/// # Cancel safety
///
/// Dropping it still cancels the tasks, without waiting.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct CancelRemaining {
    inner: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl fmt::Debug for CancelRemaining {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelRemaining").finish_non_exhaustive()
    }
}

impl Future for CancelRemaining {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

//! [`gather`]: run futures as tasks and collect every output in input order.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{DefaultRuntime, JoinError, Runtime};

type Gathered<T> = Vec<Result<T, JoinError>>;

/// Runs every future as a task on [`DefaultRuntime::current`] and resolves to their outputs in
/// **input order**, each `Ok(output)` or a [`JoinError`] (a panic), errors inline.
///
/// The tasks start when the returned future is first polled and run concurrently (in parallel
/// on a multi-thread runtime). A future returning `Result` keeps its own errors inline too.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// let out = rt.block_on(async {
///     let jobs = [30u64, 20, 10].map(|ms| {
///         let rt = rt.clone();
///         async move {
///             rt.sleep(Duration::from_millis(ms)).await;
///             ms
///         }
///     });
///     wrangle_task::gather(jobs).await
/// });
/// let out: Vec<u64> = out.into_iter().map(Result::unwrap).collect();
/// assert_eq!(out, [30, 20, 10]);
/// assert_eq!(rt.now() - start, Duration::from_millis(30));
/// ```
///
/// # Panics
///
/// Like [`DefaultRuntime::current`].
///
/// # Cancel safety
///
/// Dropping the future cancels every task still running, without waiting; no partial results.
pub fn gather<I>(futures: I) -> Gather<<I::Item as Future>::Output>
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Future + Send + 'static,
    <I::Item as Future>::Output: Send + 'static,
{
    gather_with_runtime(DefaultRuntime::current(), futures)
}

/// [`gather`] on a given runtime.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let jobs = (1..=2).map(|i| async move { i * 10 });
/// let out = rt.block_on(wrangle_task::gather_with_runtime(rt.clone(), jobs));
/// assert_eq!(out.len(), 2);
/// ```
///
/// # Cancel safety
///
/// Dropping the future cancels every task still running, without waiting.
pub fn gather_with_runtime<R, I>(rt: R, futures: I) -> Gather<<I::Item as Future>::Output>
where
    R: Runtime,
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Future + Send + 'static,
    <I::Item as Future>::Output: Send + 'static,
{
    let futures = futures.into_iter();
    Gather {
        inner: Box::pin(async move {
            let handles: Vec<_> = futures.map(|f| rt.spawn(f)).collect();
            let mut out = Vec::with_capacity(handles.len());
            for h in handles {
                out.push(h.await);
            }
            out
        }),
    }
}

/// The future of [`gather`].
///
/// # Cancel safety
///
/// Dropping it cancels every task still running, without waiting.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Gather<T> {
    inner: Pin<Box<dyn Future<Output = Gathered<T>> + Send>>,
}

impl<T> fmt::Debug for Gather<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gather").finish_non_exhaustive()
    }
}

impl<T> Future for Gather<T> {
    type Output = Vec<Result<T, JoinError>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

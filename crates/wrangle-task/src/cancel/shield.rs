//! [`shield`]: run a future to completion even if its caller is cancelled.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{DefaultRuntime, JoinError, JoinHandle, Runtime};

/// Runs `future` to completion even if the caller stops waiting, on
/// [`DefaultRuntime::current`].
///
/// The future runs as its own task; awaiting the shield gives its output. If the shield is
/// dropped (the caller was cancelled), the task is detached and runs to the end. Shields nest:
/// an inner shield lives inside an outer one, so the outermost decides. Use it around a cleanup
/// block that must not be cut short.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_task::shield;
///
/// let rt = VirtualRuntime::new();
/// let saved = Arc::new(AtomicBool::new(false));
/// rt.block_on(async {
///     let (rt2, flag) = (rt.clone(), saved.clone());
///     let cleanup = shield(async move {
///         rt2.sleep(Duration::from_millis(10)).await;
///         flag.store(true, Ordering::SeqCst);
///     });
///     // The caller gives up after 1 ms; the shielded work still completes.
///     assert!(rt.timeout(Duration::from_millis(1), cleanup).await.is_err());
///     rt.sleep(Duration::from_millis(20)).await;
/// });
/// assert!(saved.load(Ordering::SeqCst));
/// ```
///
/// # Panics
///
/// Like [`DefaultRuntime::current`].
///
/// # Cancel safety
///
/// This is the point: dropping the returned future does not stop the work.
pub fn shield<F>(future: F) -> Shield<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    shield_with_runtime(DefaultRuntime::current(), future)
}

/// [`shield`] on a given runtime.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let v = rt.block_on(wrangle_task::shield_with_runtime(rt.clone(), async { 5 }));
/// assert_eq!(v.unwrap(), 5);
/// ```
///
/// # Cancel safety
///
/// Dropping the returned future does not stop the work.
pub fn shield_with_runtime<R, F>(rt: R, future: F) -> Shield<F::Output>
where
    R: Runtime,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Shield {
        handle: Some(rt.spawn(future)),
    }
}

/// The future of [`shield`]: resolves to the shielded future's output, or a [`JoinError`] if it
/// panicked (or its runtime dropped it).
///
/// # Cancel safety
///
/// Dropping it lets the shielded work run to completion, detached.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Shield<T> {
    handle: Option<JoinHandle<T>>,
}

impl<T> fmt::Debug for Shield<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shield")
            .field("done", &self.handle.is_none())
            .finish()
    }
}

impl<T> Future for Shield<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let handle = self
            .handle
            .as_mut()
            .expect("Shield polled after completion");
        let out = std::task::ready!(Pin::new(handle).poll(cx));
        self.handle = None;
        Poll::Ready(out)
    }
}

impl<T> Drop for Shield<T> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.detach();
        }
    }
}

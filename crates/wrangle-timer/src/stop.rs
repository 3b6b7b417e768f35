//! [`Stop`]: the future of stopping a task-owning timer and waiting until it is gone.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{CancellationToken, JoinHandle};

/// The future returned by the `stop` methods: completes once the timer's tasks, including a
/// call in progress, have been cancelled and dropped, with the timer's final counters.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_timer::PeriodicTask;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let task = PeriodicTask::with_runtime(rt.clone(), Duration::from_secs(1), || async {})
///         .unwrap();
///     let stats = task.stop().await;
///     assert_eq!(stats.calls, 1);
/// });
/// ```
///
/// # Cancel safety
///
/// Stopping is requested when `stop` is called; dropping this future does not undo it, it only
/// stops waiting for the tasks to be gone.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Stop<T> {
    inner: Pin<Box<dyn Future<Output = T> + Send>>,
}

impl<T> Stop<T> {
    pub(crate) fn new(inner: impl Future<Output = T> + Send + 'static) -> Self {
        Stop {
            inner: Box::pin(inner),
        }
    }
}

impl<T> fmt::Debug for Stop<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stop").finish_non_exhaustive()
    }
}

impl<T> Future for Stop<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.inner.as_mut().poll(cx)
    }
}

/// The driver task of a timer, with the token that asks it to wind down.
///
/// Dropping it cancels the token and the task (whose calls are then cancelled as their handles
/// drop); [`stop`](Driver::stop) lets the driver cancel and await its calls first.
#[derive(Debug)]
pub(crate) struct Driver {
    token: CancellationToken,
    handle: Option<JoinHandle<()>>,
}

impl Driver {
    pub(crate) fn new(token: CancellationToken, handle: JoinHandle<()>) -> Self {
        Driver {
            token,
            handle: Some(handle),
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Asks the driver to wind down, waits for it, then returns `finally()`.
    pub(crate) fn stop<T>(mut self, finally: impl FnOnce() -> T + Send + 'static) -> Stop<T> {
        self.token.cancel();
        let handle = self.handle.take();
        Stop::new(async move {
            if let Some(h) = handle {
                let _ = h.await;
            }
            finally()
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

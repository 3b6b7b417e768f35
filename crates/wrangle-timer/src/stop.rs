//! [`Stop`]: the future of stopping a task-owning timer and waiting until it is gone.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{CancellationToken, JoinHandle};

/// The future returned by the `stop` methods: completes once the timer's tasks, including a
/// call in progress, have been cancelled and dropped.
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
///     task.stop().await;
/// });
/// ```
///
/// # Cancel safety
///
/// Stopping is requested when `stop` is called; dropping this future does not undo it, it only
/// stops waiting for the tasks to be gone.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Stop {
    inner: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Stop {
    pub(crate) fn new(inner: impl Future<Output = ()> + Send + 'static) -> Self {
        Stop {
            inner: Box::pin(inner),
        }
    }
}

impl fmt::Debug for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stop").finish_non_exhaustive()
    }
}

impl Future for Stop {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
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

    pub(crate) fn stop(mut self) -> Stop {
        self.token.cancel();
        let handle = self.handle.take();
        Stop::new(async move {
            if let Some(h) = handle {
                let _ = h.await;
            }
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

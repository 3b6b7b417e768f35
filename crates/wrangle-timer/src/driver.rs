//! The driver task of a task-owning timer, and [`Cancel`]: the future of cancelling it and
//! waiting until it is gone.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{CancellationToken, DefaultRuntime, JoinHandle, Runtime};

/// The runtime a builder was given with `runtime(rt)`, else the
/// [current runtime](DefaultRuntime::current). Only a builder of the default runtime type can
/// be without one: `runtime(rt)` is what changes the type.
pub(crate) fn runtime_or_current<R: Runtime>(rt: Option<R>) -> R {
    rt.unwrap_or_else(|| {
        let current: Box<dyn Any> = Box::new(DefaultRuntime::current());
        match current.downcast::<R>() {
            Ok(rt) => *rt,
            Err(_) => unreachable!("only a builder of the default runtime has no runtime"),
        }
    })
}

/// The future returned by the `cancel` methods of [`PeriodicTask`](crate::PeriodicTask),
/// [`Timer`](crate::Timer) and [`ScheduledTask`](crate::ScheduledTask): completes once the
/// owner's tasks, including a call in progress, have been cancelled and dropped, with the
/// owner's final stats (`S`).
///
/// # Examples
///
/// A task whose call never ends: `cancel` ends the call, waits until it is gone, and the final
/// stats say so.
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::PeriodicTask;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let task = PeriodicTask::with_runtime(rt.clone(), Duration::from_secs(1), || {
///         std::future::pending::<()>()
///     })
///     .unwrap();
///     rt.sleep(Duration::from_secs(5)).await;
///     let cancel: wrangle_timer::future::Cancel<_> = task.cancel();
///     let stats = cancel.await;
///     assert_eq!((stats.started, stats.cancelled, stats.running), (1, 1, 0));
/// });
/// ```
///
/// # Cancel safety
///
/// The cancellation is requested when `cancel` is called; dropping this future does not undo
/// it, it only stops waiting for the tasks to be gone.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Cancel<S> {
    inner: Pin<Box<dyn Future<Output = S> + Send>>,
}

impl<S> Cancel<S> {
    fn new(inner: impl Future<Output = S> + Send + 'static) -> Self {
        Cancel {
            inner: Box::pin(inner),
        }
    }
}

impl<S> fmt::Debug for Cancel<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel").finish_non_exhaustive()
    }
}

impl<S> Future for Cancel<S> {
    type Output = S;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<S> {
        self.inner.as_mut().poll(cx)
    }
}

/// The driver task of a timer, with the token that asks it to wind down.
///
/// Dropping it cancels the token and the task (whose calls are then cancelled as their handles
/// drop); [`cancel`](Driver::cancel) lets the driver cancel and await its calls first.
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

    /// Asks the driver to wind down (cancelling its calls), without waiting.
    pub(crate) fn abort(&self) {
        self.token.cancel();
    }

    /// Asks the driver to wind down, waits for it, then returns `finally()`.
    pub(crate) fn cancel<S>(mut self, finally: impl FnOnce() -> S + Send + 'static) -> Cancel<S> {
        self.token.cancel();
        let handle = self.handle.take();
        Cancel::new(async move {
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

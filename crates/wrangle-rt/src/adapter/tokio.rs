use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::{JoinHandle, Runtime, Sleep};

/// The Tokio adapter: a [`tokio::runtime::Handle`].
///
/// The runtime behind the handle must have its time driver enabled (`enable_time` or
/// `enable_all` on the builder, as `#[tokio::main]` does) for sleeps and timeouts.
///
/// # Examples
///
/// ```
/// use wrangle_rt::{Runtime, adapter::TokioRuntime};
///
/// let tokio_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let rt = TokioRuntime::new(tokio_rt.handle().clone());
/// let out = tokio_rt.block_on(rt.spawn(async { 5 }));
/// assert_eq!(out.unwrap(), 5);
/// ```
#[derive(Clone)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl fmt::Debug for TokioRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioRuntime")
            .field("flavor", &self.handle.runtime_flavor())
            .finish()
    }
}

impl TokioRuntime {
    /// Wraps a Tokio runtime handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let tokio_rt = tokio::runtime::Runtime::new().unwrap();
    /// let rt = wrangle_rt::adapter::TokioRuntime::new(tokio_rt.handle().clone());
    /// # drop(rt);
    /// ```
    #[must_use]
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        TokioRuntime { handle }
    }

    /// The Tokio runtime of the current context, if there is one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(wrangle_rt::adapter::TokioRuntime::try_current().is_none());
    /// ```
    #[must_use]
    pub fn try_current() -> Option<Self> {
        tokio::runtime::Handle::try_current()
            .ok()
            .map(TokioRuntime::new)
    }

    /// The wrapped handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let tokio_rt = tokio::runtime::Runtime::new().unwrap();
    /// let rt = wrangle_rt::adapter::TokioRuntime::new(tokio_rt.handle().clone());
    /// let _handle: &tokio::runtime::Handle = rt.handle();
    /// ```
    #[must_use]
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Runtime for TokioRuntime {
    type Sleep = TokioSleep;

    #[inline]
    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        JoinHandle::from_tokio(self.handle.spawn(future))
    }

    fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // Tokio catches a panic in blocking work too.
        JoinHandle::from_tokio(self.handle.spawn_blocking(f))
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    fn monotonic_nanos(&self) -> u64 {
        crate::adapter::fast_nanos()
    }

    fn wall_now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    fn sleep_until(&self, deadline: Instant) -> TokioSleep {
        // Tokio's timer is found through the runtime context, which the caller may not be in.
        let _guard = self.handle.enter();
        TokioSleep {
            inner: tokio::time::sleep_until(deadline.into()),
            deadline,
        }
    }

    fn name(&self) -> &'static str {
        "tokio"
    }
}

/// The sleep of [`TokioRuntime`]: a `tokio::time::Sleep`.
#[pin_project::pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct TokioSleep {
    #[pin]
    inner: tokio::time::Sleep,
    deadline: Instant,
}

impl fmt::Debug for TokioSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioSleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Future for TokioSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().inner.poll(cx)
    }
}

impl Sleep for TokioSleep {
    fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.project();
        *this.deadline = deadline;
        this.inner.reset(deadline.into());
    }

    fn deadline(&self) -> Instant {
        self.deadline
    }
}

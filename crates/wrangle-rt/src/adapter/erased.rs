//! Any [`Runtime`] behind one concrete type: [`ErasedRuntime`], so a runtime of your own can
//! be a [`DefaultRuntime`] (and so be [entered](DefaultRuntime::enter) as the default).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::adapter::{blocking_pair, task_pair};
use crate::{DefaultRuntime, JoinHandle, Runtime, Sleep};

/// A boxed task as an erased runtime receives it: it runs the user's future and stores its
/// output for the typed [`JoinHandle`].
type BoxedTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The object-safe face of a [`Runtime`].
trait DynRuntime: Send + Sync + fmt::Debug + 'static {
    fn spawn_boxed(&self, task: BoxedTask) -> JoinHandle<()>;
    fn spawn_blocking_boxed(&self, f: Box<dyn FnOnce() + Send>) -> JoinHandle<()>;
    fn now(&self) -> Instant;
    fn monotonic_nanos(&self) -> u64;
    fn wall_now(&self) -> jiff::Timestamp;
    fn sleep_until_boxed(&self, deadline: Instant) -> Pin<Box<dyn Sleep>>;
    fn name(&self) -> &'static str;
    fn as_any(&self) -> &dyn Any;
}

impl<R: Runtime> DynRuntime for R {
    fn spawn_boxed(&self, task: BoxedTask) -> JoinHandle<()> {
        self.spawn(task)
    }

    fn spawn_blocking_boxed(&self, f: Box<dyn FnOnce() + Send>) -> JoinHandle<()> {
        self.spawn_blocking(f)
    }

    fn now(&self) -> Instant {
        Runtime::now(self)
    }

    fn monotonic_nanos(&self) -> u64 {
        Runtime::monotonic_nanos(self)
    }

    fn wall_now(&self) -> jiff::Timestamp {
        Runtime::wall_now(self)
    }

    fn sleep_until_boxed(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(self.sleep_until(deadline))
    }

    fn name(&self) -> &'static str {
        Runtime::name(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Any [`Runtime`] behind one type, so that a runtime of your own can be a
/// [`DefaultRuntime`] and be made the default of a thread or a future with
/// [`DefaultRuntime::enter`] / [`DefaultRuntime::scoped`].
///
/// Every wrangle type is generic over its runtime and defaults to [`DefaultRuntime`], which
/// names the runtimes this crate adapts. A runtime you implement yourself (an executor of your
/// own, an instrumented wrapper around one of ours) reaches the types that ask for the default
/// through this wrapper: [`DefaultRuntime::enter`] and [`DefaultRuntime::scoped`] take any
/// runtime and wrap it as needed ([`DefaultRuntime::from_runtime`] picks the built-in variant
/// when `mine` is one of this crate's runtimes and erases it otherwise).
///
/// The cost is one allocation and one dynamic call per spawn and per sleep, on top of your
/// runtime's own. A spawned task runs in a [`TaskCell`](crate::adapter::TaskCell) spawned (and
/// detached) on your runtime, so the returned [`JoinHandle`] has the same contract on every
/// runtime: dropping it cancels the task, panics are caught and returned as
/// [`JoinError`](crate::JoinError), `cancel` waits for the task to be gone.
///
/// # Examples
///
/// A runtime of one's own (here a wrapper that counts spawns), made the default of a thread;
/// code that asks for [`DefaultRuntime::current`] uses it:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::time::{Duration, Instant};
/// use std::future::Future;
///
/// use wrangle_rt::{DefaultRuntime, JoinHandle, Runtime, VirtualRuntime};
///
/// #[derive(Clone, Debug)]
/// struct Counting {
///     inner: VirtualRuntime,
///     spawned: Arc<AtomicUsize>,
/// }
///
/// impl Runtime for Counting {
///     type Sleep = <VirtualRuntime as Runtime>::Sleep;
///     fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
///     where
///         F: Future + Send + 'static,
///         F::Output: Send + 'static,
///     {
///         self.spawned.fetch_add(1, Ordering::Relaxed);
///         self.inner.spawn(future)
///     }
///     fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
///     where
///         F: FnOnce() -> T + Send + 'static,
///         T: Send + 'static,
///     {
///         self.inner.spawn_blocking(f)
///     }
///     fn now(&self) -> Instant { self.inner.now() }
///     fn wall_now(&self) -> jiff::Timestamp { self.inner.wall_now() }
///     fn sleep_until(&self, deadline: Instant) -> Self::Sleep { self.inner.sleep_until(deadline) }
///     fn name(&self) -> &'static str { "counting" }
/// }
///
/// let sim = VirtualRuntime::new();
/// let mine = Counting { inner: sim.clone(), spawned: Arc::default() };
/// // `enter` takes any runtime and erases it as needed.
/// let _default = DefaultRuntime::enter(mine.clone());
///
/// let rt = DefaultRuntime::current();
/// assert!(matches!(rt, DefaultRuntime::Erased(_)));
/// assert_eq!(rt.name(), "counting");
/// let out = sim.block_on(async {
///     rt.sleep(Duration::from_secs(1)).await;
///     rt.spawn(async { 6 * 7 }).await
/// });
/// assert_eq!(out.unwrap(), 42);
/// assert_eq!(mine.spawned.load(Ordering::Relaxed), 1);
/// ```
#[derive(Clone)]
pub struct ErasedRuntime {
    inner: Arc<dyn DynRuntime>,
}

impl fmt::Debug for ErasedRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ErasedRuntime").field(&self.inner).finish()
    }
}

impl ErasedRuntime {
    /// Erases `rt`. An `ErasedRuntime` given again is not wrapped twice.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::adapter::ErasedRuntime;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = ErasedRuntime::new(VirtualRuntime::new());
    /// assert_eq!(rt.name(), "virtual");
    /// assert_eq!(ErasedRuntime::new(rt.clone()).name(), "virtual");
    /// ```
    pub fn new<R: Runtime>(rt: R) -> Self {
        if let Some(erased) = (&rt as &dyn Any).downcast_ref::<ErasedRuntime>() {
            return erased.clone();
        }
        ErasedRuntime {
            inner: Arc::new(rt),
        }
    }

    /// The runtime inside, if it is an `R`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::adapter::ErasedRuntime;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = ErasedRuntime::new(VirtualRuntime::new());
    /// assert!(rt.downcast_ref::<VirtualRuntime>().is_some());
    /// ```
    #[must_use]
    pub fn downcast_ref<R: Runtime>(&self) -> Option<&R> {
        self.inner.as_any().downcast_ref::<R>()
    }
}

impl Runtime for ErasedRuntime {
    type Sleep = ErasedSleep;

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (cell, handle) = task_pair(future);
        self.inner.spawn_boxed(Box::pin(cell)).detach();
        handle
    }

    fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (cell, handle) = blocking_pair(f);
        self.inner
            .spawn_blocking_boxed(Box::new(move || cell.run()))
            .detach();
        handle
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn monotonic_nanos(&self) -> u64 {
        self.inner.monotonic_nanos()
    }

    fn wall_now(&self) -> jiff::Timestamp {
        self.inner.wall_now()
    }

    fn sleep_until(&self, deadline: Instant) -> ErasedSleep {
        ErasedSleep {
            inner: self.inner.sleep_until_boxed(deadline),
        }
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

/// The sleep of an [`ErasedRuntime`]: the erased runtime's own sleep, boxed.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ErasedSleep {
    inner: Pin<Box<dyn Sleep>>,
}

impl fmt::Debug for ErasedSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ErasedSleep").field(&self.inner).finish()
    }
}

impl Future for ErasedSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl Sleep for ErasedSleep {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.inner.as_mut().reset(deadline);
    }

    fn deadline(&self) -> Instant {
        self.inner.deadline()
    }
}

impl From<ErasedRuntime> for DefaultRuntime {
    fn from(rt: ErasedRuntime) -> Self {
        DefaultRuntime::Erased(rt)
    }
}

impl DefaultRuntime {
    /// `rt` as a `DefaultRuntime`: the matching variant when `rt` is one of this crate's
    /// runtimes (or a `DefaultRuntime` already), [`DefaultRuntime::Erased`] otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::adapter::ErasedRuntime;
    /// use wrangle_rt::{DefaultRuntime, VirtualRuntime};
    ///
    /// // A built-in runtime keeps its own variant (no erasure, no extra cost):
    /// assert!(DefaultRuntime::from_runtime(VirtualRuntime::new()).is_virtual());
    /// // and so does one that was erased on the way:
    /// let erased = ErasedRuntime::new(VirtualRuntime::new());
    /// assert!(DefaultRuntime::from_runtime(erased).is_virtual());
    /// ```
    pub fn from_runtime<R: Runtime>(rt: R) -> DefaultRuntime {
        let any: &dyn Any = &rt;
        if let Some(rt) = any.downcast_ref::<DefaultRuntime>() {
            return rt.clone();
        }
        if let Some(erased) = any.downcast_ref::<ErasedRuntime>() {
            return builtin(erased.inner.as_any()).unwrap_or_else(|| erased.clone().into());
        }
        builtin(any).unwrap_or_else(|| ErasedRuntime::new(rt).into())
    }
}

/// The built-in variant for `rt`, if it is one of this crate's runtimes.
fn builtin(rt: &dyn Any) -> Option<DefaultRuntime> {
    if let Some(rt) = rt.downcast_ref::<DefaultRuntime>() {
        return Some(rt.clone());
    }
    if let Some(rt) = rt.downcast_ref::<crate::VirtualRuntime>() {
        return Some(rt.clone().into());
    }
    #[cfg(feature = "runtime-tokio")]
    if let Some(rt) = rt.downcast_ref::<crate::adapter::TokioRuntime>() {
        return Some(rt.clone().into());
    }
    #[cfg(feature = "runtime-smol")]
    if let Some(rt) = rt.downcast_ref::<crate::adapter::SmolRuntime>() {
        return Some(rt.clone().into());
    }
    #[cfg(feature = "runtime-async-std")]
    if let Some(rt) = rt.downcast_ref::<crate::adapter::AsyncStdRuntime>() {
        return Some(rt.clone().into());
    }
    None
}

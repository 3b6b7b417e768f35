//! [`DefaultRuntime`]: the runtime picked at run time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

#[cfg(feature = "runtime-async-std")]
use crate::adapter::AsyncStdRuntime;
#[cfg(feature = "runtime-smol")]
use crate::adapter::SmolRuntime;
#[cfg(any(feature = "runtime-smol", feature = "runtime-async-std"))]
use crate::future::AsyncIoSleep;
use crate::{JoinHandle, Runtime, Sleep, VirtualRuntime, future::VirtualSleep};
#[cfg(feature = "runtime-tokio")]
use crate::{adapter::TokioRuntime, future::TokioSleep};

/// One of the runtimes this build supports, chosen at run time.
///
/// [`DefaultRuntime::current`] picks, in order:
///
/// 1. the runtime you made the default with [`DefaultRuntime::enter`] or
///    [`DefaultRuntime::scoped`] (your own smol `Executor`, a dedicated Tokio runtime...);
/// 2. the [`VirtualRuntime`] whose `block_on` is running on this thread;
/// 3. Tokio, when called inside a Tokio runtime context (feature `runtime-tokio`);
/// 4. async-std, when called inside an async-std task (feature `runtime-async-std`);
/// 5. smol's global executor (feature `runtime-smol`);
/// 6. async-std's global runtime, if it is the only adapter enabled.
///
/// So a library type built with the default runtime "just works" in a Tokio app, in a smol app,
/// and on virtual time in tests. Every wrangle type also has a `with_runtime` constructor for
/// an explicit choice.
///
/// # Examples
///
/// ```
/// use wrangle_rt::{DefaultRuntime, Runtime, VirtualRuntime};
///
/// let vrt = VirtualRuntime::new();
/// vrt.block_on(async {
///     let rt = DefaultRuntime::current();
///     assert_eq!(rt.name(), "virtual");
/// });
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum DefaultRuntime {
    /// Tokio.
    #[cfg(feature = "runtime-tokio")]
    Tokio(TokioRuntime),
    /// smol.
    #[cfg(feature = "runtime-smol")]
    Smol(SmolRuntime),
    /// async-std (legacy).
    #[cfg(feature = "runtime-async-std")]
    AsyncStd(AsyncStdRuntime),
    /// The virtual-time runtime.
    Virtual(VirtualRuntime),
    /// Any other [`Runtime`], erased: a runtime of your own
    /// ([`ErasedRuntime`](crate::adapter::ErasedRuntime), [`DefaultRuntime::from_runtime`]).
    Erased(crate::adapter::ErasedRuntime),
}

impl fmt::Debug for DefaultRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "runtime-tokio")]
            DefaultRuntime::Tokio(rt) => fmt::Debug::fmt(rt, f),
            #[cfg(feature = "runtime-smol")]
            DefaultRuntime::Smol(rt) => fmt::Debug::fmt(rt, f),
            #[cfg(feature = "runtime-async-std")]
            DefaultRuntime::AsyncStd(rt) => fmt::Debug::fmt(rt, f),
            DefaultRuntime::Virtual(rt) => fmt::Debug::fmt(rt, f),
            DefaultRuntime::Erased(rt) => fmt::Debug::fmt(rt, f),
        }
    }
}

impl From<VirtualRuntime> for DefaultRuntime {
    fn from(rt: VirtualRuntime) -> Self {
        DefaultRuntime::Virtual(rt)
    }
}

#[cfg(feature = "runtime-tokio")]
impl From<TokioRuntime> for DefaultRuntime {
    fn from(rt: TokioRuntime) -> Self {
        DefaultRuntime::Tokio(rt)
    }
}

#[cfg(feature = "runtime-smol")]
impl From<SmolRuntime> for DefaultRuntime {
    fn from(rt: SmolRuntime) -> Self {
        DefaultRuntime::Smol(rt)
    }
}

#[cfg(feature = "runtime-async-std")]
impl From<AsyncStdRuntime> for DefaultRuntime {
    fn from(rt: AsyncStdRuntime) -> Self {
        DefaultRuntime::AsyncStd(rt)
    }
}

/// No runtime is available: no runtime feature is enabled and no [`VirtualRuntime`] is running
/// on this thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRuntime {
    _priv: (),
}

impl fmt::Display for NoRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "no async runtime available: this build has no runtime feature. Enable one on the \
             wrangle crate you depend on, for example `wrangle-pool = { version = \"0.1\", \
             features = [\"runtime-tokio\"] }` in a Tokio app or `features = [\"runtime-smol\"]` \
             in a smol app (every wrangle crate forwards `runtime-tokio`, `runtime-smol` and \
             `runtime-async-std` to wrangle-rt), or run inside a VirtualRuntime or pass a runtime \
             with `with_runtime`",
        )
    }
}

impl std::error::Error for NoRuntime {}

impl DefaultRuntime {
    /// Picks the runtime for the current context, as described on [`DefaultRuntime`].
    ///
    /// # Errors
    ///
    /// [`NoRuntime`] when the build has no runtime feature and no [`VirtualRuntime`] is
    /// running on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::DefaultRuntime::try_current();
    /// # let _ = rt;
    /// ```
    pub fn try_current() -> Result<Self, NoRuntime> {
        if let Some(rt) = crate::enter::entered() {
            return Ok(rt);
        }
        if let Some(rt) = VirtualRuntime::try_current() {
            return Ok(DefaultRuntime::Virtual(rt));
        }
        #[cfg(feature = "runtime-tokio")]
        if let Some(rt) = TokioRuntime::try_current() {
            return Ok(DefaultRuntime::Tokio(rt));
        }
        #[cfg(feature = "runtime-async-std")]
        if async_std::task::try_current().is_some() {
            return Ok(DefaultRuntime::AsyncStd(AsyncStdRuntime::new()));
        }
        #[cfg(feature = "runtime-smol")]
        return Ok(DefaultRuntime::Smol(SmolRuntime::new()));
        #[cfg(all(feature = "runtime-async-std", not(feature = "runtime-smol")))]
        return Ok(DefaultRuntime::AsyncStd(AsyncStdRuntime::new()));
        #[allow(unreachable_code)] // Reached only when no runtime feature is enabled.
        Err(NoRuntime { _priv: () })
    }

    /// Picks the runtime for the current context, as described on [`DefaultRuntime`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{DefaultRuntime, Runtime};
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     assert_eq!(DefaultRuntime::current().name(), "virtual");
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// Only in a build with no runtime feature, outside a [`VirtualRuntime`]; use
    /// [`try_current`](DefaultRuntime::try_current) to handle that case.
    #[must_use]
    pub fn current() -> Self {
        match DefaultRuntime::try_current() {
            Ok(rt) => rt,
            Err(e) => panic!("{e}"),
        }
    }

    /// Returns `true` for the virtual-time runtime, whose clocks tests may assert exactly.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{DefaultRuntime, VirtualRuntime};
    /// assert!(DefaultRuntime::Virtual(VirtualRuntime::new()).is_virtual());
    /// ```
    #[must_use]
    pub fn is_virtual(&self) -> bool {
        matches!(self, DefaultRuntime::Virtual(_))
    }

    /// The virtual runtime, if this is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{DefaultRuntime, VirtualRuntime};
    /// assert!(DefaultRuntime::Virtual(VirtualRuntime::new()).as_virtual().is_some());
    /// ```
    #[must_use]
    pub fn as_virtual(&self) -> Option<&VirtualRuntime> {
        match self {
            DefaultRuntime::Virtual(rt) => Some(rt),
            #[allow(unreachable_patterns)] // Only the virtual variant exists without features.
            _ => None,
        }
    }
}

macro_rules! each {
    ($self:expr, $rt:ident => $e:expr) => {
        match $self {
            #[cfg(feature = "runtime-tokio")]
            DefaultRuntime::Tokio($rt) => $e,
            #[cfg(feature = "runtime-smol")]
            DefaultRuntime::Smol($rt) => $e,
            #[cfg(feature = "runtime-async-std")]
            DefaultRuntime::AsyncStd($rt) => $e,
            DefaultRuntime::Virtual($rt) => $e,
            DefaultRuntime::Erased($rt) => $e,
        }
    };
}

impl Runtime for DefaultRuntime {
    type Sleep = DefaultSleep;

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        each!(self, rt => rt.spawn(future))
    }

    fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        each!(self, rt => rt.spawn_blocking(f))
    }

    fn now(&self) -> Instant {
        each!(self, rt => rt.now())
    }

    #[inline]
    fn monotonic_nanos(&self) -> u64 {
        each!(self, rt => rt.monotonic_nanos())
    }

    fn wall_now(&self) -> jiff::Timestamp {
        each!(self, rt => rt.wall_now())
    }

    fn sleep_until(&self, deadline: Instant) -> DefaultSleep {
        let inner = match self {
            #[cfg(feature = "runtime-tokio")]
            DefaultRuntime::Tokio(rt) => SleepInner::Tokio(rt.sleep_until(deadline)),
            #[cfg(feature = "runtime-smol")]
            DefaultRuntime::Smol(rt) => SleepInner::AsyncIo(rt.sleep_until(deadline)),
            #[cfg(feature = "runtime-async-std")]
            DefaultRuntime::AsyncStd(rt) => SleepInner::AsyncIo(rt.sleep_until(deadline)),
            DefaultRuntime::Virtual(rt) => SleepInner::Virtual(rt.sleep_until(deadline)),
            DefaultRuntime::Erased(rt) => SleepInner::Erased(rt.sleep_until(deadline)),
        };
        DefaultSleep { inner }
    }

    fn name(&self) -> &'static str {
        each!(self, rt => rt.name())
    }
}

/// The sleep of [`DefaultRuntime`].
#[pin_project::pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct DefaultSleep {
    #[pin]
    inner: SleepInner,
}

#[pin_project::pin_project(project = SleepProj)]
enum SleepInner {
    #[cfg(feature = "runtime-tokio")]
    Tokio(#[pin] TokioSleep),
    #[cfg(any(feature = "runtime-smol", feature = "runtime-async-std"))]
    AsyncIo(#[pin] AsyncIoSleep),
    Virtual(#[pin] VirtualSleep),
    Erased(#[pin] crate::adapter::ErasedSleep),
}

impl fmt::Debug for DefaultSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultSleep")
            .field("deadline", &self.deadline())
            .finish()
    }
}

impl Future for DefaultSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project().inner.project() {
            #[cfg(feature = "runtime-tokio")]
            SleepProj::Tokio(s) => s.poll(cx),
            #[cfg(any(feature = "runtime-smol", feature = "runtime-async-std"))]
            SleepProj::AsyncIo(s) => s.poll(cx),
            SleepProj::Virtual(s) => s.poll(cx),
            SleepProj::Erased(s) => s.poll(cx),
        }
    }
}

impl Sleep for DefaultSleep {
    fn reset(self: Pin<&mut Self>, deadline: Instant) {
        match self.project().inner.project() {
            #[cfg(feature = "runtime-tokio")]
            SleepProj::Tokio(s) => s.reset(deadline),
            #[cfg(any(feature = "runtime-smol", feature = "runtime-async-std"))]
            SleepProj::AsyncIo(s) => s.reset(deadline),
            SleepProj::Virtual(s) => s.reset(deadline),
            SleepProj::Erased(s) => s.reset(deadline),
        }
    }

    fn deadline(&self) -> Instant {
        match &self.inner {
            #[cfg(feature = "runtime-tokio")]
            SleepInner::Tokio(s) => s.deadline(),
            #[cfg(any(feature = "runtime-smol", feature = "runtime-async-std"))]
            SleepInner::AsyncIo(s) => s.deadline(),
            SleepInner::Virtual(s) => s.deadline(),
            SleepInner::Erased(s) => s.deadline(),
        }
    }
}

/// Runs `future` to completion on a fresh runtime of this build, for `main` functions,
/// examples and tools: a multi-thread Tokio runtime if `runtime-tokio` is enabled, else smol,
/// else async-std (legacy), else a [`VirtualRuntime`].
///
/// Inside, [`DefaultRuntime::current`] picks that same runtime. Library code never calls this.
///
/// # Examples
///
/// ```
/// use wrangle_rt::{DefaultRuntime, Runtime};
///
/// let out = wrangle_rt::block_on(async {
///     DefaultRuntime::current().spawn(async { 20 + 1 }).await.unwrap()
/// });
/// assert_eq!(out, 21);
/// ```
///
/// # Panics
///
/// If the Tokio runtime cannot be built (the OS refused its threads), or if called inside a
/// Tokio runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    #[cfg(feature = "runtime-tokio")]
    {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("failed to build a Tokio runtime")
            .block_on(future)
    }
    #[cfg(all(not(feature = "runtime-tokio"), feature = "runtime-smol"))]
    {
        smol::block_on(future)
    }
    #[cfg(all(
        not(feature = "runtime-tokio"),
        not(feature = "runtime-smol"),
        feature = "runtime-async-std"
    ))]
    {
        async_std::task::block_on(future)
    }
    #[cfg(not(any(
        feature = "runtime-tokio",
        feature = "runtime-smol",
        feature = "runtime-async-std"
    )))]
    {
        VirtualRuntime::new().block_on(future)
    }
}

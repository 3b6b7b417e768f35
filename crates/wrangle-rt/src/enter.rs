//! Making a runtime the default for a thread or for one future: [`DefaultRuntime::enter`] and
//! [`DefaultRuntime::scoped`].

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::{DefaultRuntime, Runtime};

thread_local! {
    /// The runtime entered on this thread, innermost first; `None` when nothing is entered.
    static ENTERED: RefCell<Option<DefaultRuntime>> = const { RefCell::new(None) };
}

/// The runtime entered on this thread, if any.
pub(crate) fn entered() -> Option<DefaultRuntime> {
    // `try_with`: during thread teardown the slot may be gone; nothing is entered then.
    ENTERED.try_with(|e| e.borrow().clone()).ok().flatten()
}

/// Replaces the entered runtime and returns the previous one.
fn replace(rt: Option<DefaultRuntime>) -> Option<DefaultRuntime> {
    ENTERED
        .try_with(|e| std::mem::replace(&mut *e.borrow_mut(), rt))
        .ok()
        .flatten()
}

/// Keeps a runtime entered on this thread; dropping it restores what was entered before.
///
/// Returned by [`DefaultRuntime::enter`]. Guards nest: drop them in reverse order of creation
/// (dropping an outer guard first restores the runtime that was entered before it).
#[must_use = "the runtime stays the default only while the guard is alive; dropping it at once restores the previous default"]
pub struct EnterGuard {
    previous: Option<DefaultRuntime>,
    // The entered runtime belongs to this thread's stack of scopes.
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard")
            .field("previous", &self.previous)
            .finish()
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        replace(self.previous.take());
    }
}

impl DefaultRuntime {
    /// Makes `rt` what [`DefaultRuntime::current`] returns on this thread until the guard is
    /// dropped.
    ///
    /// Use it to make your own executor the default instead of passing it to every
    /// constructor: a smol app that drives its own `async_executor::Executor` enters a
    /// [`SmolRuntime::with_executor`](crate::adapter::SmolRuntime::with_executor) once, and every wrangle
    /// type built on this thread spawns onto that executor. For the tasks that executor runs
    /// on other threads, drive it inside [`scoped`](DefaultRuntime::scoped)
    /// (`DefaultRuntime::scoped(rt, ex.run(..))`): everything it polls then sees it too, at no
    /// cost per task.
    ///
    /// Any [`Runtime`] can be entered: this crate's runtimes keep their own variant, a runtime
    /// of your own is wrapped in an [`ErasedRuntime`](crate::adapter::ErasedRuntime) (one
    /// allocation per spawn and per sleep on top of your runtime's own).
    ///
    /// An entered runtime takes precedence over the automatic choice (a virtual runtime's
    /// `block_on`, a Tokio context, smol's global executor). It affects only code that asks for
    /// the default; types built with `with_runtime` keep their runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{DefaultRuntime, Runtime, VirtualRuntime};
    ///
    /// let simulation = VirtualRuntime::new();
    /// let guard = DefaultRuntime::enter(simulation.clone());
    /// // Code that asks for the default runtime gets `simulation`, even outside its `block_on`.
    /// let sleep = DefaultRuntime::current().sleep(Duration::from_secs(3600));
    /// simulation.block_on(sleep); // an hour of virtual time, at once
    /// assert_eq!(simulation.elapsed(), Duration::from_secs(3600));
    /// drop(guard);
    /// assert!(!DefaultRuntime::try_current().is_ok_and(|rt| rt.is_virtual()));
    /// ```
    pub fn enter(rt: impl Runtime) -> EnterGuard {
        EnterGuard {
            previous: replace(Some(DefaultRuntime::from_runtime(rt))),
            _not_send: PhantomData,
        }
    }

    /// Wraps `future` so that `rt` is the default runtime while it is polled, on whatever
    /// thread polls it.
    ///
    /// This is [`enter`](DefaultRuntime::enter) for one future rather than one thread: hand the
    /// wrapped future to any executor, and code inside it that builds wrangle types with the
    /// default runtime uses `rt`. Wrapping an executor's run loop (smol's `ex.run(..)`) makes
    /// `rt` the default of every task that loop polls, on every thread that drives it.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{DefaultRuntime, Runtime, VirtualRuntime};
    ///
    /// let simulation = VirtualRuntime::new();
    /// let name = futures_lite::future::block_on(DefaultRuntime::scoped(
    ///     simulation.clone(),
    ///     async { DefaultRuntime::current().name() },
    /// ));
    /// assert_eq!(name, "virtual");
    /// ```
    pub fn scoped<F: Future>(rt: impl Runtime, future: F) -> Scoped<F> {
        Scoped {
            rt: Some(DefaultRuntime::from_runtime(rt)),
            future,
        }
    }
}

/// A future polled with a runtime entered as the default: returned by
/// [`DefaultRuntime::scoped`].
///
/// # Cancel safety
///
/// Dropping it drops the inner future; nothing else is held.
#[pin_project::pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Scoped<F> {
    // `None` only while the inner future is being polled (the runtime is in the thread-local).
    rt: Option<DefaultRuntime>,
    #[pin]
    future: F,
}

impl<F> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped")
            .field("rt", &self.rt)
            .finish_non_exhaustive()
    }
}

/// Moves a runtime into the thread-local for one poll and back out afterwards, also when the
/// poll unwinds: no clone, so no reference-count traffic per poll.
struct Lend<'a> {
    home: &'a mut Option<DefaultRuntime>,
    previous: Option<DefaultRuntime>,
}

impl Drop for Lend<'_> {
    fn drop(&mut self) {
        *self.home = replace(self.previous.take());
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let previous = replace(this.rt.take());
        let _lend = Lend {
            home: this.rt,
            previous,
        };
        this.future.poll(cx)
    }
}

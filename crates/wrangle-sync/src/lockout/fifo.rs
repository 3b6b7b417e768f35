//! [`FifoLockout`]: a lockout gate that admits one holder at a time, in arrival order.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use pin_project::pin_project;
use wrangle_rt::{DefaultRuntime, Runtime};

use super::{Lockout, LockoutStats, LockoutWait};
use crate::semaphore::{Acquire, PrioritySemaphore, SemaphorePermit};

/// A lockout gate that admits callers in arrival order, one at a time.
///
/// [`enter`](FifoLockout::enter) waits for every earlier caller to enter and leave (drop its
/// [`FifoLockoutGuard`]), then for every lockout to expire, and returns a guard. Lockouts
/// added by the holder (say, after it got an HTTP 429) therefore hold back everyone behind it.
///
/// Unlike upstream `FIFOLockout`, the first waiter enters on its own timer when the lockout
/// expires, whether or not anybody is inside, and a waiter cancelled while waiting never
/// enters: it only gives up its place.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::FifoLockout;
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// let gate = FifoLockout::with_runtime(rt.clone());
/// rt.block_on(async {
///     let guard = gate.enter().await;
///     gate.lockout_for(Duration::from_millis(100)); // e.g. told to back off
///     drop(guard);
///     let _next = gate.enter().await;
/// });
/// assert_eq!(rt.now() - start, Duration::from_millis(100));
/// ```
pub struct FifoLockout<R: Runtime = DefaultRuntime> {
    lockout: Lockout<R>,
    gate: PrioritySemaphore,
}

impl FifoLockout {
    /// A FIFO lockout gate on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let gate = wrangle_sync::FifoLockout::new();
    ///     drop(gate.enter().await);
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    #[must_use]
    pub fn new() -> Self {
        FifoLockout::with_runtime(DefaultRuntime::current())
    }
}

impl Default for FifoLockout {
    fn default() -> Self {
        FifoLockout::new()
    }
}

impl<R: Runtime> FifoLockout<R> {
    /// A FIFO lockout gate on `rt`.
    #[must_use]
    pub fn with_runtime(rt: R) -> Self {
        FifoLockout {
            lockout: Lockout::with_runtime(rt),
            gate: PrioritySemaphore::new(1),
        }
    }

    /// Adds a lockout expiring `duration` from now; lockouts stack.
    ///
    /// A `duration` too large to add to now (`Duration::MAX`) means about thirty years
    /// ([`wrangle_rt::saturating_deadline`]): never a panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let gate = wrangle_sync::FifoLockout::with_runtime(wrangle_rt::VirtualRuntime::new());
    /// gate.lockout_for(Duration::from_secs(1));
    /// assert!(gate.is_locked());
    /// ```
    pub fn lockout_for(&self, duration: Duration) {
        self.lockout.lockout_for(duration);
    }

    /// Adds a lockout expiring at `deadline`; lockouts stack.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let gate = wrangle_sync::FifoLockout::with_runtime(rt.clone());
    /// gate.lockout_until(rt.now() + Duration::from_secs(1));
    /// assert!(gate.is_locked());
    /// ```
    pub fn lockout_until(&self, deadline: Instant) {
        self.lockout.lockout_until(deadline);
    }

    /// Whether a lockout is in force now.
    #[must_use]
    pub fn is_locked(&self) -> bool {
        self.lockout.is_locked()
    }

    /// Callers waiting to enter now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.gate.stats().queued
    }

    /// Waits for its turn (every earlier caller has entered and left) and for every lockout
    /// to expire, then enters.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let gate = wrangle_sync::FifoLockout::new();
    ///     let guard = gate.enter().await;
    ///     drop(guard); // the next caller may enter
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a waiter dropped before it entered gives up its place and never enters;
    /// the next waiter moves up.
    pub fn enter(&self) -> Enter<'_, R> {
        Enter {
            acquire: self.gate.acquire(),
            permit: None,
            wait: self.lockout.wait(),
        }
    }

    /// A snapshot of the counters: lockouts added, whether one is in force, and the callers
    /// waiting for their turn (`queued`, as [`waiting`](Self::waiting)).
    #[must_use]
    pub fn stats(&self) -> LockoutStats {
        LockoutStats {
            queued: self.waiting(),
            ..self.lockout.stats()
        }
    }
}

impl<R: Runtime> fmt::Debug for FifoLockout<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FifoLockout")
            .field("lockout", &self.lockout)
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// Proof of having entered a [`FifoLockout`]; dropping it lets the next caller in.
#[must_use = "the next caller enters as soon as this is dropped"]
pub struct FifoLockoutGuard<'a> {
    _permit: SemaphorePermit<'a>,
}

impl fmt::Debug for FifoLockoutGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FifoLockoutGuard").finish_non_exhaustive()
    }
}

/// The future of [`FifoLockout::enter`].
///
/// # Cancel safety
///
/// Cancel-safe: dropped before completion, it gives up its place and never enters.
#[pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Enter<'a, R: Runtime> {
    acquire: Acquire<'a>,
    permit: Option<SemaphorePermit<'a>>,
    #[pin]
    wait: LockoutWait<'a, R>,
}

impl<'a, R: Runtime> Future for Enter<'a, R> {
    type Output = FifoLockoutGuard<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.permit.is_none() {
            let permit = ready!(Pin::new(this.acquire).poll(cx));
            // The gate is private and never closed.
            *this.permit = Some(permit.expect("the gate semaphore is never closed"));
        }
        ready!(this.wait.poll(cx));
        let permit = this.permit.take().expect("`Enter` polled after completion");
        Poll::Ready(FifoLockoutGuard { _permit: permit })
    }
}

impl<R: Runtime> fmt::Debug for Enter<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enter")
            .field("turn", &self.permit.is_some())
            .finish_non_exhaustive()
    }
}

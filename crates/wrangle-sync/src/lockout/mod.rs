//! The lockout family: gates closed by stacking lockouts. [`Lockout`] (here),
//! [`FifoLockout`] (one holder at a time, in arrival order), and their keyed forms
//! [`KeyedLockout`] and [`KeyedFifoLockout`]; all four report [`LockoutStats`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project::pin_project;
use wrangle_rt::{DefaultRuntime, Runtime, saturating_deadline};

mod deadline_wait;
mod fifo;
mod keyed;
mod keyed_fifo;

pub use fifo::{Enter, FifoLockout, FifoLockoutGuard};
pub use keyed::{KeyedLockout, KeyedLockoutWait};
pub use keyed_fifo::{KeyedEnter, KeyedFifoLockout, KeyedFifoLockoutGuard};

use crate::loom::{Mutex, lock};
use deadline_wait::DeadlineWait;

/// A gate closed by lockouts: [`wait`](Lockout::wait) passes once every lockout added with
/// [`lockout_for`](Lockout::lockout_for) has expired.
///
/// Lockouts stack (the gate opens at the latest expiry). Waiting holds nothing: tasks already
/// past the gate are unaffected by later lockouts. There is no ordering among waiters; use
/// [`FifoLockout`] for arrival order. Typical use: after an HTTP 429,
/// `lockout.lockout_for(retry_after)`, and every request first does `lockout.wait().await`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::Lockout;
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// let lockout = Lockout::with_runtime(rt.clone());
/// lockout.lockout_for(Duration::from_millis(100));
/// lockout.lockout_for(Duration::from_millis(50));
/// rt.block_on(lockout.wait());
/// assert_eq!(rt.now() - start, Duration::from_millis(100));
/// ```
pub struct Lockout<R: Runtime = DefaultRuntime> {
    rt: R,
    state: Mutex<State>,
}

struct State {
    until: Option<Instant>,
    added: u64,
}

/// A snapshot of the counters of a lockout gate: [`Lockout`], [`FifoLockout`],
/// [`KeyedLockout`] or [`KeyedFifoLockout`].
///
/// Invariants: `locked <= 1` for the unkeyed gates, `locked <= keys` for the keyed ones;
/// `keys == 0` for the unkeyed gates; `queued == 0` for [`Lockout`] and [`KeyedLockout`]
/// (their waiters hold no place in a queue); `added` never falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LockoutStats {
    /// Lockouts added so far (`lockout_for` and `lockout_until` calls, of every key).
    pub added: u64,
    /// Gates with a lockout in force now (gauge): 0 or 1 for an unkeyed gate, the keys locked
    /// out now for a keyed one.
    pub locked: usize,
    /// Entries in a keyed gate's table now (gauge; see its `len`); 0 for an unkeyed gate.
    pub keys: usize,
    /// Callers waiting for their turn to enter now (gauge; FIFO gates only, every key).
    pub queued: usize,
}

impl Lockout {
    /// A lockout gate on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let lockout = wrangle_sync::Lockout::new();
    ///     assert!(!lockout.is_locked());
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    #[must_use]
    pub fn new() -> Self {
        Lockout::with_runtime(DefaultRuntime::current())
    }
}

impl Default for Lockout {
    fn default() -> Self {
        Lockout::new()
    }
}

impl<R: Runtime> Lockout<R> {
    /// A lockout gate on `rt`.
    #[must_use]
    pub fn with_runtime(rt: R) -> Self {
        Lockout {
            rt,
            state: Mutex::new(State {
                until: None,
                added: 0,
            }),
        }
    }

    /// Adds a lockout expiring `duration` from now. It stacks with the others: the gate opens
    /// when the last one expires.
    ///
    /// A `duration` too large to add to now (`Duration::MAX`) means about thirty years
    /// ([`wrangle_rt::saturating_deadline`]): never a panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let lockout = wrangle_sync::Lockout::with_runtime(wrangle_rt::VirtualRuntime::new());
    /// lockout.lockout_for(Duration::from_secs(1));
    /// assert!(lockout.is_locked());
    /// ```
    pub fn lockout_for(&self, duration: Duration) {
        let until = saturating_deadline(self.rt.now(), duration);
        self.lockout_until(until);
    }

    /// Adds a lockout expiring at `deadline` on the runtime's monotonic clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let lockout = wrangle_sync::Lockout::with_runtime(rt.clone());
    /// let at = rt.now() + Duration::from_secs(2);
    /// lockout.lockout_until(at);
    /// assert_eq!(lockout.locked_until(), Some(at));
    /// ```
    pub fn lockout_until(&self, deadline: Instant) {
        let mut st = lock(&self.state);
        st.added += 1;
        st.until = Some(st.until.map_or(deadline, |u| u.max(deadline)));
    }

    /// When the gate opens, if a lockout is in force now.
    #[must_use]
    pub fn locked_until(&self) -> Option<Instant> {
        let until = lock(&self.state).until?;
        (self.rt.now() < until).then_some(until)
    }

    /// Whether a lockout is in force now.
    #[must_use]
    pub fn is_locked(&self) -> bool {
        self.locked_until().is_some()
    }

    /// Waits until every lockout has expired, including lockouts added while waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let lockout = wrangle_sync::Lockout::with_runtime(rt.clone());
    /// lockout.lockout_for(Duration::from_secs(3));
    /// rt.block_on(lockout.wait());
    /// assert!(!lockout.is_locked());
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: waiting holds nothing, so dropping the future loses nothing.
    pub fn wait(&self) -> LockoutWait<'_, R> {
        LockoutWait {
            lockout: self,
            inner: DeadlineWait::new(),
        }
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> LockoutStats {
        // `is_locked` takes the lock too: read it first, not inside the same expression.
        let locked = usize::from(self.is_locked());
        LockoutStats {
            added: lock(&self.state).added,
            locked,
            keys: 0,
            queued: 0,
        }
    }

    pub(crate) fn runtime(&self) -> &R {
        &self.rt
    }
}

impl<R: Runtime> fmt::Debug for Lockout<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lockout")
            .field("locked_until", &self.locked_until())
            .field("runtime", &self.rt.name())
            .finish()
    }
}

/// The future of [`Lockout::wait`].
///
/// # Cancel safety
///
/// Cancel-safe: it holds nothing.
#[pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct LockoutWait<'a, R: Runtime> {
    lockout: &'a Lockout<R>,
    #[pin]
    inner: DeadlineWait<R::Sleep>,
}

impl<R: Runtime> Future for LockoutWait<'_, R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let lockout = *this.lockout;
        this.inner
            .poll_until(lockout.runtime(), cx, || lock(&lockout.state).until)
    }
}

impl<R: Runtime> fmt::Debug for LockoutWait<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockoutWait").finish_non_exhaustive()
    }
}

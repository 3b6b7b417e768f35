//! [`KeyedFifoLockout`]: [`FifoLockout`](crate::FifoLockout) rules per key.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use pin_project::{pin_project, pinned_drop};
use wrangle_rt::{DefaultRuntime, Runtime, saturating_deadline};

use super::LockoutStats;
use super::deadline_wait::DeadlineWait;
use super::keyed::MIN_SWEEP;
use crate::loom::{Mutex, lock};
use crate::semaphore::{AcquireOwned, OwnedSemaphorePermit, PrioritySemaphore};
use crate::sweep::Sweep;

/// [`FifoLockout`](crate::FifoLockout)s, one per key: callers of one key enter one at a time,
/// in arrival order, once every lockout of that key has expired.
///
/// [`enter`](Self::enter) waits for every earlier caller **of the same key** to enter and
/// leave (drop its [`KeyedFifoLockoutGuard`]), then for every lockout of that key to expire.
/// Keys are independent: a holder or a lockout of one key never delays another key. The rules
/// of [`FifoLockout`](crate::FifoLockout) hold per key: the first waiter enters on its own
/// timer when the lockout expires, whether or not anybody was inside before, and a waiter
/// cancelled while waiting never enters and passes its turn on.
///
/// Memory stays bounded: a key's entry is removed as soon as it has no waiter, no holder and
/// no lockout in force; entries kept only by an expired lockout are swept whenever the table
/// has doubled since the last sweep, and by [`retain_recent`](Self::retain_recent). A table
/// that has shrunk well below its capacity gives the memory back.
///
/// The key's `Hash` and `Eq` are user code: if they panic in a call, that call panics and the
/// table stays usable; when a guard or a waiting [`KeyedEnter`] is dropped, the panic is
/// reported to the process-wide error handler ([`wrangle_rt::report_unhandled`]) instead of
/// escaping the destructor, and that key's entry is kept (one entry leaked, nothing blocked).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::KeyedFifoLockout;
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// let hosts = KeyedFifoLockout::with_runtime(rt.clone());
/// rt.block_on(async {
///     let guard = hosts.enter("api.example").await;
///     hosts.lockout_for("api.example", Duration::from_secs(2)); // "429, retry after 2 s"
///     drop(guard);
///     drop(hosts.enter("other.example").await); // another key: at once
///     assert_eq!(rt.now(), start);
///     let _next = hosts.enter("api.example").await; // the next of this key: after the lockout
///     assert_eq!(rt.now() - start, Duration::from_secs(2));
/// });
/// ```
pub struct KeyedFifoLockout<K, R: Runtime = DefaultRuntime> {
    rt: R,
    state: Mutex<FifoState<K>>,
}

struct FifoState<K> {
    keys: HashMap<K, Gate>,
    sweep: Sweep,
    /// Lockouts added so far.
    added: u64,
}

/// One key's gate.
struct Gate {
    until: Option<Instant>,
    /// One permit: whose turn it is. Its queue keeps the key's arrival order.
    turn: Arc<PrioritySemaphore>,
    /// `enter` futures and guards of this key alive now.
    users: usize,
}

impl Gate {
    fn new() -> Self {
        Gate {
            until: None,
            turn: Arc::new(PrioritySemaphore::new(1)),
            users: 0,
        }
    }

    /// Whether the entry holds nothing worth keeping at `now`.
    fn is_idle(&self, now: Instant) -> bool {
        self.users == 0 && self.until.is_none_or(|u| u <= now)
    }
}

impl<K: Eq + Hash> KeyedFifoLockout<K> {
    /// Keyed FIFO lockouts on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let gates = wrangle_sync::KeyedFifoLockout::<u32>::new();
    ///     drop(gates.enter(7).await);
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    #[must_use]
    pub fn new() -> Self {
        KeyedFifoLockout::with_runtime(DefaultRuntime::current())
    }
}

impl<K: Eq + Hash> Default for KeyedFifoLockout<K> {
    fn default() -> Self {
        KeyedFifoLockout::new()
    }
}

impl<K: Eq + Hash, R: Runtime> KeyedFifoLockout<K, R> {
    /// Keyed FIFO lockouts on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// let gates = wrangle_sync::KeyedFifoLockout::<&str, _>::with_runtime(
    ///     wrangle_rt::VirtualRuntime::new(),
    /// );
    /// assert!(gates.is_empty());
    /// ```
    #[must_use]
    pub fn with_runtime(rt: R) -> Self {
        KeyedFifoLockout {
            rt,
            state: Mutex::new(FifoState {
                keys: HashMap::new(),
                sweep: Sweep::new(MIN_SWEEP),
                added: 0,
            }),
        }
    }

    /// Adds a lockout of `key` expiring `duration` from now; lockouts of one key stack.
    ///
    /// A `duration` too large to add to now (`Duration::MAX`) means about thirty years
    /// ([`wrangle_rt::saturating_deadline`]): never a panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let gates = wrangle_sync::KeyedFifoLockout::with_runtime(wrangle_rt::VirtualRuntime::new());
    /// gates.lockout_for("a", Duration::from_secs(1));
    /// assert!(gates.is_locked("a"));
    /// assert!(!gates.is_locked("b"));
    /// ```
    pub fn lockout_for(&self, key: K, duration: Duration) {
        self.lockout_until(key, saturating_deadline(self.rt.now(), duration));
    }

    /// Adds a lockout of `key` expiring at `deadline` on the runtime's monotonic clock;
    /// lockouts of one key stack.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let gates = wrangle_sync::KeyedFifoLockout::with_runtime(rt.clone());
    /// let at = rt.now() + Duration::from_secs(1);
    /// gates.lockout_until(1, at);
    /// assert_eq!(gates.locked_until(&1), Some(at));
    /// ```
    pub fn lockout_until(&self, key: K, deadline: Instant) {
        let now = self.rt.now();
        let mut st = lock(&self.state);
        st.added += 1;
        let gate = st.keys.entry(key).or_insert_with(Gate::new);
        gate.until = Some(gate.until.map_or(deadline, |u| u.max(deadline)));
        st.sweep_if_grown(now);
    }

    /// When `key`'s gate opens, if a lockout of it is in force now.
    #[must_use]
    pub fn locked_until<Q>(&self, key: &Q) -> Option<Instant>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let until = lock(&self.state).keys.get(key)?.until?;
        (self.rt.now() < until).then_some(until)
    }

    /// Whether a lockout of `key` is in force now.
    #[must_use]
    pub fn is_locked<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.locked_until(key).is_some()
    }

    /// Callers of `key` waiting for their turn now (the holder and a caller waiting only on
    /// the lockout are not counted).
    #[must_use]
    pub fn waiting<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        lock(&self.state)
            .keys
            .get(key)
            .map_or(0, |g| g.turn.stats().queued)
    }

    /// Entries in the table: keys with a waiter, a holder or a lockout (some lockouts may have
    /// expired and not been swept yet).
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.state).keys.len()
    }

    /// Whether the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        lock(&self.state).keys.is_empty()
    }

    /// Drops every entry with no waiter, no holder and no lockout in force now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let gates = wrangle_sync::KeyedFifoLockout::with_runtime(rt.clone());
    /// gates.lockout_for("a", Duration::from_secs(1));
    /// rt.block_on(rt.advance(Duration::from_secs(1)));
    /// gates.retain_recent();
    /// assert!(gates.is_empty());
    /// ```
    pub fn retain_recent(&self) {
        let now = self.rt.now();
        let mut st = lock(&self.state);
        let st = &mut *st;
        st.sweep.retain(&mut st.keys, |_, g| !g.is_idle(now));
    }

    /// A snapshot of the counters: lockouts added, the keys locked out now (`locked`), the
    /// table's entries (`keys`, as [`len`](Self::len)) and the callers of every key waiting
    /// for their turn (`queued`, the sum of [`waiting`](Self::waiting)); the last three scan
    /// the table under its lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let gates = Arc::new(wrangle_sync::KeyedFifoLockout::with_runtime(rt.clone()));
    /// rt.block_on(async {
    ///     let guard = gates.enter("a").await;
    ///     let next = rt.spawn({
    ///         let gates = Arc::clone(&gates);
    ///         async move { drop(gates.enter("a").await) }
    ///     });
    ///     while gates.waiting("a") == 0 {
    ///         wrangle_rt::yield_now().await;
    ///     }
    ///     gates.lockout_for("b", Duration::from_secs(1));
    ///     let stats = gates.stats();
    ///     // "a" has a holder and a waiter, "b" a lockout.
    ///     assert_eq!((stats.added, stats.locked, stats.keys, stats.queued), (1, 1, 2, 1));
    ///     drop(guard);
    ///     next.await.unwrap();
    /// });
    /// ```
    #[must_use]
    pub fn stats(&self) -> LockoutStats {
        let now = self.rt.now();
        let st = lock(&self.state);
        LockoutStats {
            added: st.added,
            locked: st
                .keys
                .values()
                .filter(|g| g.until.is_some_and(|u| u > now))
                .count(),
            keys: st.keys.len(),
            queued: st.keys.values().map(|g| g.turn.stats().queued).sum(),
        }
    }

    /// Waits for its turn among the callers of `key` (every earlier caller of `key` has
    /// entered and left) and for every lockout of `key` to expire, then enters.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let gates = wrangle_sync::KeyedFifoLockout::new();
    ///     let guard = gates.enter("host-a").await;
    ///     drop(gates.enter("host-b").await); // other keys are not held back
    ///     drop(guard); // the next caller of "host-a" may enter
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a waiter dropped before it entered gives up its place and never enters;
    /// the next waiter of its key moves up.
    pub fn enter(&self, key: K) -> KeyedEnter<'_, K, R>
    where
        K: Clone,
    {
        let now = self.rt.now();
        let mut st = lock(&self.state);
        let gate = st.keys.entry(key.clone()).or_insert_with(Gate::new);
        gate.users += 1;
        let acquire = Arc::clone(&gate.turn).acquire_owned();
        st.sweep_if_grown(now);
        KeyedEnter {
            gates: self,
            key: Some(key),
            acquire: Some(acquire),
            permit: None,
            wait: DeadlineWait::new(),
        }
    }

    fn until_of(&self, key: &K) -> Option<Instant> {
        lock(&self.state).keys.get(key)?.until
    }

    /// A future or guard of `key` is gone (its turn already passed on).
    fn leave(&self, key: &K) {
        let now = self.rt.now();
        let mut st = lock(&self.state);
        if let Some(gate) = st.keys.get_mut(key) {
            gate.users -= 1;
            if gate.is_idle(now) {
                st.keys.remove(key);
                Sweep::after_remove(&mut st.keys);
            }
        }
    }
}

impl<K: Eq + Hash> FifoState<K> {
    fn sweep_if_grown(&mut self, now: Instant) {
        self.sweep
            .after_insert(&mut self.keys, |_, g| !g.is_idle(now));
    }
}

impl<K, R: Runtime> fmt::Debug for KeyedFifoLockout<K, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedFifoLockout")
            .field("entries", &lock(&self.state).keys.len())
            .field("runtime", &self.rt.name())
            .finish()
    }
}

/// The future of [`KeyedFifoLockout::enter`].
///
/// # Cancel safety
///
/// Cancel-safe: dropped before completion, it gives up its place and never enters.
#[pin_project(PinnedDrop)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct KeyedEnter<'a, K: Eq + Hash, R: Runtime> {
    gates: &'a KeyedFifoLockout<K, R>,
    /// `None` once entered (the guard has it).
    key: Option<K>,
    acquire: Option<AcquireOwned>,
    permit: Option<OwnedSemaphorePermit>,
    #[pin]
    wait: DeadlineWait<R::Sleep>,
}

impl<'a, K: Eq + Hash, R: Runtime> Future for KeyedEnter<'a, K, R> {
    type Output = KeyedFifoLockoutGuard<'a, K, R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let gates = *this.gates;
        let key = this
            .key
            .as_ref()
            .expect("`KeyedEnter` polled after completion");
        if this.permit.is_none() {
            let acquire = this.acquire.as_mut().expect("waiting for the turn");
            let permit = ready!(Pin::new(acquire).poll(cx));
            // The turn semaphores are private and never closed.
            *this.permit = Some(permit.expect("a turn semaphore is never closed"));
            *this.acquire = None;
        }
        ready!(this.wait.poll_until(&gates.rt, cx, || gates.until_of(key)));
        Poll::Ready(KeyedFifoLockoutGuard {
            gates,
            key: this.key.take(),
            permit: this.permit.take(),
        })
    }
}

#[pinned_drop]
impl<K: Eq + Hash, R: Runtime> PinnedDrop for KeyedEnter<'_, K, R> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        // Pass the turn on (or leave the queue) before leaving the key.
        drop(this.permit.take());
        drop(this.acquire.take());
        if let Some(key) = this.key.take() {
            let gates = *this.gates;
            // Leaving hashes the key: user code, in a destructor.
            crate::contain::in_drop("wrangle_sync::KeyedFifoLockout", || gates.leave(&key));
        }
    }
}

impl<K: Eq + Hash, R: Runtime> fmt::Debug for KeyedEnter<'_, K, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedEnter")
            .field("turn", &self.permit.is_some())
            .finish_non_exhaustive()
    }
}

/// Proof of having entered a [`KeyedFifoLockout`] for one key; dropping it lets the next
/// caller of that key in.
#[must_use = "the next caller of the key enters as soon as this is dropped"]
pub struct KeyedFifoLockoutGuard<'a, K: Eq + Hash, R: Runtime> {
    gates: &'a KeyedFifoLockout<K, R>,
    key: Option<K>,
    permit: Option<OwnedSemaphorePermit>,
}

impl<K: Eq + Hash, R: Runtime> KeyedFifoLockoutGuard<'_, K, R> {
    /// The key this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let gates = wrangle_sync::KeyedFifoLockout::new();
    ///     assert_eq!(*gates.enter(3).await.key(), 3);
    /// });
    /// ```
    #[must_use]
    pub fn key(&self) -> &K {
        self.key.as_ref().expect("held until dropped")
    }
}

impl<K: Eq + Hash, R: Runtime> Drop for KeyedFifoLockoutGuard<'_, K, R> {
    fn drop(&mut self) {
        drop(self.permit.take());
        if let Some(key) = self.key.take() {
            let gates = self.gates;
            // Leaving hashes the key: user code, in a destructor.
            crate::contain::in_drop("wrangle_sync::KeyedFifoLockout", || gates.leave(&key));
        }
    }
}

impl<K: Eq + Hash + fmt::Debug, R: Runtime> fmt::Debug for KeyedFifoLockoutGuard<'_, K, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedFifoLockoutGuard")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

//! [`KeyedLockout`]: one lockout gate per key (per tag, per host, per user...).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project::pin_project;
use wrangle_rt::{DefaultRuntime, Runtime, saturating_deadline};

use super::LockoutStats;
use super::deadline_wait::DeadlineWait;
use crate::loom::{Mutex, lock};
use crate::sweep::Sweep;

/// Independent [`Lockout`](crate::Lockout)s, one per key.
///
/// Like [`Lockout`](crate::Lockout), waiting holds nothing and waiters of one key are not
/// ordered: when a lockout is extended, a later waiter may pass before an earlier one. For
/// arrival order per key (one holder at a time), use [`KeyedFifoLockout`](crate::KeyedFifoLockout).
///
/// Memory stays bounded by the keys locked out recently: expired entries are swept whenever
/// the table has doubled since the last sweep, and by [`retain_recent`](Self::retain_recent);
/// a table that has shrunk well below its capacity gives the memory back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::KeyedLockout;
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// let lockouts = KeyedLockout::with_runtime(rt.clone());
/// lockouts.lockout_for("api.example", Duration::from_secs(2));
/// rt.block_on(async {
///     lockouts.wait("other.example").await; // not locked: passes at once
///     assert_eq!(rt.now(), start);
///     lockouts.wait("api.example").await;
///     assert_eq!(rt.now() - start, Duration::from_secs(2));
/// });
/// ```
pub struct KeyedLockout<K, R: Runtime = DefaultRuntime> {
    rt: R,
    state: Mutex<State<K>>,
}

struct State<K> {
    until: HashMap<K, Instant>,
    sweep: Sweep,
    /// Lockouts added so far.
    added: u64,
}

/// Sweep no table smaller than this.
pub(super) const MIN_SWEEP: usize = 64;

impl<K: Eq + Hash> KeyedLockout<K> {
    /// Keyed lockouts on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let lockouts = wrangle_sync::KeyedLockout::<u32>::new();
    ///     assert!(!lockouts.is_locked(&7));
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    #[must_use]
    pub fn new() -> Self {
        KeyedLockout::with_runtime(DefaultRuntime::current())
    }
}

impl<K: Eq + Hash> Default for KeyedLockout<K> {
    fn default() -> Self {
        KeyedLockout::new()
    }
}

impl<K: Eq + Hash, R: Runtime> KeyedLockout<K, R> {
    /// Keyed lockouts on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lockouts = wrangle_sync::KeyedLockout::<&str, _>::with_runtime(
    ///     wrangle_rt::VirtualRuntime::new(),
    /// );
    /// assert_eq!(lockouts.len(), 0);
    /// ```
    #[must_use]
    pub fn with_runtime(rt: R) -> Self {
        KeyedLockout {
            rt,
            state: Mutex::new(State {
                until: HashMap::new(),
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
    /// let lockouts = wrangle_sync::KeyedLockout::with_runtime(wrangle_rt::VirtualRuntime::new());
    /// lockouts.lockout_for(1, Duration::from_secs(1));
    /// assert!(lockouts.is_locked(&1));
    /// assert!(!lockouts.is_locked(&2));
    /// ```
    pub fn lockout_for(&self, key: K, duration: Duration) {
        let now = self.rt.now();
        let until = saturating_deadline(now, duration);
        let mut st = lock(&self.state);
        st.added += 1;
        let slot = st.until.entry(key).or_insert(until);
        *slot = (*slot).max(until);
        let st = &mut *st;
        st.sweep.after_insert(&mut st.until, |_, u| *u > now);
    }

    /// When `key`'s gate opens, if a lockout of it is in force now.
    ///
    /// # Examples
    ///
    /// ```
    /// let lockouts = wrangle_sync::KeyedLockout::<u8, _>::with_runtime(
    ///     wrangle_rt::VirtualRuntime::new(),
    /// );
    /// assert_eq!(lockouts.locked_until(&0), None);
    /// ```
    #[must_use]
    pub fn locked_until<Q>(&self, key: &Q) -> Option<Instant>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let until = *lock(&self.state).until.get(key)?;
        (self.rt.now() < until).then_some(until)
    }

    /// Whether a lockout of `key` is in force now.
    ///
    /// # Examples
    ///
    /// ```
    /// let lockouts = wrangle_sync::KeyedLockout::<u8, _>::with_runtime(
    ///     wrangle_rt::VirtualRuntime::new(),
    /// );
    /// assert!(!lockouts.is_locked(&0));
    /// ```
    #[must_use]
    pub fn is_locked<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.locked_until(key).is_some()
    }

    /// Entries in the table (some may have expired and not been swept yet).
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.state).until.len()
    }

    /// Whether the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        lock(&self.state).until.is_empty()
    }

    /// Drops every expired entry now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let lockouts = wrangle_sync::KeyedLockout::with_runtime(rt.clone());
    /// lockouts.lockout_for("a", Duration::from_secs(1));
    /// rt.block_on(rt.advance(Duration::from_secs(1)));
    /// lockouts.retain_recent();
    /// assert!(lockouts.is_empty());
    /// ```
    pub fn retain_recent(&self) {
        let now = self.rt.now();
        let mut st = lock(&self.state);
        let st = &mut *st;
        st.sweep.retain(&mut st.until, |_, u| *u > now);
    }

    /// A snapshot of the counters: lockouts added, the keys locked out now (`locked`, a scan
    /// of the table under its lock) and the table's entries (`keys`, as [`len`](Self::len)).
    /// `queued` is always 0: waiters hold no place.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let lockouts = wrangle_sync::KeyedLockout::with_runtime(rt.clone());
    /// lockouts.lockout_for("a", Duration::from_secs(1));
    /// lockouts.lockout_for("b", Duration::from_secs(2));
    /// lockouts.lockout_for("b", Duration::from_secs(3)); // stacks on "b"
    /// rt.block_on(rt.advance(Duration::from_secs(1)));
    /// let stats = lockouts.stats();
    /// // "a" expired but is not swept yet: still an entry, no longer locked.
    /// assert_eq!((stats.added, stats.locked, stats.keys), (3, 1, 2));
    /// ```
    #[must_use]
    pub fn stats(&self) -> LockoutStats {
        let now = self.rt.now();
        let st = lock(&self.state);
        LockoutStats {
            added: st.added,
            locked: st.until.values().filter(|&&u| u > now).count(),
            keys: st.until.len(),
            queued: 0,
        }
    }

    /// Waits until every lockout of `key` has expired, including lockouts added while
    /// waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let lockouts = wrangle_sync::KeyedLockout::with_runtime(rt.clone());
    /// lockouts.lockout_for(3, Duration::from_secs(1));
    /// rt.block_on(lockouts.wait(3));
    /// assert!(!lockouts.is_locked(&3));
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: waiting holds nothing.
    pub fn wait(&self, key: K) -> KeyedLockoutWait<'_, K, R> {
        KeyedLockoutWait {
            lockouts: self,
            key,
            inner: DeadlineWait::new(),
        }
    }
}

impl<K, R: Runtime> fmt::Debug for KeyedLockout<K, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLockout")
            .field("entries", &lock(&self.state).until.len())
            .field("runtime", &self.rt.name())
            .finish()
    }
}

/// The future of [`KeyedLockout::wait`].
///
/// # Cancel safety
///
/// Cancel-safe: it holds nothing.
#[pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct KeyedLockoutWait<'a, K, R: Runtime> {
    lockouts: &'a KeyedLockout<K, R>,
    key: K,
    #[pin]
    inner: DeadlineWait<R::Sleep>,
}

impl<K: Eq + Hash, R: Runtime> Future for KeyedLockoutWait<'_, K, R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let (lockouts, key) = (*this.lockouts, &*this.key);
        this.inner.poll_until(&lockouts.rt, cx, || {
            lock(&lockouts.state).until.get(key).copied()
        })
    }
}

impl<K, R: Runtime> fmt::Debug for KeyedLockoutWait<'_, K, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLockoutWait").finish_non_exhaustive()
    }
}

//! [`KeyedLimiter`]: one GCRA rate limit per key, in bounded memory.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project::{pin_project, pinned_drop};
use wrangle_rt::{DefaultRuntime, Runtime, saturating_deadline};

use super::gcra::Quota;
use super::reserve_wait::ReserveWait;
use super::{InvalidQuota, LimiterStats, RateLimited};
use crate::loom::{Mutex, lock};
use crate::sweep::Sweep;

/// Sweep no table smaller than this.
const MIN_SWEEP: usize = 1024;

/// A GCRA rate limit per key (per client, per host...), with the same quota for every key.
///
/// A key whose limit has fully recovered is indistinguishable from a key never seen, so such
/// entries are dropped: whenever the table has doubled since the last sweep, and on
/// [`retain_recent`](Self::retain_recent). Memory is bounded by the keys active within one
/// burst's recovery time: a table that has shrunk well below its capacity gives the memory
/// back, and an emptied one frees it.
///
/// The key's `Hash` and `Eq` are user code: if they panic in a call, that call panics and the
/// table stays usable; in a dropped [`KeyedAcquire`]'s refund, the panic is reported to the
/// process-wide error handler ([`wrangle_rt::report_unhandled`]) instead of escaping the
/// destructor.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use wrangle_sync::KeyedLimiter;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let one = NonZeroU32::MIN;
/// let limiter = KeyedLimiter::with_runtime(rt, one, Duration::from_secs(1), one).unwrap();
/// assert!(limiter.check("alice").is_ok());
/// assert!(limiter.check("alice").is_err());
/// assert!(limiter.check("bob").is_ok());
/// ```
pub struct KeyedLimiter<K, R: Runtime = DefaultRuntime> {
    rt: R,
    quota: Quota,
    state: Mutex<State<K>>,
}

struct State<K> {
    tat: HashMap<K, u64>,
    sweep: Sweep,
    admitted: u64,
    refused: u64,
    refunded: u64,
}

impl<K: Hash + Eq> KeyedLimiter<K> {
    /// `rate` per `per` with bursts of `burst`, for each key, on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let one = NonZeroU32::MIN;
    ///     let limiter =
    ///         wrangle_sync::KeyedLimiter::new(one, Duration::from_secs(1), one).unwrap();
    ///     assert!(limiter.check(&1).is_ok());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota`] if `per` is zero, `per / rate` is below one nanosecond, or `per` or
    /// the burst window (`burst * per / rate`) is longer than
    /// [`InvalidQuota::MAX_PERIOD`].
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn new(rate: NonZeroU32, per: Duration, burst: NonZeroU32) -> Result<Self, InvalidQuota> {
        KeyedLimiter::with_runtime(DefaultRuntime::current(), rate, per, burst)
    }
}

impl<K: Hash + Eq, R: Runtime> KeyedLimiter<K, R> {
    /// `rate` per `per` with bursts of `burst`, for each key, on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let one = NonZeroU32::MIN;
    /// let limiter = wrangle_sync::KeyedLimiter::<u64, _>::with_runtime(
    ///     rt,
    ///     one,
    ///     Duration::ZERO,
    ///     one,
    /// );
    /// assert!(limiter.is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota`] if `per` is zero, `per / rate` is below one nanosecond, or `per` or
    /// the burst window (`burst * per / rate`) is longer than
    /// [`InvalidQuota::MAX_PERIOD`].
    pub fn with_runtime(
        rt: R,
        rate: NonZeroU32,
        per: Duration,
        burst: NonZeroU32,
    ) -> Result<Self, InvalidQuota> {
        let quota = Quota::new(rate, per, burst)?;
        Ok(KeyedLimiter {
            rt,
            quota,
            state: Mutex::new(State {
                tat: HashMap::new(),
                sweep: Sweep::new(MIN_SWEEP),
                admitted: 0,
                refused: 0,
                refunded: 0,
            }),
        })
    }

    /// Admits a call for `key` now if that conforms to its limit; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let one = NonZeroU32::MIN;
    /// let limiter =
    ///     wrangle_sync::KeyedLimiter::with_runtime(rt, one, Duration::from_secs(1), one).unwrap();
    /// assert!(limiter.check(&7).is_ok());
    /// assert!(limiter.check(&7).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`RateLimited`] with the instant the call would conform.
    pub fn check<Q>(&self, key: &Q) -> Result<(), RateLimited>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let now = self.rt.monotonic_nanos();
        let mut st = lock(&self.state);
        if let Some(tat) = st.tat.get_mut(key) {
            let slot = self.quota.slot(*tat, now);
            if slot > now {
                st.refused += 1;
                drop(st);
                return Err(RateLimited {
                    retry_at: saturating_deadline(self.rt.now(), Duration::from_nanos(slot - now)),
                });
            }
            *tat = self.quota.next_tat(*tat, slot);
            st.admitted += 1;
            return Ok(());
        }
        // A key without an entry has a fully recovered limit: it conforms now.
        let next = self.quota.next_tat(0, self.quota.slot(0, now));
        st.tat.insert(key.to_owned(), next);
        st.admitted += 1;
        st.maybe_sweep(now);
        Ok(())
    }

    /// Waits until a call for `key` conforms: reserves the next conforming instant for that
    /// key (in call order) and sleeps until it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// let one = NonZeroU32::MIN;
    /// let limiter =
    ///     wrangle_sync::KeyedLimiter::with_runtime(rt.clone(), one, Duration::from_secs(1), one)
    ///         .unwrap();
    /// rt.block_on(async {
    ///     limiter.acquire("k").await;
    ///     limiter.acquire("other").await;
    ///     assert_eq!(rt.now(), start);
    ///     limiter.acquire("k").await;
    /// });
    /// assert_eq!(rt.now() - start, Duration::from_secs(1));
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The slot is reserved on the first poll. Dropped before its slot comes, the future
    /// gives it back if nobody reserved after it for the same key; otherwise the slot goes
    /// unused.
    pub fn acquire(&self, key: K) -> KeyedAcquire<'_, K, R>
    where
        K: Clone,
    {
        KeyedAcquire {
            limiter: self,
            key,
            inner: ReserveWait::new(),
        }
    }

    /// A snapshot of the counters, over every key: admissions (by `check` or reserved by
    /// `acquire`), refused `check`s (`skipped`), refunded slots, and the table's entries
    /// (`keys`, as [`len`](Self::len)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let one = NonZeroU32::MIN;
    /// let limiter =
    ///     wrangle_sync::KeyedLimiter::with_runtime(rt, one, Duration::from_secs(1), one).unwrap();
    /// for client in ["alice", "alice", "bob"] {
    ///     let _ = limiter.check(client);
    /// }
    /// let stats = limiter.stats();
    /// // Each client had one call of burst: alice's second call is refused.
    /// assert_eq!((stats.admitted, stats.skipped, stats.keys), (2, 1, 2));
    /// ```
    #[must_use]
    pub fn stats(&self) -> LimiterStats {
        let st = lock(&self.state);
        LimiterStats {
            admitted: st.admitted,
            skipped: st.refused,
            refunded: st.refunded,
            keys: st.tat.len(),
        }
    }

    /// Entries in the table.
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.state).tat.len()
    }

    /// Whether the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        lock(&self.state).tat.is_empty()
    }

    /// Drops the entries of keys whose limit has fully recovered.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let one = NonZeroU32::MIN;
    /// let limiter =
    ///     wrangle_sync::KeyedLimiter::with_runtime(rt.clone(), one, Duration::from_secs(1), one)
    ///         .unwrap();
    /// limiter.check(&1).unwrap();
    /// rt.block_on(rt.advance(Duration::from_secs(1)));
    /// limiter.retain_recent();
    /// assert!(limiter.is_empty());
    /// ```
    pub fn retain_recent(&self) {
        let now = self.rt.monotonic_nanos();
        let mut st = lock(&self.state);
        let st = &mut *st;
        st.sweep.retain(&mut st.tat, |_, t| *t > now);
    }

    /// Reserves the next conforming slot for `key`; the instant returned is on the runtime's
    /// clock (`rt_now` plus the wait), the ticket is the key's theoretical arrival time after it.
    fn reserve(&self, key: &K, rt_now: Instant) -> (Instant, u64)
    where
        K: Clone,
    {
        let now = self.rt.monotonic_nanos();
        let mut st = lock(&self.state);
        let tat = st.tat.get(key).copied().unwrap_or(0);
        let slot = self.quota.slot(tat, now);
        let next = self.quota.next_tat(tat, slot);
        st.admitted += 1;
        if st.tat.insert(key.clone(), next).is_none() {
            st.maybe_sweep(now);
        }
        (
            saturating_deadline(rt_now, Duration::from_nanos(slot - now)),
            next,
        )
    }

    fn refund(&self, key: &K, ticket: u64) {
        let mut st = lock(&self.state);
        if let Some(t) = st.tat.get_mut(key)
            && *t == ticket
        {
            *t = ticket - self.quota.interval;
            st.admitted -= 1;
            st.refunded += 1;
        }
    }
}

impl<K: Hash + Eq> State<K> {
    fn maybe_sweep(&mut self, now: u64) {
        self.sweep.after_insert(&mut self.tat, |_, t| *t > now);
    }
}

impl<K, R: Runtime> fmt::Debug for KeyedLimiter<K, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLimiter")
            .field("interval", &Duration::from_nanos(self.quota.interval))
            .field("keys", &lock(&self.state).tat.len())
            .field("runtime", &self.rt.name())
            .finish()
    }
}

/// The future of [`KeyedLimiter::acquire`].
///
/// # Cancel safety
///
/// See [`KeyedLimiter::acquire`].
#[pin_project(PinnedDrop)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct KeyedAcquire<'a, K: Hash + Eq, R: Runtime> {
    limiter: &'a KeyedLimiter<K, R>,
    key: K,
    #[pin]
    inner: ReserveWait<u64, R::Sleep>,
}

impl<K: Hash + Eq + Clone, R: Runtime> Future for KeyedAcquire<'_, K, R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let (limiter, key) = (*this.limiter, &*this.key);
        this.inner
            .poll_reserve(&limiter.rt, cx, |now| limiter.reserve(key, now))
    }
}

#[pinned_drop]
impl<K: Hash + Eq, R: Runtime> PinnedDrop for KeyedAcquire<'_, K, R> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        if let Some(ticket) = this.inner.take_outstanding() {
            let (limiter, key) = (*this.limiter, &*this.key);
            // Refunding hashes the key: user code, in a destructor.
            crate::contain::in_drop("wrangle_sync::KeyedLimiter", || {
                limiter.refund(key, ticket);
            });
        }
    }
}

impl<K: Hash + Eq, R: Runtime> fmt::Debug for KeyedAcquire<'_, K, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedAcquire").finish_non_exhaustive()
    }
}

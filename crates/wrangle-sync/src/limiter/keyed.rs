//! [`KeyedLimiter`]: one GCRA rate limit per key, in bounded memory.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project::{pin_project, pinned_drop};
use wrangle_rt::{DefaultRuntime, Runtime, saturating_deadline};

use super::gcra::Gcra;
use super::jitter::JitterRng;
use super::reserve_wait::ReserveWait;
use super::{InsufficientCapacity, InvalidQuota, LimiterStats, Quota, RateLimited};
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
/// The table hashes keys with std's `RandomState` (DoS-resistant) unless another hasher is
/// given with [`with_hasher`](Self::with_hasher) (governor's `hashmap_with_hasher`): a faster
/// one where keys are not chosen by an adversary.
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
pub struct KeyedLimiter<K, R: Runtime = DefaultRuntime, S = RandomState> {
    rt: R,
    quota: Gcra,
    jitter: JitterRng,
    state: Mutex<State<K, S>>,
}

struct State<K, S> {
    tat: HashMap<K, u64, S>,
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

    /// A limit of `quota` per key, on [`DefaultRuntime::current`] (governor's
    /// `RateLimiter::keyed`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use wrangle_sync::{KeyedLimiter, Quota};
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let per_ip = KeyedLimiter::from_quota(Quota::per_second(NonZeroU32::MIN)).unwrap();
    ///     assert!(per_ip.check("10.0.0.1").is_ok());
    ///     assert!(per_ip.check("10.0.0.1").is_err());
    ///     assert!(per_ip.check("10.0.0.2").is_ok());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota`] as [`new`](Self::new); see [`Quota`].
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn from_quota(quota: Quota) -> Result<Self, InvalidQuota> {
        KeyedLimiter::from_quota_with_runtime(DefaultRuntime::current(), quota)
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
        KeyedLimiter::from_quota_with_runtime(rt, Quota::per(rate, per).allow_burst(burst))
    }

    /// A limit of `quota` per key, on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use wrangle_sync::{KeyedLimiter, Quota};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let quota = Quota::per_hour(NonZeroU32::new(3).unwrap());
    /// let per_user = KeyedLimiter::from_quota_with_runtime(rt, quota).unwrap();
    /// for _ in 0..3 {
    ///     per_user.check(&42_u64).unwrap();
    /// }
    /// assert!(per_user.check(&42).is_err()); // the next one in 20 minutes
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota`] as [`with_runtime`](Self::with_runtime); see [`Quota`].
    pub fn from_quota_with_runtime(rt: R, quota: Quota) -> Result<Self, InvalidQuota> {
        KeyedLimiter::with_hasher(rt, quota, RandomState::new())
    }
}

impl<K: Hash + Eq, R: Runtime, S: BuildHasher> KeyedLimiter<K, R, S> {
    /// A limit of `quota` per key, on `rt`, hashing keys with `hasher` (governor's
    /// `hashmap_with_hasher`). The hasher's `hash_one` is user code like the key's `Hash`.
    ///
    /// # Examples
    ///
    /// A deterministic hasher (here std's `DefaultHasher` with fixed keys; a crate such as
    /// ahash or foldhash would be faster) for keys no adversary chooses:
    ///
    /// ```
    /// use std::hash::BuildHasherDefault;
    /// use std::collections::hash_map::DefaultHasher;
    /// use std::num::NonZeroU32;
    /// use wrangle_sync::{KeyedLimiter, Quota};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let quota = Quota::per_second(NonZeroU32::new(2).unwrap());
    /// let limiter: KeyedLimiter<u32, _, BuildHasherDefault<DefaultHasher>> =
    ///     KeyedLimiter::with_hasher(rt, quota, BuildHasherDefault::default()).unwrap();
    /// assert!(limiter.check(&7).is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidQuota`] as [`with_runtime`](Self::with_runtime); see [`Quota`].
    pub fn with_hasher(rt: R, quota: Quota, hasher: S) -> Result<Self, InvalidQuota> {
        let quota = Gcra::from_quota(quota)?;
        Ok(KeyedLimiter {
            jitter: JitterRng::for_runtime(&rt),
            rt,
            quota,
            state: Mutex::new(State {
                tat: HashMap::with_hasher(hasher),
                sweep: Sweep::new(MIN_SWEEP),
                admitted: 0,
                refused: 0,
                refunded: 0,
            }),
        })
    }

    /// Seeds the random jitter of this limiter's waits ([`KeyedAcquire::jitter`]); see
    /// [`GcraLimiter::jitter_seed`](crate::GcraLimiter::jitter_seed).
    #[must_use]
    pub fn jitter_seed(self, seed: u64) -> Self {
        self.jitter.reseed(seed);
        self
    }

    /// The burst: the most cells admitted at once for one key.
    #[must_use]
    pub fn burst_size(&self) -> NonZeroU32 {
        NonZeroU32::new(self.quota.burst).expect("a quota's burst is not zero")
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
        self.check_cells(key, 1)
    }

    /// Admits `n` cells for `key` at once now if that conforms to its limit (governor's
    /// `check_key_n`); never waits. Either all `n` pass or none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use wrangle_sync::{KeyedLimiter, Quota};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let n = |n| NonZeroU32::new(n).unwrap();
    /// let bytes = KeyedLimiter::from_quota_with_runtime(rt, Quota::per_second(n(1000))).unwrap();
    /// assert!(bytes.check_n("upload-1", n(800)).unwrap().is_ok());
    /// assert!(bytes.check_n("upload-1", n(800)).unwrap().is_err());
    /// assert!(bytes.check_n("upload-2", n(800)).unwrap().is_ok());
    /// assert_eq!(bytes.check_n("upload-3", n(1001)).unwrap_err().capacity(), 1000);
    /// ```
    ///
    /// # Errors
    ///
    /// The outer [`InsufficientCapacity`] if `n` is above the burst; the inner
    /// [`RateLimited`] with the instant the `n` cells would conform.
    pub fn check_n<Q>(
        &self,
        key: &Q,
        n: NonZeroU32,
    ) -> Result<Result<(), RateLimited>, InsufficientCapacity>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let n = self.quota.cells(n)?;
        Ok(self.check_cells(key, n))
    }

    fn check_cells<Q>(&self, key: &Q, n: u32) -> Result<(), RateLimited>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let now = self.rt.monotonic_nanos();
        let mut st = lock(&self.state);
        if let Some(tat) = st.tat.get_mut(key) {
            let slot = self.quota.slot(*tat, now, n);
            if slot > now {
                st.refused += 1;
                drop(st);
                return Err(RateLimited {
                    retry_at: saturating_deadline(self.rt.now(), Duration::from_nanos(slot - now)),
                });
            }
            *tat = self.quota.next_tat(*tat, slot, n);
            st.admitted += 1;
            return Ok(());
        }
        // A key without an entry has a fully recovered limit: `n` (at most the burst)
        // conform now.
        let next = self.quota.next_tat(0, self.quota.slot(0, now, n), n);
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
    pub fn acquire(&self, key: K) -> KeyedAcquire<'_, K, R, S>
    where
        K: Clone,
    {
        KeyedAcquire {
            limiter: self,
            key,
            n: 1,
            jitter: Duration::ZERO,
            inner: ReserveWait::new(),
        }
    }

    /// Waits until `n` cells conform at once for `key` (governor's `until_key_n_ready`):
    /// reserves the earliest instant they do, in call order for that key, and sleeps until it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_sync::{KeyedLimiter, Quota};
    ///
    /// let rt = VirtualRuntime::new();
    /// let n = |n| NonZeroU32::new(n).unwrap();
    /// let limiter = KeyedLimiter::from_quota_with_runtime(rt.clone(), Quota::per_second(n(4)))
    ///     .unwrap();
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     limiter.acquire_n("a", n(4)).unwrap().await;
    ///     limiter.acquire_n("b", n(4)).unwrap().await; // another key: at once
    ///     assert_eq!(rt.now(), start);
    ///     limiter.acquire_n("a", n(2)).unwrap().await; // two cells of 250 ms each
    /// });
    /// assert_eq!(rt.now() - start, Duration::from_millis(500));
    /// ```
    ///
    /// # Errors
    ///
    /// [`InsufficientCapacity`] at once if `n` is above the burst.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    pub fn acquire_n(
        &self,
        key: K,
        n: NonZeroU32,
    ) -> Result<KeyedAcquire<'_, K, R, S>, InsufficientCapacity>
    where
        K: Clone,
    {
        let n = self.quota.cells(n)?;
        Ok(KeyedAcquire {
            limiter: self,
            key,
            n,
            jitter: Duration::ZERO,
            inner: ReserveWait::new(),
        })
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

    /// Drops the entries of keys whose limit has fully recovered, as
    /// [`retain_recent`](Self::retain_recent), and gives the table's spare memory back
    /// (governor's `shrink_to_fit`; the limiter also does both on its own as the table
    /// grows and empties).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_sync::{KeyedLimiter, Quota};
    ///
    /// let rt = VirtualRuntime::new();
    /// let limiter =
    ///     KeyedLimiter::from_quota_with_runtime(rt.clone(), Quota::per_second(NonZeroU32::MIN))
    ///         .unwrap();
    /// for client in 0..500_u32 {
    ///     limiter.check(&client).unwrap();
    /// }
    /// assert_eq!(limiter.len(), 500);
    /// rt.block_on(rt.advance(Duration::from_secs(1))); // every limit recovers
    /// limiter.check(&7).unwrap(); // one recent key
    /// limiter.shrink();
    /// assert_eq!(limiter.len(), 1);
    /// ```
    pub fn shrink(&self) {
        let now = self.rt.monotonic_nanos();
        let mut st = lock(&self.state);
        let st = &mut *st;
        st.sweep.retain(&mut st.tat, |_, t| *t > now);
        st.tat.shrink_to_fit();
    }

    /// Reserves the next conforming slot for `key`; the instant returned is on the runtime's
    /// clock (`rt_now` plus the wait), the ticket is the key's theoretical arrival time after it.
    fn reserve(&self, key: &K, rt_now: Instant, n: u32, jitter: Duration) -> (Instant, u64)
    where
        K: Clone,
    {
        let now = self.rt.monotonic_nanos();
        let mut st = lock(&self.state);
        let tat = st.tat.get(key).copied().unwrap_or(0);
        let slot = self.quota.slot(tat, now, n);
        let next = self.quota.next_tat(tat, slot, n);
        st.admitted += 1;
        if st.tat.insert(key.clone(), next).is_none() {
            st.maybe_sweep(now);
        }
        drop(st);
        let mut wait = Duration::from_nanos(slot - now);
        if !wait.is_zero() && !jitter.is_zero() {
            wait = wait.saturating_add(self.jitter.up_to(jitter));
        }
        (saturating_deadline(rt_now, wait), next)
    }

    fn refund(&self, key: &K, ticket: u64, n: u32) {
        let mut st = lock(&self.state);
        if let Some(t) = st.tat.get_mut(key)
            && *t == ticket
        {
            *t = ticket - u64::from(n) * self.quota.interval;
            st.admitted -= 1;
            st.refunded += 1;
        }
    }
}

impl<K: Hash + Eq, S: BuildHasher> State<K, S> {
    fn maybe_sweep(&mut self, now: u64) {
        self.sweep.after_insert(&mut self.tat, |_, t| *t > now);
    }
}

impl<K, R: Runtime, S> fmt::Debug for KeyedLimiter<K, R, S> {
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
pub struct KeyedAcquire<'a, K: Hash + Eq, R: Runtime, S: BuildHasher = RandomState> {
    limiter: &'a KeyedLimiter<K, R, S>,
    key: K,
    n: u32,
    jitter: Duration,
    #[pin]
    inner: ReserveWait<u64, R::Sleep>,
}

impl<K: Hash + Eq + Clone, R: Runtime, S: BuildHasher> Future for KeyedAcquire<'_, K, R, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let (limiter, key, n, jitter) = (*this.limiter, &*this.key, *this.n, *this.jitter);
        this.inner
            .poll_reserve(&limiter.rt, cx, |now| limiter.reserve(key, now, n, jitter))
    }
}

impl<K: Hash + Eq, R: Runtime, S: BuildHasher> KeyedAcquire<'_, K, R, S> {
    /// Adds a random delay of up to `max` to the wait, if there is one; see
    /// [`GcraAcquire::jitter`](crate::future::GcraAcquire::jitter).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_sync::{KeyedLimiter, Quota};
    ///
    /// let rt = VirtualRuntime::new();
    /// let limiter =
    ///     KeyedLimiter::from_quota_with_runtime(rt.clone(), Quota::per_second(NonZeroU32::MIN))
    ///         .unwrap()
    ///         .jitter_seed(7);
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     limiter.acquire("k").jitter(Duration::from_millis(50)).await;
    ///     limiter.acquire("k").jitter(Duration::from_millis(50)).await;
    /// });
    /// let waited = rt.now() - start;
    /// assert!(waited >= Duration::from_secs(1) && waited <= Duration::from_millis(1050));
    /// ```
    pub fn jitter(mut self, max: Duration) -> Self {
        self.jitter = max;
        self
    }
}

#[pinned_drop]
impl<K: Hash + Eq, R: Runtime, S: BuildHasher> PinnedDrop for KeyedAcquire<'_, K, R, S> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        if let Some(ticket) = this.inner.take_outstanding() {
            let (limiter, key, n) = (*this.limiter, &*this.key, *this.n);
            // Refunding hashes the key: user code, in a destructor.
            crate::contain::in_drop("wrangle_sync::KeyedLimiter", || {
                limiter.refund(key, ticket, n);
            });
        }
    }
}

impl<K: Hash + Eq, R: Runtime, S: BuildHasher> fmt::Debug for KeyedAcquire<'_, K, R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedAcquire")
            .field("n", &self.n)
            .field("jitter", &self.jitter)
            .finish_non_exhaustive()
    }
}

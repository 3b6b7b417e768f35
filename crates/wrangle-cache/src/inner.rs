//! The shared state of a cache and the two halves of a load: joining it and ending it.

use std::hash::Hash;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;

use wrangle_rt::Runtime;

use crate::counter::StripedCounter;
use crate::entry::{Entry, NEVER};
use crate::flight::{Flight, Flights, Joined, Outcome};
use crate::stats::CacheStats;
use crate::store::{Found, Store};

/// Weighs a value (user code: called before any lock is taken).
pub(crate) type WeighFn<K, V> = Arc<dyn Fn(&K, &V) -> u64 + Send + Sync>;

pub(crate) struct Counters {
    pub(crate) hits: StripedCounter,
    pub(crate) misses: StripedCounter,
    pub(crate) started: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) panicked: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) refreshes: AtomicU64,
    pub(crate) evictions: Arc<AtomicU64>,
    pub(crate) invalidations: AtomicU64,
}

pub(crate) struct Inner<K, V, R> {
    pub(crate) rt: R,
    pub(crate) store: Store<K, V>,
    pub(crate) flights: Flights<K, V>,
    /// Time to live in nanoseconds (`NEVER`: none).
    pub(crate) ttl: u64,
    /// Time to idle in nanoseconds (`NEVER`: none).
    pub(crate) tti: u64,
    /// Refresh-ahead starts this long before expiry (`0`: never).
    pub(crate) refresh_before: u64,
    pub(crate) weigh: Option<WeighFn<K, V>>,
    pub(crate) capacity: u64,
    /// No time to live, no time to idle, no refresh: no deadline ever needs the clock.
    pub(crate) timeless: bool,
    pub(crate) next_id: AtomicU64,
    pub(crate) counters: Counters,
}

/// What a loader's end hands to the flight.
pub(crate) enum Share<V> {
    /// Store this value (with its own time to live, when given) and hand it to the waiters.
    Store(V, Option<u64>),
    /// Hand this outcome to the waiters; store nothing.
    Pass(Outcome<V>),
}

impl<K, V, R> Inner<K, V, R>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    /// The runtime's clock; not read at all by a cache without deadlines (`timeless`).
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        if self.timeless {
            0
        } else {
            self.rt.monotonic_nanos()
        }
    }

    /// The hot path: a fresh entry or nothing. Counts nothing.
    #[inline]
    pub(crate) fn lookup(&self, key: &K, now: u64) -> Option<Entry<V>> {
        match self.store.get(key, now, self.tti) {
            Found::Fresh(entry) => Some(entry),
            Found::Expired | Found::Absent => None,
        }
    }

    /// After a miss: a fresh entry that arrived meanwhile, or the flight to wait on or lead.
    pub(crate) fn join(&self, key: &K, waker: &Waker) -> Joined2<V> {
        let mut shard = self.flights.shard(key);
        // A leader stores its value before it unlinks its flight, so under the shard lock a
        // value that is not in the store yet still has its flight here.
        if let Some(entry) = self.lookup(key, self.now()) {
            return Joined2::Value(entry.value);
        }
        match Flights::join(&mut shard, key) {
            Joined::Wait(flight) => {
                let slot = flight.lock().park(waker);
                Joined2::Wait(flight, slot)
            }
            Joined::Lead(flight) => {
                drop(shard);
                self.counters.started.fetch_add(1, Ordering::Relaxed);
                Joined2::Lead(flight)
            }
        }
    }

    /// The weight of a value; `None` when the user's weigher panicked (the value is then
    /// not kept, and counts as refused).
    pub(crate) fn weigh(&self, key: &K, value: &V) -> Option<u64> {
        match &self.weigh {
            // Zero-weight entries would never be evicted; they count as one.
            Some(weigh) => {
                let weight = catch_unwind(AssertUnwindSafe(|| weigh(key, value)));
                match weight {
                    Ok(w) => Some(w.max(1)),
                    Err(_) => {
                        self.counters.evictions.fetch_add(1, Ordering::Relaxed);
                        None
                    }
                }
            }
            None => Some(1),
        }
    }

    /// Builds the entry for a value loaded (or inserted) at `now`.
    pub(crate) fn entry(&self, value: V, weight: u64, now: u64, ttl: Option<u64>) -> Entry<V> {
        let ttl = ttl.unwrap_or(self.ttl);
        let expires_at = now.saturating_add(ttl);
        let refresh_at = if self.refresh_before == 0 || expires_at == NEVER {
            NEVER
        } else {
            now.saturating_add(ttl.saturating_sub(self.refresh_before))
        };
        Entry {
            value,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            weight,
            expires_at,
            refresh_at,
            touched: (self.tti != NEVER).then(|| Arc::new(AtomicU64::new(now))),
        }
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        if let Some(weight) = self.weigh(&key, &value) {
            let entry = self.entry(value, weight, self.now(), None);
            self.store.insert(key, entry, &self.counters.evictions);
        }
    }

    pub(crate) fn invalidate(&self, key: &K) -> bool {
        let mut shard = self.flights.shard(key);
        let detached = shard.remove(key);
        if let Some(flight) = &detached {
            flight.lock().keep = false;
        }
        // Removed under the shard lock: no new load of `key` can store before this.
        let removed = self.store.remove(key);
        drop(shard);
        if removed {
            self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
        }
        removed
    }

    pub(crate) fn clear(&self) {
        self.flights.detach_all();
        self.store.clear();
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let started = c.started.load(Ordering::Relaxed);
        let completed = c.completed.load(Ordering::Relaxed);
        let failed = c.failed.load(Ordering::Relaxed);
        let cancelled = c.cancelled.load(Ordering::Relaxed);
        CacheStats {
            hits: c.hits.sum(),
            misses: c.misses.sum(),
            started,
            completed,
            failed,
            panicked: c.panicked.load(Ordering::Relaxed),
            cancelled,
            running: usize::try_from(started.saturating_sub(completed + failed + cancelled))
                .unwrap_or(usize::MAX),
            refreshes: c.refreshes.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            invalidations: c.invalidations.load(Ordering::Relaxed),
            entries: self.store.len(),
            weight: self.store.weight(),
        }
    }
}

/// [`Joined`] with the value a late check found and the waiter's parking slot.
pub(crate) enum Joined2<V> {
    Value(V),
    Wait(Arc<Flight<V>>, usize),
    Lead(Arc<Flight<V>>),
}

/// The leader's duty: end the flight exactly once. Dropped unfinished (the leader was
/// cancelled), it hands the load over to the waiters.
pub(crate) struct Lead<I, K, V, R>
where
    I: Deref<Target = Inner<K, V, R>>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    inner: I,
    key: K,
    flight: Option<Arc<Flight<V>>>,
}

impl<I, K, V, R> Lead<I, K, V, R>
where
    I: Deref<Target = Inner<K, V, R>>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    pub(crate) fn new(inner: I, key: K, flight: Arc<Flight<V>>) -> Self {
        Lead {
            inner,
            key,
            flight: Some(flight),
        }
    }

    /// Ends the load: stores a value (unless invalidated meanwhile), unlinks the flight,
    /// then hands the outcome to every waiter.
    pub(crate) fn finish(mut self, share: Share<V>) {
        let flight = self.flight.take().expect("a lead finishes once");
        let inner = &*self.inner;
        let counters = &inner.counters;
        let outcome = match share {
            Share::Store(value, ttl) => {
                counters.completed.fetch_add(1, Ordering::Relaxed);
                if let Some(weight) = inner.weigh(&self.key, &value) {
                    let entry = inner.entry(value.clone(), weight, inner.now(), ttl);
                    // Under the flight lock, so `invalidate` either sees this store or
                    // stops it.
                    let state = flight.lock();
                    if state.keep {
                        inner
                            .store
                            .insert(self.key.clone(), entry, &counters.evictions);
                    }
                }
                Outcome::Value(value)
            }
            Share::Pass(outcome) => {
                match &outcome {
                    Outcome::Value(_) => counters.completed.fetch_add(1, Ordering::Relaxed),
                    Outcome::Failed(_) => counters.failed.fetch_add(1, Ordering::Relaxed),
                    Outcome::Panicked(_) => {
                        counters.panicked.fetch_add(1, Ordering::Relaxed);
                        counters.failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                outcome
            }
        };
        Flights::unlink(&mut inner.flights.shard(&self.key), &self.key, &flight);
        let wakers = {
            let mut state = flight.lock();
            state.outcome = Some(outcome);
            state.leading = false;
            state.wakers()
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl<I, K, V, R> Drop for Lead<I, K, V, R>
where
    I: Deref<Target = Inner<K, V, R>>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    fn drop(&mut self) {
        let Some(flight) = self.flight.take() else {
            return;
        };
        let inner = &*self.inner;
        inner.counters.cancelled.fetch_add(1, Ordering::Relaxed);
        let mut shard = inner.flights.shard(&self.key);
        let wakers = {
            let mut state = flight.lock();
            state.leading = false;
            if state.parked() == 0 {
                Flights::unlink(&mut shard, &self.key, &flight);
            }
            state.wakers()
        };
        drop(shard);
        // Every waiter wakes; the first back takes the load over, the others park again.
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl<K, V, R> Inner<K, V, R>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    /// Starts a load of `key` unless a fresh entry is held or a load runs (a preemptive
    /// start). Reads nothing a hit would (no recency change, no idle touch).
    pub(crate) fn lead_if_missing(&self, key: &K) -> Option<Arc<Flight<V>>> {
        let mut shard = self.flights.shard(key);
        let now = self.now();
        if self
            .store
            .peek(key)
            .is_some_and(|e| e.is_fresh(now, self.tti))
        {
            return None;
        }
        match Flights::join(&mut shard, key) {
            Joined::Lead(flight) => {
                self.counters.started.fetch_add(1, Ordering::Relaxed);
                Some(flight)
            }
            Joined::Wait(_) => None,
        }
    }

    /// Starts a refresh of `key` unless a load of it runs.
    pub(crate) fn lead_refresh(&self, key: &K) -> Option<Arc<Flight<V>>> {
        let flight = self.flights.try_lead(key)?;
        self.counters.started.fetch_add(1, Ordering::Relaxed);
        self.counters.refreshes.fetch_add(1, Ordering::Relaxed);
        Some(flight)
    }
}

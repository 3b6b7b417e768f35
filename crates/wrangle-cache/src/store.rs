//! Where loaded entries live: quick_cache's S3-FIFO (sharded, weighted, concurrent reads) or
//! the exact LRU behind one lock. ADR 0070 says why these two and not a map of our own.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::Cache as Fifo;
use quick_cache::{DefaultHashBuilder, Lifecycle, UnitWeighter, Weighter};

use crate::entry::{Entry, NEVER};
use crate::loom::{Mutex, lock};
use crate::lru::Lru;

/// The eviction policy of a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Policy {
    /// S3-FIFO (quick_cache): scan-resistant, reads take a shared shard lock and write
    /// nothing of ours. The default.
    #[default]
    S3Fifo,
    /// Exact least-recently-used: a read makes its entry the most recent, the least recent
    /// is evicted first. Every operation takes one lock; use it where LRU order is promised.
    Lru,
}

/// What a lookup found.
pub(crate) enum Found<V> {
    Fresh(Entry<V>),
    /// Present but expired: removed on the spot (if still the same entry).
    Expired,
    Absent,
}

#[derive(Clone)]
pub(crate) struct EntryWeighter;

impl<K, V> Weighter<K, Entry<V>> for EntryWeighter {
    fn weight(&self, _key: &K, entry: &Entry<V>) -> u64 {
        entry.weight
    }
}

/// Counts evictions (and refused admissions) into the cache's statistics.
#[derive(Clone)]
pub(crate) struct CountEvictions(Arc<AtomicU64>);

impl<K, V> Lifecycle<K, V> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), _key: K, _val: V) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

type FifoStore<K, V> = Fifo<K, Entry<V>, EntryWeighter, DefaultHashBuilder, CountEvictions>;

/// S3-FIFO holding bare values: for a cache whose entries have no deadline and no weight
/// of their own (no time to live, no time to idle, no refresh, no weigher), where an
/// [`Entry`]'s fields would all be constants. A hit is then exactly quick_cache's `get`.
pub(crate) type BareStore<K, V> = Fifo<K, V, UnitWeighter, DefaultHashBuilder, CountEvictions>;

pub(crate) enum Store<K, V> {
    Fifo(FifoStore<K, V>),
    Bare(BareStore<K, V>),
    Lru(Mutex<Lru<K, Entry<V>, DefaultHashBuilder>>),
}

/// Items quick_cache sizes its shards for: never more than this up front, whatever the
/// user's maximum (api.md: no capacity reserved from a user's maximum).
const ESTIMATE_CAP: u64 = 4096;

/// Shards of an S3-FIFO store per available core (see `Store::new`).
const SHARDS_PER_CORE: usize = 8;

impl<K, V> Store<K, V>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    /// `timeless`: no entry of this cache ever has a deadline (see `Inner::timeless`).
    pub(crate) fn new(
        policy: Policy,
        capacity: u64,
        by_weight: bool,
        timeless: bool,
        evictions: Arc<AtomicU64>,
    ) -> Self {
        match policy {
            Policy::S3Fifo => {
                // With weights the item count is unknown; one item per 16 units is a guess
                // that only sizes the shards.
                let estimate = if by_weight { capacity / 16 } else { capacity };
                let options = quick_cache::OptionsBuilder::new()
                    .estimated_items_capacity(estimate.clamp(1, ESTIMATE_CAP) as usize)
                    // Twice quick_cache's default of four per core: hits take their shard's
                    // read lock, a write to a shared line, and two threads reading a zipf of
                    // hot keys met on the same eight locks often enough to cost 20% (cache_hit
                    // on 2 threads: 1.01 of quick_cache with eight shards, 0.82 with sixteen;
                    // docs/benchmarks.md). quick_cache halves the count until a shard has room
                    // for 32 of the estimated items, so small caches keep few shards.
                    .shards(
                        SHARDS_PER_CORE
                            * std::thread::available_parallelism().map_or(4, |n| n.get()),
                    )
                    .weight_capacity(capacity)
                    .build()
                    .expect("both capacities are set");
                if timeless && !by_weight {
                    // Unit weights: the same capacity in entries as `EntryWeighter` gives
                    // entries of weight 1 (what `Inner::weigh` gives without a weigher).
                    return Store::Bare(Fifo::with_options(
                        options,
                        UnitWeighter,
                        DefaultHashBuilder::default(),
                        CountEvictions(evictions),
                    ));
                }
                Store::Fifo(Fifo::with_options(
                    options,
                    EntryWeighter,
                    DefaultHashBuilder::default(),
                    CountEvictions(evictions),
                ))
            }
            Policy::Lru => Store::Lru(Mutex::new(Lru::new(
                capacity,
                DefaultHashBuilder::default(),
            ))),
        }
    }

    /// Looks `key` up at `now`; an expired entry is removed and never returned, and an LRU
    /// entry becomes the most recent only when it is served.
    #[inline]
    pub(crate) fn get(&self, key: &K, now: u64, idle: u64) -> Found<V> {
        match self {
            Store::Bare(bare) => match bare.get(key) {
                Some(value) => Found::Fresh(Entry::timeless(value)),
                None => Found::Absent,
            },
            Store::Fifo(fifo) => match fifo.get(key) {
                Some(entry) if entry.is_fresh(now, idle) => {
                    entry.touch(now);
                    Found::Fresh(entry)
                }
                Some(entry) => {
                    drop(fifo.remove_if(key, |e| e.id == entry.id));
                    Found::Expired
                }
                None => Found::Absent,
            },
            Store::Lru(lru) => {
                let mut lru = lock(lru);
                let fresh = match lru.peek(key) {
                    Some(entry) => entry.is_fresh(now, idle),
                    None => return Found::Absent,
                };
                if fresh {
                    let entry = lru.get(key).expect("peeked").clone();
                    entry.touch(now);
                    Found::Fresh(entry)
                } else {
                    let stale = lru.remove_if(key, |_| true);
                    drop(lru);
                    drop(stale);
                    Found::Expired
                }
            }
        }
    }

    /// The entry for `key` without counting as a use (no recency change, no idle touch).
    pub(crate) fn peek(&self, key: &K) -> Option<Entry<V>> {
        match self {
            Store::Fifo(fifo) => fifo.peek(key),
            Store::Bare(bare) => bare.peek(key).map(Entry::timeless),
            Store::Lru(lru) => lock(lru).peek(key).cloned(),
        }
    }

    pub(crate) fn insert(&self, key: K, entry: Entry<V>, evictions: &AtomicU64) {
        match self {
            Store::Fifo(fifo) => fifo.insert(key, entry),
            Store::Bare(bare) => {
                debug_assert!(entry.expires_at == NEVER && entry.weight == 1);
                bare.insert(key, entry.value);
            }
            Store::Lru(lru) => {
                let weight = entry.weight;
                let evicted = lock(lru).insert(key, entry, weight);
                evictions.fetch_add(evicted.len() as u64, Ordering::Relaxed);
                // Values are dropped here, after the lock is released.
                drop(evicted);
            }
        }
    }

    /// Removes `key`; whether something was there.
    pub(crate) fn remove(&self, key: &K) -> bool {
        match self {
            Store::Fifo(fifo) => fifo.remove(key).is_some(),
            Store::Bare(bare) => bare.remove(key).is_some(),
            Store::Lru(lru) => {
                let removed = lock(lru).remove_if(key, |_| true);
                removed.is_some()
            }
        }
    }

    pub(crate) fn clear(&self) {
        match self {
            Store::Fifo(fifo) => fifo.clear(),
            Store::Bare(bare) => bare.clear(),
            Store::Lru(lru) => {
                let slots = lock(lru).clear();
                drop(slots);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Store::Fifo(fifo) => fifo.len(),
            Store::Bare(bare) => bare.len(),
            Store::Lru(lru) => lock(lru).len(),
        }
    }

    pub(crate) fn weight(&self) -> u64 {
        match self {
            Store::Fifo(fifo) => fifo.weight(),
            Store::Bare(bare) => bare.weight(),
            Store::Lru(lru) => lock(lru).weight(),
        }
    }
}

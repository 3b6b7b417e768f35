//! Loads in progress, one per key: the leader runs the loader, waiters park here until it
//! ends. A leader that goes away before the end hands the load over: every waiter is woken
//! and the first to come back runs its own loader (nothing is cancelled for the others, and
//! nothing is poisoned).

use std::any::Any;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::task::Waker;

use quick_cache::DefaultHashBuilder;

use crate::loom::{Mutex, MutexGuard, lock};

/// How a load ended, as every waiter sees it.
pub(crate) enum Outcome<V> {
    Value(V),
    /// The loader's error, type-erased: a waiter takes it back with a downcast.
    Failed(Arc<dyn Any + Send + Sync>),
    /// The loader panicked; the panic's message when it had one.
    Panicked(Option<Arc<str>>),
}

impl<V: Clone> Clone for Outcome<V> {
    fn clone(&self) -> Self {
        match self {
            Outcome::Value(v) => Outcome::Value(v.clone()),
            Outcome::Failed(e) => Outcome::Failed(Arc::clone(e)),
            Outcome::Panicked(m) => Outcome::Panicked(m.clone()),
        }
    }
}

pub(crate) struct FlightState<V> {
    pub(crate) outcome: Option<Outcome<V>>,
    /// Someone is running the loader.
    pub(crate) leading: bool,
    /// Cleared by `invalidate`/`clear`: the result still reaches the waiters but is not stored.
    pub(crate) keep: bool,
    waiters: Vec<Option<Waker>>,
    free: Vec<usize>,
    parked: usize,
}

pub(crate) struct Flight<V> {
    state: Mutex<FlightState<V>>,
}

impl<V> Flight<V> {
    fn new() -> Self {
        Flight {
            state: Mutex::new(FlightState {
                outcome: None,
                leading: true,
                keep: true,
                waiters: Vec::new(),
                free: Vec::new(),
                parked: 0,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, FlightState<V>> {
        lock(&self.state)
    }
}

impl<V> FlightState<V> {
    /// Parks a waker; returns its slot.
    pub(crate) fn park(&mut self, waker: &Waker) -> usize {
        self.parked += 1;
        match self.free.pop() {
            Some(slot) => {
                self.waiters[slot] = Some(waker.clone());
                slot
            }
            None => {
                self.waiters.push(Some(waker.clone()));
                self.waiters.len() - 1
            }
        }
    }

    /// Replaces the waker in `slot` if it would wake another task.
    pub(crate) fn repark(&mut self, slot: usize, waker: &Waker) {
        match &mut self.waiters[slot] {
            Some(w) if w.will_wake(waker) => {}
            other => *other = Some(waker.clone()),
        }
    }

    pub(crate) fn unpark(&mut self, slot: usize) {
        if self.waiters[slot].take().is_some() {
            self.free.push(slot);
            self.parked -= 1;
        }
    }

    pub(crate) fn parked(&self) -> usize {
        self.parked
    }

    /// Every parked waker, to be woken once the locks are released.
    pub(crate) fn wakers(&mut self) -> Vec<Waker> {
        self.waiters.iter().flatten().cloned().collect()
    }
}

const SHARDS: usize = 16;

type Shard<K, V> = Mutex<HashMap<K, Arc<Flight<V>>, DefaultHashBuilder>>;

/// The loads in progress, sharded by key hash so misses on different keys rarely meet.
pub(crate) struct Flights<K, V> {
    hasher: DefaultHashBuilder,
    shards: Box<[Shard<K, V>]>,
}

/// What a miss found under the shard lock.
pub(crate) enum Joined<V> {
    /// A load is running: park here.
    Wait(Arc<Flight<V>>),
    /// No load: this caller leads a new one.
    Lead(Arc<Flight<V>>),
}

impl<K: Hash + Eq + Clone, V> Flights<K, V> {
    pub(crate) fn new() -> Self {
        Flights {
            hasher: DefaultHashBuilder::default(),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(DefaultHashBuilder::default())))
                .collect(),
        }
    }

    pub(crate) fn shard(
        &self,
        key: &K,
    ) -> MutexGuard<'_, HashMap<K, Arc<Flight<V>>, DefaultHashBuilder>> {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        lock(&self.shards[index])
    }

    /// Joins the load of `key`, or starts one; the caller holds `shard`.
    pub(crate) fn join(
        shard: &mut HashMap<K, Arc<Flight<V>>, DefaultHashBuilder>,
        key: &K,
    ) -> Joined<V> {
        if let Some(flight) = shard.get(key) {
            return Joined::Wait(Arc::clone(flight));
        }
        let flight = Arc::new(Flight::new());
        shard.insert(key.clone(), Arc::clone(&flight));
        Joined::Lead(flight)
    }

    /// Starts a load of `key` only when none runs (refresh-ahead).
    pub(crate) fn try_lead(&self, key: &K) -> Option<Arc<Flight<V>>> {
        let mut shard = self.shard(key);
        match Self::join(&mut shard, key) {
            Joined::Lead(flight) => Some(flight),
            Joined::Wait(_) => None,
        }
    }

    /// Unlinks `flight` from `key` if it is still the one there.
    pub(crate) fn unlink(
        shard: &mut HashMap<K, Arc<Flight<V>>, DefaultHashBuilder>,
        key: &K,
        flight: &Arc<Flight<V>>,
    ) {
        if shard.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            shard.remove(key);
        }
    }

    /// Detaches every load in progress (for `clear`): their results reach their waiters
    /// and are not stored.
    pub(crate) fn detach_all(&self) {
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            for (_, flight) in shard.drain() {
                flight.lock().keep = false;
            }
        }
    }
}

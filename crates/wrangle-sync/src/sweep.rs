//! Bounded memory for keyed tables: drop stale entries whenever a table has doubled since its
//! last sweep (amortised O(1) per insert), and give the memory back when a table has shrunk
//! well below its capacity; shared by the keyed limiter and the keyed lockouts.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// When a keyed table is next swept.
#[derive(Debug)]
pub(crate) struct Sweep {
    at: usize,
    min: usize,
}

impl Sweep {
    /// No sweep while the table is smaller than `min`.
    pub(crate) fn new(min: usize) -> Self {
        Sweep { at: min, min }
    }

    /// After an insert: if `map` has reached the sweep size, keeps only the entries `keep`
    /// accepts and sets the next sweep at twice what is left.
    pub(crate) fn after_insert<K: Hash + Eq, V, S: BuildHasher>(
        &mut self,
        map: &mut HashMap<K, V, S>,
        keep: impl FnMut(&K, &mut V) -> bool,
    ) {
        if map.len() >= self.at {
            self.retain(map, keep);
        }
    }

    /// Keeps only the entries `keep` accepts now (a sweep on request), gives back memory,
    /// and sets the next sweep at twice what is left.
    pub(crate) fn retain<K: Hash + Eq, V, S: BuildHasher>(
        &mut self,
        map: &mut HashMap<K, V, S>,
        keep: impl FnMut(&K, &mut V) -> bool,
    ) {
        map.retain(keep);
        self.at = (map.len() * 2).max(self.min);
        shrink(map);
    }

    /// After a removal: gives back memory if the table has shrunk well below its capacity.
    pub(crate) fn after_remove<K: Hash + Eq, V, S: BuildHasher>(map: &mut HashMap<K, V, S>) {
        shrink(map);
    }
}

/// Tables at most this large keep their allocation (a few KiB): no churn for small tables.
const KEEP_CAPACITY: usize = 64;

/// Halves the allocation's headroom once the table uses under a quarter of it: an empty table
/// frees its allocation, and a table reallocates O(1) times per entry it ever held (after a
/// shrink to twice its length, it must fall by half again, or grow past its capacity,
/// before the next reallocation).
fn shrink<K: Hash + Eq, V, S: BuildHasher>(map: &mut HashMap<K, V, S>) {
    let capacity = map.capacity();
    if capacity > KEEP_CAPACITY && map.len() < capacity / 4 {
        map.shrink_to(map.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_when_the_table_doubles() {
        let mut sweep = Sweep::new(4);
        let mut map: HashMap<u32, bool> = HashMap::new();
        for k in 0..3 {
            map.insert(k, k == 0);
            sweep.after_insert(&mut map, |_, live| *live);
            assert_eq!(
                map.len(),
                usize::try_from(k).unwrap() + 1,
                "no sweep below the minimum"
            );
        }
        map.insert(3, true);
        sweep.after_insert(&mut map, |_, live| *live);
        assert_eq!(map.len(), 2, "stale entries 1 and 2 dropped");
        // Next sweep at max(2 * 2, 4) = 4 entries.
        map.insert(4, false);
        sweep.after_insert(&mut map, |_, _| true);
        assert_eq!(map.len(), 3);
        map.insert(5, false);
        sweep.after_insert(&mut map, |_, live| *live);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn an_emptied_or_mostly_emptied_table_gives_its_memory_back() {
        let mut sweep = Sweep::new(4);
        let mut map: HashMap<u32, bool> = (0..10_000).map(|k| (k, k < 100)).collect();
        assert!(map.capacity() >= 10_000);
        sweep.retain(&mut map, |_, live| *live);
        assert_eq!(map.len(), 100);
        assert!(map.capacity() < 1_000, "capacity {}", map.capacity());
        sweep.retain(&mut map, |_, _| false);
        assert_eq!(map.capacity(), 0, "an empty table holds no allocation");
        // Small tables keep their allocation.
        let mut small: HashMap<u32, ()> = (0..10).map(|k| (k, ())).collect();
        let capacity = small.capacity();
        small.clear();
        Sweep::after_remove(&mut small);
        assert_eq!(small.capacity(), capacity);
    }
}

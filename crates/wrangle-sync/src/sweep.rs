//! Bounded memory for keyed tables: drop stale entries whenever a table has doubled since its
//! last sweep (amortised O(1) per insert), shared by the keyed limiter and the keyed lockouts.

use std::collections::HashMap;

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
    pub(crate) fn after_insert<K, V>(
        &mut self,
        map: &mut HashMap<K, V>,
        keep: impl FnMut(&K, &mut V) -> bool,
    ) {
        if map.len() >= self.at {
            map.retain(keep);
            self.at = (map.len() * 2).max(self.min);
        }
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
}

//! An exact least-recently-used map with weights: a hash map of slab indices and a doubly
//! linked recency list threaded through the slab (indices, no `unsafe`).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

const NIL: usize = usize::MAX;

pub(crate) struct Node<K, V> {
    key: K,
    value: V,
    weight: u64,
    prev: usize,
    next: usize,
}

/// The map. The most recent entry is at `head`, the least recent at `tail`.
pub(crate) struct Lru<K, V, S> {
    map: HashMap<K, usize, S>,
    slots: Vec<Option<Node<K, V>>>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    weight: u64,
    capacity: u64,
}

impl<K: Hash + Eq + Clone, V, S: BuildHasher> Lru<K, V, S> {
    /// An empty map holding up to `capacity` in weight. Nothing is reserved up front.
    pub(crate) fn new(capacity: u64, hasher: S) -> Self {
        Lru {
            map: HashMap::with_hasher(hasher),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            weight: 0,
            capacity,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn weight(&self) -> u64 {
        self.weight
    }

    fn node(&self, i: usize) -> &Node<K, V> {
        self.slots[i].as_ref().expect("linked slot is occupied")
    }

    fn node_mut(&mut self, i: usize) -> &mut Node<K, V> {
        self.slots[i].as_mut().expect("linked slot is occupied")
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = {
            let n = self.node(i);
            (n.prev, n.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
    }

    fn push_front(&mut self, i: usize) {
        let head = self.head;
        {
            let n = self.node_mut(i);
            n.prev = NIL;
            n.next = head;
        }
        if head == NIL {
            self.tail = i;
        } else {
            self.node_mut(head).prev = i;
        }
        self.head = i;
    }

    /// The value for `key`, made the most recent.
    pub(crate) fn get(&mut self, key: &K) -> Option<&V> {
        let i = *self.map.get(key)?;
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
        Some(&self.node(i).value)
    }

    /// The value for `key`, recency unchanged.
    pub(crate) fn peek(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|&i| &self.node(i).value)
    }

    fn take(&mut self, i: usize) -> Node<K, V> {
        self.unlink(i);
        let node = self.slots[i].take().expect("linked slot is occupied");
        self.free.push(i);
        self.weight -= node.weight;
        node
    }

    /// Removes `key` when `pred` accepts its value.
    pub(crate) fn remove_if(&mut self, key: &K, pred: impl FnOnce(&V) -> bool) -> Option<V> {
        let i = *self.map.get(key)?;
        if !pred(&self.node(i).value) {
            return None;
        }
        self.map.remove(key);
        Some(self.take(i).value)
    }

    /// Inserts or replaces `key` as the most recent entry, then evicts least recent entries
    /// until the weight fits. Returns the evicted `(key, value)` pairs; an entry heavier than
    /// the whole capacity is refused and returned among them.
    pub(crate) fn insert(&mut self, key: K, value: V, weight: u64) -> Vec<(K, V)> {
        let mut evicted = Vec::new();
        if let Some(&i) = self.map.get(&key) {
            self.map.remove(&key);
            drop(self.take(i));
        }
        if weight > self.capacity {
            evicted.push((key, value));
            return evicted;
        }
        // `weight <= capacity` here, and the total never exceeds the capacity: no overflow.
        while self.weight > self.capacity - weight {
            let tail = self.tail;
            let node = self.take(tail);
            self.map.remove(&node.key);
            evicted.push((node.key, node.value));
        }
        let node = Node {
            key: key.clone(),
            value,
            weight,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(node);
                i
            }
            None => {
                self.slots.push(Some(node));
                self.slots.len() - 1
            }
        };
        self.push_front(i);
        self.map.insert(key, i);
        self.weight += weight;
        evicted
    }

    /// Removes everything, returning the values so the caller can drop them unlocked.
    pub(crate) fn clear(&mut self) -> Vec<Option<Node<K, V>>> {
        self.map.clear();
        self.free.clear();
        self.head = NIL;
        self.tail = NIL;
        self.weight = 0;
        std::mem::take(&mut self.slots)
    }

    /// Keys from the most to the least recent (for tests and the fuzz model).
    #[cfg(test)]
    pub(crate) fn keys(&self) -> Vec<K> {
        let mut out = Vec::new();
        let mut i = self.head;
        while i != NIL {
            out.push(self.node(i).key.clone());
            i = self.node(i).next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::RandomState;

    #[test]
    fn read_refreshes_recency_and_tail_is_evicted() {
        let mut lru = Lru::new(2, RandomState::new());
        assert!(lru.insert(1, 'a', 1).is_empty());
        assert!(lru.insert(2, 'b', 1).is_empty());
        assert_eq!(lru.get(&1), Some(&'a'));
        assert_eq!(lru.insert(3, 'c', 1), vec![(2, 'b')]);
        assert_eq!(lru.keys(), vec![3, 1]);
        assert_eq!(lru.remove_if(&1, |_| false), None);
        assert_eq!(lru.remove_if(&1, |v| *v == 'a'), Some('a'));
        assert_eq!((lru.len(), lru.weight()), (1, 1));
    }

    #[test]
    fn zero_capacity_refuses_and_heavy_entries_are_refused() {
        let mut lru = Lru::new(0, RandomState::new());
        assert_eq!(lru.insert(1, 'a', 1), vec![(1, 'a')]);
        assert_eq!(lru.len(), 0);
        let mut lru = Lru::new(5, RandomState::new());
        lru.insert(1, 'a', 3);
        lru.insert(2, 'b', 2);
        assert_eq!(lru.insert(3, 'c', 6), vec![(3, 'c')]);
        assert_eq!(lru.insert(4, 'd', 4), vec![(1, 'a'), (2, 'b')]);
        assert_eq!(lru.keys(), vec![4]);
        lru.insert(4, 'e', 1);
        assert_eq!((lru.len(), lru.weight()), (1, 1));
        assert_eq!(lru.peek(&4), Some(&'e'));
        drop(lru.clear());
        assert_eq!((lru.len(), lru.weight()), (0, 0));
    }
}

//! The storage orders of [`DualQueue`](crate::DualQueue): FIFO, LIFO and a priority heap.

use std::any::Any;
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A panic raised by the user's comparison function, caught.
pub(crate) type Panic = Box<dyn Any + Send>;

/// Which item a get takes, in the unsorted stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// First in, first out.
    Fifo,
    /// Last in, first out.
    Lifo,
}

pub(crate) enum Store<T> {
    Fifo(VecDeque<T>),
    /// The newest at the back; a `VecDeque` so that [`Store::force_push`] can drop the oldest.
    Lifo(VecDeque<T>),
    Heap(Heap<T>),
}

/// A min-heap under a comparison function; equal items come out in insertion order.
pub(crate) struct Heap<T> {
    items: Vec<(T, u64)>,
    seq: u64,
    cmp: fn(&T, &T) -> Ordering,
}

impl<T> Store<T> {
    pub(crate) fn new(order: Order) -> Self {
        match order {
            Order::Fifo => Store::Fifo(VecDeque::new()),
            Order::Lifo => Store::Lifo(VecDeque::new()),
        }
    }

    pub(crate) fn heap(cmp: fn(&T, &T) -> Ordering) -> Self {
        Store::Heap(Heap {
            items: Vec::new(),
            seq: 0,
            cmp,
        })
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Store::Fifo(q) => q.len(),
            Store::Lifo(v) => v.len(),
            Store::Heap(h) => h.items.len(),
        }
    }

    /// Stores `item`. A priority store calls the user's comparison: if it panics, nothing
    /// changed, and the item comes back with the panic.
    #[inline]
    pub(crate) fn push(&mut self, item: T) -> Result<(), (T, Panic)> {
        match self {
            Store::Fifo(q) => q.push_back(item),
            Store::Lifo(v) => v.push_back(item),
            Store::Heap(h) => return h.push(item),
        }
        Ok(())
    }

    /// Takes the next item. A priority store calls the user's comparison: if it panics,
    /// nothing changed (the item stays, the order holds).
    #[inline]
    pub(crate) fn pop(&mut self) -> Result<Option<T>, Panic> {
        match self {
            Store::Fifo(q) => Ok(q.pop_front()),
            Store::Lifo(v) => Ok(v.pop_back()),
            Store::Heap(h) => h.pop(),
        }
    }

    /// Stores `item` in a full store, evicting one item, which is returned: the oldest for
    /// FIFO and LIFO (so the store keeps the newest items), the least urgent for a priority
    /// store (the one that would come out last), which may be `item` itself. If the priority
    /// order's `Ord` panics, nothing changed, and the item comes back with the panic.
    pub(crate) fn force_push(&mut self, item: T) -> Result<T, (T, Panic)> {
        match self {
            Store::Fifo(q) | Store::Lifo(q) => {
                let oldest = q.pop_front();
                q.push_back(item);
                Ok(oldest.expect("force_push is called on a full, non-empty store"))
            }
            Store::Heap(h) => h.replace_last(item),
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Store::Fifo(_) => "fifo",
            Store::Lifo(_) => "lifo",
            Store::Heap(_) => "priority",
        }
    }
}

impl<T> Heap<T> {
    /// `a` comes out before `b`.
    fn before(&self, a: &(T, u64), b: &(T, u64)) -> bool {
        match (self.cmp)(&a.0, &b.0) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => a.1 < b.1,
        }
    }

    /// Inserts `item`. Every comparison runs before anything moves, so a panicking
    /// comparison leaves the heap as it was (and hands the item back).
    fn push(&mut self, item: T) -> Result<(), (T, Panic)> {
        let entry = (item, self.seq);
        // Where the new entry settles: sift up from the end, comparing only.
        let settled = catch_unwind(AssertUnwindSafe(|| {
            let mut i = self.items.len();
            while i > 0 {
                let parent = (i - 1) / 2;
                if !self.before(&entry, &self.items[parent]) {
                    break;
                }
                i = parent;
            }
            i
        }));
        let target = match settled {
            Ok(target) => target,
            Err(panic) => return Err((entry.0, panic)),
        };
        self.seq += 1;
        self.items.push(entry);
        // Moves only: the entry rises from the end to `target`, each parent on the way down.
        let mut i = self.items.len() - 1;
        while i > target {
            let parent = (i - 1) / 2;
            self.items.swap(i, parent);
            i = parent;
        }
        Ok(())
    }

    /// Puts `item` in the place of the entry that would come out last, returning that one (or
    /// `item` itself, if it would come out after every entry: equal to the last it would, as
    /// the newest). As in `push`, every comparison runs before anything moves.
    fn replace_last(&mut self, item: T) -> Result<T, (T, Panic)> {
        let entry = (item, self.seq);
        let len = self.items.len();
        let found = catch_unwind(AssertUnwindSafe(|| {
            // The last to come out is a leaf: no entry comes out after both its children.
            let mut last = len / 2;
            for i in len / 2 + 1..len {
                if self.before(&self.items[last], &self.items[i]) {
                    last = i;
                }
            }
            if self.before(&self.items[last], &entry) {
                return None;
            }
            // `entry` takes the leaf's place and rises while it comes out before its parent.
            let mut i = last;
            while i > 0 {
                let parent = (i - 1) / 2;
                if !self.before(&entry, &self.items[parent]) {
                    break;
                }
                i = parent;
            }
            Some((last, i))
        }));
        let (last, target) = match found {
            Ok(Some(places)) => places,
            Ok(None) => return Ok(entry.0),
            Err(panic) => return Err((entry.0, panic)),
        };
        self.seq += 1;
        let evicted = std::mem::replace(&mut self.items[last], entry);
        let mut i = last;
        while i > target {
            let parent = (i - 1) / 2;
            self.items.swap(i, parent);
            i = parent;
        }
        Ok(evicted.0)
    }

    /// Takes the smallest entry. As in `push`, every comparison runs before anything moves.
    fn pop(&mut self) -> Result<Option<T>, Panic> {
        let len = self.items.len();
        if len <= 1 {
            return Ok(self.items.pop().map(|(item, _)| item));
        }
        // The last entry takes the root's place and sinks: find where, comparing only. The
        // entries it would pass are untouched until then, so they are read in place.
        let last = len - 1;
        let settled = catch_unwind(AssertUnwindSafe(|| {
            let mut i = 0;
            loop {
                let (l, r) = (2 * i + 1, 2 * i + 2);
                let mut best = last;
                if l < last && self.before(&self.items[l], &self.items[best]) {
                    best = l;
                }
                if r < last && self.before(&self.items[r], &self.items[best]) {
                    best = r;
                }
                if best == last {
                    return i;
                }
                i = best;
            }
        }))?;
        // Moves only: each entry on the path from the root to `settled` rises one level, and
        // the last entry fills `settled`.
        let mut path = [0_usize; usize::BITS as usize];
        let mut depth = 0;
        let mut i = settled;
        while i > 0 {
            path[depth] = i;
            depth += 1;
            i = (i - 1) / 2;
        }
        let top = self.items.swap_remove(0).0;
        let mut hole = 0;
        for &child in path[..depth].iter().rev() {
            self.items.swap(hole, child);
            hole = child;
        }
        Ok(Some(top))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The heap against a sorted model: 20,000 mixed pushes and pops, stable among equals.
    #[test]
    fn heap_matches_a_sorted_model() {
        let mut heap = Store::heap(|a: &(u8, u32), b: &(u8, u32)| a.0.cmp(&b.0));
        let mut model: Vec<(u8, u32)> = Vec::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for n in 0..20_000_u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(3) {
                let got = heap.pop().unwrap();
                // The smallest key, the earliest among equals.
                let want = model
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, v)| v.0)
                    .map(|(i, _)| i)
                    .map(|i| model.remove(i));
                assert_eq!(got, want);
            } else {
                let item = ((x >> 8) as u8 % 16, n);
                heap.push(item).unwrap_or_else(|_| unreachable!());
                model.push(item);
            }
            assert_eq!(heap.len(), model.len());
        }
    }

    /// `force_push` on a full heap against the same model: the entry that would come out
    /// last (the greatest key, the newest among equals) goes, and the order holds.
    #[test]
    fn heap_force_push_evicts_what_would_come_out_last() {
        let mut heap = Store::heap(|a: &(u8, u32), b: &(u8, u32)| a.0.cmp(&b.0));
        let mut model: Vec<(u8, u32)> = Vec::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for n in 0..5_000_u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let item = ((x >> 8) as u8 % 8, n);
            if model.len() < 12 {
                heap.push(item).unwrap_or_else(|_| unreachable!());
                model.push(item);
            } else if x.is_multiple_of(4) {
                let want = model
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, v)| v.0)
                    .map(|(i, _)| i)
                    .map(|i| model.remove(i));
                assert_eq!(heap.pop().unwrap(), want);
            } else {
                let got = heap.force_push(item).unwrap_or_else(|_| unreachable!());
                model.push(item);
                // The greatest key; among equals the newest (the last in `model`).
                let last = (0..model.len())
                    .max_by_key(|&i| model[i].0)
                    .expect("not empty");
                assert_eq!(got, model.remove(last));
            }
            assert_eq!(heap.len(), model.len());
        }
        let mut sorted = model.clone();
        sorted.sort_by_key(|v| v.0); // stable: arrival order among equals
        let drained: Vec<_> = std::iter::from_fn(|| heap.pop().unwrap()).collect();
        assert_eq!(drained, sorted);
    }
}

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
    Lifo(Vec<T>),
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
            Order::Lifo => Store::Lifo(Vec::new()),
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
            Store::Lifo(v) => v.push(item),
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
            Store::Lifo(v) => Ok(v.pop()),
            Store::Heap(h) => h.pop(),
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
}

//! The storage orders of [`DualQueue`](crate::DualQueue): FIFO, LIFO and a priority heap.

use std::cmp::Ordering;
use std::collections::VecDeque;

/// Which item a get takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Order {
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

    #[inline]
    pub(crate) fn push(&mut self, item: T) {
        match self {
            Store::Fifo(q) => q.push_back(item),
            Store::Lifo(v) => v.push(item),
            Store::Heap(h) => h.push(item),
        }
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<T> {
        match self {
            Store::Fifo(q) => q.pop_front(),
            Store::Lifo(v) => v.pop(),
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

    fn push(&mut self, item: T) {
        self.items.push((item, self.seq));
        self.seq += 1;
        let mut i = self.items.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.before(&self.items[i], &self.items[parent]) {
                break;
            }
            self.items.swap(i, parent);
            i = parent;
        }
    }

    fn pop(&mut self) -> Option<T> {
        if self.items.is_empty() {
            return None;
        }
        let top = self.items.swap_remove(0).0;
        let len = self.items.len();
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < len && self.before(&self.items[l], &self.items[best]) {
                best = l;
            }
            if r < len && self.before(&self.items[r], &self.items[best]) {
                best = r;
            }
            if best == i {
                break;
            }
            self.items.swap(i, best);
            i = best;
        }
        Some(top)
    }
}

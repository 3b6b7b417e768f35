//! [`DualQueueBuilder`]: the order (FIFO, LIFO, priority) and the capacity of a queue.

use std::cmp::Ordering;
use std::fmt;
use std::num::NonZeroUsize;

use super::DualQueue;
use super::store::{Order, Store};

/// Configures a [`DualQueue`]: its order (FIFO by default, [`lifo`](Self::lifo),
/// [`priority`](Self::priority), [`priority_by`](Self::priority_by)) and its capacity
/// (unbounded by default, [`bounded`](Self::bounded)). For a FIFO queue,
/// [`DualQueue::unbounded`] and [`DualQueue::bounded`] are shorter.
///
/// # Examples
///
/// A bounded job queue where urgent jobs (a lower rank) overtake the others:
///
/// ```
/// use std::num::NonZeroUsize;
/// use wrangle_sync::DualQueue;
///
/// let jobs = DualQueue::builder()
///     .priority_by(|a: &(u8, &str), b| a.0.cmp(&b.0))
///     .bounded(NonZeroUsize::new(100).unwrap())
///     .build();
/// jobs.try_put((5, "reindex")).unwrap();
/// jobs.try_put((0, "page the on-call")).unwrap();
/// jobs.try_put((5, "compact")).unwrap();
/// assert_eq!(jobs.try_get().unwrap().1, "page the on-call");
/// assert_eq!(jobs.try_get().unwrap().1, "reindex"); // equal ranks: arrival order
/// assert_eq!(jobs.capacity(), Some(100));
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct DualQueueBuilder<T> {
    order: Kind<T>,
    capacity: Option<NonZeroUsize>,
}

enum Kind<T> {
    Plain(Order),
    Heap(fn(&T, &T) -> Ordering),
}

impl<T> DualQueueBuilder<T> {
    pub(super) fn new() -> Self {
        DualQueueBuilder {
            order: Kind::Plain(Order::Fifo),
            capacity: None,
        }
    }

    /// Last in, first out.
    pub fn lifo(mut self) -> Self {
        self.order = Kind::Plain(Order::Lifo);
        self
    }

    /// A priority queue: the smallest item (by `Ord`) comes out first, equal items in
    /// arrival order.
    ///
    /// If `Ord` panics, the put or get that called it panics, and only that call: the queue
    /// is left as it was (an item being taken stays, the counters and the order hold).
    pub fn priority(mut self) -> Self
    where
        T: Ord,
    {
        self.order = Kind::Heap(T::cmp);
        self
    }

    /// A priority queue under `cmp`: the item that compares smallest comes out first, equal
    /// items in arrival order. A panic of `cmp` reaches only the caller, as in
    /// [`priority`](Self::priority).
    pub fn priority_by(mut self, cmp: fn(&T, &T) -> Ordering) -> Self {
        self.order = Kind::Heap(cmp);
        self
    }

    /// At most `capacity` items (slots reserved with [`DualQueue::reserve`] count); no memory
    /// is reserved from it up front.
    pub fn bounded(mut self, capacity: NonZeroUsize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// The queue.
    #[must_use]
    pub fn build(self) -> DualQueue<T> {
        let store = match self.order {
            Kind::Plain(order) => Store::new(order),
            Kind::Heap(cmp) => Store::heap(cmp),
        };
        DualQueue::with_store(store, self.capacity)
    }
}

impl<T> fmt::Debug for DualQueueBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = match self.order {
            Kind::Plain(Order::Fifo) => "fifo",
            Kind::Plain(Order::Lifo) => "lifo",
            Kind::Heap(_) => "priority",
        };
        f.debug_struct("DualQueueBuilder")
            .field("order", &order)
            .field("capacity", &self.capacity)
            .finish()
    }
}

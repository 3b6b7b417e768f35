//! [`DualQueue`]: one queue with blocking (thread) and async (task) ends at the same time.

use std::fmt;
use std::num::NonZeroUsize;
use std::panic::resume_unwind;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod builder;
mod error;
mod future;
mod handles;
mod store;
mod waiters;

pub use builder::DualQueueBuilder;
#[cfg(feature = "sink")]
pub use error::QueueSinkError;
pub use error::{GetError, PutError, QueueClosed, TaskDoneError, TryPutError};
pub use future::{Closed, Get, Join, Put, PutPermit, Reserve};
pub use handles::{QueueReceiver, QueueSender};

use crate::loom::{ShortLock, ShortLockGuard};
use future::{Side, Waiter};
use store::{Order, Panic, Store};
use waiters::{Reg, WaitList, WakeBy, Wakers, wake_all};
pub(crate) use waiters::{park, thread_waker};

/// A thread-safe queue usable at the same time from threads (blocking calls, with timeouts)
/// and from async tasks, in FIFO, LIFO or priority order, bounded or not.
///
/// - Async: [`put`](Self::put), [`get`](Self::get), [`reserve`](Self::reserve) (a slot first,
///   the item after, so a cancelled send loses nothing), [`join`](Self::join).
/// - Blocking: [`put_blocking`](Self::put_blocking), [`get_blocking`](Self::get_blocking),
///   their `_timeout` forms, [`join_blocking`](Self::join_blocking). Do not call these on an
///   async runtime's threads.
/// - Non-waiting: [`try_put`](Self::try_put), [`try_get`](Self::try_get).
/// - [`close`](Self::close): later puts fail; gets drain what is left, then fail; every waiter
///   of either kind wakes.
/// - [`task_done`](Self::task_done) / [`join`](Self::join): wait until every item put has been
///   processed (Python's `Queue.join`).
///
/// Waiters of each kind queue in arrival order, and are woken as async-channel's are: every
/// item put wakes one more getter, every slot freed one more putter (or reserver), whatever
/// futures were woken before and have not run yet. So a woken future that is kept alive but
/// never polled again holds only its own wake-up: the next item or slot wakes the next waiter,
/// and no other consumer or producer is held up. One exception, for speed: while a woken
/// producer *thread* (blocked in `put_blocking`) has not run yet, freed slots wake no one
/// else; it always runs, and then hands the turn on (a wake-up per slot still free, until one
/// reaches a thread), so a consumer freeing slot after slot unparks one producer thread, not
/// one per slot. A waiter dropped after being woken passes its
/// wake-up on, so no wake-up and no item is lost. A call that does not wait (`try_put`,
/// `try_get`, a first poll) takes what is there, ahead of woken waiters that have not run yet.
/// Handles are cheap clones of one queue.
///
/// # Examples
///
/// ```
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::DualQueue;
///
/// let rt = VirtualRuntime::new();
/// let q = DualQueue::bounded(std::num::NonZeroUsize::new(8).unwrap());
/// rt.block_on(async {
///     // A plain thread produces with blocking calls...
///     let producer = rt.spawn_blocking({
///         let q = q.clone();
///         move || {
///             for i in 0..100 {
///                 q.put_blocking(i).unwrap();
///             }
///             q.close();
///         }
///     });
///     // ...while a task consumes asynchronously.
///     let mut sum = 0;
///     while let Ok(i) = q.get().await {
///         sum += i;
///     }
///     producer.await.unwrap();
///     assert_eq!(sum, 4950);
/// });
/// ```
pub struct DualQueue<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    /// The one lock: items, slots, counters and waiters (a [`ShortLock`]: no section waits or
    /// runs user code but a priority order's comparison).
    state: ShortLock<State<T>>,
    capacity: Option<usize>,
}

struct State<T> {
    store: Store<T>,
    /// Slots taken by outstanding [`PutPermit`](crate::PutPermit)s.
    reserved: usize,
    closed: bool,
    unfinished: usize,
    put: u64,
    got: u64,
    /// Getters waiting for an item. Every item put notifies one more getter (event-listener's
    /// `notify_additional(1)`), whatever getters were notified before and have not run yet; a
    /// getter that leaves unserved passes its notification on while items are left.
    getters: WaitList,
    /// Putters and reservers waiting for a slot, notified in the same way (one more for every
    /// slot freed), except while a notified thread has not run: it hands the turn on.
    putters: WaitList,
    /// [`join`](DualQueue::join) waiters, all woken when `unfinished` drops to 0.
    joiners: WaitList,
    /// [`closed`](DualQueue::closed) waiters, all woken by `close`.
    closers: WaitList,
    /// Items evicted by [`force_put`](DualQueue::force_put).
    evicted: u64,
    /// Live [`QueueSender`]s and [`QueueReceiver`]s: the queue closes when either count falls
    /// to 0 (after [`split`](DualQueue::split) made them 1).
    senders: usize,
    receivers: usize,
}

/// A snapshot of a [`DualQueue`]'s counters.
///
/// Invariants, in every snapshot (it is read under the queue's one lock):
/// `submitted == taken + skipped + queued as u64`, `queued + reserved <= capacity` for a
/// bounded queue, and `unfinished <= submitted` (`unfinished` falls through
/// [`task_done`](DualQueue::task_done), and by one for each item
/// [`force_put`](DualQueue::force_put) evicts: nobody will take it to mark it done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueueStats {
    /// Items put so far (by any put form, or through a [`PutPermit`]).
    pub submitted: u64,
    /// Items taken so far (by any get form).
    pub taken: u64,
    /// Items evicted by [`force_put`](DualQueue::force_put) so far, never taken (for a
    /// priority queue, possibly the item `force_put` was given).
    pub skipped: u64,
    /// Items in the queue now (gauge).
    pub queued: usize,
    /// Slots reserved and not yet filled (gauge).
    pub reserved: usize,
    /// Items put and not yet marked done with `task_done` (gauge).
    pub unfinished: usize,
    /// Getters (tasks or threads) waiting for an item now (gauge).
    pub getters_waiting: usize,
    /// Putters and reservers (tasks or threads) waiting for room now (gauge).
    pub putters_waiting: usize,
}

impl<T> Clone for DualQueue<T> {
    fn clone(&self) -> Self {
        DualQueue {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> DualQueue<T> {
    pub(super) fn with_store(store: Store<T>, capacity: Option<NonZeroUsize>) -> Self {
        DualQueue {
            inner: Arc::new(Inner {
                state: ShortLock::new(State {
                    store,
                    reserved: 0,
                    closed: false,
                    unfinished: 0,
                    put: 0,
                    got: 0,
                    getters: WaitList::new(),
                    putters: WaitList::new(),
                    joiners: WaitList::new(),
                    closers: WaitList::new(),
                    evicted: 0,
                    senders: 0,
                    receivers: 0,
                }),
                capacity: capacity.map(NonZeroUsize::get),
            }),
        }
    }

    /// An unbounded FIFO queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = wrangle_sync::DualQueue::unbounded();
    /// q.try_put("a").unwrap();
    /// assert_eq!(q.try_get(), Ok("a"));
    /// ```
    #[must_use]
    pub fn unbounded() -> Self {
        DualQueue::with_store(Store::new(Order::Fifo), None)
    }

    /// A FIFO queue of at most `capacity` items.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::MIN);
    /// q.try_put(1).unwrap();
    /// assert!(q.try_put(2).is_err());
    /// ```
    #[must_use]
    pub fn bounded(capacity: NonZeroUsize) -> Self {
        DualQueue::with_store(Store::new(Order::Fifo), Some(capacity))
    }

    /// A builder for the other orders (LIFO, priority) and capacities.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = wrangle_sync::DualQueue::builder().lifo().build();
    /// stack.try_put(1).unwrap();
    /// stack.try_put(2).unwrap();
    /// assert_eq!(stack.try_get(), Ok(2));
    /// ```
    pub fn builder() -> DualQueueBuilder<T> {
        DualQueueBuilder::new()
    }

    #[inline]
    fn state(&self) -> ShortLockGuard<'_, State<T>> {
        self.inner.state.lock()
    }

    /// Puts `item` if there is room; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_sync::{DualQueue, TryPutError};
    ///
    /// let q = DualQueue::bounded(std::num::NonZeroUsize::MIN);
    /// q.try_put(1).unwrap();
    /// assert!(matches!(q.try_put(2), Err(TryPutError::Full(2))));
    /// ```
    ///
    /// # Errors
    ///
    /// [`TryPutError::Full`] at capacity, [`TryPutError::Closed`] after
    /// [`close`](Self::close); both hand the item back.
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        self.put_inner(item, Reg::No)
    }

    /// [`try_put`](Self::try_put) for a waiter: `reg` registers it (if full) or deregisters it
    /// (otherwise) in the same critical section.
    pub(crate) fn put_inner(&self, item: T, reg: Reg<'_>) -> Result<(), TryPutError<T>> {
        let mut wakers = Wakers::default();
        let mut st = self.state();
        let mut turn = false;
        let res = match self.admit(&mut st, reg, &mut turn) {
            Ok(()) => {
                if let Err((item, panic)) = st.push(item) {
                    // The priority order's `Ord` panicked: nothing was stored, and the slot
                    // this caller may have been woken for goes to the next putter. The panic
                    // goes to this caller only, once the lock is free.
                    self.hand_on(&mut st, &mut wakers);
                    drop(st);
                    wakers.wake();
                    drop(item);
                    resume_unwind(panic);
                }
                wakers.get = st.getters.notify_one();
                Ok(())
            }
            Err(TryPutError::Full(())) => Err(TryPutError::Full(item)),
            Err(TryPutError::Closed(())) => Err(TryPutError::Closed(item)),
        };
        if turn {
            self.hand_on(&mut st, &mut wakers);
        }
        drop(st);
        wakers.wake();
        res
    }

    /// Whether a putter or reserver may take a slot now; `reg` registers it if it must wait
    /// and deregisters it otherwise. `turn` is set if a woken thread was served: the caller
    /// then [hands the turn on](Self::hand_on) once its slot is taken.
    fn admit(
        &self,
        st: &mut State<T>,
        reg: Reg<'_>,
        turn: &mut bool,
    ) -> Result<(), TryPutError<()>> {
        if st.closed {
            st.putters.leave(reg);
            Err(TryPutError::Closed(()))
        } else if self.full(st) {
            st.putters.fail(reg);
            Err(TryPutError::Full(()))
        } else {
            *turn = st.putters.leave(reg);
            Ok(())
        }
    }

    /// A woken thread putter has run: it stood for every slot freed while it was woken (a
    /// blocked thread always runs, so no wake-up was owed to anyone else), so the slots
    /// still free now get one wake-up each, until one goes to a thread, which hands the
    /// turn on in its turn. A consumer freeing slot after slot thus unparks one blocked
    /// producer thread, not one per slot (four blocked producers: a quarter of the time
    /// per item), while a woken future, which may never be polled again, stands for one
    /// wake-up only.
    fn hand_on(&self, st: &mut State<T>, out: &mut Wakers) {
        let Some(cap) = self.inner.capacity else {
            return;
        };
        let mut free = cap.saturating_sub(st.store.len() + st.reserved);
        while free > 0 && st.putters.notified_threads() == 0 {
            match st.putters.notify_one() {
                Some(w) => out.more.push(w),
                None => break,
            }
            free -= 1;
        }
    }

    fn full(&self, st: &State<T>) -> bool {
        self.inner
            .capacity
            .is_some_and(|cap| st.store.len() + st.reserved >= cap)
    }

    /// The wake-up of a slot freed now: one more putter, whatever futures were woken before
    /// and have not run yet (a woken future that is never polled again holds up no one),
    /// unless a woken thread has not run yet: it will, and [hand the turn on](Self::hand_on).
    /// An unbounded queue has no putters waiting.
    #[inline]
    fn slot_freed(&self, st: &mut State<T>) -> Option<std::task::Waker> {
        if self.inner.capacity.is_some() && st.putters.notified_threads() == 0 {
            st.putters.notify_one()
        } else {
            None
        }
    }

    /// Takes the next item if there is one; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_sync::{DualQueue, GetError};
    ///
    /// let q = DualQueue::<u8>::unbounded();
    /// assert_eq!(q.try_get(), Err(GetError::Empty));
    /// q.close();
    /// assert_eq!(q.try_get(), Err(GetError::Closed));
    /// ```
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if the queue is empty; [`GetError::Closed`] if it is also closed.
    pub fn try_get(&self) -> Result<T, GetError> {
        self.get_inner(Reg::No)
    }

    /// [`try_get`](Self::try_get) for a waiter, as [`put_inner`](Self::put_inner).
    pub(crate) fn get_inner(&self, reg: Reg<'_>) -> Result<T, GetError> {
        let mut wakers = Wakers::default();
        let mut st = self.state();
        let popped = match st.store.pop() {
            Ok(popped) => popped,
            Err(panic) => {
                // The priority order's `Ord` panicked: the item stays, nothing is counted, a
                // wake-up this caller had received goes to the next getter, and the panic
                // goes to this caller only.
                wakers.get = st.getters.leave_unserved(reg);
                drop(st);
                wakers.wake();
                resume_unwind(panic);
            }
        };
        let res = match popped {
            Some(item) => {
                st.got += 1;
                st.getters.leave(reg);
                wakers.put = self.slot_freed(&mut st);
                Ok(item)
            }
            None if st.closed => {
                st.getters.leave(reg);
                Err(GetError::Closed)
            }
            None => {
                st.getters.fail(reg);
                Err(GetError::Empty)
            }
        };
        drop(st);
        wakers.wake();
        res
    }

    /// Takes a slot if there is room; the item comes later through the [`PutPermit`].
    ///
    /// [`PutPermit`]: crate::PutPermit
    pub(crate) fn reserve_inner(&self, reg: Reg<'_>) -> Result<(), TryPutError<()>> {
        let mut wakers = Wakers::default();
        let mut st = self.state();
        let mut turn = false;
        let res = self.admit(&mut st, reg, &mut turn);
        if res.is_ok() {
            st.reserved += 1;
        }
        if turn {
            self.hand_on(&mut st, &mut wakers);
        }
        drop(st);
        wakers.wake();
        res
    }

    /// Fills a reserved slot.
    pub(crate) fn fill_reserved(&self, item: T) {
        let mut wakers = Wakers::default();
        let mut st = self.state();
        st.reserved -= 1;
        let stored = st.push(item);
        if stored.is_ok() {
            wakers.get = st.getters.notify_one();
        } else {
            wakers.put = self.slot_freed(&mut st);
        }
        drop(st);
        wakers.wake();
        if let Err((item, panic)) = stored {
            // The priority order's `Ord` panicked: the slot is given back, nothing stored.
            drop(item);
            resume_unwind(panic);
        }
    }

    /// Gives a reserved slot back.
    pub(crate) fn release_reserved(&self) {
        let mut wakers = Wakers::default();
        let mut st = self.state();
        st.reserved -= 1;
        wakers.put = self.slot_freed(&mut st);
        drop(st);
        wakers.wake();
    }

    /// Whether every item put has been marked done; `reg` registers a joiner if not.
    pub(crate) fn join_inner(&self, reg: Reg<'_>) -> bool {
        let mut st = self.state();
        if st.unfinished == 0 {
            st.joiners.leave(reg);
            true
        } else {
            st.joiners.fail(reg);
            false
        }
    }

    /// Deregisters a waiter that leaves without being served; a wake-up it had received
    /// passes to the next waiter of its kind while there is something for it (an item, a
    /// free slot).
    pub(crate) fn cancel(&self, side: Side, key: &mut Option<usize>) {
        if key.is_none() {
            return;
        }
        let mut st = self.state();
        let mut wakers = Wakers::default();
        match side {
            Side::Get => {
                let has_item = st.store.len() > 0;
                let notified = st.getters.remove(key);
                if notified && has_item {
                    wakers.get = st.getters.notify_one();
                }
            }
            Side::Put => match st.putters.remove_entry(key) {
                Some(true) => self.hand_on(&mut st, &mut wakers),
                Some(false) if !self.full(&st) => wakers.put = self.slot_freed(&mut st),
                _ => {}
            },
            Side::Join | Side::Closed => {
                // Joiners and close waiters are all woken at once: nothing to pass on.
                let list = match side {
                    Side::Join => &mut st.joiners,
                    _ => &mut st.closers,
                };
                list.remove(key);
            }
        }
        drop(st);
        wakers.wake();
    }

    /// Waits for room, then puts `item`.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let q = wrangle_sync::DualQueue::unbounded();
    ///     q.put(1).await.unwrap();
    ///     assert_eq!(q.get().await, Ok(1));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`PutError`] with the item if the queue is closed before there is room.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops the item with it (the queue is
    /// unchanged, and a wake-up it had received passes to the next waiter). Use
    /// [`reserve`](Self::reserve) to keep the item when a send is cancelled.
    pub fn put(&self, item: T) -> Put<'_, T> {
        Put::new(self, item)
    }

    /// Waits for a slot and reserves it; the item is given later with
    /// [`PutPermit::put`](crate::PutPermit::put), which cannot fail or wait.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let q = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::MIN);
    ///     let permit = q.reserve().await.unwrap();
    ///     assert!(q.try_put(0).is_err()); // the slot is taken
    ///     permit.put(1);
    ///     assert_eq!(q.try_get(), Ok(1));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`QueueClosed`](crate::QueueClosed) if the queue is closed before a slot frees up.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: no item is involved until the permit is used; a dropped waiter passes
    /// any wake-up on, and a dropped permit gives its slot back.
    pub fn reserve(&self) -> Reserve<'_, T> {
        Reserve::new(self)
    }

    /// Waits for an item and takes it.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let q = wrangle_sync::DualQueue::unbounded();
    ///     let getter = rt.spawn({
    ///         let q = q.clone();
    ///         async move { q.get().await }
    ///     });
    ///     q.put("hi").await.unwrap();
    ///     assert_eq!(getter.await.unwrap(), Ok("hi"));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`QueueClosed`] once the queue is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an item is taken only when the future completes; a dropped waiter passes
    /// any wake-up it had received to the next waiter, so no item is stranded.
    pub fn get(&self) -> Get<'_, T> {
        Get::new(self)
    }

    /// Blocks the thread until there is room, then puts `item`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = wrangle_sync::DualQueue::unbounded();
    /// q.put_blocking(1).unwrap();
    /// assert_eq!(q.get_blocking(), Ok(1));
    /// ```
    ///
    /// # Errors
    ///
    /// [`PutError`] with the item if the queue is closed first.
    pub fn put_blocking(&self, item: T) -> Result<(), PutError<T>> {
        self.put_blocking_until(item, None)
            .map_err(|e| PutError(e.into_inner()))
    }

    /// Blocks the thread until there is room or `timeout` passes (real time).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_sync::TryPutError;
    ///
    /// let q = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::MIN);
    /// q.put_blocking_timeout(1, Duration::from_millis(1)).unwrap();
    /// let err = q.put_blocking_timeout(2, Duration::from_millis(1)).unwrap_err();
    /// assert!(matches!(err, TryPutError::Full(2)));
    /// ```
    ///
    /// # Errors
    ///
    /// [`TryPutError::Full`] if the queue is still full when `timeout` passes,
    /// [`TryPutError::Closed`] if it is closed first; both with the item.
    pub fn put_blocking_timeout(&self, item: T, timeout: Duration) -> Result<(), TryPutError<T>> {
        let deadline = Instant::now().checked_add(timeout);
        self.put_blocking_until(item, Some(deadline))
    }

    fn put_blocking_until(
        &self,
        mut item: T,
        deadline: Option<Option<Instant>>,
    ) -> Result<(), TryPutError<T>> {
        // `Some(None)`: the timeout overflows `Instant`, so it never passes.
        let deadline = deadline.flatten();
        let mut waiter = Waiter::new(self, Side::Put);
        loop {
            match self.put_inner(item, Reg::Wait(&mut waiter.key, WakeBy::Thread)) {
                Ok(()) => return Ok(()),
                Err(TryPutError::Full(t)) => item = t,
                Err(closed) => return Err(closed),
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                return self.put_inner(item, Reg::Leave(&mut waiter.key));
            }
            park(deadline);
        }
    }

    /// Blocks the thread until an item comes, and takes it.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = wrangle_sync::DualQueue::unbounded();
    /// let t = std::thread::spawn({
    ///     let q = q.clone();
    ///     move || q.get_blocking()
    /// });
    /// q.put_blocking(7).unwrap();
    /// assert_eq!(t.join().unwrap(), Ok(7));
    /// ```
    ///
    /// # Errors
    ///
    /// [`QueueClosed`] once the queue is closed and drained.
    pub fn get_blocking(&self) -> Result<T, QueueClosed> {
        self.get_blocking_until(None).map_err(|_| QueueClosed(()))
    }

    /// Blocks the thread until an item comes or `timeout` passes (real time).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_sync::{DualQueue, GetError};
    ///
    /// let q = DualQueue::<u8>::unbounded();
    /// assert_eq!(q.get_blocking_timeout(Duration::from_millis(1)), Err(GetError::Empty));
    /// ```
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] on timeout; [`GetError::Closed`] once closed and drained.
    pub fn get_blocking_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_blocking_until(Some(Instant::now().checked_add(timeout)))
    }

    fn get_blocking_until(&self, deadline: Option<Option<Instant>>) -> Result<T, GetError> {
        let deadline = deadline.flatten();
        let mut waiter = Waiter::new(self, Side::Get);
        loop {
            match self.get_inner(Reg::Wait(&mut waiter.key, WakeBy::Thread)) {
                Err(GetError::Empty) => {}
                other => return other,
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                return self.get_inner(Reg::Leave(&mut waiter.key));
            }
            park(deadline);
        }
    }

    /// Closes the queue: later puts and reservations fail, gets drain what is left and then
    /// fail, and every waiter of either kind wakes. Never waits; returns whether this call
    /// closed it (`false` if it was closed already).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_sync::GetError;
    ///
    /// let q = wrangle_sync::DualQueue::unbounded();
    /// q.try_put(1).unwrap();
    /// assert!(q.close());
    /// assert!(!q.close());
    /// assert!(q.try_put(2).is_err());
    /// assert_eq!(q.try_get(), Ok(1));
    /// assert_eq!(q.try_get(), Err(GetError::Closed));
    /// ```
    pub fn close(&self) -> bool {
        let mut wakers = Vec::new();
        let mut st = self.state();
        if st.closed {
            return false;
        }
        st.closed = true;
        st.getters.notify_all(&mut wakers);
        st.putters.notify_all(&mut wakers);
        st.closers.notify_all(&mut wakers);
        drop(st);
        wake_all(wakers);
        true
    }

    /// Whether [`close`](Self::close) was called (or the last sender or receiver of a
    /// [`split`](Self::split) queue was dropped).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Waits until the queue is closed: by [`close`](Self::close) on any handle, or when the
    /// last [`QueueSender`] or the last [`QueueReceiver`] of a [`split`](Self::split) queue is
    /// dropped.
    ///
    /// # Examples
    ///
    /// A producer that stops as soon as nobody listens any more:
    ///
    /// ```
    /// use futures_lite::future;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let (tx, rx) = wrangle_sync::DualQueue::<u32>::unbounded().split();
    ///     let consumer = rt.spawn(async move {
    ///         let first = rx.get().await.unwrap();
    ///         drop(rx); // the last receiver: the queue closes
    ///         first
    ///     });
    ///     tx.put(1).await.unwrap();
    ///     // Either the queue closes or the producer's other work ends first.
    ///     let stopped = future::or(async { tx.closed().await; true }, async {
    ///         future::pending::<()>().await;
    ///         false
    ///     });
    ///     assert!(stopped.await);
    ///     assert_eq!(consumer.await.unwrap(), 1);
    ///     assert!(tx.try_put(2).is_err());
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: waiting changes nothing.
    pub fn closed(&self) -> Closed<'_, T> {
        Closed::new(self)
    }

    /// Whether the queue is closed; `reg` registers a close waiter if not.
    pub(crate) fn closed_inner(&self, reg: Reg<'_>) -> bool {
        let mut st = self.state();
        if st.closed {
            st.closers.leave(reg);
            true
        } else {
            st.closers.fail(reg);
            false
        }
    }

    /// Whether a bounded queue has no free slot now (items and reserved slots fill it). An
    /// unbounded queue is never full.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let q = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::new(2).unwrap());
    ///     q.try_put(1).unwrap();
    ///     assert!(!q.is_full());
    ///     let permit = q.reserve().await.unwrap(); // a reserved slot counts
    ///     assert!(q.is_full());
    ///     drop(permit);
    ///     assert!(!q.is_full());
    /// });
    /// ```
    #[must_use]
    pub fn is_full(&self) -> bool {
        let st = self.state();
        self.full(&st)
    }

    /// Puts `item` even when the queue is full, by evicting an item; never waits. Returns the
    /// evicted item, if one was.
    ///
    /// As async-channel's `force_send`, which the FIFO case matches: a FIFO or LIFO queue
    /// evicts its **oldest** item (it keeps the newest `capacity` items, a ring buffer); a
    /// priority queue evicts the item that would come out **last** (the greatest; among
    /// equals the newest), which is `item` itself when it would come out after every queued
    /// item (then the queue is unchanged and `item` is returned). An unbounded queue, or a
    /// bounded one with room, just stores `item`.
    ///
    /// Counting: the evicted item was put and will never be taken, so it is counted in
    /// [`QueueStats::skipped`], and it leaves `unfinished` (a [`join`](Self::join) does not
    /// wait for it). Getters are not woken by an eviction (the item count is unchanged).
    ///
    /// # Examples
    ///
    /// The latest three readings of a sensor, whatever the consumer's pace:
    ///
    /// ```
    /// let q = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::new(3).unwrap());
    /// for reading in 1..=5 {
    ///     q.force_put(reading).unwrap();
    /// }
    /// assert_eq!(q.try_get(), Ok(3));
    /// assert_eq!(q.force_put(6), Ok(None)); // room again: nothing evicted
    /// assert_eq!(q.force_put(7), Ok(Some(4)));
    /// assert_eq!(q.stats().skipped, 3);
    /// ```
    ///
    /// # Errors
    ///
    /// [`TryPutError::Closed`] if the queue is closed; [`TryPutError::Full`] if every slot is
    /// reserved through a [`PutPermit`] (there is no item to evict). Both hand the item back.
    ///
    /// # Panics
    ///
    /// If a priority order's `Ord` panics: the panic reaches this caller, and the queue is
    /// left as it was.
    pub fn force_put(&self, item: T) -> Result<Option<T>, TryPutError<T>> {
        let mut wakers = Wakers::default();
        let mut st = self.state();
        if st.closed {
            return Err(TryPutError::Closed(item));
        }
        if !self.full(&st) {
            if let Err((item, panic)) = st.push(item) {
                drop(st);
                drop(item);
                resume_unwind(panic);
            }
            wakers.get = st.getters.notify_one();
            drop(st);
            wakers.wake();
            return Ok(None);
        }
        if st.store.len() == 0 {
            return Err(TryPutError::Full(item));
        }
        match st.store.force_push(item) {
            Ok(evicted) => {
                // One item in, one out: `unfinished` and the getters' wake-ups are unchanged.
                st.put += 1;
                st.evicted += 1;
                Ok(Some(evicted))
            }
            Err((item, panic)) => {
                drop(st);
                drop(item);
                resume_unwind(panic);
            }
        }
    }

    /// Splits this handle into a sending and a receiving handle, as async-channel's
    /// `bounded`/`unbounded` return them: each is cloneable, and the queue
    /// [closes](Self::close) when the last [`QueueSender`] or the last [`QueueReceiver`] is
    /// dropped. Other [`DualQueue`] handles of the same queue keep working and count as
    /// neither (a queue split twice counts the handles of both splits).
    ///
    /// # Examples
    ///
    /// Consumers stop when every producer is gone, with no explicit `close`:
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_sync::DualQueue;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let (tx, rx) = DualQueue::bounded(std::num::NonZeroUsize::new(4).unwrap()).split();
    ///     for p in 0..3 {
    ///         let tx = tx.clone();
    ///         rt.spawn(async move {
    ///             for i in 0..10 {
    ///                 tx.put(p * 100 + i).await.unwrap();
    ///             }
    ///         })
    ///         .detach();
    ///     }
    ///     drop(tx);
    ///     // The receiver is a stream that ends once the last sender is gone and it is drained.
    ///     let all: Vec<u32> = rx.collect().await;
    ///     assert_eq!(all.len(), 30);
    /// });
    /// ```
    pub fn split(self) -> (QueueSender<T>, QueueReceiver<T>) {
        {
            let mut st = self.state();
            st.senders += 1;
            st.receivers += 1;
        }
        (QueueSender::new(self.clone()), QueueReceiver::new(self))
    }

    /// A sender or receiver handle is gone (or a sink closed): the queue closes when the last
    /// of its kind is.
    pub(crate) fn drop_handle(&self, sender: bool) {
        let last = {
            let mut st = self.state();
            let count = if sender {
                &mut st.senders
            } else {
                &mut st.receivers
            };
            *count -= 1;
            *count == 0
        };
        if last {
            self.close();
        }
    }

    /// A new sender or receiver handle (a clone).
    pub(crate) fn add_handle(&self, sender: bool) {
        let mut st = self.state();
        if sender {
            st.senders += 1;
        } else {
            st.receivers += 1;
        }
    }

    /// The live senders and receivers.
    pub(crate) fn handle_counts(&self) -> (usize, usize) {
        let st = self.state();
        (st.senders, st.receivers)
    }

    /// Items in the queue now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.state().store.len()
    }

    /// Whether the queue holds no item now.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity, if bounded.
    #[must_use]
    pub fn capacity(&self) -> Option<usize> {
        self.inner.capacity
    }

    /// Marks one item taken earlier as processed, for [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = wrangle_sync::DualQueue::unbounded();
    /// q.try_put(1).unwrap();
    /// q.try_get().unwrap();
    /// q.task_done().unwrap();
    /// assert!(q.task_done().is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`TaskDoneError`] if called more times than items were put.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut st = self.state();
        if st.unfinished == 0 {
            return Err(TaskDoneError(()));
        }
        st.unfinished -= 1;
        let mut wakers = Vec::new();
        if st.unfinished == 0 {
            st.joiners.notify_all(&mut wakers);
        }
        drop(st);
        wake_all(wakers);
        Ok(())
    }

    /// Waits until every item put so far has been marked done with
    /// [`task_done`](Self::task_done).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let q = wrangle_sync::DualQueue::unbounded();
    ///     q.put(1).await.unwrap();
    ///     let worker = rt.spawn({
    ///         let q = q.clone();
    ///         async move {
    ///             let _item = q.get().await.unwrap();
    ///             q.task_done().unwrap();
    ///         }
    ///     });
    ///     q.join().await;
    ///     worker.await.unwrap();
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: waiting changes nothing.
    pub fn join(&self) -> Join<'_, T> {
        Join::new(self)
    }

    /// Blocks the thread until every item put so far has been marked done.
    pub fn join_blocking(&self) {
        let mut waiter = Waiter::new(self, Side::Join);
        while !self.join_inner(Reg::Wait(&mut waiter.key, WakeBy::Thread)) {
            park(None);
        }
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> QueueStats {
        let st = self.state();
        QueueStats {
            queued: st.store.len(),
            reserved: st.reserved,
            submitted: st.put,
            taken: st.got,
            skipped: st.evicted,
            unfinished: st.unfinished,
            getters_waiting: st.getters.registered(),
            putters_waiting: st.putters.registered(),
        }
    }
}

impl<T> State<T> {
    /// Stores `item` and counts it; if the priority order's `Ord` panicked, nothing changed.
    fn push(&mut self, item: T) -> Result<(), (T, Panic)> {
        self.store.push(item)?;
        self.put += 1;
        self.unfinished += 1;
        Ok(())
    }
}

impl<T> fmt::Debug for DualQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state();
        f.debug_struct("DualQueue")
            .field("order", &st.store.kind())
            .field("len", &st.store.len())
            .field("capacity", &self.inner.capacity)
            .field("closed", &st.closed)
            .finish()
    }
}

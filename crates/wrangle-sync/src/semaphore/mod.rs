//! [`PrioritySemaphore`]: a fair semaphore whose waiters are served by priority, then arrival.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::{AcqRel, Acquire as AcquireOrd, Relaxed, Release};
use std::task::Waker;

mod error;
mod future;
mod permit;

pub use error::{AcquireError, TooManyPermits, TryAcquireError};
pub use future::{Acquire, AcquireOwned};
pub use permit::{OwnedSemaphorePermit, SemaphorePermit};

use crate::loom::{AtomicU64, AtomicUsize, Mutex, lock};
use error::AcquireFailure;

/// A priority: waiters with a **lower** value are served first; equal values are served in
/// arrival order.
pub type Priority = i32;

/// A counting semaphore whose waiters are served by `(priority, arrival)`.
///
/// - A lower [`Priority`] is served first; equal priorities are served first come, first
///   served. The priority is chosen per call ([`Acquire::priority`]); calls that do not choose
///   one use the semaphore's default ([`set_default_priority`](Self::set_default_priority),
///   initially 0).
/// - Strictly fair: a caller never overtakes a live waiter ahead of it in that order, even
///   when enough permits are free for it and not for the waiter ahead (so a large
///   `acquire_many` is never starved). A caller ahead of every waiter (a lower priority value
///   than all of them) takes free permits at once.
/// - Cancellation-safe: a waiter dropped after permits were handed to it gives them back and
///   the next waiters are served; a waiter dropped while queued leaves no trace.
/// - Runtime-free (wakers only) and usable from any thread: plain threads wait with
///   [`acquire_blocking`](Self::acquire_blocking) in the same queue as tasks.
/// - Resizable: [`add_permits`](Self::add_permits) (checked against
///   [`MAX_PERMITS`](Self::MAX_PERMITS)) and [`forget_permits`](Self::forget_permits).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::PrioritySemaphore;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let sem = Arc::new(PrioritySemaphore::new(1));
///     let held = sem.try_acquire().unwrap();
///     let low = rt.spawn(Arc::clone(&sem).acquire_owned().priority(5));
///     let high = rt.spawn(Arc::clone(&sem).acquire_owned().priority(0));
///     while sem.stats().queued < 2 {
///         wrangle_rt::yield_now().await;
///     }
///     drop(held);
///     let permit = high.await.unwrap().unwrap(); // priority 0 first
///     assert!(!low.is_finished());
///     drop(permit);
///     drop(low.await.unwrap().unwrap());
/// });
/// ```
pub struct PrioritySemaphore {
    /// The free permits (shifted by [`SHIFT`]) and the [`WAITERS`] and [`CLOSED`] flags. With
    /// no flag set, acquire and release are one compare-and-swap on this word; once `WAITERS`
    /// is set, only a holder of `state`'s lock changes it (see [`PrioritySemaphore::own`]).
    word: AtomicUsize,
    /// Acquisitions taken on the fast path (those of the slow path are `State::acquired`).
    /// Beside `word`, so counting one writes no other cache line.
    fast_acquired: AtomicU64,
    state: Mutex<State>,
}

/// `word`'s flag: the lock holder owns the permit count (callers may be queued).
const WAITERS: usize = 1;
/// `word`'s flag: the semaphore is closed.
const CLOSED: usize = 2;
/// Both flags: a fast path runs only when neither is set.
const FLAGS: usize = WAITERS | CLOSED;
/// The permit count sits above the flag bits; `MAX_PERMITS << SHIFT` fits in a `usize`.
const SHIFT: u32 = 2;

pub(crate) struct State {
    /// Permits free now, as read from `word` by [`PrioritySemaphore::own`] and written back
    /// by [`PrioritySemaphore::publish`]; meaningful only between the two.
    permits: usize,
    /// Permits in existence: free, held, or handed to a waiter that has not seen them yet.
    /// At most [`PrioritySemaphore::MAX_PERMITS`]; only `add_permits` raises it, so
    /// returning permits (in a destructor) never overflows.
    total: usize,
    closed: bool,
    default_priority: Priority,
    next_seq: u64,
    /// Queued waiters by priority, each level in arrival order. Entries of waiters that left
    /// are skipped lazily and compacted when they outnumber the live ones.
    levels: BTreeMap<Priority, VecDeque<Entry>>,
    /// Entries in `levels`, live or not.
    entries: usize,
    /// Live queued waiters.
    waiting: usize,
    /// Per-waiter state, reused through `free`.
    slots: Vec<Slot>,
    free: Vec<usize>,
    acquired: u64,
    cancelled: u64,
    returned: u64,
}

/// A queue entry: the slot, and the generation it was queued under.
#[derive(Debug, Clone, Copy)]
struct Entry {
    slot: usize,
    generation: u64,
    seq: u64,
}

/// Where a waiter's state lives; handed to its future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    slot: usize,
    generation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Free,
    Queued,
    Granted,
    Closed,
}

struct Slot {
    generation: u64,
    seq: u64,
    n: usize,
    status: Status,
    waker: Option<Waker>,
}

/// A snapshot of a [`PrioritySemaphore`]'s counters.
///
/// Invariant: once no permit is held and nobody waits (`queued == 0`), `available` is the
/// number of permits the semaphore was created with, plus those added with
/// [`add_permits`](PrioritySemaphore::add_permits), minus those
/// [`forget`](SemaphorePermit::forget)-ed or removed with
/// [`forget_permits`](PrioritySemaphore::forget_permits): no waiter, cancelled or served,
/// strands a permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SemaphoreStats {
    /// Permits free now (gauge).
    pub available: usize,
    /// Callers queued now (gauge).
    pub queued: usize,
    /// Successful acquisitions so far (immediate or after waiting). A waiter that was granted
    /// permits but dropped before it saw them is not counted (it is counted in `returned`).
    pub acquired: u64,
    /// Waiters dropped while queued.
    pub cancelled: u64,
    /// Waiters dropped after permits had been handed to them, which gave them back.
    pub returned: u64,
}

/// What [`PrioritySemaphore::poll_wait`] found.
pub(crate) enum WaitPoll {
    Granted,
    Closed,
    Pending,
}

impl PrioritySemaphore {
    /// The most permits a semaphore can have in existence (free and held together):
    /// `usize::MAX >> 3`, as Tokio's semaphore. [`try_new`](Self::try_new) and
    /// [`add_permits`](Self::add_permits) refuse more with [`TooManyPermits`], so permits
    /// coming back never overflow the count.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` permits and a default priority of 0.
    ///
    /// # Panics
    ///
    /// If `permits` is above [`MAX_PERMITS`](Self::MAX_PERMITS); [`try_new`](Self::try_new)
    /// returns an error instead.
    #[must_use]
    pub fn new(permits: usize) -> Self {
        match PrioritySemaphore::try_new(permits) {
            Ok(sem) => sem,
            Err(e) => panic!("{e}"),
        }
    }

    /// A semaphore with `permits` permits, or an error if that is above
    /// [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_sync::PrioritySemaphore;
    ///
    /// assert!(PrioritySemaphore::try_new(usize::MAX).is_err());
    /// let sem = PrioritySemaphore::try_new(PrioritySemaphore::MAX_PERMITS).unwrap();
    /// assert_eq!(sem.available_permits(), PrioritySemaphore::MAX_PERMITS);
    /// ```
    ///
    /// # Errors
    ///
    /// [`TooManyPermits`] if `permits` is above [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub fn try_new(permits: usize) -> Result<Self, TooManyPermits> {
        if permits > PrioritySemaphore::MAX_PERMITS {
            return Err(TooManyPermits(()));
        }
        Ok(PrioritySemaphore {
            word: AtomicUsize::new(permits << SHIFT),
            fast_acquired: AtomicU64::new(0),
            state: Mutex::new(State {
                permits,
                total: permits,
                closed: false,
                default_priority: 0,
                next_seq: 0,
                levels: BTreeMap::new(),
                entries: 0,
                waiting: 0,
                slots: Vec::new(),
                free: Vec::new(),
                acquired: 0,
                cancelled: 0,
                returned: 0,
            }),
        })
    }

    /// Waits for one permit, at the default priority unless [`Acquire::priority`] says
    /// otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_sync::PrioritySemaphore;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let sem = PrioritySemaphore::new(1);
    ///     let permit = sem.acquire().priority(-1).await.unwrap();
    ///     assert_eq!(sem.available_permits(), 0);
    ///     drop(permit);
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed before permits are
    /// handed over.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future before it completes gives up its place in the queue;
    /// if permits had already been handed to it, they are returned and the next waiters are
    /// served.
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire::new(self, 1)
    }

    /// Waits for `n` permits at once, at the default priority unless [`Acquire::priority`]
    /// says otherwise. While it waits, nobody behind it in the queue is served, so a request
    /// for more permits than the semaphore will ever have waits until the semaphore is closed
    /// (or permits are added) and holds back everyone behind it.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_sync::PrioritySemaphore;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let sem = PrioritySemaphore::new(5);
    ///     let permit = sem.acquire_many(3).await.unwrap();
    ///     assert_eq!(permit.num_permits(), 3);
    ///     assert_eq!(sem.available_permits(), 2);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed before permits are
    /// handed over, or at once if `n` is above
    /// [`MAX_PERMITS`](Self::MAX_PERMITS) (a wait that could never end).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`acquire`](Self::acquire).
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire::new(self, n)
    }

    /// [`acquire`](Self::acquire) for a semaphore in an [`Arc`], returning a permit that owns
    /// a reference to it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wrangle_sync::PrioritySemaphore;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let sem = Arc::new(PrioritySemaphore::new(1));
    ///     let permit = Arc::clone(&sem).acquire_owned().await.unwrap();
    ///     assert_eq!(sem.available_permits(), 0);
    ///     drop(permit);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed before permits are
    /// handed over.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`acquire`](Self::acquire).
    pub fn acquire_owned(self: Arc<Self>) -> AcquireOwned {
        AcquireOwned::new(self, 1)
    }

    /// [`acquire_many`](Self::acquire_many) for a semaphore in an [`Arc`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wrangle_sync::PrioritySemaphore;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let sem = Arc::new(PrioritySemaphore::new(4));
    ///     let permit = Arc::clone(&sem).acquire_many_owned(4).await.unwrap();
    ///     assert_eq!(permit.num_permits(), 4);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed before permits are
    /// handed over, or at once if `n` is above
    /// [`MAX_PERMITS`](Self::MAX_PERMITS) (a wait that could never end).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`acquire`](Self::acquire).
    pub fn acquire_many_owned(self: Arc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned::new(self, n)
    }

    /// Takes one permit if one is free and nobody is waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_sync::{PrioritySemaphore, TryAcquireError};
    ///
    /// let sem = PrioritySemaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// drop(permit);
    /// ```
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if no permit is free or callers are queued (a newcomer
    /// never overtakes them); [`TryAcquireError::Closed`] if the semaphore is closed.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = wrangle_sync::PrioritySemaphore::new(3);
    /// assert!(sem.try_acquire_many(4).is_err());
    /// assert_eq!(sem.try_acquire_many(3).unwrap().num_permits(), 3);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_take(n)?;
        Ok(SemaphorePermit::new(self, n))
    }

    /// [`try_acquire`](Self::try_acquire) for a semaphore in an [`Arc`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(wrangle_sync::PrioritySemaphore::new(1));
    /// let permit = Arc::clone(&sem).try_acquire_owned().unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_take(1)?;
        Ok(OwnedSemaphorePermit::new(self, 1))
    }

    /// [`try_acquire_many`](Self::try_acquire_many) for a semaphore in an [`Arc`].
    ///
    /// # Examples
    ///
    /// A connection pool hands a batch job 3 of its 4 slots at once, or nothing:
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let slots = Arc::new(wrangle_sync::PrioritySemaphore::new(4));
    /// let batch = Arc::clone(&slots).try_acquire_many_owned(3).unwrap();
    /// assert!(Arc::clone(&slots).try_acquire_many_owned(2).is_err()); // only 1 left
    /// std::thread::spawn(move || drop(batch)).join().unwrap(); // owned: 'static, Send
    /// assert_eq!(slots.available_permits(), 4);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_take(n)?;
        Ok(OwnedSemaphorePermit::new(self, n))
    }

    /// Blocks the thread until one permit is handed over, at the default priority
    /// ([`set_default_priority`](Self::set_default_priority)). The blocking form of
    /// [`acquire`](Self::acquire): waiting threads and tasks share one queue, in one order.
    /// Do not call it on an async runtime's threads.
    ///
    /// # Examples
    ///
    /// Plain worker threads share two slots (async tasks could wait in the same queue):
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use wrangle_sync::PrioritySemaphore;
    ///
    /// let slots = Arc::new(PrioritySemaphore::new(2));
    /// let busy = Arc::new(AtomicUsize::new(0));
    /// let threads: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let (slots, busy) = (Arc::clone(&slots), Arc::clone(&busy));
    ///         std::thread::spawn(move || {
    ///             let _slot = slots.acquire_blocking().unwrap();
    ///             assert!(busy.fetch_add(1, Ordering::SeqCst) < 2); // never a third
    ///             busy.fetch_sub(1, Ordering::SeqCst);
    ///         })
    ///     })
    ///     .collect();
    /// for t in threads {
    ///     t.join().unwrap();
    /// }
    /// assert_eq!(slots.stats().acquired, 4);
    /// ```
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed before the permit is handed over.
    pub fn acquire_blocking(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many_blocking(1)
    }

    /// Blocks the thread until `n` permits are handed over at once, at the default priority;
    /// the blocking form of [`acquire_many`](Self::acquire_many), with its strict fairness.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(wrangle_sync::PrioritySemaphore::new(3));
    /// let held = sem.try_acquire_many(2).unwrap();
    /// let worker = std::thread::spawn({
    ///     let sem = Arc::clone(&sem);
    ///     move || sem.acquire_many_blocking(3).map(|p| p.num_permits())
    /// });
    /// while sem.stats().queued == 0 {
    ///     std::thread::yield_now(); // the worker waits for all three
    /// }
    /// drop(held);
    /// assert_eq!(worker.join().unwrap(), Ok(3));
    /// ```
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed before the permits are handed over, or at
    /// once if `n` is above [`MAX_PERMITS`](Self::MAX_PERMITS) (a wait that could never end).
    pub fn acquire_many_blocking(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        let waker = crate::queue::thread_waker();
        let Some(ticket) = self.start_wait(n, None, &waker)? else {
            return Ok(SemaphorePermit::new(self, n));
        };
        loop {
            match self.poll_wait(ticket, &waker) {
                WaitPoll::Granted => return Ok(SemaphorePermit::new(self, n)),
                WaitPoll::Closed => return Err(AcquireError(AcquireFailure::Closed)),
                WaitPoll::Pending => crate::queue::park(None),
            }
        }
    }

    /// Removes up to `n` **free** permits for good, and returns how many were removed (fewer
    /// than `n` if fewer are free; held permits are not touched). Tokio's `forget_permits`.
    /// Removing permits never wakes anyone; [`add_permits`](Self::add_permits) gives
    /// capacity back.
    ///
    /// # Examples
    ///
    /// Shrinking a pool at run time, from 10 slots to 4 while 3 are in use:
    ///
    /// ```
    /// let sem = wrangle_sync::PrioritySemaphore::new(10);
    /// let busy = sem.try_acquire_many(3).unwrap();
    /// assert_eq!(sem.forget_permits(6), 6); // 7 were free: 1 is left
    /// assert_eq!(sem.forget_permits(6), 1); // only 1 more could go
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(busy); // the 3 in use come back: the pool is 3 now
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        let mut st = lock(&self.state);
        self.own(&mut st);
        let removed = n.min(st.permits);
        st.permits -= removed;
        st.total -= removed;
        self.publish(&st);
        removed
    }

    /// Adds `n` permits and serves the waiters they satisfy.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_sync::PrioritySemaphore;
    ///
    /// let sem = PrioritySemaphore::new(0);
    /// sem.add_permits(2).unwrap();
    /// assert_eq!(sem.available_permits(), 2);
    /// // Free and held permits together stay within the maximum.
    /// let held = sem.try_acquire().unwrap();
    /// assert!(sem.add_permits(PrioritySemaphore::MAX_PERMITS - 1).is_err());
    /// drop(held);
    /// ```
    ///
    /// # Errors
    ///
    /// [`TooManyPermits`] if the permits in existence (free and held) would exceed
    /// [`MAX_PERMITS`](Self::MAX_PERMITS); nothing is added then.
    pub fn add_permits(&self, n: usize) -> Result<(), TooManyPermits> {
        let mut wakers = Vec::new();
        {
            let mut st = lock(&self.state);
            let total = st
                .total
                .checked_add(n)
                .filter(|&t| t <= PrioritySemaphore::MAX_PERMITS)
                .ok_or(TooManyPermits(()))?;
            st.total = total;
            self.own(&mut st);
            st.give_back(n);
            st.serve(&mut wakers);
            self.publish(&st);
        }
        wakers.into_iter().for_each(Waker::wake);
        Ok(())
    }

    /// Closes the semaphore: every queued waiter and every later acquire fails with
    /// [`AcquireError`]. Permits already handed out stay valid and are returned as usual.
    /// Never waits; returns whether this call closed it (`false` if it was closed already).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = wrangle_sync::PrioritySemaphore::new(1);
    /// assert!(sem.close());
    /// assert!(!sem.close());
    /// assert!(sem.try_acquire().is_err());
    /// ```
    pub fn close(&self) -> bool {
        let wakers: Vec<Waker> = {
            let mut st = lock(&self.state);
            if st.closed {
                return false;
            }
            self.own(&mut st);
            st.closed = true;
            let wakers = st.close_all();
            self.publish(&st);
            wakers
        };
        wakers.into_iter().for_each(Waker::wake);
        true
    }

    /// Whether [`close`](Self::close) was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.word.load(AcquireOrd) & CLOSED != 0
    }

    /// Permits free now.
    #[must_use]
    pub fn available_permits(&self) -> usize {
        // A slow path in progress publishes its count before unlocking; until then the word
        // holds the count it started from, which was true a moment ago.
        self.word.load(AcquireOrd) >> SHIFT
    }

    /// The priority of calls that do not choose one.
    #[must_use]
    pub fn default_priority(&self) -> Priority {
        lock(&self.state).default_priority
    }

    /// Sets the priority of later calls that do not choose one. Waiters already queued keep
    /// theirs.
    pub fn set_default_priority(&self, priority: Priority) {
        lock(&self.state).default_priority = priority;
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> SemaphoreStats {
        let st = lock(&self.state);
        SemaphoreStats {
            available: self.word.load(AcquireOrd) >> SHIFT,
            queued: st.waiting,
            acquired: st.acquired + self.fast_acquired.load(Relaxed),
            cancelled: st.cancelled,
            returned: st.returned,
        }
    }

    /// The fast path of every acquire: takes `n` permits with one compare-and-swap if no flag
    /// is set and they are free. `Err(word)` otherwise (`word` as last read).
    fn take_fast(&self, n: usize) -> Result<(), usize> {
        let mut word = self.word.load(Relaxed);
        loop {
            if word & FLAGS != 0 || word >> SHIFT < n {
                return Err(word);
            }
            match self
                .word
                .compare_exchange_weak(word, word - (n << SHIFT), AcquireOrd, Relaxed)
            {
                Ok(_) => {
                    self.fast_acquired.fetch_add(1, Relaxed);
                    return Ok(());
                }
                Err(now) => word = now,
            }
        }
    }

    /// Takes the permit count over: sets `WAITERS` (so the fast paths stop changing it) and
    /// copies the count into `st.permits`. Only under `state`'s lock; every caller ends with
    /// [`publish`](Self::publish) before unlocking.
    fn own(&self, st: &mut State) {
        let word = self.word.fetch_or(WAITERS, AcqRel);
        st.permits = word >> SHIFT;
    }

    /// Writes the count back, with `CLOSED` if closed and `WAITERS` if callers are queued;
    /// without `WAITERS`, the fast paths may run again.
    fn publish(&self, st: &State) {
        let mut word = st.permits << SHIFT;
        if st.closed {
            word |= CLOSED;
        }
        if st.waiting > 0 {
            word |= WAITERS;
        }
        self.word.store(word, Release);
    }

    fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        let word = match self.take_fast(n) {
            Ok(()) => return Ok(()),
            Err(word) => word,
        };
        if word & CLOSED != 0 {
            return Err(TryAcquireError::Closed);
        }
        if word & WAITERS == 0 {
            // No flag: simply not enough permits.
            return Err(TryAcquireError::NoPermits);
        }
        let mut st = lock(&self.state);
        self.own(&mut st);
        let outcome = if st.closed {
            Err(TryAcquireError::Closed)
        } else if st.waiting > 0 || st.permits < n {
            Err(TryAcquireError::NoPermits)
        } else {
            st.permits -= n;
            st.acquired += 1;
            Ok(())
        };
        self.publish(&st);
        outcome
    }

    /// Returns `n` permits and serves the waiters they satisfy.
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        if n <= PrioritySemaphore::MAX_PERMITS {
            let mut word = self.word.load(Relaxed);
            // No overflow: free and held permits together are at most `MAX_PERMITS`.
            while word & WAITERS == 0 {
                match self
                    .word
                    .compare_exchange_weak(word, word + (n << SHIFT), Release, Relaxed)
                {
                    Ok(_) => return,
                    Err(now) => word = now,
                }
            }
        }
        let mut wakers = Vec::new();
        {
            let mut st = lock(&self.state);
            self.own(&mut st);
            st.give_back(n);
            st.serve(&mut wakers);
            self.publish(&st);
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// `n` held permits are forgotten: they leave the count for good.
    pub(crate) fn forget(&self, n: usize) {
        let mut st = lock(&self.state);
        st.total = st.total.saturating_sub(n);
    }

    /// The first poll of a waiter: take the permits at once if allowed, else queue.
    pub(crate) fn start_wait(
        &self,
        n: usize,
        priority: Option<Priority>,
        waker: &Waker,
    ) -> Result<Option<Ticket>, AcquireError> {
        // With nobody queued, the priority does not matter: first in line either way.
        if self.take_fast(n).is_ok() {
            return Ok(None);
        }
        let mut st = lock(&self.state);
        if st.closed {
            return Err(AcquireError(AcquireFailure::Closed));
        }
        if n > PrioritySemaphore::MAX_PERMITS {
            // Could never be served, and, strictly fair, would hold back every later waiter.
            return Err(AcquireError(AcquireFailure::TooManyPermits));
        }
        self.own(&mut st);
        let priority = priority.unwrap_or(st.default_priority);
        // A newcomer ahead of every waiter (a lower priority value) is served at once if it
        // fits, as `serve` would: nothing else would wake it while permits sit free.
        let outcome = if st.permits >= n && (st.waiting == 0 || st.first_in_line(priority)) {
            st.permits -= n;
            st.acquired += 1;
            None
        } else {
            Some(st.enqueue(n, priority, waker.clone()))
        };
        self.publish(&st);
        Ok(outcome)
    }

    /// A later poll of a queued waiter.
    pub(crate) fn poll_wait(&self, ticket: Ticket, waker: &Waker) -> WaitPoll {
        let mut st = lock(&self.state);
        let slot = &mut st.slots[ticket.slot];
        match slot.status {
            Status::Queued => {
                if !slot.waker.as_ref().is_some_and(|old| old.will_wake(waker)) {
                    slot.waker = Some(waker.clone());
                }
                WaitPoll::Pending
            }
            Status::Granted => {
                st.release_slot(ticket.slot);
                WaitPoll::Granted
            }
            Status::Closed | Status::Free => {
                st.release_slot(ticket.slot);
                WaitPoll::Closed
            }
        }
    }

    /// Moves a queued waiter to a new priority, keeping its arrival order.
    pub(crate) fn requeue(&self, ticket: Ticket, priority: Priority) -> Ticket {
        let mut wakers = Vec::new();
        let ticket = {
            let mut st = lock(&self.state);
            self.own(&mut st);
            let ticket = st.requeue(ticket, priority);
            st.serve(&mut wakers);
            self.publish(&st);
            ticket
        };
        wakers.into_iter().for_each(Waker::wake);
        ticket
    }

    /// A waiter is dropped before it saw the outcome of its wait.
    pub(crate) fn cancel_wait(&self, ticket: Ticket, n: usize) {
        let mut wakers = Vec::new();
        {
            let mut st = lock(&self.state);
            self.own(&mut st);
            match st.slots[ticket.slot].status {
                Status::Granted => {
                    // Permits were handed over, but nobody will use them: pass them on.
                    st.returned += 1;
                    st.acquired -= 1;
                    st.give_back(n);
                }
                Status::Queued => {
                    st.cancelled += 1;
                    st.waiting -= 1;
                }
                Status::Closed | Status::Free => {}
            }
            st.release_slot(ticket.slot);
            st.compact_if_sparse();
            // A cancelled head may have blocked smaller requests behind it.
            st.serve(&mut wakers);
            self.publish(&st);
        }
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl State {
    /// `n` permits return to the free count. They were counted in `total`, and `permits` plus
    /// the permits held never exceed it, so this cannot overflow (called from destructors:
    /// it must not panic either way).
    fn give_back(&mut self, n: usize) {
        debug_assert!(self.permits <= self.total && n <= self.total - self.permits);
        self.permits = self.permits.saturating_add(n);
    }

    fn enqueue(&mut self, n: usize, priority: Priority, waker: Waker) -> Ticket {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    seq: 0,
                    n: 0,
                    status: Status::Free,
                    waker: None,
                });
                self.slots.len() - 1
            }
        };
        let s = &mut self.slots[slot];
        s.generation += 1;
        s.seq = seq;
        s.n = n;
        s.status = Status::Queued;
        s.waker = Some(waker);
        let generation = s.generation;
        self.levels.entry(priority).or_default().push_back(Entry {
            slot,
            generation,
            seq,
        });
        self.entries += 1;
        self.waiting += 1;
        Ticket { slot, generation }
    }

    fn requeue(&mut self, ticket: Ticket, priority: Priority) -> Ticket {
        let s = &mut self.slots[ticket.slot];
        if s.status != Status::Queued {
            return ticket;
        }
        // A new generation makes the old entry stale; the new one keeps the arrival number.
        s.generation += 1;
        let entry = Entry {
            slot: ticket.slot,
            generation: s.generation,
            seq: s.seq,
        };
        let level = self.levels.entry(priority).or_default();
        let at = level.partition_point(|e| e.seq < entry.seq);
        level.insert(at, entry);
        self.entries += 1;
        Ticket {
            slot: ticket.slot,
            generation: entry.generation,
        }
    }

    /// Whether a newcomer at `priority` would be ahead of every live waiter.
    fn first_in_line(&self, priority: Priority) -> bool {
        for (&level, q) in &self.levels {
            if level > priority {
                return true;
            }
            if q.iter().any(|e| self.is_live(e)) {
                return false;
            }
        }
        true
    }

    fn is_live(&self, e: &Entry) -> bool {
        let s = &self.slots[e.slot];
        s.generation == e.generation && s.status == Status::Queued
    }

    fn release_slot(&mut self, slot: usize) {
        let s = &mut self.slots[slot];
        s.status = Status::Free;
        s.waker = None;
        self.free.push(slot);
    }

    /// Drops the entries of waiters that left once they outnumber the live ones, so a queue
    /// behind a long-held permit does not grow with cancellations.
    fn compact_if_sparse(&mut self) {
        if self.entries <= 2 * self.waiting + 16 {
            return;
        }
        let mut levels = std::mem::take(&mut self.levels);
        levels.retain(|_, q| {
            q.retain(|e| self.is_live(e));
            !q.is_empty()
        });
        self.entries = levels.values().map(VecDeque::len).sum();
        self.levels = levels;
    }

    /// Hands permits to the waiters at the head of the queue, in order, while they fit.
    fn serve(&mut self, wakers: &mut Vec<Waker>) {
        while let Some(mut level) = self.levels.first_entry() {
            let q = level.get_mut();
            let head = loop {
                match q.front() {
                    None => break None,
                    Some(e) => {
                        let s = &self.slots[e.slot];
                        if s.generation == e.generation && s.status == Status::Queued {
                            break Some(*e);
                        }
                        q.pop_front();
                        self.entries -= 1;
                    }
                }
            };
            let Some(head) = head else {
                level.remove();
                continue;
            };
            let slot = &mut self.slots[head.slot];
            if slot.n > self.permits {
                break;
            }
            self.permits -= slot.n;
            slot.status = Status::Granted;
            wakers.extend(slot.waker.take());
            q.pop_front();
            if q.is_empty() {
                level.remove();
            }
            self.entries -= 1;
            self.waiting -= 1;
            self.acquired += 1;
        }
    }

    /// Fails every queued waiter; returns their wakers.
    fn close_all(&mut self) -> Vec<Waker> {
        let mut wakers = Vec::new();
        for q in std::mem::take(&mut self.levels).into_values() {
            for e in q {
                let s = &mut self.slots[e.slot];
                if s.generation == e.generation && s.status == Status::Queued {
                    s.status = Status::Closed;
                    wakers.extend(s.waker.take());
                }
            }
        }
        self.entries = 0;
        self.waiting = 0;
        wakers
    }
}

impl fmt::Debug for PrioritySemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("PrioritySemaphore")
            .field("available", &(self.word.load(AcquireOrd) >> SHIFT))
            .field("waiting", &st.waiting)
            .field("closed", &st.closed)
            .field("default_priority", &st.default_priority)
            .finish()
    }
}

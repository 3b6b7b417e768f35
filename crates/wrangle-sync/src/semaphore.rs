//! [`PrioritySemaphore`]: a fair semaphore whose waiters are served by priority, then arrival.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::task::Waker;

use crate::sync::{Mutex, lock};
use crate::{Acquire, AcquireOwned, OwnedSemaphorePermit, SemaphorePermit, TryAcquireError};

/// A priority: waiters with a **lower** value are served first; equal values are served in
/// arrival order.
pub type Priority = i32;

/// A counting semaphore whose waiters are served by `(priority, arrival)`.
///
/// - A lower [`Priority`] is served first; equal priorities are served first come, first
///   served. The priority is chosen per call ([`Acquire::priority`]); calls that do not choose
///   one use the semaphore's default ([`set_default_priority`](Self::set_default_priority),
///   initially 0).
/// - Strictly fair: a caller never overtakes a live waiter, even when enough permits are free
///   for it and not for the waiter ahead (so a large `acquire_many` is never starved).
/// - Cancellation-safe: a waiter dropped after permits were handed to it gives them back and
///   the next waiters are served; a waiter dropped while queued leaves no trace.
/// - Runtime-free (wakers only) and usable from any thread.
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
///     while sem.stats().waiting < 2 {
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
    state: Mutex<State>,
}

pub(crate) struct State {
    permits: usize,
    closed: bool,
    default_priority: Priority,
    next_seq: u64,
    /// Live waiters, in service order.
    queue: BTreeMap<(Priority, u64), Waiter>,
    /// Waiters whose permits were handed over but who have not yet seen it.
    granted: BTreeSet<u64>,
    acquired: u64,
    cancelled: u64,
    returned: u64,
}

struct Waiter {
    n: usize,
    waker: Option<Waker>,
}

/// A snapshot of a [`PrioritySemaphore`]'s counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SemaphoreStats {
    /// Permits free now.
    pub available: usize,
    /// Callers queued now.
    pub waiting: usize,
    /// Successful acquisitions so far (immediate or after waiting).
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
    /// A semaphore with `permits` permits and a default priority of 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = wrangle_sync::PrioritySemaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    #[must_use]
    pub fn new(permits: usize) -> Self {
        PrioritySemaphore {
            state: Mutex::new(State {
                permits,
                closed: false,
                default_priority: 0,
                next_seq: 0,
                queue: BTreeMap::new(),
                granted: BTreeSet::new(),
                acquired: 0,
                cancelled: 0,
                returned: 0,
            }),
        }
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
    /// [`AcquireError`](crate::AcquireError) if the semaphore is closed before permits are
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
    /// says otherwise. While it waits, nobody behind it in the queue is served.
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
    /// [`AcquireError`](crate::AcquireError) if the semaphore is closed before permits are
    /// handed over.
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
    /// [`AcquireError`](crate::AcquireError) if the semaphore is closed before permits are
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
    /// [`AcquireError`](crate::AcquireError) if the semaphore is closed before permits are
    /// handed over.
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

    /// Adds `n` permits and serves the waiters they satisfy.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = wrangle_sync::PrioritySemaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    ///
    /// # Panics
    ///
    /// If the number of permits would overflow `usize`.
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    /// Closes the semaphore: every queued waiter and every later acquire fails with
    /// [`AcquireError`](crate::AcquireError). Permits already handed out stay valid and are
    /// returned as usual.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = wrangle_sync::PrioritySemaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert!(sem.try_acquire().is_err());
    /// ```
    pub fn close(&self) {
        let wakers: Vec<Waker> = {
            let mut st = lock(&self.state);
            st.closed = true;
            std::mem::take(&mut st.queue)
                .into_values()
                .filter_map(|w| w.waker)
                .collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!wrangle_sync::PrioritySemaphore::new(1).is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Permits free now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(wrangle_sync::PrioritySemaphore::new(2).available_permits(), 2);
    /// ```
    #[must_use]
    pub fn available_permits(&self) -> usize {
        lock(&self.state).permits
    }

    /// The priority of calls that do not choose one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(wrangle_sync::PrioritySemaphore::new(1).default_priority(), 0);
    /// ```
    #[must_use]
    pub fn default_priority(&self) -> Priority {
        lock(&self.state).default_priority
    }

    /// Sets the priority of later calls that do not choose one. Waiters already queued keep
    /// theirs.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = wrangle_sync::PrioritySemaphore::new(1);
    /// sem.set_default_priority(10);
    /// assert_eq!(sem.default_priority(), 10);
    /// ```
    pub fn set_default_priority(&self, priority: Priority) {
        lock(&self.state).default_priority = priority;
    }

    /// A snapshot of the counters.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = wrangle_sync::PrioritySemaphore::new(1);
    /// drop(sem.try_acquire().unwrap());
    /// assert_eq!(sem.stats().acquired, 1);
    /// ```
    #[must_use]
    pub fn stats(&self) -> SemaphoreStats {
        let st = lock(&self.state);
        SemaphoreStats {
            available: st.permits,
            waiting: st.queue.len(),
            acquired: st.acquired,
            cancelled: st.cancelled,
            returned: st.returned,
        }
    }

    fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(TryAcquireError::Closed);
        }
        if !st.queue.is_empty() || st.permits < n {
            return Err(TryAcquireError::NoPermits);
        }
        st.permits -= n;
        st.acquired += 1;
        Ok(())
    }

    /// Returns `n` permits and serves the waiters they satisfy.
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut wakers = Vec::new();
        {
            let mut st = lock(&self.state);
            st.permits = st
                .permits
                .checked_add(n)
                .expect("semaphore permit count overflow");
            st.serve(&mut wakers);
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The first poll of a waiter: take the permits at once if allowed, else queue.
    pub(crate) fn start_wait(
        &self,
        n: usize,
        priority: Option<Priority>,
        waker: &Waker,
    ) -> Result<Option<(Priority, u64)>, crate::AcquireError> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(crate::AcquireError(()));
        }
        if st.queue.is_empty() && st.permits >= n {
            st.permits -= n;
            st.acquired += 1;
            return Ok(None);
        }
        let key = (priority.unwrap_or(st.default_priority), st.next_seq);
        st.next_seq += 1;
        st.queue.insert(
            key,
            Waiter {
                n,
                waker: Some(waker.clone()),
            },
        );
        Ok(Some(key))
    }

    /// A later poll of a queued waiter.
    pub(crate) fn poll_wait(&self, key: (Priority, u64), waker: &Waker) -> WaitPoll {
        let mut st = lock(&self.state);
        if st.granted.remove(&key.1) {
            return WaitPoll::Granted;
        }
        match st.queue.get_mut(&key) {
            Some(w) => {
                if !w.waker.as_ref().is_some_and(|old| old.will_wake(waker)) {
                    w.waker = Some(waker.clone());
                }
                WaitPoll::Pending
            }
            None => WaitPoll::Closed,
        }
    }

    /// Moves a queued waiter to a new priority, keeping its arrival order.
    pub(crate) fn requeue(&self, key: (Priority, u64), priority: Priority) -> (Priority, u64) {
        let mut wakers = Vec::new();
        let new_key = (priority, key.1);
        {
            let mut st = lock(&self.state);
            if let Some(w) = st.queue.remove(&key) {
                st.queue.insert(new_key, w);
                st.serve(&mut wakers);
            }
        }
        wakers.into_iter().for_each(Waker::wake);
        new_key
    }

    /// A waiter is dropped before it saw the outcome of its wait.
    pub(crate) fn cancel_wait(&self, key: (Priority, u64), n: usize) {
        let mut wakers = Vec::new();
        {
            let mut st = lock(&self.state);
            if st.granted.remove(&key.1) {
                // Permits were handed over, but nobody will use them: pass them on.
                st.returned += 1;
                st.acquired -= 1;
                st.permits += n;
                st.serve(&mut wakers);
            } else if st.queue.remove(&key).is_some() {
                st.cancelled += 1;
                // The waiter may have blocked smaller requests behind it.
                st.serve(&mut wakers);
            }
        }
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl State {
    /// Hands permits to the waiters at the head of the queue, in order, while they fit.
    fn serve(&mut self, wakers: &mut Vec<Waker>) {
        while let Some(head) = self.queue.first_entry() {
            let n = head.get().n;
            if n > self.permits {
                break;
            }
            self.permits -= n;
            self.acquired += 1;
            let (key, waiter) = head.remove_entry();
            self.granted.insert(key.1);
            wakers.extend(waiter.waker);
        }
    }
}

impl fmt::Debug for PrioritySemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("PrioritySemaphore")
            .field("available", &st.permits)
            .field("waiting", &st.queue.len())
            .field("closed", &st.closed)
            .field("default_priority", &st.default_priority)
            .finish()
    }
}

//! [`Scheduler`]: payloads due at wall-clock instants, delivered in time order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use event_listener::{Event, EventListener};
use futures_lite::Stream;
use jiff::Timestamp;
use wrangle_rt::{DefaultRuntime, Runtime};

use crate::ConfigError;
use crate::driver::runtime_or_current;
use crate::wall_sleep::{DEFAULT_MAX_SLEEP, WallSleep, check_max_sleep};

/// Identifies a scheduled payload, to [`remove`](Scheduler::remove) it before it is due.
///
/// Keys are unique within one scheduler, even for equal instants (see [`Scheduler`] for an
/// example).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleKey(u64);

/// The error of scheduling on a closed [`Scheduler`]; the payload is handed back.
///
/// # Examples
///
/// ```
/// use wrangle_timer::{Scheduler, SchedulerClosed};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let scheduler = Scheduler::with_runtime(rt.clone());
/// scheduler.close();
/// let err = scheduler.schedule(jiff::Timestamp::UNIX_EPOCH, 7).unwrap_err();
/// assert_eq!(err, SchedulerClosed(7));
/// assert_eq!(err.to_string(), "the scheduler is closed");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SchedulerClosed<T>(pub T);

impl<T> fmt::Debug for SchedulerClosed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SchedulerClosed").finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SchedulerClosed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the scheduler is closed")
    }
}

impl<T> std::error::Error for SchedulerClosed<T> {}

/// Counters of a [`Scheduler`], from [`Scheduler::stats`] or [`SchedulerHandle::stats`].
///
/// Invariant: `submitted == completed + cancelled + queued`: every payload scheduled is
/// delivered, withdrawn (by [`remove`](Scheduler::remove), or dropped by
/// [`close`](Scheduler::close)), or still waiting.
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
/// use jiff::SignedDuration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::Scheduler;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let mut scheduler = Scheduler::with_runtime(rt.clone());
///     let soon = rt.wall_now() + SignedDuration::from_secs(1);
///     for n in 0..4 {
///         scheduler.schedule(soon, n).unwrap();
///     }
///     let later = scheduler.schedule(soon + SignedDuration::from_secs(60), 9).unwrap();
///     scheduler.remove(later);
///     assert_eq!(scheduler.next().await, Some(0));
///     let stats = scheduler.stats();
///     assert_eq!((stats.submitted, stats.completed, stats.cancelled, stats.queued), (5, 1, 1, 3));
///     scheduler.close(); // drops the three still waiting
///     let stats = scheduler.stats();
///     assert_eq!((stats.completed, stats.cancelled, stats.queued), (1, 4, 0));
/// });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchedulerStats {
    /// Payloads scheduled.
    pub submitted: u64,
    /// Payloads delivered.
    pub completed: u64,
    /// Payloads withdrawn before they were due: removed, or dropped by closing.
    pub cancelled: u64,
    /// Payloads waiting to be delivered.
    pub queued: usize,
}

struct State<T> {
    /// Due instants, earliest first; equal instants in the order they were scheduled. Keys of
    /// cancelled entries stay until they reach the top or the heap is compacted.
    heap: BinaryHeap<Reverse<(Timestamp, u64)>>,
    entries: HashMap<u64, T>,
    next_id: u64,
    closed: bool,
    stats: SchedulerStats,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Notified when the earliest entry changes, and on close.
    changed: Event,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn schedule(&self, at: Timestamp, payload: T) -> Result<ScheduleKey, SchedulerClosed<T>> {
        let mut st = self.lock();
        if st.closed {
            return Err(SchedulerClosed(payload));
        }
        let id = st.next_id;
        st.next_id += 1;
        let earliest = st.heap.peek().is_none_or(|Reverse((first, _))| at < *first);
        st.heap.push(Reverse((at, id)));
        st.entries.insert(id, payload);
        st.stats.submitted += 1;
        st.stats.queued += 1;
        drop(st);
        if earliest {
            // The consumer sleeps toward the old earliest instant: re-arm it.
            self.changed.notify(usize::MAX);
        }
        Ok(ScheduleKey(id))
    }

    fn remove(&self, key: ScheduleKey) -> bool {
        let mut st = self.lock();
        let Some(payload) = st.entries.remove(&key.0) else {
            return false;
        };
        st.stats.cancelled += 1;
        st.stats.queued -= 1;
        let head = st.heap.peek().is_some_and(|Reverse((_, id))| *id == key.0);
        // Stale keys are 24 bytes each; compact before they outnumber live entries.
        if st.heap.len() > 64 && st.heap.len() > 2 * st.entries.len() {
            let State { heap, entries, .. } = &mut *st;
            heap.retain(|Reverse((_, id))| entries.contains_key(id));
        }
        drop(st);
        // The payload's memory is released now, not when its instant comes.
        drop(payload);
        if head {
            self.changed.notify(usize::MAX);
        }
        true
    }

    fn close(&self) -> bool {
        let entries = {
            let mut st = self.lock();
            if st.closed {
                return false;
            }
            st.closed = true;
            st.heap.clear();
            st.stats.cancelled += st.stats.queued as u64;
            st.stats.queued = 0;
            std::mem::take(&mut st.entries)
        };
        drop(entries);
        self.changed.notify(usize::MAX);
        true
    }
}

/// Payloads scheduled at wall-clock instants, delivered as a [`Stream`] in time order (the
/// async-utils `Scheduler`, without its bugs).
///
/// - [`schedule(at, payload)`](Scheduler::schedule) returns a [`ScheduleKey`];
///   [`remove(key)`](Scheduler::remove) withdraws the payload (removing twice is fine) and
///   drops it at once.
/// - Payloads come out in time order, equal instants in the order they were scheduled, and
///   never before their instant on the runtime's wall clock.
/// - There is no polling loop: the consumer sleeps toward the earliest instant and is re-armed
///   when an earlier payload is scheduled. As the runtimes only sleep on the monotonic clock,
///   each sleep lasts at most [`max_sleep`](SchedulerBuilder::max_sleep) (default
///   [`DEFAULT_MAX_SLEEP`]) before the wall clock is read again, so wall-clock jumps and
///   suspends are noticed.
/// - [`close`](Scheduler::close) ends the stream at once, waking a waiting consumer, and drops
///   the payloads still pending.
///
/// Producers on other tasks use a [`SchedulerHandle`].
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
/// use jiff::SignedDuration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::Scheduler;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let mut scheduler = Scheduler::with_runtime(rt.clone());
///     let now = rt.wall_now();
///     scheduler.schedule(now + SignedDuration::from_millis(100), "b").unwrap();
///     let x = scheduler.schedule(now + SignedDuration::from_millis(50), "x").unwrap();
///     scheduler.schedule(now + SignedDuration::from_millis(30), "a").unwrap();
///     assert!(scheduler.remove(x));
///
///     assert_eq!(scheduler.next().await, Some("a"));
///     assert_eq!(rt.wall_now(), now + SignedDuration::from_millis(30));
///     assert_eq!(scheduler.next().await, Some("b"));
///     assert_eq!(rt.wall_now(), now + SignedDuration::from_millis(100));
/// });
/// ```
pub struct Scheduler<T, R: Runtime = DefaultRuntime> {
    shared: Arc<Shared<T>>,
    wall: WallSleep<R>,
    listener: Option<EventListener>,
}

/// Configures a [`Scheduler`]: how long it sleeps, at most, between two readings of the wall
/// clock.
///
/// # Examples
///
/// A scheduler that re-reads the wall clock at least every 100 ms delivers at most 100 ms late
/// after the clock jumps forward:
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_timer::{ConfigError, Scheduler};
///
/// let rt = VirtualRuntime::new();
/// let scheduler = Scheduler::<String, _>::builder()
///     .max_sleep(Duration::from_millis(100))
///     .runtime(rt.clone()).build()
///     .unwrap();
/// assert!(scheduler.is_empty());
///
/// let zero = Scheduler::<String, _>::builder().max_sleep(Duration::ZERO).runtime(rt).build();
/// assert_eq!(zero.unwrap_err(), ConfigError::ZeroPeriod);
/// ```
#[must_use = "a builder does nothing until you call `build`"]
pub struct SchedulerBuilder<T, R = DefaultRuntime> {
    max_sleep: Duration,
    rt: Option<R>,
    payload: PhantomData<fn() -> T>,
}

impl<T, R> fmt::Debug for SchedulerBuilder<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerBuilder")
            .field("max_sleep", &self.max_sleep)
            .finish()
    }
}

impl<T, R: Runtime> SchedulerBuilder<T, R> {
    /// The longest monotonic sleep between two readings of the wall clock (default
    /// [`DEFAULT_MAX_SLEEP`]): the bound on how late a payload is delivered after a wall-clock
    /// jump forward.
    pub fn max_sleep(mut self, max_sleep: Duration) -> Self {
        self.max_sleep = max_sleep;
        self
    }

    /// The runtime the scheduler sleeps on (default: the
    /// [current runtime](DefaultRuntime::current) when [`build`](SchedulerBuilder::build) is
    /// called).
    pub fn runtime<R2: Runtime>(self, rt: R2) -> SchedulerBuilder<T, R2> {
        SchedulerBuilder {
            max_sleep: self.max_sleep,
            rt: Some(rt),
            payload: PhantomData,
        }
    }

    /// Builds the scheduler on its [`runtime`](SchedulerBuilder::runtime).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for a zero [`max_sleep`](SchedulerBuilder::max_sleep).
    ///
    /// # Panics
    ///
    /// Without [`runtime`](SchedulerBuilder::runtime), if no runtime is available (see
    /// [`DefaultRuntime::current`]).
    pub fn build(self) -> Result<Scheduler<T, R>, ConfigError> {
        let max_sleep = check_max_sleep(self.max_sleep)?;
        Ok(Scheduler::from_parts(
            runtime_or_current(self.rt),
            max_sleep,
        ))
    }
}

/// A cloneable handle to schedule on, remove from and close a [`Scheduler`] from other tasks.
///
/// # Examples
///
/// A producer task schedules through its handle while the scheduler's owner consumes:
///
/// ```
/// use futures_lite::StreamExt;
/// use jiff::SignedDuration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_timer::Scheduler;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let mut scheduler = Scheduler::with_runtime(rt.clone());
///     let (handle, clock) = (scheduler.handle(), rt.clone());
///     rt.spawn(async move {
///         for n in 1..=3 {
///             handle.schedule(clock.wall_now() + SignedDuration::from_secs(n), n).unwrap();
///         }
///         clock.sleep(std::time::Duration::from_secs(10)).await;
///         handle.close(); // ends the consumer's stream
///     })
///     .detach();
///     let delivered: Vec<i64> = (&mut scheduler).collect().await;
///     assert_eq!(delivered, [1, 2, 3]);
///     assert_eq!(scheduler.stats().completed, 3);
/// });
/// ```
pub struct SchedulerHandle<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for SchedulerHandle<T> {
    fn clone(&self) -> Self {
        SchedulerHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for SchedulerHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerHandle").finish_non_exhaustive()
    }
}

impl<T> SchedulerHandle<T> {
    /// Schedules `payload` at `at`; see [`Scheduler::schedule`].
    ///
    /// # Errors
    ///
    /// [`SchedulerClosed`], with the payload, once the scheduler is closed.
    pub fn schedule(&self, at: Timestamp, payload: T) -> Result<ScheduleKey, SchedulerClosed<T>> {
        self.shared.schedule(at, payload)
    }

    /// Withdraws a pending payload; see [`Scheduler::remove`].
    pub fn remove(&self, key: ScheduleKey) -> bool {
        self.shared.remove(key)
    }

    /// Closes the scheduler; see [`Scheduler::close`].
    pub fn close(&self) -> bool {
        self.shared.close()
    }

    /// Returns `true` once the scheduler is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// The scheduler's counters; see [`Scheduler::stats`].
    #[must_use]
    pub fn stats(&self) -> SchedulerStats {
        self.shared.lock().stats
    }
}

impl<T> Scheduler<T, DefaultRuntime> {
    /// An empty scheduler on the [current runtime](DefaultRuntime::current).
    #[must_use]
    pub fn new() -> Self {
        Scheduler::with_runtime(DefaultRuntime::current())
    }

    /// A builder, to set the longest sleep between two readings of the wall clock (see
    /// [`SchedulerBuilder`]).
    pub fn builder() -> SchedulerBuilder<T> {
        SchedulerBuilder {
            max_sleep: DEFAULT_MAX_SLEEP,
            rt: None,
            payload: PhantomData,
        }
    }
}

impl<T> Default for Scheduler<T, DefaultRuntime> {
    fn default() -> Self {
        Scheduler::new()
    }
}

impl<T, R: Runtime> Scheduler<T, R> {
    /// An empty scheduler on `rt`.
    #[must_use]
    pub fn with_runtime(rt: R) -> Self {
        Scheduler::from_parts(rt, DEFAULT_MAX_SLEEP)
    }

    /// `max_sleep` must have passed [`check_max_sleep`].
    fn from_parts(rt: R, max_sleep: Duration) -> Self {
        Scheduler {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    heap: BinaryHeap::new(),
                    entries: HashMap::new(),
                    next_id: 0,
                    closed: false,
                    stats: SchedulerStats::default(),
                }),
                changed: Event::new(),
            }),
            wall: WallSleep::new(rt, max_sleep),
            listener: None,
        }
    }

    /// A handle for producers on other tasks (see [`SchedulerHandle`]).
    #[must_use]
    pub fn handle(&self) -> SchedulerHandle<T> {
        SchedulerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Schedules `payload` to be delivered at `at` on the wall clock (at once if `at` has
    /// passed). The key identifies it to [`remove`](Scheduler::remove).
    ///
    /// # Errors
    ///
    /// [`SchedulerClosed`], with the payload, once the scheduler is closed.
    pub fn schedule(&self, at: Timestamp, payload: T) -> Result<ScheduleKey, SchedulerClosed<T>> {
        self.shared.schedule(at, payload)
    }

    /// Withdraws a pending payload and drops it at once. Returns `false` if it was already
    /// delivered or removed (removing twice is fine).
    ///
    /// The payload is counted in [`SchedulerStats::cancelled`]. This is not the lifecycle verb
    /// `cancel` (which waits for tasks to end): a scheduler owns no task, and `remove` takes
    /// one entry out of it.
    ///
    /// # Examples
    ///
    /// A reminder withdrawn before it is due is never delivered, and removing it again says so:
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use jiff::SignedDuration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut scheduler = wrangle_timer::Scheduler::with_runtime(rt.clone());
    ///     let now = rt.wall_now();
    ///     let call = scheduler.schedule(now + SignedDuration::from_mins(5), "call Bob").unwrap();
    ///     scheduler.schedule(now + SignedDuration::from_mins(10), "stand-up").unwrap();
    ///     assert!(scheduler.remove(call));
    ///     assert!(!scheduler.remove(call));
    ///     assert_eq!(scheduler.next().await, Some("stand-up"));
    /// });
    /// ```
    pub fn remove(&self, key: ScheduleKey) -> bool {
        self.shared.remove(key)
    }

    /// Closes the scheduler: the stream ends (a waiting consumer is woken), pending payloads
    /// are dropped (counted in [`SchedulerStats::cancelled`]), and scheduling fails from now
    /// on. Returns `true` if this call closed it, `false` if it was already closed.
    ///
    /// # Examples
    ///
    /// Closing wakes a consumer waiting for a payload due in an hour:
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use jiff::SignedDuration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut scheduler = wrangle_timer::Scheduler::with_runtime(rt.clone());
    ///     scheduler.schedule(rt.wall_now() + SignedDuration::from_hours(1), 1).unwrap();
    ///     let (handle, clock) = (scheduler.handle(), rt.clone());
    ///     rt.spawn(async move {
    ///         clock.sleep(std::time::Duration::from_secs(1)).await;
    ///         assert!(handle.close());
    ///         assert!(!handle.close());
    ///     })
    ///     .detach();
    ///     assert_eq!(scheduler.next().await, None);
    ///     assert_eq!(rt.wall_now().as_second(), 946_684_801); // one second in
    /// });
    /// ```
    pub fn close(&self) -> bool {
        self.shared.close()
    }

    /// Returns `true` once the scheduler is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// The number of pending payloads.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.lock().entries.len()
    }

    /// Returns `true` if no payload is pending.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters: payloads submitted, completed (delivered), cancelled (removed or dropped by
    /// closing), queued (see [`SchedulerStats`] for the invariant and an example).
    #[must_use]
    pub fn stats(&self) -> SchedulerStats {
        self.shared.lock().stats
    }

    /// Waits for the next due payload; `None` once the scheduler is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let mut scheduler = wrangle_timer::Scheduler::with_runtime(rt.clone());
    /// let at = rt.wall_now() + jiff::SignedDuration::from_secs(5);
    /// scheduler.schedule(at, "hello").unwrap();
    /// assert_eq!(rt.block_on(scheduler.next_due()), Some("hello"));
    /// assert_eq!(rt.wall_now(), at);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a payload is taken out only when the future completes with it.
    pub fn next_due(&mut self) -> NextDue<'_, T, R> {
        NextDue { scheduler: self }
    }

    /// Polls for the next due payload; `None` once the scheduler is closed. This is what the
    /// [`Stream`] implementation and [`next_due`](Scheduler::next_due) call.
    pub fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        loop {
            let due_at = {
                let mut st = self.shared.lock();
                if st.closed {
                    self.listener = None;
                    self.wall.disarm();
                    return Poll::Ready(None);
                }
                while let Some(Reverse((_, id))) = st.heap.peek() {
                    if st.entries.contains_key(id) {
                        break;
                    }
                    st.heap.pop();
                }
                match st.heap.peek() {
                    Some(&Reverse((at, id))) => {
                        if at <= self.wall.runtime().wall_now() {
                            st.heap.pop();
                            let payload = st.entries.remove(&id).expect("the entry is live");
                            st.stats.completed += 1;
                            st.stats.queued -= 1;
                            self.listener = None;
                            return Poll::Ready(Some(payload));
                        }
                        Some(at)
                    }
                    None => None,
                }
            };
            // Listen before waiting: a change made after the check above notifies it.
            let listener = self
                .listener
                .get_or_insert_with(|| self.shared.changed.listen());
            if Pin::new(listener).poll(cx).is_ready() {
                self.listener = None;
                continue;
            }
            match due_at {
                None => self.wall.disarm(),
                Some(at) => {
                    if self.wall.poll_until(cx, at).is_ready() {
                        continue;
                    }
                }
            }
            return Poll::Pending;
        }
    }
}

impl<T, R: Runtime> fmt::Debug for Scheduler<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("stats", &self.stats())
            .field("max_sleep", &self.wall.max_sleep())
            .finish_non_exhaustive()
    }
}

// Nothing is pinned structurally: the sleep is boxed and the listener is `Unpin`.
impl<T, R: Runtime> Unpin for Scheduler<T, R> {}

impl<T, R: Runtime> Stream for Scheduler<T, R> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_due(cx)
    }
}

/// Terminated once the scheduler is closed: from then on the stream yields `None`, whatever
/// was still scheduled included.
impl<T, R: Runtime> futures_core::stream::FusedStream for Scheduler<T, R> {
    fn is_terminated(&self) -> bool {
        self.shared.lock().closed
    }
}

/// The future of [`Scheduler::next_due`]: the next due payload, or `None` once the scheduler
/// is closed.
///
/// # Examples
///
/// Waiting for the next payload with a deadline, without losing it when the deadline wins:
///
/// ```
/// use std::time::Duration;
/// use futures_lite::FutureExt;
/// use jiff::SignedDuration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let mut scheduler = wrangle_timer::Scheduler::with_runtime(rt.clone());
///     scheduler.schedule(rt.wall_now() + SignedDuration::from_secs(10), "late").unwrap();
///     let give_up = async {
///         rt.sleep(Duration::from_secs(1)).await;
///         None
///     };
///     let next: wrangle_timer::future::NextDue<'_, _, _> = scheduler.next_due();
///     assert_eq!(next.or(give_up).await, None);
///     assert_eq!(scheduler.len(), 1); // still there
///     assert_eq!(scheduler.next_due().await, Some("late"));
/// });
/// ```
///
/// # Cancel safety
///
/// Cancel safe: dropping it loses no payload.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct NextDue<'a, T, R: Runtime = DefaultRuntime> {
    scheduler: &'a mut Scheduler<T, R>,
}

impl<T, R: Runtime> fmt::Debug for NextDue<'_, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextDue").finish_non_exhaustive()
    }
}

impl<T, R: Runtime> Future for NextDue<'_, T, R> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().scheduler.poll_due(cx)
    }
}

//! [`Scheduler`]: payloads due at wall-clock instants, delivered in time order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use event_listener::{Event, EventListener};
use futures_lite::Stream;
use jiff::Timestamp;
use wrangle_rt::{DefaultRuntime, Runtime, Sleep};

use crate::{ConfigError, DEFAULT_MAX_SLEEP};

/// Identifies a scheduled payload, to [`cancel`](Scheduler::cancel) it.
///
/// Tokens are unique within one scheduler.
///
/// # Examples
///
/// ```
/// use wrangle_timer::Scheduler;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let scheduler = Scheduler::with_runtime(rt.clone());
/// let at: jiff::Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
/// let a = scheduler.schedule(at, "a").unwrap();
/// let b = scheduler.schedule(at, "b").unwrap();
/// assert_ne!(a, b);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleToken(u64);

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

/// Counters of a [`Scheduler`].
///
/// # Examples
///
/// ```
/// assert_eq!(wrangle_timer::SchedulerStats::default().pending, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchedulerStats {
    /// Payloads scheduled.
    pub scheduled: u64,
    /// Payloads cancelled before they were due.
    pub cancelled: u64,
    /// Payloads delivered.
    pub delivered: u64,
    /// Payloads waiting.
    pub pending: u64,
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

    fn schedule(&self, at: Timestamp, payload: T) -> Result<ScheduleToken, SchedulerClosed<T>> {
        let mut st = self.lock();
        if st.closed {
            return Err(SchedulerClosed(payload));
        }
        let id = st.next_id;
        st.next_id += 1;
        let earliest = st.heap.peek().is_none_or(|Reverse((first, _))| at < *first);
        st.heap.push(Reverse((at, id)));
        st.entries.insert(id, payload);
        st.stats.scheduled += 1;
        st.stats.pending += 1;
        drop(st);
        if earliest {
            // The consumer sleeps toward the old earliest instant: re-arm it.
            self.changed.notify(usize::MAX);
        }
        Ok(ScheduleToken(id))
    }

    fn cancel(&self, token: ScheduleToken) -> bool {
        let mut st = self.lock();
        let Some(payload) = st.entries.remove(&token.0) else {
            return false;
        };
        st.stats.cancelled += 1;
        st.stats.pending -= 1;
        let head = st
            .heap
            .peek()
            .is_some_and(|Reverse((_, id))| *id == token.0);
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

    fn close(&self) {
        let entries = {
            let mut st = self.lock();
            st.closed = true;
            st.heap.clear();
            st.stats.pending = 0;
            std::mem::take(&mut st.entries)
        };
        drop(entries);
        self.changed.notify(usize::MAX);
    }
}

/// Payloads scheduled at wall-clock instants, delivered as a [`Stream`] in time order (the
/// async-utils `Scheduler`, without its bugs).
///
/// - [`schedule(at, payload)`](Scheduler::schedule) returns a [`ScheduleToken`];
///   [`cancel(token)`](Scheduler::cancel) withdraws it (cancelling twice is fine) and drops the
///   payload at once.
/// - Payloads come out in time order, equal instants in the order they were scheduled, and
///   never before their instant on the runtime's wall clock.
/// - There is no polling loop: the consumer sleeps toward the earliest instant and is re-armed
///   when an earlier payload is scheduled. As the runtimes only sleep on the monotonic clock,
///   each sleep lasts at most [`max_sleep`](Scheduler::set_max_sleep) (default
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
///     scheduler.cancel(x);
///
///     assert_eq!(scheduler.next().await, Some("a"));
///     assert_eq!(rt.wall_now(), now + SignedDuration::from_millis(30));
///     assert_eq!(scheduler.next().await, Some("b"));
///     assert_eq!(rt.wall_now(), now + SignedDuration::from_millis(100));
/// });
/// ```
pub struct Scheduler<T, R: Runtime = DefaultRuntime> {
    shared: Arc<Shared<T>>,
    rt: R,
    max_sleep: Duration,
    sleep: Option<Pin<Box<R::Sleep>>>,
    listener: Option<EventListener>,
}

/// A cloneable handle to schedule on, cancel and close a [`Scheduler`] from other tasks.
///
/// # Examples
///
/// ```
/// use wrangle_timer::Scheduler;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let scheduler = Scheduler::<&str, _>::with_runtime(rt);
/// let handle = scheduler.handle();
/// handle.schedule(jiff::Timestamp::UNIX_EPOCH, "now").unwrap();
/// assert_eq!(scheduler.len(), 1);
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
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let scheduler = wrangle_timer::Scheduler::with_runtime(rt);
    /// let token = scheduler.handle().schedule(jiff::Timestamp::UNIX_EPOCH, 1);
    /// assert!(token.is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// [`SchedulerClosed`], with the payload, once the scheduler is closed.
    pub fn schedule(&self, at: Timestamp, payload: T) -> Result<ScheduleToken, SchedulerClosed<T>> {
        self.shared.schedule(at, payload)
    }

    /// Cancels a payload; see [`Scheduler::cancel`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let handle = wrangle_timer::Scheduler::with_runtime(rt).handle();
    /// let token = handle.schedule(jiff::Timestamp::UNIX_EPOCH, 1).unwrap();
    /// assert!(handle.cancel(token));
    /// assert!(!handle.cancel(token));
    /// ```
    pub fn cancel(&self, token: ScheduleToken) -> bool {
        self.shared.cancel(token)
    }

    /// Closes the scheduler; see [`Scheduler::close`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let scheduler = wrangle_timer::Scheduler::<u8, _>::with_runtime(rt);
    /// scheduler.handle().close();
    /// assert!(scheduler.is_closed());
    /// ```
    pub fn close(&self) {
        self.shared.close();
    }
}

impl<T> Scheduler<T, DefaultRuntime> {
    /// An empty scheduler on the [current runtime](DefaultRuntime::current).
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let scheduler = wrangle_timer::Scheduler::<String>::new();
    ///     assert!(scheduler.is_empty());
    /// });
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Scheduler::with_runtime(DefaultRuntime::current())
    }
}

impl<T> Default for Scheduler<T, DefaultRuntime> {
    fn default() -> Self {
        Scheduler::new()
    }
}

impl<T, R: Runtime> Scheduler<T, R> {
    /// An empty scheduler on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let scheduler = wrangle_timer::Scheduler::<u32, _>::with_runtime(rt);
    /// assert_eq!(scheduler.len(), 0);
    /// ```
    #[must_use]
    pub fn with_runtime(rt: R) -> Self {
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
            rt,
            max_sleep: DEFAULT_MAX_SLEEP,
            sleep: None,
            listener: None,
        }
    }

    /// Sets the longest monotonic sleep between two readings of the wall clock: the bound on
    /// how late a payload is delivered after a wall-clock jump forward.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let mut scheduler = wrangle_timer::Scheduler::<u32, _>::with_runtime(rt);
    /// assert!(scheduler.set_max_sleep(Duration::from_secs(10)).is_ok());
    /// assert!(scheduler.set_max_sleep(Duration::ZERO).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for zero.
    pub fn set_max_sleep(&mut self, max_sleep: Duration) -> Result<(), ConfigError> {
        if max_sleep.is_zero() {
            return Err(ConfigError::ZeroPeriod);
        }
        self.max_sleep = max_sleep;
        Ok(())
    }

    /// A handle for producers on other tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let scheduler = wrangle_timer::Scheduler::<u32, _>::with_runtime(rt);
    /// let handle = scheduler.handle();
    /// # drop(handle);
    /// ```
    #[must_use]
    pub fn handle(&self) -> SchedulerHandle<T> {
        SchedulerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Schedules `payload` to be delivered at `at` on the wall clock (at once if `at` has
    /// passed).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let scheduler = wrangle_timer::Scheduler::with_runtime(rt);
    /// let token = scheduler.schedule("2030-01-01T00:00:00Z".parse().unwrap(), "new year");
    /// assert!(token.is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// [`SchedulerClosed`], with the payload, once the scheduler is closed.
    pub fn schedule(&self, at: Timestamp, payload: T) -> Result<ScheduleToken, SchedulerClosed<T>> {
        self.shared.schedule(at, payload)
    }

    /// Withdraws a pending payload and drops it at once. Returns `false` if it was already
    /// delivered or cancelled (cancelling twice is fine).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let scheduler = wrangle_timer::Scheduler::with_runtime(rt);
    /// let token = scheduler.schedule(jiff::Timestamp::UNIX_EPOCH, 1).unwrap();
    /// assert!(scheduler.cancel(token));
    /// assert!(!scheduler.cancel(token));
    /// assert!(scheduler.is_empty());
    /// ```
    pub fn cancel(&self, token: ScheduleToken) -> bool {
        self.shared.cancel(token)
    }

    /// Closes the scheduler: the stream ends (a waiting consumer is woken), pending payloads
    /// are dropped, and scheduling fails from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let mut scheduler = wrangle_timer::Scheduler::with_runtime(rt.clone());
    /// scheduler.schedule(jiff::Timestamp::UNIX_EPOCH, 1).unwrap();
    /// scheduler.close();
    /// assert_eq!(rt.block_on(scheduler.next()), None);
    /// ```
    pub fn close(&self) {
        self.shared.close();
    }

    /// Returns `true` once the scheduler is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let scheduler = wrangle_timer::Scheduler::<u8, _>::with_runtime(rt);
    /// assert!(!scheduler.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// The number of pending payloads.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let scheduler = wrangle_timer::Scheduler::with_runtime(rt);
    /// scheduler.schedule(jiff::Timestamp::UNIX_EPOCH, ()).unwrap();
    /// assert_eq!(scheduler.len(), 1);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.lock().entries.len()
    }

    /// Returns `true` if no payload is pending.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// assert!(wrangle_timer::Scheduler::<u8, _>::with_runtime(rt).is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters: scheduled, cancelled, delivered, pending.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let scheduler = wrangle_timer::Scheduler::with_runtime(rt);
    /// scheduler.schedule(jiff::Timestamp::UNIX_EPOCH, ()).unwrap();
    /// assert_eq!(scheduler.stats().scheduled, 1);
    /// ```
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

    /// Polls for the next due payload; `None` once the scheduler is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let mut scheduler = wrangle_timer::Scheduler::with_runtime(rt.clone());
    /// scheduler.schedule(jiff::Timestamp::UNIX_EPOCH, 1).unwrap();
    /// let first = rt.block_on(std::future::poll_fn(|cx| scheduler.poll_due(cx)));
    /// assert_eq!(first, Some(1));
    /// ```
    pub fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        loop {
            let wait = {
                let mut st = self.shared.lock();
                if st.closed {
                    self.listener = None;
                    self.sleep = None;
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
                        let now = self.rt.wall_now();
                        if at <= now {
                            st.heap.pop();
                            let payload = st.entries.remove(&id).expect("the entry is live");
                            st.stats.delivered += 1;
                            st.stats.pending -= 1;
                            self.listener = None;
                            return Poll::Ready(Some(payload));
                        }
                        let left = Duration::try_from(at.duration_since(now)).unwrap_or_default();
                        Some(left.min(self.max_sleep))
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
            match wait {
                None => self.sleep = None,
                Some(wait) => {
                    let deadline = self
                        .rt
                        .now()
                        .checked_add(wait)
                        .unwrap_or_else(|| self.rt.now());
                    let sleep = match &mut self.sleep {
                        Some(s) => {
                            s.as_mut().reset(deadline);
                            s
                        }
                        None => self.sleep.insert(Box::pin(self.rt.sleep_until(deadline))),
                    };
                    if sleep.as_mut().poll(cx).is_ready() {
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
            .field("max_sleep", &self.max_sleep)
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

/// The future of [`Scheduler::next_due`].
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

//! The sending and receiving handles of a split [`DualQueue`]: [`QueueSender`] (a `Sink`
//! with the `sink` feature) and [`QueueReceiver`] (a `Stream`), counted so that the queue
//! closes when the last of either kind is dropped.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};

#[cfg(feature = "sink")]
use super::QueueSinkError;
use super::future::Side;
use super::waiters::{Reg, WakeBy};
use super::{
    Closed, DualQueue, Get, GetError, Join, Put, PutError, QueueClosed, QueueStats, Reserve,
    TaskDoneError, TryPutError,
};

/// The sending half of a [`DualQueue`], from [`DualQueue::split`]: puts of every form, and
/// (with the `sink` feature) a `futures_sink::Sink`.
///
/// Clones count: when the last sender is dropped the queue [closes](DualQueue::close), so
/// receivers drain what is left and then see the end (async-channel's `Sender`).
///
/// # Examples
///
/// A thread and a task produce into one bounded queue; the consumer's loop ends when both
/// have dropped their sender:
///
/// ```
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::DualQueue;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let (tx, rx) = DualQueue::bounded(std::num::NonZeroUsize::new(2).unwrap()).split();
///     let thread_tx = tx.clone();
///     let thread = rt.spawn_blocking(move || {
///         for i in 0..5 {
///             thread_tx.put_blocking(i).unwrap();
///         }
///     });
///     let task = rt.spawn(async move {
///         for i in 5..10 {
///             tx.put(i).await.unwrap();
///         }
///     });
///     let mut sum = 0;
///     while let Ok(i) = rx.get().await {
///         sum += i;
///     }
///     assert_eq!(sum, 45);
///     thread.await.unwrap();
///     task.await.unwrap();
/// });
/// ```
pub struct QueueSender<T> {
    queue: DualQueue<T>,
    /// The sink's waiter registration while `poll_ready` waits for a slot.
    sink_key: Option<usize>,
    /// The sink's slot, reserved by `poll_ready` and filled by `start_send`.
    sink_reserved: bool,
    /// `poll_close` was called: this handle no longer counts as a sender.
    sink_closed: bool,
}

/// The receiving half of a [`DualQueue`], from [`DualQueue::split`]: gets of every form,
/// `task_done`/`join`, and a [`Stream`] of the items (a [`FusedStream`]: it ends once the
/// queue is closed and drained).
///
/// Clones count: when the last receiver is dropped the queue [closes](DualQueue::close), so
/// later puts fail and hand their items back (async-channel's `Receiver`). Each clone has its
/// own place among the getters; the stream of a clone is independent of the others', and
/// every item goes to one of them.
///
/// # Examples
///
/// Two workers share the items of one producer as streams:
///
/// ```
/// use futures_lite::StreamExt;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::DualQueue;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let (tx, rx) = DualQueue::unbounded().split();
///     let workers: Vec<_> = (0..2)
///         .map(|_| {
///             let rx = rx.clone();
///             rt.spawn(async move { rx.map(|n: u64| n * n).fold(0, |a, b| a + b).await })
///         })
///         .collect();
///     drop(rx);
///     for n in 1..=10 {
///         tx.put(n).await.unwrap();
///     }
///     drop(tx); // the last sender: the streams end once drained
///     let mut total = 0;
///     for w in workers {
///         total += w.await.unwrap();
///     }
///     assert_eq!(total, 385);
/// });
/// ```
pub struct QueueReceiver<T> {
    queue: DualQueue<T>,
    /// The stream's waiter registration while `poll_next` waits for an item.
    stream_key: Option<usize>,
    /// The stream returned `None`.
    terminated: bool,
}

impl<T> QueueSender<T> {
    pub(super) fn new(queue: DualQueue<T>) -> Self {
        QueueSender {
            queue,
            sink_key: None,
            sink_reserved: false,
            sink_closed: false,
        }
    }

    /// [`DualQueue::put`]: waits for room, then puts `item`.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let (tx, rx) = wrangle_sync::DualQueue::unbounded().split();
    ///     tx.put("job").await.unwrap();
    ///     drop(rx); // the last receiver: the queue closes
    ///     assert_eq!(tx.put("late").await.unwrap_err().0, "late");
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`PutError`] with the item if the queue is closed (for instance by the last receiver's
    /// drop) before there is room.
    ///
    /// # Cancel safety
    ///
    /// As [`DualQueue::put`]: dropping the future drops the item; use
    /// [`reserve`](Self::reserve) to keep it.
    pub fn put(&self, item: T) -> Put<'_, T> {
        self.queue.put(item)
    }

    /// [`DualQueue::try_put`]: puts `item` if there is room; never waits.
    ///
    /// # Errors
    ///
    /// [`TryPutError::Full`] at capacity, [`TryPutError::Closed`] once closed; both hand
    /// the item back.
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        self.queue.try_put(item)
    }

    /// [`DualQueue::force_put`]: puts `item` even when full, evicting an item (returned).
    ///
    /// # Errors
    ///
    /// As [`DualQueue::force_put`].
    pub fn force_put(&self, item: T) -> Result<Option<T>, TryPutError<T>> {
        self.queue.force_put(item)
    }

    /// [`DualQueue::reserve`]: waits for a slot and reserves it for an item given later.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let (tx, rx) = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::MIN).split();
    ///     let permit = tx.reserve().await.unwrap();
    ///     assert!(tx.is_full());
    ///     permit.put(7); // cannot fail, cannot wait
    ///     assert_eq!(rx.try_get(), Ok(7));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`QueueClosed`] if the queue is closed before a slot frees up.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`DualQueue::reserve`].
    pub fn reserve(&self) -> Reserve<'_, T> {
        self.queue.reserve()
    }

    /// [`DualQueue::put_blocking`]: blocks the thread until there is room, then puts `item`.
    ///
    /// # Errors
    ///
    /// [`PutError`] with the item if the queue is closed first.
    pub fn put_blocking(&self, item: T) -> Result<(), PutError<T>> {
        self.queue.put_blocking(item)
    }

    /// [`DualQueue::put_blocking_timeout`]: as [`put_blocking`](Self::put_blocking), giving
    /// up after `timeout` (real time).
    ///
    /// # Errors
    ///
    /// As [`DualQueue::put_blocking_timeout`].
    pub fn put_blocking_timeout(&self, item: T, timeout: Duration) -> Result<(), TryPutError<T>> {
        self.queue.put_blocking_timeout(item, timeout)
    }

    /// [`DualQueue::close`]: closes the queue for every handle; returns whether this call
    /// closed it.
    pub fn close(&self) -> bool {
        self.queue.close()
    }

    /// Whether the queue is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// [`DualQueue::closed`]: waits until the queue is closed (for a sender: typically when
    /// the last receiver is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let (tx, rx) = wrangle_sync::DualQueue::<()>::unbounded().split();
    ///     rt.spawn(async move { drop(rx) }).detach();
    ///     tx.closed().await; // nobody listens any more
    ///     assert!(tx.is_closed());
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: waiting changes nothing.
    pub fn closed(&self) -> Closed<'_, T> {
        self.queue.closed()
    }

    /// Items in the queue now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether the queue holds no item now.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether the queue has no free slot now ([`DualQueue::is_full`]).
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.queue.is_full()
    }

    /// The capacity, if bounded.
    #[must_use]
    pub fn capacity(&self) -> Option<usize> {
        self.queue.capacity()
    }

    /// The live senders of this queue (this one included).
    #[must_use]
    pub fn sender_count(&self) -> usize {
        self.queue.handle_counts().0
    }

    /// The live receivers of this queue.
    #[must_use]
    pub fn receiver_count(&self) -> usize {
        self.queue.handle_counts().1
    }

    /// A snapshot of the queue's counters ([`DualQueue::stats`]).
    #[must_use]
    pub fn stats(&self) -> QueueStats {
        self.queue.stats()
    }

    /// Gives back the sink's reservation and registration, if any.
    fn release_sink(&mut self) {
        if self.sink_reserved {
            self.sink_reserved = false;
            self.queue.release_reserved();
        }
        if self.sink_key.is_some() {
            self.queue.cancel(Side::Put, &mut self.sink_key);
        }
    }
}

impl<T> Clone for QueueSender<T> {
    /// Another sender of the same queue (counted).
    fn clone(&self) -> Self {
        self.queue.add_handle(true);
        QueueSender::new(self.queue.clone())
    }
}

impl<T> Drop for QueueSender<T> {
    fn drop(&mut self) {
        self.release_sink();
        if !self.sink_closed {
            self.queue.drop_handle(true);
        }
    }
}

impl<T> fmt::Debug for QueueSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueSender")
            .field("queue", &self.queue)
            .field("sink_reserved", &self.sink_reserved)
            .finish_non_exhaustive()
    }
}

/// The queue as a [`Sink`](futures_sink::Sink) (feature `sink`): `poll_ready` waits for a
/// slot and reserves it (as [`reserve`](QueueSender::reserve)), `start_send` fills it (so
/// an item handed to the sink is never lost to a full queue), `poll_flush` has nothing to do
/// (items are in the queue once sent), and `poll_close` gives back an unused slot and stops
/// this handle counting as a sender: the queue closes if it was the last, and this handle's
/// sink refuses further items.
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let (mut tx, rx) = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::MIN).split();
///     let consumer = rt.spawn(rx.collect::<Vec<u32>>());
///     // futures-util's `SinkExt::send_all` would do the same; here by hand.
///     for i in 0..3 {
///         std::future::poll_fn(|cx| futures_sink::Sink::poll_ready(std::pin::Pin::new(&mut tx), cx))
///             .await
///             .unwrap();
///         futures_sink::Sink::start_send(std::pin::Pin::new(&mut tx), i).unwrap();
///     }
///     std::future::poll_fn(|cx| futures_sink::Sink::poll_close(std::pin::Pin::new(&mut tx), cx))
///         .await
///         .unwrap();
///     assert_eq!(consumer.await.unwrap(), [0, 1, 2]);
/// });
/// ```
///
/// # Errors
///
/// [`QueueSinkError`]: `Closed` once the queue or this sink is closed (`start_send` hands the
/// item back); `Full` from a `start_send` that finds the queue full with no slot reserved by a
/// ready `poll_ready` first (the `Sink` contract asks for one; with room, the item is put),
/// the item handed back.
#[cfg(feature = "sink")]
#[cfg_attr(docsrs, doc(cfg(feature = "sink")))]
impl<T> futures_sink::Sink<T> for QueueSender<T> {
    type Error = QueueSinkError<T>;

    fn poll_ready(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), QueueSinkError<T>>> {
        let this = &mut *self;
        if this.sink_reserved {
            return Poll::Ready(Ok(()));
        }
        if this.sink_closed {
            return Poll::Ready(Err(QueueSinkError::Closed(None)));
        }
        let reg = Reg::Wait(&mut this.sink_key, WakeBy::Task(cx.waker()));
        match this.queue.reserve_inner(reg) {
            Ok(()) => {
                this.sink_reserved = true;
                Poll::Ready(Ok(()))
            }
            Err(TryPutError::Full(())) => Poll::Pending,
            Err(TryPutError::Closed(())) => Poll::Ready(Err(QueueSinkError::Closed(None))),
        }
    }

    fn start_send(mut self: Pin<&mut Self>, item: T) -> Result<(), QueueSinkError<T>> {
        let this = &mut *self;
        if this.sink_reserved {
            this.sink_reserved = false;
            this.queue.fill_reserved(item);
            return Ok(());
        }
        if this.sink_closed {
            return Err(QueueSinkError::Closed(Some(item)));
        }
        // No slot reserved: the contract was not kept, so put it if there is room, and hand
        // it back if not.
        this.queue.try_put(item).map_err(|e| match e {
            TryPutError::Closed(item) => QueueSinkError::Closed(Some(item)),
            TryPutError::Full(item) => QueueSinkError::Full(item),
        })
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Result<(), QueueSinkError<T>>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Result<(), QueueSinkError<T>>> {
        let this = &mut *self;
        this.release_sink();
        if !this.sink_closed {
            this.sink_closed = true;
            this.queue.drop_handle(true);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T> QueueReceiver<T> {
    pub(super) fn new(queue: DualQueue<T>) -> Self {
        QueueReceiver {
            queue,
            stream_key: None,
            terminated: false,
        }
    }

    /// [`DualQueue::get`]: waits for an item and takes it.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let (tx, rx) = wrangle_sync::DualQueue::unbounded().split();
    ///     tx.try_put(1).unwrap();
    ///     drop(tx); // the last sender: the queue closes, and drains first
    ///     assert_eq!(rx.get().await, Ok(1));
    ///     assert!(rx.get().await.is_err());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`QueueClosed`] once the queue is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`DualQueue::get`].
    pub fn get(&self) -> Get<'_, T> {
        self.queue.get()
    }

    /// [`DualQueue::try_get`]: takes the next item if there is one; never waits.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if the queue is empty; [`GetError::Closed`] if it is also closed.
    pub fn try_get(&self) -> Result<T, GetError> {
        self.queue.try_get()
    }

    /// [`DualQueue::get_blocking`]: blocks the thread until an item comes, and takes it.
    ///
    /// # Errors
    ///
    /// [`QueueClosed`] once the queue is closed and drained.
    pub fn get_blocking(&self) -> Result<T, QueueClosed> {
        self.queue.get_blocking()
    }

    /// [`DualQueue::get_blocking_timeout`]: as [`get_blocking`](Self::get_blocking), giving
    /// up after `timeout` (real time).
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] on timeout; [`GetError::Closed`] once closed and drained.
    pub fn get_blocking_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.queue.get_blocking_timeout(timeout)
    }

    /// [`DualQueue::task_done`]: marks one item taken earlier as processed.
    ///
    /// # Errors
    ///
    /// [`TaskDoneError`] if called more times than items were put.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        self.queue.task_done()
    }

    /// [`DualQueue::join`]: waits until every item put so far has been marked done.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let (tx, rx) = wrangle_sync::DualQueue::unbounded().split();
    ///     tx.try_put("a").unwrap();
    ///     let _a = rx.try_get().unwrap();
    ///     rx.task_done().unwrap();
    ///     rx.join().await; // nothing left unfinished
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: waiting changes nothing.
    pub fn join(&self) -> Join<'_, T> {
        self.queue.join()
    }

    /// [`DualQueue::close`]: closes the queue for every handle; returns whether this call
    /// closed it.
    pub fn close(&self) -> bool {
        self.queue.close()
    }

    /// Whether the queue is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// [`DualQueue::closed`]: waits until the queue is closed (for a receiver: typically
    /// when the last sender is dropped; items may still be left to drain).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let (tx, rx) = wrangle_sync::DualQueue::unbounded().split();
    ///     rt.spawn(async move { tx.put(1).await.unwrap() }).detach();
    ///     rx.closed().await; // the only sender is gone
    ///     assert_eq!(rx.try_get(), Ok(1)); // what it put is still there
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: waiting changes nothing.
    pub fn closed(&self) -> Closed<'_, T> {
        self.queue.closed()
    }

    /// Items in the queue now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether the queue holds no item now.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether the queue has no free slot now ([`DualQueue::is_full`]).
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.queue.is_full()
    }

    /// The capacity, if bounded.
    #[must_use]
    pub fn capacity(&self) -> Option<usize> {
        self.queue.capacity()
    }

    /// The live senders of this queue.
    #[must_use]
    pub fn sender_count(&self) -> usize {
        self.queue.handle_counts().0
    }

    /// The live receivers of this queue (this one included).
    #[must_use]
    pub fn receiver_count(&self) -> usize {
        self.queue.handle_counts().1
    }

    /// A snapshot of the queue's counters ([`DualQueue::stats`]).
    #[must_use]
    pub fn stats(&self) -> QueueStats {
        self.queue.stats()
    }
}

impl<T> Clone for QueueReceiver<T> {
    /// Another receiver of the same queue (counted), with a stream of its own.
    fn clone(&self) -> Self {
        self.queue.add_handle(false);
        QueueReceiver::new(self.queue.clone())
    }
}

impl<T> Drop for QueueReceiver<T> {
    fn drop(&mut self) {
        if self.stream_key.is_some() {
            // A wake-up the stream had received passes to the next getter.
            self.queue.cancel(Side::Get, &mut self.stream_key);
        }
        self.queue.drop_handle(false);
    }
}

impl<T> fmt::Debug for QueueReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueReceiver")
            .field("queue", &self.queue)
            .field("terminated", &self.terminated)
            .finish_non_exhaustive()
    }
}

/// The items, in the queue's order, until the queue is closed and drained. Polling the
/// stream takes an item only when it yields it; a receiver dropped while its stream waited
/// passes a wake-up it had received to the next getter.
impl<T> Stream for QueueReceiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        if this.terminated {
            return Poll::Ready(None);
        }
        let reg = Reg::Wait(&mut this.stream_key, WakeBy::Task(cx.waker()));
        match this.queue.get_inner(reg) {
            Ok(item) => Poll::Ready(Some(item)),
            Err(GetError::Empty) => Poll::Pending,
            Err(GetError::Closed) => {
                this.terminated = true;
                Poll::Ready(None)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Other receivers may take what is queued now: no lower bound but the end's.
        if self.terminated {
            (0, Some(0))
        } else {
            (0, None)
        }
    }
}

impl<T> FusedStream for QueueReceiver<T> {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

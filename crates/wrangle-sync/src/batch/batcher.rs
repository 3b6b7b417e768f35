//! [`Batcher`]: collects items and hands them to an async callback in batches.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::{FutureExt, StreamExt};
use wrangle_rt::{DefaultRuntime, ErrorReporter, JoinHandle, PanicPayload, Runtime, Unhandled};

use super::{BatcherClosed, ChunksTimeout, InvalidBatchConfig};
use crate::loom::{Mutex, lock};

/// Collects items and calls an async callback with batches of at most `max_quantity` items,
/// each sent at the latest `max_wait` after its first item arrived.
///
/// A dispatch task (on the batcher's runtime) forms batches; each batch runs its callback as
/// a task of its own, so callbacks may overlap. A callback that panics, while building its
/// future or while it runs, loses that batch only: the panic is counted as failed and
/// reported (as a [`PanicPayload`]) to the [`error_reporter`](Batcher::error_reporter), by
/// default the process-wide handler, and the batcher goes on. If the dispatch task ever dies
/// (its runtime shut down under it), the death is reported and every later
/// [`put`](Batcher::put) is refused with its item handed back: nothing is accepted that
/// cannot be delivered. `max_quantity` reserves no memory; it may be `usize::MAX` (batches
/// then close on time only).
///
/// Lifecycle (the workspace's verbs): [`close`](Batcher::close) refuses new items and sends
/// what is buffered at once (in batches of at most `max_quantity`), never waiting;
/// [`shutdown`](Batcher::shutdown) closes and then waits for every callback, and
/// [`shutdown_timeout`](Batcher::shutdown_timeout) cancels the callbacks still running at its
/// deadline. [`flush`](Batcher::flush) sends what is buffered now and keeps the batcher
/// open. Dropping the batcher cancels the dispatch task and every callback.
///
/// Timing, with `max_quantity = 3` and `max_wait = 100 ms`:
///
/// ```text
/// put (ms):       0:0  1:0  2:0  3:10  4:50            5:200     close():230
/// callback (ms):  [0 1 2]:0                [3 4]:110             [5]:230
///                 full                     3 + 100               sent at once by close
/// ```
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::Batcher;
///
/// let rt = VirtualRuntime::new();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// rt.block_on(async {
///     let sink = Arc::clone(&seen);
///     let batcher = Batcher::new(
///         NonZeroUsize::new(3).unwrap(),
///         Duration::from_millis(100),
///         move |batch: Vec<u32>| {
///             let sink = Arc::clone(&sink);
///             async move { sink.lock().unwrap().push(batch) }
///         },
///     )
///     .unwrap();
///     for i in 0..7 {
///         batcher.put(i).unwrap();
///     }
///     rt.sleep(Duration::from_millis(150)).await;
///     batcher.shutdown().await;
/// });
/// assert_eq!(*seen.lock().unwrap(), [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
/// ```
pub struct Batcher<T, R: Runtime = DefaultRuntime> {
    tx: async_channel::Sender<T>,
    /// Flush requests to the dispatch task, each with where to say it is done.
    flush_tx: async_channel::Sender<async_channel::Sender<()>>,
    rt: R,
    shared: Arc<Shared>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
}

/// What the dispatch task does next.
enum Next<T> {
    Batch(Option<Vec<T>>),
    Flush(async_channel::Sender<()>),
}

struct Shared {
    callbacks: Mutex<Vec<JoinHandle<()>>>,
    /// Set when the batcher is dropped: a callback spawned after that is cancelled at once
    /// (the callbacks hold this shared state, so a handle left here would never be dropped).
    dropped: AtomicBool,
    submitted: AtomicU64,
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    /// Where callback panics and the death of the dispatch task go.
    reporter: Mutex<ErrorReporter>,
}

/// A snapshot of a [`Batcher`]'s counters.
///
/// Invariant: `started == completed + failed + cancelled + running`, where `running` is the
/// callbacks not yet ended (derived from the four counters, so it holds in every snapshot);
/// after [`shutdown`](Batcher::shutdown) returns, `running == 0`, and every item accepted
/// (`submitted`) was in exactly one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BatcherStats {
    /// Items accepted by `put`.
    pub submitted: u64,
    /// Batches formed: callbacks started.
    pub started: u64,
    /// Callbacks that finished.
    pub completed: u64,
    /// Callbacks that panicked (while building their future, or while it ran); each panic
    /// was reported to the batcher's error reporter.
    pub failed: u64,
    /// Callbacks cancelled by a [`shutdown_timeout`](Batcher::shutdown_timeout) deadline or by
    /// dropping the batcher.
    pub cancelled: u64,
    /// Callbacks started and not yet ended (gauge).
    pub running: usize,
}

impl<T: Send + 'static> Batcher<T> {
    /// A batcher on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let batcher = wrangle_sync::Batcher::new(
    ///         NonZeroUsize::new(10).unwrap(),
    ///         Duration::from_millis(5),
    ///         |batch: Vec<String>| async move { drop(batch) },
    ///     )
    ///     .unwrap();
    ///     batcher.put("hello".to_owned()).unwrap();
    ///     batcher.shutdown().await;
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidBatchConfig::ZeroMaxWait`] if `max_wait` is zero.
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn new<F, Fut>(
        max_quantity: NonZeroUsize,
        max_wait: Duration,
        callback: F,
    ) -> Result<Self, InvalidBatchConfig>
    where
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Batcher::with_runtime(DefaultRuntime::current(), max_quantity, max_wait, callback)
    }
}

impl<T: Send + 'static, R: Runtime> Batcher<T, R> {
    /// A batcher on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    /// use wrangle_sync::{Batcher, InvalidBatchConfig};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let err = Batcher::with_runtime(rt, NonZeroUsize::MIN, Duration::ZERO, |_: Vec<u8>| async {})
    ///     .unwrap_err();
    /// assert_eq!(err, InvalidBatchConfig::ZeroMaxWait);
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidBatchConfig::ZeroMaxWait`] if `max_wait` is zero.
    pub fn with_runtime<F, Fut>(
        rt: R,
        max_quantity: NonZeroUsize,
        max_wait: Duration,
        mut callback: F,
    ) -> Result<Self, InvalidBatchConfig>
    where
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if max_wait.is_zero() {
            return Err(InvalidBatchConfig::ZeroMaxWait);
        }
        let (tx, rx) = async_channel::unbounded();
        let shared = Arc::new(Shared {
            callbacks: Mutex::new(Vec::new()),
            dropped: AtomicBool::new(false),
            submitted: AtomicU64::new(0),
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            reporter: Mutex::new(ErrorReporter::global()),
        });
        // Moved into the task before its first poll: if the task is dropped before its loop
        // ends (its runtime shut down, even before it ever ran), the watch closes the channel,
        // so no later `put` is accepted by a batcher that cannot deliver, and reports it.
        let (flush_tx, flush_rx) = async_channel::unbounded::<async_channel::Sender<()>>();
        let watch = DispatchWatch {
            shared: Arc::clone(&shared),
            rx: rx.clone(),
            flush_rx: flush_rx.clone(),
            finished: false,
        };
        let dispatcher = rt.spawn({
            let (rt, shared) = (rt.clone(), Arc::clone(&shared));
            async move {
                // Moves the whole watch in (a field assignment alone would capture the field).
                let mut watch = watch;
                let mut batches = std::pin::pin!(ChunksTimeout::with_runtime(
                    rt.clone(),
                    rx,
                    max_quantity,
                    max_wait
                ));
                let mut dispatch = |batch: Vec<T>| {
                    shared.started.fetch_add(1, Ordering::Relaxed);
                    // The callback may panic before it returns its future, too.
                    let run = match catch_unwind(AssertUnwindSafe(|| callback(batch))) {
                        Ok(fut) => AssertUnwindSafe(fut).catch_unwind(),
                        Err(payload) => {
                            shared.callback_panicked(payload);
                            return;
                        }
                    };
                    let handle = rt.spawn({
                        let shared = Arc::clone(&shared);
                        async move {
                            match run.await {
                                Ok(()) => {
                                    shared.completed.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(payload) => shared.callback_panicked(payload),
                            }
                        }
                    });
                    let mut callbacks = lock(&shared.callbacks);
                    if shared.dropped.load(Ordering::Acquire) {
                        drop(callbacks);
                        // Dropping the handle cancels the callback.
                        drop(handle);
                        shared.cancelled.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    callbacks.retain(|h| !h.is_finished());
                    callbacks.push(handle);
                };
                loop {
                    // Batches first: a flush request waits for the batch that is ready.
                    let next = futures_lite::future::or(
                        async { Next::Batch(batches.next().await) },
                        async {
                            match flush_rx.recv().await {
                                Ok(reply) => Next::Flush(reply),
                                // The batcher is gone; the batch stream ends too.
                                Err(_) => std::future::pending().await,
                            }
                        },
                    )
                    .await;
                    match next {
                        Next::Batch(Some(batch)) => dispatch(batch),
                        Next::Batch(None) => break,
                        Next::Flush(reply) => {
                            // What was put before the flush: the group being formed, then
                            // the items still in the channel (no more than were there, so a
                            // busy producer cannot keep the flush going).
                            let mut items = batches.as_mut().take_buffered();
                            let rx = ChunksTimeout::get_ref(&batches);
                            for _ in 0..rx.len() {
                                match rx.try_recv() {
                                    Ok(item) => items.push(item),
                                    Err(_) => break,
                                }
                            }
                            while !items.is_empty() {
                                let rest = if items.len() > max_quantity.get() {
                                    items.split_off(max_quantity.get())
                                } else {
                                    Vec::new()
                                };
                                dispatch(std::mem::replace(&mut items, rest));
                            }
                            let _ = reply.try_send(());
                        }
                    }
                }
                watch.finished = true;
            }
        });
        Ok(Batcher {
            tx,
            flush_tx,
            rt,
            shared,
            dispatcher: Mutex::new(Some(dispatcher)),
        })
    }

    /// Sends what nobody can receive to `reporter` instead of the process-wide handler: a
    /// callback's panic (as a [`PanicPayload`]), and the death of the dispatch task (its
    /// runtime shut down under it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use wrangle_rt::{ErrorReporter, PanicPayload, Unhandled};
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let panics = Arc::new(Mutex::new(Vec::new()));
    ///     let sink = Arc::clone(&panics);
    ///     let reporter = ErrorReporter::new(move |u: Unhandled| {
    ///         let message = u.error().downcast_ref::<PanicPayload>().and_then(|p| p.message());
    ///         sink.lock().unwrap().push(message.map(str::to_owned));
    ///     });
    ///     let batcher = wrangle_sync::Batcher::new(
    ///         NonZeroUsize::MIN,
    ///         Duration::from_millis(1),
    ///         |batch: Vec<u8>| {
    ///             assert!(batch[0] < 10, "out of range");
    ///             async {}
    ///         },
    ///     )
    ///     .unwrap()
    ///     .error_reporter(reporter);
    ///     batcher.put(42).unwrap();
    ///     batcher.put(1).unwrap();
    ///     let stats = batcher.shutdown().await;
    ///     assert_eq!((stats.completed, stats.failed), (1, 1));
    ///     assert_eq!(*panics.lock().unwrap(), [Some("out of range".to_owned())]);
    /// });
    /// ```
    #[must_use]
    pub fn error_reporter(self, reporter: ErrorReporter) -> Self {
        *lock(&self.shared.reporter) = reporter;
        self
    }

    /// Adds an item to the current batch; never waits.
    ///
    /// # Errors
    ///
    /// [`BatcherClosed`] with the item, once [`close`](Self::close) (or a shutdown) was
    /// called, or once the dispatch task has died (its runtime shut down; reported to the
    /// [`error_reporter`](Self::error_reporter)).
    pub fn put(&self, item: T) -> Result<(), BatcherClosed<T>> {
        match self.tx.try_send(item) {
            Ok(()) => {
                self.shared.submitted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(BatcherClosed(e.into_inner())),
        }
    }

    /// Sends what is buffered now, without waiting for `max_wait` (in batches of at most
    /// `max_quantity`), and resolves once those batches have been handed to their callbacks
    /// (not when the callbacks finish). The batcher stays open; items put after the call go
    /// into the next batch as usual.
    ///
    /// ```text
    /// put (ms):       1:0  2:0               flush():40    3:50
    /// callback (ms):                          [1 2]:40                  [3]:150
    ///                                         flushed                   3 + max_wait
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// rt.block_on(async {
    ///     let batcher = wrangle_sync::Batcher::new(NonZeroUsize::new(100).unwrap(), Duration::from_secs(60), {
    ///         let (seen, rt) = (Arc::clone(&seen), rt.clone());
    ///         move |batch: Vec<&str>| {
    ///             seen.lock().unwrap().push((rt.now() - start, batch));
    ///             async {}
    ///         }
    ///     })
    ///     .unwrap();
    ///     batcher.put("a").unwrap();
    ///     batcher.put("b").unwrap();
    ///     batcher.flush().await; // a checkpoint: do not wait a minute for "a" and "b"
    ///     batcher.put("c").unwrap();
    ///     batcher.shutdown().await;
    /// });
    /// let seen = seen.lock().unwrap();
    /// assert_eq!(*seen, [(Duration::ZERO, vec!["a", "b"]), (Duration::ZERO, vec!["c"])]);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The flush is requested on the first poll and happens whether or not the future is
    /// awaited to the end; dropping it only stops the waiting. On a closed batcher it
    /// resolves at once (what was buffered is already on its way).
    pub fn flush(&self) -> Flush<'_> {
        let fut = async move {
            let (reply_tx, reply_rx) = async_channel::bounded(1);
            if self.flush_tx.try_send(reply_tx).is_ok() {
                // An error: the dispatch task ended (closed and drained) or died.
                let _ = reply_rx.recv().await;
            }
        };
        Flush {
            inner: Box::pin(fut),
        }
    }

    /// Stops accepting items: later [`put`](Self::put)s are refused with their item, and what
    /// is buffered is sent at once (in batches of at most `max_quantity`). Never waits (the
    /// callbacks run on; [`shutdown`](Self::shutdown) waits for them). Returns whether this
    /// call closed the batcher.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let batcher = wrangle_sync::Batcher::new(
    ///         NonZeroUsize::new(10).unwrap(),
    ///         Duration::from_secs(60),
    ///         |_: Vec<u8>| async {},
    ///     )
    ///     .unwrap();
    ///     batcher.put(1).unwrap();
    ///     assert!(batcher.close()); // item 1 leaves now, not in 60 s
    ///     assert!(!batcher.close());
    ///     assert_eq!(batcher.put(2).unwrap_err().0, 2);
    ///     let stats = batcher.shutdown().await; // waits for the callback
    ///     assert_eq!((stats.submitted, stats.started, stats.completed), (1, 1, 1));
    /// });
    /// ```
    pub fn close(&self) -> bool {
        self.tx.close()
    }

    /// Whether [`close`](Self::close) (or a shutdown) was called, or the dispatch task died:
    /// `put` refuses items.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Closes the batcher (see [`close`](Self::close): what is buffered is sent at once, in
    /// batches of at most `max_quantity`) and waits until every callback has finished.
    /// Returns the final counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let batcher = wrangle_sync::Batcher::new(
    ///         NonZeroUsize::new(2).unwrap(),
    ///         Duration::from_secs(60),
    ///         |_: Vec<u8>| async {},
    ///     )
    ///     .unwrap();
    ///     for i in 0..5 {
    ///         batcher.put(i).unwrap();
    ///     }
    ///     let stats = batcher.shutdown().await;
    ///     assert_eq!((stats.started, stats.completed, stats.running), (3, 3, 0));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Once polled, the batcher is closed whether or not the future completes; dropping it
    /// early only stops the waiting, and the callbacks go on (until the batcher is dropped).
    pub fn shutdown(&self) -> Shutdown<'_> {
        self.shutdown_inner(None)
    }

    /// [`shutdown`](Self::shutdown), but waits at most `timeout` for the callbacks; the ones
    /// still running then are cancelled (counted in [`BatcherStats::cancelled`]), and waited
    /// for until they are gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    /// use wrangle_rt::Runtime;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let rt = wrangle_rt::DefaultRuntime::current();
    ///     let batcher = wrangle_sync::Batcher::new(NonZeroUsize::MIN, Duration::from_secs(1), {
    ///         let rt = rt.clone();
    ///         move |_: Vec<u8>| {
    ///             let rt = rt.clone();
    ///             async move { rt.sleep(Duration::from_secs(3600)).await }
    ///         }
    ///     })
    ///     .unwrap();
    ///     batcher.put(1).unwrap();
    ///     let stats = batcher.shutdown_timeout(Duration::from_secs(1)).await;
    ///     assert_eq!((stats.cancelled, stats.running), (1, 0));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As [`shutdown`](Self::shutdown).
    pub fn shutdown_timeout(&self, timeout: Duration) -> Shutdown<'_> {
        self.shutdown_inner(Some(timeout))
    }

    fn shutdown_inner(&self, finalize: Option<Duration>) -> Shutdown<'_> {
        let fut = async move {
            self.tx.close();
            // The callback being waited for lives here, so a timeout can still cancel it; if
            // this future is dropped first, it goes back to the list and runs on.
            let mut current = Held::new(|h| lock(&self.shared.callbacks).push(h));
            let work = async {
                let mut dispatcher = Held::new(|h| *lock(&self.dispatcher) = Some(h));
                dispatcher.handle = lock(&self.dispatcher).take();
                if let Some(d) = dispatcher.handle.as_mut() {
                    let _ = d.await;
                }
                loop {
                    current.handle = lock(&self.shared.callbacks).pop();
                    match current.handle.as_mut() {
                        Some(h) => {
                            let _ = h.await;
                        }
                        None => break,
                    }
                }
            };
            match finalize {
                None => work.await,
                Some(d) => {
                    if self.rt.timeout(d, work).await.is_err() {
                        // The rest is cancelled: batches not yet formed with the dispatch task,
                        // then every callback still running.
                        let dispatcher = lock(&self.dispatcher).take();
                        if let Some(h) = dispatcher {
                            let _ = h.cancel().await;
                        }
                        let mut left = std::mem::take(&mut *lock(&self.shared.callbacks));
                        left.extend(current.handle.take());
                        for h in left {
                            if h.cancel().await.is_err() {
                                self.shared.cancelled.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            }
            self.stats()
        };
        Shutdown {
            inner: Box::pin(fut),
        }
    }

    /// A snapshot of the counters (see [`BatcherStats`] for the invariant).
    #[must_use]
    pub fn stats(&self) -> BatcherStats {
        let s = &self.shared;
        // The ends are read before the starts: a callback ending between the two reads is
        // then counted as running, never as ended and not started.
        let cancelled = s.cancelled.load(Ordering::Acquire);
        let failed = s.failed.load(Ordering::Acquire);
        let completed = s.completed.load(Ordering::Acquire);
        let started = s.started.load(Ordering::Acquire);
        let ended = completed + failed + cancelled;
        let running = usize::try_from(started.saturating_sub(ended)).unwrap_or(usize::MAX);
        BatcherStats {
            submitted: s.submitted.load(Ordering::Relaxed),
            started: started.max(ended),
            completed,
            failed,
            cancelled,
            running,
        }
    }
}

impl Shared {
    /// A callback panicked, building its future or running it: counted and reported; the
    /// batch it held is gone with it, the batcher goes on.
    fn callback_panicked(&self, payload: Box<dyn std::any::Any + Send>) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let reporter = lock(&self.reporter).clone();
        reporter.report(Unhandled::new(
            "wrangle_sync::Batcher callback",
            PanicPayload::new(payload),
        ));
    }
}

/// A task handle taken out of the batcher to be awaited by a shutdown. Dropped unfinished (the
/// shutdown future dropped while waiting), it is handed back to `put_back` instead of being
/// dropped, which would cancel the task.
struct Held<F: FnMut(JoinHandle<()>)> {
    handle: Option<JoinHandle<()>>,
    put_back: F,
}

impl<F: FnMut(JoinHandle<()>)> Held<F> {
    fn new(put_back: F) -> Self {
        Held {
            handle: None,
            put_back,
        }
    }
}

impl<F: FnMut(JoinHandle<()>)> Drop for Held<F> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take()
            && !h.is_finished()
        {
            (self.put_back)(h);
        }
    }
}

/// Lives in the dispatch task; dropped before the task's loop finished, the task died.
struct DispatchWatch<T> {
    shared: Arc<Shared>,
    rx: async_channel::Receiver<T>,
    /// Flush requests left when the task ends are answered (their reply senders dropped), and
    /// later ones refused, so no `flush` waits for a task that is gone.
    flush_rx: async_channel::Receiver<async_channel::Sender<()>>,
    finished: bool,
}

impl<T> Drop for DispatchWatch<T> {
    fn drop(&mut self) {
        self.flush_rx.close();
        while self.flush_rx.try_recv().is_ok() {}
        if self.finished {
            return;
        }
        // Refuse every later `put` (the item is handed back to its producer).
        self.rx.close();
        if self.shared.dropped.load(Ordering::Acquire) {
            // Dropping the batcher cancels this task: nothing went wrong.
            return;
        }
        let reporter = lock(&self.shared.reporter).clone();
        reporter.report(Unhandled::new(
            "wrangle_sync::Batcher",
            format!(
                "the batcher's dispatch task ended before the batcher was closed (its \
                 runtime shut down); {} queued item(s) are dropped and every later put is \
                 refused",
                self.rx.len()
            ),
        ));
    }
}

impl<T, R: Runtime> Drop for Batcher<T, R> {
    fn drop(&mut self) {
        // Dropping the handles cancels the dispatch task and the callbacks. The flag is set
        // under the list's lock, so the dispatcher cannot add a handle after the list is taken.
        {
            let _callbacks = lock(&self.shared.callbacks);
            self.shared.dropped.store(true, Ordering::Release);
        }
        lock(&self.dispatcher).take();
        let left = std::mem::take(&mut *lock(&self.shared.callbacks));
        let running = left.iter().filter(|h| !h.is_finished()).count();
        self.shared
            .cancelled
            .fetch_add(running as u64, Ordering::Relaxed);
    }
}

impl<T, R: Runtime> fmt::Debug for Batcher<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batcher")
            .field("closed", &self.tx.is_closed())
            .field("queued", &self.tx.len())
            .field("runtime", &self.rt.name())
            .finish()
    }
}

/// The future of [`Batcher::shutdown`] and [`Batcher::shutdown_timeout`]: the final
/// [`BatcherStats`].
///
/// # Cancel safety
///
/// The batcher is closed on the first poll; dropping this future only stops waiting.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Shutdown<'a> {
    inner: Pin<Box<dyn Future<Output = BatcherStats> + Send + 'a>>,
}

impl Future for Shutdown<'_> {
    type Output = BatcherStats;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BatcherStats> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Shutdown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown").finish_non_exhaustive()
    }
}

/// The future of [`Batcher::flush`].
///
/// # Cancel safety
///
/// The flush is requested on the first poll; dropping this future only stops waiting.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Flush<'a> {
    inner: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
}

impl Future for Flush<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Flush<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flush").finish_non_exhaustive()
    }
}

//! [`Batcher`]: collects items and hands them to an async callback in batches.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::{FutureExt, StreamExt};
use wrangle_rt::{DefaultRuntime, JoinHandle, Runtime, Unhandled, report_unhandled};

use crate::sync::{Mutex, lock};
use crate::{ChunksTimeout, InvalidBatchConfig, PutError};

/// Collects items and calls an async callback with batches of at most `max_quantity` items,
/// each sent at the latest `max_wait` after its first item arrived.
///
/// A dispatch task (on the batcher's runtime) forms batches; each batch runs its callback as
/// a task of its own, so callbacks may overlap. A callback that panics is reported to the
/// process-wide error handler ([`report_unhandled`]) and counted as failed.
/// [`stop`](Batcher::stop) refuses new items, sends what is left at once in batches of at most
/// `max_quantity`, and waits for every callback, optionally only until a deadline after which
/// the rest is cancelled. Dropping the batcher cancels the dispatch task and every callback.
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
///     batcher.stop().await;
/// });
/// assert_eq!(*seen.lock().unwrap(), [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
/// ```
pub struct Batcher<T, R: Runtime = DefaultRuntime> {
    tx: async_channel::Sender<T>,
    rt: R,
    shared: Arc<Shared>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    callbacks: Mutex<Vec<JoinHandle<()>>>,
    /// Set when the batcher is dropped: a callback spawned after that is cancelled at once
    /// (the callbacks hold this shared state, so a handle left here would never be dropped).
    dropped: AtomicBool,
    put: AtomicU64,
    batches: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
}

/// A snapshot of a batcher's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BatcherStats {
    /// Items accepted by `put`.
    pub put: u64,
    /// Batches formed (callbacks started).
    pub batches: u64,
    /// Callbacks that finished.
    pub completed: u64,
    /// Callbacks that panicked.
    pub failed: u64,
    /// Callbacks cancelled by a finalize deadline or by dropping the batcher.
    pub cancelled: u64,
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
    ///     batcher.stop().await;
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
            put: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
        });
        let dispatcher = rt.spawn({
            let (rt, shared) = (rt.clone(), Arc::clone(&shared));
            async move {
                let mut batches =
                    std::pin::pin!(ChunksTimeout::new(rx, max_quantity, max_wait, rt.clone()));
                while let Some(batch) = batches.next().await {
                    shared.batches.fetch_add(1, Ordering::Relaxed);
                    let run = AssertUnwindSafe(callback(batch)).catch_unwind();
                    let handle = rt.spawn({
                        let shared = Arc::clone(&shared);
                        async move {
                            match run.await {
                                Ok(()) => shared.completed.fetch_add(1, Ordering::Relaxed),
                                Err(payload) => {
                                    report_unhandled(Unhandled::new(
                                        "wrangle_sync::Batcher callback",
                                        CallbackPanicked::new(payload.as_ref()),
                                    ));
                                    shared.failed.fetch_add(1, Ordering::Relaxed)
                                }
                            };
                        }
                    });
                    let mut callbacks = lock(&shared.callbacks);
                    if shared.dropped.load(Ordering::Acquire) {
                        drop(callbacks);
                        // Dropping the handle cancels the callback.
                        drop(handle);
                        shared.cancelled.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    callbacks.retain(|h| !h.is_finished());
                    callbacks.push(handle);
                }
            }
        });
        Ok(Batcher {
            tx,
            rt,
            shared,
            dispatcher: Mutex::new(Some(dispatcher)),
        })
    }

    /// Adds an item to the current batch; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let batcher = wrangle_sync::Batcher::new(
    ///         NonZeroUsize::MIN,
    ///         Duration::from_millis(1),
    ///         |_: Vec<u8>| async {},
    ///     )
    ///     .unwrap();
    ///     batcher.put(1).unwrap();
    ///     batcher.stop().await;
    ///     assert_eq!(batcher.put(2).unwrap_err().0, 2);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`PutError`] with the item, once [`stop`](Self::stop) was called.
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        match self.tx.try_send(item) {
            Ok(()) => {
                self.shared.put.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(PutError(e.into_inner())),
        }
    }

    /// Whether [`stop`](Self::stop) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let batcher = wrangle_sync::Batcher::new(
    ///         NonZeroUsize::MIN,
    ///         Duration::from_millis(1),
    ///         |_: Vec<u8>| async {},
    ///     )
    ///     .unwrap();
    ///     assert!(!batcher.is_stopped());
    /// });
    /// ```
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        self.tx.is_closed()
    }

    /// Stops accepting items, sends what is buffered at once (in batches of at most
    /// `max_quantity`), and waits until every callback has finished. Returns the counters.
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
    ///     let stats = batcher.stop().await;
    ///     assert_eq!((stats.batches, stats.completed), (3, 3));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Once polled, the batcher is stopped whether or not the future completes; dropping it
    /// early only stops the waiting, and the callbacks go on (until the batcher is dropped).
    pub fn stop(&self) -> Stop<'_> {
        self.stop_inner(None)
    }

    /// [`stop`](Self::stop), but waits at most `finalize` for the callbacks; the ones still
    /// running then are cancelled (counted in [`BatcherStats::cancelled`]).
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
    ///     let stats = batcher.stop_with_deadline(Duration::from_secs(1)).await;
    ///     assert_eq!(stats.cancelled, 1);
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As [`stop`](Self::stop).
    pub fn stop_with_deadline(&self, finalize: Duration) -> Stop<'_> {
        self.stop_inner(Some(finalize))
    }

    fn stop_inner(&self, finalize: Option<Duration>) -> Stop<'_> {
        let fut = async move {
            self.tx.close();
            // The callback being waited for lives here, so a timeout can still cancel it.
            let mut current: Option<JoinHandle<()>> = None;
            let work = async {
                let dispatcher = lock(&self.dispatcher).take();
                if let Some(d) = dispatcher {
                    let _ = d.await;
                }
                loop {
                    current = lock(&self.shared.callbacks).pop();
                    match current.as_mut() {
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
                        let mut left = std::mem::take(&mut *lock(&self.shared.callbacks));
                        left.extend(current.take());
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
        Stop {
            inner: Box::pin(fut),
        }
    }

    /// A snapshot of the counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let batcher = wrangle_sync::Batcher::new(
    ///         NonZeroUsize::MIN,
    ///         Duration::from_millis(1),
    ///         |_: Vec<u8>| async {},
    ///     )
    ///     .unwrap();
    ///     batcher.put(1).unwrap();
    ///     assert_eq!(batcher.stats().put, 1);
    /// });
    /// ```
    #[must_use]
    pub fn stats(&self) -> BatcherStats {
        let s = &self.shared;
        BatcherStats {
            put: s.put.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            completed: s.completed.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            cancelled: s.cancelled.load(Ordering::Relaxed),
        }
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
            .field("stopped", &self.tx.is_closed())
            .field("queued", &self.tx.len())
            .field("runtime", &self.rt.name())
            .finish()
    }
}

/// The future of [`Batcher::stop`] and [`Batcher::stop_with_deadline`].
///
/// # Cancel safety
///
/// The batcher is stopped on the first poll; dropping this future only stops waiting.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Stop<'a> {
    inner: Pin<Box<dyn Future<Output = BatcherStats> + Send + 'a>>,
}

impl Future for Stop<'_> {
    type Output = BatcherStats;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BatcherStats> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Stop<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stop").finish_non_exhaustive()
    }
}

/// What the error handler receives when a batch callback panics.
#[derive(Debug)]
struct CallbackPanicked {
    message: Option<String>,
}

impl CallbackPanicked {
    fn new(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        CallbackPanicked { message }
    }
}

impl fmt::Display for CallbackPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "batch callback panicked: {m}"),
            None => f.write_str("batch callback panicked"),
        }
    }
}

impl std::error::Error for CallbackPanicked {}

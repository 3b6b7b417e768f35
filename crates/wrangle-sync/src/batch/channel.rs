//! [`batch_channel`]: the stream form of the batcher.

use std::fmt;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::Stream;
use pin_project::pin_project;
use wrangle_rt::{DefaultRuntime, Runtime};

use super::{BatcherClosed, ChunksTimeout, InvalidBatchConfig};

/// A batcher whose batches are read as a [`Stream`] instead of handed to a callback.
///
/// Items put into the [`BatchSender`] come out of [`Batches`] in `Vec`s of at most
/// `max_quantity`, each at the latest `max_wait` after its first item arrived (the
/// [`ChunksTimeout`] rules). [`BatchSender::close`] (or dropping every sender) ends the
/// stream after what is buffered, which comes out at once.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::time::Duration;
/// use futures_lite::StreamExt;
/// use wrangle_rt::VirtualRuntime;
///
/// VirtualRuntime::new().block_on(async {
///     let (tx, batches) =
///         wrangle_sync::stream::batch_channel(NonZeroUsize::new(3).unwrap(), Duration::from_millis(100))
///             .unwrap();
///     for i in 0..7 {
///         tx.put(i).unwrap();
///     }
///     tx.close();
///     let all: Vec<Vec<u32>> = batches.collect().await;
///     assert_eq!(all, [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
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
pub fn batch_channel<T>(
    max_quantity: NonZeroUsize,
    max_wait: Duration,
) -> Result<(BatchSender<T>, Batches<T>), InvalidBatchConfig> {
    batch_channel_with_runtime(DefaultRuntime::current(), max_quantity, max_wait)
}

/// [`batch_channel`] timing on `rt`.
///
/// # Errors
///
/// [`InvalidBatchConfig::ZeroMaxWait`] if `max_wait` is zero.
pub fn batch_channel_with_runtime<T, R: Runtime>(
    rt: R,
    max_quantity: NonZeroUsize,
    max_wait: Duration,
) -> Result<(BatchSender<T>, Batches<T, R>), InvalidBatchConfig> {
    if max_wait.is_zero() {
        return Err(InvalidBatchConfig::ZeroMaxWait);
    }
    let (tx, rx) = async_channel::unbounded();
    Ok((
        BatchSender { tx },
        Batches {
            inner: ChunksTimeout::with_runtime(rt, rx, max_quantity, max_wait),
        },
    ))
}

/// The sending half of [`batch_channel`]; cheap to clone, usable from threads and tasks.
pub struct BatchSender<T> {
    tx: async_channel::Sender<T>,
}

impl<T> BatchSender<T> {
    /// Adds an item to the current batch; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let (tx, _batches) =
    ///     wrangle_sync::stream::batch_channel_with_runtime(rt, NonZeroUsize::MIN, Duration::from_millis(1))
    ///         .unwrap();
    /// tx.put("a").unwrap();
    /// tx.close();
    /// assert_eq!(tx.put("b").unwrap_err().0, "b");
    /// ```
    ///
    /// # Errors
    ///
    /// [`BatcherClosed`] with the item after [`close`](Self::close), or once the
    /// [`Batches`] stream is dropped.
    pub fn put(&self, item: T) -> Result<(), BatcherClosed<T>> {
        self.tx
            .try_send(item)
            .map_err(|e| BatcherClosed(e.into_inner()))
    }

    /// Stops accepting items, for every sender; the stream ends after what is buffered, which
    /// comes out at once. Never waits; returns whether this call closed the channel.
    pub fn close(&self) -> bool {
        self.tx.close()
    }

    /// Whether the channel is closed: by [`close`](Self::close), or because the [`Batches`]
    /// stream was dropped.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// With the `sink` feature, a sender is a [`Sink`](futures_sink::Sink): code written for sinks
/// (`SinkExt::send`, `StreamExt::forward` of futures-util) feeds a batch channel.
///
/// - `poll_ready` is always ready: the channel is unbounded and [`put`](BatchSender::put)
///   never waits.
/// - `start_send` is `put`: after a close it fails with [`BatcherClosed`], the item handed
///   back.
/// - `poll_flush` has nothing to do: a sent item is in the channel already, and comes out in
///   a batch by the [`ChunksTimeout`] rules (at the latest `max_wait` later).
/// - `poll_close` is [`close`](BatchSender::close): the channel closes **for every sender**
///   (as futures' `mpsc::Sender::close_channel`), and the stream ends after what is buffered.
///
/// # Examples
///
/// Feeding a channel through the `Sink` calls, by hand (futures-util's `SinkExt` does the
/// same):
///
/// ```
/// use std::future::poll_fn;
/// use std::num::NonZeroUsize;
/// use std::pin::Pin;
/// use std::time::Duration;
/// use futures_lite::StreamExt;
/// use futures_sink::Sink;
/// use wrangle_rt::VirtualRuntime;
///
/// VirtualRuntime::new().block_on(async {
///     let (mut tx, batches) =
///         wrangle_sync::stream::batch_channel(NonZeroUsize::new(2).unwrap(), Duration::from_millis(10))
///             .unwrap();
///     for i in 0..3 {
///         poll_fn(|cx| Pin::new(&mut tx).poll_ready(cx)).await.unwrap();
///         Pin::new(&mut tx).start_send(i).unwrap();
///     }
///     poll_fn(|cx| Pin::new(&mut tx).poll_close(cx)).await.unwrap();
///     let all: Vec<Vec<u32>> = batches.collect().await;
///     assert_eq!(all, [vec![0, 1], vec![2]]);
///     // Closed: the item comes back.
///     assert_eq!(Pin::new(&mut tx).start_send(3).unwrap_err().0, 3);
/// });
/// ```
#[cfg(feature = "sink")]
#[cfg_attr(docsrs, doc(cfg(feature = "sink")))]
impl<T> futures_sink::Sink<T> for BatchSender<T> {
    type Error = BatcherClosed<T>;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        self.put(item)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

impl<T> Clone for BatchSender<T> {
    fn clone(&self) -> Self {
        BatchSender {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for BatchSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchSender")
            .field("queued", &self.tx.len())
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

/// The stream of batches of [`batch_channel`].
#[pin_project]
#[must_use = "streams do nothing unless polled"]
pub struct Batches<T, R: Runtime = DefaultRuntime> {
    #[pin]
    inner: ChunksTimeout<async_channel::Receiver<T>, R>,
}

impl<T, R: Runtime> Stream for Batches<T, R> {
    type Item = Vec<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Vec<T>>> {
        self.project().inner.poll_next(cx)
    }
}

/// Terminated once the channel is closed and the last batch was yielded: the next poll
/// returns `None`.
impl<T, R: Runtime> futures_core::stream::FusedStream for Batches<T, R> {
    fn is_terminated(&self) -> bool {
        futures_core::stream::FusedStream::is_terminated(&self.inner)
    }
}

impl<T, R: Runtime> fmt::Debug for Batches<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batches")
            .field("buffered", &self.inner.buffered().len())
            .finish_non_exhaustive()
    }
}

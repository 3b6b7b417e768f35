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

impl<T, R: Runtime> fmt::Debug for Batches<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batches")
            .field("buffered", &self.inner.buffered().len())
            .finish_non_exhaustive()
    }
}

//! The errors of [`DualQueue`](crate::DualQueue).

use std::fmt;

/// Why a put that does not wait for room without end failed
/// ([`try_put`](crate::DualQueue::try_put),
/// [`put_blocking_timeout`](crate::DualQueue::put_blocking_timeout)); the item is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryPutError<T> {
    /// The queue is at capacity (for `put_blocking_timeout`: still, when the timeout passed).
    Full(T),
    /// The queue is closed.
    Closed(T),
}

impl<T> TryPutError<T> {
    /// The item that was not put.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::MIN);
    /// q.try_put(1).unwrap();
    /// assert_eq!(q.try_put(2).unwrap_err().into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(t) | TryPutError::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("queue full"),
            TryPutError::Closed(_) => f.write_str("queue closed"),
        }
    }
}

impl<T> std::error::Error for TryPutError<T> {}

/// The queue was closed before the awaited [`put`](crate::DualQueue::put) could deliver its
/// item: the item is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PutError<T>(pub T);

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PutError(..)")
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue closed")
    }
}

impl<T> std::error::Error for PutError<T> {}

/// Why a [`QueueSender`](crate::stream::QueueSender)'s `Sink` refused (feature `sink`). An
/// item handed to `start_send` and not put is handed back.
///
/// # Examples
///
/// ```
/// use std::pin::Pin;
/// use futures_sink::Sink;
/// use wrangle_sync::stream::QueueSinkError;
///
/// let (mut tx, _rx) = wrangle_sync::DualQueue::bounded(std::num::NonZeroUsize::MIN).split();
/// tx.try_put(1).unwrap();
/// // Full, and no slot reserved by a ready `poll_ready` first: refused, not lost.
/// let refused = Pin::new(&mut tx).start_send(2).unwrap_err();
/// assert!(matches!(refused, QueueSinkError::Full(2)));
/// assert_eq!(refused.into_inner(), Some(2));
/// ```
#[cfg(feature = "sink")]
#[cfg_attr(docsrs, doc(cfg(feature = "sink")))]
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueSinkError<T> {
    /// The queue is closed, or this sender's sink was closed with `poll_close`: `Some(item)`
    /// when `start_send` refused one, `None` from `poll_ready`.
    Closed(Option<T>),
    /// `start_send` found the queue full with no slot reserved for it: the `Sink` contract
    /// asks for a ready `poll_ready` before each `start_send` (futures-util's `SinkExt` always
    /// does so).
    Full(T),
}

#[cfg(feature = "sink")]
impl<T> QueueSinkError<T> {
    /// The item that was not put, if the error came from `start_send`.
    pub fn into_inner(self) -> Option<T> {
        match self {
            QueueSinkError::Closed(t) => t,
            QueueSinkError::Full(t) => Some(t),
        }
    }

    /// Whether the queue (or this sink) is closed: every later call fails the same way.
    pub fn is_closed(&self) -> bool {
        matches!(self, QueueSinkError::Closed(_))
    }
}

#[cfg(feature = "sink")]
impl<T> fmt::Debug for QueueSinkError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueSinkError::Closed(None) => f.write_str("Closed(None)"),
            QueueSinkError::Closed(Some(_)) => f.write_str("Closed(Some(..))"),
            QueueSinkError::Full(_) => f.write_str("Full(..)"),
        }
    }
}

#[cfg(feature = "sink")]
impl<T> fmt::Display for QueueSinkError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueSinkError::Closed(_) => f.write_str("queue closed"),
            QueueSinkError::Full(_) => {
                f.write_str("queue full: `start_send` without a ready `poll_ready` first")
            }
        }
    }
}

#[cfg(feature = "sink")]
impl<T> std::error::Error for QueueSinkError<T> {}

/// Why a get failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetError {
    /// Nothing to take now (non-blocking calls), or not before the timeout.
    Empty,
    /// The queue is closed and drained.
    Closed,
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Empty => f.write_str("queue empty"),
            GetError::Closed => f.write_str("queue closed"),
        }
    }
}

impl std::error::Error for GetError {}

/// [`DualQueue::task_done`](crate::DualQueue::task_done) was called more times than items
/// were put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDoneError(pub(crate) ());

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done called more times than items were put")
    }
}

impl std::error::Error for TaskDoneError {}

/// The queue was closed: the awaited [`get`](crate::DualQueue::get) found it closed and
/// drained, or [`reserve`](crate::DualQueue::reserve) found it closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueClosed(pub(crate) ());

impl fmt::Display for QueueClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue closed")
    }
}

impl std::error::Error for QueueClosed {}

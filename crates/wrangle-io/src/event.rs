//! Lifecycle events: [`Event`] and the [`Events`] stream.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::Stream;
use wrangle_rt::PanicPayload;

use crate::error::CloseReason;

/// A shared, clonable error, as events carry them.
pub type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a connection ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DisconnectCause {
    /// The peer closed it (a read returned end-of-file, or a message stream ended).
    Eof,
    /// A read, write, flush or send failed with this error.
    Error(SharedError),
}

impl fmt::Display for DisconnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectCause::Eof => f.write_str("closed by the peer"),
            DisconnectCause::Error(e) => write!(f, "{e}"),
        }
    }
}

/// Why a connection attempt failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AttemptError {
    /// The connector returned this error.
    Connect(SharedError),
    /// The attempt did not finish within the connect timeout.
    TimedOut(Duration),
    /// The connector panicked (while building its future or while it ran); the panic was
    /// also sent to the error reporter.
    Panicked(Arc<PanicPayload>),
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptError::Connect(e) => write!(f, "connect failed: {e}"),
            AttemptError::TimedOut(d) => write!(f, "connect timed out after {d:?}"),
            AttemptError::Panicked(p) => write!(f, "connector panicked: {p}"),
        }
    }
}

/// Something that happened to a robust stream or sink.
///
/// Read them from [`Events`] ([`RobustStream::events`](crate::RobustStream::events)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A connection attempt succeeded; `connection` counts connections from 1.
    Connected {
        /// Which connection this is (1 for the first).
        connection: u64,
    },
    /// A connection was lost (not closed on purpose); reconnection starts.
    Disconnected {
        /// Which connection was lost.
        connection: u64,
        /// Why.
        cause: DisconnectCause,
        /// Messages handed to the lost connection since its last successful flush, which
        /// are dropped (always 0 for a byte stream; see [`RobustSink`](crate::RobustSink)).
        dropped: u64,
    },
    /// A connection attempt failed; the next one follows the backoff policy.
    AttemptFailed {
        /// The attempt's number within the current cycle, from 1.
        attempt: u32,
        /// Why it failed.
        error: AttemptError,
    },
    /// Closed for good; this is the last event.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// The lifecycle events of one robust stream or sink, as a [`Stream`].
///
/// Each call of `events()` subscribes anew and sees the events from then on. Up to
/// [`Events::CAPACITY`] unread events are kept per subscriber; past that, new ones are dropped
/// for that subscriber and counted in the stats (`events_dropped`), so a subscriber that never
/// reads costs bounded memory. The stream ends after [`Event::Closed`].
///
/// # Examples
///
/// See [`RobustStream::events`](crate::RobustStream::events).
#[must_use = "streams do nothing unless polled"]
pub struct Events {
    // Boxed so that `Events` is `Unpin` (`events.next().await` needs no pinning).
    pub(crate) rx: Pin<Box<async_channel::Receiver<Event>>>,
}

impl Events {
    /// How many unread events a subscriber keeps.
    pub const CAPACITY: usize = 1024;
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("unread", &self.rx.len())
            .finish()
    }
}

/// Ends after [`Event::Closed`] (or when the stream or sink is gone).
impl futures_core::stream::FusedStream for Events {
    fn is_terminated(&self) -> bool {
        self.rx.is_terminated()
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().rx.as_mut().poll_next(cx)
    }
}

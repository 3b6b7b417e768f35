//! [`ReconnectHandle`]: close, watch and count a robust stream or sink from anywhere.

use crate::core::SharedControl;
use crate::error::CloseReason;
use crate::event::Events;
use crate::future::Connected;
use crate::stats::ReconnectStats;

/// A clonable handle to a [`RobustStream`](crate::RobustStream) or
/// [`RobustSink`](crate::RobustSink), from their `handle()`: close it, wait for a connection,
/// read its events and counters, from any task or thread, while another task reads or writes.
///
/// A handle does not keep the stream open: dropping the stream closes it, and the handle then
/// reports it closed.
///
/// # Examples
///
/// Closing from another task ends a read that is waiting at once, with end-of-file:
///
/// ```
/// use futures_lite::AsyncReadExt;
/// use wrangle_io::RobustStream;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     // A connector whose server never answers: the stream stays disconnected.
///     let connector = || std::future::pending::<std::io::Result<futures_lite::io::Cursor<Vec<u8>>>>();
///     let mut stream = RobustStream::with_runtime(rt.clone(), connector);
///     let handle = stream.handle();
///     let closer = rt.spawn(async move { handle.close() });
///     let mut buf = [0; 16];
///     assert_eq!(stream.read(&mut buf).await.unwrap(), 0); // EOF, not a hang
///     assert!(closer.await.unwrap());
/// });
/// ```
#[derive(Debug, Clone)]
pub struct ReconnectHandle {
    pub(crate) ctl: SharedControl,
}

impl ReconnectHandle {
    /// Closes the stream for good: the connection is dropped, the connect loop stops, waiting
    /// reads end with end-of-file and waiting writes with [`Closed`](crate::Closed). Never
    /// waits; returns `true` if this call closed it.
    pub fn close(&self) -> bool {
        self.ctl.close()
    }

    /// Whether the stream is closed (on purpose, or because the backoff policy gave up).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.ctl.is_closed().is_some()
    }

    /// Why the stream is closed, if it is.
    #[must_use]
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.ctl.is_closed()
    }

    /// Whether a connection is up now.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        matches!(self.ctl.is_connected(), Ok(true))
    }

    /// Waits until a connection is up; see [`RobustStream::connected`](crate::RobustStream::connected).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes.
    pub fn connected(&self) -> Connected {
        Connected::new(self.ctl.clone())
    }

    /// Subscribes to the lifecycle events; see [`RobustStream::events`](crate::RobustStream::events).
    pub fn events(&self) -> Events {
        self.ctl.subscribe()
    }

    /// The counters; see [`ReconnectStats`].
    #[must_use]
    pub fn stats(&self) -> ReconnectStats {
        self.ctl.stats()
    }
}

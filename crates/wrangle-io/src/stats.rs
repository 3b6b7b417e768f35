//! [`ReconnectStats`]: the counters of a robust stream or sink.

/// Counters of a [`RobustStream`](crate::RobustStream) or [`RobustSink`](crate::RobustSink),
/// from [`stats()`](crate::RobustStream::stats), in the vocabulary every wrangle type uses.
///
/// Both robust types report the same counters, so they share this one type rather than a
/// `RobustStreamStats` and a `RobustSinkStats` that would be identical.
///
/// Connection attempts are the "bodies" of the common vocabulary: `started` counts attempts,
/// `completed` the ones that connected. Invariant, at any moment:
///
/// `started == completed + failed + timed_out + cancelled + running`
///
/// and `completed` (connections made) `>= disconnects` (connections lost, not counting a close
/// on purpose).
///
/// # Examples
///
/// See [`RobustStream::stats`](crate::RobustStream::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconnectStats {
    /// Connection attempts begun.
    pub started: u64,
    /// Attempts that connected (connections made).
    pub completed: u64,
    /// Attempts whose connector returned an error or panicked.
    pub failed: u64,
    /// Of `failed`, the attempts whose connector panicked.
    pub panicked: u64,
    /// Attempts cut short by the connect timeout.
    pub timed_out: u64,
    /// Attempts cut short by a close.
    pub cancelled: u64,
    /// Attempts in progress now (0 or 1).
    pub running: usize,
    /// Connections lost (ended by the peer or an error, not closed on purpose).
    pub disconnects: u64,
    /// Bytes received from connections ([`RobustStream`](crate::RobustStream) only).
    pub bytes_read: u64,
    /// Bytes accepted by connections' writes ([`RobustStream`](crate::RobustStream) only).
    pub bytes_written: u64,
    /// Messages received ([`RobustSink`](crate::RobustSink) only).
    pub items_received: u64,
    /// Messages handed to a connection ([`RobustSink`](crate::RobustSink) only).
    pub items_sent: u64,
    /// Messages dropped: handed to a connection that failed before a flush confirmed them, or
    /// handed over while no connection was up ([`RobustSink`](crate::RobustSink) only; see its
    /// delivery semantics).
    pub items_dropped: u64,
    /// Events not delivered to a subscriber that had [`Events::CAPACITY`](crate::Events::CAPACITY)
    /// unread.
    pub events_dropped: u64,
    /// Whether a connection is up now.
    pub connected: bool,
}

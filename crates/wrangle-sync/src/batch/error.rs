//! The errors of [`Batcher`](crate::Batcher) and [`batch_channel`](crate::stream::batch_channel).

use std::fmt;

/// A [`Batcher`](crate::Batcher) or [`BatchSender`](crate::stream::BatchSender) refused an item because
/// it is closed (or its dispatch task died): the item is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BatcherClosed<T>(pub T);

impl<T> fmt::Debug for BatcherClosed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BatcherClosed(..)")
    }
}

impl<T> fmt::Display for BatcherClosed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("batcher closed")
    }
}

impl<T> std::error::Error for BatcherClosed<T> {}

/// A batcher's configuration cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidBatchConfig {
    /// `max_wait` is zero.
    ZeroMaxWait,
}

impl fmt::Display for InvalidBatchConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidBatchConfig::ZeroMaxWait => f.write_str("batch max_wait is zero"),
        }
    }
}

impl std::error::Error for InvalidBatchConfig {}

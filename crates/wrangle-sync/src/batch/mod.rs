//! The batching family: [`Batcher`] (batches handed to an async callback),
//! [`batch_channel`] (the same, read as a stream of batches) and [`ChunksTimeout`] (the
//! batching rules as a stream adaptor, which the other two are built on).

mod batcher;
mod channel;
mod chunks_timeout;
mod error;

pub use batcher::{Batcher, BatcherStats, Flush, Shutdown};
pub use channel::{BatchSender, Batches, batch_channel, batch_channel_with_runtime};
pub use chunks_timeout::ChunksTimeout;
pub use error::{BatcherClosed, InvalidBatchConfig};

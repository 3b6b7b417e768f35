//! Robust I/O: byte streams and message streams that reconnect by themselves, with backoff and
//! jitter, on any runtime.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
pub mod connect;
mod config;
mod connector;
mod core;
mod driver;
mod error;
mod event;
pub mod future;
mod handle;
mod io_ops;
mod loom;
mod rng;
mod sink;
mod stats;
mod stream;
pub mod testing;
#[cfg(feature = "tokio")]
mod tokio_io;

pub use backoff::{Backoff, BackoffSchedule, Jitter};
pub use connector::Connector;
pub use error::{CloseReason, Closed, InvalidBackoff, InvalidConfig};
pub use event::{AttemptError, DisconnectCause, Event, Events, SharedError};
pub use handle::ReconnectHandle;
pub use sink::{RobustSink, RobustSinkBuilder};
pub use stats::ReconnectStats;
pub use stream::{RobustStream, RobustStreamBuilder};
#[cfg(feature = "tokio")]
pub use tokio_io::TokioIo;

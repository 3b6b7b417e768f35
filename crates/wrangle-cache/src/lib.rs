//! Async caching for wrangle.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod cache;
mod counter;
mod entry;
mod error;
mod finish;
mod flight;
mod flow;
mod inner;
mod lru;
mod memo;
mod memo_finish;
mod stats;
mod store;
mod sync;
mod task;

pub mod future;

pub use builder::CacheBuilder;
pub use cache::Cache;
pub use error::{InvalidConfig, LoadError};
pub use memo::{Memoized, MemoizedBuilder};
pub use stats::CacheStats;
pub use store::Policy;

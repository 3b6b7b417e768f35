//! Async caching on any runtime: a concurrent cache with per-key single-flight loads, time
//! to live and time to idle on the runtime's clock, S3-FIFO or exact LRU eviction, and
//! memoized async functions with preemptive loads and refresh-ahead.
//!
//! - [`Cache`]: bounded by entries or by weight ([`CacheBuilder`]); eviction by
//!   [S3-FIFO](Policy::S3Fifo) (the default, from `quick_cache`) or exact [LRU](Policy::Lru);
//!   [`get_or_insert_with`](Cache::get_or_insert_with) and
//!   [`try_get_or_insert_with`](Cache::try_get_or_insert_with) share one load among the
//!   concurrent callers of a key; dropping the caller that runs it hands it over instead of
//!   cancelling or poisoning it; a panicking loader is an error for every caller and caches
//!   nothing; an expired entry is never returned.
//! - [`Memoized`]: an async function cached per key (its arguments, or what a key function
//!   makes of them), with the seeds' `maxsize` in exact LRU order, errors cached only when
//!   asked and then for their own time to live, [`start`](Memoized::start) to run a miss at
//!   once as a task (async-utils' `taskcache`), and
//!   [`refresh_ahead`](MemoizedBuilder::refresh_ahead): stale-while-revalidate scheduled by
//!   the library through the runtime.
//! - [`CacheStats`]: hits, misses, loads, evictions, refreshes and the api.md counters, with
//!   their invariant.
//!
//! Time is read only through a [`wrangle_rt::Runtime`], so every expiry is exact on the
//! virtual-time runtime in tests. A [`Cache`] owns no tasks; a [`Memoized`] owns the tasks
//! of its preemptive loads and refreshes, and cancels them when dropped.
//!
//! # Examples
//!
//! A memoized lookup with a time to live of a minute, refreshed in the background during
//! its last ten seconds: callers never wait for a reload once the value is cached.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use wrangle_cache::Memoized;
//! use wrangle_rt::{Runtime, VirtualRuntime};
//!
//! let rt = VirtualRuntime::new();
//! let version = Arc::new(AtomicU32::new(0));
//! let config = Memoized::builder({
//!     let (rt, version) = (rt.clone(), version.clone());
//!     move |service: &'static str| {
//!         let (rt, version) = (rt.clone(), version.clone());
//!         async move {
//!             rt.sleep(Duration::from_millis(200)).await; // the config server
//!             let v = version.fetch_add(1, Ordering::Relaxed);
//!             Ok::<_, String>(format!("{service} config v{v}"))
//!         }
//!     }
//! })
//! .max_entries(1_000)
//! .time_to_live(Duration::from_secs(60))
//! .refresh_ahead(Duration::from_secs(10))
//! .runtime(rt.clone())
//! .build()
//! .unwrap();
//!
//! rt.block_on(async {
//!     assert_eq!(config.call("billing").await.unwrap(), "billing config v0");
//!     rt.sleep(Duration::from_secs(55)).await;
//!     let before = rt.now();
//!     // In the refresh window: the cached value at once, and a reload starts.
//!     assert_eq!(config.call("billing").await.unwrap(), "billing config v0");
//!     assert_eq!(rt.now(), before);
//!     rt.sleep(Duration::from_secs(1)).await;
//!     assert_eq!(config.call("billing").await.unwrap(), "billing config v1");
//! });
//! let s = config.stats();
//! assert_eq!((s.started, s.refreshes, s.hits, s.misses), (2, 1, 2, 1));
//! ```
//!
//! # Features
//!
//! This crate has no features of its own: runtimes are chosen through `wrangle-rt`'s features
//! (or the `wrangle` facade's).
//!
//! # Runtime support
//!
//! Every type works on every runtime `wrangle-rt` supports. [`Cache`] only reads the
//! runtime's clock ([`Runtime::monotonic_nanos`](wrangle_rt::Runtime::monotonic_nanos)), so
//! it can be used from plain threads too; [`Memoized`] also spawns its refreshes and
//! preemptive loads on it. Both are generic over `R: Runtime` (default
//! [`DefaultRuntime`](wrangle_rt::DefaultRuntime)).
//!
//! # When not to use this
//!
//! For a synchronous cache with no expiry, `quick_cache` alone is smaller and faster. For an
//! eviction listener, per-entry expiry policies or a cache shared between processes, use
//! `moka` (or a shared store). Without deadlines or a weigher, a hit is `quick_cache`'s own
//! lookup plus a hit count; with them it also reads the clock and clones the entry's
//! deadlines with the value (ADR 0075; measured in `docs/benchmarks.md`).

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
mod loom;
mod lru;
mod memo;
mod stats;
mod store;

pub mod future;

pub use builder::CacheBuilder;
pub use cache::Cache;
pub use error::{InvalidCacheConfig, LoadError};
pub use memo::Memoized;
pub use memo::builder::MemoizedBuilder;
pub use stats::CacheStats;
pub use store::Policy;

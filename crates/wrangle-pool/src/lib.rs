//! Task pools for any async runtime: a size limit, a per-task timeout counted from each task's
//! start, submission from any thread, and pools on dedicated threads.
//!
//! - [`TaskPool`]: at most `size` tasks at once, FIFO queue, per-task timeout, `spawn` from
//!   any thread (async or not), `spawn_detached` for fire-and-forget work without a handle,
//!   `close`, `shutdown` (drains even if its future is dropped),
//!   `shutdown_timeout`, cancel on drop, panics isolated, [`PoolStats`].
//! - [`PoolHandle`]: the task's handle: drop cancels (a queued task never runs), `detach`,
//!   `cancel().await`, `join_blocking()` for sync callers.
//! - [`ThreadedPool`]: a `TaskPool` on a named OS thread with its own runtime (Tokio
//!   current-thread, smol or virtual), async init and teardown hooks run on that thread, a
//!   blocking API for sync code and an async API for any other runtime.
//! - [`Server`]: N worker threads, each with its own runtime, running one worker function
//!   given its index and a shutdown signal; a graceful stop of all on the first worker error,
//!   stop request or (feature `signal`) SIGINT/SIGTERM, forced on the second signal.
//!
//! **Dropping a handle cancels its task**, as everywhere in wrangle (Tokio's handles detach
//! instead). `let _ = pool.spawn(job)` therefore cancels `job` at once: keep the
//! [`PoolHandle`], call [`detach`](PoolHandle::detach), or use `spawn_detached` for
//! fire-and-forget work (it is also cheaper: no handle is allocated).
//!
//! # Examples
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::time::Duration;
//! use wrangle_pool::TaskPool;
//! use wrangle_rt::{Runtime, VirtualRuntime};
//!
//! let rt = VirtualRuntime::new();
//! let start = rt.now();
//! // One slot, a 15 ms timeout: two 10 ms jobs both succeed, because the timeout counts from
//! // each job's start, not from its time in the queue.
//! let pool = TaskPool::builder()
//!     .size(NonZeroUsize::MIN)
//!     .timeout(Duration::from_millis(15))
//!     .build_with_runtime(rt.clone());
//! let job = |rt: VirtualRuntime| async move { rt.sleep(Duration::from_millis(10)).await };
//! let a = pool.spawn(job(rt.clone())).unwrap();
//! let b = pool.spawn(job(rt.clone())).unwrap();
//! rt.block_on(async {
//!     assert!(a.await.is_ok());
//!     assert!(b.await.is_ok());
//! });
//! assert_eq!(rt.now() - start, Duration::from_millis(20));
//! ```
//!
//! # Features
//!
//! - `signal`: `Server::signals`, a graceful stop on SIGINT and SIGTERM (`async-signal`).
//!
//! Runtimes are chosen through `wrangle-rt` (or the `wrangle` facade).
//!
//! # Runtime support
//!
//! Every runtime of `wrangle-rt`: Tokio, smol, async-std (legacy) and virtual time.
//! [`ThreadedPool`] runs Tokio current-thread, smol or virtual time on its own thread.
//!
//! # When not to use this
//!
//! For CPU-bound work, use a thread pool (rayon) or `Runtime::spawn_blocking`: pooled tasks
//! are async tasks and must not block. If you only need to bound concurrency inside one
//! future, a bounded stream (`wrangle-task`'s `concurrent`) needs no pool.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod crew;
mod deadline;
mod error;
mod handle;
mod job;
mod pool;
mod server;
mod slot;
mod stats;
mod sync;
mod threaded;
mod worker;

pub use error::{ShutdownTimedOut, SpawnError, TaskError};
pub use handle::PoolHandle;
pub use pool::{TaskPool, TaskPoolBuilder};
pub use server::{Server, ServerStop, WorkerContext};
pub use stats::PoolStats;
pub use threaded::{ThreadedPool, ThreadedPoolBuilder, ThreadedPoolError};

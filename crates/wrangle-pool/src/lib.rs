//! Task pools for any async runtime: a size limit, a per-task timeout counted from each task's
//! start, submission from any thread, and pools on dedicated threads.
//!
//! - [`TaskPool`]: at most `size` tasks at once ([`TaskPool::new`], or
//!   [`TaskPool::unbounded`]), FIFO queue, per-task timeout, `spawn` from any thread (async or
//!   not), `spawn_detached` for fire-and-forget work without a handle, `close`, `shutdown`
//!   (drains even if its future is dropped), `shutdown_timeout`, cancel on drop, panics
//!   isolated, [`TaskPoolStats`].
//! - tokio-util's `TaskTracker` habits on the same pool: [`TaskPool::wait_empty`] (wait for
//!   the pool to be empty without closing it), [`TaskPool::reopen`],
//!   [`TaskPool::track_future`] (count a future the caller polls itself) and
//!   [`TaskPool::token`] (cancelled when the pool closes).
//! - [`PoolJoinHandle`]: the task's handle: drop cancels (a queued task never runs), `detach`,
//!   `abort()` (request, never waits), `cancel().await` (cancel and wait), `join_blocking()`
//!   for sync callers.
//! - [`ThreadedPool`]: a `TaskPool` on a named OS thread with its own runtime (Tokio
//!   current-thread, smol or virtual), async init and teardown hooks run on that thread, a
//!   blocking API for sync code and an async API for any other runtime.
//! - [`future`]: the named futures of the async operations.
//!
//! **Dropping a handle cancels its task**, as everywhere in wrangle (Tokio's handles detach
//! instead). `let _ = pool.spawn(job)` therefore cancels `job` at once: keep the
//! [`PoolJoinHandle`], call [`detach`](PoolJoinHandle::detach), or use `spawn_detached` for
//! fire-and-forget work (it is also cheaper: no handle is allocated).
//!
//! A process of N worker threads supervised together (`Server`) is in `wrangle-task`, beside
//! `Supervisor`.
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
//!     .runtime(rt.clone())
//!     .build();
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
//! Runtimes are chosen through `wrangle-rt` (or the `wrangle` facade): `runtime-tokio`,
//! `runtime-smol`, `runtime-async-std` (legacy) are forwarded to it.
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
//!
//! # Unsafe code
//!
//! One private module, the pooled task's cell (ADR 0104), uses `unsafe`; the rest of the crate
//! denies it. A pooled task and the state its [`PoolJoinHandle`] reads live in one allocation:
//! the worker polls the task's future in place, which needs `Pin::new_unchecked` on a future
//! inside an `Arc` that only the task's one queued side touches, and a cancel wakes the worker
//! running the task through a pointer to the worker's context, read only while that worker
//! still holds the task. Each block carries its `SAFETY` argument; the protocol has loom
//! models (`tests/loom.rs`), and the crate's tests run under AddressSanitizer
//! (`cargo xtask asan wrangle-pool`). Why: one allocation and one reference count fewer per
//! task, the difference between 0.56 and under 0.5 of tokio-util's `TaskTracker` in
//! `pool_spawn_join` (`docs/benchmarks.md`).

#![deny(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod deadline;
mod deadline_slot;
mod dispatch;
mod error;
mod job;
mod join_handle;
mod joint;
mod loom;
mod pool;
mod threaded;
mod trace;
mod tracker;
mod worker;

pub mod future {
    //! The named futures of the pools' async operations. Each is `#[must_use]` and documents
    //! its cancel safety.

    pub use crate::join_handle::Cancel;
    pub use crate::pool::{Run, Shutdown, ShutdownTimeout};
    pub use crate::threaded::{ThreadedCancel, ThreadedShutdown};
    pub use crate::tracker::{TrackedFuture, WaitEmpty};
}

pub use error::{ShutdownTimedOut, SpawnError, TaskError};
pub use join_handle::PoolJoinHandle;
pub use pool::{TaskPool, TaskPoolBuilder, TaskPoolStats};
pub use threaded::{ThreadedPool, ThreadedPoolBuilder, ThreadedPoolError};

/// The hand-written synchronisation, public only under `--cfg loom` for `tests/loom.rs`: the
/// deadline slot the worker and the reaper share, the workers' dispatch counters, and the
/// pooled task's cell.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_model {
    pub use crate::deadline_slot::{DeadlineSlot, FIRED, NONE};
    pub use crate::dispatch::{Crew, Dispatch, Roster};
    pub use crate::joint::model as joint;
}

//! Core async scheduling for wrangle, on any runtime: run many futures with a limit, structure
//! tasks in scopes, cancel and wait, shield, race and gather, clean up asynchronously, and
//! supervise a service until its graceful stop.
//!
//! The crate is organised by family. The root shows each family's primitives, errors and
//! stats; each family's named futures are in [`future`], and the supervision family's
//! secondary types (its handles, worker context, stop reasons and counters) have their own
//! page, [`supervisor`].
//!
//! - **Concurrent runners.** [`Concurrent`]: a bounded runner that spawns futures (parallel)
//!   and yields their outputs in completion order as a stream, with a [`Limit`] and an
//!   [`ErrorPolicy`]; [`ConcurrentInline`] does the same inside the current task, fairly (it
//!   yields to the executor after a budget), for futures that are not `Send`. Where the
//!   futures come from is a [`source`].
//! - **Scopes.** [`TaskScope`]: structured children; a child's error goes to the
//!   [`error_reporter`](TaskScope::error_reporter), a body error cancels the children, leaving
//!   waits for every child; exit timeout, grace period, intrinsic timeout,
//!   [`move_on_after`](TaskScope::move_on_after) (a deadline that ends the scope quietly) and
//!   [`shield`](TaskScope::shield) (an outer cancel held back until a deadline); no stored
//!   outputs.
//! - **Task sets.** [`TaskSet`]: tokio's `JoinSet` on every runtime: spawn at any time, join
//!   in completion order, with [`TaskId`]s; `abort`, `cancel` (and wait), `shutdown`.
//! - **Cancellation.** [`spawn_cancellable`] / [`CancellableTask::cancel`], [`cancel_all`]:
//!   ask a task to stop through its token and wait for its async cleanup ([`CancelOutcome`]).
//!   [`shield`]: a future that runs to completion even if its caller is cancelled. [`race`],
//!   [`gather`], [`as_completed`]: first success (losers cancelled and gone before it returns),
//!   all outputs in input order, outputs in completion order.
//! - **Lifecycles.** [`BackgroundTask`]: at most one live run, restartable, errors to a
//!   reporter; [`RestartableTask`]: retriable attempts resolved by their own output or
//!   [`set_result`](RestartableTask::set_result), with a per-attempt timeout. [`ExitStack`] /
//!   [`defer`]: async cleanups run last-in first-out on exit, on error and on cancellation,
//!   every error reported; cleanups that see the [`ExitOutcome`] (Python's `__aexit__`), and
//!   [`enter_all`](ExitStack::enter_all) to enter many resources at once.
//! - **Supervision.** [`Supervisor`]: the first unhandled error, a
//!   [`ShutdownHandle::close`](supervisor::ShutdownHandle::close) from any thread, or
//!   SIGINT/SIGTERM (feature `signal`) starts the graceful stop once; drain deadline, startup
//!   and join hooks, a second signal forces the exit. [`Server`]: a supervisor over N worker
//!   threads, each with its own runtime. Both count their tasks
//!   ([`SupervisorStats`](supervisor::SupervisorStats),
//!   [`ServerStats`](supervisor::ServerStats)). Their handles, the worker context, the stop
//!   reasons and the counters are in [`supervisor`].
//!
//! The verbs mean the same on every type: `close()` asks for a stop and never waits (it
//! returns whether this call did it), `abort()` cancels without waiting, `cancel()` cancels
//! *and* waits until the work is gone, and `stats()` returns a `Copy` struct whose invariant
//! is documented on it (`started == completed + failed + cancelled + running`, and so on).
//!
//! # Examples
//!
//! A service that processes jobs four at a time inside a supervised scope, and cleans up on the
//! way out:
//!
//! ```
//! use std::time::Duration;
//! use futures_lite::StreamExt;
//! use wrangle_rt::{Runtime, VirtualRuntime};
//! use wrangle_task::{Concurrent, Limit, Supervisor, defer_with_runtime};
//!
//! let rt = VirtualRuntime::new();
//! let start = rt.now();
//! let rt2 = rt.clone();
//! let total = rt.block_on(Supervisor::with_runtime(rt.clone()).run(move |sup| async move {
//!     let rt3 = rt2.clone();
//!     let out = defer_with_runtime(rt3, move |stack| async move {
//!         stack.push(async { println!("connection closed") });
//!         let jobs = (1..=8u64).map(|i| {
//!             let rt = rt2.clone();
//!             async move {
//!                 rt.sleep(Duration::from_millis(10)).await;
//!                 Ok::<_, std::io::Error>(i)
//!             }
//!         });
//!         // Four at a time: two rounds of 10 ms.
//!         let runner =
//!             Concurrent::with_runtime(rt2.clone(), jobs).limit(Limit::try_from(4).unwrap());
//!         runner.map(|r| r.unwrap()).fold(0, |a, b| a + b).await
//!     });
//!     let total = out.await.unwrap();
//!     sup.shutdown_handle().close();
//!     Ok::<_, std::io::Error>(total)
//! }));
//! assert_eq!(total.unwrap(), 36);
//! assert_eq!(rt.now() - start, Duration::from_millis(20));
//! ```
//!
//! # Features
//!
//! - `signal`: `Supervisor::signals` and `Server::signals` react to SIGINT and SIGTERM
//!   (through `async-signal`; Unix, and Ctrl-C only on Windows).
//! - `tracing`: a span per scope child (`scope.child`) and supervised task
//!   (`supervisor.child`), named by `spawn_named`, with events when it is spawned, started,
//!   finished, panicked or cancelled, and a `supervisor` span around each
//!   `Supervisor::run` (started, then finished, failed or cancelled). Compiled out without the
//!   feature.
//!
//! # Runtime support
//!
//! Everything runs on every [`wrangle_rt::Runtime`]: Tokio, smol, async-std (legacy) and the
//! virtual-time runtime, which makes every timing in this crate testable exactly. Types that
//! spawn are generic over the runtime, default to [`wrangle_rt::DefaultRuntime`], and have a
//! `with_runtime` constructor.
//!
//! # When not to use this
//!
//! For a couple of futures joined or raced in one place, `futures_lite::future::zip`/`or` are
//! lighter. If your program is tied to Tokio and its `JoinSet`/`tokio-util` suit you, this crate
//! adds little beyond cancel-and-wait, shielding and portability ([`TaskSet`] is `JoinSet` on
//! every runtime). Children here are `'static`
//! tasks: to borrow from the caller's stack, use [`ConcurrentInline`] (no parallelism).
//!
//! Rust has no async drop: wherever a Python library would await cleanup on cancellation, this
//! crate either waits when asked ([`CancellableTask::cancel`], [`AsCompleted::cancel`],
//! [`BackgroundTask::cancel`], [`ExitStack::unwind`]) or, when a future is simply dropped,
//! cancels without waiting (and [`ExitStack`] hands its cleanups to the runtime).

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cancel;
mod concurrent;
mod lifecycle;
mod loom;
mod scope;
mod set;
mod trace;

pub mod future;
pub mod source;
pub mod supervisor;

pub use cancel::as_completed::{AsCompleted, as_completed, as_completed_with_runtime};
pub use cancel::gather::{gather, gather_with_runtime};
pub use cancel::race::{RaceError, race, race_with_runtime};
pub use cancel::shield::{shield, shield_with_runtime};
pub use cancel::{CancelOutcome, CancellableTask, cancel_all, spawn_cancellable};
pub use concurrent::concurrent_inline::ConcurrentInline;
pub use concurrent::error::ConcurrentError;
pub use concurrent::limit::Limit;
pub use concurrent::stats::ConcurrentStats;
pub use concurrent::{Concurrent, ErrorPolicy};
pub use lifecycle::background::{BackgroundStats, BackgroundTask, RunError};
pub use lifecycle::exit_group::EnterError;
pub use lifecycle::exit_outcome::ExitOutcome;
pub use lifecycle::exit_stack::{CleanupErrors, ExitStack, defer, defer_with_runtime};
pub use lifecycle::restartable::{NoAttempt, RestartError, RestartStats, RestartableTask};
pub use scope::TaskScope;
pub use scope::error::{ScopeClosed, ScopeError};
pub use scope::handle::{ChildHandle, Scope, ScopeStats};
pub use set::TaskSet;
pub use set::stats::{TaskId, TaskSetStats};
pub use supervisor::run::Supervisor;
pub use supervisor::server::Server;
pub use supervisor::types::SupervisorError;

/// A future that resumes a caught panic when polled: what a user factory that panicked while
/// building its future becomes, so that the panic is handled where a panic of the future
/// itself would be (caught, reported, counted), without running the panic hook twice.
pub(crate) async fn resume_panic<T>(p: Box<dyn std::any::Any + Send>) -> T {
    std::panic::resume_unwind(p)
}

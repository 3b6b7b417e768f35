//! Core async scheduling for wrangle, on any runtime: run many futures with a limit, structure
//! tasks in scopes, cancel and wait, shield, race and gather, and clean up asynchronously.
//!
//! - [`Concurrent`] / [`concurrent`]: a bounded runner that spawns futures (parallel) and yields
//!   their outputs in completion order as a stream, with a [`Limit`] and an [`ErrorPolicy`];
//!   [`ConcurrentInline`] / [`concurrent_inline`] does the same inside the current task, fairly
//!   (it yields to the executor after a budget), for futures that are not `Send`.
//! - [`TaskScope`]: structured children; a child's error goes to an error handler, a body error
//!   cancels the children, leaving waits for every child; exit timeout, grace period, intrinsic
//!   timeout; no stored outputs.
//! - [`spawn_cancellable`] / [`CancellableTask`], [`cancel_and_wait`], [`cancel_all_and_wait`]:
//!   ask a task to stop through its token and wait for its async cleanup ([`CancelOutcome`]).
//! - [`shield`]: a future that runs to completion even if its caller is cancelled.
//! - [`race`], [`gather`], [`as_completed`]: first success (losers cancelled and gone before it
//!   returns), all outputs in input order, outputs in completion order.
//! - [`BackgroundTask`]: at most one live run, restartable, errors to a handler;
//!   [`RestartableTask`]: retriable attempts resolved by their own output or
//!   [`set_result`](RestartableTask::set_result), with a per-attempt timeout.
//! - [`ExitStack`] / [`defer`]: async cleanups run last-in first-out on exit, on error and on
//!   cancellation, every error reported.
//! - [`Supervisor`]: the first unhandled error, a [`ShutdownHandle::shutdown`] from any thread,
//!   or SIGINT/SIGTERM (feature `signal`) starts the graceful stop once; drain deadline,
//!   startup and join hooks, a second signal forces the exit.
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
//!     sup.shutdown_handle().shutdown();
//!     Ok::<_, std::io::Error>(total)
//! }));
//! assert_eq!(total.unwrap(), 36);
//! assert_eq!(rt.now() - start, Duration::from_millis(20));
//! ```
//!
//! # Features
//!
//! - `signal`: `Supervisor::signals` reacts to SIGINT and SIGTERM (through `async-signal`;
//!   Unix, and Ctrl-C only on Windows).
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
//! adds little beyond cancel-and-wait, shielding and portability. Children here are `'static`
//! tasks: to borrow from the caller's stack, use [`ConcurrentInline`] (no parallelism).
//!
//! Rust has no async drop: wherever a Python library would await cleanup on cancellation, this
//! crate either waits when asked ([`cancel_and_wait`], [`AsCompleted::close`],
//! [`ExitStack::close`]) or, when a future is simply dropped, cancels without waiting (and
//! [`ExitStack`] hands its cleanups to the runtime).

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod as_completed;
mod background;
mod cancel;
mod concurrent;
mod error;
mod exit_stack;
mod gather;
mod inline;
mod limit;
mod output;
mod panic;
mod policy;
mod race;
mod restartable;
mod scope;
mod scope_error;
mod scope_handle;
mod shield;
mod slots;
mod source;
mod supervisor;
mod supervisor_handle;
mod supervisor_types;
mod sync;
mod task_error;

pub use as_completed::{AsCompleted, CloseAll, as_completed, as_completed_with_runtime};
pub use background::{BackgroundStats, BackgroundTask, BackgroundWait, RunError};
pub use cancel::{
    CancelAllAndWait, CancelAndWait, CancelOutcome, CancellableTask, cancel_all_and_wait,
    cancel_and_wait, spawn_cancellable,
};
pub use concurrent::{Concurrent, concurrent};
pub use error::ConcurrentError;
pub use exit_stack::{
    CleanupErrors, Close, Defer, DeferError, ExitStack, defer, defer_with_runtime,
};
pub use gather::{Gather, gather, gather_with_runtime};
pub use inline::{ConcurrentInline, concurrent_inline};
pub use limit::{Limit, LimitError};
pub use output::TaskOutput;
pub use policy::{ConcurrentStats, ErrorPolicy};
pub use race::{Race, RaceError, race, race_with_runtime};
pub use restartable::{NoAttempt, RestartError, RestartStats, RestartWait, RestartableTask};
pub use scope::{ScopeRun, TaskScope};
pub use scope_error::{ScopeError, SpawnError};
pub use scope_handle::{ChildHandle, Scope, ScopeStats};
pub use shield::{Shield, shield, shield_with_runtime};
pub use source::{IterSource, Source, StreamSource, TryStreamSource};
pub use supervisor::{Supervisor, SupervisorRun};
pub use supervisor_handle::{ShutdownHandle, SupervisorHandle};
pub use supervisor_types::{ForceExit, ShutdownReason, SupervisorError};
pub use task_error::TaskPanicked;

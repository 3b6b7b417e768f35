//! Core async scheduling for wrangle, on any runtime: run many futures with a limit, structure
//! tasks in scopes, cancel and wait, shield, race and gather, and clean up asynchronously.
//!
//! - [`Concurrent`] / [`concurrent`]: a bounded runner that spawns futures (parallel) and yields
//!   their outputs in completion order as a stream; [`ConcurrentInline`] /
//!   [`concurrent_inline`] does the same inside the current task, fairly, for `!Send` futures.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use futures_lite::StreamExt;
//! use wrangle_rt::{Runtime, VirtualRuntime};
//! use wrangle_task::{Concurrent, Limit};
//!
//! let rt = VirtualRuntime::new();
//! let start = rt.now();
//! rt.block_on(async {
//!     let jobs = (1..=8u64).map(|i| {
//!         let rt = rt.clone();
//!         async move {
//!             rt.sleep(Duration::from_millis(10)).await;
//!             Ok::<_, std::io::Error>(i)
//!         }
//!     });
//!     // Four at a time: two rounds of 10 ms.
//!     let runner = Concurrent::with_runtime(rt.clone(), jobs).limit(Limit::try_from(4).unwrap());
//!     let total: u64 = runner.map(|r| r.unwrap()).fold(0, |a, b| a + b).await;
//!     assert_eq!(total, 36);
//! });
//! assert_eq!(rt.now() - start, Duration::from_millis(20));
//! ```
//!
//! # Features
//!
//! - `signal`: the supervisor reacts to SIGINT and SIGTERM (through `async-signal`).
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
//! adds little beyond cancel-and-wait, shielding and portability.

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
mod shield;
mod slots;
mod source;
mod supervisor;
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
pub use scope::{Scope, ScopeRun, ScopeStats, TaskScope};
pub use scope_error::{ScopeError, SpawnError};
pub use shield::{Shield, shield, shield_with_runtime};
pub use source::{IterSource, Source, StreamSource, TryStreamSource};
pub use supervisor::{
    ForceExit, ShutdownHandle, ShutdownReason, Supervisor, SupervisorError, SupervisorHandle,
    SupervisorRun,
};
pub use task_error::TaskPanicked;

//! The executor abstraction of wrangle: one small [`Runtime`] trait over Tokio, smol, async-std
//! and a deterministic virtual-time runtime.
//!
//! Every other wrangle crate spawns, sleeps and reads clocks only through this crate, so each of
//! them runs on any supported runtime, and all of their timing can be tested exactly and
//! instantly on virtual time.
//!
//! - [`Runtime`]: spawn (generic, no boxing), spawn blocking work, monotonic [`now`](Runtime::now),
//!   wall clock [`wall_now`](Runtime::wall_now) as a [`jiff::Timestamp`], a resettable
//!   [`Sleep`], and [`timeout`](Runtime::timeout) returning a typed [`Elapsed`].
//! - [`JoinHandle`]: the same semantics on every runtime. It resolves to
//!   `Result<T, JoinError>` (`Cancelled`, or `Panicked` with the payload); dropping it cancels
//!   the task; [`detach`](JoinHandle::detach) lets it run; [`cancel`](JoinHandle::cancel) cancels
//!   and waits until the future is gone.
//! - [`adapter`]: [`TokioRuntime`](adapter::TokioRuntime), [`SmolRuntime`](adapter::SmolRuntime),
//!   [`AsyncStdRuntime`](adapter::AsyncStdRuntime) (legacy), and
//!   [`VirtualRuntime`]; [`DefaultRuntime`] picks one at run time (virtual inside its
//!   `block_on`, Tokio inside a Tokio context, smol otherwise).
//! - [`thread::RuntimeThread`]: a runtime of its own on a dedicated, named thread (Tokio, smol or
//!   virtual).
//! - [`CancellationToken`]: runtime-free, hierarchical cancellation requests.
//! - [`ErrorReporter`]: where errors nobody retrieves go (stderr, `tracing`, or your handler).
//! - [`future`]: the named futures of the operations above.
//! - [`conformance`]: the public conformance suite for any `Runtime`; [`testing`]: run one
//!   test body on every runtime.
//!
//! **Dropping a [`JoinHandle`] cancels its task** on every runtime (Tokio's own handles detach
//! instead), so `let _ = rt.spawn(work)` cancels `work` at once. Keep the handle, or call
//! [`detach`](JoinHandle::detach) to let the task run on its own.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use wrangle_rt::{CancellationToken, Runtime, VirtualRuntime};
//!
//! let rt = VirtualRuntime::new();
//! let start = rt.now();
//! let token = CancellationToken::new();
//!
//! let worker = rt.spawn({
//!     let (rt, token) = (rt.clone(), token.child_token());
//!     async move {
//!         let mut ticks = 0;
//!         while token.run_until_cancelled(rt.sleep(Duration::from_secs(1))).await.is_some() {
//!             ticks += 1;
//!         }
//!         ticks
//!     }
//! });
//!
//! rt.block_on(async {
//!     rt.sleep(Duration::from_millis(3500)).await;
//!     token.cancel();
//!     assert_eq!(worker.await.unwrap(), 3);
//! });
//! assert_eq!(rt.now() - start, Duration::from_millis(3500));
//! ```
//!
//! # Features
//!
//! - `runtime-tokio`: [`TokioRuntime`](adapter::TokioRuntime).
//! - `runtime-smol`: [`SmolRuntime`](adapter::SmolRuntime).
//! - `runtime-async-std`: [`AsyncStdRuntime`](adapter::AsyncStdRuntime) (legacy: async-std is discontinued upstream).
//! - `tracing`: the default handler for unhandled errors emits `tracing` events instead of
//!   writing to stderr.
//!
//! All features are additive; any combination, including none, builds. The virtual runtime
//! is always available.
//!
//! # Runtime support
//!
//! | runtime | spawn | blocking | timers | notes |
//! |---|---|---|---|---|
//! | Tokio | native | `spawn_blocking` | `tokio::time` | needs the time driver enabled |
//! | smol | global or your `Executor` | `blocking` | `async-io` | |
//! | async-std | `task::spawn` | `task::spawn_blocking` | `async-io` | legacy, opt-in |
//! | virtual | own, single thread | real threads | virtual | deterministic, seeded |
//!
//! # When not to use this
//!
//! If your program will only ever run on one runtime and you need none of wrangle's crates,
//! use that runtime's API directly. This crate does not abstract I/O, and it is not an
//! executor: the virtual runtime is for tests and simulations, not production.

#![forbid(unsafe_code)]
// The crate docs link the adapters, which exist only with their features; published docs
// build with every feature (docs.rs metadata), where every link resolves.
#![cfg_attr(
    not(all(
        feature = "runtime-tokio",
        feature = "runtime-smol",
        feature = "runtime-async-std"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter;
pub mod conformance;
mod default;
mod enter;
pub mod future;
mod join;
mod loom;
mod output;
mod runtime;
#[doc(hidden)]
pub mod short_lock;
#[cfg(feature = "tracing")]
mod span_recorder;
pub mod testing;
pub mod thread;
mod time;
mod token;
mod unhandled;
pub mod virtual_time;

pub use default::{DefaultRuntime, NoRuntime, block_on};
pub use enter::EnterGuard;
pub use join::{JoinError, JoinHandle, PanicPayload};
pub use output::TaskOutput;
pub use runtime::{Runtime, Sleep};
pub use time::{DeadlineOverflow, Elapsed, saturating_deadline, yield_now};
pub use token::{CancellationToken, DropGuard, DropGuardRef};
pub use unhandled::{
    BoxError, ErrorHandler, ErrorReporter, Unhandled, report_unhandled, reset_global_error_handler,
    set_global_error_handler,
};
pub use virtual_time::VirtualRuntime;

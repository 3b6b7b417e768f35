//! The supervision family's secondary types: the handles, the worker context, the stop reasons
//! and policies, and the counters of a [`Supervisor`](crate::Supervisor) or a
//! [`Server`](crate::Server).
//!
//! The family starts at the crate root: [`Supervisor`](crate::Supervisor) runs an
//! application's body and its tasks until a graceful stop, [`Server`](crate::Server) does the
//! same over N worker threads, each with its own runtime, and both fail with
//! [`SupervisorError`](crate::SupervisorError). Their futures,
//! [`SupervisorRun`](crate::future::SupervisorRun) and [`Serve`](crate::future::Serve), are in
//! [`future`](crate::future). The types here are the ones those hand out or take as
//! settings; most programs use them through a method call and name them only to write a
//! signature, match a reason or choose a policy:
//!
//! - [`SupervisorHandle`]: what the body of [`Supervisor::run`](crate::Supervisor::run) gets:
//!   it spawns supervised tasks, and gives the stop token, an error reporter and the
//!   [`ShutdownHandle`].
//! - [`ShutdownHandle`]: `Clone + Send + Sync`, from either primitive or from the body; it
//!   starts the graceful stop from any thread ([`close`](ShutdownHandle::close), which never
//!   waits), reports an error, tells whether and why the stop began, and reads the counters
//!   before, during and after the run.
//! - [`WorkerContext`]: what each worker of [`Server::serve`](crate::Server::serve) gets: its
//!   index, the stop token and its thread's runtime.
//! - [`ShutdownReason`]: why the stop began (given to
//!   [`on_stop`](crate::Supervisor::on_stop)); [`ForceExit`]: what a second signal during the
//!   stop does.
//! - [`SupervisorStats`] and [`ServerStats`]: the counters of the supervised tasks and of the
//!   workers (`started == completed + failed + cancelled + running`).
//!
//! They have this page of their own, as `tokio::task` has, so that the crate root shows each
//! family's entry points and a reader takes it in at one sitting.
//!
//! # Examples
//!
//! The types named where a program passes them around: a helper that starts workers from the
//! body's handle, an admin command on another thread that holds only the shutdown handle, and
//! the reason and the counters read once the run is over.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use wrangle_rt::{Runtime, VirtualRuntime};
//! use wrangle_task::Supervisor;
//! use wrangle_task::supervisor::{
//!     ShutdownHandle, ShutdownReason, SupervisorHandle, SupervisorStats,
//! };
//!
//! /// Starts `n` workers that serve until the graceful stop begins.
//! fn start_workers(sup: &SupervisorHandle<VirtualRuntime>, n: usize) {
//!     for _ in 0..n {
//!         let token = sup.token().clone();
//!         sup.spawn(async move {
//!             token.cancelled().await;
//!             Ok::<_, std::io::Error>(())
//!         })
//!         .unwrap();
//!     }
//! }
//!
//! /// An admin command, off the runtime: it asks for the stop and never waits for it.
//! fn admin_stop(shutdown: ShutdownHandle) -> bool {
//!     shutdown.close()
//! }
//!
//! let rt = VirtualRuntime::new();
//! let reason: Arc<Mutex<Option<ShutdownReason>>> = Arc::default();
//! let sup = Supervisor::with_runtime(rt.clone()).on_stop({
//!     let reason = reason.clone();
//!     move |r| async move { *reason.lock().unwrap() = Some(r) }
//! });
//! let shutdown = sup.shutdown_handle();
//! let rt2 = rt.clone();
//! let r = rt.block_on(sup.run(move |sup| async move {
//!     start_workers(&sup, 3);
//!     let handle = sup.shutdown_handle();
//!     let started = rt2.spawn_blocking(move || admin_stop(handle)).await.unwrap();
//!     assert!(started); // this call started the stop; the workers see the token
//!     sup.token().cancelled().await;
//!     Ok::<_, std::io::Error>(())
//! }));
//! assert!(r.is_ok());
//! assert_eq!(*reason.lock().unwrap(), Some(ShutdownReason::Requested));
//! let stats: SupervisorStats = shutdown.stats();
//! assert_eq!((stats.started, stats.completed, stats.running), (3, 3, 0));
//! ```

pub(crate) mod handle;
pub(crate) mod run;
pub(crate) mod server;
pub(crate) mod stats;
pub(crate) mod types;

pub use handle::{ShutdownHandle, SupervisorHandle};
pub use server::WorkerContext;
pub use stats::{ServerStats, SupervisorStats};
pub use types::{ForceExit, ShutdownReason};

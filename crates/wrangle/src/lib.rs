//! Runtime-agnostic async utilities for Rust: one coherent suite that runs on Tokio, smol or
//! (legacy) async-std, and on a deterministic virtual-time runtime for tests.
//!
//! This crate only re-exports; each part is its own crate behind its own feature, so you can
//! depend on the facade or on a single crate.
//!
//! | module | crate | feature | what |
//! |---|---|---|---|
//! | [`rt`] | `wrangle-rt` | always | the [`Runtime`] trait, normalised [`JoinHandle`], adapters, virtual time, [`CancellationToken`] |
//! | `task` | `wrangle-task` | `task` | bounded concurrent runner, task scopes, cancel-and-wait and shield, race/gather/as-completed, background and restartable tasks, exit stack, supervisor and multi-threaded server with signals |
//! | `pool` | `wrangle-pool` | `pool` | task pools: size limit, per-task timeout from start, cross-thread submission, dedicated-thread pools |
//! | `timer` | `wrangle-timer` | `timer` | drift-free intervals with missed-tick policies, periodic tasks, timers with overlap policies, wall-clock and cron schedules with DST, scheduler |
//! | `sync` | `wrangle-sync` | `sync` | priority semaphore, rate limiters, lockouts, dual sync/async queues, batching, blocking-iterator bridge |
//! | `cache` | `wrangle-cache` | `cache` | cache with TTL and time to idle on the runtime's clock, S3-FIFO or exact LRU, per-key single-flight loads, memoized functions with preemptive loads and refresh-ahead |
//! | `io` | `wrangle-io` | `io` | reconnecting byte streams and message streams, backoff with jitter, TCP and Unix connectors |
//! | `debounce` | `wrangle-debounce` | `debounce` | coalescing debouncer with shared results (eager, lazy, lodash trailing with max wait), fire-and-forget debouncer, debounce/throttle stream adaptors |
//! | `redis` | `wrangle-redis` | `redis` (not in `full`) | across processes on Redis: GCRA rate limiter on the server's clock, leases with fencing tokens, cooldown lockouts, singleton tasks, exactly-once schedules, a shared cache tier |
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use wrangle::{DefaultRuntime, Runtime};
//!
//! wrangle::rt::block_on(async {
//!     // Tokio inside a Tokio context, smol otherwise, virtual time inside a VirtualRuntime.
//!     let rt = DefaultRuntime::current();
//!     let handle = rt.spawn(async { 6 * 7 });
//!     assert_eq!(handle.await.unwrap(), 42);
//!     let r = rt.timeout(Duration::from_millis(1), std::future::pending::<()>()).await;
//!     assert!(r.is_err());
//! });
//! ```
//!
//! # Features
//!
//! - `runtime-tokio`, `runtime-smol`, `runtime-async-std` (legacy): runtime adapters, forwarded
//!   to `wrangle-rt`; additive, any combination builds. **None is on by default**: enable the
//!   one your app runs on, so a Tokio app compiles no smol and a smol app no Tokio:
//!
//!   ```toml
//!   wrangle = { version = "0.1", features = ["runtime-tokio"] }
//!   ```
//!
//!   Without a runtime feature, types built with the default runtime work only inside a
//!   `VirtualRuntime`, or where you made a runtime the default with `DefaultRuntime::enter`;
//!   elsewhere they panic with a message that names the feature to enable.
//! - `full` (default): every crate of the suite.
//! - `task`, `pool`, `timer`, `sync`, `cache`, `io`, `debounce`: one feature per crate.
//! - `redis`: `wrangle-redis`, not part of `full`: it compiles redis-rs (with the Tokio crates
//!   redis-rs always depends on) and is only useful with a Redis server. `redis-tls` adds
//!   `rediss://` (TLS, which most managed Redis services require) and `redis-cluster` a Redis
//!   Cluster; each implies `redis`.
//! - `signal`: graceful stop on SIGINT/SIGTERM in `task::Supervisor` and `task::Server`.
//! - `tracing`: unhandled errors become `tracing` events, and pooled tasks, scope and
//!   supervisor children and timer calls get spans with their life's events (names set with
//!   `spawn_named` or a builder's `name`; see `docs/architecture.md`, "Tracing spans").
//! - `sink`: `futures_sink::Sink` for the sending sides that are sinks (`sync::stream::QueueSender` and
//!   `sync::stream::BatchSender`).
//!
//! # Runtime support
//!
//! See [`rt`]: Tokio (current-thread and multi-thread), smol, async-std (legacy), and the
//! virtual-time runtime, all behind one [`Runtime`] trait.
//!
//! # When not to use this
//!
//! If you use one runtime and its own utility crate already has what you need (tokio-util for
//! Tokio), you gain little. wrangle pays off when code must run on more than one runtime, or when
//! you want its timing behaviour testable on virtual time.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use wrangle_rt as rt;

#[cfg(feature = "cache")]
#[doc(inline)]
pub use wrangle_cache as cache;
#[cfg(feature = "debounce")]
#[doc(inline)]
pub use wrangle_debounce as debounce;
#[cfg(feature = "io")]
#[doc(inline)]
pub use wrangle_io as io;
#[cfg(feature = "pool")]
#[doc(inline)]
pub use wrangle_pool as pool;
#[cfg(feature = "redis")]
#[doc(inline)]
pub use wrangle_redis as redis;
#[cfg(feature = "sync")]
#[doc(inline)]
pub use wrangle_sync as sync;
#[cfg(feature = "task")]
#[doc(inline)]
pub use wrangle_task as task;
#[cfg(feature = "timer")]
#[doc(inline)]
pub use wrangle_timer as timer;

#[doc(no_inline)]
pub use wrangle_rt::{CancellationToken, DefaultRuntime, JoinError, JoinHandle, Runtime, Sleep};

/// Compiles and runs every Rust example of `docs/from-python.md` as a doctest, so the guide
/// follows the API. `cfg(doctest)`: the file is outside the crate, and `cargo package` must not
/// need it.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/from-python.md")]
pub struct FromPythonGuide;

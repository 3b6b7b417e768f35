//! Robust I/O: byte streams and message streams that reconnect by themselves, with backoff and
//! jitter, on any runtime.
//!
//! - [`RobustStream`]: an `AsyncRead + AsyncBufRead + AsyncWrite` over connections that a
//!   [`Connector`] makes (called anew for every attempt, so addresses and credentials may
//!   change). Opening does not wait for the first connection ([`connected`] waits when you
//!   want to); writes wait for a connection; reads wait for the reconnection instead of
//!   reporting end-of-file; bytes received before a loss and not yet read are kept.
//! - [`RobustSink`]: the same for message transports (a `Stream + Sink` per connection: a
//!   codec's framed stream, a websocket).
//! - [`Backoff`]: exponential with full or decorrelated jitter applied after the cap, constant
//!   or custom policies, limits on attempts or on elapsed time, all on the runtime's clock.
//! - [`connect`]: TCP and Unix-socket connectors (async-io; Tokio's with the `tokio`
//!   feature). TLS and the like go in a connector of your own (see [`connect`]).
//! - Lifecycle [`Events`] (connected, disconnected with the cause, attempt failed, closed) as
//!   a `Stream`, [`ReconnectStats`] counters, a [`ReconnectHandle`] to close and watch from
//!   other tasks.
//! - [`pipe`]: in-memory byte and message pipes, so reconnection logic is testable exactly
//!   on virtual time.
//!
//! Both types reconnect until they are closed on purpose ([`RobustStream::close`], a graceful
//! `close` of the I/O traits, or drop) or until the backoff policy gives up. What is delivered
//! around a disconnect is documented on each type: **at most once, in order**; nothing is ever
//! written twice.
//!
//! [`connected`]: RobustStream::connected
//!
//! # Examples
//!
//! A client that keeps a session with a server that restarts. Over TCP the connector would be
//! [`connect::tcp`]; here in-memory pipes stand in, so the whole run is exact on virtual time:
//! the server dies at 1 s, the client notices at once, waits its backoff (200 ms before the
//! first attempt) and resumes.
//!
//! ```
//! use futures_lite::io::{AsyncBufReadExt, AsyncWriteExt};
//! use futures_lite::StreamExt;
//! use std::time::Duration;
//! use wrangle_io::{Backoff, Event, Jitter, RobustStream};
//! use wrangle_rt::{Runtime, VirtualRuntime};
//!
//! let rt = VirtualRuntime::new();
//! let start = rt.now();
//! rt.block_on(async {
//!     let (to_server, accepted) = async_channel::unbounded();
//!     let mut client = RobustStream::builder(move || {
//!         let to_server = to_server.clone();
//!         async move {
//!             let (client, server) = wrangle_io::pipe::duplex(1024);
//!             to_server.send(server).await.unwrap();
//!             Ok::<_, std::io::Error>(client)
//!         }
//!     })
//!     .backoff(Backoff::exponential(Duration::from_millis(200), Duration::from_secs(5)).jitter(Jitter::None))
//!     .build_with_runtime(rt.clone())
//!     .unwrap();
//!     let mut events = client.events();
//!
//!     // The server: greets each connection; the first one dies after a second.
//!     let server = rt.spawn({
//!         let rt = rt.clone();
//!         async move {
//!             for n in 1..=2 {
//!                 let mut conn = accepted.recv().await.unwrap();
//!                 conn.write_all(format!("hello #{n}\n").as_bytes()).await.unwrap();
//!                 if n == 1 {
//!                     rt.sleep(Duration::from_secs(1)).await;
//!                 } else {
//!                     return conn;
//!                 }
//!             }
//!             unreachable!()
//!         }
//!     });
//!
//!     let mut line = String::new();
//!     client.read_line(&mut line).await.unwrap();
//!     assert_eq!(line, "hello #1\n");
//!     line.clear();
//!     client.read_line(&mut line).await.unwrap(); // waits across the reconnect
//!     assert_eq!(line, "hello #2\n");
//!
//!     let mut kinds = Vec::new();
//!     for _ in 0..3 {
//!         kinds.push(match events.next().await.unwrap() {
//!             Event::Connected { connection } => format!("connected #{connection}"),
//!             Event::Disconnected { cause, .. } => format!("lost: {cause}"),
//!             other => format!("{other:?}"),
//!         });
//!     }
//!     assert_eq!(kinds, ["connected #1", "lost: closed by the peer", "connected #2"]);
//!     let _conn = server.await.unwrap();
//! });
//! // 200 ms before the first connection, 1 s up, 200 ms before the second.
//! assert_eq!(rt.now() - start, Duration::from_millis(1400));
//! ```
//!
//! # Features
//!
//! - `runtime-tokio`, `runtime-smol`, `runtime-async-std` (legacy): forwarded to `wrangle-rt`,
//!   so picking this crate alone can pick its runtime.
//! - `tokio`: Tokio's `AsyncRead`/`AsyncBufRead`/`AsyncWrite` on [`RobustStream`],
//!   `TokioIo`, and the connectors `connect::tokio_tcp` and `connect::tokio_unix`
//!   (ADR 0061). Independent of `runtime-tokio`.
//!
//! # Runtime support
//!
//! The connect loop is a task spawned through [`wrangle_rt::Runtime`], and every wait (backoff,
//! connect timeout) is the runtime's sleep, so everything runs on Tokio, smol, async-std and
//! exactly on virtual time. The async-io connectors work on every runtime (async-io runs its
//! own reactor thread where the runtime is not async-io based); the Tokio connectors need a
//! Tokio runtime. Over real sockets, use a real runtime: the virtual clock jumps ahead while
//! the kernel works.
//!
//! # When not to use this
//!
//! If losing a connection should end the work (a request that must fail fast), a plain stream
//! and an error are simpler. If every byte or message must arrive, reconnecting is only half
//! the answer: the protocol needs acknowledgements and resends, which no transport wrapper can
//! know how to do; build them on top (the [`Event::Disconnected`] event tells you when).

#![forbid(unsafe_code)]
// The crate docs mention items of the `tokio` feature; published docs build with every feature.
#![cfg_attr(not(feature = "tokio"), allow(rustdoc::broken_intra_doc_links))]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod config;
pub mod connect;
mod connector;
mod core;
mod driver;
mod error;
mod event;
pub mod future;
mod handle;
mod io_ops;
mod loom;
pub mod pipe;
mod rng;
mod sink;
mod stats;
mod stream;
#[cfg(feature = "tokio")]
mod tokio_io;

pub use backoff::{Backoff, BackoffSchedule, Jitter};
pub use connector::Connector;
pub use error::{CloseReason, Closed, InvalidBackoff, InvalidReconnectConfig};
pub use event::{AttemptError, DisconnectCause, Event, Events, SharedError};
pub use handle::ReconnectHandle;
pub use sink::{RobustSink, RobustSinkBuilder};
pub use stats::ReconnectStats;
pub use stream::{RobustStream, RobustStreamBuilder};
#[cfg(feature = "tokio")]
pub use tokio_io::TokioIo;

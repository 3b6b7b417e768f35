//! Runtime-agnostic async synchronisation: a priority semaphore, rate limiters, lockouts,
//! batching and a blocking-iterator bridge.
//!
//! - [`PrioritySemaphore`]: a strictly fair semaphore whose waiters are served by
//!   `(priority, arrival)`, with `acquire_many`, owned permits, blocking acquire for threads,
//!   `add_permits`/`forget_permits`, `close`, and no stranded permits when a waiter is
//!   cancelled after being served.
//! - [`RateLimiter`] (sliding window: N per period), [`GcraLimiter`] (rate + burst, lock-free
//!   `check`) and [`KeyedLimiter`] (GCRA per key, bounded memory, a hasher of your choice):
//!   `check()` never waits, `acquire().await` waits its turn (FIFO) on the runtime's timer,
//!   optionally with `.jitter(max)`; `check_n`/`acquire_n` take several cells at once. The
//!   GCRA limiters also take a governor-style [`Quota`].
//! - [`Batcher`]: batches by `max_quantity` or `max_wait` (a deadline from the batch's first
//!   item) for an async callback, with `flush` (sends what is buffered now), `close` (sends
//!   the rest at once and refuses new items) and `shutdown` (also waits for the callbacks); [`stream::batch_channel`]: the same with the batches read as a
//!   `Stream`; [`stream::ChunksTimeout`]: the rules as a stream adaptor.
//! - [`stream::IterStream`]: a blocking `Iterator` on a blocking thread, streamed
//!   asynchronously with bounded read-ahead; panics arrive after the items before them; early
//!   drop stops it.
//! - [`DualQueue`]: FIFO, LIFO or priority queue, bounded or not, with blocking (thread) and
//!   async (task) puts and gets usable at the same time, `try_` forms, `close`,
//!   `task_done`/`join`, a `reserve` send that loses nothing when cancelled, `force_put`
//!   (evicting), and [`split`](DualQueue::split) into counted sending and receiving handles
//!   (a `Sink` and a `Stream`) that close the queue when the last of either kind is gone.
//! - [`Lockout`], [`FifoLockout`], [`KeyedLockout`], [`KeyedFifoLockout`]: gates closed by
//!   stacking lockouts ("back off for 30 s after a 429"); the FIFO ones admit one holder at a
//!   time (per key) in arrival order.
//!
//! The crate root holds the primitives, their guards, errors and stats; the futures their
//! async methods return are in [`future`], and the stream types in [`stream`]. Every stateful
//! type has `stats()`, returning a `Copy` snapshot whose invariant its docs state:
//! [`SemaphoreStats`], [`LimiterStats`] (all three limiters), [`LockoutStats`] (all four
//! lockouts), [`QueueStats`], [`BatcherStats`].
//!
//! Everything here is runtime-free where the logic allows (wakers only); what needs time
//! reads it and sleeps only through a [`wrangle_rt::Runtime`], so it runs on Tokio, smol,
//! async-std, and exactly on virtual time in tests.
//!
//! # Examples
//!
//! A client that calls a remote API: at most 2 requests in flight (urgent ones first), at most
//! 5 per second, and everyone backs off when the server answers "429, retry after 2 s". On
//! virtual time the whole run is exact and instant.
//!
//! ```
//! use std::num::NonZeroU32;
//! use std::sync::Arc;
//! use std::time::Duration;
//! use wrangle_rt::{Runtime, VirtualRuntime};
//! use wrangle_sync::{Lockout, PrioritySemaphore, RateLimiter};
//!
//! struct Client {
//!     in_flight: PrioritySemaphore,
//!     rate: RateLimiter<VirtualRuntime>,
//!     backoff: Lockout<VirtualRuntime>,
//! }
//!
//! impl Client {
//!     async fn call(&self, rt: &VirtualRuntime, urgent: bool, request: u32) -> u32 {
//!         let _slot = self.in_flight.acquire().priority(if urgent { 0 } else { 10 }).await.unwrap();
//!         self.backoff.wait().await;
//!         self.rate.acquire().await;
//!         rt.sleep(Duration::from_millis(50)).await; // the request itself
//!         if request == 3 {
//!             self.backoff.lockout_for(Duration::from_secs(2)); // "429, retry after 2 s"
//!         }
//!         request
//!     }
//! }
//!
//! let rt = VirtualRuntime::new();
//! let start = rt.now();
//! let client = Arc::new(Client {
//!     in_flight: PrioritySemaphore::new(2),
//!     rate: RateLimiter::with_runtime(rt.clone(), NonZeroU32::new(5).unwrap(), Duration::from_secs(1))
//!         .unwrap(),
//!     backoff: Lockout::with_runtime(rt.clone()),
//! });
//! rt.block_on(async {
//!     let calls: Vec<_> = (0..8)
//!         .map(|i| {
//!             let (client, rt2) = (Arc::clone(&client), rt.clone());
//!             rt.spawn(async move { client.call(&rt2, i % 4 == 0, i).await })
//!         })
//!         .collect();
//!     for call in calls {
//!         call.await.unwrap();
//!     }
//! });
//! // Five in the first second, a 2 s back-off after request 3, then the rest.
//! assert!(rt.now() - start >= Duration::from_secs(2));
//! assert_eq!(client.in_flight.stats().acquired, 8);
//! assert_eq!(client.rate.stats().admitted, 8);
//! ```
//!
//! # Features
//!
//! Runtimes are chosen through `wrangle-rt`'s features (forwarded here as `runtime-*`, or
//! through the `wrangle` facade's). Of its own, the crate has one:
//!
//! - `sink`: [`stream::QueueSender`] and [`stream::BatchSender`] implement
//!   `futures_sink::Sink`, so a stream can be `forward`ed into a split queue or a batch
//!   channel (one small dependency, `futures-sink`).
//!
//! # Runtime support
//!
//! Every primitive works on every runtime `wrangle-rt` supports, and from plain threads where
//! a method says so. Types that wait on time are generic over `R: Runtime` (default
//! [`DefaultRuntime`](wrangle_rt::DefaultRuntime)).
//!
//! # When not to use this
//!
//! If plain FIFO fairness is all you need and you are on Tokio, `tokio::sync::Semaphore` is
//! lock-free on its fast path. For a distributed rate limit (several processes), use a shared
//! store, not an in-process limiter.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod contain;
mod iter_stream;
mod limiter;
mod lockout;
mod loom;
mod queue;
mod semaphore;
mod sweep;

pub mod future {
    //! The named futures of this crate's primitives: each is what an async method returns
    //! (`sem.acquire()` is an [`Acquire`]), documents its cancel safety, and is rarely named
    //! in user code except to store or return it.

    pub use crate::batch::{Flush, Shutdown};
    pub use crate::limiter::{GcraAcquire, KeyedAcquire, RateAcquire};
    pub use crate::lockout::{Enter, KeyedEnter, KeyedLockoutWait, LockoutWait};
    pub use crate::queue::{Closed, Get, Join, Put, Reserve};
    pub use crate::semaphore::{Acquire, AcquireOwned};
}

pub mod builder {
    //! The builders of this crate's primitives, reached through their `builder()` constructors
    //! (`DualQueue::builder()` is a [`DualQueueBuilder`]) and, like the named futures, rarely
    //! named in user code except to store or return one.

    pub use crate::queue::DualQueueBuilder;
}

pub mod stream {
    //! The stream types: [`IterStream`] (a blocking iterator streamed asynchronously),
    //! [`ChunksTimeout`] (the batching rules as a stream adaptor), [`batch_channel`] (a
    //! batcher whose batches are read as a stream: [`BatchSender`] in, [`Batches`] out) and
    //! the two halves of a [split](crate::DualQueue::split) queue ([`QueueSender`] in, a
    //! `Sink` with the `sink` feature; [`QueueReceiver`] out, a `Stream`). The callback form
    //! of batching, [`Batcher`](crate::Batcher), is at the crate root.

    pub use crate::batch::{
        BatchSender, Batches, ChunksTimeout, batch_channel, batch_channel_with_runtime,
    };
    pub use crate::iter_stream::IterStream;
    #[cfg(feature = "sink")]
    pub use crate::queue::QueueSinkError;
    pub use crate::queue::{QueueReceiver, QueueSender};
}

pub use batch::{Batcher, BatcherClosed, BatcherStats, InvalidBatchConfig};
pub use limiter::{
    GcraLimiter, InsufficientCapacity, InvalidQuota, KeyedLimiter, LimiterStats, Quota,
    RateLimited, RateLimiter,
};
pub use lockout::{
    FifoLockout, FifoLockoutGuard, KeyedFifoLockout, KeyedFifoLockoutGuard, KeyedLockout, Lockout,
    LockoutStats,
};
pub use queue::{
    DualQueue, GetError, PutError, PutPermit, QueueClosed, QueueStats, TaskDoneError, TryPutError,
};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Priority, PrioritySemaphore, SemaphorePermit,
    SemaphoreStats, TooManyPermits, TryAcquireError,
};

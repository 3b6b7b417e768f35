//! wrangle's shared-state primitives across processes and machines, on Redis (or Valkey).
//!
//! A service that runs as several replicas needs its limits and cooldowns to hold across
//! all of them: three replicas with an in-process "100 per second" limiter let 300 through.
//! This crate keeps that state in Redis, with the shapes of wrangle's in-process primitives:
//!
//! - [`RedisLimiter`]: GCRA (as `wrangle_sync::GcraLimiter`) evaluated atomically on the
//!   server by one Lua script, called by its hash (`EVALSHA`, reloaded on `NOSCRIPT`), on the
//!   server's clock, per key; [`check`](RedisLimiter::check),
//!   [`check_n`](RedisLimiter::check_n), and [`acquire`](RedisLimiter::acquire), which waits
//!   on the wrangle runtime's timer for the time the server said. When Redis is unreachable,
//!   the policy you chose applies ([`OnUnavailable`]).
//! - [`RedisLease`]: one holder at a time, a strictly growing fencing token, renewed in the
//!   background while held, released on drop or on purpose, and lost visibly
//!   ([`lost`](RedisLease::lost), [`is_held`](RedisLease::is_held)).
//! - [`RedisLockout`]: a cooldown per key ([`lockout_for`](RedisLockout::lockout_for)) and a
//!   [`wait`](RedisLockout::wait) that ends when every replica's lockout on it has passed.
//! - [`RedisSingleton`]: a background task that runs on one replica at a time, on a lease,
//!   taken over by another replica within the lease time plus one renewal interval when its
//!   process dies.
//! - [`RedisSchedule`]: a wrangle-timer [`Schedule`](wrangle_timer::Schedule) (interval
//!   grid, cron, your own) run by every replica, each fire time claimed on Redis
//!   (`SET <name>:<ms> NX PX`) so that it runs on exactly one; the timer's misfire, overlap
//!   and failure policies per replica, catch-up runs claimed too.
//! - [`RedisCache`]: a cache tier shared by the replicas: values in Redis with a time to
//!   live, encoded by your [`RedisCodec`], a missing value loaded by one replica while the
//!   others wait for it, and wrangle-cache's in-process cache in front.
//! - [`Redis`]: the shared handle: one multiplexed connection, opened lazily, replaced
//!   after failures, every call under a timeout; errors are typed ([`RedisError`],
//!   [`RedisErrorKind`]), never a panic or a hang.
//!
//! Decisions use the server's clock; waits use the wrangle runtime's timer. The server's
//! I/O is real even on the virtual runtime: calls hold its clock while in flight.
//!
//! # Examples
//!
//! ```no_run
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use wrangle_redis::{Redis, RedisLimiter, RedisLockout};
//!
//! # wrangle_rt::VirtualRuntime::new().block_on(async {
//! let redis = Redis::open("redis://127.0.0.1:6379/").unwrap();
//! let upstream = RedisLimiter::builder(redis.clone(), NonZeroU32::new(50).unwrap(), Duration::from_secs(1))
//!     .burst(NonZeroU32::new(10).unwrap())
//!     .build()
//!     .unwrap();
//! let cooldown = RedisLockout::new(redis, "cooldown:");
//!
//! // Every replica runs this: together they call the upstream at most 50 times a second,
//! // and all of them back off when it says so.
//! cooldown.wait("upstream").await.unwrap();
//! upstream.acquire("upstream").await.unwrap();
//! let status = 429; // call the upstream
//! if status == 429 {
//!     cooldown.lockout_for("upstream", Duration::from_secs(5)).await.unwrap();
//! }
//! # });
//! ```
//!
//! # Features
//!
//! - `runtime-tokio`, `runtime-smol`, `runtime-async-std`: forwarded to wrangle-rt.
//!   redis-rs's smol driver is always built (it works under every runtime); `runtime-tokio`
//!   adds its Tokio driver, used inside a Tokio context (ADR 0100).
//! - `tls`: `rediss://` URLs, private root certificates and client certificates (rustls
//!   with the ring provider; ADR 0101).
//! - `cluster`: `Redis::cluster_builder`, a Redis Cluster routed by key slot (ADR 0101).
//!
//! [`Redis`] says how to point a handle at one server, a managed Redis, TLS or a cluster.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod client;
mod error;
pub mod future;
mod input;
mod lease;
mod limiter;
mod lockout;
mod policy;
mod schedule;
mod singleton;

pub use cache::{
    BytesCodec, MAX_VALUE_LEN, RedisCache, RedisCacheBuilder, RedisCacheError, RedisCacheStats,
    RedisCodec, Utf8Codec,
};
pub use client::{InvalidRedisConfig, Redis, RedisBuilder, RedisStats};
pub use error::{RedisError, RedisErrorKind};
pub use input::{MAX_DURATION, MAX_KEY_LEN};
pub use lease::RedisLease;
pub use limiter::{
    InvalidLimiterConfig, RedisLimitError, RedisLimiter, RedisLimiterBuilder, RedisLimiterStats,
};
pub use lockout::RedisLockout;
pub use policy::OnUnavailable;
pub use schedule::{RedisSchedule, RedisScheduleBuilder, RedisScheduleStats};
pub use singleton::{RedisSingleton, RedisSingletonStats};

//! Runtime-agnostic timers: drift-free intervals with explicit missed-tick policies, periodic
//! tasks, wall-clock and cron schedules with documented DST rules, and a scheduler.
//!
//! Every sleep and every clock read goes through [`wrangle_rt::Runtime`], so all of it runs on
//! Tokio, smol, async-std, and on the deterministic virtual-time runtime, where timing tests are
//! exact and instant.
//!
//! - [`Interval`]: ticks on a fixed monotonic grid with no cumulative drift, a [`MissedTick`]
//!   policy you must choose (burst, delay, skip), resettable; a `Stream`.
//! - [`PeriodicTask`]: calls that never overlap, one period apart from start to start, the
//!   first at once; failures reported, then continue or stop ([`FailurePolicy`]).
//! - [`Timer`]: a tick task on a fixed grid from t = 0, each tick its own task, with an
//!   [`Overlap`] policy (allow overlapping ticks, replace the unfinished one, skip, queue).
//! - [`WallSchedule`]: one wall-clock instant or a grid anchored on a `jiff::Zoned` (intervals
//!   of a day or more keep the civil time across DST, shorter ones are elapsed time);
//!   [`CronSchedule`]: cron expressions in a time zone, with gap and overlap rules.
//! - [`ScheduledTask`]: runs a function at the instants of any [`Schedule`], with [`Overlap`]
//!   (skip, queue, replace, allow with a concurrency bound) and [`Misfire`] (skip, run once,
//!   run all) policies; survives wall-clock jumps and suspends.
//! - [`Scheduler`]: payloads due at wall-clock instants, delivered as a stream in time order.
//!
//! Types that own tasks ([`PeriodicTask`], [`Timer`], [`ScheduledTask`]) cancel them when
//! dropped, without waiting; their `abort()` requests the same, and their `cancel()` also
//! waits until every task is gone and returns the final stats ([`future::Cancel`]). Every
//! stateful type has `stats()`, with the field names of the whole workspace (`started`,
//! `completed`, `failed`, `cancelled`, `skipped`, `running`...). Failures nobody awaits go to
//! the owner's [`wrangle_rt::ErrorReporter`]; a panic of user code is reported as a
//! [`wrangle_rt::PanicPayload`]. Named futures live in [`future`].
//!
//! | type | verbs | stats fields |
//! |---|---|---|
//! | [`Interval`] | `tick`, `reset*` | `started`, `late`, `skipped` |
//! | [`PeriodicTask`] | `abort`, `cancel` | `started`, `completed`, `failed`, `cancelled`, `running` |
//! | [`Timer`] | `abort`, `cancel` | `started`, `completed`, `failed`, `cancelled`, `skipped`, `running` |
//! | [`ScheduledTask`] | `abort`, `cancel` | as `Timer`, plus `schedule_panicked` |
//! | [`Scheduler`] | `schedule`, `remove`, `close`, `next_due` | `submitted`, `completed`, `cancelled`, `queued` |
//!
//! # Examples
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use jiff::{SignedDuration, tz::TimeZone};
//! use wrangle_rt::{Runtime, VirtualRuntime};
//! use wrangle_timer::{
//!     CronSchedule, Interval, MissedTick, PeriodicTask, ScheduledTask, Scheduler,
//! };
//!
//! let rt = VirtualRuntime::new();
//! let log = Arc::new(Mutex::new(Vec::new()));
//! rt.block_on(async {
//!     // A drift-free interval.
//!     let mut iv = Interval::with_runtime(rt.clone(), Duration::from_secs(1), MissedTick::Skip)
//!         .unwrap();
//!     let first = iv.tick().await;
//!     assert_eq!(iv.tick().await - first, Duration::from_secs(1));
//!
//!     // A periodic task and a cron job, side by side.
//!     let heartbeat = {
//!         let log = log.clone();
//!         PeriodicTask::with_runtime(rt.clone(), Duration::from_secs(20), move || {
//!             let log = log.clone();
//!             async move { log.lock().unwrap().push("heartbeat") }
//!         })
//!         .unwrap()
//!     };
//!     let cron = CronSchedule::parse("*/30 * * * * *", TimeZone::UTC).unwrap();
//!     let job = {
//!         let log = log.clone();
//!         ScheduledTask::with_runtime(rt.clone(), cron, move |_at: jiff::Timestamp| {
//!             let log = log.clone();
//!             async move { log.lock().unwrap().push("cron") }
//!         })
//!         .unwrap()
//!     };
//!
//!     // A scheduler of payloads due at wall-clock instants.
//!     let mut scheduler = Scheduler::with_runtime(rt.clone());
//!     scheduler.schedule(rt.wall_now() + SignedDuration::from_secs(45), "reminder").unwrap();
//!     assert_eq!(scheduler.next_due().await, Some("reminder"));
//!
//!     heartbeat.cancel().await;
//!     job.cancel().await;
//! });
//! // Virtual time started at 00:00:00 and the interval used one second: heartbeats at
//! // 1 s, 21 s, 41 s; the cron job at 30 s.
//! assert_eq!(*log.lock().unwrap(), ["heartbeat", "heartbeat", "cron", "heartbeat"]);
//! ```
//!
//! # Features
//!
//! Runtimes are chosen through `wrangle-rt`'s features (or the `wrangle` facade's), forwarded
//! as `runtime-*`. The time zone database is bundled (jiff's `tzdb-bundle-always`), so DST
//! behaviour is the same on every machine.
//!
//! - `tracing`: a `timer.tick` span for each call a timer makes (a periodic tick, a scheduled
//!   firing, a one-shot timer), carrying the component's `name` (set on its builder) as
//!   `task.name`, with events when the call is spawned, started, finished, failed, panicked or
//!   cancelled. Compiled out without the feature.
//!
//! # Runtime support
//!
//! Everything is generic over [`wrangle_rt::Runtime`]: each type has a `new` (or `builder`)
//! that uses [`wrangle_rt::DefaultRuntime::current`], a `with_runtime(rt, ..)` variant (the
//! runtime by value, first), and its builder a `.runtime(rt)` setter. Tested on
//! Tokio (current-thread and multi-thread), smol, async-std and the virtual-time runtime.
//! Wall-clock waits sleep on the monotonic clock for at most [`DEFAULT_MAX_SLEEP`] at a time
//! (set with the builders' `max_sleep`) and re-read the wall clock, because no runtime offers
//! a wall-clock sleep.
//!
//! # When not to use this
//!
//! For a single `sleep` or `timeout`, use [`wrangle_rt::Runtime`] directly. For jobs that must
//! survive a process restart, you need persistence, which this crate does not have. Cron
//! support covers standard five- and six-field expressions, not Quartz extensions (`L`, `W`,
//! `#`).

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The `jiff` crate, re-exported: the wall-clock types of this crate's API
/// ([`Timestamp`](jiff::Timestamp), [`Zoned`](jiff::Zoned), [`TimeZone`](jiff::tz::TimeZone),
/// [`SignedDuration`](jiff::SignedDuration)) come from it.
pub use jiff;

mod cron;
mod driver;
mod error;
mod interval;
mod periodic;
mod schedule;
mod scheduled;
mod scheduler;
mod timer;
#[cfg(feature = "tracing")]
mod trace;
mod tracked_call;
mod wall;
mod wall_sleep;

pub mod future {
    //! The named futures of this crate's async operations.
    //!
    //! Each is `#[must_use]`, implements `Debug`, and documents its cancel safety on the
    //! method that returns it.

    pub use crate::driver::Cancel;
    pub use crate::interval::Tick;
    pub use crate::scheduler::NextDue;
}

pub use cron::{CronError, CronSchedule};
pub use error::ConfigError;
pub use interval::{Interval, IntervalStats, MissedTick};
pub use periodic::{FailurePolicy, PeriodicBuilder, PeriodicStats, PeriodicTask};
pub use schedule::Schedule;
pub use scheduled::{Misfire, Overlap, ScheduledBuilder, ScheduledStats, ScheduledTask};
pub use scheduler::{
    ScheduleKey, Scheduler, SchedulerBuilder, SchedulerClosed, SchedulerHandle, SchedulerStats,
};
pub use timer::{Timer, TimerBuilder, TimerStats, TimerTick};
pub use wall::WallSchedule;
pub use wall_sleep::DEFAULT_MAX_SLEEP;

//! Runtime-agnostic timers: drift-free intervals, periodic tasks, wall-clock schedules.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod call;
mod error;
mod interval;
mod missed_tick;
mod outcome;
mod periodic;
mod stop;
mod timer;

pub use error::ConfigError;
pub use interval::{Interval, IntervalStats, Tick};
pub use missed_tick::MissedTick;
pub use outcome::{ErrorPolicy, Outcome};
pub use periodic::{PeriodicBuilder, PeriodicStats, PeriodicTask};
pub use stop::Stop;
pub use timer::{DelayPolicy, Timer, TimerBuilder, TimerStats, TimerTick};

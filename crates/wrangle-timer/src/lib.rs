//! Runtime-agnostic timers: drift-free intervals, periodic tasks, wall-clock schedules.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod call;
mod cron;
mod cron_error;
mod cron_field;
mod error;
mod interval;
mod missed_tick;
mod outcome;
mod periodic;
mod policy;
mod schedule;
mod scheduled;
mod scheduler;
mod stop;
mod timer;
mod wall;

pub use cron::CronSchedule;
pub use cron_error::CronError;
pub use error::ConfigError;
pub use interval::{Interval, IntervalStats, Tick};
pub use missed_tick::MissedTick;
pub use outcome::{ErrorPolicy, Outcome};
pub use periodic::{PeriodicBuilder, PeriodicStats, PeriodicTask};
pub use policy::{Misfire, Overlap};
pub use schedule::Schedule;
pub use scheduled::{DEFAULT_MAX_SLEEP, ScheduledBuilder, ScheduledStats, ScheduledTask};
pub use scheduler::{
    NextDue, ScheduleToken, Scheduler, SchedulerClosed, SchedulerHandle, SchedulerStats,
};
pub use stop::Stop;
pub use timer::{DelayPolicy, Timer, TimerBuilder, TimerStats, TimerTick};
pub use wall::WallSchedule;

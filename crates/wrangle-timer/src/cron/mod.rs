//! Cron expressions: [`CronSchedule`] (parsing and the DST rules), its fields, and
//! [`CronError`].

mod error;
mod field;
mod schedule;

pub use error::CronError;
pub use schedule::CronSchedule;

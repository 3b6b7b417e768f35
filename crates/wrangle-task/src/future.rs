//! The named futures of the crate's async operations: each is `#[must_use]`, implements
//! `Debug`, and documents its cancel safety where the operation that returns it is documented.

pub use crate::cancel::as_completed::CancelRemaining;
pub use crate::cancel::gather::Gather;
pub use crate::cancel::race::Race;
pub use crate::cancel::shield::Shield;
pub use crate::cancel::{CancelAll, CancelTask};
pub use crate::lifecycle::background::{BackgroundCancel, BackgroundWait};
pub use crate::lifecycle::exit_group::EnterAll;
pub use crate::lifecycle::exit_stack::{Defer, Unwind};
pub use crate::lifecycle::restartable::{RestartCancel, RestartWait};
pub use crate::scope::{MoveOn, ScopeRun};
pub use crate::set::future::{Drain, JoinNext, JoinNextWithId};
pub use crate::supervisor::run::SupervisorRun;
pub use crate::supervisor::server::Serve;

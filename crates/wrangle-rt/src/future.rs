//! The named futures of wrangle-rt.
//!
//! The types here are what the crate's async operations return; you rarely name them, except
//! to store one in a struct or to implement [`Runtime`](crate::Runtime) yourself.

#[cfg(any(feature = "runtime-smol", feature = "runtime-async-std"))]
pub use crate::adapter::async_io_sleep::AsyncIoSleep;
#[cfg(feature = "runtime-tokio")]
pub use crate::adapter::tokio::TokioSleep;
pub use crate::default::DefaultSleep;
pub use crate::enter::Scoped;
pub use crate::join::Cancel;
pub use crate::thread::CancelThread;
pub use crate::time::{Timeout, YieldNow};
pub use crate::token::{
    RunUntilCancelled, RunUntilCancelledOwned, WaitForCancellation, WaitForCancellationOwned,
};
pub use crate::virtual_time::advance::{Advance, AdvanceToNext};
pub use crate::virtual_time::sleep::VirtualSleep;

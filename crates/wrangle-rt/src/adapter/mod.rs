//! Adapters for concrete runtimes, each behind its feature, and the pieces for writing your
//! own: [`task_pair`] and [`blocking_pair`] give any executor wrangle's [`JoinHandle`](crate::JoinHandle)
//! semantics, [`fast_nanos`] is a cheap monotonic clock for
//! [`Runtime::monotonic_nanos`](crate::Runtime::monotonic_nanos), and [`ErasedRuntime`] puts
//! any runtime behind one type so it can be the [`DefaultRuntime`](crate::DefaultRuntime).

#[cfg(any(feature = "runtime-smol", feature = "runtime-async-std"))]
pub(crate) mod async_io_sleep;
#[cfg(feature = "runtime-async-std")]
pub(crate) mod async_std;
pub(crate) mod erased;
#[cfg(feature = "runtime-smol")]
pub(crate) mod smol;
pub(crate) mod task_cell;
#[cfg(feature = "runtime-tokio")]
pub(crate) mod tokio;

#[cfg(feature = "runtime-async-std")]
pub use async_std::AsyncStdRuntime;
pub use erased::{ErasedRuntime, ErasedSleep};
#[cfg(feature = "runtime-smol")]
pub use smol::SmolRuntime;
pub use task_cell::{BlockingCell, TaskCell, blocking_pair, task_pair};
#[cfg(feature = "runtime-tokio")]
pub use tokio::TokioRuntime;

pub use crate::time::fast_nanos;

//! Adapters for concrete runtimes, each behind its feature.

#[cfg(any(feature = "runtime-smol", feature = "runtime-async-std"))]
pub(crate) mod async_io_sleep;
#[cfg(feature = "runtime-async-std")]
pub(crate) mod async_std;
#[cfg(feature = "runtime-smol")]
pub(crate) mod smol;
#[cfg(feature = "runtime-tokio")]
pub(crate) mod tokio;

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_lite::FutureExt;

use crate::join::Caught;

/// Wraps a future so that a panic inside it becomes its output, never an unwinding executor.
#[allow(dead_code)] // Unused when no adapter feature is enabled.
pub(crate) fn catch<F: Future>(future: F) -> impl Future<Output = Caught<F::Output>> {
    AssertUnwindSafe(future).catch_unwind()
}

//! Adapters for concrete runtimes, each behind its feature.

#[cfg(any(feature = "runtime-smol", feature = "runtime-async-std"))]
pub(crate) mod async_io_sleep;
#[cfg(feature = "runtime-async-std")]
pub(crate) mod async_std;
#[cfg(feature = "runtime-smol")]
pub(crate) mod smol;
#[cfg(feature = "runtime-tokio")]
pub(crate) mod tokio;

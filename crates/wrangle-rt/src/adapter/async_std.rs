use std::future::Future;
use std::time::Instant;

use super::async_io_sleep::AsyncIoSleep;
use crate::{JoinHandle, Runtime};

/// The async-std adapter (**legacy**).
///
/// async-std is discontinued upstream (RUSTSEC-2025-0052); its maintainers recommend smol.
/// This adapter exists for applications that have not migrated yet, is opt-in (feature
/// `runtime-async-std`), and will be removed in a future release: see
/// `docs/adr/0002-async-std.md`. Prefer [`SmolRuntime`](crate::adapter::SmolRuntime).
///
/// async-std's own task handles detach on drop and re-raise panics, so this adapter runs every
/// task inside a [`TaskCell`](crate::adapter::TaskCell) to give the usual [`JoinHandle`] semantics.
///
/// # Examples
///
/// ```
/// use wrangle_rt::{Runtime, adapter::AsyncStdRuntime};
///
/// let rt = AsyncStdRuntime::new();
/// let out = async_std::task::block_on(rt.spawn(async { 5 }));
/// assert_eq!(out.unwrap(), 5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct AsyncStdRuntime {
    _priv: (),
}

impl AsyncStdRuntime {
    /// The async-std global runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::adapter::AsyncStdRuntime::new();
    /// # drop(rt);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        AsyncStdRuntime { _priv: () }
    }
}

impl Runtime for AsyncStdRuntime {
    type Sleep = AsyncIoSleep;

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (cell, handle) = crate::adapter::task_pair(future);
        // async-std's handle detaches when dropped; the cell carries the semantics.
        drop(async_std::task::spawn(cell));
        handle
    }

    fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (cell, handle) = crate::adapter::blocking_pair(f);
        drop(async_std::task::spawn_blocking(move || cell.run()));
        handle
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    fn monotonic_nanos(&self) -> u64 {
        crate::adapter::fast_nanos()
    }

    fn wall_now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    fn sleep_until(&self, deadline: Instant) -> AsyncIoSleep {
        AsyncIoSleep::at(deadline)
    }

    fn name(&self) -> &'static str {
        "async-std"
    }
}

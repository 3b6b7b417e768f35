use std::fmt;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Instant;

use super::async_io_sleep::AsyncIoSleep;
use crate::{JoinHandle, Runtime};

/// The smol adapter: smol's global executor, or an [`async_executor::Executor`] of your own.
///
/// Timers are `async_io` timers, which work under any executor.
///
/// # Examples
///
/// ```
/// use wrangle_rt::{Runtime, adapter::SmolRuntime};
///
/// let rt = SmolRuntime::new();
/// let out = smol::block_on(rt.spawn(async { 5 }));
/// assert_eq!(out.unwrap(), 5);
/// ```
#[derive(Clone, Default)]
pub struct SmolRuntime {
    executor: Executor,
}

/// Where a [`SmolRuntime`] spawns.
#[derive(Clone, Default)]
enum Executor {
    /// smol's global executor.
    #[default]
    Global,
    /// The user's executor, kept alive by every clone of the runtime.
    Shared(Arc<async_executor::Executor<'static>>),
    /// A [`RuntimeThread`](crate::thread::RuntimeThread)'s, owned by the thread alone: tasks
    /// that hold a clone of the runtime (a pool's workers do) must not keep it alive, or its
    /// drop at the thread's stop, which drops every task on it, would never happen.
    Thread(Weak<async_executor::Executor<'static>>),
}

impl fmt::Debug for SmolRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolRuntime")
            .field("global", &matches!(self.executor, Executor::Global))
            .finish()
    }
}

impl SmolRuntime {
    /// Uses smol's global executor (`smol::spawn`).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::adapter::SmolRuntime::new();
    /// # drop(rt);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        SmolRuntime {
            executor: Executor::Global,
        }
    }

    /// Uses your executor. You must drive it (for example with `executor.run(..)` on some
    /// threads); tasks spawned here run only while it is driven.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wrangle_rt::{Runtime, adapter::SmolRuntime};
    ///
    /// let ex = Arc::new(async_executor::Executor::new());
    /// let rt = SmolRuntime::with_executor(ex.clone());
    /// let out = futures_lite::future::block_on(ex.run(rt.spawn(async { 1 })));
    /// assert_eq!(out.unwrap(), 1);
    /// ```
    #[must_use]
    pub fn with_executor(executor: Arc<async_executor::Executor<'static>>) -> Self {
        SmolRuntime {
            executor: Executor::Shared(executor),
        }
    }

    /// The runtime of a `RuntimeThread`, which owns `executor` and drops it when it stops:
    /// from then on, spawning gives an already cancelled handle.
    pub(crate) fn for_thread(executor: &Arc<async_executor::Executor<'static>>) -> Self {
        SmolRuntime {
            executor: Executor::Thread(Arc::downgrade(executor)),
        }
    }
}

impl Runtime for SmolRuntime {
    type Sleep = AsyncIoSleep;

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // async-executor stores a task's panic and re-raises it where the handle is polled.
        let task = match &self.executor {
            Executor::Global => smol::spawn(future),
            Executor::Shared(ex) => ex.spawn(future),
            Executor::Thread(ex) => match ex.upgrade() {
                Some(ex) => ex.spawn(future),
                // The thread has stopped: the future is dropped here, the handle says so.
                None => {
                    let (cell, handle) = super::task_pair(future);
                    drop(cell);
                    return handle;
                }
            },
        };
        JoinHandle::from_task(task)
    }

    fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // blocking's executor also propagates panics to the handle.
        JoinHandle::from_task(blocking::unblock(f))
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
        "smol"
    }
}

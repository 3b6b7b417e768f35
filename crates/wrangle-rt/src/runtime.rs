//! The [`Runtime`] and [`Sleep`] traits.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::JoinHandle;
use crate::time::{DeadlineOverflow, Timeout};

/// An async runtime, as wrangle needs it: spawning, blocking work, clocks and timers.
///
/// The trait is small and statically dispatched: [`spawn`](Runtime::spawn) is generic, so
/// spawning through it costs no boxing. Entering a runtime (`block_on`) is deliberately not part
/// of it: library code never blocks on a runtime; every adapter has its own entry point.
///
/// Implementations are cheap handles (`Clone`), usable from any thread.
///
/// Provided adapters: [`TokioRuntime`](crate::adapter::TokioRuntime) (feature `runtime-tokio`),
/// [`SmolRuntime`](crate::adapter::SmolRuntime) (feature `runtime-smol`),
/// [`AsyncStdRuntime`](crate::adapter::AsyncStdRuntime) (feature `runtime-async-std`, legacy),
/// [`VirtualRuntime`](crate::VirtualRuntime) (always), and
/// [`DefaultRuntime`](crate::DefaultRuntime), which picks one of them at run time.
/// [`conformance`](crate::conformance) checks any implementation.
///
/// # Examples
///
/// A function generic over the runtime:
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// async fn twice_later<R: Runtime>(rt: &R, x: u32) -> u32 {
///     rt.sleep(Duration::from_secs(1)).await;
///     rt.spawn(async move { x * 2 }).await.unwrap()
/// }
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// assert_eq!(rt.block_on(twice_later(&rt, 21)), 42);
/// assert_eq!(rt.now() - start, Duration::from_secs(1));
/// ```
pub trait Runtime: Clone + Send + Sync + fmt::Debug + 'static {
    /// The resettable sleep future of this runtime.
    type Sleep: Sleep;

    /// Spawns a future as a new task. Dropping the returned handle cancels the task.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let out = rt.block_on(rt.spawn(async { "hello" }));
    /// assert_eq!(out.unwrap(), "hello");
    /// ```
    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Runs blocking work on a thread where blocking is allowed.
    ///
    /// Blocking work cannot be interrupted once it has started: dropping or cancelling the
    /// handle then only discards the result. Work whose handle is dropped before it starts
    /// never runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let sum = rt.block_on(rt.spawn_blocking(|| (1..=10).sum::<u32>()));
    /// assert_eq!(sum.unwrap(), 55);
    /// ```
    fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;

    /// The current instant of this runtime's monotonic clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// assert!(rt.now() <= rt.now());
    /// ```
    fn now(&self) -> Instant;

    /// Nanoseconds on a cheap monotonic clock of this runtime, from an origin of the
    /// runtime's choosing: for hot paths that read the time on every call and only need
    /// intervals, such as a rate limiter's `check`.
    ///
    /// Only differences between readings of the same runtime mean anything; they follow
    /// [`now`](Runtime::now) over the same interval. On the virtual runtime they are exactly
    /// virtual time (so tests stay exact); the Tokio, smol and async-std adapters return
    /// [`fast_nanos`], the CPU's time-stamp counter, whose intervals follow `Instant`'s to
    /// within the clocks' rate difference. Turn a wait measured on this clock into a deadline
    /// with `now() + wait`. The default implementation reads `now()` against a fixed origin.
    ///
    /// [`fast_nanos`]: crate::adapter::fast_nanos
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.monotonic_nanos();
    /// rt.block_on(rt.sleep(Duration::from_millis(5)));
    /// assert_eq!(rt.monotonic_nanos() - start, 5_000_000);
    /// ```
    fn monotonic_nanos(&self) -> u64 {
        crate::time::default_monotonic_nanos(self.now())
    }

    /// The current time of this runtime's wall clock.
    ///
    /// The wall clock may jump (forward or back); use [`now`](Runtime::now) to measure intervals.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// assert_eq!(rt.wall_now().to_string(), "2000-01-01T00:00:00Z");
    /// ```
    fn wall_now(&self) -> jiff::Timestamp;

    /// A future that completes at `deadline` on this runtime's monotonic clock, never earlier.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let deadline = rt.now() + Duration::from_millis(5);
    /// rt.block_on(rt.sleep_until(deadline));
    /// assert_eq!(rt.now(), deadline);
    /// ```
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// A future that completes after `duration`.
    ///
    /// A duration too large to represent as a deadline sleeps "forever" (about 30 years); use
    /// [`deadline_after`](Runtime::deadline_after) to get an error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// rt.block_on(rt.sleep(Duration::from_secs(7 * 24 * 3600)));
    /// assert_eq!(rt.now() - start, Duration::from_secs(7 * 24 * 3600));
    /// ```
    fn sleep(&self, duration: Duration) -> Self::Sleep {
        let now = self.now();
        self.sleep_until(crate::time::saturating_deadline(now, duration))
    }

    /// The deadline `duration` from now.
    ///
    /// # Errors
    ///
    /// [`DeadlineOverflow`] if the deadline cannot be represented.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// assert!(rt.deadline_after(Duration::from_secs(1)).is_ok());
    /// assert!(rt.deadline_after(Duration::MAX).is_err());
    /// ```
    fn deadline_after(&self, duration: Duration) -> Result<Instant, DeadlineOverflow> {
        self.now()
            .checked_add(duration)
            .ok_or(DeadlineOverflow { duration })
    }

    /// Runs `future` with a time limit of `duration`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(rt.timeout(Duration::from_secs(1), std::future::pending::<()>()));
    /// assert!(r.is_err());
    /// ```
    fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F, Self::Sleep> {
        Timeout::new(future, self.sleep(duration))
    }

    /// Runs `future` until `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let deadline = rt.now() + Duration::from_secs(1);
    /// assert_eq!(rt.block_on(rt.timeout_at(deadline, async { 3 })).unwrap(), 3);
    /// ```
    fn timeout_at<F: Future>(&self, deadline: Instant, future: F) -> Timeout<F, Self::Sleep> {
        Timeout::new(future, self.sleep_until(deadline))
    }

    /// A short name for diagnostics: `"tokio"`, `"smol"`, `"async-std"`, `"virtual"`...
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// assert_eq!(VirtualRuntime::new().name(), "virtual");
    /// ```
    fn name(&self) -> &'static str {
        "custom"
    }
}

/// A resettable sleep future: completes at its deadline, never earlier.
///
/// # Cancel safety
///
/// Dropping a sleep releases its timer registration; nothing else is lost.
pub trait Sleep: Future<Output = ()> + Send + Sync + fmt::Debug + 'static {
    /// Moves the deadline (earlier or later), whether or not the sleep has completed.
    ///
    /// After a reset the sleep must be polled again; a task already waiting on it is woken at
    /// the new deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, Sleep, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// let mut sleep = Box::pin(rt.sleep(Duration::from_secs(60)));
    /// sleep.as_mut().reset(start + Duration::from_secs(1));
    /// rt.block_on(sleep);
    /// assert_eq!(rt.now() - start, Duration::from_secs(1));
    /// ```
    fn reset(self: Pin<&mut Self>, deadline: Instant);

    /// The current deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, Sleep, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let at = rt.now() + Duration::from_secs(2);
    /// assert_eq!(rt.sleep_until(at).deadline(), at);
    /// ```
    fn deadline(&self) -> Instant;
}

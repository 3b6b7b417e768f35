//! Time helpers shared by every runtime: [`Timeout`], [`Elapsed`], [`DeadlineOverflow`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// About thirty years: what "sleep forever" means for durations too large to add to `now`.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The process-wide fast clock: quanta's calibrated time-stamp counter (or quanta's own
/// fallback to the OS clock where the counter is not invariant) and its reading at first use.
struct FastClock {
    clock: quanta::Clock,
    raw_origin: u64,
}

static FAST_CLOCK: OnceLock<FastClock> = OnceLock::new();

/// Nanoseconds since the first call in this process, read from a cheap clock: the CPU's
/// invariant time-stamp counter scaled to nanoseconds (calibrated against the OS clock once,
/// in under a millisecond), or the OS monotonic clock where no invariant counter exists.
///
/// It costs a third of [`Instant::now`] on Linux x86-64 and, unlike an `Instant`, needs no
/// arithmetic to compare. It is for hot paths that measure intervals (a rate limiter's check);
/// intervals follow [`Instant`]'s to within the two clocks' rate difference (parts per
/// million). Real runtimes return it from [`Runtime::monotonic_nanos`](crate::Runtime::monotonic_nanos).
///
/// # Examples
///
/// ```
/// let a = wrangle_rt::adapter::fast_nanos();
/// let b = wrangle_rt::adapter::fast_nanos();
/// assert!(b >= a);
/// ```
#[must_use]
#[inline]
pub fn fast_nanos() -> u64 {
    let fast = FAST_CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let raw_origin = clock.raw();
        FastClock { clock, raw_origin }
    });
    fast.clock.delta_as_nanos(fast.raw_origin, fast.clock.raw())
}

/// A fixed origin for the default [`Runtime::monotonic_nanos`](crate::Runtime::monotonic_nanos):
/// far enough before the first call that instants of clocks started earlier in the process
/// (a virtual clock starts at `Instant::now()` when it is built) still come after it.
fn default_origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(|| {
        let now = Instant::now();
        [86_400 * 365, 86_400, 3_600, 60, 1]
            .into_iter()
            .find_map(|secs| now.checked_sub(Duration::from_secs(secs)))
            .unwrap_or(now)
    })
}

/// Nanoseconds from [`default_origin`] to `now`, saturating at both ends.
pub(crate) fn default_monotonic_nanos(now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(default_origin()).as_nanos()).unwrap_or(u64::MAX)
}

/// `now + duration`, or, when that instant cannot be represented, about thirty years from
/// `now` ("forever" for a timer); never panics.
///
/// Every wrangle crate adds durations to instants through this (or through the checked
/// [`Runtime::deadline_after`](crate::Runtime::deadline_after) where an overflow must be an
/// error): `Instant + Duration` panics on overflow, and user durations may be
/// `Duration::MAX`.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use wrangle_rt::saturating_deadline;
///
/// let now = Instant::now();
/// assert_eq!(saturating_deadline(now, Duration::from_secs(1)), now + Duration::from_secs(1));
/// // No panic: a far deadline instead.
/// assert!(saturating_deadline(now, Duration::MAX) > now + Duration::from_secs(86_400 * 365));
/// ```
#[must_use]
pub fn saturating_deadline(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .or_else(|| now.checked_add(FAR_FUTURE))
        // A clock this close to its own end of range cannot sleep any further.
        .unwrap_or(now)
}

/// The error of a [`Timeout`] whose deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    _priv: (),
}

impl Elapsed {
    /// Creates the error, for runtimes and wrappers that implement their own timeouts.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(wrangle_rt::Elapsed::new().to_string(), "deadline has elapsed");
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Elapsed { _priv: () }
    }
}

impl Default for Elapsed {
    fn default() -> Self {
        Elapsed::new()
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// A duration too large to turn into a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineOverflow {
    pub(crate) duration: Duration,
}

impl DeadlineOverflow {
    /// The duration that could not be added to the current instant.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let err = VirtualRuntime::new().deadline_after(Duration::MAX).unwrap_err();
    /// assert_eq!(err.duration(), Duration::MAX);
    /// ```
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl fmt::Display for DeadlineOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deadline overflow: {:?} from now cannot be represented",
            self.duration
        )
    }
}

impl std::error::Error for DeadlineOverflow {}

/// Future returned by [`Runtime::timeout`](crate::Runtime::timeout) and
/// [`Runtime::timeout_at`](crate::Runtime::timeout_at).
///
/// Resolves to `Ok(output)` if the inner future completes first, or `Err(Elapsed)` once the
/// deadline passes. If both are ready at the same poll, the output wins.
///
/// # Cancel safety
///
/// Dropping a `Timeout` drops the inner future; it is exactly as cancel safe as that future.
#[pin_project::pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Timeout<F, S> {
    #[pin]
    future: F,
    #[pin]
    sleep: S,
}

impl<F, S> Timeout<F, S> {
    /// Combines a future with a sleep that bounds it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime, future::Timeout};
    ///
    /// let rt = VirtualRuntime::new();
    /// let t = Timeout::new(async { 1 }, rt.sleep(Duration::from_secs(1)));
    /// assert_eq!(rt.block_on(t), Ok(1));
    /// ```
    pub fn new(future: F, sleep: S) -> Self {
        Timeout { future, sleep }
    }

    /// The inner future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let t = rt.timeout(Duration::from_secs(1), std::future::ready(5));
    /// let _inner: &std::future::Ready<i32> = t.get_ref();
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Returns the inner future, dropping the timer.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let inner = rt.timeout(Duration::from_secs(1), std::future::ready(5)).into_inner();
    /// assert_eq!(rt.block_on(inner), 5);
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: fmt::Debug, S: fmt::Debug> fmt::Debug for Timeout<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("future", &self.future)
            .field("sleep", &self.sleep)
            .finish()
    }
}

impl<F: Future, S: Future<Output = ()>> Future for Timeout<F, S> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Yields once to the executor, letting other tasks run. Runtime-free.
///
/// # Examples
///
/// ```
/// # futures_lite::future::block_on(async {
/// wrangle_rt::yield_now().await;
/// # });
/// ```
///
/// # Cancel safety
///
/// Cancel safe: nothing is lost if it is dropped.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

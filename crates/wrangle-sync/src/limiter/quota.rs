//! [`Quota`]: governor's way of saying "how many, how often, how bursty", for the GCRA
//! limiters.

use std::num::NonZeroU32;
use std::time::Duration;

/// A rate limit for the GCRA limiters ([`GcraLimiter`](crate::GcraLimiter),
/// [`KeyedLimiter`](crate::KeyedLimiter)), in governor's vocabulary: a number of **cells**
/// replenished over a period, and a **burst** (how many cells may pass at once after a quiet
/// spell).
///
/// - [`per_second(n)`](Self::per_second), [`per_minute(n)`](Self::per_minute),
///   [`per_hour(n)`](Self::per_hour): `n` cells per period, one every `period / n`, with a
///   burst of `n`.
/// - [`with_period(d)`](Self::with_period): one cell every `d`, with a burst of 1.
/// - [`allow_burst(b)`](Self::allow_burst): the same rate with a burst of `b`.
///
/// Building a quota never fails; the limiter built from it checks it and refuses what cannot
/// work with a typed [`InvalidQuota`](crate::InvalidQuota): a zero period, a period or burst
/// window over [`InvalidQuota::MAX_PERIOD`](crate::InvalidQuota::MAX_PERIOD), or **a rate
/// above 10^9 per second** (`InvalidQuota::RateTooHigh`). governor clamps the interval of
/// such a rate to 1 ns, which silently gives a lower rate than asked for (2×10^9 per second
/// becomes 10^9); wrangle's clock counts whole nanoseconds too, so it says so instead.
///
/// # Examples
///
/// An API that allows 100 calls a minute, at most 10 back to back:
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_sync::{GcraLimiter, Quota};
///
/// let quota = Quota::per_minute(NonZeroU32::new(100).unwrap()).allow_burst(NonZeroU32::new(10).unwrap());
/// assert_eq!(quota.replenish_interval(), Duration::from_millis(600));
/// assert_eq!(quota.burst_size().get(), 10);
///
/// let rt = VirtualRuntime::new();
/// let limiter = GcraLimiter::from_quota_with_runtime(rt.clone(), quota).unwrap();
/// let start = rt.now();
/// rt.block_on(async {
///     for _ in 0..12 {
///         limiter.acquire().await;
///     }
/// });
/// // Ten at once, then one cell every 600 ms.
/// assert_eq!(rt.now() - start, Duration::from_millis(1200));
///
/// // 2×10^9 per second cannot be kept to the nanosecond: refused, not clamped.
/// let too_fast = Quota::per_second(NonZeroU32::new(2_000_000_000).unwrap());
/// assert_eq!(
///     GcraLimiter::from_quota_with_runtime(rt, too_fast).unwrap_err(),
///     wrangle_sync::InvalidQuota::RateTooHigh
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Cells per `per`.
    pub(crate) rate: NonZeroU32,
    pub(crate) per: Duration,
    pub(crate) burst: NonZeroU32,
}

impl Quota {
    /// `n` cells per second, one every `1 s / n`, with a burst of `n`.
    #[must_use]
    pub const fn per_second(n: NonZeroU32) -> Quota {
        Quota::per(n, Duration::from_secs(1))
    }

    /// `n` cells per minute, one every `60 s / n`, with a burst of `n`.
    #[must_use]
    pub const fn per_minute(n: NonZeroU32) -> Quota {
        Quota::per(n, Duration::from_secs(60))
    }

    /// `n` cells per hour, one every `3600 s / n`, with a burst of `n`.
    #[must_use]
    pub const fn per_hour(n: NonZeroU32) -> Quota {
        Quota::per(n, Duration::from_secs(3600))
    }

    /// One cell every `period`, with a burst of 1. (governor returns `None` for a zero
    /// period; here the limiter refuses it with `InvalidQuota::ZeroPeriod`.)
    #[must_use]
    pub const fn with_period(period: Duration) -> Quota {
        Quota::per(NonZeroU32::MIN, period)
    }

    pub(crate) const fn per(n: NonZeroU32, per: Duration) -> Quota {
        Quota {
            rate: n,
            per,
            burst: n,
        }
    }

    /// The same rate, with bursts of up to `burst` cells.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use wrangle_sync::Quota;
    ///
    /// let two = NonZeroU32::new(2).unwrap();
    /// let smooth = Quota::per_second(NonZeroU32::new(50).unwrap()).allow_burst(two);
    /// assert_eq!(smooth.burst_size(), two);
    /// assert_eq!(smooth.replenish_interval(), std::time::Duration::from_millis(20));
    /// ```
    #[must_use]
    pub const fn allow_burst(self, burst: NonZeroU32) -> Quota {
        Quota { burst, ..self }
    }

    /// The most cells that may pass at once.
    #[must_use]
    pub const fn burst_size(&self) -> NonZeroU32 {
        self.burst
    }

    /// The time to replenish one cell: the period divided by the rate, in whole nanoseconds
    /// (zero for a rate above 10^9 per second, which a limiter refuses).
    #[must_use]
    pub const fn replenish_interval(&self) -> Duration {
        let nanos = self.per.as_nanos() / self.rate.get() as u128;
        if nanos > u64::MAX as u128 {
            Duration::MAX
        } else {
            Duration::from_nanos(nanos as u64)
        }
    }
}

//! Rate limiters configured with periods the arithmetic cannot hold (R16), on every runtime.

use std::num::NonZeroU32;
use std::time::Duration;

use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;
use wrangle_sync::{GcraLimiter, InvalidQuota, KeyedLimiter, RateLimiter};

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

#[test]
fn periods_beyond_the_maximum_are_a_typed_error_at_construction() {
    each_runtime(|rt| async move {
        let long = InvalidQuota::MAX_PERIOD + Duration::from_nanos(1);
        for period in [Duration::MAX, long] {
            // Was accepted; the second `check` then panicked adding the period to an instant.
            assert_eq!(
                RateLimiter::with_runtime(rt.clone(), nz(1), period).unwrap_err(),
                InvalidQuota::PeriodTooLong
            );
            assert_eq!(
                GcraLimiter::with_runtime(rt.clone(), nz(1), period, nz(1)).unwrap_err(),
                InvalidQuota::PeriodTooLong
            );
            assert_eq!(
                KeyedLimiter::<u8, _>::with_runtime(rt.clone(), nz(1), period, nz(1)).unwrap_err(),
                InvalidQuota::PeriodTooLong
            );
        }
        // The burst window counts too: 1 per 60 years with bursts of 10 tracks 600 years
        // (was: the tolerance saturated, and every call passed).
        assert_eq!(
            GcraLimiter::with_runtime(rt.clone(), nz(1), 60 * YEAR, nz(10)).unwrap_err(),
            InvalidQuota::PeriodTooLong
        );
        assert_eq!(
            KeyedLimiter::<u8, _>::with_runtime(rt.clone(), nz(1), 60 * YEAR, nz(10)).unwrap_err(),
            InvalidQuota::PeriodTooLong
        );
    });
}

#[test]
fn the_longest_period_still_limits_exactly() {
    each_runtime(|rt| async move {
        let limiter =
            RateLimiter::with_runtime(rt.clone(), nz(1), InvalidQuota::MAX_PERIOD).unwrap();
        limiter.check().unwrap();
        let refused = limiter.check().unwrap_err();
        let gcra =
            GcraLimiter::with_runtime(rt.clone(), nz(1), InvalidQuota::MAX_PERIOD, nz(1)).unwrap();
        gcra.check().unwrap();
        let gcra_refused = gcra.check().unwrap_err();
        let keyed =
            KeyedLimiter::with_runtime(rt.clone(), nz(1), InvalidQuota::MAX_PERIOD, nz(1)).unwrap();
        keyed.check(&1).unwrap();
        let keyed_refused = keyed.check(&1).unwrap_err();
        keyed.check(&2).unwrap();
        if rt.is_virtual() {
            let now = rt.now();
            assert_eq!(refused.retry_at() - now, InvalidQuota::MAX_PERIOD);
            assert_eq!(gcra_refused.retry_at() - now, InvalidQuota::MAX_PERIOD);
            assert_eq!(keyed_refused.retry_at() - now, InvalidQuota::MAX_PERIOD);
        }
    });
}

//! Random jitter for the limiters' waits: a lock-free SplitMix64 stream per limiter, fixed
//! on virtual time (so a test's waits repeat exactly) and random elsewhere.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wrangle_rt::Runtime;

/// SplitMix64's increment.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The seed of every limiter on a virtual runtime (unless set with `jitter_seed`).
pub(crate) const VIRTUAL_SEED: u64 = 0x5EED;

#[derive(Debug)]
pub(crate) struct JitterRng {
    state: AtomicU64,
}

impl JitterRng {
    /// Seeded from the runtime: [`VIRTUAL_SEED`] on virtual time, random otherwise.
    pub(crate) fn for_runtime<R: Runtime>(rt: &R) -> Self {
        let seed = if rt.name() == "virtual" {
            VIRTUAL_SEED
        } else {
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
        };
        JitterRng::new(seed)
    }

    pub(crate) fn new(seed: u64) -> Self {
        JitterRng {
            state: AtomicU64::new(seed),
        }
    }

    pub(crate) fn reseed(&self, seed: u64) {
        self.state.store(seed, Ordering::Relaxed);
    }

    fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration drawn uniformly from `[0, max]` (whole nanoseconds; spans beyond 2^64 ns
    /// are clipped there, far past any wait).
    pub(crate) fn up_to(&self, max: Duration) -> Duration {
        let span = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if span == 0 {
            return Duration::ZERO;
        }
        // Multiply-shift: a 64-bit draw scaled onto [0, span] without a modulo's bias.
        let scaled = (u128::from(self.next_u64()) * (u128::from(span) + 1)) >> 64;
        Duration::from_nanos(u64::try_from(scaled).unwrap_or(span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_in_range_cover_it_and_repeat_with_the_seed() {
        let max = Duration::from_millis(10);
        let a = JitterRng::new(1);
        let draws: Vec<_> = (0..5_000).map(|_| a.up_to(max)).collect();
        assert!(draws.iter().all(|d| *d <= max));
        assert!(draws.iter().any(|d| *d < Duration::from_micros(500)));
        assert!(draws.iter().any(|d| *d > Duration::from_micros(9_500)));
        let b = JitterRng::new(1);
        assert!(draws.iter().all(|d| *d == b.up_to(max)));
        assert_eq!(a.up_to(Duration::ZERO), Duration::ZERO);
        assert!(a.up_to(Duration::MAX) <= Duration::from_nanos(u64::MAX));
    }
}

//! A small seeded generator for jitter (SplitMix64): reproducible with a seed, different per
//! stream without one, and no dependency.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// A seed that differs between calls and between processes: std's per-process random
    /// hasher keys, mixed with a counter so two streams built at once still differ.
    pub(crate) fn random_seed() -> u64 {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        RandomState::new().hash_one(n)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration drawn uniformly from `[lo, hi]` (`lo` if `hi <= lo`). Spans beyond 2^64 ns
    /// (584 years) are clipped, far past anything a sleep can wait.
    pub(crate) fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = hi.saturating_sub(lo);
        let span_nanos = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
        if span_nanos == 0 {
            return lo;
        }
        // Multiply-shift maps a 64-bit draw onto [0, span] without a division's bias.
        let wide = u128::from(self.next_u64()) * (u128::from(span_nanos) + 1);
        let offset = u64::try_from(wide >> 64).unwrap_or(u64::MAX);
        lo.saturating_add(Duration::from_nanos(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(7);
        let (lo, hi) = (Duration::from_millis(100), Duration::from_millis(200));
        let draws: Vec<_> = (0..10_000).map(|_| rng.between(lo, hi)).collect();
        assert!(draws.iter().all(|d| (lo..=hi).contains(d)));
        assert!(draws.iter().any(|d| *d < Duration::from_millis(105)));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(195)));
    }

    #[test]
    fn extreme_spans_do_not_overflow() {
        let mut rng = Rng::new(1);
        let d = rng.between(Duration::ZERO, Duration::MAX);
        assert!(d <= Duration::MAX);
        assert_eq!(rng.between(Duration::MAX, Duration::ZERO), Duration::MAX);
    }
}

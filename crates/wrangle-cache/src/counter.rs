//! Striped counters: a hit on one thread never writes the cache line a hit on another thread
//! writes, so counting hits does not make reads contend.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const STRIPES: usize = 16;

/// One counter on its own cache line (128 bytes covers the adjacent-line prefetcher).
#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

/// A `u64` counter split in stripes, one chosen per thread.
pub(crate) struct StripedCounter {
    stripes: [Padded; STRIPES],
}

/// This thread's stripe, handed out round-robin on first use (a `const` thread-local: no
/// lazy-initialisation check on the hot path beyond the `usize::MAX` test).
#[inline]
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        let mut stripe = s.get();
        if stripe == usize::MAX {
            stripe = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
            s.set(stripe);
        }
        stripe
    })
}

impl StripedCounter {
    pub(crate) fn new() -> Self {
        StripedCounter {
            stripes: Default::default(),
        }
    }

    #[inline]
    pub(crate) fn incr(&self) {
        self.stripes[stripe()].0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sum(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

//! Striped counters: a hit on one thread never writes the cache line a hit on another thread
//! writes, and (for the first [`OWNED`] threads alive at once) writes it without an atomic
//! read-modify-write, so counting hits neither makes reads contend nor costs a locked
//! instruction.
//!
//! Each live thread holds a process-wide *slot* for as long as it runs. A slot below
//! [`OWNED`] names a stripe that this thread alone writes, in every counter: a plain load
//! and store is then an exact increment. Slots are recycled when their thread exits, through
//! a mutex, which also orders the old owner's last store before the new owner's first load.
//! Threads beyond the first [`OWNED`] (or one whose slot is already gone, late in its exit)
//! share [`SHARED`] stripes with `fetch_add`.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Stripes written by one thread each.
const OWNED: usize = 16;
/// Stripes shared, with `fetch_add`, by the threads beyond those.
const SHARED: usize = 4;

/// One counter on its own cache line (128 bytes covers the adjacent-line prefetcher).
#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

/// A `u64` counter split in stripes, one chosen per thread.
pub(crate) struct StripedCounter {
    stripes: [Padded; OWNED + SHARED],
}

/// Slots given back by exited threads, and the next never-used one.
struct Slots {
    free: Vec<usize>,
    next: usize,
}

static SLOTS: Mutex<Slots> = Mutex::new(Slots {
    free: Vec::new(),
    next: 0,
});

/// This thread's slot; given back when the thread exits.
struct Slot(usize);

impl Slot {
    fn claim() -> Slot {
        let mut slots = SLOTS.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = match slots.free.pop() {
            Some(slot) => slot,
            None => {
                slots.next += 1;
                slots.next - 1
            }
        };
        Slot(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // From now on this thread counts on the shared stripes: the slot may go to another.
        CACHED.try_with(|c| c.set(usize::MAX)).ok();
        SLOTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .free
            .push(self.0);
    }
}

thread_local! {
    static SLOT: Slot = Slot::claim();
    /// The slot, cached where reading it needs no initialisation check (`usize::MAX`: not
    /// claimed yet, or given back).
    static CACHED: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's slot, or `None` while its thread-locals are being destroyed.
#[inline(always)]
fn slot() -> Option<usize> {
    let cached = CACHED.with(Cell::get);
    if cached != usize::MAX {
        return Some(cached);
    }
    let slot = SLOT.try_with(|s| s.0).ok()?;
    CACHED.with(|c| c.set(slot));
    Some(slot)
}

/// Round-robin among the shared stripes, for threads without a slot.
static SPREAD: AtomicUsize = AtomicUsize::new(0);

impl StripedCounter {
    pub(crate) fn new() -> Self {
        StripedCounter {
            stripes: Default::default(),
        }
    }

    #[inline(always)]
    pub(crate) fn incr(&self) {
        match slot() {
            Some(slot) if slot < OWNED => {
                // This thread is the only writer of this stripe (in every counter).
                let stripe = &self.stripes[slot].0;
                stripe.store(
                    stripe.load(Ordering::Relaxed).wrapping_add(1),
                    Ordering::Relaxed,
                );
            }
            Some(slot) => self.shared(slot),
            None => self.shared(SPREAD.fetch_add(1, Ordering::Relaxed)),
        }
    }

    #[cold]
    fn shared(&self, n: usize) {
        self.stripes[OWNED + n % SHARED]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sum(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

//! A worker's deadline slot: the one piece of the per-task timeouts that two threads touch
//! (the worker arms and clears it, the reaper fires it). Its own file, so that
//! `tests/loom.rs` can model it with loom's atomics (through `crate::loom`).
// Public only for the loom model (`crate::loom_model`); crate-private otherwise.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use std::task::Waker;

use crate::loom::{AtomicU64, Mutex, Ordering, lock};

/// The deadline of the task a worker is running.
///
/// `deadline` is the whole protocol: [`NONE`] while no task with a deadline runs, [`FIRED`]
/// once the reaper has found it passed, else the deadline on the runtime's
/// `monotonic_nanos` clock plus one. The worker arms and clears it; the reaper moves it from a
/// deadline to `FIRED` by compare-and-swap, so it never fires a later task's deadline (an
/// equal deadline of a later task has passed too). The waker is the worker's: registered by
/// the worker before it polls a task whenever it changed, and kept between tasks.
#[derive(Debug)]
pub struct DeadlineSlot {
    deadline: AtomicU64,
    waker: Mutex<Option<Waker>>,
}

/// The word while no task with a deadline runs.
pub const NONE: u64 = 0;
/// The word once the reaper found the deadline passed.
pub const FIRED: u64 = u64::MAX;

impl Default for DeadlineSlot {
    fn default() -> Self {
        DeadlineSlot {
            deadline: AtomicU64::new(NONE),
            waker: Mutex::new(None),
        }
    }
}

impl DeadlineSlot {
    /// Makes sure `waker` is the one the reaper wakes; `last` is the worker's own copy of what
    /// it registered, so an unchanged waker costs no lock. (What the worker's
    /// `WorkerCtx::register` does for its slot, for the loom model.)
    #[cfg(loom)]
    pub fn register(&self, waker: &Waker, last: &mut Option<Waker>) {
        if !last.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.set_waker(waker.clone());
            *last = Some(waker.clone());
        }
    }

    /// Makes `waker` the one the reaper wakes (the worker's `register` calls it whenever its
    /// waker changed).
    pub fn set_waker(&self, waker: Waker) {
        *lock(&self.waker) = Some(waker);
    }

    /// Whether the running task's deadline has passed.
    pub fn fired(&self) -> bool {
        self.deadline.load(Ordering::Acquire) == FIRED
    }

    /// The task ended: the slot is free for the worker's next task.
    pub fn clear(&self) {
        // Under loom a swap, so that every write to the word is a read-modify-write: loom
        // mis-orders plain stores against read-modify-writes (tokio-rs/loom#282). Elsewhere
        // a release store, a plain write on x86 (one atomic operation less per task), ordered
        // against the reaper's compare-and-swap all the same: an atomic has one modification
        // order, and a compare-and-swap that finds `NONE` fires nothing.
        #[cfg(loom)]
        self.deadline.swap(NONE, Ordering::AcqRel);
        #[cfg(not(loom))]
        self.deadline.store(NONE, Ordering::Release);
    }

    /// Arms the slot for a task whose deadline is `deadline` (see `Deadlines::arm`).
    pub fn arm(&self, deadline: u64) {
        self.deadline
            .swap(deadline.saturating_add(1).min(FIRED - 1), Ordering::SeqCst);
    }

    /// Fires the slot if its deadline is at or before `now`; otherwise returns its deadline.
    /// The reaper wakes the worker through the registered waker when this fires.
    pub fn fire_if_passed(&self, now: u64) -> Option<u64> {
        let armed = self.deadline.load(Ordering::Acquire);
        if armed == NONE || armed == FIRED {
            return None;
        }
        let deadline = armed - 1;
        if deadline > now {
            return Some(deadline);
        }
        let fired = self
            .deadline
            .compare_exchange(armed, FIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if fired && let Some(w) = lock(&self.waker).as_ref() {
            w.wake_by_ref();
        }
        None
    }

    /// The raw word, read by a read-modify-write so that it is the latest value: for the loom
    /// model's final checks only (see `tests/loom.rs`).
    #[cfg(loom)]
    pub fn settled(&self) -> u64 {
        self.deadline.fetch_add(0, Ordering::SeqCst)
    }

    /// Whether a deadline is armed and has not fired.
    pub fn is_armed(&self) -> bool {
        let armed = self.deadline.load(Ordering::SeqCst);
        armed != NONE && armed != FIRED
    }
}

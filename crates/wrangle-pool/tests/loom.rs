//! Loom model of wrangle-pool's hand-written synchronisation: the deadline slot of a worker,
//! which the worker arms and clears while the reaper fires it.
//!
//! Run with `cargo xtask loom wrangle-pool` (`RUSTFLAGS="--cfg loom"`, `LOOM_MAX_PREEMPTIONS=2`).
//! The slot's source is compiled here against loom's primitives (this `sync` module). Final
//! states are read with `Slot::settled` (a read-modify-write): loom can let a plain load
//! after `join` pick a value that contradicts the modification order the run observed
//! (tokio-rs/loom#282, #389), which a read-modify-write cannot.

#![cfg(loom)]

use std::sync::Arc;
use std::task::{Wake, Waker};

use loom::sync::atomic::AtomicBool;
use loom::thread;

mod sync {
    pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
    pub(crate) use loom::sync::{Mutex, MutexGuard};
}

#[allow(dead_code, unreachable_pub)]
#[path = "../src/slot.rs"]
mod slot;

use slot::Slot;

/// A waker that records that it was woken.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The reaper finds task A's deadline (10) passed while the worker ends A and starts B
/// (deadline 20, not passed at 15): B must never be fired.
#[test]
fn a_passed_deadline_never_fires_the_next_task() {
    loom::model(|| {
        let slot = Arc::new(Slot::default());
        slot.arm(10);
        let reaper = thread::spawn({
            let slot = slot.clone();
            move || slot.fire_if_passed(15)
        });
        slot.clear();
        slot.arm(20);
        let next = reaper.join().unwrap();
        assert_eq!(slot.settled(), 21, "task B was fired by task A's deadline");
        // Either the reaper saw B (and reports its deadline) or it saw A, B's slot untouched.
        assert!(next.is_none() || next == Some(20));
    });
}

/// The worker registers its waker, arms, polls the task (pending) and then checks `fired`;
/// the reaper fires at the same time. The worker either sees the deadline fired or is woken.
#[test]
fn a_fired_deadline_is_seen_or_wakes_the_worker() {
    loom::model(|| {
        let slot = Arc::new(Slot::default());
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut registered = None;
        slot.register(&waker, &mut registered);
        slot.arm(10);
        let reaper = thread::spawn({
            let slot = slot.clone();
            move || slot.fire_if_passed(10)
        });
        let seen = slot.fired();
        reaper.join().unwrap();
        let woken = flag.0.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            seen || woken,
            "the timeout was lost: not seen and not woken"
        );
        assert_eq!(slot.settled(), u64::MAX, "a passed deadline was not fired");
    });
}

/// A slot cleared while the reaper looks at it stays clear: a finished task is never fired.
#[test]
fn a_cleared_slot_is_never_fired() {
    loom::model(|| {
        let slot = Arc::new(Slot::default());
        slot.arm(5);
        let reaper = thread::spawn({
            let slot = slot.clone();
            move || slot.fire_if_passed(100)
        });
        slot.clear();
        reaper.join().unwrap();
        // Fired before the clear, or found clear: either way the slot ends clear.
        assert_eq!(slot.settled(), 0, "a finished task's slot was fired");
    });
}

//! Loom models of wrangle-pool's hand-written synchronisation: the deadline slot of a worker,
//! which the worker arms and clears while the reaper fires it, and the workers' searching
//! protocol (`crew.rs`), whose one step without the pool's lock must not strand queued work.
//!
//! Run with `cargo xtask loom wrangle-pool` (`RUSTFLAGS="--cfg loom"`, `LOOM_MAX_PREEMPTIONS=2`).
//! The sources are compiled here against loom's primitives (this `sync` module). Final
//! states are read with `Slot::settled` and `Crew::settled` (read-modify-writes): loom can let
//! a plain load after `join` pick a value that contradicts the modification order the run
//! observed (tokio-rs/loom#282, #389), which a read-modify-write cannot.

#![cfg(loom)]

use std::sync::Arc;
use std::task::{Wake, Waker};

use loom::sync::atomic::AtomicBool;
use loom::thread;

mod sync {
    pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Mutex, MutexGuard};
}

#[allow(dead_code, unreachable_pub)]
#[path = "../src/slot.rs"]
mod slot;

#[allow(dead_code, unreachable_pub)]
#[path = "../src/crew.rs"]
mod crew;

use crew::{Crew, Dispatch, Roster};
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

/// The pool's lock in the model: the roster and the number of queued tasks.
#[derive(Default)]
struct Pool {
    roster: Roster,
    queued: usize,
}

/// A pool of size 2: worker A runs a task that waits (not searching), worker B runs a task's
/// first poll (searching); nothing queued, nobody spare. Then, at once: B's task waits (the
/// step without the lock), A's task ends and A finds the queue empty and goes idle, and a
/// submission queues a task. Whatever the interleaving, a queued task is never left while a
/// worker is spare and nobody searches: it would wait for busy workers while one idles.
#[test]
fn a_queued_task_never_waits_while_a_worker_is_spare() {
    loom::model(|| {
        let crew = Arc::new(Crew::new(std::num::NonZeroUsize::new(2)));
        let pool = Arc::new(loom::sync::Mutex::new(Pool::default()));
        {
            // Set-up, through the same steps as the pool: a task submitted, worker A spawned
            // for it; A's task waits; a second task, worker B spawned; B starts it.
            let mut p = pool.lock().unwrap();
            assert_eq!(crew.dispatch(&mut p.roster, || false), Dispatch::New);
            drop(p);
            if crew.task_waits() {
                let mut p = pool.lock().unwrap();
                assert_eq!(crew.dispatch(&mut p.roster, || true), Dispatch::Nobody);
            }
            let mut p = pool.lock().unwrap();
            assert_eq!(crew.dispatch(&mut p.roster, || false), Dispatch::New);
        }
        let b = {
            let (crew, pool) = (crew.clone(), pool.clone());
            thread::spawn(move || {
                // B's task waits.
                if crew.task_waits() {
                    let mut p = pool.lock().unwrap();
                    let queued = p.queued;
                    crew.dispatch(&mut p.roster, || queued == 0)
                } else {
                    Dispatch::Nobody
                }
            })
        };
        let a = {
            let (crew, pool) = (crew.clone(), pool.clone());
            thread::spawn(move || {
                // A's task ended: A is back, searching, and looks at the queue under the lock.
                crew.task_done();
                let mut p = pool.lock().unwrap();
                if p.queued > 0 {
                    p.queued -= 1;
                } else {
                    crew.go_idle(&mut p.roster);
                }
            })
        };
        // A submission from this thread.
        let sent = {
            let mut p = pool.lock().unwrap();
            p.queued += 1;
            let queued = p.queued;
            crew.dispatch(&mut p.roster, || queued == 0)
        };
        let sent_by_b = b.join().unwrap();
        a.join().unwrap();
        for d in [sent, sent_by_b] {
            assert_ne!(d, Dispatch::New, "the pool is at its size");
        }

        let p = pool.lock().unwrap();
        let (searching, spare) = crew.settled();
        assert!(
            searching <= p.roster.workers,
            "searching count broken: {searching}"
        );
        assert_eq!(
            spare, p.roster.idle,
            "spare is the idle workers at full size"
        );
        if p.queued > 0 {
            assert!(
                searching > 0 || spare == 0,
                "a task is queued, a worker idles, and nobody is sent"
            );
        }
    });
}

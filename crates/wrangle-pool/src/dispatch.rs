//! Which worker goes to the queue, and when: the pool's roster of workers (kept under the
//! pool's lock) and the two counters read without it. Its own file, so that `tests/loom.rs`
//! can model it with loom's atomics (through `crate::loom`).
//!
//! A worker is *searching* while it is on its way to the queue: woken or spawned for work, back
//! from a task, or running a task's first poll (it comes back at once unless the task waits).
//! While one is searching, a submission sends nobody: that worker will find the new task. So a
//! flood of short tasks keeps one worker busy instead of waking all of them.

// Public only for the loom model (`crate::loom_model`); crate-private otherwise.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use std::num::NonZeroUsize;

use crate::loom::{AtomicUsize, Ordering};

/// The counts kept under the pool's lock.
#[derive(Debug, Default)]
pub struct Roster {
    /// Workers alive (busy, searching or idle).
    pub workers: usize,
    /// Workers waiting for work that no submission has claimed yet.
    pub idle: usize,
}

/// Whom to send to queued work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// A worker is already searching, the queue is empty, or the pool is at its size.
    Nobody,
    /// Wake an idle worker (already counted as searching).
    Idle,
    /// Spawn a new worker (already counted as alive and searching).
    New,
}

/// The searching count and the spare count, read without the pool's lock.
#[derive(Debug)]
pub struct Crew {
    size: Option<NonZeroUsize>,
    /// Workers on their way to the queue. Lowered under the lock (a worker that finds the queue
    /// empty) or without it (a worker whose task waits, see [`Crew::task_waits`]); raised
    /// under it (waking or spawning a worker) or without it (a worker back from a task that
    /// waited). Only ever changed by read-modify-writes, so each change continues the release
    /// sequence of the ones before it.
    searching: AtomicUsize,
    /// Workers a submission could still send: idle ones plus the room below the size. Written
    /// under the lock whenever either changes.
    spare: AtomicUsize,
}

impl Crew {
    /// The counts of a pool of at most `size` workers (`None`: unbounded), with none yet.
    pub fn new(size: Option<NonZeroUsize>) -> Self {
        Crew {
            size,
            searching: AtomicUsize::new(0),
            spare: AtomicUsize::new(size.map_or(usize::MAX, NonZeroUsize::get)),
        }
    }

    /// The pool's size (`None`: unbounded).
    pub fn size(&self) -> Option<NonZeroUsize> {
        self.size
    }

    /// Under the lock: whom to send to queued work (`queue_is_empty` is asked only when
    /// nobody is searching). [`Dispatch::Idle`] and [`Dispatch::New`] are already counted as
    /// searching; the caller wakes or spawns the worker.
    pub fn dispatch(&self, roster: &mut Roster, queue_is_empty: impl FnOnce() -> bool) -> Dispatch {
        if self.searching.load(Ordering::Acquire) > 0 || queue_is_empty() {
            return Dispatch::Nobody;
        }
        let send = if roster.idle > 0 {
            roster.idle -= 1;
            Dispatch::Idle
        } else if self.size.is_none_or(|s| roster.workers < s.get()) {
            roster.workers += 1;
            Dispatch::New
        } else {
            return Dispatch::Nobody;
        };
        self.searching.fetch_add(1, Ordering::AcqRel);
        self.publish(roster);
        send
    }

    /// Under the lock: a searching worker found the queue empty (looked at under the lock)
    /// and leaves, the pool being closed.
    pub fn stop_searching(&self) {
        self.searching.fetch_sub(1, Ordering::AcqRel);
    }

    /// Under the lock: a searching worker found the queue empty (looked at under the lock)
    /// and waits for work. It is published as spare *before* it stops searching, which is
    /// what [`Crew::task_waits`] relies on.
    pub fn go_idle(&self, roster: &mut Roster) {
        roster.idle += 1;
        self.publish(roster);
        self.searching.fetch_sub(1, Ordering::AcqRel);
    }

    /// Without the lock: the task a searching worker runs waits, so the worker is not coming
    /// back soon. Returns `true` if a worker is spare: the caller then takes the lock and
    /// [`dispatch`](Crew::dispatch)es whatever is queued. With none spare there is nobody to
    /// send, and the lock is skipped.
    ///
    /// Nothing queued is stranded by the skip while a worker idles. Say a submission, under
    /// the lock, read this worker as still searching and sent nobody, and worker X went idle
    /// before that submission took the lock. X published itself as spare, then decremented
    /// `searching` (`go_idle`); the submission read `searching` after that decrement (it took
    /// the lock after X) and before the decrement here. So the decrement here reads from a
    /// chain of read-modify-writes that starts at X's, acquires it, and the load below sees X
    /// as spare. A worker that goes idle after the submission looked at the queue under the
    /// lock first and took the task itself. Modelled in `tests/loom.rs`.
    pub fn task_waits(&self) -> bool {
        self.searching.fetch_sub(1, Ordering::AcqRel);
        self.spare.load(Ordering::Acquire) > 0
    }

    /// Without the lock: a worker whose task waited is back, searching.
    pub fn task_done(&self) {
        self.searching.fetch_add(1, Ordering::AcqRel);
    }

    /// Under the lock, at close: every idle worker is woken to search once more, find the
    /// closed, empty queue and leave. Returns how many to wake.
    pub fn wake_idle(&self, roster: &mut Roster) -> usize {
        let idle = std::mem::take(&mut roster.idle);
        self.searching.fetch_add(idle, Ordering::AcqRel);
        self.publish(roster);
        idle
    }

    /// Under the lock: a worker left.
    pub fn leave(&self, roster: &mut Roster) {
        roster.workers -= 1;
        self.publish(roster);
    }

    fn publish(&self, roster: &Roster) {
        let room = self
            .size
            .map_or(usize::MAX, |s| s.get().saturating_sub(roster.workers));
        self.spare
            .store(room.saturating_add(roster.idle), Ordering::Release);
    }

    /// The counts, read by read-modify-writes so that they are the latest values: for the
    /// loom model's final checks only (see `tests/loom.rs` and `DeadlineSlot::settled`).
    #[cfg(loom)]
    pub fn settled(&self) -> (usize, usize) {
        (
            self.searching.fetch_add(0, Ordering::SeqCst),
            self.spare.fetch_add(0, Ordering::SeqCst),
        )
    }
}

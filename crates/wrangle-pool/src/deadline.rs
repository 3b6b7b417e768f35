//! Per-task timeouts without a timer per task.
//!
//! A worker runs one task at a time, so each worker has one [`DeadlineSlot`] holding the deadline of
//! the task it runs; one reaper task per pool sleeps until the earliest deadline and fires the
//! slots it passed. This replaces a runtime timer per task, which cost more than the rest of a
//! pooled task together. The worker arms its slot when it starts a task; the running task
//! checks it through the worker's context (`worker.rs`) when it is pending.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use event_listener::Event;
use wrangle_rt::{Runtime, Sleep};

use crate::deadline_slot::DeadlineSlot;
use crate::pool::Shared;

/// The reaper's state and wake-up (the slots are the workers', in the pool's registry).
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    reaper: AtomicBool,
    /// The reaper waits for any deadline to be armed.
    idle: AtomicBool,
    armed: Event,
}

impl Deadlines {
    /// Arms `slot` for a task whose deadline is `deadline` (on `monotonic_nanos`). Returns
    /// `true` if the reaper must be started.
    ///
    /// Every task has the same timeout, so a new deadline is never earlier than one the reaper
    /// already sleeps for: it needs a wake-up only when it sleeps for none.
    pub(crate) fn arm(&self, slot: &DeadlineSlot, deadline: u64) -> bool {
        slot.arm(deadline);
        // SeqCst pairs with the reaper's: it either sees this slot armed when it re-checks
        // after going idle, or this sees it idle and wakes it.
        if self.idle.load(Ordering::SeqCst) && self.idle.swap(false, Ordering::SeqCst) {
            self.armed.notify(1);
        }
        !self.reaper.load(Ordering::Relaxed) && !self.reaper.swap(true, Ordering::AcqRel)
    }

    /// The reaper was cancelled (the pool aborted, then reopened): the next `arm` starts one.
    pub(crate) fn reaper_gone(&self) {
        self.idle.store(false, Ordering::SeqCst);
        self.reaper.store(false, Ordering::Release);
    }
}

/// Fires the slots whose deadline passed, sleeping until the next deadline.
pub(crate) async fn reaper<R: Runtime>(shared: Arc<Shared<R>>) {
    let deadlines = &shared.deadlines;
    let rt = &shared.rt;
    let mut sleep = pin!(rt.sleep_until(rt.now()));
    loop {
        let now = rt.monotonic_nanos();
        if let Some(next) = shared.registry.fire_passed(now) {
            // The wait is measured on the fast clock; the timer runs on the runtime's clock.
            let at = rt.now().checked_add(Duration::from_nanos(next - now));
            sleep.as_mut().reset(at.unwrap_or_else(|| rt.now()));
            sleep.as_mut().await;
            continue;
        }
        // Nothing armed: go idle, then look once more so an `arm` in between is not missed.
        let listener = deadlines.armed.listen();
        deadlines.idle.store(true, Ordering::SeqCst);
        if shared.registry.any_armed() {
            deadlines.idle.store(false, Ordering::SeqCst);
            continue;
        }
        listener.await;
    }
}

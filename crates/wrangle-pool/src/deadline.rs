//! Per-task timeouts without a timer per task.
//!
//! A worker runs one task at a time, so each worker has one [`Slot`] holding the deadline of
//! the task it runs; one reaper task per pool sleeps until the earliest deadline and fires the
//! slots it passed. This replaces a runtime timer per task, which cost more than the rest of a
//! pooled task together. The running task finds its worker's slot through a thread-local set
//! while the worker polls it.

use std::cell::Cell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use event_listener::Event;
use wrangle_rt::{Runtime, Sleep};

use crate::pool::Shared;
pub(crate) use crate::slot::Slot;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No lock here is held across user code.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    static CURRENT: Cell<Option<Arc<Slot>>> = const { Cell::new(None) };
}

/// Calls `f` with the slot of the worker polling the current task, if any.
pub(crate) fn with_current_slot<T>(f: impl FnOnce(&Slot) -> T) -> Option<T> {
    CURRENT.with(|c| {
        let slot = c.take();
        let out = slot.as_deref().map(f);
        c.set(slot);
        out
    })
}

/// Whether the deadline of the task being polled has passed.
pub(crate) fn current_fired() -> bool {
    with_current_slot(Slot::fired).unwrap_or(false)
}

/// A worker's task, polled with the worker's waker registered in its slot and the slot made
/// current (when the pool has a timeout): the task arms its deadline there at its first poll
/// and checks it when it is pending. The slot is moved into the thread-local and back for each
/// poll, never cloned.
#[pin_project::pin_project]
pub(crate) struct WithSlot<'a, F> {
    #[pin]
    future: F,
    slot: &'a mut Option<Arc<Slot>>,
    registered: &'a mut Option<Waker>,
}

impl<'a, F> WithSlot<'a, F> {
    /// With `slot` `None` (a pool without a timeout) it only polls `future`.
    pub(crate) fn new(
        future: F,
        slot: &'a mut Option<Arc<Slot>>,
        registered: &'a mut Option<Waker>,
    ) -> Self {
        WithSlot {
            future,
            slot,
            registered,
        }
    }
}

impl<F: Future> Future for WithSlot<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let slot: &mut Option<Arc<Slot>> = this.slot;
        match slot {
            // The reaper wakes this worker when the task's deadline passes.
            Some(s) => s.register(cx.waker(), this.registered),
            None => return this.future.poll(cx),
        }
        let previous = CURRENT.with(|c| c.replace(slot.take()));
        // Moved back even if the poll unwinds (pooled tasks catch their panics; this is
        // for the pool's own code).
        let _back = MoveBack { slot, previous };
        this.future.poll(cx)
    }
}

/// Puts the worker's slot back from the thread-local, and the thread-local's previous value.
struct MoveBack<'a> {
    slot: &'a mut Option<Arc<Slot>>,
    previous: Option<Arc<Slot>>,
}

impl Drop for MoveBack<'_> {
    fn drop(&mut self) {
        let previous = self.previous.take();
        *self.slot = CURRENT.with(|c| c.replace(previous));
    }
}

/// The slots of a pool's workers and the reaper's wake-up.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    slots: Mutex<Vec<Arc<Slot>>>,
    reaper: AtomicBool,
    /// The reaper waits for any deadline to be armed.
    idle: AtomicBool,
    armed: Event,
}

impl Deadlines {
    /// A slot for a new worker.
    pub(crate) fn add_slot(&self) -> Arc<Slot> {
        let slot = Arc::new(Slot::default());
        lock(&self.slots).push(slot.clone());
        slot
    }

    /// Arms `slot` for a task whose deadline is `deadline` (on `monotonic_nanos`). Returns
    /// `true` if the reaper must be started.
    ///
    /// Every task has the same timeout, so a new deadline is never earlier than one the reaper
    /// already sleeps for: it needs a wake-up only when it sleeps for none.
    pub(crate) fn arm(&self, slot: &Slot, deadline: u64) -> bool {
        slot.arm(deadline);
        // SeqCst pairs with the reaper's: it either sees this slot armed when it re-checks
        // after going idle, or this sees it idle and wakes it.
        if self.idle.load(Ordering::SeqCst) && self.idle.swap(false, Ordering::SeqCst) {
            self.armed.notify(1);
        }
        !self.reaper.load(Ordering::Relaxed) && !self.reaper.swap(true, Ordering::AcqRel)
    }
}

/// Fires the slots whose deadline passed, sleeping until the next deadline.
pub(crate) async fn reaper<R: Runtime>(shared: Arc<Shared<R>>) {
    let deadlines = &shared.deadlines;
    let rt = &shared.rt;
    let mut sleep = pin!(rt.sleep_until(rt.now()));
    loop {
        let now = rt.monotonic_nanos();
        if let Some(next) = deadlines.scan(now) {
            // The wait is measured on the fast clock; the timer runs on the runtime's clock.
            let at = rt.now().checked_add(Duration::from_nanos(next - now));
            sleep.as_mut().reset(at.unwrap_or_else(|| rt.now()));
            sleep.as_mut().await;
            continue;
        }
        // Nothing armed: go idle, then look once more so an `arm` in between is not missed.
        let listener = deadlines.armed.listen();
        deadlines.idle.store(true, Ordering::SeqCst);
        if deadlines.any_armed() {
            deadlines.idle.store(false, Ordering::SeqCst);
            continue;
        }
        listener.await;
    }
}

impl Deadlines {
    /// Fires the slots whose deadline passed; returns the next deadline.
    fn scan(&self, now: u64) -> Option<u64> {
        lock(&self.slots)
            .iter()
            .filter_map(|slot| slot.fire_if_passed(now))
            .min()
    }

    fn any_armed(&self) -> bool {
        lock(&self.slots).iter().any(|slot| slot.is_armed())
    }
}

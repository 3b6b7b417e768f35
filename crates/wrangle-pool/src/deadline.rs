//! Per-task timeouts without a timer per task.
//!
//! A worker runs one task at a time, so each worker has one [`Slot`] holding the deadline of
//! the task it runs; one reaper task per pool sleeps until the earliest deadline and fires the
//! slots it passed. This replaces a runtime timer per task, which cost more than the rest of a
//! pooled task together. The running task finds its worker's slot through a thread-local set
//! while the worker polls it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use event_listener::Event;
use wrangle_rt::{Runtime, Sleep};

use crate::pool::Shared;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No lock here is held across user code.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The deadline of the task a worker is running.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    deadline: Option<Instant>,
    fired: bool,
    waker: Option<Waker>,
}

impl Slot {
    /// Registers the waker to wake at the deadline, then says whether the deadline has passed.
    pub(crate) fn poll_fired(&self, waker: &Waker) -> bool {
        let mut st = lock(&self.state);
        if !st.fired && !st.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            st.waker = Some(waker.clone());
        }
        st.fired
    }

    /// The task ended: the slot is free for the worker's next task.
    ///
    /// The waker stays: tasks polled by one worker are polled with its waker, so the next
    /// task's `poll_fired` usually finds it already registered and clones nothing. Without a
    /// deadline it is never woken.
    pub(crate) fn clear(&self) {
        let mut st = lock(&self.state);
        st.deadline = None;
        st.fired = false;
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Slot>>> = const { RefCell::new(None) };
}

/// The slot of the worker polling the current task, if any.
pub(crate) fn current_slot() -> Option<Arc<Slot>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// A worker's task, whose first poll runs with the worker's slot made current (the task takes
/// its slot then, when it arms its deadline).
#[pin_project::pin_project]
pub(crate) struct WithSlot<'a, F> {
    #[pin]
    future: F,
    slot: Option<&'a Arc<Slot>>,
    polled: bool,
}

impl<'a, F> WithSlot<'a, F> {
    /// With `None` (a pool without a timeout) it only polls `future`.
    pub(crate) fn new(future: F, slot: Option<&'a Arc<Slot>>) -> Self {
        WithSlot {
            future,
            slot,
            polled: false,
        }
    }
}

impl<F: Future> Future for WithSlot<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let slot = match this.slot {
            Some(slot) if !std::mem::replace(this.polled, true) => slot,
            _ => return this.future.poll(cx),
        };
        let previous = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(slot)));
        let out = this.future.poll(cx);
        CURRENT.with(|c| *c.borrow_mut() = previous);
        out
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

    /// Arms `slot` for a task starting now. Returns `true` if the reaper must be started.
    ///
    /// Every task has the same timeout, so a new deadline is never earlier than one the reaper
    /// already sleeps for: it needs a wake-up only when it sleeps for none.
    pub(crate) fn arm(&self, slot: &Slot, deadline: Instant) -> bool {
        {
            let mut s = lock(&slot.state);
            s.deadline = Some(deadline);
            s.fired = false;
        }
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
    let mut sleep = pin!(shared.rt.sleep_until(shared.rt.now()));
    loop {
        let (wake, next) = deadlines.scan(shared.rt.now());
        for w in wake {
            w.wake();
        }
        if let Some(deadline) = next {
            sleep.as_mut().reset(deadline);
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
    /// Fires the slots whose deadline passed; returns their wakers and the next deadline.
    fn scan(&self, now: Instant) -> (Vec<Waker>, Option<Instant>) {
        let mut wake = Vec::new();
        let mut next: Option<Instant> = None;
        for slot in lock(&self.slots).iter() {
            let mut s = lock(&slot.state);
            match s.deadline {
                Some(d) if d <= now && !s.fired => {
                    s.fired = true;
                    wake.extend(s.waker.take());
                }
                Some(d) if !s.fired => next = Some(next.map_or(d, |n| n.min(d))),
                _ => {}
            }
        }
        (wake, next)
    }

    fn any_armed(&self) -> bool {
        lock(&self.slots).iter().any(|slot| {
            let s = lock(&slot.state);
            s.deadline.is_some() && !s.fired
        })
    }
}

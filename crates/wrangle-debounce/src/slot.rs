//! [`Slot`]: the one result of a run, shared by every call coalesced into it.

use event_listener::{Event, EventListener};

use crate::DebounceError;
use crate::loom::{Mutex, lock};

/// Where a run puts its result, once; every caller coalesced into the run reads a clone.
#[derive(Debug)]
pub(crate) struct Slot<T, E> {
    result: Mutex<Option<Result<T, DebounceError<E>>>>,
    done: Event,
}

impl<T, E> Slot<T, E> {
    pub(crate) fn new() -> Self {
        Slot {
            result: Mutex::new(None),
            done: Event::new(),
        }
    }

    /// Stores the result unless one is there already, and wakes every waiter.
    pub(crate) fn complete(&self, result: Result<T, DebounceError<E>>) {
        {
            let mut slot = lock(&self.result);
            if slot.is_some() {
                return;
            }
            *slot = Some(result);
        }
        self.done.notify(usize::MAX);
    }

    /// A listener that fires once the result is stored. Register it before checking
    /// [`result`](Slot::result), so that no completion is missed in between.
    pub(crate) fn listen(&self) -> EventListener {
        self.done.listen()
    }

    pub(crate) fn is_complete(&self) -> bool {
        lock(&self.result).is_some()
    }
}

impl<T: Clone, E: Clone> Slot<T, E> {
    /// A clone of the result, once there is one.
    pub(crate) fn result(&self) -> Option<Result<T, DebounceError<E>>> {
        lock(&self.result).clone()
    }
}

/// Waits until `slot` holds its result, without holding the slot meanwhile (so that the run
/// still counts as unheard, and reports its failure, when no caller is left).
pub(crate) async fn wait_done<T, E>(slot: std::sync::Arc<Slot<T, E>>) {
    let weak = std::sync::Arc::downgrade(&slot);
    drop(slot);
    loop {
        let listener = match weak.upgrade() {
            // Only the run and callers hold a slot, and the run drops it after completing it.
            None => return,
            Some(slot) => {
                let listener = slot.listen();
                if slot.is_complete() {
                    return;
                }
                listener
            }
        };
        listener.await;
    }
}

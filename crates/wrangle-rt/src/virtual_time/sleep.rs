use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::Shared;
use crate::Sleep;

/// The sleep of [`VirtualRuntime`](crate::VirtualRuntime): completes when virtual time reaches
/// its deadline.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct VirtualSleep {
    shared: Arc<Shared>,
    deadline: Instant,
    /// The key of this sleep's entry in the timer map, while it is registered.
    key: Option<(Instant, u64)>,
}

impl VirtualSleep {
    pub(super) fn new(shared: Arc<Shared>, deadline: Instant) -> Self {
        VirtualSleep {
            shared,
            deadline,
            key: None,
        }
    }
}

impl fmt::Debug for VirtualSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualSleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.key.is_some())
            .finish()
    }
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut st = this.shared.lock();
        if this.shared.now(&st) >= this.deadline {
            if let Some(key) = this.key.take() {
                st.timers.remove(&key);
            }
            return Poll::Ready(());
        }
        match this.key {
            Some(key) => match st.timers.get_mut(&key) {
                Some(w) => {
                    if !w.will_wake(cx.waker()) {
                        *w = cx.waker().clone();
                    }
                }
                // Fired (the map entry was taken) but polled before time reached us: re-arm.
                None => {
                    st.timers.insert(key, cx.waker().clone());
                }
            },
            None => {
                let key = (this.deadline, st.next_id());
                st.timers.insert(key, cx.waker().clone());
                this.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Sleep for VirtualSleep {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        let this = &mut *self;
        let mut st = this.shared.lock();
        this.deadline = deadline;
        if let Some(old) = this.key.take() {
            // Keep the waiting task registered, now at the new deadline.
            if let Some(waker) = st.timers.remove(&old) {
                let key = (deadline, st.next_id());
                st.timers.insert(key, waker);
                this.key = Some(key);
            }
        }
    }

    fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let waker = self.shared.lock().timers.remove(&key);
            // Dropped outside the lock: dropping a waker can drop a task.
            drop(waker);
        }
    }
}

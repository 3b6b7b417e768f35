use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::Shared;

/// Future returned by [`VirtualRuntime::advance`](crate::VirtualRuntime::advance).
///
/// # Cancel safety
///
/// Dropping it withdraws the request; time already advanced stays advanced.
#[must_use = "time advances only while the future is awaited"]
pub struct Advance {
    shared: Arc<Shared>,
    duration: Duration,
    key: Option<(Instant, u64)>,
}

impl Advance {
    pub(super) fn new(shared: Arc<Shared>, duration: Duration) -> Self {
        Advance {
            shared,
            duration,
            key: None,
        }
    }
}

impl fmt::Debug for Advance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Advance")
            .field("duration", &self.duration)
            .finish()
    }
}

fn poll_target(
    shared: &Shared,
    key: &mut Option<(Instant, u64)>,
    target: Instant,
    cx: &mut Context<'_>,
) -> Poll<()> {
    let mut st = shared.lock();
    if shared.now(&st) >= target {
        if let Some(k) = key.take() {
            st.targets.remove(&k);
        }
        return Poll::Ready(());
    }
    let k = match *key {
        Some(k) => k,
        None => {
            let k = (target, st.next_id());
            *key = Some(k);
            k
        }
    };
    st.targets.insert(k, cx.waker().clone());
    Poll::Pending
}

impl Future for Advance {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let target = match this.key {
            Some(k) => k.0,
            None => {
                let st = this.shared.lock();
                let now = this.shared.now(&st);
                crate::time::saturating_deadline(now, this.duration)
            }
        };
        poll_target(&this.shared, &mut this.key, target, cx)
    }
}

impl Drop for Advance {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            let waker = self.shared.lock().targets.remove(&k);
            drop(waker);
        }
    }
}

/// Future returned by [`VirtualRuntime::advance_to_next`](crate::VirtualRuntime::advance_to_next).
///
/// # Cancel safety
///
/// Dropping it withdraws the request.
#[must_use = "time advances only while the future is awaited"]
pub struct AdvanceToNext {
    shared: Arc<Shared>,
    key: Option<(Instant, u64)>,
}

impl AdvanceToNext {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        AdvanceToNext { shared, key: None }
    }
}

impl fmt::Debug for AdvanceToNext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdvanceToNext").finish_non_exhaustive()
    }
}

impl Future for AdvanceToNext {
    type Output = Option<Instant>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        let this = &mut *self;
        let target = match this.key {
            Some(k) => k.0,
            None => {
                let st = this.shared.lock();
                match st.timers.keys().next() {
                    Some(k) => k.0.max(this.shared.now(&st)),
                    None => return Poll::Ready(None),
                }
            }
        };
        poll_target(&this.shared, &mut this.key, target, cx).map(|()| Some(target))
    }
}

impl Drop for AdvanceToNext {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            let waker = self.shared.lock().targets.remove(&k);
            drop(waker);
        }
    }
}

//! Scope-level shielding ([`TaskScope::shield`](crate::TaskScope::shield)): a parent's cancel
//! held back until a deadline, and children that outlive a dropped scope future until then.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use wrangle_rt::future::WaitForCancellationOwned;
use wrangle_rt::{CancellationToken, Runtime};

use crate::concurrent::future_set::FutureSet;
use crate::loom::lock;
use crate::scope::drain;
use crate::scope::state::{Child, Shared};

/// A parent's cancel, held back by a shield: it reaches the scope's token `limit` after it
/// happened.
pub(crate) struct Outer<S> {
    pub(crate) cancelled: Pin<Box<WaitForCancellationOwned>>,
    pub(crate) limit: Duration,
    pub(crate) sleep: Option<Pin<Box<S>>>,
}

pub(crate) fn poll_outer<R: Runtime>(
    outer: &mut Option<Outer<R::Sleep>>,
    rt: &R,
    token: &CancellationToken,
    cx: &mut Context<'_>,
) {
    let Some(o) = outer.as_mut() else { return };
    if o.sleep.is_none() && o.cancelled.as_mut().poll(cx).is_ready() {
        o.sleep = Some(Box::pin(rt.sleep(o.limit)));
    }
    if let Some(s) = o.sleep.as_mut()
        && s.as_mut().poll(cx).is_ready()
    {
        token.cancel();
        *outer = None;
    }
}

/// The children of a running scope. If the scope's future is dropped while it is shielded,
/// they are handed to a task of their own, which asks them to stop when the shield runs out.
pub(crate) struct ShieldOnDrop<R: Runtime> {
    pub(crate) shared: Arc<Shared<R>>,
    pub(crate) set: FutureSet<Child>,
    pub(crate) shield: Option<Duration>,
    pub(crate) grace: Option<Duration>,
}

impl<R: Runtime> Drop for ShieldOnDrop<R> {
    fn drop(&mut self) {
        let Some(limit) = self.shield else { return };
        // Children spawned but not yet taken in are shielded too; nothing may join now.
        let pending = {
            let mut st = lock(&self.shared.state);
            st.closed = true;
            st.waker = None;
            std::mem::take(&mut st.pending)
        };
        for child in pending {
            self.set.insert(child);
        }
        if self.set.len() == 0 {
            return;
        }
        let mut set = std::mem::take(&mut self.set);
        let rt = self.shared.rt.clone();
        let token = self.shared.token.clone();
        let grace = self.grace;
        let mut shield = Box::pin(rt.sleep(limit));
        let mut grace_sleep = None;
        let mut asked = false;
        let reaper = poll_fn(move |cx| {
            loop {
                if drain(&mut set, cx) {
                    return Poll::Ready(());
                }
                if !asked {
                    if shield.as_mut().poll(cx).is_ready() {
                        token.cancel();
                        asked = true;
                        grace_sleep = grace.map(|g| Box::pin(rt.sleep(g)));
                        continue;
                    }
                    return Poll::Pending;
                }
                if let Some(g) = grace_sleep.as_mut()
                    && g.as_mut().poll(cx).is_ready()
                {
                    // Dropping a child cancels its task (and counts it).
                    set.clear();
                    return Poll::Ready(());
                }
                return Poll::Pending;
            }
        });
        self.shared.rt.spawn(reaper).detach();
    }
}

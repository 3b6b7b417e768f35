//! A waiter that sleeps until a shared, movable deadline has passed.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use pin_project::pin_project;
use wrangle_rt::{Runtime, Sleep};

/// Sleeps on one timer, re-reading the deadline each time it fires, until the deadline read
/// is `None` or has passed.
#[pin_project]
#[derive(Debug)]
pub(crate) struct DeadlineWait<S> {
    #[pin]
    sleep: Option<S>,
}

impl<S: Sleep> DeadlineWait<S> {
    pub(crate) fn new() -> Self {
        DeadlineWait { sleep: None }
    }

    /// Polls with `current` reading the deadline now in force.
    pub(crate) fn poll_until<R>(
        self: Pin<&mut Self>,
        rt: &R,
        cx: &mut Context<'_>,
        mut current: impl FnMut() -> Option<Instant>,
    ) -> Poll<()>
    where
        R: Runtime<Sleep = S>,
    {
        let mut this = self.project();
        loop {
            let Some(until) = current() else {
                return Poll::Ready(());
            };
            if rt.now() >= until {
                return Poll::Ready(());
            }
            match this.sleep.as_mut().as_pin_mut() {
                Some(sleep) => {
                    if sleep.deadline() != until {
                        sleep.reset(until);
                    }
                }
                None => this.sleep.set(Some(rt.sleep_until(until))),
            }
            let sleep = this
                .sleep
                .as_mut()
                .as_pin_mut()
                .expect("sleep was just set");
            if sleep.poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

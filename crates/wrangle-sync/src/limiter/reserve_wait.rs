//! Sleeping until a reserved admission instant: the waiting half of every rate limiter.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use pin_project::pin_project;
use wrangle_rt::Runtime;

/// Sleeps until an instant; the first poll takes the reservation.
#[pin_project]
#[derive(Debug)]
pub(crate) struct ReserveWait<T, S> {
    /// The reservation and its admission instant, until admitted.
    ticket: Option<(Instant, T)>,
    done: bool,
    #[pin]
    sleep: Option<S>,
}

impl<T, S: wrangle_rt::Sleep> ReserveWait<T, S> {
    pub(crate) fn new() -> Self {
        ReserveWait {
            ticket: None,
            done: false,
            sleep: None,
        }
    }

    /// Polls; `reserve(now)` is called once, on the first poll.
    pub(crate) fn poll_reserve<R: Runtime<Sleep = S>>(
        self: Pin<&mut Self>,
        rt: &R,
        cx: &mut Context<'_>,
        reserve: impl FnOnce(Instant) -> (Instant, T),
    ) -> Poll<()> {
        let mut this = self.project();
        assert!(!*this.done, "rate limiter future polled after completion");
        let at = match this.ticket {
            Some((at, _)) => *at,
            None => {
                let now = rt.now();
                let (at, ticket) = reserve(now);
                if at <= now {
                    *this.done = true;
                    return Poll::Ready(());
                }
                *this.ticket = Some((at, ticket));
                this.sleep.set(Some(rt.sleep_until(at)));
                at
            }
        };
        let sleep = this
            .sleep
            .as_mut()
            .as_pin_mut()
            .expect("sleep armed with the ticket");
        ready!(sleep.poll(cx));
        debug_assert!(rt.now() >= at);
        *this.ticket = None;
        *this.done = true;
        Poll::Ready(())
    }

    /// The reservation still outstanding (taken and not yet admitted), for a refund on drop.
    pub(crate) fn take_outstanding(self: Pin<&mut Self>) -> Option<T> {
        self.project().ticket.take().map(|(_, t)| t)
    }
}

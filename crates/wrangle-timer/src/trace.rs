//! With the `tracing` feature: the span of each call a timer makes (a periodic tick, a
//! schedule's firing, a one-shot timer), named by the component's `name`, and its events
//! (`spawned`, `started`, `finished`, `failed`, `panicked`, `cancelled`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::tracked_call::Ended;

/// The target of the spans and events: `RUST_LOG=wrangle_timer=debug` shows them.
const TARGET: &str = "wrangle_timer";

/// A call's future inside its span. The call records its own end (`finished`, `failed`,
/// `panicked`: it knows which) as events in the entered span; this records `started`, and
/// `cancelled` when the call is dropped before it ended.
#[pin_project::pin_project(PinnedDrop)]
pub(crate) struct Tick<F> {
    #[pin]
    call: F,
    span: tracing::Span,
    started: bool,
    ended: bool,
}

impl<F> Tick<F> {
    /// Opens the call's span under the component's name and records `spawned`.
    pub(crate) fn new(call: F, name: &str) -> Self {
        let span = tracing::debug_span!(target: TARGET, "timer.tick", task.name = %name);
        tracing::debug!(target: TARGET, parent: &span, "spawned");
        Tick {
            call,
            span,
            started: false,
            ended: false,
        }
    }
}

impl<F: Future<Output = Ended>> Future for Tick<F> {
    type Output = Ended;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended> {
        let this = self.project();
        let _entered = this.span.enter();
        if !std::mem::replace(this.started, true) {
            tracing::debug!(target: TARGET, parent: &*this.span, "started");
        }
        let polled = this.call.poll(cx);
        if polled.is_ready() {
            *this.ended = true;
        }
        polled
    }
}

#[pin_project::pinned_drop]
impl<F> PinnedDrop for Tick<F> {
    fn drop(self: Pin<&mut Self>) {
        if !self.ended {
            tracing::debug!(target: TARGET, parent: &self.span, "cancelled");
        }
    }
}

/// The call returned success: recorded in the call's span, entered while it is polled.
pub(crate) fn finished() {
    tracing::debug!(target: TARGET, "finished");
}

/// The call returned an error (reported to the component's error reporter).
pub(crate) fn failed() {
    tracing::debug!(target: TARGET, "failed");
}

/// The call panicked (reported to the component's error reporter).
pub(crate) fn panicked() {
    tracing::debug!(target: TARGET, "panicked");
}

//! One pooled task: the user's future with the per-task timeout (armed at its first poll),
//! panic capture, and the pool's counters.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use wrangle_rt::{ErrorReporter, JoinError, PanicPayload, Runtime, Unhandled};

use crate::pool::Shared;

/// How a job ended, as delivered to its handle.
pub(crate) enum Outcome<T> {
    Done(T),
    Failed(Failure),
}

/// A timeout or a panic. If nobody takes it (the handle was detached), it is reported to the
/// pool's error handler when dropped, so it is never lost silently.
pub(crate) struct Failure {
    kind: Option<FailureKind>,
    reporter: ErrorReporter,
}

pub(crate) enum FailureKind {
    TimedOut,
    Panicked(Box<dyn std::any::Any + Send>),
}

impl Failure {
    pub(crate) fn take(mut self) -> FailureKind {
        self.kind.take().expect("a failure is taken once")
    }
}

impl Drop for Failure {
    fn drop(&mut self) {
        let error = match self.kind.take() {
            None => return,
            Some(FailureKind::TimedOut) => "detached pooled task timed out".into(),
            Some(FailureKind::Panicked(p)) => {
                wrangle_rt::BoxError::from(JoinError::Panicked(PanicPayload::new(p)))
            }
        };
        self.reporter.report(Unhandled::new("wrangle_pool", error));
    }
}

#[pin_project::pin_project(PinnedDrop)]
pub(crate) struct Job<F, R: Runtime> {
    #[pin]
    future: F,
    /// Whether this task's deadline is armed in its worker's slot.
    armed: bool,
    shared: Arc<Shared<R>>,
    started: bool,
    finished: bool,
}

impl<F, R: Runtime> Job<F, R> {
    pub(crate) fn new(future: F, shared: Arc<Shared<R>>) -> Self {
        Job {
            future,
            armed: false,
            shared,
            started: false,
            finished: false,
        }
    }
}

impl<F: Future, R: Runtime> Future for Job<F, R> {
    type Output = Outcome<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if !*this.started {
            *this.started = true;
            this.shared.counters.active.fetch_add(1, Ordering::Relaxed);
            // The timeout counts from the task's start, never from its time in the queue.
            if let Some(timeout) = this.shared.timeout {
                *this.armed = Shared::arm(this.shared, timeout);
            }
        }
        let polled = catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx)));
        let counters = &this.shared.counters;
        let outcome = match polled {
            Ok(Poll::Ready(v)) => {
                counters.completed.fetch_add(1, Ordering::Relaxed);
                Outcome::Done(v)
            }
            Err(p) => {
                counters.panicked.fetch_add(1, Ordering::Relaxed);
                Outcome::Failed(this.shared.failure(FailureKind::Panicked(p)))
            }
            Ok(Poll::Pending) => match (*this.armed).then(crate::deadline::current_fired) {
                Some(true) => {
                    counters.timed_out.fetch_add(1, Ordering::Relaxed);
                    Outcome::Failed(this.shared.failure(FailureKind::TimedOut))
                }
                _ => return Poll::Pending,
            },
        };
        *this.finished = true;
        counters.active.fetch_sub(1, Ordering::Relaxed);
        Poll::Ready(outcome)
    }
}

#[pin_project::pinned_drop]
impl<F, R: Runtime> PinnedDrop for Job<F, R> {
    fn drop(self: Pin<&mut Self>) {
        // The worker clears its deadline slot when this task's future is done with.
        if !self.finished {
            let counters = &self.shared.counters;
            counters.cancelled.fetch_add(1, Ordering::Relaxed);
            if self.started {
                counters.active.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl<R: Runtime> Shared<R> {
    fn failure(&self, kind: FailureKind) -> Failure {
        Failure {
            kind: Some(kind),
            reporter: self.reporter.clone(),
        }
    }
}

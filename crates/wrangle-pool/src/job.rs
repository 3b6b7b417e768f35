//! One pooled task: the user's future with panic capture and the per-task timeout.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{ErrorReporter, JoinError, PanicPayload, Unhandled};

use crate::worker::{End, WorkerCtx, with_current};

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

/// The user's future with panic capture and the per-task timeout. It holds nothing of the
/// pool: the worker polling it is reached through [`with_current`]. It records how it ended
/// in that worker's counters before its handle can see the end.
#[pin_project::pin_project(PinnedDrop)]
pub(crate) struct Job<F> {
    #[pin]
    future: F,
    /// The worker that started it (`WorkerCtx::id`); 0 before its first poll.
    worker: usize,
    /// Whether its end was recorded.
    ended: bool,
}

impl<F> Job<F> {
    pub(crate) fn new(future: F) -> Self {
        Job {
            future,
            worker: 0,
            ended: false,
        }
    }
}

/// A job nobody awaits: its outcome is dropped where it ends, and a failure reports itself to
/// the pool's error reporter (see [`Failure`]). Its future is dropped as soon as it ends, and a
/// panic while dropping it is caught and reported too, so it never unwinds into the worker.
#[pin_project::pin_project(PinnedDrop)]
pub(crate) struct Detached<F> {
    #[pin]
    job: Option<Job<F>>,
}

impl<F> Detached<F> {
    pub(crate) fn new(future: F) -> Self {
        Detached {
            job: Some(Job::new(future)),
        }
    }
}

impl<F: Future> Future for Detached<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let Some(job) = this.job.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        let outcome = std::task::ready!(job.poll(cx));
        drop_caught(this.job);
        drop(outcome);
        Poll::Ready(())
    }
}

#[pin_project::pinned_drop]
impl<F> PinnedDrop for Detached<F> {
    fn drop(self: Pin<&mut Self>) {
        drop_caught(self.project().job);
    }
}

/// Drops a detached job's future, reporting a panic from its destructor instead of unwinding.
fn drop_caught<F>(mut job: Pin<&mut Option<Job<F>>>) {
    if job.is_none() {
        return;
    }
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| job.set(None))) {
        let reporter = with_current(|w| w.reporter.clone()).unwrap_or_default();
        drop(Failure {
            kind: Some(FailureKind::Panicked(p)),
            reporter,
        });
    }
}

impl<F: Future> Future for Job<F> {
    type Output = Outcome<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.worker == 0 {
            *this.worker = with_current(WorkerCtx::begin).unwrap_or(usize::MAX);
        }
        let polled = catch_unwind(AssertUnwindSafe(|| this.future.poll(cx)));
        let (end, kind) = match polled {
            Ok(Poll::Ready(v)) => {
                *this.ended = true;
                with_current(|w| w.record(End::Completed));
                return Poll::Ready(Outcome::Done(v));
            }
            Err(p) => (End::Panicked, FailureKind::Panicked(p)),
            // The worker armed the deadline at the task's start, so it counts from there,
            // never from the task's time in the queue.
            Ok(Poll::Pending) => match with_current(WorkerCtx::fired) {
                Some(true) => (End::TimedOut, FailureKind::TimedOut),
                _ => return Poll::Pending,
            },
        };
        *this.ended = true;
        let reporter = with_current(|w| {
            w.record(end);
            w.reporter.clone()
        });
        Poll::Ready(Outcome::Failed(Failure {
            kind: Some(kind),
            reporter: reporter.unwrap_or_default(),
        }))
    }
}

#[pin_project::pinned_drop]
impl<F> PinnedDrop for Job<F> {
    fn drop(self: Pin<&mut Self>) {
        // Cancelled: recorded here when dropped on its worker (a handle's cancel, before or
        // after the body started), so the count is there when the handle resolves. Dropped
        // anywhere else (in the queue, or with its worker), the pool or the worker's exit
        // records it.
        if self.ended {
            return;
        }
        let worker = self.worker;
        with_current(|w| {
            let ours = match worker {
                0 => w.taken_not_begun(),
                started => w.id() == started,
            };
            if ours {
                w.record(End::Cancelled);
            }
        });
    }
}

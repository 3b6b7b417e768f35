//! One pooled task: the user's future with panic capture and the per-task timeout.

use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{ErrorReporter, JoinError, PanicPayload, Unhandled};

use crate::trace::TaskName;
use crate::worker::{End, WorkerCtx, with_current};

/// How a job ended, as delivered to its handle. A failure is boxed: it is rare, and every
/// pooled task's cell holds room for an outcome, so the common case stays small.
pub(crate) enum JobOutcome<T> {
    Done(T),
    Failed(Box<Failure>),
}

/// A timeout or a panic. If nobody takes it (the handle was detached), it is reported to the
/// pool's error reporter when dropped, so it is never lost silently.
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
    /// [`NOT_STARTED`], [`ENDED`], or the worker that started it (`WorkerCtx::id`, an
    /// address aligned to 128, never 1 or 2). One word, so that a small task's whole
    /// allocation stays small: a long queue of them stays in cache longer; never zero, so that
    /// an `Option` of a job (a detached task's cell) is no bigger.
    state: NonZeroUsize,
    /// The task's span (feature `tracing` only: without it a job stays one word bigger than
    /// its future).
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

const NOT_STARTED: NonZeroUsize = NonZeroUsize::new(1).unwrap();
const ENDED: NonZeroUsize = NonZeroUsize::new(2).unwrap();
/// Polled outside any worker (never done by the pool).
const NO_WORKER: NonZeroUsize = NonZeroUsize::MAX;

impl<F> Job<F> {
    pub(crate) fn new(future: F, name: TaskName) -> Self {
        #[cfg(not(feature = "tracing"))]
        let _ = name;
        Job {
            future,
            state: NOT_STARTED,
            #[cfg(feature = "tracing")]
            span: crate::trace::spawned(name),
        }
    }
}

/// A job nobody awaits: its outcome is dropped where it ends, and a failure reports itself to
/// the pool's error reporter (see [`Failure`]).
#[pin_project::pin_project]
pub(crate) struct Detached<F> {
    #[pin]
    job: Job<F>,
}

impl<F> Detached<F> {
    pub(crate) fn new(future: F, name: TaskName) -> Self {
        Detached {
            job: Job::new(future, name),
        }
    }
}

impl<F: Future> Future for Detached<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().job.poll(cx).map(drop)
    }
}

/// Drops a job (its future with it), reporting a panic of a destructor to `reporter` instead
/// of unwinding into the pool. The pool drops every job this way: a worker after the job
/// ended, and the queue when it is emptied by an abort.
pub(crate) fn drop_caught<T>(job: T, reporter: &ErrorReporter) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(move || drop(job))) {
        drop(Failure {
            kind: Some(FailureKind::Panicked(p)),
            reporter: reporter.clone(),
        });
    }
}

impl<F: Future> Future for Job<F> {
    type Output = JobOutcome<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        #[cfg(feature = "tracing")]
        let _entered = this.span.enter();
        if *this.state == NOT_STARTED {
            *this.state = with_current(WorkerCtx::begin)
                .and_then(NonZeroUsize::new)
                .unwrap_or(NO_WORKER);
            #[cfg(feature = "tracing")]
            crate::trace::started(this.span);
        }
        let polled = catch_unwind(AssertUnwindSafe(|| this.future.poll(cx)));
        let (end, kind) = match polled {
            Ok(Poll::Ready(v)) => {
                *this.state = ENDED;
                with_current(|w| w.record(End::Completed));
                #[cfg(feature = "tracing")]
                crate::trace::ended(this.span, End::Completed);
                return Poll::Ready(JobOutcome::Done(v));
            }
            Err(p) => (End::Panicked, FailureKind::Panicked(p)),
            // The worker armed the deadline at the task's start, so it counts from there,
            // never from the task's time in the queue.
            Ok(Poll::Pending) => match with_current(WorkerCtx::fired) {
                Some(true) => (End::TimedOut, FailureKind::TimedOut),
                _ => return Poll::Pending,
            },
        };
        *this.state = ENDED;
        #[cfg(feature = "tracing")]
        crate::trace::ended(this.span, end);
        let reporter = with_current(|w| {
            w.record(end);
            w.reporter.clone()
        });
        Poll::Ready(JobOutcome::Failed(Box::new(Failure {
            kind: Some(kind),
            reporter: reporter.unwrap_or_default(),
        })))
    }
}

#[pin_project::pinned_drop]
impl<F> PinnedDrop for Job<F> {
    fn drop(self: Pin<&mut Self>) {
        // Cancelled: recorded here when dropped on its worker (a handle's cancel, before or
        // after the body started), so the count is there when the handle resolves. Dropped
        // anywhere else (in the queue, or with its worker), the pool or the worker's exit
        // records it.
        let state = self.state;
        if state == ENDED {
            return;
        }
        #[cfg(feature = "tracing")]
        crate::trace::ended(&self.span, End::Cancelled);
        with_current(|w| {
            let ours = if state == NOT_STARTED {
                w.taken_not_begun()
            } else {
                w.id() == state.get()
            };
            if ours {
                w.record(End::Cancelled);
            }
        });
    }
}

// With `tracing`, each job carries its span: the size below holds without it.
#[cfg(all(test, not(feature = "tracing")))]
mod tests {
    use super::*;

    #[test]
    fn a_small_detached_task_fits_in_a_small_allocation() {
        let done = std::sync::Arc::new(());
        let job = Detached::new(
            async move {
                drop(done);
            },
            None,
        );
        // The future (an `Arc` and its state) and the job's one word of state: 24 bytes.
        assert!(size_of_val(&job) <= 24, "{}", size_of_val(&job));
        // Queued, it is all of its cell (no room for a handle's state): with the `Arc`'s two
        // counts, 40 bytes, a 48-byte glibc chunk.
        let queued = crate::joint::detached(job);
        assert!(queued.cell_size() <= 24, "{}", queued.cell_size());
    }
}

//! Names for scope and supervisor children and, with the `tracing` feature, the span of each
//! child and its events (`spawned`, `started`, `finished`, `panicked`, `cancelled`), and the
//! span of a supervisor's run. Without
//! the feature only the label is left, and the names given to `spawn_named` are dropped.

use std::borrow::Cow;

/// What a child is and the name it was spawned with.
#[derive(Debug, Clone)]
pub(crate) struct Label {
    #[cfg_attr(
        not(feature = "tracing"),
        allow(dead_code, reason = "read by the spans")
    )]
    kind: Kind,
    #[cfg_attr(
        not(feature = "tracing"),
        allow(dead_code, reason = "read by the spans")
    )]
    name: Option<Cow<'static, str>>,
}

/// The owner of a child: the span's name says which.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Scope,
    Supervisor,
}

impl Label {
    pub(crate) fn new(kind: Kind, name: Option<Cow<'static, str>>) -> Self {
        Label { kind, name }
    }
}

#[cfg(feature = "tracing")]
pub(crate) use traced::{Traced, supervisor_run};

#[cfg(feature = "tracing")]
mod traced {
    use std::future::Future;
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::{Kind, Label};

    /// The target of the spans and events: `RUST_LOG=wrangle_task=debug` shows them.
    const TARGET: &str = "wrangle_task";

    const SPAWNED: u8 = 0;
    const RUNNING: u8 = 1;
    const ENDED: u8 = 2;

    /// Records the life of one [`Supervisor::run`](crate::Supervisor::run) in a `supervisor`
    /// span: `started` at the first poll, then `finished`, `failed` (with the error) or
    /// `cancelled` (the run future dropped before it ended). The children's spans and the
    /// body's own events nest in it.
    pub(crate) fn supervisor_run<T, F>(
        run: F,
    ) -> impl Future<Output = Result<T, crate::SupervisorError>> + Send
    where
        F: Future<Output = Result<T, crate::SupervisorError>> + Send,
    {
        /// Records `cancelled` if the run is dropped before it ended.
        struct Ending(Option<tracing::Span>);
        impl Drop for Ending {
            fn drop(&mut self) {
                if let Some(span) = self.0.take() {
                    tracing::debug!(target: TARGET, parent: &span, "cancelled");
                }
            }
        }
        let span = tracing::debug_span!(target: TARGET, "supervisor");
        async move {
            let mut ending = Ending(Some(span.clone()));
            tracing::debug!(target: TARGET, parent: &span, "started");
            let out = tracing::Instrument::instrument(run, span.clone()).await;
            ending.0 = None;
            match &out {
                Ok(_) => tracing::debug!(target: TARGET, parent: &span, "finished"),
                Err(e) => tracing::debug!(target: TARGET, parent: &span, error = %e, "failed"),
            }
            out
        }
    }

    /// A child's future (`Some(output)`, or `None` when the scope's token stopped it) inside
    /// its span, which records the steps of its life.
    #[pin_project::pin_project(PinnedDrop)]
    pub(crate) struct Traced<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
        state: u8,
    }

    impl<F> Traced<F> {
        /// Opens the child's span and records `spawned`.
        pub(crate) fn new(inner: F, label: Label) -> Self {
            let span = match (label.kind, &label.name) {
                (Kind::Scope, Some(n)) => {
                    tracing::debug_span!(target: TARGET, "scope.child", task.name = %n)
                }
                (Kind::Scope, None) => tracing::debug_span!(
                    target: TARGET,
                    "scope.child",
                    task.name = tracing::field::Empty
                ),
                (Kind::Supervisor, Some(n)) => {
                    tracing::debug_span!(target: TARGET, "supervisor.child", task.name = %n)
                }
                (Kind::Supervisor, None) => tracing::debug_span!(
                    target: TARGET,
                    "supervisor.child",
                    task.name = tracing::field::Empty
                ),
            };
            tracing::debug!(target: TARGET, parent: &span, "spawned");
            Traced {
                inner,
                span,
                state: SPAWNED,
            }
        }
    }

    impl<F: Future<Output = Option<O>>, O> Future for Traced<F> {
        type Output = Option<O>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<O>> {
            let this = self.project();
            let (inner, span, state) = (this.inner, &*this.span, this.state);
            let _entered = span.enter();
            if *state == SPAWNED {
                *state = RUNNING;
                tracing::debug!(target: TARGET, parent: span, "started");
            }
            match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(out)) => {
                    *state = ENDED;
                    if out.is_some() {
                        tracing::debug!(target: TARGET, parent: span, "finished");
                    } else {
                        tracing::debug!(target: TARGET, parent: span, "cancelled");
                    }
                    Poll::Ready(out)
                }
                Err(payload) => {
                    *state = ENDED;
                    tracing::debug!(target: TARGET, parent: span, "panicked");
                    // The runtime's task catches it, as without the span.
                    resume_unwind(payload)
                }
            }
        }
    }

    #[pin_project::pinned_drop]
    impl<F> PinnedDrop for Traced<F> {
        fn drop(self: Pin<&mut Self>) {
            if self.state != ENDED {
                tracing::debug!(target: TARGET, parent: &self.span, "cancelled");
            }
        }
    }
}

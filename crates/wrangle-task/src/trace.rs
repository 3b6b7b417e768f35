//! Names for scope and supervisor children and, with the `tracing` feature, the span of each
//! child and its events (`spawned`, `started`, `finished`, `panicked`, `cancelled`). Without
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
pub(crate) use traced::Traced;

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

//! Task names and, with the `tracing` feature, the span of each pooled task and its events
//! (`spawned`, `started`, `finished`, `panicked`, `timed out`, `cancelled`). Without the
//! feature only the name type is left, and the names given to `spawn_named` are dropped.

use std::borrow::Cow;

/// The name a task was spawned with (`TaskPool::spawn_named`), if any.
pub(crate) type TaskName = Option<Cow<'static, str>>;

#[cfg(feature = "tracing")]
use crate::worker::End;

/// The target of the pool's spans and events: `RUST_LOG=wrangle_pool=debug` shows them.
#[cfg(feature = "tracing")]
const TARGET: &str = "wrangle_pool";

/// The span of a task being submitted, with its `spawned` event.
#[cfg(feature = "tracing")]
pub(crate) fn spawned(name: TaskName) -> tracing::Span {
    let span = match &name {
        Some(name) => tracing::debug_span!(target: TARGET, "pool.task", task.name = %name),
        None => {
            tracing::debug_span!(target: TARGET, "pool.task", task.name = tracing::field::Empty)
        }
    };
    tracing::debug!(target: TARGET, parent: &span, "spawned");
    span
}

/// The task's first poll.
#[cfg(feature = "tracing")]
pub(crate) fn started(span: &tracing::Span) {
    tracing::debug!(target: TARGET, parent: span, "started");
}

/// The task's end, once.
#[cfg(feature = "tracing")]
pub(crate) fn ended(span: &tracing::Span, end: End) {
    match end {
        End::Completed => tracing::debug!(target: TARGET, parent: span, "finished"),
        End::Panicked => tracing::debug!(target: TARGET, parent: span, "panicked"),
        End::TimedOut => tracing::debug!(target: TARGET, parent: span, "timed out"),
        End::Cancelled => tracing::debug!(target: TARGET, parent: span, "cancelled"),
    }
}

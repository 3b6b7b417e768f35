//! [`SpanRecorder`]: a `tracing` subscriber that keeps every span with its fields and events,
//! for tests of the crates' spans (feature `tracing`). Re-exported from [`crate::testing`].

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// A span as recorded: its name, target, fields and the messages of the events inside it, in
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedSpan {
    /// The span's name (`pool.task`, `scope.child`, ...).
    pub name: &'static str,
    /// The span's target (the crate: `wrangle_pool`, ...).
    pub target: &'static str,
    /// Every field recorded, as `(name, value)`, values formatted with `Debug` (strings
    /// without quotes).
    pub fields: Vec<(&'static str, String)>,
    /// The `message` of each event recorded inside the span (its explicit parent, or the
    /// span entered when it was emitted).
    pub events: Vec<String>,
}

impl RecordedSpan {
    /// The value of field `name`, if it was recorded.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A `tracing` subscriber that records every span and event, installed once as the process's
/// global default: tasks on any thread of any runtime report to it.
///
/// Tests running at the same time share it, so each test tells its own spans apart by a field
/// it chose (a task name), with [`spans_with`](SpanRecorder::spans_with).
///
/// # Examples
///
/// ```
/// use wrangle_rt::testing::SpanRecorder;
///
/// let recorder = SpanRecorder::global();
/// let span = tracing::debug_span!("job", task.name = "doc-example");
/// span.in_scope(|| tracing::debug!("started"));
/// tracing::debug!(parent: &span, "finished");
/// let spans = recorder.spans_with("task.name", "doc-example");
/// assert_eq!(spans.len(), 1);
/// assert_eq!(spans[0].name, "job");
/// assert_eq!(spans[0].events, ["started", "finished"]);
/// ```
///
/// # Panics
///
/// [`global`](SpanRecorder::global) panics if another global subscriber was installed first.
#[derive(Clone)]
pub struct SpanRecorder {
    spans: Arc<Mutex<Vec<RecordedSpan>>>,
}

impl fmt::Debug for SpanRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanRecorder")
            .field("spans", &self.lock().len())
            .finish()
    }
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl SpanRecorder {
    /// The process-wide recorder, installed as the global default subscriber by the first
    /// call.
    ///
    /// # Panics
    ///
    /// If another global subscriber was installed before the first call.
    #[must_use]
    pub fn global() -> SpanRecorder {
        static GLOBAL: OnceLock<SpanRecorder> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let recorder = SpanRecorder {
                    spans: Arc::new(Mutex::new(Vec::new())),
                };
                tracing::subscriber::set_global_default(recorder.clone())
                    .expect("no other global subscriber");
                recorder
            })
            .clone()
    }

    /// Every span recorded so far.
    #[must_use]
    pub fn spans(&self) -> Vec<RecordedSpan> {
        self.lock().clone()
    }

    /// Every span recorded so far whose field `field` was recorded as `value`.
    #[must_use]
    pub fn spans_with(&self, field: &str, value: &str) -> Vec<RecordedSpan> {
        self.lock()
            .iter()
            .filter(|s| s.field(field) == Some(value))
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedSpan>> {
        self.spans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The index of the span with id `id` (ids are indexes plus one).
    fn index(id: &Id) -> usize {
        usize::try_from(id.into_u64() - 1).expect("a span index fits in usize")
    }
}

/// Collects fields as `(name, value)` and an event's message.
struct Fields<'a> {
    fields: &'a mut Vec<(&'static str, String)>,
    message: Option<String>,
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.fields.push((field.name(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let value = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

impl Subscriber for SpanRecorder {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = Vec::new();
        attrs.record(&mut Fields {
            fields: &mut fields,
            message: None,
        });
        let mut spans = self.lock();
        spans.push(RecordedSpan {
            name: attrs.metadata().name(),
            target: attrs.metadata().target(),
            fields,
            events: Vec::new(),
        });
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.lock();
        if let Some(s) = spans.get_mut(Self::index(span)) {
            values.record(&mut Fields {
                fields: &mut s.fields,
                message: None,
            });
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let parent = match event.parent() {
            Some(id) => Some(id.clone()),
            None if event.is_contextual() => ENTERED
                .with(|e| e.borrow().last().copied())
                .map(Id::from_u64),
            None => None,
        };
        let Some(parent) = parent else {
            return;
        };
        let mut ignored = Vec::new();
        let mut visitor = Fields {
            fields: &mut ignored,
            message: None,
        };
        event.record(&mut visitor);
        let message = visitor.message.unwrap_or_default();
        if let Some(s) = self.lock().get_mut(Self::index(&parent)) {
            s.events.push(message);
        }
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|e| {
            let mut e = e.borrow_mut();
            if let Some(i) = e.iter().rposition(|&id| id == span.into_u64()) {
                e.remove(i);
            }
        });
    }
}

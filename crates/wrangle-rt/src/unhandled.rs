//! Errors nobody retrieves: [`ErrorHandler`], [`ErrorReporter`] and the process-wide hook.

use crate::loom::IgnorePoison;
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock};

/// A boxed error that can cross threads.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error that no caller will see: a failing fire-and-forget task, a failing periodic tick, a
/// cleanup error during shutdown.
#[derive(Debug)]
pub struct Unhandled {
    origin: Cow<'static, str>,
    error: BoxError,
}

impl Unhandled {
    /// Wraps `error`, naming where it came from (`"wrangle_pool::TaskPool"`, a task's name...).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{JoinError, Unhandled};
    ///
    /// let u = Unhandled::new("my-task", JoinError::Cancelled);
    /// assert_eq!(u.to_string(), "unhandled error in my-task: task was cancelled");
    /// ```
    pub fn new(origin: impl Into<Cow<'static, str>>, error: impl Into<BoxError>) -> Self {
        Unhandled {
            origin: origin.into(),
            error: error.into(),
        }
    }

    /// Where the error came from.
    ///
    /// # Examples
    ///
    /// ```
    /// let u = wrangle_rt::Unhandled::new("timer", "tick failed");
    /// assert_eq!(u.origin(), "timer");
    /// ```
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The error.
    ///
    /// # Examples
    ///
    /// ```
    /// let u = wrangle_rt::Unhandled::new("timer", "tick failed");
    /// assert_eq!(u.error().to_string(), "tick failed");
    /// ```
    #[must_use]
    pub fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.error
    }

    /// Takes the error out.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = wrangle_rt::Unhandled::new("timer", "tick failed").into_error();
    /// assert_eq!(err.to_string(), "tick failed");
    /// ```
    #[must_use]
    pub fn into_error(self) -> BoxError {
        self.error
    }
}

impl fmt::Display for Unhandled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unhandled error in {}: {}", self.origin, self.error)
    }
}

impl std::error::Error for Unhandled {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

/// Receives errors nobody retrieves. Closures `Fn(Unhandled)` implement it.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use wrangle_rt::{ErrorReporter, Unhandled};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let reporter = ErrorReporter::new(move |u: Unhandled| sink.lock().unwrap().push(u.to_string()));
/// reporter.report(Unhandled::new("job", "failed"));
/// assert_eq!(seen.lock().unwrap()[0], "unhandled error in job: failed");
/// ```
///
/// A handler that panics does not take its caller down (a pool's worker, a timer's task): the
/// panic is caught and the process-wide default (stderr, or `tracing`) says that the handler
/// panicked and where the error came from.
pub trait ErrorHandler: Send + Sync + 'static {
    /// Handles one error.
    fn handle(&self, unhandled: Unhandled);
}

/// Calls `handler`, catching a panic of it (see [`ErrorHandler`]).
fn handle_caught(handler: &dyn ErrorHandler, unhandled: Unhandled) {
    let origin = unhandled.origin.clone();
    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        handler.handle(unhandled);
    }));
    if handled.is_err() {
        default_report(Unhandled::new(
            origin,
            "the error handler panicked while handling an error from here",
        ));
    }
}

impl<F> ErrorHandler for F
where
    F: Fn(Unhandled) + Send + Sync + 'static,
{
    fn handle(&self, unhandled: Unhandled) {
        self(unhandled)
    }
}

static GLOBAL: RwLock<Option<Arc<dyn ErrorHandler>>> = RwLock::new(None);

/// Installs the process-wide handler, used by every [`ErrorReporter`] without its own handler.
///
/// Returns the previous process-wide handler, if one was installed.
///
/// # Examples
///
/// ```
/// let previous = wrangle_rt::set_global_error_handler(|u: wrangle_rt::Unhandled| {
///     eprintln!("custom: {u}");
/// });
/// assert!(previous.is_none());
/// # wrangle_rt::reset_global_error_handler();
/// ```
pub fn set_global_error_handler(handler: impl ErrorHandler) -> Option<Arc<dyn ErrorHandler>> {
    let mut slot = GLOBAL.write().ignore_poison();
    slot.replace(Arc::new(handler))
}

/// Restores the default process-wide handler (stderr, or a `tracing` event with the `tracing`
/// feature). Returns the handler that was installed.
///
/// # Examples
///
/// ```
/// assert!(wrangle_rt::reset_global_error_handler().is_none());
/// ```
pub fn reset_global_error_handler() -> Option<Arc<dyn ErrorHandler>> {
    GLOBAL.write().ignore_poison().take()
}

/// Sends an error to the process-wide handler.
///
/// # Examples
///
/// ```
/// // Written to stderr by the default handler.
/// wrangle_rt::report_unhandled(wrangle_rt::Unhandled::new("example", "something failed"));
/// ```
pub fn report_unhandled(unhandled: Unhandled) {
    let handler = GLOBAL.read().ignore_poison().clone();
    match handler {
        Some(h) => handle_caught(&*h, unhandled),
        None => default_report(unhandled),
    }
}

#[cfg(feature = "tracing")]
fn default_report(unhandled: Unhandled) {
    tracing::error!(origin = %unhandled.origin, error = %unhandled.error, "unhandled error");
}

#[cfg(not(feature = "tracing"))]
fn default_report(unhandled: Unhandled) {
    // Writing to stderr is the documented default: nothing is swallowed silently.
    eprintln!("{unhandled}");
}

/// Where a component (a scope, a pool, a timer) sends the errors nobody retrieves: its own
/// handler, or else the process-wide one.
///
/// # Examples
///
/// ```
/// use wrangle_rt::{ErrorReporter, Unhandled};
///
/// // Falls back to the process-wide handler.
/// let reporter = ErrorReporter::global();
/// reporter.report(Unhandled::new("example", "oops"));
/// ```
#[derive(Clone, Default)]
pub struct ErrorReporter {
    handler: Option<Arc<dyn ErrorHandler>>,
}

impl fmt::Debug for ErrorReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorReporter")
            .field("custom", &self.handler.is_some())
            .finish()
    }
}

impl ErrorReporter {
    /// A reporter with its own handler.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = wrangle_rt::ErrorReporter::new(|_u: wrangle_rt::Unhandled| {});
    /// assert!(!r.is_global());
    /// ```
    pub fn new(handler: impl ErrorHandler) -> Self {
        ErrorReporter {
            handler: Some(Arc::new(handler)),
        }
    }

    /// A reporter that uses the process-wide handler.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(wrangle_rt::ErrorReporter::global().is_global());
    /// ```
    #[must_use]
    pub fn global() -> Self {
        ErrorReporter { handler: None }
    }

    /// Returns `true` if this reporter falls back to the process-wide handler.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(wrangle_rt::ErrorReporter::default().is_global());
    /// ```
    #[must_use]
    pub fn is_global(&self) -> bool {
        self.handler.is_none()
    }

    /// Reports one error.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::ErrorReporter::global().report(wrangle_rt::Unhandled::new("x", "y"));
    /// ```
    pub fn report(&self, unhandled: Unhandled) {
        match &self.handler {
            Some(h) => handle_caught(&**h, unhandled),
            None => report_unhandled(unhandled),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_panicking_handler_does_not_unwind_into_the_caller() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let reporter = ErrorReporter::new(move |u: Unhandled| {
            counted.fetch_add(1, Ordering::SeqCst);
            panic!("handler boom on {u}");
        });
        // Returns normally, twice: the handler is still called each time.
        reporter.report(Unhandled::new("test", "first"));
        reporter.report(Unhandled::new("test", "second"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}

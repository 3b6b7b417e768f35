//! [`ExitOutcome`]: how the body guarded by an [`ExitStack`](crate::ExitStack) ended, as
//! Python's `__aexit__` receives it.

use std::error::Error;
use std::fmt;

/// How the body guarded by an [`ExitStack`](crate::ExitStack) ended, handed to the cleanups
/// registered with [`ExitStack::push_exit`](crate::ExitStack::push_exit): Python's
/// `__aexit__(exc_type, exc, tb)`.
///
/// - [`ExitStack::unwind`](crate::ExitStack::unwind) and a plain [`defer`](crate::defer) say
///   `Succeeded`; [`ExitStack::unwind_on`](crate::ExitStack::unwind_on) says what you pass;
///   [`Defer::fail_on_err`](crate::future::Defer::fail_on_err) says `Failed` with the body's
///   `Err`.
/// - `Cancelled` when the last handle of the stack is dropped with cleanups left (the task
///   that owned it was cancelled, or a `defer` future was dropped); the cleanups then run on
///   the runtime.
///
/// The error is borrowed from the body's output, which goes back to the caller afterwards:
/// a cleanup looks at it (`to_string`, `downcast_ref`, `is::<E>()`) while it builds its
/// future, and keeps what it needs.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::{ExitOutcome, ExitStack};
///
/// let rt = VirtualRuntime::new();
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let stack = ExitStack::with_runtime(rt.clone());
/// let l = log.clone();
/// // A transaction: commit if the body succeeded, roll back otherwise.
/// stack.push_exit(move |outcome: &ExitOutcome<'_>| {
///     let action = match outcome {
///         ExitOutcome::Succeeded => "commit".to_string(),
///         ExitOutcome::Failed(e) => format!("rollback after: {e}"),
///         _ => "rollback (cancelled)".to_string(),
///     };
///     async move { l.lock().unwrap().push(action) }
/// });
/// let body: Result<(), std::io::Error> = Err(std::io::Error::other("constraint violated"));
/// let outcome = match &body {
///     Ok(()) => ExitOutcome::Succeeded,
///     Err(e) => ExitOutcome::Failed(e),
/// };
/// rt.block_on(stack.unwind_on(outcome)).unwrap();
/// assert_eq!(*log.lock().unwrap(), ["rollback after: constraint violated"]);
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ExitOutcome<'a> {
    /// The body ended normally.
    Succeeded,
    /// The body failed with this error.
    Failed(&'a (dyn Error + 'static)),
    /// The body was cancelled: it was dropped before it ended.
    Cancelled,
}

impl ExitOutcome<'_> {
    /// Returns `true` for [`ExitOutcome::Succeeded`].
    #[must_use]
    pub fn is_success(&self) -> bool {
        matches!(self, ExitOutcome::Succeeded)
    }

    /// The error, for [`ExitOutcome::Failed`].
    #[must_use]
    pub fn error(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ExitOutcome::Failed(e) => Some(*e),
            _ => None,
        }
    }
}

impl fmt::Display for ExitOutcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitOutcome::Succeeded => f.write_str("succeeded"),
            ExitOutcome::Failed(e) => write!(f, "failed: {e}"),
            ExitOutcome::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// An owned copy of an outcome, for cleanups registered while the stack unwinds (after the
/// borrowed outcome is gone): the error is kept as its message.
#[derive(Debug, Clone)]
pub(crate) enum OwnedOutcome {
    Succeeded,
    Failed(ErrorCopy),
    Cancelled,
}

impl OwnedOutcome {
    pub(crate) fn of(outcome: &ExitOutcome<'_>) -> Self {
        match outcome {
            ExitOutcome::Succeeded => OwnedOutcome::Succeeded,
            ExitOutcome::Failed(e) => OwnedOutcome::Failed(ErrorCopy(e.to_string())),
            ExitOutcome::Cancelled => OwnedOutcome::Cancelled,
        }
    }

    pub(crate) fn borrow(&self) -> ExitOutcome<'_> {
        match self {
            OwnedOutcome::Succeeded => ExitOutcome::Succeeded,
            OwnedOutcome::Failed(e) => ExitOutcome::Failed(e),
            OwnedOutcome::Cancelled => ExitOutcome::Cancelled,
        }
    }
}

/// The message of a body's error, for cleanups that come after the error itself is gone.
#[derive(Debug, Clone)]
pub(crate) struct ErrorCopy(String);

impl fmt::Display for ErrorCopy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for ErrorCopy {}

//! Errors of the concurrent runners.

use std::fmt;

use wrangle_rt::PanicPayload;

/// Why an item of [`Concurrent`](crate::Concurrent) or
/// [`ConcurrentInline`](crate::ConcurrentInline) is an error.
///
/// # Examples
///
/// ```
/// use wrangle_task::ConcurrentError;
///
/// let e: ConcurrentError<&str> = ConcurrentError::Failed("boom");
/// assert_eq!(e.to_string(), "a future failed: boom");
/// assert_eq!(e.into_failed(), Some("boom"));
/// ```
#[non_exhaustive]
pub enum ConcurrentError<E> {
    /// A future returned `Err`.
    Failed(E),
    /// A future panicked; the payload is kept.
    Panicked(PanicPayload),
    /// The input stream itself failed; the run ends at once.
    Input(E),
    /// A spawned future was cancelled by someone else (for example, its runtime shut down).
    Cancelled,
}

impl<E> ConcurrentError<E> {
    /// The error a future returned, if that is what this is.
    pub fn into_failed(self) -> Option<E> {
        match self {
            ConcurrentError::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Returns `true` if a future panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, ConcurrentError::Panicked(_))
    }
}

impl<E: fmt::Debug> fmt::Debug for ConcurrentError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConcurrentError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            ConcurrentError::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
            ConcurrentError::Input(e) => f.debug_tuple("Input").field(e).finish(),
            ConcurrentError::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for ConcurrentError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConcurrentError::Failed(e) => write!(f, "a future failed: {e}"),
            ConcurrentError::Panicked(p) => write!(
                f,
                "a future panicked: {}",
                p.message().unwrap_or("no message")
            ),
            ConcurrentError::Input(e) => write!(f, "the input stream failed: {e}"),
            ConcurrentError::Cancelled => f.write_str("a future was cancelled"),
        }
    }
}

/// The inner error is part of the message, so any `E: Debug + Display` makes this an `Error`
/// (`anyhow::Error` included) that `?` converts into `anyhow::Error` or `Box<dyn Error>`.
impl<E: fmt::Debug + fmt::Display> std::error::Error for ConcurrentError<E> {}

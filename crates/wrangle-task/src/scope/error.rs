//! Errors of [`TaskScope`](crate::TaskScope).

use std::fmt;

/// Why a [`TaskScope`](crate::TaskScope) failed.
///
/// # Examples
///
/// ```
/// use wrangle_task::ScopeError;
///
/// let e: ScopeError<&str> = ScopeError::TimedOut;
/// assert_eq!(e.to_string(), "the scope timed out");
/// ```
#[non_exhaustive]
pub enum ScopeError<E> {
    /// The body returned this error; the children were cancelled and awaited.
    Body(E),
    /// The scope's intrinsic timeout fired.
    TimedOut,
}

impl<E> ScopeError<E> {
    /// The body's error, if that is what this is.
    pub fn into_body(self) -> Option<E> {
        match self {
            ScopeError::Body(e) => Some(e),
            ScopeError::TimedOut => None,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for ScopeError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeError::Body(e) => f.debug_tuple("Body").field(e).finish(),
            ScopeError::TimedOut => f.write_str("TimedOut"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for ScopeError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeError::Body(e) => write!(f, "the scope's body failed: {e}"),
            ScopeError::TimedOut => f.write_str("the scope timed out"),
        }
    }
}

/// The body's error is part of the message (and [`into_body`](ScopeError::into_body) gives it
/// back), so any `E: Debug + Display` makes this an `Error`: `anyhow::Error` and
/// `Box<dyn Error>` included, and `?` converts a `ScopeError<anyhow::Error>` into either.
impl<E: fmt::Debug + fmt::Display> std::error::Error for ScopeError<E> {}

/// Spawning failed because the scope has finished; the rejected value is handed back.
///
/// # Examples
///
/// ```
/// let e = wrangle_task::ScopeClosed(42);
/// assert_eq!(e.to_string(), "the scope is closed");
/// assert_eq!(e.into_inner(), 42);
/// ```
pub struct ScopeClosed<T>(pub T);

impl<T> ScopeClosed<T> {
    /// The value that was not spawned.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for ScopeClosed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ScopeClosed").finish_non_exhaustive()
    }
}

impl<T> fmt::Display for ScopeClosed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the scope is closed")
    }
}

impl<T> std::error::Error for ScopeClosed<T> {}

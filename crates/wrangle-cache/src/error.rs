//! The errors of this crate.

use std::fmt;
use std::time::Duration;

use wrangle_rt::PanicPayload;

/// Why a fallible load gave no value
/// ([`try_get_or_insert_with`](crate::Cache::try_get_or_insert_with),
/// [`Memoized::call`](crate::Memoized::call)).
///
/// Every caller that shared the load receives the error: the leader the loader's own, the
/// waiters a clone.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError<E> {
    /// The loader returned this error.
    Failed(E),
    /// The loader panicked (while building its future or while it ran). Waiters receive a
    /// payload carrying the panic's message.
    Panicked(PanicPayload),
}

impl<E> LoadError<E> {
    /// The loader's error, if it returned one.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_cache::LoadError;
    ///
    /// let e: LoadError<&str> = LoadError::Failed("down");
    /// assert_eq!(e.into_failed(), Some("down"));
    /// ```
    pub fn into_failed(self) -> Option<E> {
        match self {
            LoadError::Failed(e) => Some(e),
            LoadError::Panicked(_) => None,
        }
    }

    /// Whether the loader panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_cache::LoadError;
    /// use wrangle_rt::PanicPayload;
    ///
    /// let e: LoadError<()> = LoadError::Panicked(PanicPayload::new(Box::new("boom")));
    /// assert!(e.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, LoadError::Panicked(_))
    }
}

impl<E: fmt::Display> fmt::Display for LoadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Failed(e) => write!(f, "load failed: {e}"),
            LoadError::Panicked(p) => write!(f, "loader panicked: {p}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for LoadError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Failed(e) => Some(e),
            LoadError::Panicked(p) => Some(p),
        }
    }
}

/// An invalid cache or memoizer configuration, refused by `build()`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidCacheConfig {
    /// A duration that must be positive was zero.
    ZeroDuration(&'static str),
    /// Refresh-ahead needs a time to live longer than its lead time.
    RefreshAhead {
        /// The lead time asked for.
        refresh_ahead: Duration,
        /// The time to live, if one was set.
        time_to_live: Option<Duration>,
    },
    /// `refresh_ahead` and `time_to_idle` together: an idle entry is never refreshed.
    RefreshWithIdle,
}

impl fmt::Display for InvalidCacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidCacheConfig::ZeroDuration(what) => write!(f, "{what} must be longer than zero"),
            InvalidCacheConfig::RefreshAhead {
                refresh_ahead,
                time_to_live: Some(ttl),
            } => write!(
                f,
                "refresh_ahead ({refresh_ahead:?}) must be shorter than time_to_live ({ttl:?})"
            ),
            InvalidCacheConfig::RefreshAhead { .. } => {
                f.write_str("refresh_ahead needs a time_to_live")
            }
            InvalidCacheConfig::RefreshWithIdle => {
                f.write_str("refresh_ahead cannot be combined with time_to_idle")
            }
        }
    }
}

impl std::error::Error for InvalidCacheConfig {}

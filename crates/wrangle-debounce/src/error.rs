//! [`InvalidDebounceConfig`] (construction) and [`DebounceError`] (a call's result).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use wrangle_rt::PanicPayload;

/// The longest window or maximum wait accepted: ten years. Longer durations are refused at
/// construction, so that no deadline computed from them can overflow the clock.
pub const MAX_WINDOW: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Invalid debouncer or adaptor configuration, reported when it is built, never later.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_debounce::{InvalidDebounceConfig, Debouncer};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// // Neither edge chosen: nothing would ever run.
/// let err = Debouncer::builder(Duration::from_millis(100))
///     .runtime(rt)
///     .build(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) })
///     .unwrap_err();
/// assert_eq!(err, InvalidDebounceConfig::NoEdge);
/// assert_eq!(err.to_string(), "choose at least one of eager, lazy or trailing");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidDebounceConfig {
    /// Neither a leading nor a trailing edge was chosen (`eager`, `lazy` and `trailing` all
    /// off for a [`Debouncer`](crate::Debouncer); `leading` and `trailing` both off for a
    /// stream adaptor).
    NoEdge,
    /// Both trailing kinds were chosen: the seed's fixed window (`lazy`) and the window that
    /// restarts on every call (`trailing`).
    LazyAndTrailing,
    /// A window of zero.
    ZeroWindow,
    /// A window or maximum wait longer than [`MAX_WINDOW`].
    OutOfRange,
    /// A maximum wait shorter than the window.
    MaxWaitBelowWindow,
    /// A maximum wait without a trailing edge that restarts on every call: the other modes
    /// never wait longer than one window, so a maximum wait would change nothing.
    MaxWaitWithoutTrailing,
}

impl fmt::Display for InvalidDebounceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidDebounceConfig::NoEdge => "choose at least one of eager, lazy or trailing",
            InvalidDebounceConfig::LazyAndTrailing => {
                "lazy (fixed window) and trailing (restarting window) exclude each other"
            }
            InvalidDebounceConfig::ZeroWindow => "the window must be greater than zero",
            InvalidDebounceConfig::OutOfRange => {
                "the window or maximum wait is longer than ten years"
            }
            InvalidDebounceConfig::MaxWaitBelowWindow => {
                "the maximum wait must not be shorter than the window"
            }
            InvalidDebounceConfig::MaxWaitWithoutTrailing => {
                "a maximum wait needs the trailing (restarting window) mode"
            }
        })
    }
}

impl std::error::Error for InvalidDebounceConfig {}

/// Checks a window: non-zero and at most [`MAX_WINDOW`].
pub(crate) fn check_window(window: Duration) -> Result<(), InvalidDebounceConfig> {
    if window.is_zero() {
        Err(InvalidDebounceConfig::ZeroWindow)
    } else if window > MAX_WINDOW {
        Err(InvalidDebounceConfig::OutOfRange)
    } else {
        Ok(())
    }
}

/// Checks a maximum wait against its window.
pub(crate) fn check_max_wait(
    window: Duration,
    max_wait: Duration,
) -> Result<(), InvalidDebounceConfig> {
    if max_wait > MAX_WINDOW {
        Err(InvalidDebounceConfig::OutOfRange)
    } else if max_wait < window {
        Err(InvalidDebounceConfig::MaxWaitBelowWindow)
    } else {
        Ok(())
    }
}

/// Why a [`Debouncer`](crate::Debouncer) call did not produce a value. Every caller whose call
/// was coalesced into the same run gets a clone of the same error.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_debounce::{DebounceError, Debouncer};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// rt.block_on(async {
///     let d = Debouncer::builder(Duration::from_millis(10))
///         .eager(true)
///         .build(|x: i32| async move { if x < 0 { Err("negative") } else { Ok(x) } })
///         .unwrap();
///     let (a, b) = (d.call(-1), d.call(5)); // the second is coalesced into the first
///     assert_eq!(a.await, Err(DebounceError::Failed("negative")));
///     assert_eq!(b.await, Err(DebounceError::Failed("negative")));
/// });
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DebounceError<E> {
    /// The function returned this error.
    Failed(E),
    /// The function panicked, while building its future or while it ran.
    Panicked(Arc<PanicPayload>),
    /// The debouncer was closed before this call.
    Closed,
    /// The run was cancelled before it finished: the debouncer was dropped.
    Cancelled,
}

impl<E: PartialEq> PartialEq for DebounceError<E> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (DebounceError::Failed(a), DebounceError::Failed(b)) => a == b,
            (DebounceError::Panicked(a), DebounceError::Panicked(b)) => Arc::ptr_eq(a, b),
            (DebounceError::Closed, DebounceError::Closed)
            | (DebounceError::Cancelled, DebounceError::Cancelled) => true,
            _ => false,
        }
    }
}

impl<E: fmt::Display> fmt::Display for DebounceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DebounceError::Failed(e) => write!(f, "debounced function failed: {e}"),
            DebounceError::Panicked(p) => match p.message() {
                Some(m) => write!(f, "debounced function panicked: {m}"),
                None => f.write_str("debounced function panicked"),
            },
            DebounceError::Closed => f.write_str("debouncer closed"),
            DebounceError::Cancelled => f.write_str("debounced call cancelled"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for DebounceError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DebounceError::Failed(e) => Some(e),
            DebounceError::Panicked(p) => Some(&**p),
            _ => None,
        }
    }
}

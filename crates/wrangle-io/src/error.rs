//! Errors of the robust types and their configuration.

use std::fmt;
use std::io;
use std::time::Duration;

/// A [`Backoff`](crate::Backoff) policy that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum InvalidBackoff {
    /// A zero delay (an exponential's `initial`, or a constant's delay): against a server that
    /// is down it would retry in a busy loop.
    ZeroDelay,
    /// An exponential policy whose `max` is below its `initial`.
    MaxBelowInitial {
        /// The initial delay.
        initial: Duration,
        /// The cap.
        max: Duration,
    },
    /// A growth factor below 1, or not finite.
    Factor(f64),
    /// A growth factor given to a policy that is not exponential.
    FactorNotExponential,
    /// `max_attempts(0)`.
    ZeroMaxAttempts,
    /// `max_elapsed(Duration::ZERO)`.
    ZeroMaxElapsed,
    /// A jitter the policy cannot take (decorrelated for a constant policy, any for a custom
    /// one); the field names the policy.
    Jitter(&'static str),
}

impl fmt::Display for InvalidBackoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidBackoff::ZeroDelay => f.write_str("backoff delay must not be zero"),
            InvalidBackoff::MaxBelowInitial { initial, max } => write!(
                f,
                "backoff cap {max:?} is below the initial delay {initial:?}"
            ),
            InvalidBackoff::Factor(x) => {
                write!(f, "backoff factor {x} must be finite and at least 1")
            }
            InvalidBackoff::FactorNotExponential => {
                f.write_str("a backoff factor needs an exponential policy")
            }
            InvalidBackoff::ZeroMaxAttempts => f.write_str("max_attempts must be at least 1"),
            InvalidBackoff::ZeroMaxElapsed => f.write_str("max_elapsed must not be zero"),
            InvalidBackoff::Jitter(policy) => {
                write!(f, "this jitter does not apply to a {policy} backoff policy")
            }
        }
    }
}

impl std::error::Error for InvalidBackoff {}

/// Invalid configuration of a [`RobustStream`](crate::RobustStream) or
/// [`RobustSink`](crate::RobustSink), reported by its builder's `build()`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InvalidReconnectConfig {
    /// The backoff policy is invalid.
    Backoff(InvalidBackoff),
    /// A zero connect timeout: every attempt would time out.
    ZeroConnectTimeout,
    /// A read buffer capacity of zero or above
    /// [`RobustStream::MAX_BUFFER_CAPACITY`](crate::RobustStream::MAX_BUFFER_CAPACITY).
    BufferCapacity(usize),
}

impl fmt::Display for InvalidReconnectConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidReconnectConfig::Backoff(_) => f.write_str("invalid backoff policy"),
            InvalidReconnectConfig::ZeroConnectTimeout => {
                f.write_str("connect timeout must not be zero")
            }
            InvalidReconnectConfig::BufferCapacity(n) => {
                write!(f, "read buffer capacity {n} is outside 1..=64 MiB")
            }
        }
    }
}

impl std::error::Error for InvalidReconnectConfig {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InvalidReconnectConfig::Backoff(e) => Some(e),
            _ => None,
        }
    }
}

impl From<InvalidBackoff> for InvalidReconnectConfig {
    fn from(e: InvalidBackoff) -> Self {
        InvalidReconnectConfig::Backoff(e)
    }
}

/// Why a robust stream or sink stopped for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Closed on purpose: `close()`, `AsyncWrite::poll_close`, `Sink::poll_close`, or drop.
    Closed,
    /// The backoff policy gave up after this many failed attempts in one cycle.
    GaveUp {
        /// Attempts made in the last cycle.
        attempts: u32,
    },
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Closed => f.write_str("closed"),
            CloseReason::GaveUp { attempts } => {
                write!(f, "gave up reconnecting after {attempts} attempts")
            }
        }
    }
}

/// The stream or sink is closed: an operation after `close()`, or after the backoff policy
/// gave up.
///
/// As an [`io::Error`] (from a write or flush of a [`RobustStream`](crate::RobustStream)) it
/// has kind [`io::ErrorKind::NotConnected`] and downcasts to this type:
///
/// ```
/// use std::io;
/// use wrangle_io::Closed;
///
/// fn was_closed(e: &io::Error) -> Option<&Closed> {
///     e.get_ref().and_then(|inner| inner.downcast_ref::<Closed>())
/// }
/// let e: io::Error = Closed::new(wrangle_io::CloseReason::Closed).into();
/// assert!(was_closed(&e).is_some());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    reason: CloseReason,
}

impl Closed {
    /// The error for `reason`.
    #[must_use]
    pub fn new(reason: CloseReason) -> Self {
        Closed { reason }
    }

    /// Why it is closed.
    #[must_use]
    pub fn reason(&self) -> CloseReason {
        self.reason
    }
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            CloseReason::Closed => f.write_str("robust connection is closed"),
            reason => write!(f, "robust connection is closed: {reason}"),
        }
    }
}

impl std::error::Error for Closed {}

impl From<Closed> for io::Error {
    fn from(e: Closed) -> Self {
        io::Error::new(io::ErrorKind::NotConnected, e)
    }
}

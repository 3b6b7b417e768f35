//! The small types of [`Supervisor`](crate::Supervisor): [`ShutdownReason`], [`ForceExit`] and
//! [`SupervisorError`].

use std::fmt;

use wrangle_rt::BoxError;

/// Why a [`Supervisor`](crate::Supervisor) started its graceful stop.
///
/// # Examples
///
/// ```
/// assert_eq!(wrangle_task::supervisor::ShutdownReason::Requested.to_string(), "shutdown requested");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownReason {
    /// [`ShutdownHandle::close`](super::ShutdownHandle::close) was called.
    Requested,
    /// A task reported an unhandled error.
    Error,
    /// The process received SIGINT.
    Interrupt,
    /// The process received SIGTERM.
    Terminate,
}

impl fmt::Display for ShutdownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShutdownReason::Requested => "shutdown requested",
            ShutdownReason::Error => "an unhandled error",
            ShutdownReason::Interrupt => "SIGINT",
            ShutdownReason::Terminate => "SIGTERM",
        })
    }
}

/// What a second signal during the graceful stop does.
///
/// # Examples
///
/// ```
/// use wrangle_task::supervisor::ForceExit;
///
/// assert_eq!(ForceExit::default(), ForceExit::Exit(130));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForceExit {
    /// Exit the process at once with this code (`std::process::exit`).
    Exit(i32),
    /// Drop everything and return [`SupervisorError::Forced`] from [`Supervisor::run`](crate::Supervisor::run).
    Return,
    /// Ignore it.
    Ignore,
}

impl Default for ForceExit {
    fn default() -> Self {
        ForceExit::Exit(130)
    }
}

/// Why [`Supervisor::run`](crate::Supervisor::run) failed.
///
/// # Examples
///
/// ```
/// let e = wrangle_task::SupervisorError::DrainTimedOut;
/// assert_eq!(e.to_string(), "the graceful stop did not finish before the drain deadline");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SupervisorError {
    /// The first unhandled error (of a task, or of the body).
    Failed(BoxError),
    /// The graceful stop outlasted the drain deadline; the rest was dropped.
    DrainTimedOut,
    /// A second signal forced the exit ([`ForceExit::Return`]).
    Forced,
    /// Signal handlers could not be installed.
    Signals(std::io::Error),
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::Failed(e) => write!(f, "supervised work failed: {e}"),
            SupervisorError::DrainTimedOut => {
                f.write_str("the graceful stop did not finish before the drain deadline")
            }
            SupervisorError::Forced => f.write_str("the graceful stop was forced to end"),
            SupervisorError::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
        }
    }
}

impl std::error::Error for SupervisorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SupervisorError::Failed(e) => Some(&**e),
            SupervisorError::Signals(e) => Some(e),
            _ => None,
        }
    }
}

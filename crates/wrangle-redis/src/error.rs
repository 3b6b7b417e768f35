//! [`RedisError`]: what a call to the server can fail with.

use std::fmt;

/// What went wrong in a call to Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisErrorKind {
    /// The server could not be reached: refused or dropped connection, I/O error, or a server
    /// that is loading, read-only or down (failover). Calls recover by themselves once it is
    /// back: the next call reconnects.
    Unavailable,
    /// The server did not answer within the call timeout
    /// ([`RedisBuilder::call_timeout`](crate::RedisBuilder::call_timeout)).
    TimedOut,
    /// The server answered with an error (wrong type at the key, a script error, no
    /// permission...), or with a reply this crate did not expect.
    Server,
    /// A key was empty or longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    InvalidKey,
    /// A duration was zero where that means nothing, or longer than
    /// [`MAX_DURATION`](crate::MAX_DURATION).
    InvalidDuration,
}

/// A call to Redis failed; [`kind`](Self::kind) says how.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_redis::{Redis, RedisErrorKind, RedisLockout};
///
/// wrangle_rt::VirtualRuntime::new().block_on(async {
///     let redis = Redis::open("redis://127.0.0.1:1/").unwrap();
///     let lockout = RedisLockout::new(redis, "cooldown:");
///     // Bad input is refused before anything is sent.
///     let err = lockout.lockout_for(b"", Duration::from_secs(1)).await.unwrap_err();
///     assert_eq!(err.kind(), RedisErrorKind::InvalidKey);
/// });
/// ```
#[derive(Debug, Clone)]
pub struct RedisError {
    kind: RedisErrorKind,
    message: Option<&'static str>,
    source: Option<redis::RedisError>,
}

impl RedisError {
    pub(crate) fn new(kind: RedisErrorKind, message: &'static str) -> Self {
        RedisError {
            kind,
            message: Some(message),
            source: None,
        }
    }

    pub(crate) fn from_client(err: redis::RedisError) -> Self {
        use redis::{ErrorKind, ServerErrorKind};
        let kind = if err.is_timeout() {
            RedisErrorKind::TimedOut
        } else if err.is_io_error()
            || err.is_connection_refusal()
            || err.is_connection_dropped()
            || matches!(
                err.kind(),
                ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                ) | ErrorKind::ClusterConnectionNotFound
            )
        {
            RedisErrorKind::Unavailable
        } else {
            RedisErrorKind::Server
        };
        RedisError {
            kind,
            message: None,
            source: Some(err),
        }
    }

    /// How the call failed.
    #[must_use]
    pub fn kind(&self) -> RedisErrorKind {
        self.kind
    }

    /// Whether the server could not be reached or did not answer in time
    /// ([`Unavailable`](RedisErrorKind::Unavailable) or
    /// [`TimedOut`](RedisErrorKind::TimedOut)): the failures a fail-open or fail-closed
    /// policy applies to.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.kind,
            RedisErrorKind::Unavailable | RedisErrorKind::TimedOut
        )
    }
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            RedisErrorKind::Unavailable => "redis unavailable",
            RedisErrorKind::TimedOut => "redis call timed out",
            RedisErrorKind::Server => "redis server error",
            RedisErrorKind::InvalidKey => "invalid redis key",
            RedisErrorKind::InvalidDuration => "invalid duration for redis",
        };
        f.write_str(what)?;
        if let Some(message) = self.message {
            write!(f, ": {message}")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RedisError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

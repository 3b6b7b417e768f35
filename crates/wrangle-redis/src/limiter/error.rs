//! [`RedisLimitError`]: why a distributed rate limit did not admit.

use std::fmt;
use std::time::Duration;

use crate::RedisError;

/// Why [`RedisLimiter`](crate::RedisLimiter) did not admit a request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RedisLimitError {
    /// Over the limit: the same request would conform after `retry_after` (on the server's
    /// clock). Only [`check`](crate::RedisLimiter::check) and
    /// [`check_n`](crate::RedisLimiter::check_n) return it.
    Limited {
        /// How long until the request would be admitted, if nobody else takes the capacity.
        retry_after: Duration,
    },
    /// `n` is larger than the burst: no wait would ever admit it.
    ExceedsBurst,
    /// The call failed: bad key, server error, or, under
    /// [`OnUnavailable::FailClosed`](crate::OnUnavailable::FailClosed), an unreachable or
    /// slow server.
    Redis(RedisError),
}

impl fmt::Display for RedisLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisLimitError::Limited { retry_after } => {
                write!(f, "rate limited; retry after {retry_after:?}")
            }
            RedisLimitError::ExceedsBurst => f.write_str("cost exceeds the limiter's burst"),
            RedisLimitError::Redis(e) => write!(f, "rate limiter: {e}"),
        }
    }
}

impl std::error::Error for RedisLimitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisLimitError::Redis(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RedisError> for RedisLimitError {
    fn from(e: RedisError) -> Self {
        RedisLimitError::Redis(e)
    }
}

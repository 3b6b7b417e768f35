//! [`RedisCacheError`]: why a [`RedisCache`](crate::RedisCache) call gave no value.

use std::fmt;
use std::sync::Arc;

use wrangle_rt::PanicPayload;

use crate::RedisError;

/// Why [`RedisCache::get`](crate::RedisCache::get) gave no value. `E` is the loader's
/// error type, `D` the codec's.
///
/// Callers that shared a load (in this process) receive the same error: the codec's and
/// Redis's behind an `Arc`, the loader's as a clone.
///
/// # Examples
///
/// Telling a failed backend (worth a retry later) from a bad stored value (worth an alert
/// and an invalidation):
///
/// ```no_run
/// use std::time::Duration;
/// use wrangle_redis::{Redis, RedisCache, RedisCacheError, Utf8Codec};
///
/// # wrangle_rt::VirtualRuntime::new().block_on(async {
/// let redis = Redis::open("redis://127.0.0.1/").unwrap();
/// let cache: RedisCache<&str, String, _> =
///     RedisCache::builder(redis, Utf8Codec, Duration::from_secs(60)).build().unwrap();
/// let fetch = || async { Err::<String, _>("upstream returned 503".to_string()) };
/// match cache.get("rates", fetch).await {
///     Ok(rates) => println!("{rates}"),
///     Err(RedisCacheError::Load(e)) => eprintln!("upstream failed, nothing cached: {e}"),
///     Err(RedisCacheError::Decode(e)) => {
///         eprintln!("stored value is not UTF-8 ({e}); dropping it");
///         cache.invalidate(&"rates").await.unwrap();
///     }
///     Err(e) => eprintln!("{e}"),
/// }
/// # });
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisCacheError<E, D> {
    /// The loader returned this error; nothing was stored.
    Load(E),
    /// The loader or the codec panicked (while building its future or while it ran).
    Panicked(PanicPayload),
    /// The codec could not encode the loaded value; nothing was stored.
    Encode(Arc<D>),
    /// The value stored in Redis could not be decoded (written by another codec or
    /// version): it is left in place until its time to live ends or it is
    /// [invalidated](crate::RedisCache::invalidate).
    Decode(Arc<D>),
    /// Redis answered with an error (not an outage: while Redis is unreachable, values are
    /// loaded locally), or a key was invalid.
    Redis(RedisError),
}

impl<E: fmt::Display, D: fmt::Display> fmt::Display for RedisCacheError<E, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisCacheError::Load(e) => write!(f, "load failed: {e}"),
            RedisCacheError::Panicked(p) => write!(f, "loader or codec panicked: {p}"),
            RedisCacheError::Encode(e) => write!(f, "could not encode the value: {e}"),
            RedisCacheError::Decode(e) => write!(f, "could not decode the stored value: {e}"),
            RedisCacheError::Redis(e) => write!(f, "shared cache: {e}"),
        }
    }
}

impl<E, D> std::error::Error for RedisCacheError<E, D>
where
    E: std::error::Error + 'static,
    D: std::error::Error + 'static,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisCacheError::Load(e) => Some(e),
            RedisCacheError::Panicked(p) => Some(p),
            RedisCacheError::Encode(e) | RedisCacheError::Decode(e) => Some(&**e),
            RedisCacheError::Redis(e) => Some(e),
        }
    }
}

/// The error of one shared load, cloned for every caller of the in-process tier.
#[derive(Debug)]
pub(super) enum Shared<E, D> {
    Load(E),
    Encode(Arc<D>),
    Decode(Arc<D>),
    Redis(RedisError),
}

impl<E: Clone, D> Clone for Shared<E, D> {
    fn clone(&self) -> Self {
        match self {
            Shared::Load(e) => Shared::Load(e.clone()),
            Shared::Encode(e) => Shared::Encode(e.clone()),
            Shared::Decode(e) => Shared::Decode(e.clone()),
            Shared::Redis(e) => Shared::Redis(e.clone()),
        }
    }
}

impl<E, D> From<Shared<E, D>> for RedisCacheError<E, D> {
    fn from(e: Shared<E, D>) -> Self {
        match e {
            Shared::Load(e) => RedisCacheError::Load(e),
            Shared::Encode(e) => RedisCacheError::Encode(e),
            Shared::Decode(e) => RedisCacheError::Decode(e),
            Shared::Redis(e) => RedisCacheError::Redis(e),
        }
    }
}

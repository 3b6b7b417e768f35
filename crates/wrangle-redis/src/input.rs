//! Checks of keys and durations before anything is sent.

use std::time::Duration;

use crate::{RedisError, RedisErrorKind};

/// The longest key (prefix included) this crate sends: 64 KiB.
///
/// Redis itself accepts keys up to 512 MB, but a key that long is a bug, not a name: every
/// call would ship it over the network. Longer keys are a
/// [`RedisErrorKind::InvalidKey`] error.
pub const MAX_KEY_LEN: usize = 64 * 1024;

/// The longest duration this crate sends to Redis: 2^30 seconds (about 34 years).
///
/// Redis keeps expiry times in milliseconds and its Lua scripts compute in doubles; this bound
/// keeps every sum exact (microseconds below 2^53). Longer durations are a
/// [`RedisErrorKind::InvalidDuration`] error.
pub const MAX_DURATION: Duration = Duration::from_secs(1 << 30);

/// `prefix + key`, checked.
pub(crate) fn full_key(prefix: &[u8], key: &[u8]) -> Result<Vec<u8>, RedisError> {
    if key.is_empty() {
        return Err(RedisError::new(RedisErrorKind::InvalidKey, "empty key"));
    }
    if prefix.len().saturating_add(key.len()) > MAX_KEY_LEN {
        return Err(RedisError::new(
            RedisErrorKind::InvalidKey,
            "key longer than MAX_KEY_LEN",
        ));
    }
    let mut full = Vec::with_capacity(prefix.len() + key.len());
    full.extend_from_slice(prefix);
    full.extend_from_slice(key);
    Ok(full)
}

/// Whether `key` has a Redis Cluster hash tag: a `{` followed later by a `}` with at least
/// one byte between them (the first such pair decides the key's slot).
pub(crate) fn has_hash_tag(key: &[u8]) -> bool {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return false;
    };
    key[open + 1..]
        .iter()
        .position(|&b| b == b'}')
        .is_some_and(|close| close > 0)
}

/// A duration as whole milliseconds for `PX`/`PEXPIRE`, rounded up (never zero).
pub(crate) fn millis(d: Duration) -> Result<u64, RedisError> {
    check_duration(d)?;
    let ms = d.as_nanos().div_ceil(1_000_000);
    Ok(u64::try_from(ms).unwrap_or(u64::MAX).max(1))
}

/// A non-zero duration no longer than [`MAX_DURATION`].
pub(crate) fn check_duration(d: Duration) -> Result<(), RedisError> {
    if d.is_zero() {
        return Err(RedisError::new(
            RedisErrorKind::InvalidDuration,
            "zero duration",
        ));
    }
    if d > MAX_DURATION {
        return Err(RedisError::new(
            RedisErrorKind::InvalidDuration,
            "duration longer than MAX_DURATION",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::has_hash_tag;

    #[test]
    fn hash_tags_as_redis_cluster_reads_them() {
        assert!(has_hash_tag(b"{jobs}:leader"));
        assert!(has_hash_tag(b"lease:{a}"));
        assert!(has_hash_tag(b"x{{y}")); // the tag is "{y"
        assert!(!has_hash_tag(b"jobs:leader"));
        assert!(!has_hash_tag(b"{}jobs")); // empty: the whole key is hashed
        assert!(!has_hash_tag(b"{jobs"));
        assert!(!has_hash_tag(b"jobs}{"));
    }
}

//! [`RedisLockout`]: a cooldown per key that every replica sees.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use wrangle_rt::{DefaultRuntime, Runtime};

use crate::future::{LockoutRemaining, LockoutSet, LockoutWaitAll};
use crate::input::{full_key, millis};
use crate::{Redis, RedisError, RedisErrorKind};

/// Extends a lockout to at least ARGV[1] milliseconds from now; never shortens one.
static EXTEND: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "local left = redis.call('PTTL', KEYS[1])
         if left < tonumber(ARGV[1]) then
           redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
         end
         return 1",
    )
});

/// A cooldown per key, shared by every process on the same Redis: after an upstream answers
/// 429 or 503 to one replica, [`lockout_for`](Self::lockout_for) holds every replica back
/// from it, and [`wait`](Self::wait) ends when the last lockout anyone set on that key has
/// passed.
///
/// A lockout is one key with a time to live on the server (its clock, not the replicas'),
/// extended, never shortened, by each `lockout_for`; it disappears when it has passed.
///
/// ```text
/// replica A: lockout_for(k, 5s) at 0s     replica B: lockout_for(k, 2s) at 1s (no change)
/// replica C: wait(k) at 1s ..................................... returns at 5s
/// ```
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use wrangle_redis::{Redis, RedisLockout};
///
/// # wrangle_rt::VirtualRuntime::new().block_on(async {
/// let redis = Redis::open("redis://127.0.0.1/").unwrap();
/// let cooldown = RedisLockout::new(redis, "upstream-cooldown:");
/// // This replica got "429, Retry-After: 30" from the billing API.
/// cooldown.lockout_for("billing-api", Duration::from_secs(30)).await.unwrap();
/// // Any replica, before calling it:
/// cooldown.wait("billing-api").await.unwrap();
/// # });
/// ```
pub struct RedisLockout<R: Runtime = DefaultRuntime> {
    redis: Redis<R>,
    prefix: Vec<u8>,
}

impl<R: Runtime> Clone for RedisLockout<R> {
    fn clone(&self) -> Self {
        RedisLockout {
            redis: self.redis.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

impl<R: Runtime> RedisLockout<R> {
    /// Lockouts on `redis`, under keys that start with `prefix`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_redis::{Redis, RedisLockout};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let redis = Redis::builder("redis://127.0.0.1/").runtime(rt).build().unwrap();
    /// let lockout = RedisLockout::new(redis, "cooldown:");
    /// assert_eq!(lockout.prefix(), b"cooldown:");
    /// ```
    pub fn new(redis: Redis<R>, prefix: impl AsRef<[u8]>) -> Self {
        RedisLockout {
            redis,
            prefix: prefix.as_ref().to_vec(),
        }
    }

    /// The prefix of this lockout's keys.
    #[must_use]
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Locks `key` out for `duration` from now (server time), unless it is already locked
    /// out for longer. Durations are sent in whole milliseconds, rounded up.
    ///
    /// # Errors
    ///
    /// [`RedisErrorKind::InvalidKey`] or [`RedisErrorKind::InvalidDuration`] (zero, or
    /// longer than [`MAX_DURATION`](crate::MAX_DURATION)) before anything is sent; a
    /// [`RedisError`] from the call.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLockout};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let lockout = RedisLockout::new(Redis::open("redis://127.0.0.1/").unwrap(), "cool:");
    /// lockout.lockout_for("db-primary", Duration::from_secs(10)).await.unwrap();
    /// lockout.lockout_for("db-primary", Duration::from_secs(1)).await.unwrap(); // no change
    /// let left = lockout.remaining("db-primary").await.unwrap().unwrap();
    /// assert!(left > Duration::from_secs(1));
    /// # });
    /// ```
    pub fn lockout_for(&self, key: impl AsRef<[u8]>, duration: Duration) -> LockoutSet {
        let redis = self.redis.clone();
        let key = full_key(&self.prefix, key.as_ref());
        LockoutSet::new(async move {
            let key = key?;
            let ms = millis(duration)?;
            redis
                .call(move |mut conn| async move {
                    let mut invocation = EXTEND.prepare_invoke();
                    invocation.key(key).arg(ms);
                    invocation.invoke_async::<i64>(&mut conn).await
                })
                .await
                .map(drop)
        })
    }

    /// How long `key` stays locked out (server time, millisecond resolution), or `None` if
    /// it is not locked out.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use wrangle_redis::{Redis, RedisLockout};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let lockout = RedisLockout::new(Redis::open("redis://127.0.0.1/").unwrap(), "cool:");
    /// if let Some(left) = lockout.remaining("payments").await.unwrap() {
    ///     println!("payments cooling down for {left:?}; serving from cache");
    /// }
    /// # });
    /// ```
    pub fn remaining(&self, key: impl AsRef<[u8]>) -> LockoutRemaining {
        let redis = self.redis.clone();
        let key = full_key(&self.prefix, key.as_ref());
        LockoutRemaining::new(async move { pttl(&redis, key?).await })
    }

    /// Waits until `key` is not locked out by any replica: reads the lockout's time to live
    /// and sleeps that long on the runtime's timer, again until none is left (a replica may
    /// extend it meanwhile).
    ///
    /// # Errors
    ///
    /// A [`RedisError`] from a call (for example while Redis is down): the wait does not
    /// guess. Retry it, or treat it as "locked out", as your service needs.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wrangle_redis::{Redis, RedisLockout};
    ///
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// let lockout = RedisLockout::new(Redis::open("redis://127.0.0.1/").unwrap(), "cool:");
    /// lockout.lockout_for("search", Duration::from_millis(200)).await.unwrap();
    /// lockout.wait("search").await.unwrap(); // about 200 ms
    /// assert_eq!(lockout.remaining("search").await.unwrap(), None);
    /// # });
    /// ```
    pub fn wait(&self, key: impl AsRef<[u8]>) -> LockoutWaitAll {
        let redis = self.redis.clone();
        let key = full_key(&self.prefix, key.as_ref());
        LockoutWaitAll::new(async move {
            let key = key?;
            while let Some(left) = pttl(&redis, key.clone()).await? {
                redis.runtime().sleep(left).await;
            }
            Ok(())
        })
    }
}

async fn pttl<R: Runtime>(redis: &Redis<R>, key: Vec<u8>) -> Result<Option<Duration>, RedisError> {
    let ms: i64 = redis
        .call(
            move |mut conn| async move { redis::cmd("PTTL").arg(key).query_async(&mut conn).await },
        )
        .await?;
    match ms {
        // -2: no key; 0: expiring this millisecond.
        -2 | 0 => Ok(None),
        ms if ms > 0 => Ok(Some(Duration::from_millis(ms.unsigned_abs()))),
        // -1: a key without expiry, which this crate never writes.
        _ => Err(RedisError::new(
            RedisErrorKind::Server,
            "lockout key has no expiry (written by someone else)",
        )),
    }
}

impl<R: Runtime> fmt::Debug for RedisLockout<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLockout")
            .field("prefix", &String::from_utf8_lossy(&self.prefix))
            .finish_non_exhaustive()
    }
}

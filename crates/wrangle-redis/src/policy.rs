//! [`OnUnavailable`]: what a primitive does while Redis cannot be reached.

/// What a primitive does when Redis cannot be reached or does not answer within the call
/// timeout ([`RedisError::is_unavailable`](crate::RedisError::is_unavailable)). Other
/// failures (a bad key, a server error) are errors under either policy.
///
/// | primitive | `FailOpen` | `FailClosed` |
/// |---|---|---|
/// | [`RedisLimiter`](crate::RedisLimiter) | admit (counted in `admitted_unavailable`) | refuse with a typed error (the default) |
/// | [`RedisSchedule`](crate::RedisSchedule) | run the fire time here without a claim (counted in `unclaimed`): it may run on several replicas | skip the fire time here (counted in `skipped`; the default) |
///
/// # Examples
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use wrangle_redis::{OnUnavailable, Redis, RedisLimitError, RedisLimiter};
///
/// wrangle_rt::VirtualRuntime::new().block_on(async {
///     // Nothing listens on port 1: every call finds Redis unreachable.
///     let redis = Redis::open("redis://127.0.0.1:1/").unwrap();
///     let per_second = |policy| {
///         RedisLimiter::builder(redis.clone(), NonZeroU32::new(10).unwrap(), Duration::from_secs(1))
///             .on_unavailable(policy)
///             .build()
///             .unwrap()
///     };
///     // Fail open: the limit is not enforced while Redis is down.
///     per_second(OnUnavailable::FailOpen).check("k").await.unwrap();
///     // Fail closed: refused, with a typed error that says why.
///     match per_second(OnUnavailable::FailClosed).check("k").await {
///         Err(RedisLimitError::Redis(e)) => assert!(e.is_unavailable()),
///         other => panic!("{other:?}"),
///     }
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnUnavailable {
    /// Go ahead without Redis: a limiter admits, a schedule runs the fire time unclaimed.
    /// For work where an outage of Redis must not become an outage of the service, and
    /// where doing it too often (or on several replicas) is harmless.
    FailOpen,
    /// Do nothing Redis cannot vouch for: a limiter refuses with a typed error, a schedule
    /// skips the fire time. The default.
    #[default]
    FailClosed,
}

//! The limiter against a real server, on every runtime: bursts, refusals with the server's
//! retry time, costs, acquire order, stats and cancellation.

mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use common::{Server, unique};
use wrangle_redis::{Redis, RedisLimitError, RedisLimiter};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn limiter(
    rt: DefaultRuntime,
    url: &str,
    rate: u32,
    per: Duration,
    burst: u32,
) -> RedisLimiter<DefaultRuntime> {
    let redis = Redis::builder(url).runtime(rt).build().unwrap();
    RedisLimiter::builder(redis, nz(rate), per)
        .burst(nz(burst))
        .prefix(unique("limiter"))
        .build()
        .unwrap()
}

#[test]
fn limiter_burst_then_refused_with_retry_after() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            // One per hour: nothing recovers during the test, on any machine.
            let limiter = limiter(rt, &url, 1, Duration::from_secs(3600), 3);
            for _ in 0..3 {
                limiter.check("k").await.unwrap();
            }
            match limiter.check("k").await {
                Err(RedisLimitError::Limited { retry_after }) => {
                    assert!(retry_after <= Duration::from_secs(3600));
                    assert!(retry_after > Duration::from_secs(3000));
                }
                other => panic!("expected Limited, got {other:?}"),
            }
            // Other keys are independent; binary keys are keys.
            limiter.check("other").await.unwrap();
            limiter.check([0u8, 0xff, b'\n', 0]).await.unwrap();
            let stats = limiter.stats();
            assert_eq!(stats.started, 6);
            assert_eq!(stats.completed, 5);
            assert_eq!(stats.skipped, 1);
            assert_eq!(stats.running, 0);
        }
    });
}

#[test]
fn limiter_costs_are_all_or_nothing() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let limiter = limiter(rt, &url, 1, Duration::from_secs(3600), 10);
            limiter.check_n("k", 7).await.unwrap();
            // 4 more would exceed the burst: refused, and nothing is taken.
            assert!(matches!(
                limiter.check_n("k", 4).await,
                Err(RedisLimitError::Limited { .. })
            ));
            limiter.check_n("k", 3).await.unwrap();
            assert!(limiter.check_n("k", 1).await.is_err());
            // Zero costs nothing; more than the burst can never be admitted.
            limiter.check_n("k", 0).await.unwrap();
            assert!(matches!(
                limiter.check_n("k", 11).await,
                Err(RedisLimitError::ExceedsBurst)
            ));
            assert!(matches!(
                limiter.acquire_n("k", 11).await,
                Err(RedisLimitError::ExceedsBurst)
            ));
        }
    });
}

#[test]
fn limiter_acquire_waits_for_the_reserved_slot() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            // 20 per second, burst 1: the fourth acquire is at least 150 ms after the first
            // (server time); on virtual time the runtime's clock shows the waits exactly.
            let limiter = limiter(rt.clone(), &url, 20, Duration::from_secs(1), 1);
            let start = rt.now();
            for _ in 0..4 {
                limiter.acquire("k").await.unwrap();
            }
            let waited = rt.now() - start;
            if rt.is_virtual() {
                // The waits are what the server said, and the server's clock is real: virtual
                // sleeps do not move it, so the k-th reservation still waits up to k * 50 ms
                // (less the real time that passed): at most 50 + 100 + 150 ms in all.
                assert!(waited <= Duration::from_millis(300), "{waited:?}");
            } else {
                assert!(waited >= Duration::from_millis(149), "{waited:?}");
            }
            // A check right after the reservations is refused: they took the capacity until
            // 50 ms after the last slot. On a real runtime a loaded machine can delay the check
            // past that (found by xtask stress, seeds 700109 and 700111), so it is asserted only
            // when the check came back within 30 ms of the last acquire, on the real clock (the
            // server's clock is real on every runtime, virtual time included).
            let after_last = std::time::Instant::now();
            let refused = limiter.check("k").await.is_err();
            if after_last.elapsed() < Duration::from_millis(30) {
                assert!(refused, "a check right after the reservations was admitted");
            }
            assert_eq!(limiter.stats().completed, 4);
        }
    });
}

#[test]
fn limiter_futures_dropped_after_k_polls() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let limiter = limiter(rt.clone(), &url, 1, Duration::from_secs(3600), 2);
            for k in 0..4 {
                let mut check = std::pin::pin!(limiter.check("k"));
                for _ in 0..k {
                    // A completed future is not polled again.
                    if futures_lite::future::poll_once(check.as_mut())
                        .await
                        .is_some()
                    {
                        break;
                    }
                }
            }
            // Dropped checks may have been admitted (the script may have run) but never more
            // than the burst: at most 2 admissions in total on the key.
            let mut admitted = 0;
            while limiter.check("k").await.is_ok() {
                admitted += 1;
            }
            assert!(admitted <= 2);
            let stats = limiter.stats();
            assert_eq!(stats.running, 0);
            assert_eq!(
                stats.started,
                stats.completed + stats.skipped + stats.failed + stats.cancelled
            );
            // A dropped acquire, while waiting: the limiter still answers.
            let mut acquire = std::pin::pin!(limiter.acquire("other"));
            let _ = futures_lite::future::poll_once(acquire.as_mut()).await;
            assert!(limiter.check("third").await.is_ok());
        }
    });
}

#[test]
fn limiter_bad_input_is_a_typed_error() {
    use wrangle_redis::{InvalidLimiterConfig, MAX_DURATION, MAX_KEY_LEN, RedisErrorKind};
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let limiter = limiter(rt.clone(), &url, 10, Duration::from_secs(1), 5);
            let kind = |r: Result<(), RedisLimitError>| match r {
                Err(RedisLimitError::Redis(e)) => e.kind(),
                other => panic!("expected a Redis error, got {other:?}"),
            };
            assert_eq!(kind(limiter.check("").await), RedisErrorKind::InvalidKey);
            assert_eq!(kind(limiter.acquire(b"").await), RedisErrorKind::InvalidKey);
            let huge = vec![7u8; MAX_KEY_LEN];
            assert_eq!(kind(limiter.check(&huge).await), RedisErrorKind::InvalidKey);
            // The largest cost is checked before anything is sent.
            assert!(matches!(
                limiter.check_n("k", u32::MAX).await,
                Err(RedisLimitError::ExceedsBurst)
            ));
            let stats = limiter.stats();
            assert_eq!(stats.failed, 4);
            assert_eq!(stats.running, 0);

            let redis = Redis::builder(&url).runtime(rt).build().unwrap();
            let build = |rate: u32, per: Duration, burst: u32| {
                RedisLimiter::builder(redis.clone(), nz(rate), per)
                    .burst(nz(burst))
                    .build()
                    .map(drop)
            };
            assert_eq!(
                build(1, Duration::ZERO, 1),
                Err(InvalidLimiterConfig::ZeroPeriod)
            );
            assert_eq!(
                build(1, Duration::MAX, 1),
                Err(InvalidLimiterConfig::PeriodTooLong)
            );
            assert_eq!(
                build(1, MAX_DURATION, 2),
                Err(InvalidLimiterConfig::PeriodTooLong)
            );
            assert_eq!(
                build(u32::MAX, Duration::from_secs(1), 1),
                Err(InvalidLimiterConfig::RateTooHigh)
            );
            assert_eq!(build(1, MAX_DURATION, 1), Ok(()));
            assert_eq!(build(1_000_000, Duration::from_secs(1), u32::MAX), Ok(()));
            let too_long_prefix =
                RedisLimiter::builder(redis.clone(), nz(1), Duration::from_secs(1))
                    .prefix(vec![b'p'; MAX_KEY_LEN])
                    .build();
            assert_eq!(
                too_long_prefix.unwrap_err(),
                InvalidLimiterConfig::PrefixTooLong
            );
            // The extremes the builder accepts work on the server: the longest period...
            let slow = RedisLimiter::builder(redis.clone(), nz(1), MAX_DURATION)
                .prefix(unique("slow"))
                .build()
                .unwrap();
            slow.check("k").await.unwrap();
            assert!(matches!(
                slow.check("k").await,
                Err(RedisLimitError::Limited { .. })
            ));
            // ... and the largest burst.
            let wide = RedisLimiter::builder(redis, nz(1_000_000), Duration::from_secs(1))
                .burst(nz(u32::MAX))
                .prefix(unique("wide"))
                .build()
                .unwrap();
            wide.check_n("k", u32::MAX).await.unwrap();
        }
    });
}

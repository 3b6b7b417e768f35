//! Leases against a real server, on every runtime: one holder, growing tokens, renewal,
//! release on purpose and on drop, visible loss, and cancelled acquires.

mod common;

use std::time::Duration;

use common::{Server, unique};
use wrangle_redis::{Redis, RedisErrorKind, RedisLease};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime};

fn redis(rt: DefaultRuntime, url: &str) -> Redis<DefaultRuntime> {
    Redis::builder(url).runtime(rt).build().unwrap()
}

/// Deletes a key behind the lease's back (as if it had expired and been taken).
fn delete(url: &str, key: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_connection().unwrap();
    let _: i64 = redis::cmd("DEL").arg(key).query(&mut conn).unwrap();
}

#[test]
fn lease_one_holder_and_growing_tokens() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let redis = redis(rt, &url);
            let key = unique("lease");
            let ttl = Duration::from_secs(30);
            let first = RedisLease::try_acquire(&redis, &key, ttl)
                .await
                .unwrap()
                .unwrap();
            assert!(first.is_held());
            assert!(
                RedisLease::try_acquire(&redis, &key, ttl)
                    .await
                    .unwrap()
                    .is_none()
            );
            let token = first.token();
            assert!(first.release().await.unwrap());
            let second = RedisLease::try_acquire(&redis, &key, ttl)
                .await
                .unwrap()
                .unwrap();
            assert!(second.token() > token);
            let token = second.token();
            // Dropping the guard releases it (a detached task): eventually free.
            drop(second);
            let third = loop {
                if let Some(lease) = RedisLease::try_acquire(&redis, &key, ttl).await.unwrap() {
                    break lease;
                }
                redis.runtime().sleep(Duration::from_millis(10)).await;
            };
            assert!(third.token() > token);
        }
    });
}

#[test]
fn lease_renewed_while_held() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let redis = redis(rt.clone(), &url);
            let key = unique("renew");
            let ttl = Duration::from_millis(300);
            let lease = RedisLease::acquire(&redis, &key, ttl).await.unwrap();
            // Three lease times later it is still ours, renewed in the background (on
            // virtual time, the renewals run at once; the server's clock is real).
            for _ in 0..3 {
                rt.sleep(ttl).await;
                if !rt.is_virtual() {
                    assert!(
                        RedisLease::try_acquire(&redis, &key, ttl)
                            .await
                            .unwrap()
                            .is_none()
                    );
                }
            }
            assert!(
                RedisLease::try_acquire(&redis, &key, ttl)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(lease.is_held());
            assert!(lease.release().await.unwrap());
        }
    });
}

#[test]
fn lease_loss_is_visible() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let redis = redis(rt, &url);
            let key = unique("lost");
            let lease = RedisLease::acquire(&redis, &key, Duration::from_millis(300))
                .await
                .unwrap();
            let lost = lease.lost();
            delete(&url, &key);
            // The next renewal finds the key gone: lost, visibly.
            lost.await;
            assert!(!lease.is_held());
            // Releasing a lost lease deletes nothing that is someone else's.
            let other = RedisLease::try_acquire(&redis, &key, Duration::from_secs(30))
                .await
                .unwrap()
                .unwrap();
            assert!(!lease.release().await.unwrap());
            assert!(other.is_held());
            assert!(other.token() > 0);
        }
    });
}

#[test]
fn lease_futures_dropped_after_k_polls() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let redis = redis(rt, &url);
            let key = unique("cancel");
            let ttl = Duration::from_millis(200);
            for k in 0..4 {
                let mut acquire = std::pin::pin!(RedisLease::try_acquire(&redis, &key, ttl));
                for _ in 0..k {
                    // A completed future is not polled again.
                    if futures_lite::future::poll_once(acquire.as_mut())
                        .await
                        .is_some()
                    {
                        break;
                    }
                }
            }
            // A grant lost in a dropped future expires by itself: eventually free.
            let lease = RedisLease::acquire(&redis, &key, ttl).await.unwrap();
            assert!(lease.is_held());
            let mut release = std::pin::pin!(lease.release());
            let _ = futures_lite::future::poll_once(release.as_mut()).await;
        }
    });
}

#[test]
fn lease_bad_input_is_a_typed_error() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let redis = redis(rt, &url);
            let kind = |r: Result<
                Option<RedisLease<DefaultRuntime>>,
                wrangle_redis::RedisError,
            >| { r.unwrap_err().kind() };
            let ok = Duration::from_secs(1);
            assert_eq!(
                kind(RedisLease::try_acquire(&redis, "", ok).await),
                RedisErrorKind::InvalidKey
            );
            let huge = vec![b'k'; wrangle_redis::MAX_KEY_LEN + 1];
            assert_eq!(
                kind(RedisLease::try_acquire(&redis, &huge, ok).await),
                RedisErrorKind::InvalidKey
            );
            for ttl in [Duration::ZERO, Duration::from_millis(2), Duration::MAX] {
                assert_eq!(
                    kind(RedisLease::try_acquire(&redis, "k", ttl).await),
                    RedisErrorKind::InvalidDuration
                );
            }
            assert!(
                RedisLease::acquire(&redis, "k", Duration::MAX)
                    .await
                    .is_err()
            );
            // Binary keys are keys.
            let lease = RedisLease::try_acquire(&redis, unique("bin") + "\0\u{ff}", ok)
                .await
                .unwrap()
                .unwrap();
            assert!(lease.release().await.unwrap());
        }
    });
}

#[test]
fn lease_lost_dropped_after_k_polls() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let redis = redis(rt, &url);
            let key = unique("lost-drop");
            let lease = RedisLease::acquire(&redis, &key, Duration::from_millis(300))
                .await
                .unwrap();
            for k in 0..3 {
                let mut lost = std::pin::pin!(lease.lost());
                for _ in 0..k {
                    assert!(
                        futures_lite::future::poll_once(lost.as_mut())
                            .await
                            .is_none()
                    );
                }
            }
            // Dropped waits change nothing: still held, and loss still seen.
            assert!(lease.is_held());
            delete(&url, &key);
            lease.lost().await;
            assert!(!lease.is_held());
        }
    });
}

//! Lockouts against a real server, on every runtime: extend-only, the wait ends when every
//! replica's lockout has passed, bad input.

mod common;

use std::time::Duration;

use common::{Server, unique};
use wrangle_redis::{MAX_DURATION, Redis, RedisErrorKind, RedisLockout};
use wrangle_rt::DefaultRuntime;
use wrangle_rt::testing::each_runtime;

fn lockout(rt: DefaultRuntime, url: &str, prefix: &str) -> RedisLockout<DefaultRuntime> {
    RedisLockout::new(Redis::builder(url).runtime(rt).build().unwrap(), prefix)
}

#[test]
fn lockout_wait_ends_after_every_replica() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let prefix = unique("lockout");
            // Two replicas: separate handles, separate connections, one key.
            let a = lockout(rt.clone(), &url, &prefix);
            let b = lockout(rt.clone(), &url, &prefix);
            assert_eq!(a.remaining("k").await.unwrap(), None);
            a.lockout_for("k", Duration::from_millis(300))
                .await
                .unwrap();
            // Shorter: no change. Longer would extend.
            b.lockout_for("k", Duration::from_millis(50)).await.unwrap();
            let left = b.remaining("k").await.unwrap().unwrap();
            assert!(left > Duration::from_millis(50) && left <= Duration::from_millis(300));
            b.wait("k").await.unwrap();
            assert_eq!(a.remaining("k").await.unwrap(), None);
            // Other keys were never locked.
            a.wait("other").await.unwrap();
            // Binary keys are keys.
            a.lockout_for([0u8, 0xff], Duration::from_millis(1))
                .await
                .unwrap();
            a.wait([0u8, 0xff]).await.unwrap();
        }
    });
}

#[test]
fn lockout_bad_input_is_a_typed_error() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let l = lockout(rt, &url, &unique("bad"));
            let d = Duration::from_secs(1);
            assert_eq!(
                l.lockout_for("", d).await.unwrap_err().kind(),
                RedisErrorKind::InvalidKey
            );
            assert_eq!(
                l.remaining("").await.unwrap_err().kind(),
                RedisErrorKind::InvalidKey
            );
            assert_eq!(
                l.wait("").await.unwrap_err().kind(),
                RedisErrorKind::InvalidKey
            );
            let huge = vec![0u8; wrangle_redis::MAX_KEY_LEN + 1];
            assert_eq!(
                l.wait(&huge).await.unwrap_err().kind(),
                RedisErrorKind::InvalidKey
            );
            for bad in [
                Duration::ZERO,
                MAX_DURATION + Duration::from_nanos(1),
                Duration::MAX,
            ] {
                let err = l.lockout_for("k", bad).await.unwrap_err();
                assert_eq!(err.kind(), RedisErrorKind::InvalidDuration);
            }
            // The longest accepted duration is one the server accepts.
            l.lockout_for("k", MAX_DURATION).await.unwrap();
            assert!(l.remaining("k").await.unwrap().unwrap() > Duration::from_secs(1 << 29));
            // A key this crate did not write (no expiry) is a server error, not a hang.
            let client = redis::Client::open(url.as_str()).unwrap();
            let mut conn = client.get_connection().unwrap();
            let key = format!("{}plain", l.prefix().escape_ascii());
            let _: () = redis::cmd("SET")
                .arg(&key)
                .arg("x")
                .query(&mut conn)
                .unwrap();
            assert_eq!(
                l.wait("plain").await.unwrap_err().kind(),
                RedisErrorKind::Server
            );
        }
    });
}

#[test]
fn lockout_futures_dropped_after_k_polls() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let l = lockout(rt, &url, &unique("cancel"));
            for k in 0..3 {
                let mut set = std::pin::pin!(l.lockout_for("k", Duration::from_millis(20)));
                for _ in 0..k {
                    // A completed future is not polled again.
                    if futures_lite::future::poll_once(set.as_mut())
                        .await
                        .is_some()
                    {
                        break;
                    }
                }
                let mut wait = std::pin::pin!(l.wait("k"));
                for _ in 0..k {
                    // A completed future is not polled again.
                    if futures_lite::future::poll_once(wait.as_mut())
                        .await
                        .is_some()
                    {
                        break;
                    }
                }
            }
            l.wait("k").await.unwrap();
            assert_eq!(l.remaining("k").await.unwrap(), None);
        }
    });
}

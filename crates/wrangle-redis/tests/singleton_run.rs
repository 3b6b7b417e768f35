//! Singletons against a real server, on every runtime: one leader among replicas, takeover
//! when the leader stops, panics counted and survived, bad input.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Server, unique};
use wrangle_redis::{Redis, RedisErrorKind, RedisSingleton};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime};

fn redis(rt: DefaultRuntime, url: &str) -> Redis<DefaultRuntime> {
    Redis::builder(url).runtime(rt).build().unwrap()
}

#[test]
fn singleton_one_leader_then_takeover() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let key = unique("singleton");
            let ttl = Duration::from_millis(300);
            let active = Arc::new(AtomicU32::new(0));
            let overlap = Arc::new(AtomicU32::new(0));
            let replica = || {
                let (active, overlap) = (active.clone(), overlap.clone());
                RedisSingleton::spawn(&redis(rt.clone(), &url), &key, ttl, move |_token| {
                    let (active, overlap) = (active.clone(), overlap.clone());
                    async move {
                        if active.fetch_add(1, Ordering::SeqCst) != 0 {
                            overlap.fetch_add(1, Ordering::SeqCst);
                        }
                        // Decremented when the body ends or is dropped (lease lost, cancel).
                        struct Leave(Arc<AtomicU32>);
                        impl Drop for Leave {
                            fn drop(&mut self) {
                                self.0.fetch_sub(1, Ordering::SeqCst);
                            }
                        }
                        let _leave = Leave(active);
                        std::future::pending::<()>().await;
                    }
                })
                .unwrap()
            };
            let a = replica();
            let b = replica();
            while !(a.is_leader() || b.is_leader()) {
                rt.sleep(Duration::from_millis(10)).await;
            }
            for _ in 0..5 {
                assert!(!(a.is_leader() && b.is_leader()));
                rt.sleep(Duration::from_millis(50)).await;
            }
            let (leader, other) = if a.is_leader() { (a, b) } else { (b, a) };
            leader.cancel().await;
            while !other.is_leader() {
                rt.sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(overlap.load(Ordering::SeqCst), 0);
            let stats = other.stats();
            assert_eq!(stats.started, 1);
            assert_eq!(stats.running, 1);
            other.cancel().await;
            assert_eq!(active.load(Ordering::SeqCst), 0);
        }
    });
}

#[test]
fn singleton_panics_are_counted_and_survived() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let runs = Arc::new(AtomicU32::new(0));
            let singleton = RedisSingleton::spawn(
                &redis(rt.clone(), &url),
                unique("panics"),
                Duration::from_millis(30),
                {
                    let runs = runs.clone();
                    move |_token| {
                        let n = runs.fetch_add(1, Ordering::SeqCst);
                        // Panics while building the future, then while running it, then runs.
                        assert_ne!(n, 0, "panic while building (expected by the test)");
                        async move {
                            assert_ne!(n, 1, "panic while running (expected by the test)");
                        }
                    }
                },
            )
            .unwrap();
            while singleton.stats().completed == 0 {
                rt.sleep(Duration::from_millis(5)).await;
            }
            let stats = singleton.stats();
            assert_eq!(stats.failed, 2);
            assert!(stats.started >= 3);
            assert_eq!(
                stats.started,
                stats.completed + stats.failed + stats.cancelled + stats.running as u64
            );
            singleton.cancel().await;
        }
    });
}

#[test]
fn singleton_bad_input_is_a_typed_error() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let redis = redis(rt, &url);
            let body = |_token: u64| async {};
            let kind = |r: Result<RedisSingleton<DefaultRuntime>, wrangle_redis::RedisError>| {
                r.unwrap_err().kind()
            };
            let ok = Duration::from_secs(1);
            assert_eq!(
                kind(RedisSingleton::spawn(&redis, "", ok, body)),
                RedisErrorKind::InvalidKey
            );
            for ttl in [Duration::ZERO, Duration::from_millis(2), Duration::MAX] {
                assert_eq!(
                    kind(RedisSingleton::spawn(&redis, "k", ttl, body)),
                    RedisErrorKind::InvalidDuration
                );
            }
        }
    });
}

#[test]
fn singleton_cancel_dropped_after_k_polls() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let key = unique("singleton-cancel");
            for k in 0..3 {
                let singleton = RedisSingleton::spawn(
                    &redis(rt.clone(), &url),
                    &key,
                    Duration::from_millis(100),
                    |_token| std::future::pending::<()>(),
                )
                .unwrap();
                while !singleton.is_leader() {
                    rt.sleep(Duration::from_millis(5)).await;
                }
                let mut cancel = std::pin::pin!(singleton.cancel());
                for _ in 0..k {
                    // A completed future is not polled again (that is a caller's error).
                    if futures_lite::future::poll_once(cancel.as_mut())
                        .await
                        .is_some()
                    {
                        break;
                    }
                }
            }
            // Whatever point each was dropped at, the lease comes free again (released, or
            // expired): a new singleton leads.
            let last = RedisSingleton::spawn(
                &redis(rt.clone(), &url),
                &key,
                Duration::from_millis(100),
                |_token| std::future::pending::<()>(),
            )
            .unwrap();
            while !last.is_leader() {
                rt.sleep(Duration::from_millis(5)).await;
            }
            last.abort();
            while last.is_leader() {
                rt.sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(last.stats().cancelled, 1);
        }
    });
}

//! Faults, on every runtime: Redis stopped mid-run (each primitive reports a typed error or
//! follows its policy), restarted (each recovers by itself); a server that never answers
//! (a timeout, not a hang); nothing listening.

mod common;

use std::net::TcpListener;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, unique};
use wrangle_redis::{
    OnUnavailable, Redis, RedisCache, RedisError, RedisErrorKind, RedisLease, RedisLimitError,
    RedisLimiter, RedisLockout, RedisSchedule, RedisScheduleStats, Utf8Codec,
};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, ErrorReporter, Runtime, Unhandled};
use wrangle_timer::WallSchedule;
use wrangle_timer::jiff::{SignedDuration, Timestamp, tz::TimeZone};

fn redis(rt: DefaultRuntime, url: &str) -> Redis<DefaultRuntime> {
    Redis::builder(url)
        .runtime(rt)
        .call_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(500))
        .reconnect_delay(Duration::from_millis(20))
        .build()
        .unwrap()
}

fn limiter(redis: &Redis<DefaultRuntime>, policy: OnUnavailable) -> RedisLimiter<DefaultRuntime> {
    RedisLimiter::builder(
        redis.clone(),
        NonZeroU32::new(1000).unwrap(),
        Duration::from_secs(1),
    )
    .burst(NonZeroU32::new(1000).unwrap())
    .prefix(unique("faults"))
    .on_unavailable(policy)
    .build()
    .unwrap()
}

#[test]
fn faults_server_stopped_and_restarted() {
    // Our own server, even with WRANGLE_REDIS_URL set: this test kills it.
    let server = Mutex::new(Server::start_own());
    let url = server.lock().unwrap().url().to_owned();
    each_runtime(|rt| {
        let (server, url) = (&server, url.clone());
        async move {
            let redis = redis(rt.clone(), &url);
            let closed = limiter(&redis, OnUnavailable::FailClosed);
            let open = limiter(&redis, OnUnavailable::FailOpen);
            let lockout = RedisLockout::new(redis.clone(), unique("faults-lockout"));
            let lease_key = unique("faults-lease");
            let lease = RedisLease::acquire(&redis, &lease_key, Duration::from_millis(600))
                .await
                .unwrap();
            closed.check("k").await.unwrap();
            open.check("k").await.unwrap();
            lockout
                .lockout_for("k", Duration::from_millis(10))
                .await
                .unwrap();

            server.lock().unwrap().stop();

            // Down: typed errors, or the policy.
            match closed.check("k").await {
                Err(RedisLimitError::Redis(e)) => assert!(e.is_unavailable(), "{e}"),
                other => panic!("fail-closed while down: {other:?}"),
            }
            open.check("k").await.unwrap();
            assert!(open.stats().admitted_unavailable >= 1);
            let err = lockout
                .lockout_for("k", Duration::from_secs(1))
                .await
                .unwrap_err();
            assert!(err.is_unavailable(), "{err}");
            assert!(lockout.wait("k").await.unwrap_err().is_unavailable());
            // The lease cannot be renewed: lost once its time is up, visibly.
            lease.lost().await;
            assert!(!lease.is_held());
            let err = RedisLease::try_acquire(&redis, &lease_key, Duration::from_secs(1))
                .await
                .unwrap_err();
            assert!(err.is_unavailable(), "{err}");

            server.lock().unwrap().restart();

            // Back: everything recovers by itself (the next calls reconnect).
            let mut tries = 0;
            while closed.check("k").await.is_err() {
                tries += 1;
                assert!(tries < 500, "the limiter did not recover");
                rt.sleep(Duration::from_millis(20)).await;
            }
            lockout
                .lockout_for("k", Duration::from_millis(10))
                .await
                .unwrap();
            lockout.wait("k").await.unwrap();
            let again = RedisLease::try_acquire(&redis, &lease_key, Duration::from_secs(1))
                .await
                .unwrap()
                .expect("the lease was lost with the server's data");
            assert!(again.release().await.unwrap());
            let _ = lease.release().await;
            let stats = redis.stats();
            assert!(stats.connects >= 2, "{stats:?}");
            assert!(stats.failed >= 1, "{stats:?}");
        }
    });
}

/// Waits until `pred(closed, open)` holds (eventually, on real runtimes).
async fn until(
    rt: &DefaultRuntime,
    [closed, open]: [&RedisSchedule; 2],
    pred: &dyn Fn(RedisScheduleStats, RedisScheduleStats) -> bool,
) {
    let mut tries = 0;
    while !pred(closed.stats(), open.stats()) {
        tries += 1;
        assert!(tries < 1000, "{:?} {:?}", closed.stats(), open.stats());
        rt.sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn faults_schedule_skips_or_runs_unclaimed_while_down_then_recovers() {
    let server = Mutex::new(Server::start_own());
    let url = server.lock().unwrap().url().to_owned();
    each_runtime(|rt| {
        let (server, url) = (&server, url.clone());
        async move {
            let redis = redis(rt.clone(), &url);
            let errors = Arc::new(Mutex::new(Vec::<RedisErrorKind>::new()));
            let reporter = ErrorReporter::new({
                let errors = errors.clone();
                move |u: Unhandled| {
                    let e = u
                        .error()
                        .downcast_ref::<RedisError>()
                        .expect("a RedisError");
                    errors.lock().unwrap().push(e.kind());
                }
            });
            let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
            let schedule = |policy| {
                let grid = WallSchedule::every(anchor.clone(), SignedDuration::from_millis(20));
                RedisSchedule::builder(redis.clone(), unique("faults-schedule"), grid.unwrap())
                    .on_unavailable(policy)
                    .error_reporter(reporter.clone())
                    .spawn(|_at: Timestamp| async {})
                    .unwrap()
            };
            let closed = schedule(OnUnavailable::FailClosed);
            let open = schedule(OnUnavailable::FailOpen);
            let both = [&closed, &open];
            until(&rt, both, &|c, o| c.claimed >= 2 && o.claimed >= 2).await;

            server.lock().unwrap().stop();

            // Down: fail closed skips, fail open runs unclaimed; every failed claim is
            // reported as an unavailable server, and nothing stops.
            let (c0, o0) = (closed.stats(), open.stats());
            let down = |c: RedisScheduleStats, o: RedisScheduleStats| {
                c.claim_errors >= c0.claim_errors + 3 && o.unclaimed >= o0.unclaimed + 3
            };
            until(&rt, both, &down).await;
            let (c, o) = (closed.stats(), open.stats());
            assert_eq!(c.unclaimed, 0, "{c:?}");
            assert!(c.skipped >= c.claim_errors, "{c:?}");
            assert!(o.started >= o.claimed + 3, "{o:?}");
            assert!(!errors.lock().unwrap().is_empty());
            assert!(
                errors
                    .lock()
                    .unwrap()
                    .iter()
                    .all(|k| matches!(k, RedisErrorKind::Unavailable | RedisErrorKind::TimedOut))
            );

            server.lock().unwrap().restart();

            // Back: claims again, by itself.
            let (c1, o1) = (closed.stats(), open.stats());
            let back = |c: RedisScheduleStats, o: RedisScheduleStats| {
                c.claimed >= c1.claimed + 2 && o.claimed >= o1.claimed + 2
            };
            until(&rt, both, &back).await;
            for s in [closed.cancel().await, open.cancel().await] {
                assert_eq!(s.started, s.claimed + s.unclaimed, "{s:?}");
                assert_eq!(
                    s.started,
                    s.completed + s.failed + s.cancelled + s.running as u64
                );
                assert_eq!(s.failed, 0);
            }
        }
    });
}

#[test]
fn faults_cache_loads_locally_while_down_then_shares_again() {
    let server = Mutex::new(Server::start_own());
    let url = server.lock().unwrap().url().to_owned();
    each_runtime(|rt| {
        let (server, url) = (&server, url.clone());
        async move {
            let prefix = unique("faults-cache");
            let replica = || {
                RedisCache::<String, String, _, _>::builder(
                    redis(rt.clone(), &url),
                    Utf8Codec,
                    Duration::from_secs(60),
                )
                .prefix(&prefix)
                .local_max_entries(0)
                .build()
                .unwrap()
            };
            let (a, b) = (replica(), replica());
            let value = |v: &'static str| move || async move { Ok::<_, String>(v.to_string()) };
            assert_eq!(a.get("k".into(), value("shared")).await.unwrap(), "shared");

            server.lock().unwrap().stop();

            // Down: each replica loads for itself, never an error.
            assert_eq!(
                a.get("k".into(), value("local a")).await.unwrap(),
                "local a"
            );
            assert_eq!(
                b.get("k".into(), value("local b")).await.unwrap(),
                "local b"
            );
            for c in [&a, &b] {
                let s = c.stats();
                assert_eq!(s.unavailable, 1, "{s:?}");
                assert!(s.remote_errors >= 1, "{s:?}");
            }

            server.lock().unwrap().restart();

            // Back (the server lost its data): one replica loads and stores, the other
            // reads it from Redis, once the handles have reconnected.
            let mut tries = 0;
            let first = loop {
                let before = a.stats().unavailable;
                let v = a.get("k2".into(), value("after")).await.unwrap();
                if a.stats().unavailable == before {
                    break v;
                }
                tries += 1;
                assert!(tries < 500, "the cache did not go back to Redis");
                rt.sleep(Duration::from_millis(20)).await;
            };
            assert_eq!(first, "after");
            let mut tries = 0;
            loop {
                let r = b.get("k2".into(), || async {
                    Err::<String, _>("b must not load".to_string())
                });
                if let Ok(v) = r.await {
                    assert_eq!(v, "after");
                    break;
                }
                tries += 1;
                assert!(tries < 500, "the second replica did not go back to Redis");
                rt.sleep(Duration::from_millis(20)).await;
            }
        }
    });
}

#[test]
fn faults_silent_server_times_out() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", silent.local_addr().unwrap());
    each_runtime(|rt| {
        let url = url.clone();
        async move {
            let redis = redis(rt, &url);
            let lockout = RedisLockout::new(redis.clone(), "silent:");
            let err = lockout.remaining("k").await.unwrap_err();
            assert!(err.is_unavailable(), "{err}");
            let limiter = limiter(&redis, OnUnavailable::FailClosed);
            assert!(
                matches!(limiter.check("k").await, Err(RedisLimitError::Redis(e)) if e.is_unavailable())
            );
            let stats = redis.stats();
            assert_eq!(stats.completed, 0);
            assert_eq!(stats.started, stats.failed + stats.timed_out);
        }
    });
    drop(silent);
}

#[test]
fn faults_nothing_listening_is_unavailable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    each_runtime(|rt| async move {
        let redis = redis(rt, &format!("redis://127.0.0.1:{port}/"));
        let lockout = RedisLockout::new(redis.clone(), "nobody:");
        for _ in 0..3 {
            let err = lockout
                .lockout_for("k", Duration::from_secs(1))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), RedisErrorKind::Unavailable, "{err}");
        }
        assert_eq!(redis.stats().completed, 0);
    });
}

//! Replicated schedules against a real server, on every runtime: every fire time runs on
//! one replica, catch-up included; runs' failures and panics are counted and reported; bad
//! input is a typed error; cancel is cancel-safe. (Several OS processes:
//! `schedule_processes.rs`; Redis stopped and restarted: `faults_server.rs`.)

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, Window, unique};
use wrangle_redis::{
    MAX_DURATION, MAX_KEY_LEN, Redis, RedisErrorKind, RedisSchedule, RedisScheduleStats,
};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, ErrorReporter, Runtime};
use wrangle_timer::jiff::{SignedDuration, Timestamp, tz::TimeZone};
use wrangle_timer::{CronSchedule, Misfire, Overlap, Schedule, WallSchedule};

/// Generous timeouts: on a loaded machine a slow answer must not turn into the
/// unavailable policy (a skipped fire time) in tests that count fire times.
fn redis<R: Runtime>(rt: R, url: &str) -> Redis<R> {
    Redis::builder(url)
        .runtime(rt)
        .call_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The log every replica's runs append to.
type Log = Arc<Mutex<Vec<(Timestamp, usize)>>>;

fn replica<R: Runtime, S: Schedule>(
    redis: &Redis<R>,
    name: &str,
    schedule: S,
    id: usize,
    log: &Log,
    configure: impl FnOnce(
        wrangle_redis::RedisScheduleBuilder<S, R>,
    ) -> wrangle_redis::RedisScheduleBuilder<S, R>,
) -> RedisSchedule<R> {
    let log = log.clone();
    configure(RedisSchedule::builder(redis.clone(), name, schedule))
        .replica_id(format!("replica-{id}"))
        .spawn(move |at: Timestamp| {
            log.lock().unwrap().push((at, id));
            async {}
        })
        .unwrap()
}

/// Each fire time in the log once, and each one in `expected` (when given).
fn assert_once(log: &Log, expected: Option<&[Timestamp]>) -> HashMap<Timestamp, usize> {
    let log = log.lock().unwrap();
    let mut seen = HashMap::new();
    for &(at, id) in log.iter() {
        if let Some(other) = seen.insert(at, id) {
            panic!("{at} ran on replicas {other} and {id}");
        }
    }
    if let Some(expected) = expected {
        let mut ran: Vec<_> = seen.keys().copied().collect();
        ran.sort();
        assert_eq!(ran, expected);
    }
    seen
}

fn assert_invariants(s: &RedisScheduleStats) {
    assert_eq!(s.started, s.claimed + s.unclaimed, "{s:?}");
    assert_eq!(
        s.started,
        s.completed + s.failed + s.cancelled + s.running as u64,
        "{s:?}"
    );
}

#[test]
fn schedule_three_replicas_run_each_fire_time_once() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let name = unique("schedule-once");
            let log = Log::default();
            // A fixed anchor: every replica computes the same grid.
            let anchor = (rt.wall_now() + SignedDuration::from_millis(50)).to_zoned(TimeZone::UTC);
            let grid =
                || WallSchedule::every(anchor.clone(), SignedDuration::from_millis(20)).unwrap();
            let replicas: Vec<_> = (0..3)
                .map(|id| replica(&redis(rt.clone(), &url), &name, grid(), id, &log, |b| b))
                .collect();
            let start = rt.wall_now();
            rt.sleep(Duration::from_millis(400)).await;
            let mut total = RedisScheduleStats::default();
            for r in replicas {
                let s = r.cancel().await;
                assert_invariants(&s);
                total.claimed += s.claimed;
                total.lost += s.lost;
            }
            let seen = assert_once(&log, None);
            assert_eq!(total.claimed, seen.len() as u64);
            if rt.is_virtual() {
                // Virtual time: every replica came to every fire time of the 400 ms.
                // The anchor is a phase: the grid runs at start + 10, 30, ..., 390 ms.
                let expected: Vec<_> = (-2..18)
                    .map(|i| anchor.timestamp() + SignedDuration::from_millis(20 * i))
                    .collect();
                assert!(expected[0] > start);
                assert_once(&log, Some(&expected));
                assert_eq!(total.lost, 2 * total.claimed);
            } else {
                assert!(!seen.is_empty());
            }
        }
    });
}

#[test]
fn schedule_catch_up_runs_each_passed_fire_time_once() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let name = unique("schedule-catch-up");
            let log = Log::default();
            // Ten fire times, all in the past: a misfire for every replica.
            let first = rt.wall_now() - SignedDuration::from_secs(60);
            let window = || Window {
                first,
                period: SignedDuration::from_secs(1),
                count: 10,
            };
            let expected = window().fire_times();
            let replicas: Vec<_> = (0..3)
                .map(|id| {
                    replica(&redis(rt.clone(), &url), &name, window(), id, &log, |b| {
                        b.misfire(Misfire::RunAll)
                    })
                })
                .collect();
            while !replicas.iter().all(RedisSchedule::is_finished) {
                rt.sleep(Duration::from_millis(5)).await;
            }
            assert_once(&log, Some(&expected));
            let mut claimed = 0;
            for r in replicas {
                let s = r.stats();
                assert_invariants(&s);
                // RunAll: every replica came to all ten, and ran only what it claimed.
                assert_eq!((s.claimed + s.lost, s.skipped), (10, 0), "{s:?}");
                claimed += s.claimed;
            }
            assert_eq!(claimed, 10);

            // RunOnce: the latest passed fire time, once across the replicas; the nine
            // before it skipped by each.
            let name = unique("schedule-run-once");
            let log = Log::default();
            let replicas: Vec<_> = (0..3)
                .map(|id| {
                    replica(&redis(rt.clone(), &url), &name, window(), id, &log, |b| {
                        b.misfire(Misfire::RunOnce)
                    })
                })
                .collect();
            while !replicas.iter().all(RedisSchedule::is_finished) {
                rt.sleep(Duration::from_millis(5)).await;
            }
            assert_once(&log, Some(&expected[9..]));
            for r in replicas {
                assert_eq!(r.stats().skipped, 9);
            }
        }
    });
}

#[test]
fn schedule_cron_fire_times_once_on_virtual_time() {
    let server = Server::start();
    let url = server.url().to_owned();
    virtual_time(|rt| async move {
        let name = unique("schedule-cron");
        let log = Log::default();
        let every_second = || CronSchedule::parse("* * * * * *", TimeZone::UTC).unwrap();
        let replicas: Vec<_> = (0..3)
            .map(|id| {
                replica(
                    &redis(rt.clone(), &url),
                    &name,
                    every_second(),
                    id,
                    &log,
                    |b| b,
                )
            })
            .collect();
        let start = rt.wall_now();
        rt.sleep(Duration::from_millis(10_500)).await;
        let mut stats = Vec::new();
        for r in replicas {
            stats.push(r.cancel().await);
        }
        // Virtual time starts on a whole second: fire times at +1 s .. +10 s.
        let expected: Vec<_> = (1..=10)
            .map(|s| start + SignedDuration::from_secs(s))
            .collect();
        assert_once(&log, Some(&expected));
        assert_eq!(stats.iter().map(|s| s.claimed).sum::<u64>(), 10);
        assert_eq!(stats.iter().map(|s| s.lost).sum::<u64>(), 20);
    });
}

#[test]
fn schedule_failed_and_panicking_runs_are_counted_and_reported() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let reported = Arc::new(Mutex::new(Vec::<String>::new()));
            let reporter = ErrorReporter::new({
                let reported = reported.clone();
                move |u: wrangle_rt::Unhandled| {
                    reported.lock().unwrap().push(u.error().to_string());
                }
            });
            let window = Window {
                first: rt.wall_now() + SignedDuration::from_millis(10),
                period: SignedDuration::from_millis(10),
                count: 4,
            };
            let mut n = 0;
            let schedule = RedisSchedule::builder(redis(rt.clone(), &url), unique("fail"), window)
                .overlap(Overlap::Queue)
                .misfire(Misfire::RunAll)
                .error_reporter(reporter)
                .spawn(move |_at: Timestamp| {
                    n += 1;
                    // Panics while building, then while running, then fails, then succeeds.
                    assert_ne!(n, 1, "panic while building (expected by the test)");
                    async move {
                        assert_ne!(n, 2, "panic while running (expected by the test)");
                        if n == 3 {
                            Err("third run fails")
                        } else {
                            Ok(())
                        }
                    }
                })
                .unwrap();
            while !schedule.is_finished() {
                rt.sleep(Duration::from_millis(5)).await;
            }
            let s = schedule.stats();
            assert_invariants(&s);
            assert_eq!((s.claimed, s.started, s.failed, s.completed), (4, 4, 3, 1));
            let reported = reported.lock().unwrap();
            assert_eq!(reported.len(), 3, "{reported:?}");
            assert!(reported[0].contains("building"), "{reported:?}");
            assert!(reported[1].contains("running"), "{reported:?}");
            assert!(reported[2].contains("third run fails"), "{reported:?}");
        }
    });
}

#[test]
fn schedule_bad_input_is_a_typed_error() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            let redis = redis(rt.clone(), &url);
            let once = || WallSchedule::once(rt.wall_now().to_zoned(TimeZone::UTC));
            let kind = |b: wrangle_redis::RedisScheduleBuilder<WallSchedule, DefaultRuntime>| {
                b.spawn(|_at: Timestamp| async {}).unwrap_err().kind()
            };
            let build = |name: &[u8]| RedisSchedule::builder(redis.clone(), name, once());
            assert_eq!(kind(build(b"")), RedisErrorKind::InvalidKey);
            assert_eq!(
                kind(build(&vec![b'x'; MAX_KEY_LEN])),
                RedisErrorKind::InvalidKey
            );
            assert_eq!(kind(build(b"n").replica_id("")), RedisErrorKind::InvalidKey);
            for d in [
                Duration::ZERO,
                MAX_DURATION + Duration::from_millis(1),
                Duration::MAX,
            ] {
                assert_eq!(
                    kind(build(b"n").claim_ttl(d)),
                    RedisErrorKind::InvalidDuration
                );
                assert_eq!(
                    kind(build(b"n").max_sleep(d)),
                    RedisErrorKind::InvalidDuration
                );
            }
            // Binary names and a name just short enough are fine.
            let long = vec![0xff; MAX_KEY_LEN - 21];
            for name in [&b"\0\xff\n"[..], &long] {
                let s = build(name).spawn(|_at: Timestamp| async {}).unwrap();
                while !s.is_finished() {
                    rt.sleep(Duration::from_millis(5)).await;
                }
            }
        }
    });
}

#[test]
fn schedule_cancel_polled_then_dropped_still_cancels() {
    let server = Server::start();
    each_runtime(|rt| {
        let url = server.url().to_owned();
        async move {
            for k in 0..3 {
                let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
                let grid = WallSchedule::every(anchor, SignedDuration::from_millis(5)).unwrap();
                let log = Log::default();
                let s = replica(
                    &redis(rt.clone(), &url),
                    &unique("cancel"),
                    grid,
                    0,
                    &log,
                    |b| b,
                );
                rt.sleep(Duration::from_millis(20)).await;
                let mut cancel = Box::pin(s.cancel());
                for _ in 0..k {
                    if futures_lite::future::poll_once(&mut cancel).await.is_some() {
                        break;
                    }
                }
                drop(cancel);
                // Cancelled at `cancel()`, polled or not: no claim is made after it (a run
                // whose claim was in flight may still append once).
                let runs = log.lock().unwrap().len();
                rt.sleep(Duration::from_millis(50)).await;
                assert!(log.lock().unwrap().len() <= runs + 1);
            }
        }
    });
}

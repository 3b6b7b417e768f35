//! The invariant each `*Stats` documents, sampled while work starts and ends on every runtime,
//! and checked on the final stats; exact values on virtual time.

mod common;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{MS, eventually};
use futures_lite::StreamExt;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, ErrorReporter, Runtime, VirtualRuntime};
use wrangle_timer::{
    Interval, IntervalStats, MissedTick, Overlap, PeriodicStats, PeriodicTask, ScheduledStats,
    ScheduledTask, Scheduler, SchedulerStats, Timer, TimerStats, TimerTick, WallSchedule,
};

const OVERLAPS: [Overlap; 4] = [
    Overlap::Skip,
    Overlap::Queue,
    Overlap::Replace,
    Overlap::Allow,
];

fn quiet() -> ErrorReporter {
    ErrorReporter::new(|_| {})
}

/// The `k`-th call's body: sleeps `k % 3` ms, then succeeds, fails or panics by `k % 4`.
fn mixed_call(rt: &DefaultRuntime, k: u64) -> impl Future<Output = Result<(), String>> + use<> {
    let rt = rt.clone();
    async move {
        rt.sleep(MS * (k % 3) as u32).await;
        match k % 4 {
            1 => Err(format!("call {k} failed")),
            2 => panic!("call {k} panicked"),
            _ => Ok(()),
        }
    }
}

fn check_periodic(s: PeriodicStats) {
    assert_eq!(
        s.started,
        s.completed + s.failed + s.cancelled + s.running as u64,
        "{s:?}"
    );
    assert!(s.running <= 1, "calls never overlap: {s:?}");
}

fn check_timer(s: TimerStats, overlap: Overlap) {
    assert_eq!(
        s.started,
        s.completed + s.failed + s.cancelled + s.running as u64,
        "{s:?}"
    );
    if overlap != Overlap::Allow {
        assert!(s.running <= 1, "{overlap:?}: {s:?}");
    }
}

fn check_scheduled(s: ScheduledStats, limit: usize) {
    assert_eq!(
        s.started,
        s.completed + s.failed + s.cancelled + s.running as u64,
        "{s:?}"
    );
    assert!(s.running <= limit, "{s:?}");
}

/// `len`: the scheduler's length, read while no producer runs (so it is the same instant's).
fn check_scheduler(s: SchedulerStats, len: Option<usize>) {
    assert_eq!(
        s.submitted,
        s.completed + s.cancelled + s.queued as u64,
        "{s:?}"
    );
    if let Some(len) = len {
        assert_eq!(s.queued, len, "{s:?}");
    }
}

#[test]
fn periodic_stats_hold_while_calls_start_end_and_fail() {
    each_runtime(|rt| async move {
        let next = Arc::new(AtomicU64::new(0));
        let task = {
            let (rt2, next) = (rt.clone(), next.clone());
            PeriodicTask::builder(10 * MS)
                .error_reporter(quiet())
                .runtime(rt.clone())
                .spawn(move || mixed_call(&rt2, next.fetch_add(1, Ordering::SeqCst)))
                .unwrap()
        };
        for _ in 0..95 {
            check_periodic(task.stats());
            rt.sleep(MS).await;
        }
        if !rt.is_virtual() {
            eventually(&rt, "a few calls", || task.stats().started >= 3).await;
        }
        let last = task.cancel().await;
        check_periodic(last);
        assert_eq!(last.running, 0);
        if rt.is_virtual() {
            // Calls at 0, 10, ..., 90 ms, each over within 2 ms: k % 4 == 1 or 2 failed.
            let expected = (last.started, last.completed, last.failed, last.cancelled);
            assert_eq!(expected, (10, 5, 5, 0));
        }
    });
}

#[test]
fn timer_stats_hold_under_every_overlap_policy() {
    each_runtime(|rt| async move {
        for overlap in OVERLAPS {
            let next = Arc::new(AtomicU64::new(0));
            let timer = {
                let (rt2, next) = (rt.clone(), next.clone());
                Timer::builder(2 * MS, overlap)
                    .error_reporter(quiet())
                    .runtime(rt.clone())
                    .spawn(move |_: TimerTick| {
                        // Calls of 0 to 5 ms, every 2 ms: some overlap, some do not.
                        let k = next.fetch_add(1, Ordering::SeqCst);
                        let rt = rt2.clone();
                        async move {
                            rt.sleep(MS * (k % 6) as u32).await;
                            mixed_call(&rt, k).await
                        }
                    })
                    .unwrap()
            };
            for _ in 0..60 {
                check_timer(timer.stats(), overlap);
                rt.sleep(MS).await;
            }
            if !rt.is_virtual() {
                eventually(&rt, "a few ticks", || timer.stats().started >= 3).await;
            }
            let last = timer.cancel().await;
            check_timer(last, overlap);
            assert_eq!(last.running, 0, "{overlap:?}");
            if rt.is_virtual() {
                if overlap == Overlap::Allow {
                    // A real runtime may fall behind the grid and skip points; virtual time not.
                    assert_eq!(last.skipped, 0, "{last:?}");
                }
                assert!(last.completed > 0, "{overlap:?}: {last:?}");
                if overlap == Overlap::Replace {
                    assert!(last.cancelled > 0, "{last:?}");
                } else {
                    assert!(last.failed > 0, "{overlap:?}: {last:?}");
                }
                // 30 grid points in the 60 ms (0, 2, ..., 58): each started or skipped once,
                // but under Queue the late ticks push the grid (skipped counts passed points).
                if overlap != Overlap::Queue {
                    assert_eq!(last.started + last.skipped, 30, "{overlap:?}: {last:?}");
                }
            }
        }
    });
}

#[test]
fn scheduled_stats_hold_with_bounded_concurrency_and_skips() {
    each_runtime(|rt| async move {
        for (overlap, limit) in [(Overlap::Allow, 3), (Overlap::Skip, 1), (Overlap::Queue, 1)] {
            let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
            let every_5ms = WallSchedule::every(anchor, SignedDuration::from_millis(5)).unwrap();
            let next = Arc::new(AtomicU64::new(0));
            let task = {
                let (rt2, next) = (rt.clone(), next.clone());
                ScheduledTask::builder(every_5ms)
                    .overlap(overlap)
                    .max_concurrency(NonZeroUsize::new(limit).unwrap())
                    .error_reporter(quiet())
                    .runtime(rt.clone())
                    .spawn(move |_at: Timestamp| {
                        // Runs of 0 to 14 ms every 5 ms.
                        let k = next.fetch_add(1, Ordering::SeqCst);
                        let rt = rt2.clone();
                        async move {
                            rt.sleep(MS * (k % 5 * 3) as u32).await;
                            mixed_call(&rt, k).await
                        }
                    })
                    .unwrap()
            };
            for _ in 0..80 {
                check_scheduled(task.stats(), limit);
                rt.sleep(MS).await;
            }
            if !rt.is_virtual() {
                eventually(&rt, "a few runs", || task.stats().started >= 3).await;
            }
            let last = task.cancel().await;
            check_scheduled(last, limit);
            assert_eq!(last.running, 0);
            assert_eq!(last.schedule_panicked, 0);
            if rt.is_virtual() {
                // Instants at 5, 10, ..., 80 ms. Under Skip and Allow each is started or
                // skipped once (the one at 80 ms may be the cancelled instant, or not reached).
                if overlap != Overlap::Queue {
                    let seen = last.started + last.skipped;
                    assert!((15..=16).contains(&seen), "{overlap:?}: {last:?}");
                }
                if overlap == Overlap::Allow {
                    assert_eq!(last.skipped, 0);
                }
            }
        }
    });
}

#[test]
fn scheduler_stats_hold_with_concurrent_producers_removals_and_close() {
    each_runtime(|rt| async move {
        let mut scheduler = Scheduler::with_runtime(rt.clone());
        let removed = Arc::new(AtomicU64::new(0));
        let producers: Vec<_> = (0..3)
            .map(|p| {
                let (handle, rt2, removed) = (scheduler.handle(), rt.clone(), removed.clone());
                rt.spawn(async move {
                    for n in 0..50_i64 {
                        let at = rt2.wall_now() + SignedDuration::from_millis(n % 7);
                        let key = handle.schedule(at, (p, n)).unwrap();
                        // Fails when the payload (due at once) was delivered already.
                        if n % 3 == 0 && handle.remove(key) {
                            removed.fetch_add(1, Ordering::SeqCst);
                        }
                        check_scheduler(handle.stats(), None);
                        if n % 10 == 0 {
                            rt2.sleep(MS).await;
                        }
                    }
                })
            })
            .collect();
        let mut delivered = 0_u64;
        while delivered < 40 {
            let got = scheduler.next().await;
            assert!(got.is_some());
            delivered += 1;
            check_scheduler(scheduler.stats(), None);
        }
        for p in producers {
            p.await.unwrap();
        }
        let before = scheduler.stats();
        check_scheduler(before, Some(scheduler.len()));
        assert_eq!(before.submitted, 150);
        assert_eq!(
            before.cancelled,
            removed.load(Ordering::SeqCst),
            "{before:?}"
        );
        assert!(scheduler.close());
        let after = scheduler.stats();
        check_scheduler(after, Some(0));
        assert_eq!(after.cancelled, before.cancelled + before.queued as u64);
        assert_eq!(after.completed, before.completed);
    });
}

/// Takes a tick, then stalls `stall` periods, `rounds` times; returns the stats and the number
/// of grid points up to the last tick's due instant.
async fn stalled_interval(
    rt: &VirtualRuntime,
    policy: MissedTick,
    stalls: &[u32],
) -> (IntervalStats, u64) {
    let period = Duration::from_millis(10);
    let start = rt.now();
    let mut iv = Interval::with_runtime(rt.clone(), period, policy).unwrap();
    let mut last = start;
    for stall in stalls {
        last = iv.tick().await;
        rt.sleep(period * *stall / 2).await;
    }
    let points = ((last - start).as_nanos() / period.as_nanos()) as u64 + 1;
    (iv.stats(), points)
}

#[test]
fn interval_stats_count_every_grid_point_once_under_burst_and_skip() {
    virtual_time(|rt: VirtualRuntime| async move {
        let stalls = [0, 1, 5, 0, 9, 2, 0, 13, 3, 1, 0, 7];
        for policy in [MissedTick::Burst, MissedTick::Skip, MissedTick::Delay] {
            let (stats, points) = stalled_interval(&rt, policy, &stalls).await;
            assert!(stats.late <= stats.started, "{policy:?}: {stats:?}");
            assert_eq!(stats.started, stalls.len() as u64);
            match policy {
                MissedTick::Delay => assert_eq!(stats.skipped, 0),
                _ => assert_eq!(
                    stats.started + stats.skipped,
                    points,
                    "{policy:?}: {stats:?}"
                ),
            }
            if policy == MissedTick::Burst {
                assert_eq!(stats.skipped, 0);
            }
        }
    });
}

//! Timer behaviour: grid from t = 0, the four overlap policies, failures, abort, cancel and
//! drop.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Collected, DropCounter, MS, eventually};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, Runtime, VirtualRuntime};
use wrangle_timer::{ConfigError, Overlap, Timer, TimerStats, TimerTick};

/// A timer whose ticks each sleep `work`, observed for `window`, then stopped.
async fn run(
    rt: &DefaultRuntime,
    period: Duration,
    policy: Overlap,
    work: Duration,
    window: Duration,
) -> (TimerStats, TimerStats) {
    let sleeper = rt.clone();
    let timer = Timer::with_runtime(rt.clone(), period, policy, move |_: TimerTick| {
        let rt = sleeper.clone();
        async move { rt.sleep(work).await }
    })
    .unwrap();
    rt.sleep(window).await;
    if !rt.is_virtual() {
        // A loaded machine may not have started the first tick within the window.
        eventually(rt, "the first tick", || timer.stats().started >= 1).await;
    }
    let before = timer.stats();
    (before, timer.cancel().await)
}

#[test]
fn ticks_start_at_zero_under_every_policy() {
    each_runtime(|rt| async move {
        for policy in [
            Overlap::Allow,
            Overlap::Replace,
            Overlap::Skip,
            Overlap::Queue,
        ] {
            let (stats, last) = run(&rt, 100 * MS, policy, Duration::ZERO, 220 * MS).await;
            assert_eq!(last.running, 0);
            if rt.is_virtual() {
                assert_eq!(stats.started, 3, "{policy:?}");
                assert_eq!(stats.completed, 3, "{policy:?}");
            } else {
                assert!(stats.started >= 1, "{policy:?}: {stats:?}");
            }
        }
    });
}

#[test]
fn ticks_fall_on_the_grid_without_drift() {
    each_runtime(|rt| async move {
        let seen = Arc::new(Mutex::new(Vec::<(u64, Instant, Instant)>::new()));
        let start = rt.now();
        let timer = {
            let (rt2, seen) = (rt.clone(), seen.clone());
            Timer::with_runtime(rt.clone(), 7 * MS, Overlap::Allow, move |t: TimerTick| {
                seen.lock().unwrap().push((t.index, t.due, rt2.now()));
                async {}
            })
            .unwrap()
        };
        rt.sleep(100 * MS).await;
        if !rt.is_virtual() {
            eventually(&rt, "three ticks", || seen.lock().unwrap().len() >= 3).await;
        }
        timer.cancel().await;
        let seen = seen.lock().unwrap().clone();
        assert!(!seen.is_empty());
        let origin = seen[0].1;
        assert!(origin >= start);
        for (index, due, at) in &seen {
            assert_eq!(*due, origin + 7 * MS * u32::try_from(*index).unwrap());
            assert!(at >= due, "never early");
            if rt.is_virtual() {
                assert_eq!(at, due);
            }
        }
        if rt.is_virtual() {
            assert_eq!(seen.len(), 15);
        }
    });
}

#[test]
fn a_failing_tick_does_not_stop_the_timer() {
    each_runtime(|rt| async move {
        let errors = Collected::default();
        let sleeper = rt.clone();
        let timer = Timer::builder(10 * MS, Overlap::Allow)
            .error_reporter(errors.reporter())
            .name("ticker")
            .runtime(rt.clone())
            .spawn(move |t: TimerTick| {
                let rt = sleeper.clone();
                async move {
                    rt.sleep(MS).await;
                    if t.index.is_multiple_of(2) {
                        Err::<(), _>(format!("tick {} failed", t.index))
                    } else {
                        panic!("tick {} panicked", t.index)
                    }
                }
            })
            .unwrap();
        if rt.is_virtual() {
            rt.sleep(50 * MS).await;
        } else {
            while timer.stats().failed < 2 {
                rt.sleep(5 * MS).await;
            }
        }
        let stats = timer.stats();
        assert!(stats.started > 1, "{stats:?}");
        assert!(stats.failed >= 1, "{stats:?}");
        timer.cancel().await;
        let messages = errors.messages();
        assert_eq!(messages[0], "unhandled error in ticker: tick 0 failed");
        if rt.is_virtual() {
            assert_eq!(stats.started, 5);
            assert_eq!(stats.failed, 5);
            assert_eq!(
                messages[1],
                "unhandled error in ticker: task panicked: tick 1 panicked"
            );
        }
    });
}

#[test]
fn allow_lets_ticks_overlap_and_cancel_cancels_the_rest() {
    each_runtime(|rt| async move {
        let sleeper = rt.clone();
        let timer =
            Timer::with_runtime(rt.clone(), 10 * MS, Overlap::Allow, move |_: TimerTick| {
                let rt = sleeper.clone();
                async move { rt.sleep(50 * MS).await }
            })
            .unwrap();
        rt.sleep(99 * MS).await;
        let before = timer.stats();
        let counters = timer.cancel().await;
        if rt.is_virtual() {
            assert_eq!(
                (before.started, before.completed, before.running),
                (10, 5, 5)
            );
            assert_eq!(
                (counters.started, counters.completed, counters.cancelled),
                (10, 5, 5)
            );
        }
        assert_eq!(counters.running, 0);
        assert_eq!(
            counters.started,
            counters.completed + counters.cancelled + counters.failed
        );
    });
}

#[test]
fn replace_cancels_the_unfinished_previous_tick() {
    each_runtime(|rt| async move {
        let sleeper = rt.clone();
        let timer = Timer::with_runtime(
            rt.clone(),
            10 * MS,
            Overlap::Replace,
            move |_: TimerTick| {
                let rt = sleeper.clone();
                // Never ends by itself, however late a starved timer is.
                async move { rt.sleep(Duration::from_secs(3600)).await }
            },
        )
        .unwrap();
        rt.sleep(100 * MS).await;
        let before = timer.stats();
        assert!(before.running <= 1, "{before:?}");
        let after = timer.cancel().await;
        assert_eq!(after.completed, 0);
        assert_eq!(after.cancelled, after.started);
        if rt.is_virtual() {
            assert_eq!(after.cancelled, 10);
        }
    });
}

#[test]
fn replace_with_instant_ticks_cancels_nothing() {
    each_runtime(|rt| async move {
        let timer = Timer::with_runtime(
            rt.clone(),
            10 * MS,
            Overlap::Replace,
            |_: TimerTick| async {},
        )
        .unwrap();
        rt.sleep(96 * MS).await;
        let after = timer.cancel().await;
        assert_eq!(after.completed + after.cancelled, after.started);
        // On a real runtime a loaded machine may leave a spawned tick unpolled until the next
        // one is due, which cancels it: only the accounting above is guaranteed there.
        if rt.is_virtual() {
            assert_eq!((after.completed, after.cancelled), (10, 0));
        }
    });
}

#[test]
fn dropping_the_timer_cancels_every_running_tick() {
    each_runtime(|rt| async move {
        let drops = DropCounter::default();
        // Ticks made, counted where they are made: a tick can start between a read of the
        // stats and the drop on a loaded multi-threaded runtime.
        let made = Arc::new(AtomicUsize::new(0));
        let timer = {
            let (sleeper, drops, made) = (rt.clone(), drops.clone(), made.clone());
            Timer::with_runtime(rt.clone(), 2 * MS, Overlap::Allow, move |_: TimerTick| {
                made.fetch_add(1, Ordering::SeqCst);
                let (rt, guard) = (sleeper.clone(), drops.guard());
                async move {
                    let _guard = guard;
                    rt.sleep(Duration::from_secs(3600)).await;
                }
            })
            .unwrap()
        };
        rt.sleep(9 * MS).await;
        eventually(&rt, "the first tick", || timer.stats().started >= 1).await;
        drop(timer);
        eventually(&rt, "every tick's drop", || {
            drops.dropped() == made.load(Ordering::SeqCst)
        })
        .await;
        let made = made.load(Ordering::SeqCst);
        assert!(made >= 1);
        assert_eq!(drops.dropped(), made, "every tick dropped exactly once");
    });
}

#[test]
fn zero_period_is_a_typed_error() {
    each_runtime(|rt| async move {
        let err = Timer::with_runtime(
            rt.clone(),
            Duration::ZERO,
            Overlap::Replace,
            |_: TimerTick| async {},
        )
        .unwrap_err();
        assert_eq!(err, ConfigError::ZeroPeriod);
    });
}

/// A timer whose ticks take `work`, recording when each started and the most ever running at
/// once, observed for `window`, then cancelled.
async fn observe(
    rt: &DefaultRuntime,
    overlap: Overlap,
    work: Duration,
    window: Duration,
) -> (TimerStats, Vec<(u64, Duration)>, usize) {
    let origin = rt.now();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let timer = {
        let (rt2, starts, now, most) = (rt.clone(), starts.clone(), now.clone(), most.clone());
        Timer::with_runtime(rt.clone(), 10 * MS, overlap, move |t: TimerTick| {
            starts.lock().unwrap().push((t.index, rt2.now() - origin));
            let (rt, now, most) = (rt2.clone(), now.clone(), most.clone());
            async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(running, Ordering::SeqCst);
                rt.sleep(work).await;
                now.fetch_sub(1, Ordering::SeqCst);
            }
        })
        .unwrap()
    };
    rt.sleep(window).await;
    if !rt.is_virtual() {
        eventually(rt, "two ticks", || timer.stats().started >= 2).await;
    }
    let last = timer.cancel().await;
    let starts = starts.lock().unwrap().clone();
    (last, starts, most.load(Ordering::SeqCst))
}

#[test]
fn skip_drops_the_ticks_due_while_one_runs() {
    each_runtime(|rt| async move {
        let (last, starts, most) = observe(&rt, Overlap::Skip, 15 * MS, 48 * MS).await;
        assert_eq!(most, 1, "ticks never overlap");
        assert_eq!(last.started, starts.len() as u64);
        if rt.is_virtual() {
            // Period 10 ms, ticks of 15 ms: the ticks due at 10 and 30 ms are skipped.
            assert_eq!(starts, [(0, Duration::ZERO), (2, 20 * MS), (4, 40 * MS)]);
            assert_eq!((last.started, last.skipped, last.completed), (3, 2, 2));
            assert_eq!((last.cancelled, last.running), (1, 0));
        }
    });
}

#[test]
fn queue_starts_each_tick_late_once_the_previous_ends() {
    each_runtime(|rt| async move {
        let (last, starts, most) = observe(&rt, Overlap::Queue, 15 * MS, 48 * MS).await;
        assert_eq!(most, 1, "ticks never overlap");
        for pair in starts.windows(2) {
            assert!(pair[1].0 > pair[0].0, "in grid order: {starts:?}");
        }
        if rt.is_virtual() {
            // Each tick waits for the previous one: back to back from 0 ms.
            let expected = [
                (0, Duration::ZERO),
                (1, 15 * MS),
                (2, 30 * MS),
                (3, 45 * MS),
            ];
            assert_eq!(starts, expected);
            assert_eq!((last.started, last.completed, last.skipped), (4, 3, 0));
            assert_eq!((last.cancelled, last.running), (1, 0));
        }
    });
}

#[test]
fn queue_skips_the_grid_points_that_passed_while_it_waited() {
    virtual_time(|rt: VirtualRuntime| async move {
        let rt = DefaultRuntime::from(rt);
        // Ticks of 25 ms every 10 ms: the driver falls behind by more than a period.
        let (last, starts, _) = observe(&rt, Overlap::Queue, 25 * MS, 120 * MS).await;
        // Tick 3 (due 30 ms) is taken at 50 ms, when 40 and 50 ms have passed: they are
        // skipped, and so are 70 ms (taken at 75) and 90 and 100 ms (taken at 100).
        assert_eq!(
            starts,
            [
                (0, Duration::ZERO),
                (1, 25 * MS),
                (2, 50 * MS),
                (3, 75 * MS),
                (6, 100 * MS)
            ]
        );
        assert_eq!((last.started, last.skipped), (5, 5));
    });
}

#[test]
fn abort_cancels_every_tick_without_waiting_and_none_starts_after() {
    each_runtime(|rt| async move {
        let drops = DropCounter::default();
        let made = Arc::new(AtomicUsize::new(0));
        let timer = {
            let (sleeper, drops, made) = (rt.clone(), drops.clone(), made.clone());
            Timer::with_runtime(rt.clone(), 2 * MS, Overlap::Allow, move |_: TimerTick| {
                made.fetch_add(1, Ordering::SeqCst);
                let (rt, guard) = (sleeper.clone(), drops.guard());
                async move {
                    let _guard = guard;
                    rt.sleep(Duration::from_secs(3600)).await;
                }
            })
            .unwrap()
        };
        eventually(&rt, "the first tick", || timer.stats().started >= 1).await;
        timer.abort();
        eventually(&rt, "the timer to end", || timer.is_finished()).await;
        let made = made.load(Ordering::SeqCst);
        assert_eq!(drops.dropped(), made, "every tick dropped");
        let stats = timer.stats();
        assert_eq!((stats.cancelled, stats.running), (made as u64, 0));
        rt.sleep(10 * MS).await;
        assert_eq!(timer.stats().started, made as u64, "no tick after abort");
        // Aborting again, then cancelling, is fine.
        timer.abort();
        assert_eq!(timer.cancel().await, stats);
    });
}

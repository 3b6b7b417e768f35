//! Timer behaviour: grid from t = 0, delay policies, failures, stop and drop.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Collected, DropCounter, MS, eventually};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime};
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
fn ticks_start_at_zero_on_both_policies() {
    each_runtime(|rt| async move {
        for policy in [Overlap::Allow, Overlap::Replace] {
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
            .spawn_with_runtime(rt.clone(), move |t: TimerTick| {
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
fn accumulate_lets_ticks_overlap_and_stop_cancels_the_rest() {
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
fn cancel_policy_cancels_the_unfinished_previous_tick() {
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
fn cancel_policy_with_instant_ticks_cancels_nothing() {
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

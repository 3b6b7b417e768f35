//! PeriodicTask behaviour: seed cases, no overlap, error policies, cancel on drop.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Collected, DropCounter, MS, eventually};
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;
use wrangle_timer::{ConfigError, FailurePolicy, PeriodicTask};

#[test]
fn interval_50ms_call_40ms_over_100ms_completes_two_calls() {
    each_runtime(|rt| async move {
        let total = Arc::new(Mutex::new(Duration::ZERO));
        let task = {
            let (rt2, total) = (rt.clone(), total.clone());
            PeriodicTask::with_runtime(rt.clone(), 50 * MS, move || {
                let (rt, total) = (rt2.clone(), total.clone());
                async move {
                    rt.sleep(40 * MS).await;
                    *total.lock().unwrap() += 40 * MS;
                }
            })
            .unwrap()
        };
        rt.sleep(100 * MS).await;
        let stats = task.stats();
        let last = task.cancel().await;
        if rt.is_virtual() {
            assert_eq!(*total.lock().unwrap(), 80 * MS);
            // The third call, due at exactly 100 ms, may or may not have started.
            assert_eq!(stats.completed, 2);
        } else {
            // A starved test may stop the task late: count calls, not time.
            let completed = u32::try_from(last.completed).unwrap();
            assert_eq!(*total.lock().unwrap(), 40 * MS * completed);
        }
    });
}

#[test]
fn calls_never_overlap_and_start_one_period_apart_or_later() {
    each_runtime(|rt| async move {
        let busy = Arc::new(AtomicBool::new(false));
        let starts = Arc::new(Mutex::new(Vec::<Instant>::new()));
        let task = {
            let (rt2, busy, starts) = (rt.clone(), busy.clone(), starts.clone());
            let mut n = 0u32;
            PeriodicTask::with_runtime(rt.clone(), 10 * MS, move || {
                n += 1;
                // Odd calls take longer than a period, even ones shorter.
                let work = if n % 2 == 1 { 25 * MS } else { 3 * MS };
                let (rt, busy, starts) = (rt2.clone(), busy.clone(), starts.clone());
                async move {
                    starts.lock().unwrap().push(rt.now());
                    assert!(!busy.swap(true, Ordering::SeqCst), "calls overlapped");
                    rt.sleep(work).await;
                    busy.store(false, Ordering::SeqCst);
                }
            })
            .unwrap()
        };
        rt.sleep(100 * MS).await;
        if !rt.is_virtual() {
            eventually(&rt, "three calls", || starts.lock().unwrap().len() >= 3).await;
        }
        task.cancel().await;
        let starts = starts.lock().unwrap().clone();
        assert!(starts.len() >= 2);
        for (i, w) in starts.windows(2).enumerate() {
            assert!(w[1] > w[0]);
            // The spacing is exact on virtual time: max(period, duration of the call).
            if rt.is_virtual() {
                let expected = if i % 2 == 0 { 25 * MS } else { 10 * MS };
                assert_eq!(w[1] - w[0], expected);
            }
        }
    });
}

#[test]
fn failing_calls_are_reported_and_the_task_continues_by_default() {
    each_runtime(|rt| async move {
        let errors = Collected::default();
        let calls = Arc::new(AtomicU32::new(0));
        let task = {
            let calls = calls.clone();
            PeriodicTask::builder(5 * MS)
                .error_reporter(errors.reporter())
                .name("flaky")
                .runtime(rt.clone())
                .spawn(move || {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        match n % 3 {
                            0 => Err(format!("call {n} failed")),
                            1 => panic!("call {n} panicked"),
                            _ => Ok(()),
                        }
                    }
                })
                .unwrap()
        };
        while calls.load(Ordering::SeqCst) < 6 {
            rt.sleep(5 * MS).await;
        }
        assert!(!task.is_finished());
        task.cancel().await;
        let messages = errors.messages();
        assert!(messages.len() >= 4, "{messages:?}");
        assert_eq!(messages[0], "unhandled error in flaky: call 0 failed");
        assert!(messages[1].contains("call 1 panicked"), "{messages:?}");
    });
}

#[test]
fn stop_policy_ends_the_task_after_the_first_failure() {
    each_runtime(|rt| async move {
        let errors = Collected::default();
        let calls = Arc::new(AtomicU32::new(0));
        let task = {
            let calls = calls.clone();
            PeriodicTask::builder(2 * MS)
                .failure_policy(FailurePolicy::Stop)
                .error_reporter(errors.reporter())
                .runtime(rt.clone())
                .spawn(move || {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n == 2 {
                            Err("third call failed")
                        } else {
                            Ok(())
                        }
                    }
                })
                .unwrap()
        };
        while !task.is_finished() {
            rt.sleep(2 * MS).await;
        }
        rt.sleep(10 * MS).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let stats = task.stats();
        assert_eq!((stats.started, stats.completed, stats.failed), (3, 2, 1));
        assert_eq!(errors.messages().len(), 1);
    });
}

#[test]
fn dropping_the_task_cancels_the_call_in_progress() {
    each_runtime(|rt| async move {
        let drops = DropCounter::default();
        let started = Arc::new(AtomicU32::new(0));
        let task = {
            let (rt2, drops, started) = (rt.clone(), drops.clone(), started.clone());
            PeriodicTask::with_runtime(rt.clone(), MS, move || {
                let (rt, guard, started) = (rt2.clone(), drops.guard(), started.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let _guard = guard;
                    rt.sleep(Duration::from_secs(3600)).await;
                }
            })
            .unwrap()
        };
        eventually(&rt, "the first call", || {
            started.load(Ordering::SeqCst) == 1
        })
        .await;
        drop(task);
        // Cancellation on a multi-thread runtime completes asynchronously.
        eventually(&rt, "the call's drop", || drops.dropped() == 1).await;
        rt.sleep(5 * MS).await;
        assert_eq!(started.load(Ordering::SeqCst), 1, "no call after drop");
        assert_eq!(drops.dropped(), 1, "dropped exactly once");
    });
}

#[test]
fn cancel_waits_until_the_call_in_progress_is_dropped() {
    each_runtime(|rt| async move {
        let drops = DropCounter::default();
        let started = Arc::new(AtomicU32::new(0));
        let task = {
            let (rt2, drops, started) = (rt.clone(), drops.clone(), started.clone());
            PeriodicTask::with_runtime(rt.clone(), MS, move || {
                let (rt, guard, started) = (rt2.clone(), drops.guard(), started.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let _guard = guard;
                    rt.sleep(Duration::from_secs(3600)).await;
                }
            })
            .unwrap()
        };
        rt.sleep(3 * MS).await;
        eventually(&rt, "the first call", || {
            started.load(Ordering::SeqCst) == 1
        })
        .await;
        task.cancel().await;
        assert_eq!(drops.dropped(), 1);
    });
}

#[test]
fn zero_period_is_a_typed_error() {
    each_runtime(|rt| async move {
        let err = PeriodicTask::with_runtime(rt.clone(), Duration::ZERO, || async {}).unwrap_err();
        assert_eq!(err, ConfigError::ZeroPeriod);
        let err = PeriodicTask::with_runtime(rt.clone(), Duration::MAX, || async {}).unwrap_err();
        assert_eq!(err, ConfigError::OutOfRange);
    });
}

#[test]
fn ten_thousand_periods_have_exact_count_and_last_start() {
    wrangle_rt::testing::virtual_time(|rt: wrangle_rt::VirtualRuntime| async move {
        let start = rt.now();
        let starts = Arc::new(Mutex::new(Vec::<Instant>::with_capacity(10_001)));
        let task = {
            let (rt2, starts) = (rt.clone(), starts.clone());
            PeriodicTask::with_runtime(rt.clone(), Duration::from_millis(250), move || {
                starts.lock().unwrap().push(rt2.now());
                async {}
            })
            .unwrap()
        };
        // Calls at 0, 250 ms, ..., 10,000 × 250 ms; stop just after the last one.
        rt.sleep(Duration::from_millis(250) * 10_000 + MS).await;
        let stats = task.cancel().await;
        let starts = starts.lock().unwrap();
        assert_eq!(starts.len(), 10_001);
        assert_eq!((stats.started, stats.completed), (10_001, 10_001));
        assert_eq!(
            *starts.last().unwrap() - start,
            Duration::from_millis(250) * 10_000
        );
        assert!(
            starts
                .windows(2)
                .all(|w| w[1] - w[0] == Duration::from_millis(250))
        );
    });
}

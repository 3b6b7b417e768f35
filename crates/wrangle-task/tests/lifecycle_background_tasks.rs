//! Behaviour of `BackgroundTask` (seed 1.1) and `RestartableTask` (seed 1.7).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{Drops, ms};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{ErrorReporter, Runtime, Unhandled};
use wrangle_task::{BackgroundTask, RestartError, RestartableTask, RunError};

#[test]
fn background_result_is_kept_until_cancel_or_next_start() {
    virtual_time(|rt| async move {
        let rt2 = rt.clone();
        let bg = BackgroundTask::with_runtime(rt.clone(), move || {
            let rt = rt2.clone();
            async move {
                rt.sleep(ms(10)).await;
                Ok::<_, std::io::Error>(10)
            }
        });
        let start = rt.now();
        bg.start();
        assert_eq!(bg.wait().await, Some(Ok(10)));
        assert_eq!(rt.now() - start, ms(10));
        assert!(!bg.is_running());
        assert_eq!(bg.wait().await, Some(Ok(10)));
        bg.abort();
        assert_eq!(bg.wait().await, None);
        assert_eq!(bg.stats().cancelled, 0);
    });
}

#[test]
fn two_background_tasks_run_concurrently() {
    virtual_time(|rt| async move {
        let make = |rt: wrangle_rt::VirtualRuntime| {
            BackgroundTask::with_runtime(rt.clone(), move || {
                let rt = rt.clone();
                async move {
                    rt.sleep(ms(10)).await;
                    Ok::<_, std::io::Error>(10)
                }
            })
        };
        let (a, b) = (make(rt.clone()), make(rt.clone()));
        let start = rt.now();
        a.start();
        b.start();
        let (ra, rb) = futures_lite::future::zip(a.wait(), b.wait()).await;
        assert_eq!((ra, rb), (Some(Ok(10)), Some(Ok(10))));
        assert_eq!(rt.now() - start, ms(10));
    });
}

#[test]
fn restart_cancels_the_previous_run() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let (rt2, d, r) = (rt.clone(), drops.clone(), runs.clone());
        let bg = BackgroundTask::with_runtime(rt.clone(), move || {
            let (rt, guard, n) = (rt2.clone(), d.guard(), r.fetch_add(1, Ordering::SeqCst));
            async move {
                let _guard = guard;
                rt.sleep(ms(5)).await;
                Ok::<_, std::io::Error>(n)
            }
        });
        bg.start();
        let first = bg.wait();
        bg.abort();
        bg.start();
        assert_eq!(first.await, Some(Err(RunError::Cancelled)));
        assert_eq!(bg.wait().await, Some(Ok(1)));
        common::eventually(&rt, || drops.count() == 2).await;
        let stats = bg.stats();
        assert_eq!((stats.started, stats.cancelled, stats.completed), (2, 1, 1));
    });
}

#[test]
fn background_errors_and_panics_go_to_the_handler() {
    each_runtime(|rt| async move {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let bg = BackgroundTask::with_runtime(rt.clone(), move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 1 {
                    panic!("bg panic");
                }
                Err::<(), _>("bg failed")
            }
        })
        .error_reporter(ErrorReporter::new(move |u: Unhandled| {
            sink.lock().unwrap().push(u.error().to_string())
        }));
        bg.start();
        assert_eq!(bg.wait().await, Some(Err(RunError::Failed)));
        bg.start();
        assert_eq!(bg.wait().await, Some(Err(RunError::Panicked)));
        assert_eq!(
            *seen.lock().unwrap(),
            ["bg failed", "task panicked: bg panic"]
        );
        assert_eq!(bg.stats().failed, 2);
    });
}

#[test]
fn dropping_the_background_task_cancels_its_run() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let d = drops.clone();
        let bg = BackgroundTask::with_runtime(rt.clone(), move || {
            let guard = d.guard();
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok::<_, std::io::Error>(())
            }
        });
        bg.start();
        rt.sleep(ms(1)).await;
        drop(bg);
        common::eventually(&rt, || drops.count() == 1).await;
    });
}

#[test]
fn restartable_never_started_is_an_error_and_cancels_are_harmless() {
    each_runtime(|rt| async move {
        let task = RestartableTask::with_runtime(rt.clone(), || async { None::<u8> });
        assert!(matches!(task.wait().await, Err(RestartError::NotStarted)));
        task.start();
        task.start();
        task.abort();
        task.abort();
        assert_eq!(task.stats().started, 1);
    });
}

#[test]
fn restartable_times_out_per_attempt() {
    virtual_time(|rt| async move {
        let task =
            RestartableTask::with_runtime(rt.clone(), || async { None::<u8> }).timeout(ms(10));
        let start = rt.now();
        task.start();
        rt.sleep(ms(4)).await;
        task.abort();
        task.start(); // the timeout restarts with the attempt
        assert!(matches!(task.wait().await, Err(RestartError::TimedOut)));
        assert_eq!(rt.now() - start, ms(14));
        assert_eq!(task.stats().timed_out, 1);
    });
}

#[test]
fn restartable_restart_then_set_result_calls_the_factory_twice() {
    each_runtime(|rt| async move {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let task = RestartableTask::with_runtime(rt.clone(), move || {
            c.fetch_add(1, Ordering::SeqCst);
            async { None::<u8> }
        })
        .timeout(ms(1000));
        task.start();
        rt.sleep(ms(1)).await;
        task.abort();
        rt.sleep(ms(1)).await;
        task.start();
        task.set_result(1).unwrap();
        assert_eq!(task.wait().await.unwrap(), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn restartable_failure_and_own_output() {
    each_runtime(|rt| async move {
        let task = RestartableTask::with_runtime(rt.clone(), || async { None::<u8> });
        task.start();
        task.set_error("error").unwrap();
        match task.wait().await {
            Err(RestartError::Failed(e)) => assert_eq!(e.to_string(), "error"),
            other => panic!("unexpected {other:?}"),
        }
        let own = RestartableTask::with_runtime(rt.clone(), || async { Some(5u8) });
        own.start();
        assert_eq!(own.wait().await.unwrap(), 5);
    });
}

#[test]
fn synchronous_cancel_then_start_does_not_disturb_waiters() {
    virtual_time(|rt| async move {
        let task = Arc::new(RestartableTask::with_runtime(rt.clone(), || async {
            None::<u8>
        }));
        task.start();
        let waiter = rt.spawn({
            let task = task.clone();
            async move { task.wait().await }
        });
        rt.sleep(ms(1)).await;
        // No await between the two: the waiter must simply see the new attempt's outcome.
        task.abort();
        task.start();
        rt.sleep(ms(1)).await;
        task.set_result(9).unwrap();
        assert_eq!(waiter.await.unwrap().unwrap(), 9);
    });
}

#[test]
fn many_restarts_on_every_runtime() {
    each_runtime(|rt| async move {
        let task =
            RestartableTask::with_runtime(rt.clone(), || async { None::<u32> }).timeout(ms(500));
        for _ in 0..100 {
            task.start();
            task.abort();
        }
        task.start();
        task.set_result(100).unwrap();
        assert_eq!(task.wait().await.unwrap(), 100);
        let stats = task.stats();
        assert_eq!(
            (stats.started, stats.cancelled, stats.completed),
            (101, 100, 1)
        );
        // Resolving twice hands the value back.
        assert_eq!(task.set_result(1).unwrap_err().0, 1);
    });
}

//! `RestartableTask` (issue 11, defect 8) and `BackgroundTask` factories: the attempt's
//! function runs once per `start` even when the attempt is resolved before its task was ever
//! polled, and a factory that panics is one failed attempt (or run): counted, resolved, and
//! the task keeps working.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{eventually, ms};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{ErrorReporter, Runtime, Unhandled};
use wrangle_task::{BackgroundTask, RestartError, RestartableTask, RunError};

#[test]
fn a_result_set_right_after_start_still_runs_the_attempt_once() {
    each_runtime(|rt| async move {
        let sent = Arc::new(AtomicUsize::new(0));
        let s = sent.clone();
        let task = RestartableTask::with_runtime(rt.clone(), move || {
            let s = s.clone();
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                None::<u32>
            }
        })
        .timeout(ms(100));
        task.start();
        task.set_result(7).unwrap();
        assert_eq!(task.wait().await.unwrap(), 7);
        eventually(&rt, || sent.load(Ordering::SeqCst) == 1).await;
        task.start();
        task.set_error("no reply").unwrap();
        assert!(matches!(task.wait().await, Err(RestartError::Failed(_))));
        eventually(&rt, || sent.load(Ordering::SeqCst) == 2).await;
        rt.sleep(ms(200)).await;
        assert_eq!(sent.load(Ordering::SeqCst), 2, "once per start");
        let stats = task.stats();
        assert_eq!(
            (
                stats.started,
                stats.completed,
                stats.failed,
                stats.timed_out
            ),
            (2, 1, 1, 0)
        );
    });
}

#[test]
fn a_panicking_factory_is_a_failed_attempt_and_the_task_goes_on() {
    each_runtime(|rt| async move {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let task = RestartableTask::with_runtime(rt.clone(), move || {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("factory boom");
            }
            async { Some(3u32) }
        });
        task.start();
        match task.wait().await {
            Err(RestartError::Panicked(p)) => assert!(p.to_string().contains("factory boom")),
            other => panic!("unexpected {other:?}"),
        }
        assert!(!task.is_running());
        let stats = task.stats();
        assert_eq!((stats.started, stats.failed), (1, 1));
        task.start();
        assert_eq!(task.wait().await.unwrap(), 3);
        let stats = task.stats();
        assert_eq!(
            stats.started,
            stats.completed + stats.failed + stats.timed_out + stats.cancelled
        );
        assert_eq!((stats.started, stats.completed), (2, 1));
    });
}

#[test]
fn a_panicking_background_factory_is_a_failed_run_and_reported() {
    each_runtime(|rt| async move {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let bg = BackgroundTask::with_runtime(rt.clone(), move || {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("factory boom");
            }
            async { Ok::<_, std::io::Error>(4u32) }
        })
        .error_reporter(ErrorReporter::new(move |u: Unhandled| {
            sink.lock().unwrap().push(u.to_string())
        }));
        bg.start();
        assert!(matches!(bg.wait().await, Some(Err(RunError::Panicked))));
        assert_eq!((bg.stats().started, bg.stats().failed), (1, 1));
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("factory boom"), "{seen:?}");
        bg.start();
        assert_eq!(bg.wait().await, Some(Ok(4)));
        assert_eq!(bg.stats().completed, 1);
    });
}

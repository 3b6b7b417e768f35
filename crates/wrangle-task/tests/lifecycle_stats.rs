//! `BackgroundTask` and `RestartableTask`: the stats invariants
//! (`started == completed + failed + cancelled (+ timed_out) + running`) at every step, and
//! `cancel()` (cancel and wait) against `abort()` (request only).

mod common;

use common::{Drops, eventually, ms};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{ErrorReporter, Runtime, Unhandled};
use wrangle_task::{
    BackgroundStats, BackgroundTask, RestartError, RestartStats, RestartableTask, RunError,
};

fn bg_holds(s: BackgroundStats) -> bool {
    s.started == s.completed + s.failed + s.cancelled + s.running as u64 && s.panicked <= s.failed
}

fn restart_holds(s: RestartStats) -> bool {
    s.started == s.completed + s.failed + s.timed_out + s.cancelled + s.running as u64
}

#[test]
fn background_stats_hold_through_every_kind_of_end() {
    each_runtime(|rt| async move {
        // Each run does what the next mode says: 0 = wait forever, 1 = Ok, 2 = Err, 3 = panic.
        let mode = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(0));
        let m = mode.clone();
        let bg = BackgroundTask::with_runtime(rt.clone(), move || {
            let mode = m.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                match mode {
                    0 => std::future::pending().await,
                    1 => Ok(1),
                    2 => Err("failed"),
                    _ => panic!("run panicked"),
                }
            }
        })
        .error_reporter(ErrorReporter::new(|_: Unhandled| {}));
        let set = |v| mode.store(v, std::sync::atomic::Ordering::SeqCst);
        let step = |expect: (u64, u64, u64, u64, u64, usize)| {
            let s = bg.stats();
            assert!(bg_holds(s), "{s:?}");
            assert_eq!(
                (
                    s.started,
                    s.completed,
                    s.failed,
                    s.panicked,
                    s.cancelled,
                    s.running
                ),
                expect
            );
        };
        step((0, 0, 0, 0, 0, 0));
        bg.start();
        step((1, 0, 0, 0, 0, 1));
        bg.start(); // cancels the first
        step((2, 0, 0, 0, 1, 1));
        bg.abort();
        step((2, 0, 0, 0, 2, 0));
        set(1);
        bg.start();
        assert_eq!(bg.wait().await, Some(Ok(1)));
        step((3, 1, 0, 0, 2, 0));
        set(2);
        bg.start();
        assert_eq!(bg.wait().await, Some(Err(RunError::Failed)));
        step((4, 1, 1, 0, 2, 0));
        set(3);
        bg.start();
        assert_eq!(bg.wait().await, Some(Err(RunError::Panicked)));
        step((5, 1, 2, 1, 2, 0));
        set(0);
        bg.start();
        assert_eq!(bg.cancel().await, Some(Err(RunError::Cancelled)));
        step((6, 1, 2, 1, 3, 0));
        // Nothing to cancel: no outcome, nothing counted.
        assert_eq!(bg.cancel().await, None);
        step((6, 1, 2, 1, 3, 0));
    });
}

#[test]
fn background_cancel_returns_after_the_run_is_gone_and_abort_does_not_wait() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let d = drops.clone();
        let bg = BackgroundTask::with_runtime(rt.clone(), move || {
            let guard = d.guard();
            async move {
                let _guard = guard;
                std::future::pending::<Result<(), std::io::Error>>().await
            }
        });
        bg.start();
        rt.sleep(ms(1)).await;
        assert_eq!(bg.cancel().await, Some(Err(RunError::Cancelled)));
        assert_eq!(
            drops.count(),
            1,
            "cancel returned before the run was dropped"
        );

        bg.start();
        rt.sleep(ms(1)).await;
        bg.abort();
        assert!(!bg.is_running());
        // The drop happens on the runtime, eventually.
        eventually(&rt, || drops.count() == 2).await;
    });
}

#[test]
fn a_finished_run_is_what_cancel_reports() {
    each_runtime(|rt| async move {
        let bg = BackgroundTask::with_runtime(rt.clone(), || async { Ok::<_, std::io::Error>(5) });
        bg.start();
        assert_eq!(bg.wait().await, Some(Ok(5)));
        assert_eq!(bg.cancel().await, Some(Ok(5)));
        let s = bg.stats();
        assert_eq!((s.started, s.completed, s.cancelled), (1, 1, 0));
    });
}

#[test]
fn restart_stats_hold_through_every_kind_of_end() {
    virtual_time(|rt| async move {
        let task =
            RestartableTask::with_runtime(rt.clone(), || async { None::<u8> }).timeout(ms(10));
        let step = |expect: (u64, u64, u64, u64, u64, usize)| {
            let s = task.stats();
            assert!(restart_holds(s), "{s:?}");
            assert_eq!(
                (
                    s.started,
                    s.completed,
                    s.failed,
                    s.timed_out,
                    s.cancelled,
                    s.running
                ),
                expect
            );
        };
        step((0, 0, 0, 0, 0, 0));
        task.start();
        step((1, 0, 0, 0, 0, 1));
        task.set_result(1).unwrap();
        step((1, 1, 0, 0, 0, 0));
        task.start();
        task.set_error("no reply").unwrap();
        step((2, 1, 1, 0, 0, 0));
        task.start();
        let start = rt.now();
        assert!(matches!(task.wait().await, Err(RestartError::TimedOut)));
        assert_eq!(rt.now() - start, ms(10));
        step((3, 1, 1, 1, 0, 0));
        task.start();
        task.abort();
        step((4, 1, 1, 1, 1, 0));
        task.start();
        assert!(task.cancel().await);
        step((5, 1, 1, 1, 2, 0));
        assert!(!task.cancel().await);
        step((5, 1, 1, 1, 2, 0));
    });
}

#[test]
fn restart_cancel_returns_after_the_attempt_is_gone() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let d = drops.clone();
        let task = RestartableTask::with_runtime(rt.clone(), move || {
            let guard = d.guard();
            async move {
                let _guard = guard;
                std::future::pending::<Option<u8>>().await
            }
        });
        task.start();
        rt.sleep(ms(1)).await;
        assert!(task.cancel().await);
        assert_eq!(
            drops.count(),
            1,
            "cancel returned before the attempt was dropped"
        );
        let s = task.stats();
        assert!(restart_holds(s), "{s:?}");
        assert_eq!((s.started, s.cancelled, s.running), (1, 1, 0));
    });
}

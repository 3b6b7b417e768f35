//! Behaviour of `CancellableTask::cancel`, `cancel_within` and `cancel_all` (seed 3.1).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Drops, Log, eventually, ms};
use wrangle_rt::Runtime;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_task::{CancelOutcome, cancel_all, shield_with_runtime, spawn_cancellable};

#[test]
fn already_finished_task_gives_its_result_and_is_not_cancelled() {
    virtual_time(|rt| async move {
        let rt2 = rt.clone();
        let task = spawn_cancellable(rt.clone(), move |token| async move {
            rt2.sleep(ms(100)).await;
            token
        });
        rt.sleep(ms(150)).await;
        match task.cancel().await {
            CancelOutcome::Finished(token) => assert!(!token.is_cancelled()),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn not_started_task_is_cancelled_without_running() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let l = log.clone();
        let task = spawn_cancellable(rt.clone(), move |_| async move { l.push("ran") });
        assert!(matches!(task.cancel().await, CancelOutcome::NotStarted));
        rt.sleep(ms(2)).await;
        assert!(log.get().is_empty());
    });
}

#[test]
fn not_started_is_reported_only_when_the_task_never_ran() {
    // On a multi-thread runtime the task may start before the request: several outcomes are
    // possible, but "not started" must mean that it never ran.
    each_runtime(|rt| async move {
        for _ in 0..20 {
            let log = Log::default();
            let l = log.clone();
            let task = spawn_cancellable(rt.clone(), move |_| async move { l.push("ran") });
            match task.cancel().await {
                CancelOutcome::NotStarted => {
                    rt.sleep(ms(1)).await;
                    assert!(log.get().is_empty());
                }
                CancelOutcome::Finished(()) | CancelOutcome::Stopped(()) => {
                    assert_eq!(log.get(), ["ran"]);
                }
                // It started on another thread while being cancelled; its output was dropped.
                CancelOutcome::Aborted => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    });
}

/// Spawns a task that waits for its token, then runs `after`; returns once it has started.
async fn started_task<T, F>(
    rt: &wrangle_rt::DefaultRuntime,
    after: impl FnOnce() -> F + Send + 'static,
) -> wrangle_task::CancellableTask<T>
where
    F: Future<Output = T> + Send,
    T: Send + 'static,
{
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    let task = spawn_cancellable(rt.clone(), move |token| async move {
        flag.store(true, Ordering::SeqCst);
        token.cancelled().await;
        after().await
    });
    eventually(rt, || started.load(Ordering::SeqCst)).await;
    task
}

#[test]
fn waits_for_the_tasks_own_async_cleanup() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let (rt2, l) = (rt.clone(), log.clone());
        let task = spawn_cancellable(rt.clone(), move |token| async move {
            l.push("start");
            token.cancelled().await;
            l.push("cancelling");
            rt2.sleep(ms(100)).await;
            l.push("cancelled");
            7
        });
        rt.sleep(ms(10)).await;
        let start = rt.now();
        assert!(matches!(task.cancel().await, CancelOutcome::Stopped(7)));
        assert_eq!(rt.now() - start, ms(100));
        assert_eq!(log.get(), ["start", "cancelling", "cancelled"]);
    });
}

#[test]
fn cleanup_error_is_returned_to_the_caller() {
    each_runtime(|rt| async move {
        let task = started_task(&rt, || async { Err::<(), _>("cleanup failed") }).await;
        match task.cancel().await {
            CancelOutcome::Stopped(Err(e)) => assert_eq!(e, "cleanup failed"),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn panic_during_cleanup_is_reported_with_its_payload() {
    each_runtime(|rt| async move {
        let task = started_task(&rt, || async { panic!("cleanup exploded") }).await;
        match task.cancel().await {
            CancelOutcome::Panicked(p) => assert_eq!(p.message(), Some("cleanup exploded")),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn grace_period_drops_a_task_that_ignores_the_request() {
    virtual_time(|rt| async move {
        let drops = Drops::default();
        let guard = drops.guard();
        let task = spawn_cancellable(rt.clone(), move |_| async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        rt.sleep(ms(1)).await;
        let start = rt.now();
        assert!(matches!(
            task.cancel_within(rt.clone(), ms(30)).await,
            CancelOutcome::Aborted
        ));
        assert_eq!(rt.now() - start, ms(30));
        assert_eq!(drops.count(), 1);
    });
}

#[test]
fn cancelling_the_canceller_cuts_the_cleanup_short() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let (rt2, l) = (rt.clone(), log.clone());
        let t1 = spawn_cancellable(rt.clone(), move |token| async move {
            token.cancelled().await;
            l.push("cancelling");
            rt2.sleep(ms(100)).await;
            l.push("cancelled");
        });
        rt.sleep(ms(1)).await;
        let t2 = rt.spawn(t1.cancel());
        rt.sleep(ms(50)).await;
        drop(t2);
        rt.sleep(ms(200)).await;
        assert_eq!(log.get(), ["cancelling"]);
    });
}

#[test]
fn shielded_canceller_lets_the_cleanup_complete() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let (rt2, l) = (rt.clone(), log.clone());
        let t1 = spawn_cancellable(rt.clone(), move |token| async move {
            token.cancelled().await;
            l.push("cancelling");
            rt2.sleep(ms(100)).await;
            l.push("cancelled");
        });
        rt.sleep(ms(1)).await;
        let rt3 = rt.clone();
        let t2 = rt.spawn(async move { shield_with_runtime(rt3.clone(), t1.cancel()).await });
        rt.sleep(ms(50)).await;
        drop(t2);
        rt.sleep(ms(200)).await;
        assert_eq!(log.get(), ["cancelling", "cancelled"]);
    });
}

#[test]
fn group_cancel_keeps_finished_results_and_stops_the_rest() {
    virtual_time(|rt| async move {
        // Work takes `d` ms; the cancel cleanup takes 100 ms.
        let tasks: Vec<_> = [30u64, 60, 200, 300]
            .into_iter()
            .map(|d| {
                let rt = rt.clone();
                spawn_cancellable(rt.clone(), move |token| async move {
                    let worked = token.run_until_cancelled(rt.sleep(ms(d))).await;
                    if worked.is_some() {
                        return format!("done {d}");
                    }
                    rt.sleep(ms(100)).await;
                    format!("stopped {d}")
                })
            })
            .collect();
        rt.sleep(ms(100)).await;
        let start = rt.now();
        let outcomes: Vec<String> = cancel_all(tasks)
            .await
            .into_iter()
            .map(|o| match o {
                CancelOutcome::Finished(s) => format!("finished: {s}"),
                CancelOutcome::Stopped(s) => format!("stopped: {s}"),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                "finished: done 30",
                "finished: done 60",
                "stopped: stopped 200",
                "stopped: stopped 300"
            ]
        );
        // The cleanups ran concurrently.
        assert_eq!(rt.now() - start, ms(100));
    });
}

#[test]
fn group_cancel_on_every_runtime() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let guard = drops.guard();
                spawn_cancellable(rt.clone(), move |token| async move {
                    let _guard = guard;
                    token.cancelled().await;
                })
            })
            .collect();
        rt.sleep(ms(1)).await;
        let outcomes = cancel_all(tasks).await;
        assert_eq!(outcomes.len(), 50);
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, CancelOutcome::Stopped(()) | CancelOutcome::NotStarted))
        );
        eventually(&rt, || drops.count() == 50).await;
    });
}

/// A task that runs until its token is cancelled, then cleans up for 5 ms.
fn worker(rt: &wrangle_rt::DefaultRuntime) -> wrangle_task::CancellableTask<&'static str> {
    let rt2 = rt.clone();
    spawn_cancellable(rt.clone(), move |token| async move {
        token.cancelled().await;
        rt2.sleep(ms(5)).await;
        "cleaned up"
    })
}

#[test]
fn cancel_tells_when_someone_else_had_cancelled_first() {
    // Seed 3.1, "cancelled by another": aiotools raises CancelledError in the caller.
    each_runtime(|rt| async move {
        let task = worker(&rt);
        let started = task.token().clone();
        eventually(&rt, || format!("{task:?}").contains("started: true")).await;
        // A third party holding a clone of the token asks first.
        let third_party = task.token().clone();
        third_party.cancel();
        assert!(started.is_cancelled());
        assert!(matches!(
            task.cancel().await,
            CancelOutcome::StoppedByOther("cleaned up")
        ));
    });
}

#[test]
fn cancel_by_the_owner_alone_is_a_plain_stop() {
    each_runtime(|rt| async move {
        let task = worker(&rt);
        eventually(&rt, || format!("{task:?}").contains("started: true")).await;
        assert!(matches!(
            task.cancel().await,
            CancelOutcome::Stopped("cleaned up")
        ));
    });
}

#[test]
fn a_cancel_after_the_owners_request_leaves_no_trace() {
    // The documented limit: a token is a latch without a count, so a second request during
    // the wait changes nothing and cannot be reported.
    virtual_time(|rt| async move {
        let rt2 = rt.clone();
        let task = spawn_cancellable(rt.clone(), move |token| async move {
            token.cancelled().await;
            rt2.sleep(ms(10)).await;
        });
        rt.sleep(ms(1)).await;
        let late = task.token().clone();
        let rt3 = rt.clone();
        let third_party = rt.spawn(async move {
            rt3.sleep(ms(5)).await;
            late.cancel();
        });
        assert!(matches!(task.cancel().await, CancelOutcome::Stopped(())));
        third_party.await.unwrap();
    });
}

#[test]
fn a_task_that_cancelled_itself_counts_as_someone_else() {
    virtual_time(|rt| async move {
        let rt2 = rt.clone();
        let task = spawn_cancellable(rt.clone(), move |token| async move {
            token.cancel(); // e.g. it gave up on its own, then kept cleaning up
            rt2.sleep(ms(10)).await;
            1
        });
        rt.sleep(ms(1)).await;
        assert!(matches!(
            task.cancel().await,
            CancelOutcome::StoppedByOther(1)
        ));
    });
}

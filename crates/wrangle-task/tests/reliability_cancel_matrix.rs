//! R5: every public future polled k times, then dropped; the state afterwards is what its
//! `# Cancel safety` section says. R2: dropping an owner drops every inner future exactly once.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Drops, Log, eventually, ms};
use futures_lite::StreamExt;
use futures_lite::future::poll_once;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime};
use wrangle_task::{
    BackgroundTask, Concurrent, ExitStack, Limit, RestartableTask, Server, Supervisor, TaskScope,
    defer_with_runtime, gather_with_runtime, race_with_runtime, shield_with_runtime,
    spawn_cancellable,
};

/// Polls `fut` `k` times (a millisecond apart), then drops it.
async fn poll_k_then_drop<F: Future>(rt: &DefaultRuntime, fut: F, k: usize) {
    let mut fut = Box::pin(fut);
    for _ in 0..k {
        if poll_once(fut.as_mut()).await.is_some() {
            return;
        }
        rt.sleep(ms(1)).await;
    }
}

/// A future that counts its drops and never ends.
fn pending_guarded(drops: &Drops) -> impl Future<Output = ()> + Send + 'static {
    let guard = drops.guard();
    async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    }
}

#[test]
fn concurrent_stream_dropped_after_k_polls_drops_every_started_future_once() {
    each_runtime(|rt| async move {
        for k in 0..3 {
            let drops = Drops::default();
            let started = Arc::new(AtomicUsize::new(0));
            let jobs = (0..6).map(|_| {
                let (fut, started) = (pending_guarded(&drops), started.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    fut.await;
                    Ok::<(), ()>(())
                }
            });
            let s = Concurrent::with_runtime(rt.clone(), jobs).limit(Limit::try_from(4).unwrap());
            poll_k_then_drop(&rt, s.into_future_next(), k).await;
            // Every future created (4 at most: the limit) is dropped exactly once.
            eventually(&rt, || drops.count() == if k == 0 { 0 } else { 4 }).await;
            rt.sleep(ms(2)).await;
            assert_eq!(drops.count(), if k == 0 { 0 } else { 4 }, "k = {k}");
        }
    });
}

/// `Concurrent` as a future of its first item that owns the stream.
trait IntoFutureNext: futures_lite::Stream + Unpin + Sized {
    fn into_future_next(mut self) -> impl Future<Output = Option<Self::Item>> {
        async move { self.next().await }
    }
}

impl<S: futures_lite::Stream + Unpin> IntoFutureNext for S {}

#[test]
fn scope_run_dropped_after_k_polls_cancels_every_child_once() {
    each_runtime(|rt| async move {
        for k in 1..4 {
            let drops = Drops::default();
            let d = drops.clone();
            let run = TaskScope::with_runtime(rt.clone()).run(move |scope| async move {
                for _ in 0..5 {
                    scope.spawn(pending_guarded(&d)).unwrap();
                }
                std::future::pending::<()>().await;
                Ok::<_, std::io::Error>(())
            });
            poll_k_then_drop(&rt, run, k).await;
            eventually(&rt, || drops.count() == 5).await;
        }
    });
}

#[test]
fn cancel_dropped_early_still_stops_the_task() {
    each_runtime(|rt| async move {
        for k in 0..3 {
            let drops = Drops::default();
            let guard = drops.guard();
            let task = spawn_cancellable(rt.clone(), move |_ignores| async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            poll_k_then_drop(&rt, task.cancel(), k).await;
            eventually(&rt, || drops.count() == 1).await;
        }
    });
}

#[test]
fn shield_dropped_after_k_polls_lets_the_work_finish() {
    each_runtime(|rt| async move {
        for k in 0..3 {
            let log = Log::default();
            let (l, rt2) = (log.clone(), rt.clone());
            let s = shield_with_runtime(rt.clone(), async move {
                rt2.sleep(ms(3)).await;
                l.push("done");
            });
            poll_k_then_drop(&rt, s, k).await;
            eventually(&rt, || log.get() == ["done"]).await;
        }
    });
}

#[test]
fn race_and_gather_dropped_after_k_polls_drop_every_future_once() {
    each_runtime(|rt| async move {
        for k in 0..3 {
            let drops = Drops::default();
            let racers: Vec<_> = (0..4)
                .map(|_| {
                    let f = pending_guarded(&drops);
                    async move {
                        f.await;
                        Ok::<(), ()>(())
                    }
                })
                .collect();
            poll_k_then_drop(&rt, race_with_runtime(rt.clone(), racers), k).await;
            let gathered: Vec<_> = (0..4).map(|_| pending_guarded(&drops)).collect();
            poll_k_then_drop(&rt, gather_with_runtime(rt.clone(), gathered), k).await;
            eventually(&rt, || drops.count() == 8).await;
            rt.sleep(ms(2)).await;
            assert_eq!(drops.count(), 8);
        }
    });
}

#[test]
fn waits_dropped_early_do_not_disturb_the_work() {
    each_runtime(|rt| async move {
        for k in 0..3 {
            let rt2 = rt.clone();
            let bg = BackgroundTask::with_runtime(rt.clone(), move || {
                let rt = rt2.clone();
                async move {
                    rt.sleep(ms(3)).await;
                    Ok::<_, std::io::Error>(7)
                }
            });
            bg.start();
            poll_k_then_drop(&rt, bg.wait(), k).await;
            assert_eq!(bg.wait().await, Some(Ok(7)));

            let task = RestartableTask::with_runtime(rt.clone(), || async { None::<u8> });
            task.start();
            poll_k_then_drop(&rt, task.wait(), k).await;
            assert!(task.is_running());
            task.set_result(1).unwrap();
            assert_eq!(task.wait().await.unwrap(), 1);
        }
    });
}

#[test]
fn exit_stack_unwind_dropped_midway_keeps_the_rest_for_later() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let stack = ExitStack::with_runtime(rt.clone());
        let l = log.clone();
        stack.push(async move { l.push("first registered") });
        let rt2 = rt.clone();
        stack.push(async move { rt2.sleep(ms(100)).await });
        // Drop `unwind` while the slow cleanup runs: that one is lost, the other stays.
        poll_k_then_drop(&rt, stack.unwind(), 2).await;
        assert_eq!(stack.len(), 1);
        drop(stack);
        eventually(&rt, || log.get() == ["first registered"]).await;
    });
}

#[test]
fn defer_and_supervisor_dropped_after_k_polls_clean_up() {
    each_runtime(|rt| async move {
        for k in 1..3 {
            let log = Log::default();
            let l = log.clone();
            let d = defer_with_runtime(rt.clone(), move |stack| async move {
                stack.push(async move { l.push("cleanup ran") });
                std::future::pending::<()>().await;
            });
            poll_k_then_drop(&rt, d, k).await;
            eventually(&rt, || log.get() == ["cleanup ran"]).await;

            let drops = Drops::default();
            let dr = drops.clone();
            let sup = Supervisor::with_runtime(rt.clone()).run(move |sup| async move {
                for _ in 0..3 {
                    sup.spawn(pending_guarded(&dr)).unwrap();
                }
                std::future::pending::<()>().await;
                Ok::<_, std::io::Error>(())
            });
            poll_k_then_drop(&rt, sup, k).await;
            eventually(&rt, || drops.count() == 3).await;
        }
    });
}

#[test]
fn lifecycle_cancels_dropped_after_k_polls_still_cancel_the_run() {
    each_runtime(|rt| async move {
        for k in 0..3 {
            let drops = Drops::default();
            let d = drops.clone();
            let bg = BackgroundTask::with_runtime(rt.clone(), move || {
                let guard = d.guard();
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    Ok::<(), std::io::Error>(())
                }
            });
            bg.start();
            rt.sleep(ms(1)).await;
            poll_k_then_drop(&rt, bg.cancel(), k).await;
            // The request was made by the call: the run is gone, once, whatever the polls.
            assert!(!bg.is_running());
            eventually(&rt, || drops.count() == 1).await;
            assert_eq!(bg.stats().cancelled, 1, "k = {k}");

            let drops = Drops::default();
            let d = drops.clone();
            let task = RestartableTask::with_runtime(rt.clone(), move || {
                let guard = d.guard();
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    None::<u8>
                }
            });
            task.start();
            rt.sleep(ms(1)).await;
            poll_k_then_drop(&rt, task.cancel(), k).await;
            assert!(!task.is_running());
            eventually(&rt, || drops.count() == 1).await;
            assert_eq!(task.stats().cancelled, 1, "k = {k}");
        }
    });
}

#[test]
fn serve_dropped_after_k_polls_drops_every_worker_and_joins_the_threads() {
    each_runtime(|rt| async move {
        for k in 1..4 {
            let drops = Drops::default();
            let calls = Arc::new(AtomicUsize::new(0));
            let (d, c) = (drops.clone(), calls.clone());
            let server = Server::new(std::num::NonZeroUsize::new(2).unwrap())
                .flavor(wrangle_rt::thread::ThreadFlavor::Virtual);
            let serve = server.serve(move |_ctx| {
                c.fetch_add(1, Ordering::SeqCst);
                let guard = d.guard();
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    Ok::<(), std::io::Error>(())
                }
            });
            poll_k_then_drop(&rt, serve, k).await;
            // Dropping `Serve` joined the worker threads, whose runtimes dropped the workers:
            // every worker future made was dropped exactly once, before the drop returned.
            let made = calls.load(Ordering::SeqCst);
            assert!(made <= 2, "k = {k}");
            assert_eq!(drops.count(), made, "k = {k}");
        }
    });
}

#[test]
fn as_completed_cancel_dropped_after_k_polls_still_drops_every_task_once() {
    each_runtime(|rt| async move {
        for k in 0..3 {
            let drops = Drops::default();
            let jobs: Vec<_> = (0..3).map(|_| pending_guarded(&drops)).collect();
            let mut s = wrangle_task::as_completed_with_runtime(rt.clone(), jobs);
            // Start the tasks, then cancel them all; the wait is dropped after k polls.
            let _ = poll_once(s.next()).await;
            poll_k_then_drop(&rt, s.cancel(), k).await;
            eventually(&rt, || drops.count() == 3).await;
            rt.sleep(ms(2)).await;
            assert_eq!(drops.count(), 3, "k = {k}");
        }
    });
}

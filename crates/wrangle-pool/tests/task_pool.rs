//! `TaskPool` behaviour, on every runtime; timing on virtual time.

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use wrangle_pool::{TaskError, TaskPool};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, ErrorReporter, Runtime, Unhandled};

mod common;
use common::stuck_task;

const MS: Duration = Duration::from_millis(1);

fn size(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn timeout_counts_from_the_start_not_from_the_queue() {
    // Seed case: size 1, timeout 15 ms, two 10 ms jobs both succeed.
    virtual_time(|rt| async move {
        let start = rt.now();
        let pool = TaskPool::builder()
            .size(size(1))
            .timeout(15 * MS)
            .runtime(rt.clone())
            .build();
        let job = |rt: wrangle_rt::VirtualRuntime| async move {
            rt.sleep(10 * MS).await;
            rt.now()
        };
        let a = pool.spawn(job(rt.clone())).unwrap();
        let b = pool.spawn(job(rt.clone())).unwrap();
        assert_eq!(a.await.unwrap() - start, 10 * MS);
        assert_eq!(b.await.unwrap() - start, 20 * MS);
        let s = pool.stats();
        assert_eq!((s.completed, s.timed_out), (2, 0));
    });
}

#[test]
fn a_task_over_its_timeout_times_out_exactly_and_the_pool_goes_on() {
    virtual_time(|rt| async move {
        let start = rt.now();
        let pool = TaskPool::builder()
            .size(size(2))
            .timeout(15 * MS)
            .runtime(rt.clone())
            .build();
        let slow = pool.spawn({
            let rt = rt.clone();
            async move { rt.sleep(40 * MS).await }
        });
        let err = slow.unwrap().await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert_eq!(rt.now() - start, 15 * MS);
        assert_eq!(pool.run(async { 1 }).await.unwrap(), 1);
        assert_eq!(pool.stats().timed_out, 1);
    });
}

#[test]
fn staggered_tasks_time_out_each_at_its_own_deadline() {
    virtual_time(|rt| async move {
        let start = rt.now();
        let pool = TaskPool::builder()
            .size(size(2))
            .timeout(10 * MS)
            .runtime(rt.clone())
            .build();
        let job = |ms: u32| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms * MS).await;
                rt.now() - start
            }
        };
        // A and B start at 0; C starts when B ends (5 ms); D when A times out (10 ms).
        let a = pool.spawn(job(50)).unwrap();
        let b = pool.spawn(job(5)).unwrap();
        let c = pool.spawn(job(50)).unwrap();
        let d = pool.spawn(job(3)).unwrap();
        let ended = |h: wrangle_pool::PoolJoinHandle<Duration>| {
            let rt = rt.clone();
            async move {
                let r = h.await;
                (r.map_err(|e| e.is_timeout()), rt.now() - start)
            }
        };
        assert_eq!(ended(b).await, (Ok(5 * MS), 5 * MS));
        assert_eq!(ended(a).await, (Err(true), 10 * MS));
        assert_eq!(ended(d).await, (Ok(13 * MS), 13 * MS));
        assert_eq!(ended(c).await, (Err(true), 15 * MS));
        let s = pool.stats();
        assert_eq!((s.completed, s.timed_out), (2, 2));
    });
}

#[test]
fn cancel_before_start_never_runs_the_body() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(1));
        let ran = Arc::new(AtomicBool::new(false));
        let (gate_tx, gate_rx) = async_oneshot();
        let first = pool.spawn(gate_rx).unwrap();
        let queued = pool
            .spawn({
                let ran = ran.clone();
                async move { ran.store(true, Ordering::SeqCst) }
            })
            .unwrap();
        drop(queued);
        gate_tx.send();
        first.await.unwrap();
        pool.shutdown().await;
        assert!(
            !ran.load(Ordering::SeqCst),
            "a task cancelled while queued ran"
        );
        let s = pool.stats();
        assert_eq!((s.submitted, s.completed, s.cancelled), (2, 1, 1));
    });
}

#[test]
fn cancel_after_start_cancels_and_the_pool_keeps_working() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(1));
        let dropped = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let h = pool
            .spawn({
                let (dropped, started) = (DropFlag(dropped.clone()), started.clone());
                async move {
                    let _d = dropped;
                    started.store(true, Ordering::SeqCst);
                    std::future::pending::<()>().await
                }
            })
            .unwrap();
        while !started.load(Ordering::SeqCst) {
            wrangle_rt::yield_now().await;
        }
        assert!(h.cancel().await.unwrap_err().is_cancelled());
        assert!(
            dropped.load(Ordering::SeqCst),
            "cancel returned before the task was dropped"
        );
        assert_eq!(
            pool.run(async { "still works" }).await.unwrap(),
            "still works"
        );
        let s = pool.stats();
        assert_eq!((s.cancelled, s.completed, s.running), (1, 1, 0));
    });
}

#[test]
fn close_refuses_new_work_with_a_typed_error_and_hands_the_task_back() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        pool.close();
        let err = pool.spawn(async { 5 }).unwrap_err();
        assert_eq!(err.to_string(), "pool is closed");
        assert_eq!(err.into_inner().await, 5);
        assert!(matches!(pool.run(async {}).await, Err(TaskError::Closed)));
    });
}

#[test]
fn shutdown_drains_every_task_and_keeps_failures_in_their_handles() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(3));
        let handles: Vec<_> = (0..20u32)
            .map(|i| {
                pool.spawn(async move {
                    wrangle_rt::yield_now().await;
                    if i % 4 == 0 {
                        Err(format!("job {i} failed"))
                    } else {
                        Ok(i)
                    }
                })
                .unwrap()
            })
            .collect();
        pool.shutdown().await;
        for (i, h) in handles.into_iter().enumerate() {
            assert!(h.is_finished());
            let out = h.await.expect("the pool itself never fails a drained task");
            if i % 4 == 0 {
                assert_eq!(out.unwrap_err(), format!("job {i} failed"));
            } else {
                assert_eq!(out.unwrap(), i as u32);
            }
        }
        assert_eq!(pool.stats().completed, 20);
    });
}

#[test]
fn dropping_the_shutdown_future_still_drains_the_pool() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(2));
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let rt = rt.clone();
                pool.spawn(async move {
                    rt.sleep(MS).await;
                    i
                })
                .unwrap()
            })
            .collect();
        // Poll shutdown once, then drop it: upstream's pool hangs here.
        let _ = futures_lite::future::poll_once(Box::pin(pool.shutdown())).await;
        assert!(pool.is_closed());
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), i);
        }
    });
}

#[test]
fn shutdown_timeout_cancels_what_is_left_at_the_deadline() {
    virtual_time(|rt| async move {
        let start = rt.now();
        let pool = TaskPool::with_runtime(rt.clone(), size(1));
        let dropped = Arc::new(AtomicUsize::new(0));
        let quick = pool.spawn({
            let rt = rt.clone();
            async move { rt.sleep(5 * MS).await }
        });
        let stuck: Vec<_> = (0..3)
            .map(|_| pool.spawn(stuck_task(&dropped)).unwrap())
            .collect();
        let err = pool.shutdown_timeout(100 * MS).await.unwrap_err();
        assert_eq!(rt.now() - start, 100 * MS);
        assert_eq!(err.cancelled(), 3, "one running and two queued");
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            3,
            "futures still alive after shutdown"
        );
        quick.unwrap().await.unwrap();
        for h in stuck {
            assert!(h.await.unwrap_err().is_cancelled());
        }
        let s = pool.stats();
        assert_eq!(s.finished(), s.submitted);
        assert_eq!((s.running, s.queued), (0, 0));
    });
}

#[test]
fn dropping_the_pool_cancels_everything_queued_and_running() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(2));
        let dropped = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..5)
            .map(|_| pool.spawn(stuck_task(&dropped)).unwrap())
            .collect();
        wrangle_rt::yield_now().await;
        drop(pool);
        for h in handles {
            assert!(h.await.unwrap_err().is_cancelled());
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 5);
    });
}

#[test]
fn panics_are_isolated_reported_in_handles_and_counted_once() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(4));
        let handles: Vec<_> = (0..100u32)
            .map(|i| {
                pool.spawn(async move {
                    wrangle_rt::yield_now().await;
                    if i % 10 == 3 {
                        panic!("job {i} panicked");
                    }
                    i
                })
                .unwrap()
            })
            .collect();
        let mut panicked = 0;
        for (i, h) in handles.into_iter().enumerate() {
            match h.await {
                Ok(v) => assert_eq!(v as usize, i),
                Err(TaskError::Panicked(p)) => {
                    assert_eq!(p.message(), Some(format!("job {i} panicked").as_str()));
                    panicked += 1;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(panicked, 10);
        let s = pool.stats();
        assert_eq!((s.completed, s.failed, s.finished()), (90, 10, 100));
    });
}

#[test]
fn concurrency_never_exceeds_the_size() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(3));
        let (now, high) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let (now, high, rt) = (now.clone(), high.clone(), rt.clone());
                pool.spawn(async move {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    high.fetch_max(n, Ordering::SeqCst);
                    rt.sleep(Duration::from_micros(200)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                })
                .unwrap()
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        let high = high.load(Ordering::SeqCst);
        assert!(high <= 3, "{high} tasks ran at once in a pool of 3");
        assert!(high >= 1);
    });
}

/// Workers are woken sparingly (one "searching" worker at a time), but a pool whose tasks
/// all wait still starts exactly `size` of them, from async and from plain-thread submitters.
#[test]
fn waiting_tasks_fill_the_pool_to_its_size() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(8));
        let release = wrangle_rt::CancellationToken::new();
        let started = Arc::new(AtomicUsize::new(0));
        let (eight, eight_started) = async_oneshot();
        let eight = Arc::new(Mutex::new(Some(eight)));
        let task = {
            let (release, eight) = (release.clone(), eight.clone());
            move |started: Arc<AtomicUsize>| {
                let (release, eight) = (release.clone(), eight.clone());
                async move {
                    if started.fetch_add(1, Ordering::SeqCst) + 1 == 8 {
                        eight.lock().unwrap().take().unwrap().send();
                    }
                    release.cancelled().await;
                }
            }
        };
        let mut handles: Vec<_> = (0..10)
            .map(|_| pool.spawn(task(started.clone())).unwrap())
            .collect();
        let from_thread = std::thread::spawn({
            let (pool, task, started) = (pool.clone(), task.clone(), started.clone());
            move || {
                (0..10)
                    .map(|_| pool.spawn(task(started.clone())).unwrap())
                    .collect::<Vec<_>>()
            }
        });
        // A hang guard only: eight tasks must start without any of them finishing.
        rt.timeout(Duration::from_secs(30), eight_started)
            .await
            .expect("the pool did not start `size` waiting tasks");
        handles.extend(from_thread.join().unwrap());
        let stats = pool.stats();
        assert_eq!(started.load(Ordering::SeqCst), 8);
        assert_eq!((stats.running, stats.queued, stats.submitted), (8, 12, 20));
        release.cancel();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(started.load(Ordering::SeqCst), 20);
        assert_eq!(pool.stats().completed, 20);
    });
}

/// `spawn_detached`: runs like `spawn(..).detach()`, failures go to the error reporter at
/// their exact time, counted in the stats; a closed pool hands the future back; dropping the
/// pool cancels detached tasks too.
#[test]
fn spawn_detached_runs_reports_failures_and_is_cancelled_with_the_pool() {
    virtual_time(|rt| async move {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let clock = rt.clone();
        let start = rt.now();
        let pool = TaskPool::builder()
            .size(size(2))
            .timeout(5 * MS)
            .error_reporter(ErrorReporter::new(move |u: Unhandled| {
                let at = clock.now() - start;
                sink.lock().unwrap().push((at, u.to_string()));
            }))
            .runtime(rt.clone())
            .build();
        let ran = Arc::new(AtomicUsize::new(0));
        for i in 0..6_u32 {
            let (ran, rt) = (ran.clone(), rt.clone());
            pool.spawn_detached(async move {
                rt.sleep(MS).await;
                match i {
                    4 => panic!("detached boom {i}"),
                    5 => rt.sleep(10 * MS).await,
                    _ => {}
                }
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        pool.shutdown().await;
        // Two at a time, 1 ms each: tasks 4 and 5 start at 2 ms; 5 times out at 2 + 5 ms.
        assert_eq!(rt.now() - start, 7 * MS);
        assert_eq!(ran.load(Ordering::SeqCst), 4);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            seen.iter()
                .any(|(at, s)| *at == 3 * MS && s.contains("detached boom 4"))
        );
        assert!(
            seen.iter()
                .any(|(at, s)| *at == 7 * MS && s.contains("timed out"))
        );
        let stats = pool.stats();
        assert_eq!(
            (
                stats.submitted,
                stats.completed,
                stats.failed,
                stats.timed_out
            ),
            (6, 4, 1, 1)
        );
        assert!(pool.spawn_detached(async {}).is_err());

        let pool = TaskPool::with_runtime(rt.clone(), size(1));
        let dropped = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            pool.spawn_detached(stuck_task(&dropped)).unwrap();
        }
        wrangle_rt::yield_now().await;
        assert_eq!((pool.stats().running, pool.stats().queued), (1, 2));
        drop(pool);
        // The queued tasks go with the pool; the running one when its cancelled worker task is
        // next run by the runtime.
        assert!(dropped.load(Ordering::SeqCst) >= 2);
        rt.sleep(MS).await;
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn spawn_detached_works_from_plain_threads_on_every_runtime() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(4));
        let done = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..250 {
                        let done = done.clone();
                        pool.spawn_detached(async move {
                            wrangle_rt::yield_now().await;
                            done.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                    }
                });
            }
        });
        pool.shutdown().await;
        assert_eq!(done.load(Ordering::SeqCst), 1000);
        let stats = pool.stats();
        assert_eq!((stats.submitted, stats.completed), (1000, 1000));
        assert_eq!(stats.finished(), 1000);
    });
}

#[test]
fn spawn_works_from_plain_threads() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(4));
        let submitters: Vec<_> = (0..4u64)
            .map(|t| {
                let pool = pool.clone();
                rt.spawn_blocking(move || {
                    (0..50u64)
                        .map(|i| pool.spawn(async move { t * 1000 + i }).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut sum = 0;
        for s in submitters {
            for h in s.await.unwrap() {
                sum += h.await.unwrap();
            }
        }
        assert_eq!(
            sum,
            (0..4u64)
                .map(|t| (0..50).map(|i| t * 1000 + i).sum::<u64>())
                .sum()
        );
    });
}

#[test]
fn cross_thread_submission_while_shutting_down_runs_once_or_errs() {
    // R11: every submission either runs exactly once or returns an error to its submitter.
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), size(2));
        let ran = Arc::new(AtomicUsize::new(0));
        let submitters: Vec<_> = (0..3)
            .map(|_| {
                let (pool, ran) = (pool.clone(), ran.clone());
                rt.spawn_blocking(move || {
                    let mut accepted = Vec::new();
                    let mut refused = 0;
                    for _ in 0..200 {
                        let ran = ran.clone();
                        match pool.spawn(async move {
                            ran.fetch_add(1, Ordering::SeqCst);
                        }) {
                            Ok(h) => accepted.push(h),
                            Err(_) => refused += 1,
                        }
                    }
                    (accepted, refused)
                })
            })
            .collect();
        wrangle_rt::yield_now().await;
        pool.shutdown().await;
        let (mut accepted, mut refused) = (0, 0);
        for s in submitters {
            let (handles, r) = s.await.unwrap();
            refused += r;
            for h in handles {
                h.await.expect("an accepted task must run");
                accepted += 1;
            }
        }
        assert_eq!(accepted + refused, 600);
        assert_eq!(
            ran.load(Ordering::SeqCst),
            accepted,
            "a task ran twice or not at all"
        );
    });
}

#[test]
fn failures_of_detached_tasks_go_to_the_error_handler() {
    virtual_time(|rt| async move {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let pool = TaskPool::builder()
            .timeout(5 * MS)
            .error_reporter(ErrorReporter::new(move |u: Unhandled| {
                sink.lock().unwrap().push(u.to_string())
            }))
            .runtime(rt.clone())
            .build();
        pool.spawn(async { panic!("detached boom") })
            .unwrap()
            .detach();
        pool.spawn({
            let rt = rt.clone();
            async move { rt.sleep(10 * MS).await }
        })
        .unwrap()
        .detach();
        // An awaited failure is the caller's, not the handler's.
        assert!(
            pool.run(async { panic!("awaited") })
                .await
                .unwrap_err()
                .is_panic()
        );
        pool.shutdown().await;
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(seen.iter().any(|s| s.contains("detached boom")));
        assert!(seen.iter().any(|s| s.contains("timed out")));
    });
}

#[test]
fn a_pool_made_with_new_uses_the_current_runtime() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded();
        assert_eq!(pool.runtime().name(), rt.name());
        assert_eq!(pool.run(async { 1 }).await.unwrap(), 1);
    });
}

// ===== helpers =====

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A tiny one-shot signal built on a cancellation token (runtime-free).
fn async_oneshot() -> (Gate, Wait) {
    let t = wrangle_rt::CancellationToken::new();
    (Gate(t.clone()), Wait(Box::pin(t.cancelled_owned())))
}

struct Gate(wrangle_rt::CancellationToken);
impl Gate {
    fn send(self) {
        self.0.cancel();
    }
}

struct Wait(Pin<Box<wrangle_rt::future::WaitForCancellationOwned>>);
impl Future for Wait {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

/// A future that is ready at once and whose destructor panics (run after it ended, or when it
/// is cancelled).
struct PanicsOnDrop;

impl Future for PanicsOnDrop {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        Poll::Ready(7)
    }
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("destructor boom");
        }
    }
}

/// A pool of one worker whose error reporter collects what it is sent.
fn reporting_pool(rt: &DefaultRuntime) -> (TaskPool<DefaultRuntime>, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let pool = TaskPool::builder()
        .size(size(1))
        .error_reporter(ErrorReporter::new(move |u: Unhandled| {
            sink.lock().unwrap().push(u.to_string());
        }))
        .runtime(rt.clone())
        .build();
    (pool, seen)
}

/// A task whose future panics while it is dropped, after it ended or when it is cancelled,
/// never takes its worker down: the panic is reported (detached) or handed to the handle, and
/// the pool goes on running tasks and shuts down.
#[test]
fn a_future_panicking_in_its_destructor_is_isolated() {
    each_runtime(|rt| async move {
        let (pool, seen) = reporting_pool(&rt);
        for _ in 0..3 {
            pool.spawn_detached(PanicsOnDrop).unwrap();
        }
        let with_handle = pool.spawn(PanicsOnDrop).unwrap();
        assert!(with_handle.await.unwrap_err().is_panic());
        // The single worker survived all of that.
        assert_eq!(pool.run(async { 5 }).await.unwrap(), 5);
        pool.shutdown().await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(
            seen.iter().all(|s| s.contains("destructor boom")),
            "{seen:?}"
        );
        let stats = pool.stats();
        assert_eq!(stats.finished(), stats.submitted);
        assert_eq!(stats.submitted, 5);

        // Queued detached tasks dropped with the pool: reported to the pool's reporter too.
        let (pool, seen_after_drop) = reporting_pool(&rt);
        let (_gate, wait) = async_oneshot();
        pool.spawn_detached(wait).unwrap();
        pool.spawn_detached(PanicsOnDrop).unwrap();
        // Until the single worker has started the first task, the second may still be taken
        // by it: a worker starting just as the pool is dropped pops concurrently with the
        // drop and runs what it popped, reporting later, on its own thread.
        while pool.stats().running == 0 {
            rt.sleep(MS).await;
        }
        drop(pool);
        let seen = seen_after_drop.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("destructor boom"), "{seen:?}");
    });
}

/// The output of a task whose handle was detached is dropped where the task ends, after the
/// cell's lock: a panic of its destructor is reported, and the single worker goes on.
#[test]
fn an_unread_output_panicking_in_its_destructor_is_reported() {
    each_runtime(|rt| async move {
        let (pool, seen) = reporting_pool(&rt);
        // The task ends only once the gate opens, after the handle is detached. Its output
        // holds a `PanicsOnDrop` (in a tuple: an output, not a future to await).
        let (gate, wait) = async_oneshot();
        pool.spawn(async move {
            wait.await;
            (PanicsOnDrop,)
        })
        .unwrap()
        .detach();
        gate.send();
        assert_eq!(pool.run(async { 5 }).await.unwrap(), 5);
        pool.shutdown().await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("destructor boom"), "{seen:?}");
        assert_eq!(pool.stats().completed, 2);
    });
}

/// An error reporter that panics does not take the worker down either: detached failures keep
/// being reported, and the pool keeps running tasks.
#[test]
fn a_panicking_error_reporter_does_not_stop_the_pool() {
    each_runtime(|rt| async move {
        let reports = Arc::new(AtomicUsize::new(0));
        let counted = reports.clone();
        let pool = TaskPool::builder()
            .size(size(1))
            .error_reporter(ErrorReporter::new(move |_: Unhandled| {
                counted.fetch_add(1, Ordering::SeqCst);
                panic!("reporter boom");
            }))
            .runtime(rt.clone())
            .build();
        for i in 0..4 {
            pool.spawn_detached(async move {
                if i < 3 {
                    panic!("task boom {i}");
                }
            })
            .unwrap();
        }
        assert_eq!(pool.run(async { 9 }).await.unwrap(), 9);
        pool.shutdown().await;
        assert_eq!(reports.load(Ordering::SeqCst), 3);
        let stats = pool.stats();
        assert_eq!((stats.failed, stats.completed), (3, 2));
    });
}

/// A task's end is counted before its handle resolves: `stats()` read right after a handle
/// resolved (or a cancel returned) already counts it, on multi-threaded runtimes too.
#[test]
fn stats_count_a_task_before_its_handle_resolves() {
    each_runtime(|rt| async move {
        for _ in 0..20 {
            let pool = TaskPool::with_runtime(rt.clone(), size(1));
            let (gate_tx, gate_rx) = async_oneshot();
            let blocker = pool.spawn(gate_rx).unwrap();
            let queued = pool.spawn(async { 1 }).unwrap();
            // Cancelled while queued: counted once the cancel returns, never active.
            let (tx2, rx2) = async_oneshot();
            let queued_cancel = pool.spawn(rx2).unwrap();
            drop(tx2);
            gate_tx.send();
            blocker.await.unwrap();
            assert!(queued_cancel.cancel().await.unwrap_err().is_cancelled());
            let s = pool.stats();
            assert_eq!((s.cancelled, s.running), (1, 0), "{s:?}");
            assert_eq!(queued.await.unwrap(), 1);
            let s = pool.stats();
            assert_eq!((s.completed, s.cancelled, s.running), (2, 1, 0), "{s:?}");
            // Cancelled while running.
            let running = pool.spawn(std::future::pending::<()>()).unwrap();
            while pool.stats().running == 0 {
                wrangle_rt::yield_now().await;
            }
            assert!(running.cancel().await.unwrap_err().is_cancelled());
            let s = pool.stats();
            assert_eq!((s.cancelled, s.running), (2, 0), "{s:?}");
            assert_eq!(s.finished(), s.submitted);
        }
    });
}

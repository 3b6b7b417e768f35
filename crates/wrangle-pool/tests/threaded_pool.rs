//! `ThreadedPool`: a pool on its own thread and runtime.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wrangle_pool::{TaskError, ThreadedPool, ThreadedPoolError};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{BoxError, ErrorReporter, Runtime, Unhandled, thread::ThreadFlavor};

mod common;

fn flavours() -> Vec<ThreadFlavor> {
    [
        ThreadFlavor::TokioCurrentThread,
        ThreadFlavor::Smol,
        ThreadFlavor::Virtual,
    ]
    .into_iter()
    .filter(|f| f.is_available())
    .collect()
}

fn thread_name() -> Option<String> {
    std::thread::current().name().map(String::from)
}

#[test]
fn hooks_and_tasks_run_on_the_pool_thread() {
    for flavor in flavours() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l1, l2) = (log.clone(), log.clone());
        let pool = ThreadedPool::builder()
            .name("hooked")
            .flavor(flavor)
            .init(move || async move {
                l1.lock()
                    .unwrap()
                    .push(format!("init on {:?}", thread_name()));
                Ok::<_, BoxError>(String::from("ctx"))
            })
            .teardown(move |ctx: Arc<String>| async move {
                l2.lock()
                    .unwrap()
                    .push(format!("teardown {ctx} on {:?}", thread_name()));
                Ok::<_, BoxError>(())
            })
            .build()
            .unwrap();
        let seen = pool
            .run_blocking_with_context(|ctx| async move { format!("{ctx} on {:?}", thread_name()) })
            .unwrap();
        assert_eq!(seen, "ctx on Some(\"hooked\")", "{flavor:?}");
        pool.shutdown_blocking().unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            [
                "init on Some(\"hooked\")",
                "teardown ctx on Some(\"hooked\")"
            ],
            "{flavor:?}"
        );
    }
}

#[test]
fn the_async_api_works_from_every_other_runtime() {
    let pool = Arc::new(ThreadedPool::builder().name("served").build().unwrap());
    each_runtime(|rt| {
        let pool = pool.clone();
        async move {
            let out = pool.run(async { thread_name() }).await.unwrap();
            assert_eq!(out.as_deref(), Some("served"));
            let h = pool.spawn(async { 21 * 2 }).unwrap();
            assert_eq!(h.await.unwrap(), 42);
            let _ = rt;
        }
    });
    Arc::try_unwrap(pool).unwrap().shutdown_blocking().unwrap();
}

#[test]
fn shutdown_blocking_drains_every_task_and_cancel_blocking_cancels_pending_work() {
    for flavor in flavours() {
        let pool = ThreadedPool::builder()
            .flavor(flavor)
            .size(std::num::NonZeroUsize::MIN)
            .build()
            .unwrap();
        let rt = pool.runtime().clone();
        let handles: Vec<_> = (0..5u32)
            .map(|i| {
                let rt = rt.clone();
                pool.spawn(async move {
                    rt.sleep(Duration::from_millis(1)).await;
                    i
                })
                .unwrap()
            })
            .collect();
        pool.shutdown_blocking().unwrap();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.join_blocking().unwrap(), i as u32, "{flavor:?}");
        }

        let pool = ThreadedPool::builder().flavor(flavor).build().unwrap();
        let stuck = pool.spawn(std::future::pending::<()>()).unwrap();
        pool.cancel_blocking().unwrap();
        assert!(
            stuck.join_blocking().unwrap_err().is_cancelled(),
            "{flavor:?}"
        );
    }
}

#[test]
fn run_blocking_on_the_pool_thread_is_refused_not_deadlocked() {
    let pool = Arc::new(ThreadedPool::builder().build().unwrap());
    let inner = pool.clone();
    let h = pool
        .spawn(async move {
            // Synchronous call on the pool's own thread.
            matches!(inner.run_blocking(async {}), Err(TaskError::WouldDeadlock))
        })
        .unwrap();
    assert!(h.join_blocking().unwrap());
    Arc::try_unwrap(pool)
        .expect("the task released its clone")
        .shutdown_blocking()
        .unwrap();
}

#[test]
fn hook_errors_are_returned_and_reported() {
    let err = ThreadedPool::builder()
        .init(|| async { Err::<(), _>(std::io::Error::other("no database")) })
        .teardown(|_| async { Ok::<_, BoxError>(()) })
        .build()
        .unwrap_err();
    assert!(matches!(err, ThreadedPoolError::Init(_)));
    assert_eq!(err.to_string(), "pool init hook failed: no database");

    let err = ThreadedPool::builder()
        .init(|| async {
            if true {
                panic!("init blew up");
            }
            Ok::<(), BoxError>(())
        })
        .teardown(|_: Arc<()>| async { Ok::<_, BoxError>(()) })
        .build()
        .unwrap_err();
    assert!(matches!(err, ThreadedPoolError::InitPanicked(_)), "{err}");

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let pool = ThreadedPool::builder()
        .error_reporter(ErrorReporter::new(move |u: Unhandled| {
            sink.lock().unwrap().push(u.to_string())
        }))
        .teardown(|_| async { Err::<(), _>(std::io::Error::other("flush failed")) })
        .build()
        .unwrap();
    let err = pool.shutdown_blocking().unwrap_err();
    assert!(matches!(err, ThreadedPoolError::Teardown(_)));
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(seen.lock().unwrap()[0].contains("flush failed"));
}

#[test]
fn timeout_applies_on_the_pool_thread() {
    // Virtual flavour: the pool thread's own clock runs virtual time, exactly.
    let pool = ThreadedPool::builder()
        .flavor(ThreadFlavor::Virtual)
        .timeout(Duration::from_millis(15))
        .build()
        .unwrap();
    let rt = pool.runtime().clone();
    let (r1, r2) = (rt.clone(), rt.clone());
    let ok = pool.run_blocking(async move {
        let start = r1.now();
        r1.sleep(Duration::from_millis(10)).await;
        r1.now() - start
    });
    assert_eq!(ok.unwrap(), Duration::from_millis(10));
    let late = pool.run_blocking(async move { r2.sleep(Duration::from_millis(20)).await });
    assert!(late.unwrap_err().is_timeout());
    pool.shutdown_blocking().unwrap();
}

#[test]
fn dropping_the_pool_cancels_work_and_joins_the_thread() {
    let dropped = Arc::new(AtomicBool::new(false));
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    for flavor in flavours() {
        dropped.store(false, Ordering::SeqCst);
        let pool = ThreadedPool::builder().flavor(flavor).build().unwrap();
        let flag = Flag(dropped.clone());
        let h = pool
            .spawn(async move {
                let _f = flag;
                std::future::pending::<()>().await
            })
            .unwrap();
        drop(pool);
        // Dropped before the drop returned, on every flavour (on smol, a worker left on a
        // stopped executor would never be).
        assert!(dropped.load(Ordering::SeqCst), "{flavor:?}");
        assert!(h.join_blocking().unwrap_err().is_cancelled(), "{flavor:?}");
    }
}

#[test]
fn panicking_user_closures_are_caught_reported_and_counted() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = seen.clone();
    let pool = ThreadedPool::builder()
        .error_reporter(ErrorReporter::new(move |u: Unhandled| {
            sink.lock().unwrap().push(u.to_string());
        }))
        .init(|| async { Ok::<_, std::io::Error>(1u32) })
        .teardown(
            |_: Arc<u32>| -> std::future::Ready<Result<(), std::io::Error>> {
                panic!("teardown boom")
            },
        )
        .build()
        .unwrap();
    // A closure panicking before it returns its future: the handle reports the panic.
    let h = pool
        .spawn_with_context(|_: Arc<u32>| -> std::future::Ready<u32> {
            panic!("spawn_with_context boom")
        })
        .unwrap();
    assert!(h.join_blocking().unwrap_err().is_panic());
    assert_eq!(
        pool.run_blocking_with_context(|n| async move { *n + 1 })
            .unwrap(),
        2
    );
    assert_eq!(pool.stats().failed, 1);
    let err = pool.shutdown_blocking().unwrap_err();
    assert!(matches!(err, ThreadedPoolError::Teardown(_)), "{err}");
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().any(|s| s.contains("teardown boom")), "{seen:?}");
}

#[test]
fn stats_count_every_task_once_on_every_flavour() {
    for flavor in flavours() {
        let pool = ThreadedPool::builder()
            .flavor(flavor)
            .error_reporter(ErrorReporter::new(|_: Unhandled| {}))
            .build()
            .unwrap();
        assert_eq!(pool.run_blocking(async { 1 }).unwrap(), 1);
        let panicked = pool
            .run_blocking(async {
                if true {
                    panic!("on purpose");
                }
            })
            .unwrap_err();
        assert!(panicked.is_panic(), "{flavor:?}");
        let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stuck = pool.spawn(common::stuck_task(&dropped)).unwrap();
        let cancelled = futures_lite::future::block_on(stuck.cancel()).unwrap_err();
        assert!(cancelled.is_cancelled(), "{flavor:?}");
        let s = pool.stats();
        assert_eq!(
            (
                s.submitted,
                s.completed,
                s.failed,
                s.cancelled,
                s.running,
                s.queued
            ),
            (3, 1, 1, 1, 0, 0),
            "{flavor:?}"
        );
        common::assert_accounted(&s);
        assert!(pool.close());
        assert!(pool.is_closed());
        assert!(pool.spawn(async {}).is_err());
        pool.shutdown_blocking().unwrap();
        assert_eq!(dropped.load(Ordering::SeqCst), 1, "{flavor:?}");
    }
}

#[test]
fn detached_and_named_tasks_run_on_the_pool_thread_on_every_flavour() {
    for flavor in flavours() {
        let pool = ThreadedPool::builder()
            .name("detached")
            .flavor(flavor)
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..10 {
            let seen = seen.clone();
            pool.spawn_detached(async move {
                wrangle_rt::yield_now().await;
                seen.lock().unwrap().push((i, thread_name()));
            })
            .unwrap();
        }
        let named = pool
            .spawn_named("named", async { thread_name() })
            .unwrap()
            .join_blocking()
            .unwrap();
        assert_eq!(named.as_deref(), Some("detached"), "{flavor:?}");
        assert!(pool.close());
        // Refused once closed, the future given back.
        let refused = pool.spawn_detached(async { 5 }).unwrap_err();
        assert_eq!(futures_lite::future::block_on(refused.into_inner()), 5);
        let s = pool.stats();
        pool.shutdown_blocking().unwrap();
        // Every detached task ran, on the pool's thread, before the thread was joined.
        let mut seen = std::mem::take(&mut *seen.lock().unwrap());
        seen.sort();
        let expected: Vec<_> = (0..10).map(|i| (i, Some("detached".to_owned()))).collect();
        assert_eq!(seen, expected, "{flavor:?}");
        // Eleven accepted, the refused one not counted.
        assert_eq!(s.submitted, 11, "{flavor:?}");
    }
}

/// The async `shutdown` and `cancel`, awaited from every runtime, for every pool flavour: the
/// same outcomes as the blocking forms (every task drained, or the pending one cancelled; the
/// teardown hook run, its error returned and reported), and the thread gone when they resolve.
#[test]
fn async_shutdown_and_cancel_from_every_runtime_on_every_flavour() {
    for flavor in flavours() {
        each_runtime(move |_rt| async move {
            let torn_down = Arc::new(AtomicBool::new(false));
            let flag = torn_down.clone();
            let pool = ThreadedPool::builder()
                .name("async-stop")
                .flavor(flavor)
                .size(std::num::NonZeroUsize::MIN)
                .teardown(move |_| async move {
                    flag.store(true, Ordering::SeqCst);
                    Ok::<_, BoxError>(())
                })
                .build()
                .unwrap();
            let rt = pool.runtime().clone();
            let handles: Vec<_> = (0..5u32)
                .map(|i| {
                    let rt = rt.clone();
                    pool.spawn(async move {
                        rt.sleep(Duration::from_millis(1)).await;
                        (i, thread_name())
                    })
                    .unwrap()
                })
                .collect();
            // The thread's runtime is dropped when the thread ends: a clone kept here would
            // keep nothing alive on it, and the handles still resolve.
            drop(rt);
            pool.shutdown().await.unwrap();
            assert!(torn_down.load(Ordering::SeqCst), "{flavor:?}: teardown");
            for (i, h) in handles.into_iter().enumerate() {
                let (n, thread) = h.await.unwrap();
                assert_eq!(n, i as u32, "{flavor:?}");
                assert_eq!(thread.as_deref(), Some("async-stop"), "{flavor:?}");
            }

            let pool = ThreadedPool::builder().flavor(flavor).build().unwrap();
            let stuck = pool.spawn(std::future::pending::<()>()).unwrap();
            pool.cancel().await.unwrap();
            assert!(stuck.await.unwrap_err().is_cancelled(), "{flavor:?}");

            let seen = Arc::new(Mutex::new(Vec::new()));
            let sink = seen.clone();
            let pool = ThreadedPool::builder()
                .flavor(flavor)
                .error_reporter(ErrorReporter::new(move |u: Unhandled| {
                    sink.lock().unwrap().push(u.to_string())
                }))
                .teardown(|_| async { Err::<(), _>(std::io::Error::other("flush failed")) })
                .build()
                .unwrap();
            let err = pool.shutdown().await.unwrap_err();
            assert!(matches!(err, ThreadedPoolError::Teardown(_)), "{flavor:?}");
            assert_eq!(seen.lock().unwrap().len(), 1, "{flavor:?}");
        });
    }
}

/// Dropping an async shutdown midway does what dropping the pool does: the rest is cancelled
/// and the thread is stopped, and nothing hangs.
#[test]
fn an_async_shutdown_dropped_midway_cancels_the_rest() {
    for flavor in flavours() {
        let pool = ThreadedPool::builder().flavor(flavor).build().unwrap();
        let alive = Arc::new(());
        let held = alive.clone();
        let stuck = pool
            .spawn(async move {
                let _held = held;
                std::future::pending::<()>().await
            })
            .unwrap();
        let mut shutdown = Box::pin(pool.shutdown());
        // One poll: the pool is closed and draining, waiting for the stuck task.
        let waker = std::task::Waker::noop();
        let polled = shutdown
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
        assert!(polled.is_pending(), "{flavor:?}");
        drop(shutdown);
        assert!(
            stuck.join_blocking().unwrap_err().is_cancelled(),
            "{flavor:?}"
        );
        assert_eq!(
            Arc::strong_count(&alive),
            1,
            "{flavor:?}: the task was not dropped"
        );
    }
}

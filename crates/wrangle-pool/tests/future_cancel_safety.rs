//! R5: every named future of the pool, polled k times then dropped, on every runtime.

use std::num::NonZeroUsize;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_lite::future::poll_once;
use wrangle_pool::TaskPool;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, yield_now};

mod common;
use common::{assert_accounted, stuck_task};

/// A task of `ms` milliseconds that counts its end.
fn counted_sleep(
    rt: &impl Runtime,
    ms: u64,
    done: &Arc<AtomicUsize>,
) -> impl Future<Output = ()> + Send + 'static {
    let (rt, done) = (rt.clone(), done.clone());
    async move {
        rt.sleep(Duration::from_millis(ms)).await;
        done.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn run_polled_k_times_then_dropped_cancels_its_task() {
    each_runtime(|rt| async move {
        for k in 0..4 {
            let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
            let dropped = Arc::new(AtomicUsize::new(0));
            {
                let mut run = pin!(pool.run(stuck_task(&dropped)));
                for _ in 0..k {
                    assert!(poll_once(run.as_mut()).await.is_none(), "k={k}");
                    // Lets the task start (or not, on a loaded runtime: both must hold).
                    yield_now().await;
                }
            }
            pool.shutdown().await;
            assert_eq!(dropped.load(Ordering::SeqCst), 1, "k={k}");
            let s = pool.stats();
            assert_eq!((s.submitted, s.cancelled, s.completed), (1, 1, 0), "k={k}");
            assert_accounted(&s);
        }
    });
}

#[test]
fn a_run_of_a_closed_pool_resolves_to_closed_whenever_polled() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        pool.close();
        let run = pool.run(async { 1 });
        assert!(matches!(run.await, Err(wrangle_pool::TaskError::Closed)));
        assert_eq!(pool.stats().submitted, 0);
    });
}

#[test]
fn shutdown_polled_k_times_then_dropped_still_drains() {
    each_runtime(|rt| async move {
        for k in 0..4 {
            let pool = TaskPool::unbounded_with_runtime(rt.clone());
            let done = Arc::new(AtomicUsize::new(0));
            pool.spawn(counted_sleep(&rt, 10, &done)).unwrap().detach();
            {
                let mut shutdown = pin!(pool.shutdown());
                for _ in 0..k {
                    assert!(poll_once(shutdown.as_mut()).await.is_none(), "k={k}");
                }
            }
            // Closed when `shutdown` was called, polled or not.
            assert!(pool.is_closed(), "k={k}");
            let start = rt.now();
            pool.shutdown().await;
            assert_eq!(
                done.load(Ordering::SeqCst),
                1,
                "k={k}: the task was not drained"
            );
            if rt.is_virtual() {
                assert_eq!(rt.now() - start, Duration::from_millis(10), "k={k}");
            }
            let s = pool.stats();
            assert_eq!((s.completed, s.cancelled), (1, 0), "k={k}");
            assert_accounted(&s);
        }
    });
}

#[test]
fn shutdown_timeout_polled_k_times_then_dropped_cancels_nothing() {
    each_runtime(|rt| async move {
        for k in 0..4 {
            let pool = TaskPool::unbounded_with_runtime(rt.clone());
            let done = Arc::new(AtomicUsize::new(0));
            pool.spawn(counted_sleep(&rt, 10, &done)).unwrap().detach();
            {
                // A deadline no loaded machine reaches while this is polled.
                let mut shutdown = pin!(pool.shutdown_timeout(Duration::from_secs(3600)));
                for _ in 0..k {
                    assert!(poll_once(shutdown.as_mut()).await.is_none(), "k={k}");
                }
            }
            assert!(pool.is_closed(), "k={k}");
            pool.shutdown().await;
            assert_eq!(done.load(Ordering::SeqCst), 1, "k={k}");
            let s = pool.stats();
            assert_eq!((s.completed, s.cancelled), (1, 0), "k={k}");
            assert_accounted(&s);
        }
    });
}

#[test]
fn shutdown_timeout_dropped_while_it_cancels_still_cancels_everything() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
        let dropped = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            pool.spawn(stuck_task(&dropped)).unwrap().detach();
        }
        {
            let mut shutdown = pin!(pool.shutdown_timeout(Duration::ZERO));
            // Polled until the deadline passed and it took the tasks out (the two queued ones
            // are counted cancelled then), and it started cancelling the running one: dropped
            // then, the cancellation goes on without the waiting.
            while poll_once(shutdown.as_mut()).await.is_none() && pool.stats().cancelled < 2 {
                rt.sleep(Duration::from_millis(1)).await;
            }
        }
        // The worker is cancelled with its handle: the pool drains.
        pool.shutdown().await;
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
        let s = pool.stats();
        assert_eq!((s.submitted, s.cancelled), (3, 3), "{s:?}");
        assert_accounted(&s);
    });
}

#[test]
fn cancel_polled_k_times_then_dropped_still_cancels() {
    each_runtime(|rt| async move {
        for k in 0..4 {
            for started in [false, true] {
                let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
                let dropped = Arc::new(AtomicUsize::new(0));
                let h = pool.spawn(stuck_task(&dropped)).unwrap();
                if started {
                    while pool.stats().running == 0 {
                        yield_now().await;
                    }
                }
                {
                    let mut cancel = pin!(h.cancel());
                    for _ in 0..k {
                        if poll_once(cancel.as_mut()).await.is_some() {
                            break;
                        }
                    }
                }
                pool.shutdown().await;
                assert_eq!(dropped.load(Ordering::SeqCst), 1, "k={k} started={started}");
                let s = pool.stats();
                assert_eq!(
                    (s.cancelled, s.completed),
                    (1, 0),
                    "k={k} started={started}"
                );
                assert_accounted(&s);
            }
        }
    });
}

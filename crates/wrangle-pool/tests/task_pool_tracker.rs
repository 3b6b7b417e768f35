//! tokio-util's `TaskTracker` habits on `TaskPool` (issue 18, item 2): `wait_empty`,
//! `reopen`, `track_future` and `token`, on every runtime. The tests of tokio-util's
//! `task_tracker.rs` whose API has an equivalent here are ported (named after theirs where
//! they are); `TaskTracker::wait` is `wait_empty` here when the pool stays open, `shutdown`
//! when it closes.

use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_lite::FutureExt;
use futures_lite::future::{poll_once, zip};
use wrangle_pool::TaskPool;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{Runtime, yield_now};

mod common;
use common::{DropCount, assert_accounted, stuck_task};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Awaits `f`, failing the test instead of hanging if it never ends (a generous bound: on a
/// loaded machine real runtimes are slow, but never this slow).
async fn within<R: Runtime, T>(rt: &R, f: impl Future<Output = T>) -> T {
    match rt.timeout(Duration::from_secs(30), f).await {
        Ok(v) => v,
        Err(_) => panic!("did not end"),
    }
}

// tokio-util: `open_close`.
#[test]
fn open_close() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        assert!(!pool.is_closed());
        assert!(pool.close());
        assert!(pool.is_closed());
        assert!(!pool.close());
        assert!(pool.reopen());
        assert!(!pool.is_closed());
        assert!(!pool.reopen());
        assert_eq!(pool.run(async { 7 }).await.unwrap(), 7);
    });
}

// tokio-util: `notify_immediately`, `notify_immediately_on_reopen`.
#[test]
fn wait_empty_is_ready_at_once_on_an_empty_pool_open_closed_or_reopened() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        assert!(poll_once(pool.wait_empty()).await.is_some());
        pool.close();
        assert!(poll_once(pool.wait_empty()).await.is_some());
        pool.reopen();
        assert!(poll_once(pool.wait_empty()).await.is_some());
    });
}

// tokio-util: `notify_on_last_task`, with the pool open: waiting needs no close here.
#[test]
fn wait_empty_waits_for_the_last_tracked_future_without_closing() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        let tracked = pool.track_future(std::future::pending::<()>()).unwrap();
        let mut wait = pin!(pool.wait_empty());
        assert!(poll_once(wait.as_mut()).await.is_none());
        drop(tracked);
        assert!(poll_once(wait.as_mut()).await.is_some());
        assert!(!pool.is_closed());
    });
}

// tokio-util: `notify_on_last_task_respawn`, `no_notify_on_respawn_if_open`.
#[test]
fn wait_empty_waits_for_work_added_while_it_waits() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        let first = pool.track_future(std::future::pending::<()>()).unwrap();
        let mut wait = pin!(pool.wait_empty());
        assert!(poll_once(wait.as_mut()).await.is_none());
        let second = pool.track_future(std::future::pending::<()>()).unwrap();
        drop(first);
        assert!(poll_once(wait.as_mut()).await.is_none());
        drop(second);
        assert!(poll_once(wait.as_mut()).await.is_some());
    });
}

#[test]
fn wait_empty_waits_for_spawned_tasks_and_their_futures_to_be_gone() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::new(2).unwrap());
        let dropped = Arc::new(AtomicUsize::new(0));
        for d in [5, 10, 15] {
            let (rt, flag) = (rt.clone(), DropCount(dropped.clone()));
            pool.spawn_detached(async move {
                let _flag = flag;
                rt.sleep(ms(d)).await;
            })
            .unwrap();
        }
        within(&rt, pool.wait_empty()).await;
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
        let s = pool.stats();
        assert_eq!((s.completed, s.running, s.queued), (3, 0, 0));
        assert_accounted(&s);
        assert!(!pool.is_closed());
    });
}

#[test]
fn wait_empty_times_the_last_task_exactly_on_virtual_time() {
    virtual_time(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
        let start = rt.now();
        for d in [10, 20] {
            let rt = rt.clone();
            pool.spawn_detached(async move { rt.sleep(ms(d)).await })
                .unwrap();
        }
        pool.wait_empty().await;
        assert_eq!(rt.now() - start, ms(30));
        // Work submitted after it resolved is waited for by the next one.
        let rt2 = rt.clone();
        pool.spawn_detached(async move { rt2.sleep(ms(5)).await })
            .unwrap();
        pool.wait_empty().await;
        assert_eq!(rt.now() - start, ms(35));
    });
}

// tokio-util: `notify_on_close` with a tracked task: a shutdown waits for the tracked future.
#[test]
fn shutdown_waits_until_a_tracked_future_is_dropped() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        let tracked = pool.track_future(std::future::pending::<()>()).unwrap();
        let mut shutdown = pin!(pool.shutdown());
        assert!(poll_once(shutdown.as_mut()).await.is_none());
        assert!(pool.is_closed());
        drop(tracked);
        assert!(poll_once(shutdown.as_mut()).await.is_some());
        let s = pool.stats();
        assert_eq!((s.submitted, s.cancelled), (1, 1));
        assert_accounted(&s);
    });
}

#[test]
fn a_tracked_future_is_counted_from_submission_to_its_end() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        let done = pool.track_future(async { 1 }).unwrap();
        let dropped = pool.track_future(std::future::pending::<()>()).unwrap();
        let s = pool.stats();
        assert_eq!((s.submitted, s.running), (2, 2));
        assert_eq!(done.await, 1);
        drop(dropped);
        let s = pool.stats();
        assert_eq!(
            (s.submitted, s.running, s.completed, s.cancelled),
            (2, 0, 1, 1)
        );
        assert_accounted(&s);
    });
}

#[test]
fn a_panicking_tracked_future_is_counted_failed_and_re_raised() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        let tracked = pool
            .track_future(async {
                yield_now().await;
                panic!("tracked work failed");
            })
            .unwrap();
        let caught = AssertUnwindSafe(tracked).catch_unwind().await;
        assert!(caught.is_err());
        let s = pool.stats();
        assert_eq!((s.submitted, s.failed, s.running), (1, 1, 0));
        assert_accounted(&s);
        // The pool keeps working.
        assert!(poll_once(pool.wait_empty()).await.is_some());
        assert_eq!(pool.run(async { 2 }).await.unwrap(), 2);
    });
}

#[test]
fn a_tracked_future_whose_destructor_panics_counts_once_and_releases_the_pool() {
    each_runtime(|rt| async move {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("destructor failed");
            }
        }
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        let bomb = Bomb;
        let tracked = pool
            .track_future(async move {
                let _bomb = bomb;
                std::future::pending::<()>().await;
            })
            .unwrap();
        let raised = std::panic::catch_unwind(AssertUnwindSafe(move || drop(tracked)));
        assert!(raised.is_err());
        let s = pool.stats();
        assert_eq!(
            (s.submitted, s.failed, s.cancelled, s.running),
            (1, 1, 0, 0)
        );
        assert!(poll_once(pool.wait_empty()).await.is_some());
    });
}

#[test]
fn a_closed_pool_refuses_to_track_and_hands_the_future_back() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        pool.close();
        let refused = pool.track_future(async { "mine" }).unwrap_err();
        assert_eq!(refused.into_inner().await, "mine");
        assert_eq!(pool.stats().submitted, 0);
        pool.reopen();
        assert_eq!(pool.track_future(async { 3 }).unwrap().await, 3);
    });
}

#[test]
fn a_tracked_future_polled_beside_the_shutdown_runs_on_the_callers_task() {
    virtual_time(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        let start = rt.now();
        let local = std::rc::Rc::new(std::cell::Cell::new(0));
        let tracked = pool
            .track_future({
                let (rt, local) = (rt.clone(), local.clone());
                async move {
                    rt.sleep(ms(25)).await;
                    local.set(1); // not `Send`: it never left this task
                }
            })
            .unwrap();
        zip(tracked, pool.shutdown()).await;
        assert_eq!(local.get(), 1);
        assert_eq!(rt.now() - start, ms(25));
    });
}

#[test]
fn the_token_is_cancelled_by_close_and_renewed_by_reopen() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        let before = pool.token();
        assert!(!before.is_cancelled());
        // Cancelling a handed-out token is not closing the pool.
        let child = pool.token();
        child.cancel();
        assert!(!pool.is_closed());
        assert!(!before.is_cancelled());
        pool.close();
        assert!(before.is_cancelled());
        assert!(
            pool.token().is_cancelled(),
            "a closed pool's token is cancelled"
        );
        pool.reopen();
        let after = pool.token();
        assert!(!after.is_cancelled());
        assert!(
            before.is_cancelled(),
            "a token of the closed pool stays cancelled"
        );
        drop(pool);
        assert!(after.is_cancelled(), "dropping the pool closes it");
    });
}

#[test]
fn tasks_that_watch_the_token_finish_early_at_shutdown() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::new(4).unwrap());
        let stopped = Arc::new(AtomicUsize::new(0));
        for _ in 0..4 {
            let (token, stopped) = (pool.token(), stopped.clone());
            pool.spawn_detached(async move {
                token.cancelled().await;
                stopped.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        within(&rt, pool.shutdown()).await;
        assert_eq!(stopped.load(Ordering::SeqCst), 4);
        assert_eq!(pool.stats().completed, 4);
    });
}

#[test]
fn reopen_after_a_shutdown_deadline_keeps_timeouts_working() {
    virtual_time(|rt| async move {
        let pool = TaskPool::builder()
            .size(NonZeroUsize::new(2).unwrap())
            .timeout(ms(10))
            .runtime(rt.clone())
            .build();
        let dropped = Arc::new(AtomicUsize::new(0));
        // Armed a deadline, so the pool's reaper runs; then cancelled by the shutdown's.
        pool.spawn_detached(stuck_task(&dropped)).unwrap();
        yield_now().await;
        let _ = pool.shutdown_timeout(ms(1)).await;
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert!(pool.reopen());
        let start = rt.now();
        let slow = pool
            .spawn({
                let rt = rt.clone();
                async move { rt.sleep(Duration::from_secs(1)).await }
            })
            .unwrap();
        // The timeout of the reopened pool still fires, exactly.
        assert!(slow.await.unwrap_err().is_timeout());
        assert_eq!(rt.now() - start, ms(10));
        assert_eq!(pool.run(async { 5 }).await.unwrap(), 5);
    });
}

#[test]
fn reopen_racing_the_workers_leaving_strands_no_task() {
    each_runtime(|rt| async move {
        for size in [1, 2] {
            let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::new(size).unwrap());
            for round in 0..200 {
                pool.spawn_detached(async {}).unwrap();
                // The close sends the workers away; the reopen and the spawn race them.
                pool.close();
                pool.reopen();
                let h = pool.spawn(async move { round }).unwrap();
                assert_eq!(within(&rt, h).await.unwrap(), round, "size {size}");
            }
            within(&rt, pool.shutdown()).await;
            assert_accounted(&pool.stats());
        }
    });
}

#[test]
fn wait_empty_polled_k_times_then_dropped_changes_nothing() {
    each_runtime(|rt| async move {
        for k in 0..4 {
            let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
            let dropped = Arc::new(AtomicUsize::new(0));
            let h = pool.spawn(stuck_task(&dropped)).unwrap();
            {
                let mut wait = pin!(pool.wait_empty());
                for _ in 0..k {
                    assert!(poll_once(wait.as_mut()).await.is_none(), "k={k}");
                    yield_now().await;
                }
            }
            assert!(!pool.is_closed());
            assert_eq!(dropped.load(Ordering::SeqCst), 0, "k={k}");
            assert!(h.cancel().await.unwrap_err().is_cancelled());
            within(&rt, pool.wait_empty()).await;
        }
    });
}

#[test]
fn tracked_future_polled_k_times_then_dropped_is_counted_cancelled() {
    each_runtime(|rt| async move {
        for k in 0..4 {
            let pool = TaskPool::unbounded_with_runtime(rt.clone());
            let dropped = Arc::new(AtomicUsize::new(0));
            {
                let mut tracked = pin!(pool.track_future(stuck_task(&dropped)).unwrap());
                for _ in 0..k {
                    assert!(poll_once(tracked.as_mut()).await.is_none(), "k={k}");
                }
            }
            assert_eq!(dropped.load(Ordering::SeqCst), 1, "k={k}");
            let s = pool.stats();
            assert_eq!((s.submitted, s.cancelled, s.running), (1, 1, 0), "k={k}");
            assert!(poll_once(pool.wait_empty()).await.is_some(), "k={k}");
        }
    });
}

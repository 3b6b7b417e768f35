//! `PoolJoinHandle::abort`: a request that never waits; the handle still resolves.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use wrangle_pool::TaskPool;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::yield_now;

mod common;
use common::{assert_accounted, stuck_task};

#[test]
fn abort_of_a_running_task_resolves_its_handle_to_cancelled() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut h = pool.spawn(stuck_task(&dropped)).unwrap();
        while pool.stats().running == 0 {
            yield_now().await;
        }
        h.abort();
        h.abort(); // again: nothing more
        assert!(h.await.unwrap_err().is_cancelled());
        // The handle resolved once the task's future was gone.
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        let s = pool.stats();
        assert_eq!((s.cancelled, s.running), (1, 0));
        assert_accounted(&s);
    });
}

/// The task waits on its worker with nothing that will ever wake it: only the cancel's
/// wake-up of that worker (through the worker's registered waker, not a waker of the task's
/// own) can end it, and it comes from another thread, and from a dropped handle too.
#[test]
fn a_cancel_from_another_thread_wakes_the_worker_of_a_waiting_task() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::new(2).unwrap());
        let dropped = Arc::new(AtomicUsize::new(0));
        let aborted = pool.spawn(stuck_task(&dropped)).unwrap();
        let dropped_handle = pool.spawn(stuck_task(&dropped)).unwrap();
        while pool.stats().running < 2 {
            yield_now().await;
        }
        let aborted = std::thread::spawn(move || {
            let mut h = aborted;
            h.abort();
            drop(dropped_handle);
            h
        })
        .join()
        .unwrap();
        assert!(aborted.await.unwrap_err().is_cancelled());
        while dropped.load(Ordering::SeqCst) < 2 {
            yield_now().await;
        }
        // Both workers are free again.
        let (a, b) = (
            pool.spawn(async { 1 }).unwrap(),
            pool.spawn(async { 2 }).unwrap(),
        );
        assert_eq!((a.await.unwrap(), b.await.unwrap()), (1, 2));
        let s = pool.stats();
        assert_eq!((s.cancelled, s.completed, s.running), (2, 2, 0));
        assert_accounted(&s);
    });
}

#[test]
fn an_aborted_queued_task_never_runs_and_the_pool_goes_on() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
        let dropped = Arc::new(AtomicUsize::new(0));
        let blocker = pool.spawn(stuck_task(&dropped)).unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let mut queued = pool
            .spawn({
                let ran = ran.clone();
                async move { ran.store(true, Ordering::SeqCst) }
            })
            .unwrap();
        queued.abort();
        drop(blocker);
        assert!(queued.await.unwrap_err().is_cancelled());
        assert_eq!(pool.run(async { 5 }).await.unwrap(), 5);
        pool.shutdown().await;
        assert!(!ran.load(Ordering::SeqCst), "an aborted queued task ran");
        let s = pool.stats();
        assert_eq!((s.submitted, s.cancelled, s.completed), (3, 2, 1));
        assert_accounted(&s);
    });
}

#[test]
fn abort_after_the_end_keeps_the_output() {
    each_runtime(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        let mut h = pool.spawn(async { 9 }).unwrap();
        while !h.is_finished() {
            yield_now().await;
        }
        h.abort();
        assert_eq!(h.await.unwrap(), 9);
        assert_eq!(pool.stats().completed, 1);
    });
}

#[test]
fn an_aborted_handle_can_be_cancelled_or_detached() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut a = pool.spawn(stuck_task(&dropped)).unwrap();
        let mut b = pool.spawn(stuck_task(&dropped)).unwrap();
        a.abort();
        b.abort();
        assert!(a.cancel().await.unwrap_err().is_cancelled());
        b.detach(); // the cancellation goes on without the handle
        pool.shutdown().await;
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
        let s = pool.stats();
        assert_eq!(s.cancelled, 2);
        assert_accounted(&s);
    });
}

//! Issue 11, defect 9: a task that waits on a task it submitted to its own full pool can never
//! be woken. Where that is certain (the waiter runs on the only worker of a pool of size 1),
//! the wait ends at once with `TaskError::WouldDeadlock` instead of hanging silently, and the
//! pool keeps working.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wrangle_pool::{TaskError, TaskPool};
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;

fn one() -> NonZeroUsize {
    NonZeroUsize::new(1).unwrap()
}

#[test]
fn waiting_on_its_own_size_one_pool_is_an_error_not_a_hang() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), one());
        let inner_ran = Arc::new(AtomicBool::new(false));
        let outer = {
            let (p, ran) = (pool.clone(), inner_ran.clone());
            pool.spawn(async move {
                let inner = p
                    .spawn(async move { ran.store(true, Ordering::SeqCst) })
                    .unwrap();
                inner.await
            })
            .unwrap()
        };
        // A hang guard only: the wait must end at once.
        let r = rt
            .timeout(Duration::from_secs(60), outer)
            .await
            .expect("the task waiting on its own pool hung");
        assert!(matches!(r, Ok(Err(TaskError::WouldDeadlock))), "{r:?}");
        // The inner task was cancelled with its handle; the pool goes on.
        assert_eq!(pool.run(async { 3 }).await.unwrap(), 3);
        pool.shutdown().await;
        assert!(!inner_ran.load(Ordering::SeqCst));
        let s = pool.stats();
        assert_eq!(s.finished(), s.submitted);
    });
}

#[test]
fn run_from_inside_its_own_size_one_pool_is_an_error_too() {
    each_runtime(|rt| async move {
        let pool = TaskPool::with_runtime(rt.clone(), one());
        let p = pool.clone();
        let r = rt
            .timeout(
                Duration::from_secs(60),
                pool.run(async move { p.run(async { 1 }).await }),
            )
            .await
            .expect("hung");
        assert!(matches!(r, Ok(Err(TaskError::WouldDeadlock))), "{r:?}");
    });
}

#[test]
fn waiting_on_another_pool_or_on_a_larger_pool_is_fine() {
    each_runtime(|rt| async move {
        let (a, b) = (
            TaskPool::with_runtime(rt.clone(), one()),
            TaskPool::with_runtime(rt.clone(), NonZeroUsize::new(2).unwrap()),
        );
        let b2 = b.clone();
        assert_eq!(
            a.run(async move { b2.run(async { 2 }).await })
                .await
                .unwrap()
                .unwrap(),
            2
        );
        let b3 = b.clone();
        assert_eq!(
            b.run(async move { b3.run(async { 4 }).await })
                .await
                .unwrap()
                .unwrap(),
            4
        );
        // A handle made inside the pool and awaited outside it is an ordinary handle.
        let a2 = a.clone();
        let h = a
            .run(async move {
                let h = a2.spawn(async { 5 }).unwrap();
                // Handed out (in a tuple: not awaited by the task).
                (h,)
            })
            .await
            .unwrap();
        assert_eq!(h.0.await.unwrap(), 5);
    });
}

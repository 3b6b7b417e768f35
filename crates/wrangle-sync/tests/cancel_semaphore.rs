//! R5: the cancellation-safety matrix of `PrioritySemaphore`'s futures.

use std::pin::pin;
use std::sync::Arc;

use futures_lite::future::poll_once;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, yield_now};
use wrangle_sync::PrioritySemaphore;

#[test]
fn acquire_polled_k_times_then_dropped_leaks_nothing() {
    each_runtime(|_rt| async move {
        for k in 0..4 {
            for (permits, held) in [(1, 0), (1, 1), (3, 2), (3, 3)] {
                let sem = PrioritySemaphore::new(permits);
                let guard = sem.try_acquire_many(held).unwrap();
                {
                    let mut fut = pin!(sem.acquire_many(2.min(permits)));
                    for _ in 0..k {
                        if let Some(permit) = poll_once(fut.as_mut()).await {
                            drop(permit.unwrap());
                            break;
                        }
                    }
                }
                drop(guard);
                assert_eq!(sem.available_permits(), permits, "k={k} held={held}");
                assert_eq!(sem.stats().queued, 0);
            }
        }
    });
}

#[test]
fn waiter_cancelled_after_grant_returns_permit_and_wakes_next() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let mut first = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(poll_once(first.as_mut()).await.is_none());
        let second = rt.spawn(Arc::clone(&sem).acquire_owned());
        while sem.stats().queued < 2 {
            yield_now().await;
        }
        // The permit goes to `first`, which is never polled again.
        drop(held);
        assert_eq!(sem.available_permits(), 0);
        assert!(!second.is_finished());
        drop(first);
        let permit = second.await.unwrap().unwrap();
        assert_eq!(sem.stats().returned, 1);
        drop(permit);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn cancelled_big_waiter_unblocks_smaller_ones_behind_it() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(2));
        let held = sem.try_acquire().unwrap();
        let mut big = Box::pin(Arc::clone(&sem).acquire_many_owned(2));
        assert!(poll_once(big.as_mut()).await.is_none());
        let small = rt.spawn(Arc::clone(&sem).acquire_owned());
        while sem.stats().queued < 2 {
            yield_now().await;
        }
        drop(big);
        let permit = small.await.unwrap().unwrap();
        assert_eq!(sem.stats().cancelled, 1);
        drop((permit, held));
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn aborted_tasks_leave_permits_conserved() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(2));
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let sem = Arc::clone(&sem);
                let rt2 = rt.clone();
                rt.spawn(async move {
                    let _p = sem.acquire().priority(i % 3).await.unwrap();
                    rt2.sleep(std::time::Duration::from_millis(1)).await;
                })
            })
            .collect();
        yield_now().await;
        // Cancel every other task, wherever it is.
        let mut kept = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            if i % 2 == 0 {
                let _ = t.cancel().await;
            } else {
                kept.push(t);
            }
        }
        for t in kept {
            t.await.unwrap();
        }
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(sem.stats().queued, 0);
    });
}

//! Regression tests for bugs the fuzz harnesses (`fuzz_harness/`, R14) found, on every
//! runtime.

use std::sync::Arc;

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, yield_now};
use wrangle_sync::PrioritySemaphore;

/// Found by `semaphore_ops`: a newcomer at a better priority than every waiter, for which
/// enough permits were free, was queued anyway and waited until some unrelated release.
#[test]
fn newcomer_ahead_of_every_waiter_takes_free_permits_at_once() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(1));
        // A big request at priority 5 waits: it needs 3, one is free.
        let big = rt.spawn(Arc::clone(&sem).acquire_many_owned(3).priority(5));
        while sem.stats().queued < 1 {
            yield_now().await;
        }
        assert_eq!(sem.available_permits(), 1);
        // Priority 0 is ahead of it, and one permit is free: served now, not after a release.
        let urgent = sem.acquire().priority(0).await.unwrap();
        assert_eq!(sem.available_permits(), 0);
        // Equal priority is behind the waiter: it queues.
        let same = Arc::clone(&sem).acquire_owned().priority(5);
        let same = rt.spawn(same);
        while sem.stats().queued < 2 {
            yield_now().await;
        }
        drop(urgent);
        sem.add_permits(2).unwrap();
        drop(big.await.unwrap().unwrap());
        drop(same.await.unwrap().unwrap());
        assert_eq!(sem.available_permits(), 3);
    });
}

/// The same through `acquire_many(0)`: a zero-permit request ahead of every waiter completes
/// at once instead of waiting for a release that may never come.
#[test]
fn zero_permit_request_ahead_of_every_waiter_completes() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(0));
        let waiter = rt.spawn(Arc::clone(&sem).acquire_owned().priority(1));
        while sem.stats().queued < 1 {
            yield_now().await;
        }
        let none = sem.acquire_many(0).priority(0).await.unwrap();
        assert_eq!(none.num_permits(), 0);
        drop(none);
        sem.add_permits(1).unwrap();
        drop(waiter.await.unwrap().unwrap());
    });
}

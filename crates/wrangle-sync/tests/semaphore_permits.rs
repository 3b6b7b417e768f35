//! `PrioritySemaphore`'s permit management and blocking acquire (issue 18 item 6):
//! `forget_permits`, `add_permits`, `try_acquire_many_owned`, `acquire_blocking` and
//! `acquire_many_blocking`. The first tests are tokio's `sync_semaphore.rs` /
//! `sync_semaphore_owned.rs` cases for these methods, rewritten (tokio panics past its
//! maximum where wrangle returns `TooManyPermits`); the blocking ones run on every runtime,
//! threads and tasks in one queue.

use std::sync::Arc;

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, yield_now};
use wrangle_sync::{PrioritySemaphore, TryAcquireError};

#[test]
fn forget_permits_basic() {
    let sem = PrioritySemaphore::new(10);
    assert_eq!(sem.forget_permits(4), 4);
    assert_eq!(sem.available_permits(), 6);
    assert_eq!(sem.forget_permits(10), 6);
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.forget_permits(1), 0);
}

#[test]
fn update_permits_many() {
    let sem = PrioritySemaphore::new(5);
    sem.add_permits(5).unwrap();
    assert_eq!(sem.available_permits(), 10);
    assert_eq!(sem.forget_permits(3), 3);
    assert_eq!(sem.available_permits(), 7);
    sem.add_permits(3).unwrap();
    assert_eq!(sem.forget_permits(100), 10);
    assert_eq!(sem.available_permits(), 0);
    sem.add_permits(1).unwrap();
    assert_eq!(sem.try_acquire().unwrap().num_permits(), 1);
}

#[test]
fn forget_permits_leaves_held_permits_alone() {
    let sem = PrioritySemaphore::new(4);
    let held = sem.try_acquire_many(3).unwrap();
    assert_eq!(sem.forget_permits(4), 1);
    drop(held);
    assert_eq!(sem.available_permits(), 3);
    // The forgotten permit is gone from the maximum too: all of it can be added again.
    sem.add_permits(PrioritySemaphore::MAX_PERMITS - 3).unwrap();
    assert!(sem.add_permits(1).is_err());
}

#[test]
fn add_max_amount_permits() {
    let sem = PrioritySemaphore::new(0);
    sem.add_permits(PrioritySemaphore::MAX_PERMITS).unwrap();
    assert_eq!(sem.available_permits(), PrioritySemaphore::MAX_PERMITS);
}

#[test]
fn add_more_than_max_amount_permits_is_a_typed_error() {
    let sem = PrioritySemaphore::new(1);
    assert!(sem.add_permits(PrioritySemaphore::MAX_PERMITS).is_err());
    assert_eq!(sem.available_permits(), 1); // nothing was added
    let sem = PrioritySemaphore::new(PrioritySemaphore::MAX_PERMITS - 1);
    sem.add_permits(1).unwrap();
    assert!(sem.add_permits(1).is_err());
}

#[test]
fn try_acquire_many_owned() {
    let sem = Arc::new(PrioritySemaphore::new(42));
    {
        let p1 = Arc::clone(&sem).try_acquire_many_owned(42).unwrap();
        assert_eq!(p1.num_permits(), 42);
        assert_eq!(
            Arc::clone(&sem).try_acquire_owned().unwrap_err(),
            TryAcquireError::NoPermits
        );
        let p1 = std::thread::spawn(move || p1).join().unwrap(); // 'static and Send
        assert!(Arc::ptr_eq(p1.semaphore(), &sem));
    }
    let p2 = Arc::clone(&sem).try_acquire_many_owned(32).unwrap();
    assert!(Arc::clone(&sem).try_acquire_many_owned(11).is_err());
    assert_eq!(
        Arc::clone(&sem)
            .try_acquire_many_owned(10)
            .unwrap()
            .num_permits(),
        10
    );
    drop(p2);
    sem.close();
    assert_eq!(
        Arc::clone(&sem).try_acquire_many_owned(1).unwrap_err(),
        TryAcquireError::Closed
    );
}

#[test]
fn try_acquire_many_owned_does_not_overtake_a_waiter() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(3));
        let held = sem.try_acquire_many(2).unwrap();
        let waiter = rt.spawn(Arc::clone(&sem).acquire_many_owned(3));
        while sem.stats().queued == 0 {
            yield_now().await;
        }
        // One permit is free, but a waiter is ahead: strictly fair.
        assert_eq!(
            Arc::clone(&sem).try_acquire_many_owned(1).unwrap_err(),
            TryAcquireError::NoPermits
        );
        drop(held);
        assert_eq!(waiter.await.unwrap().unwrap().num_permits(), 3);
    });
}

#[test]
fn forgetting_free_permits_keeps_a_waiter_waiting_until_permits_are_added() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(3));
        let held = sem.try_acquire_many(2).unwrap();
        let waiter = rt.spawn(Arc::clone(&sem).acquire_many_owned(2));
        while sem.stats().queued == 0 {
            yield_now().await;
        }
        assert_eq!(sem.forget_permits(5), 1);
        held.forget(); // the pool is empty now
        assert_eq!(sem.stats().queued, 1);
        sem.add_permits(1).unwrap();
        assert_eq!(sem.stats().queued, 1); // 1 of 2
        sem.add_permits(1).unwrap();
        let permit = waiter.await.unwrap().unwrap();
        assert_eq!(permit.num_permits(), 2);
        drop(permit);
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn blocking_and_async_acquirers_share_one_fair_queue() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        // A thread queues first, then a task, then another thread: served in that order.
        let mut waiters = Vec::new();
        for (i, thread) in [(0, true), (1, false), (2, true)] {
            let (sem2, order2) = (Arc::clone(&sem), Arc::clone(&order));
            waiters.push(if thread {
                let h = rt.spawn_blocking(move || {
                    let _p = sem2.acquire_blocking().unwrap();
                    order2.lock().unwrap().push(i);
                });
                rt.spawn(async move { h.await.unwrap() })
            } else {
                rt.spawn(async move {
                    let _p = sem2.acquire().await.unwrap();
                    order2.lock().unwrap().push(i);
                })
            });
            while sem.stats().queued < i + 1 {
                yield_now().await;
            }
        }
        drop(held);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn acquire_many_blocking_waits_for_all_its_permits() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(2));
        let a = sem.try_acquire().unwrap();
        let worker = rt.spawn_blocking({
            let sem = Arc::clone(&sem);
            move || sem.acquire_many_blocking(4).map(|p| p.num_permits())
        });
        while sem.stats().queued == 0 {
            yield_now().await;
        }
        sem.add_permits(1).unwrap(); // 2 free of 4
        drop(a); // 3 free
        assert_eq!(sem.stats().queued, 1);
        sem.add_permits(1).unwrap(); // 4: served
        assert_eq!(worker.await.unwrap(), Ok(4));
        assert_eq!(sem.available_permits(), 4);
    });
}

#[test]
fn close_fails_a_blocked_thread_and_later_blocking_acquires() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(0));
        let worker = rt.spawn_blocking({
            let sem = Arc::clone(&sem);
            move || sem.acquire_blocking().map(|_| ())
        });
        while sem.stats().queued == 0 {
            yield_now().await;
        }
        assert!(sem.close());
        assert!(worker.await.unwrap().unwrap_err().is_closed());
        assert!(sem.acquire_blocking().unwrap_err().is_closed());
        assert_eq!(sem.stats().queued, 0);
    });
}

#[test]
fn acquire_many_blocking_past_the_maximum_fails_at_once() {
    let sem = PrioritySemaphore::new(1);
    let err = sem
        .acquire_many_blocking(PrioritySemaphore::MAX_PERMITS + 1)
        .unwrap_err();
    assert!(!err.is_closed());
    assert_eq!(sem.stats().queued, 0);
    assert_eq!(sem.acquire_many_blocking(1).unwrap().num_permits(), 1);
}

//! Behaviour of `PrioritySemaphore` on every runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, yield_now};
use wrangle_sync::{PrioritySemaphore, TryAcquireError};

/// Lets spawned tasks run until they are all parked (enough rounds for every runtime).
async fn settle<R: Runtime>(rt: &R) {
    for _ in 0..10 {
        yield_now().await;
    }
    rt.sleep(Duration::from_millis(5)).await;
}

#[test]
fn seed_order_lower_priority_first_fifo_among_equals() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(1));
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = sem.try_acquire().unwrap();
        let mut tasks = Vec::new();
        // Queued in the seed's order: (5, a), 1, (5, b), 0.
        for (name, p) in [("p5a", 5), ("p1", 1), ("p5b", 5), ("p0", 0)] {
            let (sem2, order) = (Arc::clone(&sem), Arc::clone(&order));
            tasks.push(rt.spawn(async move {
                let _permit = sem2.acquire().priority(p).await.unwrap();
                order.lock().unwrap().push(name);
            }));
            // Each waiter must be queued before the next one arrives.
            while sem.stats().queued < tasks.len() {
                settle(&rt).await;
            }
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["p0", "p1", "p5a", "p5b"]);
    });
}

#[test]
fn newcomer_never_overtakes_waiter_needing_more() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(2));
        let held = sem.try_acquire().unwrap();
        let big = rt.spawn(Arc::clone(&sem).acquire_many_owned(2));
        while sem.stats().queued < 1 {
            settle(&rt).await;
        }
        // One permit is free, but the queued waiter comes first.
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        let small = rt.spawn(Arc::clone(&sem).acquire_owned());
        settle(&rt).await;
        assert!(!small.is_finished());
        drop(held);
        let big_permit = big.await.unwrap().unwrap();
        assert_eq!(big_permit.num_permits(), 2);
        settle(&rt).await;
        assert!(!small.is_finished());
        drop(big_permit);
        drop(small.await.unwrap().unwrap());
    });
}

#[test]
fn default_priority_applies_to_calls_without_one() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(1));
        sem.set_default_priority(10);
        let held = sem.try_acquire().unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, p) in [("default", None), ("explicit9", Some(9))] {
            let (sem2, order) = (Arc::clone(&sem), Arc::clone(&order));
            tasks.push(rt.spawn(async move {
                let acquire = sem2.acquire();
                let acquire = match p {
                    Some(p) => acquire.priority(p),
                    None => acquire,
                };
                let _permit = acquire.await.unwrap();
                order.lock().unwrap().push(name);
            }));
            while sem.stats().queued < tasks.len() {
                settle(&rt).await;
            }
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["explicit9", "default"]);
    });
}

#[test]
fn close_fails_waiters_and_later_acquires() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let waiter = rt.spawn(Arc::clone(&sem).acquire_owned());
        while sem.stats().queued < 1 {
            settle(&rt).await;
        }
        sem.close();
        assert!(waiter.await.unwrap().is_err());
        assert!(sem.acquire().await.is_err());
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
        // A permit handed out before the close is still returned.
        drop(held);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn add_permits_serves_queued_waiters() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(0));
        let a = rt.spawn(Arc::clone(&sem).acquire_owned());
        let b = rt.spawn(Arc::clone(&sem).acquire_owned());
        while sem.stats().queued < 2 {
            settle(&rt).await;
        }
        sem.add_permits(2).unwrap();
        let (pa, pb) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
        assert_eq!(sem.available_permits(), 0);
        drop((pa, pb));
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(sem.stats().acquired, 2);
    });
}

#[test]
fn forget_removes_permits_for_good() {
    each_runtime(|_rt| async move {
        let sem = PrioritySemaphore::new(3);
        sem.acquire_many(2).await.unwrap().forget();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn concurrent_tasks_never_exceed_permits() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(3));
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let high = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (sem, inside, high, rt2) = (
                    Arc::clone(&sem),
                    Arc::clone(&inside),
                    Arc::clone(&high),
                    rt.clone(),
                );
                rt.spawn(async move {
                    use std::sync::atomic::Ordering::SeqCst;
                    let _p = sem.acquire().priority(i % 4).await.unwrap();
                    let now = inside.fetch_add(1, SeqCst) + 1;
                    high.fetch_max(now, SeqCst);
                    rt2.sleep(Duration::from_millis(1)).await;
                    inside.fetch_sub(1, SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert!(high.load(std::sync::atomic::Ordering::SeqCst) <= 3);
        assert_eq!(sem.available_permits(), 3);
        assert_eq!(sem.stats().acquired, 40);
    });
}

#[test]
fn changing_priority_of_a_queued_waiter_moves_it() {
    each_runtime(|rt| async move {
        let sem = Arc::new(PrioritySemaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let mut late = sem.acquire().priority(5);
        assert!(futures_lite::future::poll_once(&mut late).await.is_none());
        let other = rt.spawn(Arc::clone(&sem).acquire_owned().priority(3));
        while sem.stats().queued < 2 {
            settle(&rt).await;
        }
        // Moved ahead of the priority-3 waiter.
        let late = late.priority(1);
        drop(held);
        let permit = late.await.unwrap();
        settle(&rt).await;
        assert!(!other.is_finished());
        drop(permit);
        drop(other.await.unwrap().unwrap());
    });
}

/// `SemaphoreStats` invariant: with no permit held and nobody waiting, `available` is the
/// permits created, plus those added, minus those forgotten; a cancelled waiter strands none.
#[test]
fn stats_invariant_no_permit_is_stranded() {
    each_runtime(|_rt| async move {
        let sem = PrioritySemaphore::new(3);
        let held = sem.try_acquire_many(2).unwrap();
        let mut waiter = Box::pin(sem.acquire_many(3));
        assert!(futures_lite::future::poll_once(&mut waiter).await.is_none());
        assert_eq!(sem.stats().queued, 1);
        drop(waiter);
        sem.add_permits(1).unwrap();
        let forgotten = sem.try_acquire().unwrap();
        forgotten.forget();
        drop(held);
        let s = sem.stats();
        assert_eq!((s.queued, s.cancelled), (0, 1));
        assert_eq!(s.available, 3 + 1 - 1);
    });
}

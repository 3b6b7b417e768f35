//! R4: loom models of the priority semaphore (grant vs cancel vs release) and of the dual
//! queue's waiter lists (close vs put/get, woken-then-cancelled waiters, blocking waiters, a
//! woken waiter never polled again).
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p wrangle-sync --test loom --release`.
#![cfg(loom)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;

use loom::thread;
use wrangle_sync::PrioritySemaphore;

fn poll_once<F: Future>(fut: Pin<&mut F>) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[test]
fn release_races_with_acquire_permits_conserved() {
    loom::model(|| {
        let sem = Arc::new(PrioritySemaphore::new(1));
        let p = Arc::clone(&sem).try_acquire_owned().unwrap();
        let t = thread::spawn(move || drop(p));
        let sem2 = Arc::clone(&sem);
        let got = loom::future::block_on(async move { sem2.acquire().await.map(|p| p.forget()) });
        assert!(got.is_ok());
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 0);
    });
}

/// The fast/slow handover: a release and a fast-path acquire (one compare-and-swap each, while
/// nobody waits) race a caller that queues (setting the waiters flag under the lock). No
/// wakeup is lost (loom reports a deadlock otherwise), permits are conserved, and the
/// acquisitions of both paths are counted exactly.
#[test]
fn fast_paths_race_a_new_waiter_no_lost_wakeup() {
    loom::model(|| {
        let sem = Arc::new(PrioritySemaphore::new(1));
        let held = Arc::clone(&sem).try_acquire_owned().unwrap();
        let sem2 = Arc::clone(&sem);
        let t = thread::spawn(move || {
            drop(held);
            // Either overtakes nobody (the waiter has not queued yet) or is refused.
            sem2.try_acquire().map(drop).is_ok()
        });
        let sem3 = Arc::clone(&sem);
        loom::future::block_on(async move { sem3.acquire().await.map(|p| p.forget()) }).unwrap();
        let took = t.join().unwrap();
        assert_eq!(sem.available_permits(), 0);
        let stats = sem.stats();
        assert_eq!(stats.queued, 0);
        assert_eq!(stats.acquired, 2 + u64::from(took));
    });
}

#[test]
fn cancel_after_grant_races_with_release() {
    loom::model(|| {
        let sem = Arc::new(PrioritySemaphore::new(1));
        let held = Arc::clone(&sem).try_acquire_owned().unwrap();
        let sem2 = Arc::clone(&sem);
        let waiter = thread::spawn(move || {
            let mut fut = pin!(sem2.acquire());
            // Queue, then give up whatever happened meanwhile.
            if let Some(r) = poll_once(fut.as_mut()) {
                drop(r.unwrap());
            }
        });
        drop(held);
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.stats().queued, 0);
    });
}

#[test]
fn close_races_with_waiter() {
    loom::model(|| {
        let sem = Arc::new(PrioritySemaphore::new(0));
        let sem2 = Arc::clone(&sem);
        let closer = thread::spawn(move || sem2.close());
        let r = loom::future::block_on(sem.acquire());
        assert!(r.is_err());
        assert!(closer.join().unwrap(), "the only close call closes it");
        assert_eq!(sem.stats().queued, 0);
    });
}

#[test]
fn two_waiters_and_a_release_serve_exactly_one() {
    loom::model(|| {
        let sem = Arc::new(PrioritySemaphore::new(0));
        let sem_a = Arc::clone(&sem);
        let a = thread::spawn(move || {
            let mut fut = pin!(sem_a.acquire().priority(1));
            poll_once(fut.as_mut())
                .map(|r| r.unwrap().forget())
                .is_some()
        });
        let sem_b = Arc::clone(&sem);
        let b = thread::spawn(move || sem_b.add_permits(1));
        let got_a = a.join().unwrap();
        b.join().unwrap().unwrap();
        let left = sem.available_permits();
        // Either `a` took the permit, or it was returned when `a` gave up.
        assert_eq!(left + usize::from(got_a), 1);
    });
}

#[test]
fn queue_close_races_with_put_and_get_nothing_lost() {
    use wrangle_sync::{DualQueue, QueueClosed};
    loom::model(|| {
        let q = DualQueue::bounded(std::num::NonZeroUsize::MIN);
        let producer = thread::spawn({
            let q = q.clone();
            move || q.try_put(1u8).is_ok()
        });
        let closer = thread::spawn({
            let q = q.clone();
            move || q.close()
        });
        let got = loom::future::block_on(q.get());
        let put = producer.join().unwrap();
        assert!(closer.join().unwrap(), "the only close call closes it");
        match got {
            Ok(v) => {
                assert!(put);
                assert_eq!(v, 1);
            }
            Err(closed) => {
                // The awaited get fails only when the queue is closed and drained.
                let _: QueueClosed = closed;
                // A put that succeeded before the close is still there to drain.
                assert_eq!(q.try_get().is_ok(), put);
            }
        }
    });
}

#[test]
fn queue_reserve_then_close_keeps_the_item() {
    use wrangle_sync::DualQueue;
    loom::model(|| {
        let q = DualQueue::unbounded();
        let sender = thread::spawn({
            let q = q.clone();
            move || {
                if let Ok(permit) = loom::future::block_on(q.reserve()) {
                    permit.put(7u8);
                    true
                } else {
                    false
                }
            }
        });
        q.close();
        let sent = sender.join().unwrap();
        assert_eq!(q.try_get().is_ok(), sent);
    });
}

#[test]
fn queue_waiting_getter_never_misses_a_put() {
    use wrangle_sync::DualQueue;
    loom::model(|| {
        let q = DualQueue::bounded(std::num::NonZeroUsize::MIN);
        let producer = thread::spawn({
            let q = q.clone();
            move || {
                loom::future::block_on(q.put(1u8)).unwrap();
                loom::future::block_on(q.put(2u8)).unwrap();
            }
        });
        let a = loom::future::block_on(q.get()).unwrap();
        let b = loom::future::block_on(q.get()).unwrap();
        producer.join().unwrap();
        assert_eq!((a, b), (1, 2));
    });
}

#[test]
fn queue_cancelled_woken_getter_passes_the_wakeup_on() {
    use wrangle_sync::DualQueue;
    loom::model(|| {
        let q = DualQueue::unbounded();
        // `a` waits once and gives up; `b` waits for good.
        let a = thread::spawn({
            let q = q.clone();
            move || {
                let mut fut = pin!(q.get());
                poll_once(fut.as_mut()).map(Result::unwrap)
            }
        });
        let b = thread::spawn({
            let q = q.clone();
            move || loom::future::block_on(q.get()).unwrap()
        });
        q.try_put(1u8).unwrap();
        let got_a = a.join().unwrap();
        if got_a.is_some() {
            q.try_put(2).unwrap();
        }
        // If `a` was woken for item 1 and dropped, `b` must have inherited the wake-up: a
        // lost one shows up as a deadlock.
        let got_b = b.join().unwrap();
        assert_eq!(got_b, if got_a.is_some() { 2 } else { 1 });
        assert_eq!(q.stats().getters_waiting, 0);
        assert!(q.is_empty());
    });
}

#[test]
fn queue_cancelled_woken_putter_passes_the_slot_on() {
    use wrangle_sync::DualQueue;
    loom::model(|| {
        let q = DualQueue::bounded(std::num::NonZeroUsize::MIN);
        q.try_put(0u8).unwrap();
        let a = thread::spawn({
            let q = q.clone();
            move || {
                let mut fut = pin!(q.put(1));
                poll_once(fut.as_mut()).is_some()
            }
        });
        let b = thread::spawn({
            let q = q.clone();
            move || loom::future::block_on(q.put(2)).unwrap()
        });
        assert_eq!(q.try_get(), Ok(0));
        let put_a = a.join().unwrap();
        if put_a {
            assert_eq!(loom::future::block_on(q.get()), Ok(1));
        }
        b.join().unwrap();
        assert_eq!(q.try_get(), Ok(2));
        assert_eq!(q.stats().putters_waiting, 0);
    });
}

#[test]
fn queue_blocking_get_races_put() {
    use wrangle_sync::DualQueue;
    loom::model(|| {
        let q = DualQueue::unbounded();
        let getter = thread::spawn({
            let q = q.clone();
            move || q.get_blocking()
        });
        q.try_put(3u8).unwrap();
        assert_eq!(getter.join().unwrap(), Ok(3));
        assert_eq!(q.stats().getters_waiting, 0);
    });
}

#[test]
fn queue_blocking_put_races_get_and_close() {
    use wrangle_sync::{DualQueue, GetError};
    loom::model(|| {
        let q = DualQueue::bounded(std::num::NonZeroUsize::MIN);
        q.try_put(0u8).unwrap();
        let putter = thread::spawn({
            let q = q.clone();
            move || q.put_blocking(1).is_ok()
        });
        assert_eq!(q.try_get(), Ok(0));
        q.close();
        let put = putter.join().unwrap();
        // Either the put got the freed slot before the close, or it failed: nothing else.
        assert_eq!(q.try_get().is_ok(), put);
        assert_eq!(q.try_get(), Err(GetError::Closed));
        assert_eq!(q.stats().putters_waiting, 0);
    });
}

#[test]
fn queue_two_putters_hand_the_turn_on() {
    use wrangle_sync::DualQueue;
    loom::model(|| {
        let q = DualQueue::bounded(std::num::NonZeroUsize::new(2).unwrap());
        q.try_put(0u8).unwrap();
        q.try_put(0).unwrap();
        let putters: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|v| {
                let q = q.clone();
                thread::spawn(move || loom::future::block_on(q.put(v)).unwrap())
            })
            .collect();
        // Two slots free up: each wakes one putter.
        assert_eq!(q.try_get(), Ok(0));
        assert_eq!(q.try_get(), Ok(0));
        for p in putters {
            p.join().unwrap();
        }
        let mut got = [q.try_get().unwrap(), q.try_get().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn queue_stalled_woken_putter_holds_up_no_other_producer() {
    use wrangle_sync::DualQueue;
    loom::model(|| {
        let q = DualQueue::bounded(std::num::NonZeroUsize::new(2).unwrap());
        q.try_put(0u8).unwrap();
        q.try_put(1).unwrap();
        // Registered first, then never polled again (its waker does nothing).
        let mut stalled = Box::pin(q.put(9));
        assert!(poll_once(stalled.as_mut()).is_none());
        let putter = thread::spawn({
            let q = q.clone();
            move || q.put_blocking(2).unwrap()
        });
        let getter = thread::spawn({
            let q = q.clone();
            move || [(); 3].map(|()| q.get_blocking().unwrap())
        });
        putter.join().unwrap();
        assert_eq!(getter.join().unwrap(), [0, 1, 2]);
        drop(stalled);
        assert_eq!(q.stats().putters_waiting, 0);
    });
}

#[test]
fn queue_woken_thread_putters_hand_the_turn_on() {
    use wrangle_sync::DualQueue;
    loom::model(|| {
        let q = DualQueue::bounded(std::num::NonZeroUsize::new(2).unwrap());
        q.try_put(0u8).unwrap();
        q.try_put(0).unwrap();
        let putters: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|v| {
                let q = q.clone();
                thread::spawn(move || q.put_blocking(v).unwrap())
            })
            .collect();
        // Two slots free up while the threads may or may not wait yet: a woken thread stands
        // for the slots freed before it runs, and hands the rest on.
        assert_eq!(q.try_get(), Ok(0));
        assert_eq!(q.try_get(), Ok(0));
        for p in putters {
            p.join().unwrap();
        }
        let mut got = [q.try_get().unwrap(), q.try_get().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(q.stats().putters_waiting, 0);
    });
}

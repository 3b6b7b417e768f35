//! R4: loom models of the priority semaphore (grant vs cancel vs release).
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
        assert_eq!(sem.stats().waiting, 0);
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
        closer.join().unwrap();
        assert_eq!(sem.stats().waiting, 0);
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
        b.join().unwrap();
        let left = sem.available_permits();
        // Either `a` took the permit, or it was returned when `a` gave up.
        assert_eq!(left + usize::from(got_a), 1);
    });
}

#[test]
fn queue_close_races_with_put_and_get_nothing_lost() {
    use wrangle_sync::{DualQueue, GetError};
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
        closer.join().unwrap();
        match got {
            Ok(v) => {
                assert!(put);
                assert_eq!(v, 1);
            }
            Err(e) => {
                assert_eq!(e, GetError::Closed);
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

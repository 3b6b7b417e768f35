//! R4: loom models of the per-key single flight: a leader dropped mid-load while a waiter
//! parks, a load ending while a waiter joins, and `invalidate` racing with the end of a load.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p wrangle-cache --test loom --release`.
#![cfg(loom)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use loom::thread;
use wrangle_cache::{Cache, Policy};
use wrangle_rt::VirtualRuntime;

fn poll_once<F: Future>(fut: Pin<&mut F>) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match fut.poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Pending on its first poll, then ready with `value`.
struct PendingOnce(Option<u8>, bool);

impl Future for PendingOnce {
    type Output = u8;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u8> {
        if self.1 {
            Poll::Ready(self.0.take().expect("polled after completion"))
        } else {
            self.1 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn cache() -> Cache<u8, u8, VirtualRuntime> {
    // The exact LRU store: its lock is the crate's, so loom sees it.
    Cache::builder()
        .max_entries(4)
        .policy(Policy::Lru)
        .runtime(VirtualRuntime::new())
        .build()
        .unwrap()
}

#[test]
fn leader_dropped_mid_load_while_a_waiter_joins() {
    loom::model(|| {
        let cache = cache();
        let c2 = cache.clone();
        let leader = thread::spawn(move || {
            let mut fut = pin!(c2.get_or_insert_with(1, || PendingOnce(Some(1), false)));
            // Starts the load (or finds the other caller's value), then is cancelled.
            if let Some(found) = poll_once(fut.as_mut()) {
                assert_eq!(found.unwrap(), 2, "only the other caller's load can end");
            }
        });
        let got =
            loom::future::block_on(cache.get_or_insert_with(1, || PendingOnce(Some(2), false)));
        leader.join().unwrap();
        // The dropped leader never stored anything: the waiter got its own load.
        assert_eq!(got.unwrap(), 2);
        let s = cache.stats();
        assert!(s.started <= 2 && s.completed == 1, "{s:?}");
        assert_eq!(s.started, s.completed + s.failed + s.cancelled);
        assert_eq!(cache.get(&1), Some(2));
    });
}

#[test]
fn load_ends_while_a_waiter_joins() {
    loom::model(|| {
        let cache = cache();
        let c2 = cache.clone();
        let leader = thread::spawn(move || {
            loom::future::block_on(c2.get_or_insert_with(1, || PendingOnce(Some(1), false)))
        });
        let got =
            loom::future::block_on(cache.get_or_insert_with(1, || PendingOnce(Some(2), false)));
        let led = leader.join().unwrap().unwrap();
        // One load: both callers see the same value, whoever led.
        assert_eq!(got.unwrap(), led);
        let s = cache.stats();
        assert_eq!((s.started, s.completed), (1, 1), "{s:?}");
    });
}

#[test]
fn invalidate_races_with_the_end_of_a_load() {
    loom::model(|| {
        let cache = cache();
        let c2 = cache.clone();
        let loader = thread::spawn(move || {
            loom::future::block_on(c2.get_or_insert_with(1, || PendingOnce(Some(1), false)))
        });
        let c3 = cache.clone();
        let invalidator = thread::spawn(move || c3.invalidate(&1));
        assert_eq!(loader.join().unwrap().unwrap(), 1);
        let removed = invalidator.join().unwrap();
        // Either the invalidation removed the stored value, or it came first and the load
        // (detached from the key) stored nothing, or it came before the load began.
        let held = cache.get(&1);
        assert!(
            !(removed && held.is_some()),
            "an invalidated value came back"
        );
    });
}

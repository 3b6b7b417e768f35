//! R5: every public future polled k times, then dropped; the state is what `# Cancel safety`
//! says: a dropped waiter leaves nothing behind, a dropped leader hands its load over.
//! R2: a memoizer dropped with pending work drops every future of its tasks.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{assert_quiescent, eventually};
use futures_lite::future::{poll_once, yield_now};
use wrangle_cache::{Cache, Memoized};
use wrangle_rt::testing::each_runtime;

/// A load that needs `polls` polls before it yields `value`.
async fn slow(polls: u32, value: u32) -> u32 {
    for _ in 0..polls {
        yield_now().await;
    }
    value
}

/// Polls `fut` `k` times (stopping if it finishes) and reports whether it finished.
async fn poll_k<F: Future>(fut: std::pin::Pin<&mut F>, k: u32) -> bool {
    let mut fut = fut;
    for _ in 0..k {
        if poll_once(fut.as_mut()).await.is_some() {
            return true;
        }
    }
    false
}

#[test]
fn get_or_insert_with_leader_dropped_after_k_polls_hands_over() {
    each_runtime(|_rt| async move {
        for k in 0..5 {
            let cache: Cache<u32, u32> = Cache::new(10);
            let runs = Arc::new(AtomicU32::new(0));
            let init = |v| {
                let runs = runs.clone();
                move || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    slow(10, v)
                }
            };
            let mut waiter = Box::pin(cache.get_or_insert_with(1, init(2)));
            {
                let mut leader = pin!(cache.get_or_insert_with(1, init(1)));
                assert!(!poll_k(leader.as_mut(), k).await);
                if k > 0 {
                    assert!(
                        poll_once(waiter.as_mut()).await.is_none(),
                        "parked behind the leader"
                    );
                }
            }
            let v = waiter.await.unwrap();
            assert_eq!(v, 2, "the waiter's own load (k = 0: it led from the start)");
            assert_eq!(cache.get(&1), Some(2));
            let s = cache.stats();
            assert_eq!(s.cancelled, u64::from(k > 0), "k = {k}: {s:?}");
            assert_eq!(runs.load(Ordering::SeqCst), if k > 0 { 2 } else { 1 });
            assert_quiescent(&s);
        }
    });
}

#[test]
fn try_get_or_insert_with_waiter_dropped_after_k_polls_leaves_nothing() {
    each_runtime(|_rt| async move {
        for k in 0..5 {
            let cache: Cache<u32, u32> = Cache::new(10);
            let mut leader = Box::pin(
                cache.try_get_or_insert_with(1, || async { Ok::<_, String>(slow(10, 1).await) }),
            );
            assert!(poll_once(leader.as_mut()).await.is_none());
            {
                let waiter =
                    pin!(cache.try_get_or_insert_with(1, || async {
                        Err::<u32, _>("never".to_string())
                    }));
                assert!(!poll_k(waiter, k).await);
            }
            assert_eq!(leader.await.unwrap(), 1);
            let s = cache.stats();
            assert_eq!((s.started, s.completed, s.cancelled), (1, 1, 0));
            assert_quiescent(&s);
            // Nothing left in flight: a new caller hits.
            let again =
                cache.try_get_or_insert_with(1, || async { Err::<u32, _>("x".to_string()) });
            assert_eq!(again.await.unwrap(), 1);
        }
    });
}

#[test]
fn every_waiter_dropped_with_the_leader_leaves_the_key_loadable() {
    each_runtime(|_rt| async move {
        let cache: Cache<u32, u32> = Cache::new(10);
        {
            let mut leader = Box::pin(cache.get_or_insert_with(1, || slow(100, 1)));
            let mut waiters: Vec<_> = (0..3)
                .map(|_| Box::pin(cache.get_or_insert_with(1, || slow(100, 2))))
                .collect();
            assert!(poll_once(leader.as_mut()).await.is_none());
            for w in &mut waiters {
                assert!(poll_once(w.as_mut()).await.is_none());
            }
            drop(leader);
            // Woken to take over, then dropped before running: nobody leads any more.
            drop(waiters);
        }
        assert_eq!(cache.get_or_insert_with(1, || slow(1, 3)).await.unwrap(), 3);
        let s = cache.stats();
        assert_eq!((s.started, s.cancelled, s.completed), (2, 1, 1));
        assert_quiescent(&s);
    });
}

#[test]
fn memoized_call_leader_and_waiter_dropped_after_k_polls() {
    each_runtime(|rt| async move {
        for k in 0..4 {
            let runs = Arc::new(AtomicU32::new(0));
            let memo = Memoized::builder({
                let runs = runs.clone();
                move |x: u32| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    async move { Ok::<_, Infallible>(slow(10, x).await) }
                }
            })
            .runtime(rt.clone())
            .build()
            .unwrap();
            let mut waiter = Box::pin(memo.call(5));
            {
                let leader = pin!(memo.call(5));
                assert!(!poll_k(leader, k).await);
                if k > 0 {
                    assert!(poll_once(waiter.as_mut()).await.is_none());
                }
            }
            {
                // A late caller takes the run over and is dropped in turn.
                let other = pin!(memo.call(5));
                poll_k(other, k).await;
            }
            assert_eq!(waiter.await.unwrap(), 5);
            let s = memo.stats();
            assert_quiescent(&s);
            assert!(runs.load(Ordering::SeqCst) <= 3);
            assert_eq!(memo.call(5).await.unwrap(), 5);
        }
    });
}

#[test]
fn memoized_start_dropped_after_k_polls_keeps_the_run_going() {
    each_runtime(|rt| async move {
        for k in 0..4 {
            let runs = Arc::new(AtomicU32::new(0));
            let memo = Memoized::builder({
                let runs = runs.clone();
                move |x: u32| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    async move { Ok::<_, Infallible>(slow(10, x).await) }
                }
            })
            .runtime(rt.clone())
            .build()
            .unwrap();
            {
                let started = pin!(memo.start(9));
                poll_k(started, k).await;
            }
            eventually(&rt, || memo.stats().completed == 1).await;
            assert_eq!(memo.call(9).await.unwrap(), 9);
            assert_eq!(runs.load(Ordering::SeqCst), 1);
            assert_quiescent(&memo.stats());
        }
    });
}

//! R9: per-key single flight on every runtime: many callers, one load; a dropped leader;
//! failing and panicking loaders.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{assert_quiescent, eventually};
use wrangle_cache::{Cache, LoadError};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, Runtime};

type Gate = async_channel::Receiver<()>;

fn gate() -> (async_channel::Sender<()>, Gate) {
    async_channel::bounded(1)
}

/// Spawns `n` callers of key 1; each loader counts itself and waits for the gate.
fn spawn_callers(
    rt: &DefaultRuntime,
    cache: &Cache<u32, u64>,
    n: usize,
    loads: &Arc<AtomicU32>,
    gate: &Gate,
) -> Vec<wrangle_rt::JoinHandle<Result<u64, wrangle_rt::PanicPayload>>> {
    (0..n)
        .map(|i| {
            let (cache, loads, gate) = (cache.clone(), Arc::clone(loads), gate.clone());
            rt.spawn(async move {
                cache
                    .get_or_insert_with(1, || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        let _ = gate.recv().await;
                        i as u64
                    })
                    .await
            })
        })
        .collect()
}

#[test]
fn a_thousand_callers_of_one_missing_key_make_one_load() {
    each_runtime(|rt| async move {
        let cache: Cache<u32, u64> = Cache::with_runtime(rt.clone(), 100);
        let loads = Arc::new(AtomicU32::new(0));
        let (open, gate) = gate();
        let callers = spawn_callers(&rt, &cache, 1000, &loads, &gate);
        eventually(&rt, || cache.stats().misses == 1000).await;
        drop(open); // the load ends
        let mut values = Vec::new();
        for c in callers {
            values.push(c.await.unwrap().unwrap());
        }
        assert!(values.windows(2).all(|w| w[0] == w[1]), "one value for all");
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let s = cache.stats();
        assert_eq!(
            (s.started, s.completed, s.misses, s.entries),
            (1, 1, 1000, 1)
        );
        assert_quiescent(&s);
        assert_eq!(cache.get(&1), Some(values[0]));
    });
}

#[test]
fn a_leader_dropped_mid_load_hands_the_load_to_a_waiter() {
    each_runtime(|rt| async move {
        let cache: Cache<u32, u64> = Cache::with_runtime(rt.clone(), 100);
        let loads = Arc::new(AtomicU32::new(0));
        let (open, gate) = gate();
        let mut callers = spawn_callers(&rt, &cache, 1, &loads, &gate);
        eventually(&rt, || loads.load(Ordering::SeqCst) == 1).await;
        callers.extend(spawn_callers(&rt, &cache, 50, &loads, &gate));
        eventually(&rt, || cache.stats().misses == 51).await;
        let leader = callers.remove(0);
        leader.cancel().await.unwrap_err(); // cancelled mid-load, and gone
        eventually(&rt, || loads.load(Ordering::SeqCst) == 2).await;
        drop(open);
        for c in callers {
            c.await.unwrap().unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 2, "one load, one take-over");
        let s = cache.stats();
        assert_eq!((s.started, s.cancelled, s.completed), (2, 1, 1));
        assert_quiescent(&s);
    });
}

#[test]
fn a_dropped_leader_without_waiters_leaves_nothing_behind() {
    each_runtime(|rt| async move {
        let cache: Cache<u32, u64> = Cache::with_runtime(rt.clone(), 100);
        let loads = Arc::new(AtomicU32::new(0));
        let (_open, gate) = gate();
        let leader = spawn_callers(&rt, &cache, 1, &loads, &gate).remove(0);
        eventually(&rt, || loads.load(Ordering::SeqCst) == 1).await;
        leader.cancel().await.unwrap_err();
        // Nothing poisoned: the next caller loads.
        let v = cache.get_or_insert_with(1, || async { 9 }).await.unwrap();
        assert_eq!(v, 9);
        let s = cache.stats();
        assert_eq!((s.started, s.cancelled, s.completed), (2, 1, 1));
        assert_quiescent(&s);
    });
}

#[derive(Debug, Clone, PartialEq)]
struct Down(u32);

#[test]
fn a_failing_load_fails_every_caller_once_and_is_not_cached() {
    each_runtime(|rt| async move {
        let cache: Cache<u32, u64> = Cache::with_runtime(rt.clone(), 100);
        let loads = Arc::new(AtomicU32::new(0));
        let (open, gate) = gate();
        let callers: Vec<_> = (0..100)
            .map(|_| {
                let (cache, loads, gate) = (cache.clone(), Arc::clone(&loads), gate.clone());
                rt.spawn(async move {
                    cache
                        .try_get_or_insert_with(1, || async move {
                            let n = loads.fetch_add(1, Ordering::SeqCst);
                            let _ = gate.recv().await;
                            Err::<u64, _>(Down(n))
                        })
                        .await
                })
            })
            .collect();
        eventually(&rt, || cache.stats().misses == 100).await;
        drop(open);
        let mut failed_with = Vec::new();
        for c in callers {
            match c.await.unwrap() {
                Err(LoadError::Failed(Down(n))) => failed_with.push(n),
                other => panic!("unexpected {other:?}"),
            }
        }
        // Every caller fails with the load it joined. One load on virtual time; on a
        // multi-thread runtime a caller preempted between its miss and joining the flight may
        // arrive after the failure, which is not cached, and load again.
        let loaded = loads.load(Ordering::SeqCst);
        if rt.is_virtual() {
            assert_eq!(loaded, 1);
        }
        assert!(failed_with.iter().all(|&n| n < loaded), "{failed_with:?}");
        assert!(failed_with.contains(&0));
        assert_eq!(cache.len(), 0);
        let again = cache
            .try_get_or_insert_with(1, || async { Ok::<_, Down>(5) })
            .await;
        assert_eq!(again.unwrap(), 5);
        let s = cache.stats();
        let loaded = u64::from(loaded);
        assert_eq!((s.started, s.failed, s.completed), (loaded + 1, loaded, 1));
        assert_quiescent(&s);
    });
}

#[test]
fn a_panicking_load_is_an_error_for_every_caller_and_caches_nothing() {
    each_runtime(|rt| async move {
        let cache: Cache<u32, u64> = Cache::with_runtime(rt.clone(), 100);
        let (open, gate) = gate();
        let callers: Vec<_> = (0..20)
            .map(|_| {
                let (cache, gate) = (cache.clone(), gate.clone());
                rt.spawn(async move {
                    cache
                        .get_or_insert_with(1, || async move {
                            let _ = gate.recv().await;
                            panic!("loader exploded")
                        })
                        .await
                })
            })
            .collect();
        eventually(&rt, || cache.stats().misses == 20).await;
        drop(open);
        for c in callers {
            let payload = c.await.expect("the panic is caught").unwrap_err();
            assert_eq!(payload.message(), Some("loader exploded"));
        }
        assert_eq!(cache.len(), 0);
        let s = cache.stats();
        // One load on virtual time; on a multi-thread runtime a caller preempted between its
        // miss and joining the flight may load again after the panic (nothing is cached).
        if rt.is_virtual() {
            assert_eq!((s.started, s.failed, s.panicked), (1, 1, 1));
        } else {
            assert!((1..=20).contains(&s.started), "{s:?}");
            assert_eq!((s.failed, s.panicked), (s.started, s.started), "{s:?}");
        }
        assert_quiescent(&s);
        // The cache keeps working.
        assert_eq!(
            cache.get_or_insert_with(1, || async { 3 }).await.unwrap(),
            3
        );
    });
}

#[test]
fn a_loader_panicking_while_building_its_future_is_caught() {
    each_runtime(|rt| async move {
        let cache: Cache<u32, u64> = Cache::with_runtime(rt.clone(), 100);
        let err = cache
            .try_get_or_insert_with(1, || -> std::future::Ready<Result<u64, ()>> {
                panic!("before the future")
            })
            .await
            .unwrap_err();
        match err {
            LoadError::Panicked(p) => assert_eq!(p.message(), Some("before the future")),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(cache.stats().panicked, 1);
        assert_quiescent(&cache.stats());
    });
}

#[test]
fn invalidate_during_a_load_answers_its_callers_but_stores_nothing() {
    virtual_time(|rt| async move {
        let cache: Cache<u32, u64, _> = Cache::with_runtime(rt.clone(), 100);
        let slow = rt.spawn({
            let (cache, rt) = (cache.clone(), rt.clone());
            async move {
                cache
                    .get_or_insert_with(1, || async move {
                        rt.sleep(Duration::from_millis(10)).await;
                        1
                    })
                    .await
            }
        });
        rt.sleep(Duration::from_millis(5)).await;
        assert!(!cache.invalidate(&1));
        // A caller after the invalidation loads anew instead of joining the stale load.
        let fresh = cache.get_or_insert_with(1, || async { 2 }).await.unwrap();
        assert_eq!(fresh, 2);
        assert_eq!(slow.await.unwrap().unwrap(), 1);
        assert_eq!(cache.get(&1), Some(2), "the stale load did not overwrite");
    });
}

#[test]
fn capacity_zero_keeps_nothing_and_still_shares_loads() {
    each_runtime(|rt| async move {
        let cache: Cache<u32, u64> = Cache::with_runtime(rt.clone(), 0);
        let loads = Arc::new(AtomicU32::new(0));
        let (open, gate) = gate();
        let callers = spawn_callers(&rt, &cache, 10, &loads, &gate);
        eventually(&rt, || cache.stats().misses == 10).await;
        drop(open);
        for c in callers {
            c.await.unwrap().unwrap();
        }
        // A miss is counted just before the caller joins the flight; on a multi-thread
        // runtime a caller can be preempted in between and arrive after the load ended, and
        // a cache that keeps nothing then loads again. Exact on virtual time only.
        let loaded = loads.load(Ordering::SeqCst);
        if rt.is_virtual() {
            assert_eq!(loaded, 1);
        } else {
            assert!((1..=10).contains(&loaded), "{loaded} loads for 10 callers");
        }
        assert_eq!(cache.stats().started, u64::from(loaded));
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.get(&1), None);
    });
}

/// Hits and misses are counted per thread without a locked instruction for the first
/// threads alive at once, and with one beyond them; threads that exit give their stripe to
/// later ones. Whatever the mix, no count is lost: 24 threads at once (more than own a
/// stripe), in three waves (stripes handed on), in a cache without deadlines (bare values)
/// and in one with a time to live.
#[test]
fn hits_and_misses_from_many_threads_are_all_counted() {
    each_runtime(|rt| async move {
        for ttl in [None, Some(Duration::from_secs(3600))] {
            let mut builder = Cache::builder().max_entries(100).runtime(rt.clone());
            if let Some(ttl) = ttl {
                builder = builder.time_to_live(ttl);
            }
            let cache: Cache<u32, u32, _> = builder.build().unwrap();
            cache.insert(1, 1);
            for _wave in 0..3 {
                std::thread::scope(|s| {
                    for _ in 0..24 {
                        let cache = &cache;
                        s.spawn(move || {
                            for _ in 0..500 {
                                assert_eq!(cache.get(&1), Some(1));
                                assert_eq!(cache.get(&2), None);
                            }
                        });
                    }
                });
            }
            let s = cache.stats();
            assert_eq!((s.hits, s.misses), (3 * 24 * 500, 3 * 24 * 500), "{ttl:?}");
        }
    });
}

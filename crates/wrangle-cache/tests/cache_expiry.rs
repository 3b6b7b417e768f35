//! Time to live and time to idle, exact on virtual time; never an expired value anywhere.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use wrangle_cache::{Cache, InvalidCacheConfig, Policy};
use wrangle_rt::Runtime;
use wrangle_rt::testing::{each_runtime, virtual_time};

const NS: Duration = Duration::from_nanos(1);
const MS: Duration = Duration::from_millis(1);

#[test]
fn ttl_edges_are_exact_loaded_at_t_served_at_t_plus_ttl_minus_1ns_reloaded_at_t_plus_ttl() {
    for policy in [Policy::S3Fifo, Policy::Lru] {
        virtual_time(|rt| async move {
            let ttl = Duration::from_millis(50);
            let cache: Cache<u32, u32, _> = Cache::builder()
                .max_entries(10)
                .policy(policy)
                .time_to_live(ttl)
                .runtime(rt.clone())
                .build()
                .unwrap();
            let runs = Arc::new(AtomicU32::new(0));
            let load = || {
                let (runs, rt) = (runs.clone(), rt.clone());
                move || async move {
                    // The load takes 30 ms; the TTL counts from its end.
                    rt.sleep(30 * MS).await;
                    runs.fetch_add(1, Ordering::SeqCst) + 1
                }
            };
            assert_eq!(cache.get_or_insert_with(1, load()).await.unwrap(), 1);
            let t = rt.now();
            rt.sleep(ttl - NS).await;
            assert_eq!(cache.get(&1), Some(1), "served at t + ttl - 1 ns");
            assert_eq!(cache.get_or_insert_with(1, load()).await.unwrap(), 1);
            assert_eq!(rt.now() - t, ttl - NS);
            rt.sleep(NS).await;
            assert_eq!(cache.get(&1), None, "expired at t + ttl");
            assert_eq!(cache.get_or_insert_with(1, load()).await.unwrap(), 2);
            assert_eq!(runs.load(Ordering::SeqCst), 2);
        });
    }
}

#[test]
fn reads_do_not_extend_the_time_to_live() {
    virtual_time(|rt| async move {
        let cache: Cache<u32, u32, _> = Cache::builder()
            .time_to_live(100 * MS)
            .runtime(rt.clone())
            .build()
            .unwrap();
        cache.insert(1, 1);
        for _ in 0..9 {
            rt.sleep(10 * MS).await;
            assert_eq!(cache.get(&1), Some(1));
        }
        rt.sleep(10 * MS).await;
        assert_eq!(cache.get(&1), None);
    });
}

#[test]
fn time_to_idle_counts_from_the_last_read_and_ttl_still_caps_it() {
    for policy in [Policy::S3Fifo, Policy::Lru] {
        virtual_time(|rt| async move {
            let cache: Cache<u32, u32, _> = Cache::builder()
                .policy(policy)
                .time_to_live(100 * MS)
                .time_to_idle(30 * MS)
                .runtime(rt.clone())
                .build()
                .unwrap();
            cache.insert(1, 1);
            for _ in 0..3 {
                rt.sleep(30 * MS - NS).await;
                assert_eq!(cache.get(&1), Some(1), "read just before going idle");
            }
            // 90 ms - 3 ns since the insert; read 10 ms + 3 ns later, at exactly 100 ms, the
            // entry has idled only 10 ms but its time to live is over.
            rt.sleep(10 * MS + 3 * NS).await;
            assert_eq!(
                cache.get(&1),
                None,
                "the time to live caps the idle extension"
            );
            cache.insert(2, 2);
            rt.sleep(30 * MS).await;
            assert_eq!(cache.get(&2), None, "idle for exactly the time to idle");
        });
    }
}

#[test]
fn an_expired_entry_is_never_returned_on_any_runtime() {
    each_runtime(|rt| async move {
        let cache: Cache<u32, u32> = Cache::builder()
            .max_entries(4)
            .time_to_live(MS)
            .runtime(rt.clone())
            .build()
            .unwrap();
        for i in 0..20 {
            cache.insert(i % 4, i);
            let inserted = rt.now();
            rt.sleep(2 * MS).await;
            // On real runtimes the sleep may end late, never early: the entry is expired.
            assert!(rt.now() - inserted >= MS);
            assert_eq!(cache.get(&(i % 4)), None);
        }
        let s = cache.stats();
        assert_eq!((s.hits, s.misses), (0, 20));
    });
}

#[test]
fn zero_durations_are_refused_and_huge_ones_mean_never() {
    virtual_time(|rt| async move {
        let err = Cache::<u32, u32, _>::builder()
            .time_to_live(Duration::ZERO)
            .runtime(rt.clone())
            .build()
            .unwrap_err();
        assert_eq!(err, InvalidCacheConfig::ZeroDuration("time_to_live"));
        assert_eq!(err.to_string(), "time_to_live must be longer than zero");
        let err = Cache::<u32, u32, _>::builder()
            .time_to_idle(Duration::ZERO)
            .runtime(rt.clone())
            .build()
            .unwrap_err();
        assert_eq!(err, InvalidCacheConfig::ZeroDuration("time_to_idle"));
        let cache: Cache<u32, u32, _> = Cache::builder()
            .max_entries(usize::MAX)
            .time_to_live(Duration::MAX)
            .time_to_idle(Duration::MAX)
            .runtime(rt.clone())
            .build()
            .unwrap();
        cache.insert(1, 1);
        rt.sleep(Duration::from_secs(1_000_000)).await;
        assert_eq!(cache.get(&1), Some(1));
    });
}

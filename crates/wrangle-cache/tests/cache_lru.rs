//! The seeds' LRU cases with the fixed behaviour, capacities 0 and 1, weights, and the exact
//! LRU against a model (proptest).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use wrangle_cache::{Cache, Policy};
use wrangle_rt::VirtualRuntime;
use wrangle_rt::testing::each_runtime;

fn lru<V: Clone + Send + Sync + 'static>(
    rt: VirtualRuntime,
    max: usize,
) -> Cache<u32, V, VirtualRuntime> {
    Cache::builder()
        .max_entries(max)
        .policy(Policy::Lru)
        .runtime(rt)
        .build()
        .unwrap()
}

#[test]
fn seed_maxsize_2_calls_1_2_1_3_2_2_run_1_2_2_3_4_4() {
    each_runtime(|rt| async move {
        let cache: Cache<u32, u32> = Cache::builder()
            .max_entries(2)
            .policy(Policy::Lru)
            .runtime(rt.clone())
            .build()
            .unwrap();
        let runs = Arc::new(AtomicU32::new(0));
        let mut counts = Vec::new();
        for key in [1, 2, 1, 3, 2, 2] {
            let runs2 = runs.clone();
            let v = cache
                .get_or_insert_with(key, || async move {
                    runs2.fetch_add(1, Ordering::SeqCst);
                    key * 10
                })
                .await
                .unwrap();
            assert_eq!(v, key * 10);
            counts.push(runs.load(Ordering::SeqCst));
        }
        assert_eq!(counts, [1, 2, 2, 3, 4, 4]);
        let s = cache.stats();
        assert_eq!((s.entries, s.hits, s.misses, s.evictions), (2, 2, 4, 2));
        // After a clear, 1 and 3 load again (the seed's follow-up).
        cache.clear();
        for key in [1, 3] {
            let runs2 = runs.clone();
            cache
                .get_or_insert_with(key, || async move { runs2.fetch_add(1, Ordering::SeqCst) })
                .await
                .unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 6);
    });
}

#[test]
fn seed_a_hit_refreshes_recency_so_key_1_survives() {
    // lrucorocache(maxsize=2), calls 1, 2, 1 (hit), 3, 1: upstream runs 4 times (a hit does not
    // refresh recency); with exact LRU, 1 survives the insertion of 3.
    let rt = VirtualRuntime::new();
    let cache = lru(rt.clone(), 2);
    let runs = Arc::new(AtomicU32::new(0));
    rt.block_on(async {
        for key in [1, 2, 1, 3, 1] {
            let runs2 = runs.clone();
            cache
                .get_or_insert_with(key, || async move {
                    runs2.fetch_add(1, Ordering::SeqCst);
                    key
                })
                .await
                .unwrap();
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(cache.get(&2), None);
}

#[test]
fn capacity_one_and_zero_are_valid() {
    let rt = VirtualRuntime::new();
    let one = lru(rt.clone(), 1);
    one.insert(1, 'a');
    one.insert(2, 'b');
    assert_eq!((one.get(&1), one.get(&2), one.len()), (None, Some('b'), 1));
    let zero = lru(rt.clone(), 0);
    zero.insert(1, 'a');
    assert_eq!((zero.get(&1), zero.len()), (None, 0));
    for policy in [Policy::S3Fifo, Policy::Lru] {
        let c: Cache<u32, char, _> = Cache::builder()
            .max_entries(1)
            .policy(policy)
            .runtime(rt.clone())
            .build()
            .unwrap();
        for i in 0..100 {
            c.insert(i, 'x');
            assert!(c.len() <= 1);
        }
    }
}

#[test]
fn weights_bound_the_total_and_a_too_heavy_value_is_not_kept() {
    for policy in [Policy::S3Fifo, Policy::Lru] {
        let rt = VirtualRuntime::new();
        let cache: Cache<u32, String, _> = Cache::builder()
            .max_weight(10, |_, v: &String| v.len() as u64)
            .policy(policy)
            .runtime(rt.clone())
            .build()
            .unwrap();
        for i in 0..50 {
            cache.insert(i, "abc".to_string());
            assert!(cache.stats().weight <= 10);
        }
        cache.insert(99, "x".repeat(11));
        assert_eq!(cache.get(&99), None);
        let got = rt.block_on(cache.get_or_insert_with(100, || async { "y".repeat(11) }));
        assert_eq!(
            got.unwrap().len(),
            11,
            "the caller still gets a value too heavy to keep"
        );
        assert_eq!(cache.get(&100), None);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Get(u8),
    Insert(u8, u16),
    Invalidate(u8),
    Load(u8, u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..12).prop_map(Op::Get),
        (0u8..12, any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
        (0u8..12).prop_map(Op::Invalidate),
        (0u8..12, any::<u16>()).prop_map(|(k, v)| Op::Load(k, v)),
    ]
}

/// The model: a deque, most recent first.
struct Model {
    cap: usize,
    order: VecDeque<(u8, u16)>,
}

impl Model {
    fn touch(&mut self, k: u8) -> Option<u16> {
        let i = self.order.iter().position(|e| e.0 == k)?;
        let e = self.order.remove(i).unwrap();
        self.order.push_front(e);
        Some(e.1)
    }

    fn put(&mut self, k: u8, v: u16) {
        self.order.retain(|e| e.0 != k);
        if self.cap == 0 {
            return;
        }
        if self.order.len() == self.cap {
            self.order.pop_back();
        }
        self.order.push_front((k, v));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lru_matches_a_model(cap in 0usize..6, ops in proptest::collection::vec(op(), 0..200)) {
        let rt = VirtualRuntime::new();
        let cache = lru(rt.clone(), cap);
        let mut model = Model { cap, order: VecDeque::new() };
        for op in ops {
            match op {
                Op::Get(k) => prop_assert_eq!(cache.get(&u32::from(k)), model.touch(k)),
                Op::Insert(k, v) => {
                    cache.insert(u32::from(k), v);
                    model.put(k, v);
                }
                Op::Invalidate(k) => {
                    let had = model.order.iter().any(|e| e.0 == k);
                    model.order.retain(|e| e.0 != k);
                    prop_assert_eq!(cache.invalidate(&u32::from(k)), had);
                }
                Op::Load(k, v) => {
                    let got = rt.block_on(cache.get_or_insert_with(u32::from(k), || async move { v })).unwrap();
                    match model.touch(k) {
                        Some(old) => prop_assert_eq!(got, old),
                        None => {
                            prop_assert_eq!(got, v);
                            model.put(k, v);
                        }
                    }
                }
            }
            prop_assert_eq!(cache.len(), model.order.len());
        }
    }
}

#[test]
fn a_panicking_weigher_keeps_the_value_out_and_the_cache_working() {
    for policy in [Policy::S3Fifo, Policy::Lru] {
        let rt = VirtualRuntime::new();
        let cache: Cache<u32, String, _> = Cache::builder()
            .max_weight(100, |_, v: &String| {
                assert!(!v.is_empty(), "cannot weigh an empty string");
                v.len() as u64
            })
            .policy(policy)
            .runtime(rt.clone())
            .build()
            .unwrap();
        cache.insert(1, String::new());
        assert_eq!(cache.get(&1), None);
        let got = rt.block_on(cache.get_or_insert_with(2, || async { String::new() }));
        assert_eq!(got.unwrap(), "", "the caller still gets its value");
        assert_eq!(cache.get(&2), None);
        cache.insert(3, "abc".to_string());
        assert_eq!(cache.get(&3).as_deref(), Some("abc"));
        let s = cache.stats();
        assert_eq!((s.evictions, s.completed, s.entries), (2, 1, 1));
    }
}

#[test]
fn extreme_weights_and_capacities_do_not_overflow() {
    for policy in [Policy::S3Fifo, Policy::Lru] {
        let rt = VirtualRuntime::new();
        let cache: Cache<u32, u64, _> = Cache::builder()
            .max_weight(u64::MAX, |_, v: &u64| *v)
            .policy(policy)
            .runtime(rt.clone())
            .build()
            .unwrap();
        cache.insert(1, u64::MAX);
        cache.insert(2, u64::MAX);
        cache.insert(3, 1);
        // Each full-weight entry fills the capacity alone, so the last insert pushed it out.
        assert_eq!(cache.get(&3), Some(1));
        assert_eq!((cache.get(&1), cache.get(&2)), (None, None));
        assert_eq!(cache.stats().weight, 1);
    }
}

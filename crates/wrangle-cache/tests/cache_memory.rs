//! R9: a million inserts and loads at capacity 10,000 keep the entry count within the
//! capacity and resident memory bounded (read from `/proc/self/statm`, in pages).

use wrangle_cache::{Cache, Policy};
use wrangle_rt::VirtualRuntime;

/// Resident set size in bytes, or `None` where `/proc` is missing.
fn resident() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn churn(cache: &Cache<u64, [u64; 4], VirtualRuntime>, rt: &VirtualRuntime, from: u64, n: u64) {
    for i in from..from + n {
        if i % 2 == 0 {
            cache.insert(i, [i; 4]);
        } else {
            let got = rt.block_on(cache.get_or_insert_with(i, || async move { [i; 4] }));
            assert_eq!(got.unwrap()[0], i);
        }
        if i % 1024 == 0 {
            assert!(cache.len() <= 10_000, "len {} over capacity", cache.len());
        }
    }
}

#[test]
fn a_million_inserts_at_capacity_ten_thousand_stay_bounded() {
    for policy in [Policy::S3Fifo, Policy::Lru] {
        let rt = VirtualRuntime::new();
        let cache: Cache<u64, [u64; 4], _> = Cache::builder()
            .max_entries(10_000)
            .policy(policy)
            .runtime(rt.clone())
            .build()
            .unwrap();
        // Fill and churn once so the store reaches its steady size before measuring.
        churn(&cache, &rt, 0, 100_000);
        let before = resident();
        churn(&cache, &rt, 100_000, 1_000_000);
        let after = resident();
        assert!(cache.len() <= 10_000);
        let s = cache.stats();
        assert!(s.evictions >= 1_000_000, "{policy:?}: {s:?}");
        if let (Some(before), Some(after)) = (before, after) {
            let growth = after.saturating_sub(before);
            assert!(
                growth < 8 << 20,
                "{policy:?}: resident memory grew {growth} bytes over a million inserts"
            );
        }
    }
}

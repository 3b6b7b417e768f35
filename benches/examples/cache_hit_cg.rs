//! The `cache_hit` loop of `benches/cache.rs` (1 thread), once for wrangle-cache and once
//! for quick_cache, for an instruction count that the machine's load does not disturb:
//!
//! ```text
//! cargo build --release -p wrangle-benches --example cache_hit_cg
//! valgrind --tool=callgrind --toggle-collect='*hit_loop_ours*' target/release/examples/cache_hit_cg
//! valgrind --tool=callgrind --toggle-collect='*hit_loop_qc*' target/release/examples/cache_hit_cg
//! ```
//!
//! (`*hit_loop_ttl*`: ours again, with a time to live, for what deadlines cost a hit.)
//!
//! Each run collects 20,100 hits (100 warm-up, then the 20,000 of one thread's trace):
//! divide "Collected" by 20,100 for the instructions per hit, and read where they go with
//! `callgrind_annotate` (build with
//! `--config 'profile.release.package.wrangle-cache.debug="line-tables-only"'` for lines).
//! See `docs/benchmarks.md`, section wrangle-cache.

use std::hint::black_box;
use std::time::Duration;

use futures_lite::future::block_on;
use wrangle_cache::Cache;
use wrangle_rt::adapter::TokioRuntime;

const KEYS: u64 = 10_000;
const OPS: usize = 20_000;

/// The bench's xorshift generator (the same trace).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
/// `len` keys drawn from a Zipf distribution of exponent `s` over `0..n` (as the bench).
fn zipf(n: u64, s: f64, len: usize, seed: u64) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(n as usize);
    let mut total = 0.0;
    for k in 1..=n {
        total += 1.0 / (k as f64).powf(s);
        cdf.push(total);
    }
    let mut rng = Rng(seed | 1);
    (0..len)
        .map(|_| {
            let u = rng.unit() * total;
            cdf.partition_point(|&c| c < u) as u64
        })
        .collect()
}

#[inline(never)]
fn hit_loop_ours(ours: &Cache<u64, u64, TokioRuntime>, keys: &[u64]) {
    for &k in keys {
        let v = block_on(ours.get_or_insert_with(k, || async move { k }));
        black_box(v.unwrap());
    }
}

#[inline(never)]
fn hit_loop_ttl(ttl: &Cache<u64, u64, TokioRuntime>, keys: &[u64]) {
    for &k in keys {
        let v = block_on(ttl.get_or_insert_with(k, || async move { k }));
        black_box(v.unwrap());
    }
}

#[inline(never)]
fn hit_loop_qc(qc: &quick_cache::sync::Cache<u64, u64>, keys: &[u64]) {
    for &k in keys {
        let v = block_on(qc.get_or_insert_async(&k, async move { Ok::<_, ()>(k) }));
        black_box(v.unwrap());
    }
}

fn main() {
    let trace = zipf(KEYS, 0.99, OPS, 7);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = TokioRuntime::new(tokio.handle().clone());
    let ours: Cache<u64, u64, TokioRuntime> = Cache::builder()
        .max_entries(2 * KEYS as usize)
        .runtime(rt.clone())
        .build()
        .unwrap();
    let ttl: Cache<u64, u64, TokioRuntime> = Cache::builder()
        .max_entries(2 * KEYS as usize)
        .time_to_live(Duration::from_secs(3600))
        .runtime(rt)
        .build()
        .unwrap();
    let qc: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(2 * KEYS as usize);
    for k in 0..KEYS {
        ours.insert(k, k);
        ttl.insert(k, k);
        qc.insert(k, k);
    }
    // Warm (thread-locals, block_on's parker), then the measured pass.
    hit_loop_ours(&ours, &trace[..100]);
    hit_loop_qc(&qc, &trace[..100]);
    hit_loop_ttl(&ttl, &trace[..100]);
    hit_loop_ours(&ours, &trace);
    hit_loop_qc(&qc, &trace);
    hit_loop_ttl(&ttl, &trace);
    assert_eq!((ours.stats().misses, ttl.stats().misses), (0, 0));
}

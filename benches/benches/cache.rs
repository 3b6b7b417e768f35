//! wrangle-cache against its peers: `cache_hit` and `cache_miss_storm` (criterion), and
//! `cache_hit_ratio` (printed, not timed: `cargo bench --bench cache -- cache_hit_ratio`).
//! See `docs/benchmarks.md`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures_lite::future::block_on;
use wrangle_cache::{Cache, Policy};
use wrangle_rt::adapter::TokioRuntime;

const KEYS: u64 = 10_000;
const OPS: usize = 20_000;

/// A xorshift generator: the same traces in every run, no dependency.
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

/// `len` keys drawn from a Zipf distribution of exponent `s` over `0..n`.
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

fn tokio_ct() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `ops` on `threads` threads (each its own slice of the trace) and returns the time.
///
/// One thread is the bench's own: a thread spawned per iteration would add its start (and
/// the thread-locals each contestant sets up) to every iteration, and would land on either
/// core, its caches cold or warm by chance, which made the one-thread ratio swing by a
/// quarter between rounds.
fn on_threads(threads: usize, iters: u64, op: impl Fn(&[u64]) + Sync, trace: &[u64]) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        for _ in 0..iters {
            op(&trace[..OPS]);
        }
        return start.elapsed();
    }
    let start = Instant::now();
    for _ in 0..iters {
        std::thread::scope(|s| {
            for t in 0..threads {
                let op = &op;
                let slice = &trace[t * OPS..(t + 1) * OPS];
                s.spawn(move || op(slice));
            }
        });
    }
    start.elapsed()
}

fn cache_hit(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache_hit");
    let trace = zipf(KEYS, 0.99, 2 * OPS, 7);
    let tokio = tokio_ct();
    let rt = TokioRuntime::new(tokio.handle().clone());
    // Every key resident: the hit path only (capacity with room to spare for S3-FIFO's
    // per-shard rounding).
    let ours: Cache<u64, u64, TokioRuntime> = Cache::builder()
        .max_entries(2 * KEYS as usize)
        .runtime(rt.clone())
        .build()
        .unwrap();
    let qc: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(2 * KEYS as usize);
    let moka: moka::future::Cache<u64, u64> = moka::future::Cache::new(2 * KEYS);
    for k in 0..KEYS {
        ours.insert(k, k);
        qc.insert(k, k);
        block_on(moka.insert(k, k));
    }
    block_on(moka.run_pending_tasks());

    for threads in [1usize, 2] {
        group.throughput(criterion::Throughput::Elements((threads * OPS) as u64));
        group.bench_function(BenchmarkId::new("wrangle", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(
                    threads,
                    iters,
                    |keys| {
                        for &k in keys {
                            let v = block_on(ours.get_or_insert_with(k, || async move { k }));
                            black_box(v.unwrap());
                        }
                    },
                    &trace,
                )
            })
        });
        group.bench_function(BenchmarkId::new("quick_cache", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(
                    threads,
                    iters,
                    |keys| {
                        for &k in keys {
                            let v =
                                block_on(qc.get_or_insert_async(&k, async move { Ok::<_, ()>(k) }));
                            black_box(v.unwrap());
                        }
                    },
                    &trace,
                )
            })
        });
        group.bench_function(BenchmarkId::new("moka", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(
                    threads,
                    iters,
                    |keys| {
                        for &k in keys {
                            black_box(block_on(moka.get_with(k, async move { k })));
                        }
                    },
                    &trace,
                )
            })
        });
    }
    group.finish();
}

const CALLERS: usize = 1_000;

fn cache_miss_storm(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache_miss_storm");
    let tokio = tokio_ct();
    let rt = TokioRuntime::new(tokio.handle().clone());

    group.bench_function("wrangle", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let cache: Cache<u64, u64, TokioRuntime> = Cache::with_runtime(rt.clone(), 100);
                let loads = Arc::new(AtomicU32::new(0));
                let tasks: Vec<_> = (0..CALLERS)
                    .map(|_| {
                        let (cache, loads) = (cache.clone(), Arc::clone(&loads));
                        tokio::spawn(async move {
                            cache
                                .get_or_insert_with(1, || async move {
                                    loads.fetch_add(1, Ordering::Relaxed);
                                    tokio::task::yield_now().await;
                                    1
                                })
                                .await
                                .unwrap()
                        })
                    })
                    .collect();
                for t in tasks {
                    black_box(t.await.unwrap());
                }
                assert_eq!(loads.load(Ordering::Relaxed), 1);
            })
        })
    });
    group.bench_function("moka", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let cache: moka::future::Cache<u64, u64> = moka::future::Cache::new(100);
                let loads = Arc::new(AtomicU32::new(0));
                let tasks: Vec<_> = (0..CALLERS)
                    .map(|_| {
                        let (cache, loads) = (cache.clone(), Arc::clone(&loads));
                        tokio::spawn(async move {
                            cache
                                .get_with(1, async move {
                                    loads.fetch_add(1, Ordering::Relaxed);
                                    tokio::task::yield_now().await;
                                    1
                                })
                                .await
                        })
                    })
                    .collect();
                for t in tasks {
                    black_box(t.await.unwrap());
                }
                assert_eq!(loads.load(Ordering::Relaxed), 1);
            })
        })
    });
    group.finish();
}

/// `cache_hit_ratio`: hits / requests at equal capacity, printed (a ratio, not a time).
fn cache_hit_ratio(_: &mut Criterion) {
    const CAPACITY: usize = 1_000;
    let zipf_trace = zipf(100_000, 0.9, 500_000, 11);
    // Scan-heavy: the same Zipf traffic, with a scan of 5,000 never-repeated keys every
    // 20,000 requests (a batch job walking the table).
    let mut scan_trace = Vec::with_capacity(600_000);
    let mut next_scan = 1u64 << 40;
    for (i, &k) in zipf_trace.iter().enumerate() {
        if i % 20_000 == 0 {
            scan_trace.extend(next_scan..next_scan + 5_000);
            next_scan += 5_000;
        }
        scan_trace.push(k);
    }
    let tokio = tokio_ct();
    let rt = TokioRuntime::new(tokio.handle().clone());
    println!("cache_hit_ratio (capacity {CAPACITY})");
    println!("| trace | wrangle (S3-FIFO) | wrangle (LRU) | quick_cache | moka |");
    println!("|---|---|---|---|---|");
    for (name, trace) in [
        ("zipf 0.9, 100k keys", &zipf_trace),
        ("zipf + scans", &scan_trace),
    ] {
        let mut row = Vec::new();
        for policy in [Policy::S3Fifo, Policy::Lru] {
            let cache: Cache<u64, u64, TokioRuntime> = Cache::builder()
                .max_entries(CAPACITY)
                .policy(policy)
                .runtime(rt.clone())
                .build()
                .unwrap();
            for &k in trace.iter() {
                black_box(block_on(cache.get_or_insert_with(k, || async move { k })).unwrap());
            }
            let s = cache.stats();
            row.push(s.hits as f64 / (s.hits + s.misses) as f64);
        }
        let qc: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(CAPACITY);
        let mut hits = 0u64;
        for &k in trace.iter() {
            if qc.get(&k).is_some() {
                hits += 1;
            } else {
                qc.insert(k, k);
            }
        }
        row.push(hits as f64 / trace.len() as f64);
        let moka: moka::future::Cache<u64, u64> = moka::future::Cache::new(CAPACITY as u64);
        let mut hits = 0u64;
        block_on(async {
            for &k in trace.iter() {
                if moka.get(&k).await.is_some() {
                    hits += 1;
                } else {
                    moka.insert(k, k).await;
                }
            }
        });
        row.push(hits as f64 / trace.len() as f64);
        let cells: Vec<String> = row.iter().map(|r| format!("{:.1}%", r * 100.0)).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}

criterion_group!(benches, cache_hit, cache_miss_storm);
criterion_group!(ratio, cache_hit_ratio);
criterion_main!(benches, ratio);

//! wrangle-sync against its peers: `sync_priority_semaphore`, `sync_rate_limiter`,
//! `sync_dual_queue`, `sync_batch` (see `docs/benchmarks.md`).

use std::hint::black_box;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures_lite::StreamExt;
use wrangle_rt::adapter::TokioRuntime;

fn tokio_ct() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const OPS: usize = 1_000;
const WAITERS: usize = 64;
const ROUNDS: usize = 20;

fn sync_priority_semaphore(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_priority_semaphore");
    let rt = tokio_ct();

    // Uncontended: 1,000 acquire + release on a free semaphore.
    group.bench_function(BenchmarkId::new("wrangle", "uncontended"), |b| {
        let sem = wrangle_sync::PrioritySemaphore::new(1);
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..OPS {
                    drop(black_box(sem.acquire().await.unwrap()));
                }
            })
        })
    });
    group.bench_function(BenchmarkId::new("tokio", "uncontended"), |b| {
        let sem = tokio::sync::Semaphore::new(1);
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..OPS {
                    drop(black_box(sem.acquire().await.unwrap()));
                }
            })
        })
    });
    group.bench_function(BenchmarkId::new("async_lock", "uncontended"), |b| {
        let sem = async_lock::Semaphore::new(1);
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..OPS {
                    drop(black_box(sem.acquire().await));
                }
            })
        })
    });

    // Contended: 64 tasks, 4 permits, each task acquires, yields, releases 20 times.
    macro_rules! contended {
        ($name:literal, $sem:expr, $acquire:ident) => {
            group.bench_function(BenchmarkId::new($name, "contended64"), |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let sem = Arc::new($sem);
                        let tasks: Vec<_> = (0..WAITERS)
                            .map(|_| {
                                let sem = Arc::clone(&sem);
                                tokio::spawn(async move {
                                    for _ in 0..ROUNDS {
                                        let p = $acquire!(sem);
                                        tokio::task::yield_now().await;
                                        drop(p);
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.unwrap();
                        }
                    })
                })
            });
        };
    }
    macro_rules! ours {
        ($s:ident) => {
            $s.acquire().await.unwrap()
        };
    }
    macro_rules! tokio_acq {
        ($s:ident) => {
            $s.acquire().await.unwrap()
        };
    }
    macro_rules! async_lock_acq {
        ($s:ident) => {
            $s.acquire().await
        };
    }
    contended!("wrangle", wrangle_sync::PrioritySemaphore::new(4), ours);
    contended!("tokio", tokio::sync::Semaphore::new(4), tokio_acq);
    contended!("async_lock", async_lock::Semaphore::new(4), async_lock_acq);
    group.finish();
}

const KEYS: u64 = 1_000;

fn sync_rate_limiter(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_rate_limiter");
    let rt = tokio_ct();
    let ours_rt = TokioRuntime::new(rt.handle().clone());
    let big = NonZeroU32::new(1_000_000_000).unwrap();
    let burst = NonZeroU32::new(1_000_000).unwrap();

    group.bench_function(BenchmarkId::new("wrangle", "direct"), |b| {
        let limiter = wrangle_sync::GcraLimiter::with_runtime(
            ours_rt.clone(),
            big,
            Duration::from_secs(1),
            burst,
        )
        .unwrap();
        b.iter(|| {
            for _ in 0..OPS {
                black_box(limiter.check().is_ok());
            }
        })
    });
    group.bench_function(BenchmarkId::new("governor", "direct"), |b| {
        let limiter =
            governor::RateLimiter::direct(governor::Quota::per_second(big).allow_burst(burst));
        b.iter(|| {
            for _ in 0..OPS {
                black_box(limiter.check().is_ok());
            }
        })
    });
    group.bench_function(BenchmarkId::new("wrangle", "keyed1k"), |b| {
        let limiter = wrangle_sync::KeyedLimiter::with_runtime(
            ours_rt.clone(),
            big,
            Duration::from_secs(1),
            burst,
        )
        .unwrap();
        let mut k = 0u64;
        b.iter(|| {
            for _ in 0..OPS {
                k = (k + 1) % KEYS;
                black_box(limiter.check(&k).is_ok());
            }
        })
    });
    group.bench_function(BenchmarkId::new("governor", "keyed1k"), |b| {
        let limiter =
            governor::RateLimiter::keyed(governor::Quota::per_second(big).allow_burst(burst));
        let mut k = 0u64;
        b.iter(|| {
            for _ in 0..OPS {
                k = (k + 1) % KEYS;
                black_box(limiter.check_key(&k).is_ok());
            }
        })
    });
    group.finish();
}

const MESSAGES: usize = 100_000;
const CAPACITY: usize = 1_024;
const PRODUCERS: usize = 4;

fn sync_dual_queue(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_dual_queue");
    group.sample_size(10);
    let rt = tokio_ct();

    // SPSC, both ends async on one thread.
    group.bench_function(BenchmarkId::new("wrangle", "spsc_async"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let q = wrangle_sync::DualQueue::bounded(NonZeroUsize::new(CAPACITY).unwrap());
                let tx = q.clone();
                let p = tokio::spawn(async move {
                    for i in 0..MESSAGES {
                        tx.put(i).await.unwrap();
                    }
                    tx.close();
                });
                while let Ok(v) = q.get().await {
                    black_box(v);
                }
                p.await.unwrap();
            })
        })
    });
    group.bench_function(BenchmarkId::new("async_channel", "spsc_async"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, rx) = async_channel::bounded(CAPACITY);
                let p = tokio::spawn(async move {
                    for i in 0..MESSAGES {
                        tx.send(i).await.unwrap();
                    }
                });
                while let Ok(v) = rx.recv().await {
                    black_box(v);
                }
                p.await.unwrap();
            })
        })
    });
    group.bench_function(BenchmarkId::new("flume", "spsc_async"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, rx) = flume::bounded(CAPACITY);
                let p = tokio::spawn(async move {
                    for i in 0..MESSAGES {
                        tx.send_async(i).await.unwrap();
                    }
                });
                while let Ok(v) = rx.recv_async().await {
                    black_box(v);
                }
                p.await.unwrap();
            })
        })
    });
    group.bench_function(BenchmarkId::new("tokio", "spsc_async"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(CAPACITY);
                let p = tokio::spawn(async move {
                    for i in 0..MESSAGES {
                        tx.send(i).await.unwrap();
                    }
                });
                while let Some(v) = rx.recv().await {
                    black_box(v);
                }
                p.await.unwrap();
            })
        })
    });

    // MPSC: 4 blocking producer threads, one async consumer.
    let per = MESSAGES / PRODUCERS;
    group.bench_function(BenchmarkId::new("wrangle", "mpsc_sync_to_async"), |b| {
        b.iter(|| {
            let q = wrangle_sync::DualQueue::bounded(NonZeroUsize::new(CAPACITY).unwrap());
            let threads: Vec<_> = (0..PRODUCERS)
                .map(|_| {
                    let q = q.clone();
                    std::thread::spawn(move || {
                        for i in 0..per {
                            q.put_blocking(i).unwrap();
                        }
                    })
                })
                .collect();
            rt.block_on(async {
                for _ in 0..per * PRODUCERS {
                    black_box(q.get().await.unwrap());
                }
            });
            threads.into_iter().for_each(|t| t.join().unwrap());
        })
    });
    group.bench_function(
        BenchmarkId::new("async_channel", "mpsc_sync_to_async"),
        |b| {
            b.iter(|| {
                let (tx, rx) = async_channel::bounded(CAPACITY);
                let threads: Vec<_> = (0..PRODUCERS)
                    .map(|_| {
                        let tx = tx.clone();
                        std::thread::spawn(move || {
                            for i in 0..per {
                                tx.send_blocking(i).unwrap();
                            }
                        })
                    })
                    .collect();
                rt.block_on(async {
                    for _ in 0..per * PRODUCERS {
                        black_box(rx.recv().await.unwrap());
                    }
                });
                threads.into_iter().for_each(|t| t.join().unwrap());
            })
        },
    );
    group.bench_function(BenchmarkId::new("flume", "mpsc_sync_to_async"), |b| {
        b.iter(|| {
            let (tx, rx) = flume::bounded(CAPACITY);
            let threads: Vec<_> = (0..PRODUCERS)
                .map(|_| {
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        for i in 0..per {
                            tx.send(i).unwrap();
                        }
                    })
                })
                .collect();
            rt.block_on(async {
                for _ in 0..per * PRODUCERS {
                    black_box(rx.recv_async().await.unwrap());
                }
            });
            threads.into_iter().for_each(|t| t.join().unwrap());
        })
    });
    group.bench_function(BenchmarkId::new("tokio", "mpsc_sync_to_async"), |b| {
        b.iter(|| {
            let (tx, mut rx) = tokio::sync::mpsc::channel(CAPACITY);
            let threads: Vec<_> = (0..PRODUCERS)
                .map(|_| {
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        for i in 0..per {
                            tx.blocking_send(i).unwrap();
                        }
                    })
                })
                .collect();
            rt.block_on(async {
                for _ in 0..per * PRODUCERS {
                    black_box(rx.recv().await.unwrap());
                }
            });
            threads.into_iter().for_each(|t| t.join().unwrap());
        })
    });
    group.finish();
}

const ITEMS: usize = 1_000_000;
const BATCH: usize = 128;

fn sync_batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_batch");
    group.sample_size(10);
    let rt = tokio_ct();
    let ours_rt = TokioRuntime::new(rt.handle().clone());
    let wait = Duration::from_millis(5);

    group.bench_function("wrangle", |b| {
        b.iter(|| {
            rt.block_on(async {
                let items = futures_lite::stream::iter(0..ITEMS);
                let chunks = wrangle_sync::stream::ChunksTimeout::with_runtime(
                    ours_rt.clone(),
                    items,
                    NonZeroUsize::new(BATCH).unwrap(),
                    wait,
                );
                black_box(chunks.fold(0usize, |n, c| n + c.len()).await)
            })
        })
    });
    group.bench_function("tokio_stream", |b| {
        b.iter(|| {
            rt.block_on(async {
                use tokio_stream::StreamExt as _;

                let chunks = tokio_stream::iter(0..ITEMS).chunks_timeout(BATCH, wait);
                let mut chunks = std::pin::pin!(chunks);
                let mut n = 0usize;
                while let Some(c) = StreamExt::next(&mut chunks).await {
                    n += c.len();
                }
                black_box(n)
            })
        })
    });
    group.bench_function("futures_batch", |b| {
        b.iter(|| {
            rt.block_on(async {
                use futures_batch::ChunksTimeoutStreamExt;
                let chunks = futures_lite::stream::iter(0..ITEMS).chunks_timeout(BATCH, wait);
                black_box(chunks.fold(0usize, |n, c| n + c.len()).await)
            })
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    sync_priority_semaphore,
    sync_rate_limiter,
    sync_dual_queue,
    sync_batch
);
criterion_main!(benches);

//! wrangle-sync against its peers: `sync_priority_semaphore`, `sync_rate_limiter`,
//! `sync_dual_queue`, `sync_batch`, and on a 2-worker Tokio runtime `sync_dual_queue_mt` and
//! `sync_priority_semaphore_mt` (see `docs/benchmarks.md`).

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

/// A Tokio multi-thread runtime with 2 workers, for the `_mt` groups.
fn tokio_mt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Messages of one `sync_dual_queue_mt` iteration, over all producers.
const MT_MESSAGES: usize = 100_000;
/// Producers and consumers each, in `sync_dual_queue_mt`.
const MT_SIDES: usize = 2;

/// Sum of the values `0..per` sent by each of `MT_SIDES` producers: what the consumers of
/// `sync_dual_queue_mt` must have received between them.
fn mt_expected() -> (usize, usize) {
    let per = MT_MESSAGES / MT_SIDES;
    (per * MT_SIDES, MT_SIDES * (per * (per - 1) / 2))
}

/// Awaits the consumers of one `sync_dual_queue_mt` iteration (each returns how many items it
/// got and their sum) and checks that every message arrived exactly once.
async fn mt_check(consumers: Vec<tokio::task::JoinHandle<(usize, usize)>>) {
    let (mut n, mut sum) = (0, 0);
    for c in consumers {
        let (cn, csum) = c.await.unwrap();
        n += cn;
        sum += csum;
    }
    assert_eq!((n, sum), mt_expected(), "a message was lost or duplicated");
}

fn sync_dual_queue_mt(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_dual_queue_mt");
    group.sample_size(10);
    let rt = tokio_mt();
    let per = MT_MESSAGES / MT_SIDES;

    // MPMC, all async: 2 producer and 2 consumer tasks on the 2 workers, driven from a task on
    // the runtime; the queue closes once both producers are done.
    group.bench_function(BenchmarkId::new("wrangle", "mpmc_async"), |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async move {
                let q = wrangle_sync::DualQueue::bounded(NonZeroUsize::new(CAPACITY).unwrap());
                let consumers: Vec<_> = (0..MT_SIDES)
                    .map(|_| {
                        let q = q.clone();
                        tokio::spawn(async move {
                            let (mut n, mut sum) = (0, 0);
                            while let Ok(v) = q.get().await {
                                n += 1;
                                sum += v;
                            }
                            (n, sum)
                        })
                    })
                    .collect();
                let producers: Vec<_> = (0..MT_SIDES)
                    .map(|_| {
                        let q = q.clone();
                        tokio::spawn(async move {
                            for i in 0..per {
                                q.put(i).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for p in producers {
                    p.await.unwrap();
                }
                q.close();
                mt_check(consumers).await;
            }))
            .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("async_channel", "mpmc_async"), |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async move {
                let (tx, rx) = async_channel::bounded(CAPACITY);
                let consumers: Vec<_> = (0..MT_SIDES)
                    .map(|_| {
                        let rx = rx.clone();
                        tokio::spawn(async move {
                            let (mut n, mut sum) = (0, 0);
                            while let Ok(v) = rx.recv().await {
                                n += 1;
                                sum += v;
                            }
                            (n, sum)
                        })
                    })
                    .collect();
                drop(rx);
                let producers: Vec<_> = (0..MT_SIDES)
                    .map(|_| {
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            for i in 0..per {
                                tx.send(i).await.unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                for p in producers {
                    p.await.unwrap();
                }
                mt_check(consumers).await;
            }))
            .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("flume", "mpmc_async"), |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async move {
                let (tx, rx) = flume::bounded(CAPACITY);
                let consumers: Vec<_> = (0..MT_SIDES)
                    .map(|_| {
                        let rx = rx.clone();
                        tokio::spawn(async move {
                            let (mut n, mut sum) = (0, 0);
                            while let Ok(v) = rx.recv_async().await {
                                n += 1;
                                sum += v;
                            }
                            (n, sum)
                        })
                    })
                    .collect();
                drop(rx);
                let producers: Vec<_> = (0..MT_SIDES)
                    .map(|_| {
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            for i in 0..per {
                                tx.send_async(i).await.unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                for p in producers {
                    p.await.unwrap();
                }
                mt_check(consumers).await;
            }))
            .unwrap()
        })
    });

    // MPMC across the sync/async boundary: 2 producer OS threads with the blocking put, 2
    // consumer tasks on the 2 workers.
    group.bench_function(BenchmarkId::new("wrangle", "mpmc_sync_to_async"), |b| {
        b.iter(|| {
            let q = wrangle_sync::DualQueue::bounded(NonZeroUsize::new(CAPACITY).unwrap());
            let consumers: Vec<_> = (0..MT_SIDES)
                .map(|_| {
                    let q = q.clone();
                    rt.spawn(async move {
                        let (mut n, mut sum) = (0, 0);
                        while let Ok(v) = q.get().await {
                            n += 1;
                            sum += v;
                        }
                        (n, sum)
                    })
                })
                .collect();
            let producers: Vec<_> = (0..MT_SIDES)
                .map(|_| {
                    let q = q.clone();
                    std::thread::spawn(move || {
                        for i in 0..per {
                            q.put_blocking(i).unwrap();
                        }
                    })
                })
                .collect();
            producers.into_iter().for_each(|p| p.join().unwrap());
            q.close();
            rt.block_on(mt_check(consumers));
        })
    });
    group.bench_function(
        BenchmarkId::new("async_channel", "mpmc_sync_to_async"),
        |b| {
            b.iter(|| {
                let (tx, rx) = async_channel::bounded(CAPACITY);
                let consumers: Vec<_> = (0..MT_SIDES)
                    .map(|_| {
                        let rx = rx.clone();
                        rt.spawn(async move {
                            let (mut n, mut sum) = (0, 0);
                            while let Ok(v) = rx.recv().await {
                                n += 1;
                                sum += v;
                            }
                            (n, sum)
                        })
                    })
                    .collect();
                drop(rx);
                let producers: Vec<_> = (0..MT_SIDES)
                    .map(|_| {
                        let tx = tx.clone();
                        std::thread::spawn(move || {
                            for i in 0..per {
                                tx.send_blocking(i).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                producers.into_iter().for_each(|p| p.join().unwrap());
                rt.block_on(mt_check(consumers));
            })
        },
    );
    group.bench_function(BenchmarkId::new("flume", "mpmc_sync_to_async"), |b| {
        b.iter(|| {
            let (tx, rx) = flume::bounded(CAPACITY);
            let consumers: Vec<_> = (0..MT_SIDES)
                .map(|_| {
                    let rx = rx.clone();
                    rt.spawn(async move {
                        let (mut n, mut sum) = (0, 0);
                        while let Ok(v) = rx.recv_async().await {
                            n += 1;
                            sum += v;
                        }
                        (n, sum)
                    })
                })
                .collect();
            drop(rx);
            let producers: Vec<_> = (0..MT_SIDES)
                .map(|_| {
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        for i in 0..per {
                            tx.send(i).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            producers.into_iter().for_each(|p| p.join().unwrap());
            rt.block_on(mt_check(consumers));
        })
    });
    group.finish();
}

/// Tasks, permits and rounds of `sync_priority_semaphore_mt`.
const MT_WAITERS: usize = 64;
const MT_PERMITS: usize = 4;
const MT_ROUNDS: usize = 20;
/// Tasks and rounds of `sync_priority_semaphore_mt`'s one-permit scenario.
const HOT_TASKS: usize = 8;
const HOT_ROUNDS: usize = 500;

fn sync_priority_semaphore_mt(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_priority_semaphore_mt");
    let rt = tokio_mt();

    // Contended from both workers: 64 tasks, 4 permits; each task acquires, yields while
    // holding, releases, 20 times, and returns how many rounds it ran (checked), driven from
    // a task on the runtime.
    macro_rules! contended_mt {
        ($name:literal, $sem:expr, $acquire:ident) => {
            group.bench_function(BenchmarkId::new($name, "contended64"), |b| {
                b.iter(|| {
                    rt.block_on(rt.spawn(async move {
                        let sem = Arc::new($sem);
                        let tasks: Vec<_> = (0..MT_WAITERS)
                            .map(|_| {
                                let sem = Arc::clone(&sem);
                                tokio::spawn(async move {
                                    let mut rounds = 0;
                                    for _ in 0..MT_ROUNDS {
                                        let p = $acquire!(sem);
                                        tokio::task::yield_now().await;
                                        drop(p);
                                        rounds += 1;
                                    }
                                    rounds
                                })
                            })
                            .collect();
                        let mut rounds = 0;
                        for t in tasks {
                            rounds += t.await.unwrap();
                        }
                        assert_eq!(rounds, MT_WAITERS * MT_ROUNDS, "a round did not run");
                    }))
                    .unwrap()
                })
            });
        };
    }
    // One permit fought over by both workers: 8 tasks acquire and release it 500 times each
    // with nothing in between, so a task waits only while a task on the other worker holds it.
    macro_rules! hot_mt {
        ($name:literal, $sem:expr, $acquire:ident) => {
            group.bench_function(BenchmarkId::new($name, "hot1"), |b| {
                b.iter(|| {
                    rt.block_on(rt.spawn(async move {
                        let sem = Arc::new($sem);
                        let tasks: Vec<_> = (0..HOT_TASKS)
                            .map(|_| {
                                let sem = Arc::clone(&sem);
                                tokio::spawn(async move {
                                    let mut rounds = 0;
                                    for _ in 0..HOT_ROUNDS {
                                        drop(black_box($acquire!(sem)));
                                        rounds += 1;
                                    }
                                    rounds
                                })
                            })
                            .collect();
                        let mut rounds = 0;
                        for t in tasks {
                            rounds += t.await.unwrap();
                        }
                        assert_eq!(rounds, HOT_TASKS * HOT_ROUNDS, "a round did not run");
                    }))
                    .unwrap()
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
    hot_mt!("wrangle", wrangle_sync::PrioritySemaphore::new(1), ours);
    hot_mt!("tokio", tokio::sync::Semaphore::new(1), tokio_acq);
    hot_mt!("async_lock", async_lock::Semaphore::new(1), async_lock_acq);
    contended_mt!(
        "wrangle",
        wrangle_sync::PrioritySemaphore::new(MT_PERMITS),
        ours
    );
    contended_mt!("tokio", tokio::sync::Semaphore::new(MT_PERMITS), tokio_acq);
    contended_mt!(
        "async_lock",
        async_lock::Semaphore::new(MT_PERMITS),
        async_lock_acq
    );
    group.finish();
}

criterion_group!(
    benches,
    sync_priority_semaphore,
    sync_rate_limiter,
    sync_dual_queue,
    sync_batch,
    sync_dual_queue_mt,
    sync_priority_semaphore_mt
);
criterion_main!(benches);

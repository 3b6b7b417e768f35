//! `pool_spawn_join`: a pool of 64 with a per-task timeout armed (never firing), 10k
//! yield-once tasks, against tokio `JoinSet` + `Semaphore` and tokio-util `TaskTracker` +
//! `Semaphore` (each task under `tokio::time::timeout` too, for the same work).
//!
//! `pool_submit_foreign`: 100k submissions from a plain std thread into a 2-worker runtime,
//! against tokio `Handle::spawn` and async-channel `send_blocking` into a worker task.
//!
//! `pool_spawn_join_mt`: the `pool_spawn_join` scenario on a Tokio multi-thread runtime with 2
//! workers, driven from a task on that runtime, against the same peers; every task counts
//! itself on a shared counter, checked after the join.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;
use wrangle_pool::TaskPool;
use wrangle_rt::adapter::TokioRuntime;

const TASKS: usize = 10_000;
const SIZE: usize = 64;
const TIMEOUT: Duration = Duration::from_secs(60);

fn pool_spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_spawn_join");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let pool = TaskPool::builder()
        .size(NonZeroUsize::new(SIZE).unwrap())
        .timeout(TIMEOUT)
        .runtime(TokioRuntime::new(rt.handle().clone()))
        .build();
    group.bench_function("wrangle", |b| {
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..TASKS)
                    .map(|i| {
                        pool.spawn(async move {
                            tokio::task::yield_now().await;
                            i
                        })
                        .unwrap()
                    })
                    .collect();
                for h in handles {
                    black_box(h.await.unwrap());
                }
            })
        })
    });

    // The peer the target is set against first, right after ours.
    group.bench_function("tokio_util_tasktracker", |b| {
        b.iter(|| {
            rt.block_on(async {
                let sem = Arc::new(Semaphore::new(SIZE));
                let tracker = TaskTracker::new();
                for i in 0..TASKS {
                    let permit = sem.clone().acquire_owned().await.unwrap();
                    tracker.spawn(async move {
                        let _permit = permit;
                        black_box(
                            tokio::time::timeout(TIMEOUT, async move {
                                tokio::task::yield_now().await;
                                i
                            })
                            .await,
                        )
                    });
                }
                tracker.close();
                tracker.wait().await;
            })
        })
    });
    group.bench_function("tokio_joinset", |b| {
        b.iter(|| {
            rt.block_on(async {
                let sem = Arc::new(Semaphore::new(SIZE));
                let mut set = JoinSet::new();
                for i in 0..TASKS {
                    let permit = sem.clone().acquire_owned().await.unwrap();
                    set.spawn(async move {
                        let _permit = permit;
                        tokio::time::timeout(TIMEOUT, async move {
                            tokio::task::yield_now().await;
                            i
                        })
                        .await
                    });
                }
                while let Some(r) = set.join_next().await {
                    black_box(r.unwrap().unwrap());
                }
            })
        })
    });

    group.finish();
}

const FOREIGN: usize = 100_000;

/// Waits (on the submitting thread) until `done` reaches `n`.
fn wait_for(done: &AtomicUsize, n: usize) {
    while done.load(Ordering::Acquire) < n {
        std::thread::yield_now();
    }
}

fn pool_submit_foreign(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_submit_foreign");
    group.sample_size(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let pool = TaskPool::builder()
        .size(NonZeroUsize::new(SIZE).unwrap())
        .runtime(TokioRuntime::new(rt.handle().clone()))
        .build();
    // Fire-and-forget, as the peers: no handle is made.
    group.bench_function("wrangle", |b| {
        b.iter(|| {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..FOREIGN {
                let done = done.clone();
                pool.spawn_detached(async move {
                    done.fetch_add(1, Ordering::Release);
                })
                .unwrap();
            }
            wait_for(&done, FOREIGN);
        })
    });
    // The peer this scenario's target is set against, measured right after ours: on a shared
    // 2-core machine the speed of cross-thread hand-offs drifts over seconds, and adjacent
    // measurements drift least.
    group.bench_function("async_channel_worker", |b| {
        b.iter(|| {
            let done = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = async_channel::unbounded::<Box<dyn FnOnce() + Send>>();
            let worker = rt.handle().spawn(async move {
                while let Ok(job) = rx.recv().await {
                    job();
                }
            });
            for _ in 0..FOREIGN {
                let done = done.clone();
                tx.send_blocking(Box::new(move || {
                    done.fetch_add(1, Ordering::Release);
                }))
                .unwrap();
            }
            wait_for(&done, FOREIGN);
            drop(tx);
            drop(worker);
        })
    });
    // The same through `spawn` and `detach`: a handle made and dropped per task.
    group.bench_function("wrangle_with_handle", |b| {
        b.iter(|| {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..FOREIGN {
                let done = done.clone();
                pool.spawn(async move {
                    done.fetch_add(1, Ordering::Release);
                })
                .unwrap()
                .detach();
            }
            wait_for(&done, FOREIGN);
        })
    });

    let handle = rt.handle().clone();
    group.bench_function("tokio_handle_spawn", |b| {
        b.iter(|| {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..FOREIGN {
                let done = done.clone();
                drop(handle.spawn(async move {
                    done.fetch_add(1, Ordering::Release);
                }));
            }
            wait_for(&done, FOREIGN);
        })
    });

    group.finish();
}

/// Tasks of one `pool_spawn_join_mt` iteration.
const TASKS_MT: usize = 10_000;

fn pool_spawn_join_mt(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_spawn_join_mt");
    group.sample_size(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Every contestant spawns from a task on a worker (where a server's handlers spawn), and
    // every task counts itself: a run that lost a task fails instead of looking fast.
    let check = |ran: &AtomicUsize| {
        assert_eq!(
            ran.swap(0, Ordering::Relaxed),
            TASKS_MT,
            "a task did not run"
        );
    };

    let pool = TaskPool::builder()
        .size(NonZeroUsize::new(SIZE).unwrap())
        .timeout(TIMEOUT)
        .runtime(TokioRuntime::new(rt.handle().clone()))
        .build();
    let ran = Arc::new(AtomicUsize::new(0));
    group.bench_function("wrangle", |b| {
        b.iter(|| {
            let (pool, ran2) = (pool.clone(), ran.clone());
            rt.block_on(rt.spawn(async move {
                let handles: Vec<_> = (0..TASKS_MT)
                    .map(|i| {
                        let ran = ran2.clone();
                        pool.spawn(async move {
                            tokio::task::yield_now().await;
                            ran.fetch_add(1, Ordering::Relaxed);
                            i
                        })
                        .unwrap()
                    })
                    .collect();
                for (i, h) in handles.into_iter().enumerate() {
                    assert_eq!(h.await.unwrap(), i);
                }
            }))
            .unwrap();
            check(&ran);
        })
    });

    group.bench_function("tokio_util_tasktracker", |b| {
        b.iter(|| {
            let ran2 = ran.clone();
            rt.block_on(rt.spawn(async move {
                let sem = Arc::new(Semaphore::new(SIZE));
                let tracker = TaskTracker::new();
                for i in 0..TASKS_MT {
                    let permit = sem.clone().acquire_owned().await.unwrap();
                    let ran = ran2.clone();
                    tracker.spawn(async move {
                        let _permit = permit;
                        black_box(
                            tokio::time::timeout(TIMEOUT, async move {
                                tokio::task::yield_now().await;
                                ran.fetch_add(1, Ordering::Relaxed);
                                i
                            })
                            .await,
                        )
                    });
                }
                tracker.close();
                tracker.wait().await;
            }))
            .unwrap();
            check(&ran);
        })
    });
    group.bench_function("tokio_joinset", |b| {
        b.iter(|| {
            let ran2 = ran.clone();
            rt.block_on(rt.spawn(async move {
                let sem = Arc::new(Semaphore::new(SIZE));
                let mut set = JoinSet::new();
                for i in 0..TASKS_MT {
                    let permit = sem.clone().acquire_owned().await.unwrap();
                    let ran = ran2.clone();
                    set.spawn(async move {
                        let _permit = permit;
                        tokio::time::timeout(TIMEOUT, async move {
                            tokio::task::yield_now().await;
                            ran.fetch_add(1, Ordering::Relaxed);
                            i
                        })
                        .await
                    });
                }
                while let Some(r) = set.join_next().await {
                    black_box(r.unwrap().unwrap());
                }
            }))
            .unwrap();
            check(&ran);
        })
    });

    group.finish();
}

criterion_group!(
    benches,
    pool_spawn_join,
    pool_submit_foreign,
    pool_spawn_join_mt
);
criterion_main!(benches);

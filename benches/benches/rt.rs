//! `rt_spawn_join`: spawn and join 1,000 trivial tasks through wrangle's `Runtime`, against the
//! same runtime called directly.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use wrangle_rt::{
    Runtime,
    adapter::{SmolRuntime, TokioRuntime},
};

const TASKS: usize = 1_000;

fn rt_spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("rt_spawn_join");

    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ours = TokioRuntime::new(tokio_rt.handle().clone());
    group.bench_function("wrangle_tokio", |b| {
        b.iter(|| {
            tokio_rt.block_on(async {
                let handles: Vec<_> = (0..TASKS)
                    .map(|i| ours.spawn(async move { black_box(i) }))
                    .collect();
                for h in handles {
                    black_box(h.await.unwrap());
                }
            })
        })
    });
    group.bench_function("tokio", |b| {
        b.iter(|| {
            tokio_rt.block_on(async {
                let handles: Vec<_> = (0..TASKS)
                    .map(|i| tokio::spawn(async move { black_box(i) }))
                    .collect();
                for h in handles {
                    black_box(h.await.unwrap());
                }
            })
        })
    });

    let ex = Arc::new(async_executor::Executor::new());
    let ours = SmolRuntime::with_executor(ex.clone());
    group.bench_function("wrangle_smol", |b| {
        b.iter(|| {
            futures_lite::future::block_on(ex.run(async {
                let handles: Vec<_> = (0..TASKS)
                    .map(|i| ours.spawn(async move { black_box(i) }))
                    .collect();
                for h in handles {
                    black_box(h.await.unwrap());
                }
            }))
        })
    });
    group.bench_function("smol", |b| {
        b.iter(|| {
            futures_lite::future::block_on(ex.run(async {
                let handles: Vec<_> = (0..TASKS)
                    .map(|i| ex.spawn(async move { black_box(i) }))
                    .collect();
                for h in handles {
                    black_box(h.await);
                }
            }))
        })
    });
    group.finish();
}

criterion_group!(benches, rt_spawn_join);
criterion_main!(benches);

//! `task_concurrent_ready` and `task_concurrent_yield`: 10k futures through a runner with a
//! limit of 64, against `buffer_unordered` and a `FuturesUnordered` with a manual limit.
//!
//! The peers run their futures inside the polling task, so `wrangle` here is
//! `ConcurrentInline`, which does the same. Everything runs on `futures_lite::future::block_on`.

use std::future::Future;
use std::hint::black_box;
use std::num::NonZeroUsize;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_lite::future::{block_on, yield_now};
use futures_util::stream::{self, FuturesUnordered, StreamExt};
use wrangle_task::{ConcurrentInline, Limit};

const FUTURES: u64 = 10_000;
const LIMIT: usize = 64;

fn ours<F, Fut>(make: F) -> u64
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<u64, ()>>,
{
    let limit = Limit::Max(NonZeroUsize::new(LIMIT).unwrap());
    block_on(async {
        let mut runner = ConcurrentInline::new((0..FUTURES).map(make)).limit(limit);
        let mut sum = 0;
        while let Some(r) = futures_lite::StreamExt::next(&mut runner).await {
            sum += r.unwrap();
        }
        sum
    })
}

fn buffer_unordered<F, Fut>(make: F) -> u64
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<u64, ()>>,
{
    block_on(async {
        let mut s = stream::iter((0..FUTURES).map(make)).buffer_unordered(LIMIT);
        let mut sum = 0;
        while let Some(r) = s.next().await {
            sum += r.unwrap();
        }
        sum
    })
}

fn futures_unordered<F, Fut>(make: F) -> u64
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<u64, ()>>,
{
    block_on(async {
        let mut input = (0..FUTURES).map(make);
        let mut set = FuturesUnordered::new();
        let mut sum = 0;
        loop {
            while set.len() < LIMIT {
                match input.next() {
                    Some(f) => set.push(f),
                    None => break,
                }
            }
            match set.next().await {
                Some(r) => sum += r.unwrap(),
                None => break,
            }
        }
        sum
    })
}

async fn ready(i: u64) -> Result<u64, ()> {
    Ok(black_box(i))
}

async fn yield_once(i: u64) -> Result<u64, ()> {
    yield_now().await;
    Ok(black_box(i))
}

fn task_concurrent_ready(c: &mut Criterion) {
    let mut group = c.benchmark_group("task_concurrent_ready");
    group.bench_function("wrangle", |b| b.iter(|| black_box(ours(ready))));
    group.bench_function("buffer_unordered", |b| {
        b.iter(|| black_box(buffer_unordered(ready)))
    });
    group.bench_function("futures_unordered", |b| {
        b.iter(|| black_box(futures_unordered(ready)))
    });
    group.finish();
}

fn task_concurrent_yield(c: &mut Criterion) {
    let mut group = c.benchmark_group("task_concurrent_yield");
    group.bench_function("wrangle", |b| b.iter(|| black_box(ours(yield_once))));
    group.bench_function("buffer_unordered", |b| {
        b.iter(|| black_box(buffer_unordered(yield_once)))
    });
    group.bench_function("futures_unordered", |b| {
        b.iter(|| black_box(futures_unordered(yield_once)))
    });
    group.finish();
}

criterion_group!(benches, task_concurrent_ready, task_concurrent_yield);
criterion_main!(benches);

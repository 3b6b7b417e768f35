//! `timer_periodic`: a 1 ms periodic timer, 2,000 ticks. Ours (`Interval` with
//! `MissedTick::Burst`, on Tokio and on smol) against `tokio::time::interval` and
//! `async_io::Timer::interval`, each on its own runtime.
//!
//! The criterion functions measure the overhead per tick: the interval starts 2,000 periods in
//! the past, so every tick is due and the measurement is the timer machinery, not the waiting.
//! Before criterion runs, a real-time pass (2,000 ticks of 1 ms each, about 2 s per timer)
//! prints how late each timer's last tick was and the drift between the first and last 100
//! ticks, for `docs/benchmarks.md`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use futures_lite::StreamExt;
use wrangle_rt::{
    Runtime,
    adapter::{SmolRuntime, TokioRuntime},
};
use wrangle_timer::{Interval, MissedTick};

const TICKS: usize = 2_000;
const PERIOD: Duration = Duration::from_millis(1);

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A start far enough in the past that all ticks are due.
fn past_start() -> Instant {
    Instant::now() - PERIOD * (TICKS as u32 + 1)
}

fn timer_periodic(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer_periodic");

    let tokio_rt = tokio_runtime();
    let ours = TokioRuntime::new(tokio_rt.handle().clone());
    group.bench_function("wrangle_tokio", |b| {
        b.iter(|| {
            tokio_rt.block_on(async {
                let mut iv = Interval::at_with_runtime(
                    ours.clone(),
                    past_start(),
                    PERIOD,
                    MissedTick::Burst,
                )
                .unwrap();
                for _ in 0..TICKS {
                    black_box(iv.tick().await);
                }
            })
        })
    });
    group.bench_function("tokio_interval", |b| {
        b.iter(|| {
            tokio_rt.block_on(async {
                let start = tokio::time::Instant::from_std(past_start());
                let mut iv = tokio::time::interval_at(start, PERIOD);
                for _ in 0..TICKS {
                    black_box(iv.tick().await);
                }
            })
        })
    });

    let ex = Arc::new(async_executor::Executor::new());
    let ours = SmolRuntime::with_executor(ex.clone());
    group.bench_function("wrangle_smol", |b| {
        b.iter(|| {
            futures_lite::future::block_on(ex.run(async {
                let mut iv = Interval::at_with_runtime(
                    ours.clone(),
                    past_start(),
                    PERIOD,
                    MissedTick::Burst,
                )
                .unwrap();
                for _ in 0..TICKS {
                    black_box(iv.tick().await);
                }
            }))
        })
    });
    group.bench_function("async_io_interval", |b| {
        b.iter(|| {
            futures_lite::future::block_on(ex.run(async {
                let mut iv = async_io::Timer::interval_at(past_start(), PERIOD);
                for _ in 0..TICKS {
                    black_box(iv.next().await);
                }
            }))
        })
    });
    group.finish();
}

/// Lateness of each tick, for a real-time run of `TICKS` ticks.
fn report(name: &str, lateness: &[Duration]) {
    let window = 100;
    let mean = |s: &[Duration]| s.iter().sum::<Duration>() / s.len() as u32;
    let (first, last) = (
        mean(&lateness[..window]),
        mean(&lateness[lateness.len() - window..]),
    );
    let mut sorted = lateness.to_vec();
    sorted.sort();
    let p99 = sorted[sorted.len() * 99 / 100];
    println!(
        "timer_periodic real time {name}: last tick late {:?}, p99 lateness {p99:?}, \
         drift (mean lateness, last {window} - first {window}) {:?}",
        lateness[lateness.len() - 1],
        last.saturating_sub(first)
    );
}

fn drift_report() {
    let tokio_rt = tokio_runtime();
    let ours = TokioRuntime::new(tokio_rt.handle().clone());
    let lateness = tokio_rt.block_on(async {
        let mut iv = Interval::with_runtime(ours.clone(), PERIOD, MissedTick::Burst).unwrap();
        let mut out = Vec::with_capacity(TICKS);
        for _ in 0..TICKS {
            let due = iv.tick().await;
            out.push(ours.now() - due);
        }
        out
    });
    report("wrangle_tokio", &lateness);
    let lateness = tokio_rt.block_on(async {
        let mut iv = tokio::time::interval(PERIOD);
        let mut out = Vec::with_capacity(TICKS);
        for _ in 0..TICKS {
            let due = iv.tick().await;
            out.push(tokio::time::Instant::now() - due);
        }
        out
    });
    report("tokio_interval", &lateness);

    let ex = Arc::new(async_executor::Executor::new());
    let ours = SmolRuntime::with_executor(ex.clone());
    let lateness = futures_lite::future::block_on(ex.run(async {
        let mut iv = Interval::with_runtime(ours.clone(), PERIOD, MissedTick::Burst).unwrap();
        let mut out = Vec::with_capacity(TICKS);
        for _ in 0..TICKS {
            let due = iv.tick().await;
            out.push(ours.now() - due);
        }
        out
    }));
    report("wrangle_smol", &lateness);
    let lateness = futures_lite::future::block_on(ex.run(async {
        let mut iv = async_io::Timer::interval(PERIOD);
        let mut out = Vec::with_capacity(TICKS);
        for _ in 0..TICKS {
            let due = iv.next().await.unwrap();
            out.push(Instant::now() - due);
        }
        out
    }));
    report("async_io_interval", &lateness);
}

fn main() {
    // Skip the slow real-time pass when criterion only lists or tests the benchmarks.
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--list" || a == "--test") {
        drift_report();
    }
    let mut c = Criterion::default().configure_from_args();
    timer_periodic(&mut c);
    c.final_summary();
}

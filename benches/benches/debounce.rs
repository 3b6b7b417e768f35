//! wrangle-debounce against its peers: `debounce_events` (see `docs/benchmarks.md`).
//!
//! 1e6 events, all ready at once, then silence: each contestant debounces them with a 10 ms
//! window and the benchmark waits for the one item that comes out (the last), so one
//! iteration is the per-event cost times 1e6 plus the 10 ms quiet window, which every
//! contestant waits out on its own timer. All run under `smol::block_on` (async-io's
//! reactor drives wrangle's smol sleeps, futures-time's timers, and the hand-written loop;
//! `debounced` uses futures-timer's own thread).
//!
//! The item that comes out is not asserted: on a loaded machine a contestant descheduled for
//! longer than the window between two polls sees a quiet window and emits early (as it
//! should), which a benchmark must tolerate.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_lite::{Stream, StreamExt, stream};
use wrangle_debounce::DebounceBuilder;
use wrangle_rt::{Runtime, Sleep, adapter::SmolRuntime};

const EVENTS: u32 = 1_000_000;
const WINDOW: Duration = Duration::from_millis(10);

/// 1e6 ready events, then a stream that never ends (so nobody can flush at the end).
fn events() -> impl Stream<Item = u32> + Unpin {
    stream::iter(0..EVENTS).chain(stream::pending())
}

/// The hand-written peer: one `wrangle_rt` sleep, reset on every event.
async fn sleep_reset_loop<S: Stream + Unpin>(rt: &SmolRuntime, mut events: S) -> Option<S::Item> {
    let mut sleep = Box::pin(rt.sleep(WINDOW));
    let mut last = None;
    futures_lite::future::poll_fn(|cx| {
        loop {
            match Pin::new(&mut events).poll_next(cx) {
                Poll::Ready(Some(x)) => {
                    last = Some(x);
                    sleep.as_mut().reset(rt.now() + WINDOW);
                }
                Poll::Ready(None) => return Poll::Ready(last.take()),
                Poll::Pending => break,
            }
        }
        if last.is_some() && sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(last.take());
        }
        Poll::Pending
    })
    .await
}

fn debounce_events(c: &mut Criterion) {
    let mut group = c.benchmark_group("debounce_events");
    group.sample_size(10);
    let rt = SmolRuntime::new();

    group.bench_function("wrangle", |b| {
        b.iter(|| {
            smol::block_on(async {
                let mut out = DebounceBuilder::new(WINDOW)
                    .runtime(rt.clone())
                    .build(events())
                    .unwrap();
                black_box(out.next().await);
            })
        })
    });
    // futures-time takes one event per poll and then waits on its timer without asking to be
    // polled again, so under an executor a burst of 1e6 ready events takes 1e6 windows (about
    // 2.8 hours). Driven here by polling it again at once, until it yields, which measures its
    // work per event (a timer reset each) and busy-waits the last window.
    group.bench_function("futures_time", |b| {
        b.iter(|| {
            smol::block_on(async {
                let window = futures_time::time::Duration::from(WINDOW);
                let out = futures_time::stream::StreamExt::debounce(events(), window);
                let mut out = std::pin::pin!(out);
                let last = futures_lite::future::poll_fn(|cx| {
                    loop {
                        if let Poll::Ready(x) = out.as_mut().poll_next(cx) {
                            return Poll::Ready(x);
                        }
                    }
                })
                .await;
                black_box(last);
            })
        })
    });
    group.bench_function("debounced", |b| {
        b.iter(|| {
            smol::block_on(async {
                let mut out = debounced::debounced(events(), WINDOW);
                black_box(out.next().await);
            })
        })
    });
    group.bench_function("sleep_reset_loop", |b| {
        b.iter(|| {
            smol::block_on(async {
                let last = sleep_reset_loop(&rt, events()).await;
                black_box(last);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, debounce_events);
criterion_main!(benches);

//! Drives the real types through a schedule on virtual time and reports what happened, in
//! the shape of the models' [`Outcome`](super::model::Outcome).

#![allow(dead_code, unreachable_pub)]

use std::pin::pin;

use futures_lite::StreamExt;
use wrangle_debounce::{AsyncDebouncer, DebounceBuilder, Debouncer, ThrottleBuilder};
use wrangle_rt::{DefaultRuntime, Runtime, VirtualRuntime};

use super::model::{ModelMode, Op, Outcome, calls_to_ops};
use super::{Runs, at, identity, ms};

/// Calls a `Debouncer` (or an `AsyncDebouncer` for [`ModelMode::Deferred`]) at the given
/// instants; the function takes `takes` ms. Runs are sorted by (instant, argument).
pub fn debouncer(mode: ModelMode, window: u64, takes: u64, calls: &[(u64, u32)]) -> Outcome {
    debouncer_ops(mode, window, takes, &calls_to_ops(calls))
}

/// [`debouncer`] over a schedule with flushes. A flush is polled once (which starts the
/// pending run) and dropped, so that waiting for the run does not move the schedule.
pub fn debouncer_ops(mode: ModelMode, window: u64, takes: u64, ops: &[(u64, Op)]) -> Outcome {
    let rt = VirtualRuntime::builder().seed(7).build();
    let out = rt.block_on(drive(
        DefaultRuntime::Virtual(rt.clone()),
        mode,
        window,
        takes,
        ops,
    ));
    rt.abort();
    out
}

async fn drive(
    rt: DefaultRuntime,
    mode: ModelMode,
    window: u64,
    takes: u64,
    ops: &[(u64, Op)],
) -> Outcome {
    let n_calls = ops
        .iter()
        .filter(|(_, op)| matches!(op, Op::Call(_)))
        .count();
    let runs = Runs::new(&rt);
    let f = identity(rt.clone(), runs.clone(), ms(takes));
    let mut served_by = Vec::new();
    if mode == ModelMode::Deferred {
        let d = AsyncDebouncer::with_runtime(rt.clone(), ms(window), move |x: u32| {
            let run = f(x);
            async move { run.await.map(drop) }
        })
        .unwrap();
        for &(t, op) in ops {
            at(&rt, runs.origin(), t).await;
            match op {
                Op::Call(arg) => {
                    let _called = d.call(arg);
                }
                Op::Flush => drop(futures_lite::future::poll_once(d.flush()).await),
            }
            let s = d.stats();
            check_stats(s.submitted, s.started, s.skipped, s.queued);
        }
        // Let the last trailing run happen at its edge, not at a flush.
        while d.stats().queued > 0 {
            rt.sleep(ms(1)).await;
        }
        d.shutdown().await;
        served_by = vec![None; n_calls];
    } else {
        let b = Debouncer::builder(ms(window)).runtime(rt.clone());
        let b = match mode {
            ModelMode::Eager => b.eager(true),
            ModelMode::Lazy => b.lazy(true),
            ModelMode::EagerLazy => b.eager(true).lazy(true),
            ModelMode::Lodash {
                leading, max_wait, ..
            } => {
                let b = b.eager(leading).trailing(true);
                match max_wait {
                    Some(m) => b.max_wait(ms(m)),
                    None => b,
                }
            }
            ModelMode::Deferred => unreachable!(),
        };
        let d = b.build(f).unwrap();
        let mut pending = Vec::new();
        for &(t, op) in ops {
            at(&rt, runs.origin(), t).await;
            match op {
                Op::Call(arg) => pending.push(d.call(arg)),
                Op::Flush => drop(futures_lite::future::poll_once(d.flush()).await),
            }
            let s = d.stats();
            check_stats(s.submitted, s.started, s.skipped, s.queued);
        }
        for call in pending {
            served_by.push(Some(call.await.unwrap()));
        }
        d.shutdown().await;
        let s = d.stats();
        assert_eq!(s.started, s.completed, "{s:?}");
        assert_eq!(s.started as usize, runs.all().len(), "{s:?}");
    }
    let mut runs = runs.all();
    runs.sort_unstable();
    Outcome { runs, served_by }
}

fn check_stats(submitted: u64, started: u64, skipped: u64, queued: usize) {
    assert_eq!(submitted, started + skipped + queued as u64);
}

/// Feeds `items` (at their instants) through a `Debounce` or `Throttle` stream whose input
/// ends at `end`; returns the emissions (instant, item).
pub fn stream(
    mode: ModelMode,
    throttle: bool,
    window: u64,
    items: &[(u64, u32)],
    end: u64,
) -> Vec<(u64, u32)> {
    let rt = VirtualRuntime::builder().seed(7).build();
    let items = items.to_vec();
    let out = rt.block_on({
        let rt = rt.clone();
        async move {
            let origin = rt.now();
            let (tx, rx) = async_channel::unbounded();
            let producer = rt.spawn({
                let rt = rt.clone();
                async move {
                    for (t, item) in items {
                        rt.sleep_until(origin + ms(t)).await;
                        tx.send(item).await.unwrap();
                    }
                    rt.sleep_until(origin + ms(end)).await;
                }
            });
            let ModelMode::Lodash {
                leading,
                trailing,
                max_wait,
            } = mode
            else {
                panic!("streams follow lodash");
            };
            let mut out = Vec::new();
            let mut record = |x: u32| out.push(((rt.now() - origin).as_millis() as u64, x));
            if throttle {
                let s = ThrottleBuilder::new(ms(window))
                    .leading(leading)
                    .trailing(trailing)
                    .runtime(rt.clone())
                    .build(rx)
                    .unwrap();
                let mut s = pin!(s);
                while let Some(x) = s.next().await {
                    record(x);
                }
                let st = s.stats();
                assert_eq!(st.submitted, st.completed + st.skipped + st.queued as u64);
            } else {
                let b = DebounceBuilder::new(ms(window))
                    .leading(leading)
                    .trailing(trailing)
                    .runtime(rt.clone());
                let b = match max_wait {
                    Some(m) => b.max_wait(ms(m)),
                    None => b,
                };
                let mut s = pin!(b.build(rx).unwrap());
                while let Some(x) = s.next().await {
                    record(x);
                }
                let st = s.stats();
                assert_eq!(st.submitted, st.completed + st.skipped + st.queued as u64);
            }
            producer.await.unwrap();
            out
        }
    });
    rt.abort();
    out
}

//! Cancel safety: dropping callers, the debouncer, and every future after k polls (R2, R5);
//! closing and shutting down never hang.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use common::{Counted, Runs, eventually, identity, ms, settle};
use wrangle_debounce::{DebounceError, Debouncer};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime};

/// A lazy debouncer: 30 ms on virtual time, 400 ms on real runtimes (wide enough that a
/// loaded machine does not close the window between two steps of a test).
fn lazy(
    rt: &DefaultRuntime,
    runs: &Runs,
    takes: u64,
) -> Debouncer<u32, u32, std::convert::Infallible> {
    Debouncer::builder(if rt.is_virtual() { ms(30) } else { ms(400) })
        .lazy(true)
        .runtime(rt.clone())
        .build(identity(rt.clone(), runs.clone(), ms(takes)))
        .unwrap()
}

/// The upstream bug: the caller sleeping before the run (the one that opened the window) is
/// dropped, and the coalesced callers hang for ever. Here the run belongs to the debouncer.
#[test]
fn dropping_the_caller_that_opened_the_window_strands_nobody() {
    each_runtime(|rt| async move {
        let runs = Runs::new(&rt);
        let d = Arc::new(lazy(&rt, &runs, 5));
        let opener = rt.spawn({
            let d = Arc::clone(&d);
            async move { d.call(1).await }
        });
        settle(&rt).await;
        let follower = d.call(2);
        drop(opener); // cancels the task that made the first call, while it waits
        let got = follower.await;
        if rt.is_virtual() {
            assert_eq!(got, Ok(2));
            assert_eq!(runs.args(), [2]);
        } else {
            // A loaded machine can let the 400 ms window close (and the run with the opener's
            // argument start) before the follower calls; the follower then gets that run's
            // result or a later run's. Either way nobody is stranded.
            match got {
                Ok(2) => assert_eq!(runs.args().last(), Some(&2)),
                Ok(1) => assert_eq!(runs.args().first(), Some(&1)),
                other => panic!("the follower got {other:?}"),
            }
        }
        d.shutdown().await;
    });
}

/// The upstream bug, eager flavour: the caller whose call is running is dropped mid-run.
#[test]
fn dropping_the_caller_whose_call_is_running_strands_nobody() {
    each_runtime(|rt| async move {
        let runs = Runs::new(&rt);
        let d = Arc::new(
            Debouncer::builder(ms(100))
                .eager(true)
                .runtime(rt.clone())
                .build(identity(rt.clone(), runs.clone(), ms(20)))
                .unwrap(),
        );
        let runner = rt.spawn({
            let d = Arc::clone(&d);
            async move { d.call(1).await }
        });
        while runs.all().is_empty() {
            settle(&rt).await; // the run has started
        }
        let coalesced = d.call(2);
        runner.cancel().await.ok();
        // Nobody is stranded. On virtual time the second call joins the running one; a loaded
        // real runtime may reach it after that 20 ms run ended, and then it runs on its own.
        let got = coalesced.await;
        if rt.is_virtual() {
            assert_eq!(got, Ok(1));
            assert_eq!(d.stats().completed, 1);
        } else {
            assert!(got == Ok(1) || got == Ok(2), "{got:?}");
            assert_eq!(d.stats().completed, if got == Ok(1) { 1 } else { 2 });
        }
        // Shutdown does not hang either.
        d.shutdown().await;
    });
}

/// R2: dropping the debouncer with a pending call and a running call cancels both; the
/// pending arguments and the running future are each dropped exactly once, and the callers
/// get `Cancelled` instead of hanging.
#[test]
fn dropping_the_debouncer_drops_pending_work_exactly_once() {
    each_runtime(|rt| async move {
        let args_dropped = Arc::new(AtomicUsize::new(0));
        let futures_dropped = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let d = Debouncer::builder(ms(60_000))
            .eager(true)
            .lazy(true)
            .runtime(rt.clone())
            .build({
                let (rt, futures_dropped, started) = (
                    rt.clone(),
                    Arc::clone(&futures_dropped),
                    Arc::clone(&started),
                );
                move |arg: Counted| {
                    let (rt, guard) = (rt.clone(), Counted(Arc::clone(&futures_dropped)));
                    started.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let _guard = guard;
                        drop(arg);
                        rt.sleep(ms(3_600_000)).await;
                        Ok::<u32, std::convert::Infallible>(0)
                    }
                }
            })
            .unwrap();
        let running = d.call(Counted(Arc::clone(&args_dropped)));
        let replaced = d.call(Counted(Arc::clone(&args_dropped)));
        let pending = d.call(Counted(Arc::clone(&args_dropped)));
        // The replaced arguments are dropped at once; the running call's when it started.
        // Eventually (a loaded real runtime may not have polled the run yet), and never the
        // pending call's: it is dropped with the debouncer.
        eventually(&rt, || args_dropped.load(Ordering::SeqCst) >= 2).await;
        settle(&rt).await;
        assert_eq!(args_dropped.load(Ordering::SeqCst), 2);
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert_eq!(d.stats().running, 1);
        drop(d);
        assert_eq!(running.await, Err(DebounceError::Cancelled));
        assert_eq!(replaced.await, Err(DebounceError::Cancelled));
        assert_eq!(pending.await, Err(DebounceError::Cancelled));
        assert_eq!(args_dropped.load(Ordering::SeqCst), 3);
        assert_eq!(futures_dropped.load(Ordering::SeqCst), 1);
        assert_eq!(started.load(Ordering::SeqCst), 1);
    });
}

/// Polls `future` `k` times (with a no-op waker), then drops it.
fn poll_then_drop<F: Future>(future: F, k: usize) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..k {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

/// R5: every future of the debouncer, polled k times then dropped, leaves the state its
/// `# Cancel safety` section promises.
#[test]
fn every_future_polled_k_times_then_dropped() {
    each_runtime(|rt| async move {
        for k in 0..4 {
            let runs = Runs::new(&rt);
            let d = lazy(&rt, &runs, 2);
            // Call: dropping a waiter leaves the run to the others.
            let kept = d.call(1);
            assert!(poll_then_drop(d.call(2), k).is_none());
            // Flush: once polled, the pending call runs; before that nothing happens.
            let flushed = poll_then_drop(d.flush(), k);
            assert!(flushed.is_none());
            if k == 0 {
                assert_eq!(d.stats().queued, 2, "an unpolled flush does nothing");
            } else {
                assert_eq!(d.stats().queued, 0, "a polled flush started the run");
            }
            assert_eq!(kept.await, Ok(2));
            // Shutdown: once polled, the debouncer is closed; waiting can be resumed.
            drop(d.call(3)); // registered; nobody waits for the result
            assert!(poll_then_drop(d.shutdown(), k).is_none());
            assert_eq!(d.is_closed(), k > 0);
            d.shutdown().await;
            assert_eq!(d.stats().running + d.stats().queued, 0);
            assert_eq!(runs.args(), [2, 3]);
        }
    });
}

#[test]
fn close_refuses_new_calls_and_shutdown_waits_for_the_pending_one() {
    each_runtime(|rt| async move {
        let runs = Runs::new(&rt);
        let d = lazy(&rt, &runs, 0);
        let pending = d.call(1);
        let start = rt.now();
        assert!(d.close());
        assert!(!d.close());
        assert_eq!(d.call(2).await, Err(DebounceError::Closed));
        d.shutdown().await;
        if rt.is_virtual() {
            assert_eq!(rt.now() - start, ms(30));
        }
        assert_eq!(runs.args(), [1]);
        assert_eq!(pending.await, Ok(1));
        let s = d.stats();
        assert_eq!((s.submitted, s.started, s.skipped), (2, 1, 1));
        // Shutting down twice, and an idle debouncer, never hang.
        d.shutdown().await;
    });
}

//! `AsyncDebouncer`: the seed's case, failing and panicking trailing calls (the upstream bug),
//! flush, reuse after shutdown, drop (R2) and its futures after k polls (R5).

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use common::{Counted, Runs, ms, settle};
use wrangle_debounce::{AsyncDebouncer, Called, InvalidDebounceConfig};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, ErrorReporter, Runtime, Unhandled};

fn recorder(
    rt: &DefaultRuntime,
    runs: &Runs,
) -> impl Fn(u32) -> std::future::Ready<Result<(), std::io::Error>> + Send + Sync + 'static {
    let (rt, runs) = (rt.clone(), runs.clone());
    move |x| {
        runs.record(&rt, x);
        std::future::ready(Ok(()))
    }
}

#[test]
fn seed_case_ran_deferred_deferred_then_trailing_then_ran() {
    each_runtime(|rt| async move {
        let runs = Runs::new(&rt);
        // Real runtimes get a window a loaded machine cannot overrun between two calls.
        let window = if rt.is_virtual() { ms(10) } else { ms(300) };
        let d = AsyncDebouncer::with_runtime(rt.clone(), window, recorder(&rt, &runs)).unwrap();
        assert_eq!(d.call(1), Called::Ran);
        assert_eq!(d.call(2), Called::Deferred);
        assert_eq!(d.call(3), Called::Deferred);
        rt.sleep(window * 5 / 2).await;
        if !rt.is_virtual() {
            // A loaded real runtime may run the trailing call late: wait for it, then let a
            // whole window pass after its start, which only lengthens the wait.
            common::eventually(&rt, || runs.args().len() == 2).await;
            rt.sleep(window * 2).await;
        }
        assert_eq!(runs.args(), [1, 3]);
        assert_eq!(d.call(4), Called::Ran);
        d.shutdown().await;
        let mut args = runs.args();
        args.sort_unstable();
        assert_eq!(args, [1, 3, 4]);
        if rt.is_virtual() {
            assert_eq!(runs.all(), [(0, 1), (10, 3), (25, 4)]);
        }
        let s = d.stats();
        assert_eq!(
            (s.submitted, s.started, s.completed, s.skipped),
            (4, 3, 3, 1)
        );
    });
}

/// Upstream, a trailing call that raises leaves the debouncer stuck for ever. Here it goes
/// to the error reporter, and the next calls run as usual.
#[test]
fn a_failing_or_panicking_trailing_call_is_reported_and_the_debouncer_keeps_working() {
    each_runtime(|rt| async move {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&reports);
        let runs = Runs::new(&rt);
        let d = AsyncDebouncer::builder(ms(20))
            .runtime(rt.clone())
            .name("autosave")
            .error_reporter(ErrorReporter::new(move |u: Unhandled| {
                sink.lock().unwrap().push(u.to_string());
            }))
            .build({
                let (rt, runs) = (rt.clone(), runs.clone());
                move |x: u32| {
                    runs.record(&rt, x);
                    if x == 3 {
                        panic!("disk on fire");
                    }
                    async move { if x == 2 { Err("disk full") } else { Ok(()) } }
                }
            })
            .unwrap();
        for (i, round) in [2, 3].into_iter().enumerate() {
            d.call(1);
            while runs.args().len() < 2 * i + 1 {
                settle(&rt).await; // 1 has started: runs spawned together may start in any order
            }
            d.call(round); // deferred, then fails or panics in the trailing run
            d.shutdown().await;
        }
        assert_eq!(
            *reports.lock().unwrap(),
            [
                "unhandled error in autosave: disk full",
                "unhandled error in autosave: task panicked: disk on fire",
            ]
        );
        // Not stuck: the next call runs at once, and a deferred one runs too.
        assert_eq!(d.call(4), Called::Ran);
        while runs.args().len() < 5 {
            settle(&rt).await; // 4 has run (two runs started at one instant may go either way)
        }
        // Within 4's window on virtual time; a loaded real runtime may get here after it.
        let called = d.call(5);
        if rt.is_virtual() {
            assert_eq!(called, Called::Deferred);
        }
        d.shutdown().await;
        assert_eq!(runs.args(), [1, 2, 1, 3, 4, 5]);
        let s = d.stats();
        assert_eq!((s.failed, s.panicked, s.completed), (2, 1, 4));
    });
}

#[test]
fn flush_runs_the_pending_call_at_once_and_shutdown_leaves_it_reusable() {
    each_runtime(|rt| async move {
        let runs = Runs::new(&rt);
        let d = AsyncDebouncer::with_runtime(rt.clone(), ms(60_000), recorder(&rt, &runs)).unwrap();
        let start = rt.now();
        assert!(!d.flush().await);
        d.call(1);
        d.call(2);
        d.call(3);
        assert!(d.flush().await);
        // The leading run and the flushed one were spawned back to back: either may start
        // first on a multi-thread runtime, and `flush` waits only for the flushed one.
        common::eventually(&rt, || runs.args().len() == 2).await;
        let mut args = runs.args();
        args.sort_unstable();
        assert_eq!(args, [1, 3]);
        assert_eq!(
            d.call(4),
            Called::Deferred,
            "the flushed run opened a new window"
        );
        d.shutdown().await;
        let mut args = runs.args();
        args.sort_unstable();
        assert_eq!(args, [1, 3, 4]);
        assert_eq!(d.call(5), Called::Ran, "shutdown forgot the window");
        d.shutdown().await;
        if rt.is_virtual() {
            // Nothing waited for the minute (the only waits are the millisecond polls of
            // `eventually`, when a seed runs the leading run after the flushed one).
            assert!(
                rt.now() - start < ms(60_000),
                "something waited for the window"
            );
        }
        assert_eq!(
            AsyncDebouncer::with_runtime(rt.clone(), ms(0), recorder(&rt, &runs)).unwrap_err(),
            InvalidDebounceConfig::ZeroWindow
        );
    });
}

#[test]
fn dropping_the_debouncer_cancels_its_pending_call_once() {
    each_runtime(|rt| async move {
        let dropped = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        let d = AsyncDebouncer::with_runtime(rt.clone(), ms(60_000), {
            let ran = Arc::clone(&ran);
            move |_: Counted| {
                ran.fetch_add(1, Ordering::SeqCst);
                async { Ok::<(), std::io::Error>(()) }
            }
        })
        .unwrap();
        d.call(Counted(Arc::clone(&dropped)));
        d.call(Counted(Arc::clone(&dropped))); // pending
        while ran.load(Ordering::SeqCst) == 0 || d.stats().running > 0 {
            settle(&rt).await;
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        drop(d);
        while dropped.load(Ordering::SeqCst) < 2 {
            settle(&rt).await;
        }
        settle(&rt).await;
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    });
}

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

#[test]
fn flush_and_shutdown_polled_k_times_then_dropped() {
    each_runtime(|rt| async move {
        for k in 0..4 {
            let runs = Runs::new(&rt);
            let d =
                AsyncDebouncer::with_runtime(rt.clone(), ms(60_000), recorder(&rt, &runs)).unwrap();
            d.call(1);
            d.call(2);
            let flushed = poll_then_drop(d.flush(), k);
            // A polled flush started the run (it may even have finished it).
            assert_eq!(d.stats().queued, usize::from(k == 0));
            assert!(flushed.is_none() || flushed == Some(true));
            while runs.args().len() < 1 + usize::from(k > 0) {
                settle(&rt).await; // the flushed run has started
            }
            d.call(3);
            let _ = poll_then_drop(d.shutdown(), k);
            d.shutdown().await;
            // Unpolled, the flush did nothing and 3 replaced 2 in the pending call.
            // Runs spawned at one instant may start in either order on a multi-thread runtime.
            let want: &[u32] = if k == 0 { &[1, 3] } else { &[1, 2, 3] };
            let mut args = runs.args();
            args.sort_unstable();
            assert_eq!(args, want);
            assert_eq!(d.stats().running, 0);
        }
    });
}

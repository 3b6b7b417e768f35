//! The seed's cases and the modes of `Debouncer`, on every runtime; exact timing on virtual
//! time.

mod common;

use std::convert::Infallible;

use common::{Runs, at, identity, ms};
use wrangle_debounce::{Debouncer, InvalidDebounceConfig, MAX_WINDOW};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, VirtualRuntime};

/// Calls at 0, 50, 90 and 120 ms with 1, 2, 3, 4 through a 100 ms debouncer; returns the
/// results and the runs.
async fn seed_case(rt: wrangle_rt::DefaultRuntime, eager: bool, lazy: bool) -> (Vec<u32>, Runs) {
    let runs = Runs::new(&rt);
    let d = Debouncer::builder(ms(100))
        .eager(eager)
        .lazy(lazy)
        .runtime(rt.clone())
        .build(identity(rt.clone(), runs.clone(), ms(1)))
        .unwrap();
    let mut calls = Vec::new();
    for (t, x) in [(0, 1), (50, 2), (90, 3), (120, 4)] {
        at(&rt, runs.origin(), t).await;
        calls.push(d.call(x));
    }
    let mut results = Vec::new();
    for c in calls {
        results.push(c.await.unwrap());
    }
    d.shutdown().await;
    (results, runs)
}

#[test]
fn lazy_runs_once_per_fixed_window_with_the_last_arguments() {
    each_runtime(|rt| async move {
        let (results, runs) = seed_case(rt.clone(), false, true).await;
        if rt.is_virtual() {
            assert_eq!(results, [3, 3, 3, 4]);
            assert_eq!(runs.all(), [(100, 3), (220, 4)]);
        } else {
            // Real time: each caller gets the result of a run with a later-or-equal argument,
            // and the last call always gets its own.
            assert!(results.iter().enumerate().all(|(i, &r)| r as usize > i));
            assert_eq!(results[3], 4);
            assert!(runs.all().len() <= 4);
        }
    });
}

#[test]
fn eager_runs_at_once_and_shares_the_result_inside_the_window() {
    each_runtime(|rt| async move {
        let (results, runs) = seed_case(rt.clone(), true, false).await;
        if rt.is_virtual() {
            assert_eq!(results, [1, 1, 1, 4]);
            assert_eq!(runs.all(), [(0, 1), (120, 4)]);
        } else {
            assert_eq!(results[0], 1);
            assert!(
                results
                    .iter()
                    .enumerate()
                    .all(|(i, &r)| r as usize <= i + 1)
            );
        }
    });
}

#[test]
fn eager_lazy_runs_the_first_call_then_one_trailing_call() {
    each_runtime(|rt| async move {
        let runs = Runs::new(&rt);
        // On real runtimes a window wide enough that a loaded machine cannot split the calls.
        let window = if rt.is_virtual() { ms(10) } else { ms(2_000) };
        let d = Debouncer::builder(window)
            .eager(true)
            .lazy(true)
            .runtime(rt.clone())
            .build(identity(rt.clone(), runs.clone(), ms(1)))
            .unwrap();
        // Three simultaneous calls (registered back to back).
        let (a, b, c) = (d.call(1), d.call(2), d.call(3));
        if !rt.is_virtual() {
            assert!(d.flush().await);
        }
        assert_eq!((a.await, b.await, c.await), (Ok(1), Ok(3), Ok(3)));
        // On a real runtime the flushed run may start before the leading one's task does.
        let mut args = runs.args();
        args.sort_unstable();
        assert_eq!(args, [1, 3]);
        if rt.is_virtual() {
            assert_eq!(runs.all(), [(0, 1), (10, 3)]);
        }
        // Seed timing with eager + lazy: the run of 3 at 100 ms opens the window of 4.
        let (results, runs) = seed_case(rt.clone(), true, true).await;
        if rt.is_virtual() {
            assert_eq!(results, [1, 3, 3, 4]);
            assert_eq!(runs.all(), [(0, 1), (100, 3), (200, 4)]);
        } else {
            assert_eq!(results[0], 1);
            assert_eq!(results[3], 4);
        }
    });
}

#[test]
fn trailing_restarts_the_window_on_every_call() {
    each_runtime(|rt| async move {
        let runs = Runs::new(&rt);
        let d = Debouncer::builder(ms(100))
            .trailing(true)
            .runtime(rt.clone())
            .build(identity(rt.clone(), runs.clone(), ms(0)))
            .unwrap();
        let mut calls = Vec::new();
        for (t, x) in [(0, 1), (50, 2), (90, 3), (120, 4)] {
            at(&rt, runs.origin(), t).await;
            calls.push(d.call(x));
        }
        for c in calls {
            let r = c.await.unwrap();
            if rt.is_virtual() {
                assert_eq!(r, 4);
            }
        }
        if rt.is_virtual() {
            // Quiet for 100 ms after the call at 120.
            assert_eq!(runs.all(), [(220, 4)]);
        }
        let s = d.stats();
        assert_eq!(s.submitted, s.started + s.skipped + s.queued as u64);
    });
}

#[test]
fn trailing_with_leading_edge_and_max_wait_follows_lodash() {
    each_runtime(|rt| async move {
        if !rt.is_virtual() {
            return; // a timing table: meaningful only on virtual time
        }
        let runs = Runs::new(&rt);
        let d = Debouncer::builder(ms(10))
            .eager(true)
            .trailing(true)
            .max_wait(ms(25))
            .runtime(rt.clone())
            .build(identity(rt.clone(), runs.clone(), ms(0)))
            .unwrap();
        // A call every 4 ms for 60 ms, then quiet.
        let mut calls = Vec::new();
        for i in 0..15u32 {
            at(&rt, runs.origin(), u64::from(i) * 4).await;
            calls.push(d.call(i));
        }
        let mut results = Vec::new();
        for c in calls {
            results.push(c.await.unwrap());
        }
        // Leading at 0; the maximum wait forces runs at 25 and 50 (lodash re-arms the timer
        // at the first call after a run); the trailing run 10 ms after the last call.
        assert_eq!(runs.all(), [(0, 0), (25, 6), (50, 12), (66, 14)]);
        assert_eq!(
            results,
            [0, 6, 6, 6, 6, 6, 6, 12, 12, 12, 12, 12, 12, 14, 14]
        );
    });
}

#[test]
fn neither_edge_is_a_typed_error() {
    let rt = VirtualRuntime::new();
    let f = |x: u32| async move { Ok::<_, Infallible>(x) };
    let b = || Debouncer::builder(ms(100)).runtime(rt.clone());
    assert_eq!(b().build(f).unwrap_err(), InvalidDebounceConfig::NoEdge);
    assert_eq!(
        b().eager(false).lazy(false).build(f).unwrap_err(),
        InvalidDebounceConfig::NoEdge
    );
    assert_eq!(
        b().lazy(true).trailing(true).build(f).unwrap_err(),
        InvalidDebounceConfig::LazyAndTrailing
    );
    assert_eq!(
        Debouncer::builder(ms(0))
            .eager(true)
            .runtime(rt.clone())
            .build(f)
            .unwrap_err(),
        InvalidDebounceConfig::ZeroWindow
    );
    for huge in [std::time::Duration::MAX, MAX_WINDOW + ms(1)] {
        assert_eq!(
            Debouncer::builder(huge)
                .eager(true)
                .runtime(rt.clone())
                .build(f)
                .unwrap_err(),
            InvalidDebounceConfig::OutOfRange
        );
        assert_eq!(
            b().trailing(true).max_wait(huge).build(f).unwrap_err(),
            InvalidDebounceConfig::OutOfRange
        );
    }
    assert_eq!(
        b().trailing(true).max_wait(ms(99)).build(f).unwrap_err(),
        InvalidDebounceConfig::MaxWaitBelowWindow
    );
    assert_eq!(
        b().eager(true).max_wait(ms(200)).build(f).unwrap_err(),
        InvalidDebounceConfig::MaxWaitWithoutTrailing
    );
    // The largest window works, and waits without overflowing.
    let d = Debouncer::builder(MAX_WINDOW)
        .lazy(true)
        .runtime(rt.clone())
        .build(f)
        .unwrap();
    rt.block_on(async {
        let c = d.call(1);
        assert!(d.flush().await);
        assert_eq!(c.await, Ok(1));
    });
}

#[test]
fn stats_keep_their_invariants() {
    each_runtime(|rt| async move {
        let runs = Runs::new(&rt);
        let d = Debouncer::builder(ms(20))
            .eager(true)
            .lazy(true)
            .runtime(rt.clone())
            .build(identity(rt.clone(), runs.clone(), ms(3)))
            .unwrap();
        let mut calls = Vec::new();
        for i in 0..30 {
            calls.push(d.call(i));
            let s = d.stats();
            assert_eq!(s.submitted, s.started + s.skipped + s.queued as u64);
            assert_eq!(
                s.started,
                s.completed + s.failed + s.cancelled + s.running as u64
            );
            if i % 7 == 0 {
                rt.sleep(ms(9)).await;
            }
        }
        for c in calls {
            c.await.unwrap();
        }
        d.shutdown().await;
        let s = d.stats();
        assert_eq!(s.submitted, 30);
        assert_eq!((s.queued, s.running), (0, 0));
        assert_eq!(s.started, s.completed);
        assert_eq!(s.started as usize, runs.all().len());
        assert_eq!(s.submitted, s.started + s.skipped);
    });
}

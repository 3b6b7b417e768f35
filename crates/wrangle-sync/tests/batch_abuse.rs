//! `Batcher` and `ChunksTimeout` with extreme configuration and misbehaving callbacks (R16),
//! on every runtime; a dispatch task killed by its runtime's shutdown, on each runtime thread
//! flavour.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::StreamExt;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{
    ErrorReporter, PanicPayload, Runtime, Unhandled,
    thread::{RuntimeThread, ThreadFlavor},
};
use wrangle_sync::Batcher;
use wrangle_sync::stream::ChunksTimeout;

const MS: Duration = Duration::from_millis(1);

/// An error reporter that keeps what it receives.
fn recording_reporter() -> (ErrorReporter, Arc<Mutex<Vec<Unhandled>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reporter = ErrorReporter::new({
        let seen = Arc::clone(&seen);
        move |u: Unhandled| seen.lock().unwrap().push(u)
    });
    (reporter, seen)
}

#[test]
fn a_max_quantity_of_usize_max_or_2_pow_40_reserves_nothing_and_loses_nothing() {
    each_runtime(|rt| async move {
        for max in [usize::MAX, 1 << 40] {
            let got = Arc::new(Mutex::new(Vec::new()));
            let start = rt.now();
            let batcher =
                Batcher::with_runtime(rt.clone(), NonZeroUsize::new(max).unwrap(), 100 * MS, {
                    let (got, rt) = (Arc::clone(&got), rt.clone());
                    move |batch: Vec<u32>| {
                        got.lock().unwrap().push((rt.now() - start, batch));
                        async {}
                    }
                })
                .unwrap();
            for i in 0..5 {
                batcher.put(i).unwrap();
            }
            rt.sleep(150 * MS).await;
            let stats = batcher.shutdown().await;
            assert_eq!((stats.submitted, stats.failed), (5, 0));
            let got = got.lock().unwrap().clone();
            let items: Vec<u32> = got.iter().flat_map(|(_, b)| b.clone()).collect();
            assert_eq!(items, [0, 1, 2, 3, 4], "max_quantity {max}");
            if rt.is_virtual() {
                // Closed by time alone, exactly at max_wait.
                assert_eq!(got, [(100 * MS, vec![0, 1, 2, 3, 4])]);
            }
        }
        // The stream adaptor on its own.
        let chunks = ChunksTimeout::with_runtime(
            rt.clone(),
            futures_lite::stream::iter(0..3),
            NonZeroUsize::MAX,
            MS,
        );
        assert_eq!(chunks.collect::<Vec<_>>().await, [vec![0, 1, 2]]);
    });
}

#[test]
fn a_callback_panicking_before_it_returns_its_future_is_reported_and_the_batcher_goes_on() {
    each_runtime(|rt| async move {
        let (reporter, seen) = recording_reporter();
        let got = Arc::new(Mutex::new(Vec::new()));
        let batcher = Batcher::with_runtime(rt.clone(), NonZeroUsize::MIN, MS, {
            let got = Arc::clone(&got);
            move |batch: Vec<u8>| {
                // Raised while building the future, not inside it.
                assert!(batch[0] != 0, "zero is refused synchronously");
                got.lock().unwrap().extend(batch);
                async {}
            }
        })
        .unwrap()
        .error_reporter(reporter);
        batcher.put(0).unwrap();
        rt.sleep(10 * MS).await;
        batcher.put(1).unwrap();
        batcher.put(2).unwrap();
        let stats = batcher.shutdown().await;
        assert_eq!(
            *got.lock().unwrap(),
            [1, 2],
            "later batches still delivered"
        );
        assert_eq!(
            (
                stats.submitted,
                stats.started,
                stats.completed,
                stats.failed
            ),
            (3, 3, 2, 1)
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "reported once");
        let panic = seen[0]
            .error()
            .downcast_ref::<PanicPayload>()
            .expect("a user panic is reported as a PanicPayload");
        assert_eq!(panic.message(), Some("zero is refused synchronously"));
    });
}

#[test]
fn a_callback_panicking_inside_its_future_is_reported_as_a_panic_payload() {
    each_runtime(|rt| async move {
        let (reporter, seen) = recording_reporter();
        let batcher =
            Batcher::with_runtime(rt.clone(), NonZeroUsize::MIN, MS, |b: Vec<u8>| async move {
                assert!(b[0] != 0, "zero is refused later")
            })
            .unwrap()
            .error_reporter(reporter);
        batcher.put(0).unwrap();
        batcher.put(1).unwrap();
        let stats = batcher.shutdown().await;
        assert_eq!((stats.completed, stats.failed), (1, 1));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let panic = seen[0].error().downcast_ref::<PanicPayload>().unwrap();
        assert_eq!(panic.message(), Some("zero is refused later"));
    });
}

/// The runtime is shut down under the batcher: its dispatch task is dropped. From then on a
/// put is refused (the item handed back) instead of being accepted and lost, and the death
/// is reported once.
///
/// Not on every runtime: only a runtime that drops its tasks when it stops can kill the task.
/// A stopped smol `RuntimeThread` keeps its executor, tasks included, alive while any handle
/// to it lives (the batcher holds one): its tasks are stalled, not dead, and no component can
/// tell a stalled runtime from a slow one.
#[test]
fn a_batcher_whose_dispatch_task_died_refuses_puts_and_reports_it() {
    for flavor in [ThreadFlavor::TokioCurrentThread, ThreadFlavor::Virtual] {
        if !flavor.is_available() {
            continue;
        }
        let thread = RuntimeThread::spawn("batcher-rt", flavor).unwrap();
        let (reporter, seen) = recording_reporter();
        let batcher = Batcher::with_runtime(
            thread.runtime().clone(),
            NonZeroUsize::new(10).unwrap(),
            Duration::from_secs(3600),
            |_: Vec<u32>| async {},
        )
        .unwrap()
        .error_reporter(reporter);
        batcher.put(1).unwrap();
        thread.cancel_blocking();
        assert_eq!(batcher.put(2).map_err(|e| e.0), Err(2), "{flavor:?}");
        assert!(batcher.is_closed());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{flavor:?}: the death is reported once");
        assert_eq!(seen[0].origin(), "wrangle_sync::Batcher");
        drop(seen);
        drop(batcher);
    }
}

#[test]
fn dropping_a_batcher_is_not_reported_as_a_death() {
    each_runtime(|rt| async move {
        let (reporter, seen) = recording_reporter();
        let batcher =
            Batcher::with_runtime(rt.clone(), NonZeroUsize::MIN, MS, |_: Vec<u8>| async {})
                .unwrap()
                .error_reporter(reporter);
        batcher.put(1).unwrap();
        drop(batcher);
        rt.sleep(10 * MS).await;
        assert!(seen.lock().unwrap().is_empty());
    });
}

#[test]
fn a_max_wait_of_duration_max_waits_for_count_or_shutdown_and_never_panics() {
    each_runtime(|rt| async move {
        let got = Arc::new(Mutex::new(Vec::new()));
        let batcher =
            Batcher::with_runtime(rt.clone(), NonZeroUsize::new(2).unwrap(), Duration::MAX, {
                let got = Arc::clone(&got);
                move |batch: Vec<u8>| {
                    got.lock().unwrap().push(batch);
                    async {}
                }
            })
            .unwrap();
        for i in 0..3 {
            batcher.put(i).unwrap();
        }
        rt.sleep(10 * MS).await;
        if rt.is_virtual() {
            // The full batch went at once; the third item waits (for about thirty years).
            assert_eq!(*got.lock().unwrap(), [vec![0, 1]]);
        }
        let stats = batcher.shutdown().await;
        assert_eq!(*got.lock().unwrap(), [vec![0, 1], vec![2]]);
        assert_eq!((stats.started, stats.completed), (2, 2));
    });
}

//! `JoinHandle` semantics beyond the conformance suite, on every runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{JoinError, Runtime};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn handles_and_errors_cross_threads() {
    assert_send_sync::<wrangle_rt::JoinHandle<u32>>();
    assert_send_sync::<JoinError>();
    assert_send_sync::<wrangle_rt::CancellationToken>();
    assert_send_sync::<wrangle_rt::DefaultRuntime>();
    assert_send_sync::<wrangle_rt::future::DefaultSleep>();
}

#[test]
fn join_error_boxes_into_a_send_sync_error() {
    let e: wrangle_rt::BoxError = Box::new(JoinError::Cancelled);
    assert_eq!(e.to_string(), "task was cancelled");
}

#[test]
fn ten_percent_panics_leave_the_runtime_working_and_are_counted_once() {
    each_runtime(|rt| async move {
        let ran = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..200u32)
            .map(|i| {
                let ran = ran.clone();
                rt.spawn(async move {
                    ran.fetch_add(1, Ordering::SeqCst);
                    wrangle_rt::yield_now().await;
                    if i % 10 == 0 {
                        panic!("task {i}");
                    }
                    i
                })
            })
            .collect();
        let (mut ok, mut panicked) = (0, 0);
        for (i, h) in handles.into_iter().enumerate() {
            match h.await {
                Ok(v) => {
                    assert_eq!(v as usize, i);
                    ok += 1;
                }
                Err(JoinError::Panicked(p)) => {
                    assert_eq!(p.message(), Some(format!("task {i}").as_str()));
                    panicked += 1;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!((ok, panicked), (180, 20));
        assert_eq!(ran.load(Ordering::SeqCst), 200);
    });
}

#[test]
fn raw_task_pair_gives_the_same_semantics_on_any_executor() {
    // Cancel before the cell is polled: the body never runs.
    let (cell, handle) =
        wrangle_rt::adapter::task_pair(async { unreachable!("cancelled before start") });
    drop(handle);
    futures_lite::future::block_on(cell);

    // A panic is captured.
    let (cell, handle) = wrangle_rt::adapter::task_pair(async { panic!("raw boom") });
    futures_lite::future::block_on(cell);
    let err = futures_lite::future::block_on(handle).unwrap_err();
    assert_eq!(err.into_panic().unwrap().message(), Some("raw boom"));

    // An executor that drops the cell reports cancellation.
    let (cell, handle) = wrangle_rt::adapter::task_pair(std::future::pending::<()>());
    drop(cell);
    assert!(
        futures_lite::future::block_on(handle)
            .unwrap_err()
            .is_cancelled()
    );

    // Blocking work whose handle is gone never runs.
    let (cell, handle) =
        wrangle_rt::adapter::blocking_pair(|| unreachable!("handle dropped first"));
    drop(handle);
    cell.run();
}

#[test]
fn abort_requests_the_cancel_without_waiting_and_the_handle_still_resolves() {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    each_runtime(|rt| async move {
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = SetOnDrop(dropped.clone());
        let mut pending = rt.spawn(async move {
            let _flag = flag;
            std::future::pending::<u32>().await
        });
        wrangle_rt::yield_now().await;
        pending.abort();
        pending.abort(); // harmless
        assert!(pending.await.unwrap_err().is_cancelled());
        assert!(
            dropped.load(Ordering::SeqCst),
            "resolved only once the future was dropped"
        );

        // Finished before the abort: the output is kept.
        let mut done = rt.spawn(async { 7 });
        while !done.is_finished() {
            wrangle_rt::yield_now().await;
        }
        done.abort();
        assert_eq!(done.await.unwrap(), 7);

        // Aborted, then dropped or detached: nothing panics, nothing runs on.
        let mut a = rt.spawn(std::future::pending::<()>());
        a.abort();
        drop(a);
        let mut b = rt.spawn(std::future::pending::<()>());
        b.abort();
        b.detach();
    });
}

/// A handle joined through `&mut` is left empty: it reports finished, `abort` does nothing,
/// and dropping it drops nothing a second time. A finished handle that was never joined drops
/// its task's output when it is dropped, and a detached one when the task lets go of it:
/// nothing leaks either way.
#[test]
fn a_joined_handle_is_empty_and_an_unjoined_one_drops_the_output() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    each_runtime(|rt| async move {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let mut joined = rt.spawn(async move { Counted(d) });
        let out = (&mut joined).await.unwrap();
        assert!(joined.is_finished());
        joined.abort(); // nothing left to cancel
        assert!(joined.is_finished());
        drop(joined);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "the output is the caller's"
        );
        drop(out);
        assert_eq!(drops.load(Ordering::SeqCst), 1);

        for detach in [false, true] {
            let before = drops.load(Ordering::SeqCst);
            let d = drops.clone();
            let unjoined = rt.spawn(async move { Counted(d) });
            while !unjoined.is_finished() {
                wrangle_rt::yield_now().await;
            }
            if detach {
                unjoined.detach();
            } else {
                drop(unjoined);
            }
            // Eventually: a runtime may drop the output on its own thread.
            for _ in 0..10_000 {
                if drops.load(Ordering::SeqCst) > before {
                    break;
                }
                wrangle_rt::yield_now().await;
            }
            assert_eq!(drops.load(Ordering::SeqCst), before + 1, "detach: {detach}");
        }
    });
}

/// A handle is two words whatever runtime made it: the rare `abort`ed state is boxed.
#[test]
fn a_handle_is_two_words() {
    assert!(
        size_of::<wrangle_rt::JoinHandle<u64>>() <= 2 * size_of::<usize>(),
        "{}",
        size_of::<wrangle_rt::JoinHandle<u64>>()
    );
}

//! `RuntimeThread`: a runtime on its own thread, for every flavour compiled in.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_lite::future::block_on;
use wrangle_rt::{
    Runtime,
    thread::{RuntimeThread, RuntimeThreadError, ThreadFlavor},
};

/// Sets its flag when dropped: a task holding one shows when the task's future was dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn flavours() -> Vec<ThreadFlavor> {
    [
        ThreadFlavor::TokioCurrentThread,
        ThreadFlavor::Smol,
        ThreadFlavor::Virtual,
    ]
    .into_iter()
    .filter(|f| f.is_available())
    .collect()
}

#[test]
fn tasks_run_on_the_named_thread_and_sleep_there() {
    for flavor in flavours() {
        let t = RuntimeThread::spawn(format!("pool-{flavor:?}"), flavor).unwrap();
        let rt = t.runtime().clone();
        let out = block_on(t.runtime().spawn(async move {
            rt.sleep(Duration::from_millis(2)).await;
            std::thread::current().name().map(String::from)
        }));
        assert_eq!(out.unwrap(), Some(format!("pool-{flavor:?}")), "{flavor:?}");
        t.cancel_blocking();
    }
}

#[test]
fn stop_drops_pending_tasks_and_joins() {
    for flavor in flavours() {
        let t = RuntimeThread::spawn("stopper", flavor).unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        let handle = t.runtime().spawn(async move {
            let _g = guard;
            std::future::pending::<()>().await;
        });
        handle.detach();
        t.cancel_blocking();
        assert!(
            dropped.load(Ordering::SeqCst),
            "{flavor:?}: task outlived its runtime thread"
        );
    }
}

/// The async `cancel`, awaited from each runtime: it resolves only once the thread's runtime
/// and its tasks are gone and the thread is joined.
#[test]
fn cancel_awaited_from_any_runtime_resolves_after_the_thread_ended() {
    for flavor in flavours() {
        wrangle_rt::testing::each_runtime(move |_rt| async move {
            let t = RuntimeThread::spawn("async-stop", flavor).unwrap();
            let dropped = Arc::new(AtomicBool::new(false));
            let guard = SetOnDrop(dropped.clone());
            t.runtime()
                .spawn(async move {
                    let _g = guard;
                    std::future::pending::<()>().await;
                })
                .detach();
            let cancel = t.cancel();
            cancel.await;
            assert!(
                dropped.load(Ordering::SeqCst),
                "{flavor:?}: cancel resolved before the thread's tasks were dropped"
            );
        });
    }
}

/// A task holding a clone of the thread's runtime (to spawn more work, as a pool's workers
/// do) is dropped by the stop all the same, whichever way the thread is stopped; spawning on
/// the runtime of a stopped thread gives a cancelled handle.
#[test]
fn tasks_holding_the_runtime_are_dropped_by_the_stop_on_every_flavour() {
    for flavor in flavours() {
        for asynchronous in [false, true] {
            let t = RuntimeThread::spawn("holder", flavor).unwrap();
            let dropped = Arc::new(AtomicBool::new(false));
            let guard = SetOnDrop(dropped.clone());
            let held = t.runtime().clone();
            t.runtime()
                .spawn(async move {
                    let _g = guard;
                    let _rt = held;
                    std::future::pending::<()>().await;
                })
                .detach();
            let rt = t.runtime().clone();
            if asynchronous {
                block_on(t.cancel());
            } else {
                t.cancel_blocking();
            }
            assert!(
                dropped.load(Ordering::SeqCst),
                "{flavor:?} (async: {asynchronous}): a task holding the runtime outlived the thread"
            );
            let late = block_on(rt.spawn(async { 1 }));
            assert!(
                late.unwrap_err().is_cancelled(),
                "{flavor:?}: spawned on a stopped thread"
            );
        }
    }
}

#[test]
fn a_virtual_thread_waits_for_outside_work_instead_of_stalling() {
    let t = RuntimeThread::spawn("virtual", ThreadFlavor::Virtual).unwrap();
    for i in 0..20u32 {
        // Each submission arrives while the runtime thread is idle.
        assert_eq!(
            block_on(t.runtime().spawn(async move { i * 2 })).unwrap(),
            i * 2
        );
    }
    drop(t);
}

#[test]
fn unavailable_flavours_are_a_typed_error() {
    for flavor in [ThreadFlavor::TokioCurrentThread, ThreadFlavor::Smol] {
        if !flavor.is_available() {
            let err = RuntimeThread::spawn("x", flavor).unwrap_err();
            assert!(matches!(err, RuntimeThreadError::Unavailable(f) if f == flavor));
        }
    }
    assert!(ThreadFlavor::default().is_available());
}

//! Making a runtime the default: `DefaultRuntime::enter` and `DefaultRuntime::scoped`.
#![cfg(feature = "runtime-smol")]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime, VirtualRuntime, adapter::SmolRuntime};

#[test]
fn entered_runtime_is_the_default_until_the_guard_drops() {
    each_runtime(|rt| async move {
        let outer = DefaultRuntime::current().name();
        assert_eq!(outer, rt.name());
        let sim = VirtualRuntime::new();
        {
            let _guard = DefaultRuntime::enter(sim.clone());
            assert!(DefaultRuntime::current().is_virtual());
            // The default really is `sim`: a sleep on it waits on `sim`'s clock.
            let before = sim.elapsed();
            sim.block_on(DefaultRuntime::current().sleep(std::time::Duration::from_secs(5)));
            assert_eq!(sim.elapsed() - before, std::time::Duration::from_secs(5));
        }
        assert_eq!(DefaultRuntime::current().name(), outer);
    });
}

#[test]
fn guards_nest_and_restore_in_reverse_order() {
    let first = VirtualRuntime::new();
    let second = SmolRuntime::new();
    let g1 = DefaultRuntime::enter(first);
    assert!(DefaultRuntime::current().is_virtual());
    {
        let _g2 = DefaultRuntime::enter(second);
        assert_eq!(DefaultRuntime::current().name(), "smol");
    }
    assert!(DefaultRuntime::current().is_virtual());
    drop(g1);
    // Nothing entered: the automatic choice (smol's global executor in this build).
    assert_eq!(DefaultRuntime::current().name(), "smol");
    assert!(!DefaultRuntime::current().is_virtual());
}

#[test]
fn scoped_future_sees_its_runtime_and_restores_after_a_panic() {
    let sim = VirtualRuntime::new();
    let seen = futures_lite::future::block_on(DefaultRuntime::scoped(sim.clone(), async {
        DefaultRuntime::current().is_virtual()
    }));
    assert!(seen);
    assert!(
        !DefaultRuntime::current().is_virtual(),
        "nothing leaks out of the scope"
    );

    let panicked = catch_unwind(AssertUnwindSafe(|| {
        futures_lite::future::block_on(DefaultRuntime::scoped(sim, async {
            assert!(DefaultRuntime::current().is_virtual());
            panic!("inside the scope");
        }))
    }));
    assert!(panicked.is_err());
    assert!(
        !DefaultRuntime::current().is_virtual(),
        "the entered runtime is restored when the inner poll unwinds"
    );
}

/// A smol app driving its own executor on its own thread, inside `scoped`: tasks spawned there,
/// and tasks those tasks spawn through the default runtime, all run on that executor, never on
/// smol's global one (whose threads are named `smol-N`).
#[test]
fn tasks_of_a_user_executor_spawn_onto_it_by_default() {
    let ex = Arc::new(async_executor::Executor::new());
    let stop = Arc::new(event_listener::Event::new());
    let stopped = stop.listen();
    let driver = thread::Builder::new()
        .name("app-executor".into())
        .spawn({
            let ex = ex.clone();
            let rt = SmolRuntime::with_executor(ex.clone());
            move || futures_lite::future::block_on(DefaultRuntime::scoped(rt, ex.run(stopped)))
        })
        .unwrap();

    let rt = SmolRuntime::with_executor(ex);
    let names = futures_lite::future::block_on(rt.spawn(async {
        let outer = thread::current().name().map(str::to_owned);
        // Built with the default runtime, inside a task of the user's executor.
        let inner = DefaultRuntime::current()
            .spawn(async { thread::current().name().map(str::to_owned) })
            .await
            .unwrap();
        (outer, inner)
    }))
    .unwrap();
    assert_eq!(names.0.as_deref(), Some("app-executor"));
    assert_eq!(names.1.as_deref(), Some("app-executor"));

    stop.notify(1);
    driver.join().unwrap();
}

#[test]
fn entering_a_user_executor_on_the_main_thread_keeps_work_there() {
    let ex = Arc::new(async_executor::Executor::new());
    let _guard = DefaultRuntime::enter(SmolRuntime::with_executor(ex.clone()));
    let main = thread::current().id();
    let ran_on = futures_lite::future::block_on(ex.run(async {
        DefaultRuntime::current()
            .spawn(async { thread::current().id() })
            .await
            .unwrap()
    }));
    assert_eq!(ran_on, main);
}

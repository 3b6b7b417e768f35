//! The conformance suite, run on every adapter, directly and through `DefaultRuntime`.

use wrangle_rt::testing::{RuntimeKind, each_runtime, run_on};
use wrangle_rt::{Runtime, VirtualRuntime, conformance};

#[test]
fn default_runtime_conforms_on_every_runtime() {
    each_runtime(|rt| async move { conformance::run_all(&rt).await });
}

#[test]
fn virtual_runtime_conforms() {
    let rt = VirtualRuntime::new();
    rt.block_on(conformance::run_all(&rt));
    let seeded = VirtualRuntime::builder().seed(99).build();
    seeded.block_on(conformance::run_all(&seeded));
}

#[cfg(feature = "runtime-tokio")]
#[test]
fn tokio_runtime_conforms_current_thread_and_multi_thread() {
    let ct = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = wrangle_rt::adapter::TokioRuntime::new(ct.handle().clone());
    ct.block_on(conformance::run_all(&rt));

    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rt = wrangle_rt::adapter::TokioRuntime::new(mt.handle().clone());
    mt.block_on(conformance::run_all(&rt));
}

#[cfg(feature = "runtime-tokio")]
#[test]
fn tokio_runtime_works_from_outside_its_context() {
    // Sleeps and spawns through the handle work from a thread that never entered Tokio.
    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rt = wrangle_rt::adapter::TokioRuntime::new(mt.handle().clone());
    let out = futures_lite::future::block_on(async {
        rt.sleep(std::time::Duration::from_millis(1)).await;
        rt.spawn(async { 3 }).await
    });
    assert_eq!(out.unwrap(), 3);
}

#[cfg(feature = "runtime-smol")]
#[test]
fn smol_runtime_conforms_global_and_own_executor() {
    let rt = wrangle_rt::adapter::SmolRuntime::new();
    smol::block_on(conformance::run_all(&rt));

    let ex = std::sync::Arc::new(async_executor::Executor::new());
    let rt = wrangle_rt::adapter::SmolRuntime::with_executor(ex.clone());
    futures_lite::future::block_on(ex.run(conformance::run_all(&rt)));
}

#[cfg(feature = "runtime-async-std")]
#[test]
fn async_std_runtime_conforms() {
    let rt = wrangle_rt::adapter::AsyncStdRuntime::new();
    async_std::task::block_on(conformance::run_all(&rt));
}

#[test]
fn each_runtime_covers_every_compiled_flavour() {
    let kinds = RuntimeKind::enabled();
    assert!(kinds.contains(&RuntimeKind::Virtual));
    assert_eq!(
        kinds.contains(&RuntimeKind::TokioCurrentThread),
        cfg!(feature = "runtime-tokio")
    );
    assert_eq!(
        kinds.contains(&RuntimeKind::TokioMultiThread),
        cfg!(feature = "runtime-tokio")
    );
    assert_eq!(
        kinds.contains(&RuntimeKind::Smol),
        cfg!(feature = "runtime-smol")
    );
    assert_eq!(
        kinds.contains(&RuntimeKind::AsyncStd),
        cfg!(feature = "runtime-async-std")
    );
}

#[test]
fn default_runtime_inside_each_runtime_is_that_runtime() {
    for kind in RuntimeKind::enabled() {
        let (given, picked) = run_on(kind, |rt| async move {
            (rt.name(), wrangle_rt::DefaultRuntime::current().name())
        });
        assert_eq!(given, picked, "on {kind}");
    }
}

#[test]
fn failures_name_the_runtime() {
    let r = std::panic::catch_unwind(|| {
        each_runtime(|_rt| async move { panic!("deliberate") });
    });
    let payload = r.unwrap_err();
    let msg = payload.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("[runtime ") && msg.ends_with("] deliberate"),
        "{msg}"
    );
}

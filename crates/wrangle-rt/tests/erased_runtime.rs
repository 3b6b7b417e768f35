//! A runtime of one's own as the default: `ErasedRuntime`, `DefaultRuntime::from_runtime`,
//! and `DefaultRuntime::enter` with any `Runtime`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wrangle_rt::adapter::ErasedRuntime;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, JoinHandle, Runtime, VirtualRuntime, conformance};

/// A user's runtime: delegates to another and counts what it is asked to do.
#[derive(Clone, Debug)]
struct Counting<R> {
    inner: R,
    spawned: Arc<AtomicUsize>,
    blocking: Arc<AtomicUsize>,
    sleeps: Arc<AtomicUsize>,
}

impl<R> Counting<R> {
    fn new(inner: R) -> Self {
        Counting {
            inner,
            spawned: Arc::default(),
            blocking: Arc::default(),
            sleeps: Arc::default(),
        }
    }
}

impl<R: Runtime> Runtime for Counting<R> {
    type Sleep = R::Sleep;

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawned.fetch_add(1, Ordering::SeqCst);
        self.inner.spawn(future)
    }

    fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.blocking.fetch_add(1, Ordering::SeqCst);
        self.inner.spawn_blocking(f)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn wall_now(&self) -> jiff::Timestamp {
        self.inner.wall_now()
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        self.sleeps.fetch_add(1, Ordering::SeqCst);
        self.inner.sleep_until(deadline)
    }

    fn name(&self) -> &'static str {
        "counting"
    }
}

#[test]
fn an_erased_runtime_passes_the_conformance_suite_on_every_runtime() {
    each_runtime(|rt| async move {
        let mine = Counting::new(rt);
        conformance::run_all(&ErasedRuntime::new(mine.clone())).await;
        // The suite's work really went through the user's runtime.
        assert!(mine.spawned.load(Ordering::SeqCst) > 0);
        assert!(mine.blocking.load(Ordering::SeqCst) > 0);
        assert!(mine.sleeps.load(Ordering::SeqCst) > 0);
    });
}

#[test]
fn an_entered_runtime_of_ones_own_is_the_default() {
    each_runtime(|rt| async move {
        let mine = Counting::new(rt.clone());
        {
            let _guard = DefaultRuntime::enter(mine.clone());
            let current = DefaultRuntime::current();
            assert!(matches!(current, DefaultRuntime::Erased(_)));
            assert_eq!(current.name(), "counting");
            let out = current.spawn(async { 6 * 7 }).await.unwrap();
            assert_eq!(out, 42);
            let sum = current
                .spawn_blocking(|| (1..=10).sum::<u32>())
                .await
                .unwrap();
            assert_eq!(sum, 55);
            current.sleep(Duration::from_millis(1)).await;
            assert_eq!(mine.spawned.load(Ordering::SeqCst), 1);
            assert_eq!(mine.blocking.load(Ordering::SeqCst), 1);
            assert_eq!(mine.sleeps.load(Ordering::SeqCst), 1);
        }
        assert_eq!(DefaultRuntime::current().name(), rt.name());
    });
}

#[test]
fn a_scoped_runtime_of_ones_own_is_the_default_inside_the_future() {
    each_runtime(|rt| async move {
        let mine = Counting::new(rt.clone());
        let name = DefaultRuntime::scoped(mine.clone(), async {
            let current = DefaultRuntime::current();
            current.spawn(async {}).await.unwrap();
            current.name()
        })
        .await;
        assert_eq!(name, "counting");
        assert_eq!(mine.spawned.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_panic_in_an_erased_task_is_returned_and_the_runtime_keeps_working() {
    // (Cancellation on drop, `cancel` and `detach` are the conformance suite's checks above.)
    each_runtime(|rt| async move {
        let erased = ErasedRuntime::new(Counting::new(rt.clone()));
        let err = erased
            .spawn(async { panic!("boom") })
            .await
            .expect_err("the panic is returned");
        assert!(err.is_panic());
        assert_eq!(erased.spawn(async { 1 }).await.unwrap(), 1);
    });
}

#[test]
fn virtual_time_stays_exact_through_the_erasure() {
    virtual_time(|rt| async move {
        let erased = DefaultRuntime::from(ErasedRuntime::new(Counting::new(rt.clone())));
        let start = rt.now();
        erased.sleep(Duration::from_secs(90)).await;
        assert_eq!(rt.now() - start, Duration::from_secs(90));
        let mut sleep = std::pin::pin!(erased.sleep(Duration::from_secs(10)));
        wrangle_rt::Sleep::reset(sleep.as_mut(), rt.now() + Duration::from_secs(3));
        assert_eq!(
            wrangle_rt::Sleep::deadline(&*sleep),
            rt.now() + Duration::from_secs(3)
        );
        sleep.await;
        assert_eq!(rt.now() - start, Duration::from_secs(93));
    });
}

#[test]
fn from_runtime_keeps_the_built_in_variants_and_erases_the_rest() {
    let sim = VirtualRuntime::new();
    assert!(DefaultRuntime::from_runtime(sim.clone()).is_virtual());
    assert!(DefaultRuntime::from_runtime(DefaultRuntime::from(sim.clone())).is_virtual());
    // A built-in runtime that was erased on the way gets its variant back.
    assert!(DefaultRuntime::from_runtime(ErasedRuntime::new(sim.clone())).is_virtual());
    // Erasing twice does not nest.
    let once = ErasedRuntime::new(Counting::new(sim.clone()));
    let twice = ErasedRuntime::new(once.clone());
    assert!(twice.downcast_ref::<Counting<VirtualRuntime>>().is_some());
    match DefaultRuntime::from_runtime(Counting::new(sim)) {
        DefaultRuntime::Erased(rt) => assert_eq!(rt.name(), "counting"),
        other => panic!("expected the erased variant, got {other:?}"),
    }
}

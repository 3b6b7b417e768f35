//! Running one user call as its own task, counting and reporting what became of it.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_lite::FutureExt;
use wrangle_rt::{
    CancellationToken, ErrorReporter, JoinError, JoinHandle, PanicPayload, Runtime, TaskOutput,
    Unhandled,
};

/// Where a component's failures go, and under which name.
#[derive(Debug)]
pub(crate) struct Reporting {
    reporter: ErrorReporter,
    origin: Cow<'static, str>,
}

impl Reporting {
    pub(crate) fn new(reporter: Option<ErrorReporter>, origin: Cow<'static, str>) -> Arc<Self> {
        Arc::new(Reporting {
            reporter: reporter.unwrap_or_default(),
            origin,
        })
    }

    pub(crate) fn report(&self, error: impl Into<wrangle_rt::BoxError>) {
        self.reporter
            .report(Unhandled::new(self.origin.clone(), error));
    }
}

/// Counters shared by a component, its driver task and its calls.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) started: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) schedule_panicked: AtomicU64,
}

/// One reading of [`Counters`], consistent: `started == completed + failed + cancelled +
/// running` holds in every snapshot, even while calls start and end on other threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    pub(crate) started: u64,
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) cancelled: u64,
    pub(crate) skipped: u64,
    pub(crate) running: usize,
    pub(crate) schedule_panicked: u64,
}

impl Counters {
    // Sequentially consistent, so that a reader that sees a call's end also sees its start
    // (the start is counted before the call is spawned, its end inside the call).
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::SeqCst);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }

    /// Reads the counters. The ends are read before the starts: every call counted as ended
    /// is then counted as started too, so `running` (the difference) is exact for the
    /// snapshot, and the invariant holds by construction.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let completed = Counters::get(&self.completed);
        let failed = Counters::get(&self.failed);
        let cancelled = Counters::get(&self.cancelled);
        let started = Counters::get(&self.started);
        let running = started.saturating_sub(completed + failed + cancelled);
        Snapshot {
            started,
            completed,
            failed,
            cancelled,
            skipped: Counters::get(&self.skipped),
            running: usize::try_from(running).unwrap_or(usize::MAX),
            schedule_panicked: Counters::get(&self.schedule_panicked),
        }
    }
}

/// A user's future, or the panic its closure raised while building it.
///
/// Every call of user code that makes a future goes through [`build`], so that a closure that
/// panics before returning its future is one more failed call: counted, reported and handled
/// by the owner's policy like a future that panics while it runs, never the death of the
/// owner's driver. Polled, the panic is resumed inside [`spawn_tracked`]'s `catch_unwind`
/// (without running the panic hook a second time).
#[pin_project::pin_project(project = CallProj)]
pub(crate) enum Call<F> {
    Built(#[pin] F),
    Panicked(Option<Box<dyn Any + Send>>),
}

impl<F: Future> Future for Call<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.project() {
            CallProj::Built(f) => f.poll(cx),
            CallProj::Panicked(p) => {
                std::panic::resume_unwind(p.take().expect("a panicked call is polled once"))
            }
        }
    }
}

/// Calls `make` (user code returning a future) under `catch_unwind`.
pub(crate) fn build<F: Future>(make: impl FnOnce() -> F) -> Call<F> {
    match catch_unwind(AssertUnwindSafe(make)) {
        Ok(f) => Call::Built(f),
        Err(p) => Call::Panicked(Some(p)),
    }
}

/// A call whose closure panicked before it returned its future, handled where it was made:
/// counted as started and failed, and reported.
pub(crate) fn failed_to_build(
    payload: Box<dyn Any + Send>,
    counters: &Counters,
    reporting: &Reporting,
) {
    Counters::bump(&counters.started);
    Counters::bump(&counters.failed);
    reporting.report(PanicPayload::new(payload));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Ok,
    Failed,
    Cancelled,
}

/// Spawns `future` as its own task that counts and reports its own end; a panic is caught and
/// reported like an error.
pub(crate) fn spawn_tracked<R, F>(
    rt: &R,
    future: F,
    counters: &Arc<Counters>,
    reporting: &Arc<Reporting>,
) -> JoinHandle<Ended>
where
    R: Runtime,
    F: Future + Send + 'static,
    F::Output: TaskOutput,
{
    Counters::bump(&counters.started);
    #[cfg(feature = "tracing")]
    let name = reporting.origin.clone();
    let (counters, reporting) = (counters.clone(), reporting.clone());
    let call = async move {
        // `into_result` is user code too (a `TaskOutput` impl, an error's `Into<BoxError>`).
        let ended = AssertUnwindSafe(async move { future.await.into_result() });
        let error: wrangle_rt::BoxError = match ended.catch_unwind().await {
            Ok(out) => match out {
                Ok(()) => {
                    #[cfg(feature = "tracing")]
                    crate::trace::finished();
                    Counters::bump(&counters.completed);
                    return Ended::Ok;
                }
                Err(e) => {
                    #[cfg(feature = "tracing")]
                    crate::trace::failed();
                    e
                }
            },
            Err(payload) => {
                #[cfg(feature = "tracing")]
                crate::trace::panicked();
                Box::new(PanicPayload::new(payload))
            }
        };
        Counters::bump(&counters.failed);
        reporting.report(error);
        Ended::Failed
    };
    #[cfg(feature = "tracing")]
    let call = crate::trace::Tick::new(call, &name);
    rt.spawn(call)
}

/// Settles the result of a call's handle: a cancelled call is counted here.
pub(crate) fn settle(result: Result<Ended, JoinError>, counters: &Counters) -> Ended {
    match result {
        Ok(ended) => ended,
        Err(_) => {
            Counters::bump(&counters.cancelled);
            Ended::Cancelled
        }
    }
}

/// Runs `future` as its own task and waits for it. When `token` is cancelled first, the call is
/// cancelled and waited for (so it is gone when this returns) and `Cancelled` is returned.
pub(crate) async fn run_call<R, F>(
    rt: &R,
    future: F,
    counters: &Arc<Counters>,
    reporting: &Arc<Reporting>,
    token: &CancellationToken,
) -> Ended
where
    R: Runtime,
    F: Future + Send + 'static,
    F::Output: TaskOutput,
{
    let mut handle = spawn_tracked(rt, future, counters, reporting);
    match token.run_until_cancelled(&mut handle).await {
        Some(result) => settle(result, counters),
        None => {
            settle(handle.cancel().await, counters);
            Ended::Cancelled
        }
    }
}

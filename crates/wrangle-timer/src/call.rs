//! Running one user call as its own task, and reporting what went wrong with it.

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use wrangle_rt::{CancellationToken, ErrorReporter, JoinError, JoinHandle, Runtime, Unhandled};

use crate::Outcome;

/// Where a component's failures go, and under which name.
#[derive(Debug, Clone)]
pub(crate) struct Reporting {
    pub(crate) reporter: ErrorReporter,
    pub(crate) origin: Cow<'static, str>,
}

impl Reporting {
    pub(crate) fn new(reporter: Option<ErrorReporter>, origin: Cow<'static, str>) -> Self {
        Reporting {
            reporter: reporter.unwrap_or_default(),
            origin,
        }
    }

    pub(crate) fn report(&self, error: impl Into<wrangle_rt::BoxError>) {
        self.reporter
            .report(Unhandled::new(self.origin.clone(), error));
    }
}

/// Counters shared by a component and its driver task.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) started: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) cancelled: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Spawns `future` as its own task, so that a panic in it is captured and reported like an
/// error instead of ending the caller.
pub(crate) fn spawn_call<R, F>(rt: &R, future: F) -> JoinHandle<Result<(), wrangle_rt::BoxError>>
where
    R: Runtime,
    F: Future + Send + 'static,
    F::Output: Outcome,
{
    rt.spawn(async move { future.await.into_result() })
}

/// What became of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Ok,
    Failed,
    Cancelled,
}

/// Records (and reports) the end of one call.
pub(crate) fn finish(
    result: Result<Result<(), wrangle_rt::BoxError>, JoinError>,
    counters: &Counters,
    reporting: &Reporting,
) -> Ended {
    match result {
        Ok(Ok(())) => {
            Counters::bump(&counters.completed);
            Ended::Ok
        }
        Ok(Err(e)) => {
            Counters::bump(&counters.failed);
            reporting.report(e);
            Ended::Failed
        }
        Err(JoinError::Cancelled) => {
            Counters::bump(&counters.cancelled);
            Ended::Cancelled
        }
        Err(e) => {
            Counters::bump(&counters.failed);
            reporting.report(e);
            Ended::Failed
        }
    }
}

/// Runs `future` as its own task, waits for it and records the outcome. When `token` is
/// cancelled first, the call is cancelled and waited for (so it is gone when this returns).
pub(crate) async fn run_call<R, F>(
    rt: &R,
    future: F,
    counters: &Counters,
    reporting: &Reporting,
    token: &CancellationToken,
) -> Ended
where
    R: Runtime,
    F: Future + Send + 'static,
    F::Output: Outcome,
{
    Counters::bump(&counters.started);
    let mut handle = spawn_call(rt, future);
    match token.run_until_cancelled(&mut handle).await {
        Some(result) => finish(result, counters, reporting),
        None => {
            let result = handle.cancel().await;
            finish(result, counters, reporting);
            Ended::Cancelled
        }
    }
}

//! [`BackgroundTask`]: at most one live task, restartable, its errors sent to a reporter.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use event_listener::Event;
use futures_lite::FutureExt;
use wrangle_rt::{
    BoxError, DefaultRuntime, ErrorReporter, JoinHandle, PanicPayload, Runtime, Unhandled,
};

use crate::loom::{Mutex, lock};

const ORIGIN: &str = "wrangle_task::BackgroundTask";

type RunOutcome<T> = Option<Result<T, RunError>>;

type Factory<T> =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>> + Send + Sync>;

/// How a run of a [`BackgroundTask`] ended without a value, as seen by
/// [`wait`](BackgroundTask::wait) and [`cancel`](BackgroundTask::cancel). The error itself went
/// to the [`error_reporter`](BackgroundTask::error_reporter).
///
/// # Examples
///
/// ```
/// assert_eq!(wrangle_task::RunError::Failed.to_string(), "the background task failed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError {
    /// It returned an error (sent to the error reporter).
    Failed,
    /// It panicked (the [`PanicPayload`] went to the error reporter).
    Panicked,
    /// It was cancelled (by [`abort`](BackgroundTask::abort), [`cancel`](BackgroundTask::cancel)
    /// or a new [`start`](BackgroundTask::start)).
    Cancelled,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunError::Failed => "the background task failed",
            RunError::Panicked => "the background task panicked",
            RunError::Cancelled => "the background task was cancelled",
        })
    }
}

impl std::error::Error for RunError {}

/// Counters of a [`BackgroundTask`], from [`BackgroundTask::stats`].
///
/// Every run is counted once when it ends, so at any time
/// `started == completed + failed + cancelled + running` (`running` is 0 or 1). A factory that
/// panics while building its future is a failed run (`panicked` counts the panics among
/// `failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BackgroundStats {
    /// Runs started.
    pub started: u64,
    /// Runs that returned `Ok`.
    pub completed: u64,
    /// Runs that returned `Err` or panicked.
    pub failed: u64,
    /// Runs among `failed` that panicked.
    pub panicked: u64,
    /// Runs cancelled (by `abort`, `cancel`, a new `start` or the drop of the task).
    pub cancelled: u64,
    /// Runs running now: 0 or 1.
    pub running: usize,
}

/// A factory of futures with at most one live run at a time (concurrent_tasks'
/// `BackgroundTask`).
///
/// [`start`](BackgroundTask::start) cancels the current run, if any, and starts a new one;
/// [`abort`](BackgroundTask::abort) cancels it and forgets it without waiting,
/// [`cancel`](BackgroundTask::cancel) does the same and waits until the run is gone;
/// [`wait`](BackgroundTask::wait) waits for the latest run's result. A run's error (or panic)
/// goes to the [`error_reporter`](BackgroundTask::error_reporter) whether or not anyone waits;
/// waiters see [`RunError`]. Dropping the `BackgroundTask` cancels the live run.
///
/// **`BackgroundTask` or [`RestartableTask`](crate::RestartableTask)?** Both keep at most one
/// run alive and restart on `start`, but they answer different questions, so they stay two
/// types: a `BackgroundTask` run *is* the work, and its end (its own `Result`) is the outcome,
/// with errors reported as they happen; a `RestartableTask` attempt is a *request* whose outcome
/// may arrive from outside ([`set_result`](crate::RestartableTask::set_result), a reply) within
/// a per-attempt timeout, and its errors are the waiters' to handle, not reported. One type with
/// both modes would make `set_result` and `timeout` meaningless for half its uses.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_task::BackgroundTask;
///
/// let rt = VirtualRuntime::new();
/// let rt2 = rt.clone();
/// let bg = BackgroundTask::with_runtime(rt.clone(), move || {
///     let rt = rt2.clone();
///     async move {
///         rt.sleep(Duration::from_millis(10)).await;
///         Ok::<_, std::io::Error>(10)
///     }
/// });
/// rt.block_on(async {
///     bg.start();
///     assert_eq!(bg.wait().await, Some(Ok(10)));
///     // The result stays until the next start; abort forgets the run.
///     assert_eq!(bg.wait().await, Some(Ok(10)));
///     bg.abort();
///     assert_eq!(bg.wait().await, None);
/// });
/// ```
pub struct BackgroundTask<T, R: Runtime = DefaultRuntime> {
    rt: R,
    factory: Factory<T>,
    reporter: ErrorReporter,
    state: Arc<Mutex<BgState<T>>>,
}

struct BgState<T> {
    current: Option<Arc<Run<T>>>,
    stats: BackgroundStats,
}

struct Run<T> {
    handle: Mutex<Option<JoinHandle<()>>>,
    result: Mutex<Option<Result<T, RunError>>>,
    done: Event,
}

impl<T> Run<T> {
    /// Records the result unless one is already there; returns whether it did.
    fn finish(&self, result: Result<T, RunError>) -> bool {
        let mut slot = lock(&self.result);
        if slot.is_some() {
            return false;
        }
        *slot = Some(result);
        drop(slot);
        self.done.notify(usize::MAX);
        true
    }
}

impl<T: Send + 'static> BackgroundTask<T> {
    /// A background task on [`DefaultRuntime::current`]; `factory` makes each run's future.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::BackgroundTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let bg = BackgroundTask::new(|| async { Ok::<_, std::io::Error>("hi") });
    ///     bg.start();
    ///     assert_eq!(bg.wait().await, Some(Ok("hi")));
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// Like [`DefaultRuntime::current`].
    pub fn new<F, Fut, E>(factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        BackgroundTask::with_runtime(DefaultRuntime::current(), factory)
    }
}

impl<T: Send + 'static, R: Runtime> BackgroundTask<T, R> {
    /// A background task on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::BackgroundTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let bg = BackgroundTask::with_runtime(rt.clone(), || async { Ok::<_, std::io::Error>(()) });
    /// assert!(!bg.is_running());
    /// ```
    pub fn with_runtime<F, Fut, E>(rt: R, factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        BackgroundTask {
            rt,
            factory: Box::new(move || {
                let fut = factory();
                Box::pin(async move { fut.await.map_err(Into::into) })
            }),
            reporter: ErrorReporter::global(),
            state: Arc::new(Mutex::new(BgState {
                current: None,
                stats: BackgroundStats::default(),
            })),
        }
    }

    /// Sends run errors and panics to `reporter` instead of the process-wide handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use wrangle_rt::{ErrorReporter, Unhandled, VirtualRuntime};
    /// use wrangle_task::{BackgroundTask, RunError};
    ///
    /// let rt = VirtualRuntime::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let reporter =
    ///     ErrorReporter::new(move |u: Unhandled| sink.lock().unwrap().push(u.error().to_string()));
    /// let bg = BackgroundTask::with_runtime(rt.clone(), || async { Err::<(), _>("broken") })
    ///     .error_reporter(reporter);
    /// rt.block_on(async {
    ///     bg.start();
    ///     assert_eq!(bg.wait().await, Some(Err(RunError::Failed)));
    /// });
    /// assert_eq!(*seen.lock().unwrap(), ["broken"]);
    /// ```
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = reporter;
        self
    }

    /// Cancels the current run, if any (without waiting), and starts a new one.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::BackgroundTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let bg = BackgroundTask::with_runtime(rt.clone(), || async { Ok::<_, std::io::Error>(1) });
    /// bg.start();
    /// bg.start(); // the first run is cancelled
    /// assert_eq!(bg.stats().cancelled, 1);
    /// ```
    pub fn start(&self) {
        // The factory is user code: a panic while it builds the future is this run's panic.
        let fut = match catch_unwind(AssertUnwindSafe(|| (self.factory)())) {
            Ok(fut) => fut,
            Err(p) => Box::pin(crate::resume_panic(p)),
        };
        let mut st = lock(&self.state);
        let old = st.current.take();
        st.stats.started += 1;
        let run = Arc::new(Run {
            handle: Mutex::new(None),
            result: Mutex::new(None),
            done: Event::new(),
        });
        let (state, reporter, run2) = (self.state.clone(), self.reporter.clone(), run.clone());
        let handle = self.rt.spawn(async move {
            let result = match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => {
                    reporter.report(Unhandled::new(ORIGIN, e));
                    Err(RunError::Failed)
                }
                Err(p) => {
                    reporter.report(Unhandled::new(ORIGIN, PanicPayload::new(p)));
                    Err(RunError::Panicked)
                }
            };
            let (ok, panicked) = (result.is_ok(), matches!(result, Err(RunError::Panicked)));
            let mut st = lock(&state);
            if run2.finish(result) {
                if ok {
                    st.stats.completed += 1;
                } else {
                    st.stats.failed += 1;
                    st.stats.panicked += u64::from(panicked);
                }
            }
        });
        *lock(&run.handle) = Some(handle);
        st.current = Some(run);
        if let Some(old) = old
            && cancel_run(&old)
        {
            st.stats.cancelled += 1;
        }
    }

    /// Requests the cancellation of the current run, if any, and forgets it; never waits (the
    /// run's future is dropped by its runtime soon after). To wait until it is gone, use
    /// [`cancel`](BackgroundTask::cancel).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::BackgroundTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let bg = BackgroundTask::with_runtime(rt.clone(), || async { Ok::<_, std::io::Error>(1) });
    /// bg.start();
    /// bg.abort();
    /// assert!(!bg.is_running());
    /// assert_eq!(bg.stats().cancelled, 1);
    /// ```
    pub fn abort(&self) {
        let mut st = lock(&self.state);
        if let Some(run) = st.current.take()
            && cancel_run(&run)
        {
            st.stats.cancelled += 1;
        }
    }

    /// Returns `true` while a run is live.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::BackgroundTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let bg = BackgroundTask::with_runtime(rt.clone(), || async { Ok::<_, std::io::Error>(1) });
    /// bg.start();
    /// assert!(bg.is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        lock(&self.state)
            .current
            .as_ref()
            .is_some_and(|run| lock(&run.result).is_none())
    }

    /// The counters so far; see [`BackgroundStats`] for their invariant.
    pub fn stats(&self) -> BackgroundStats {
        let st = lock(&self.state);
        let mut stats = st.stats;
        stats.running = usize::from(
            st.current
                .as_ref()
                .is_some_and(|run| lock(&run.result).is_none()),
        );
        stats
    }
}

impl<T: Clone + Send + 'static, R: Runtime> BackgroundTask<T, R> {
    /// Waits for the latest run and gives its result: `Some(Ok(value))`, or `Some(Err(_))` if
    /// it failed, panicked or was cancelled meanwhile; `None` if there is no run to wait for
    /// (never started, or forgotten by [`abort`](BackgroundTask::abort) or
    /// [`cancel`](BackgroundTask::cancel)).
    ///
    /// Unlike upstream, a run that finished before the call still gives its result (until the
    /// next start), so `start(); wait()` cannot lose the result to a fast run on another
    /// thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::BackgroundTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let bg = BackgroundTask::with_runtime(rt.clone(), || async { Ok::<_, std::io::Error>(1) });
    /// assert_eq!(rt.block_on(bg.wait()), None);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future only stops waiting; the run goes on.
    pub fn wait(&self) -> BackgroundWait<T> {
        let run = lock(&self.state).current.clone();
        BackgroundWait {
            inner: Box::pin(async move {
                let run = run?;
                loop {
                    let listener = run.done.listen();
                    if let Some(r) = lock(&run.result).as_ref() {
                        return Some(r.clone());
                    }
                    listener.await;
                }
            }),
        }
    }
    /// Cancels the current run, if any, forgets it, and waits until its future is gone (its
    /// drop-time cleanup has run). Resolves to the run's outcome: `Some(Err(RunError::Cancelled))`
    /// if it was still running, its result if it had already ended, `None` if there was no run.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{BackgroundTask, RunError};
    ///
    /// /// Sets its flag when dropped: the run's cleanup.
    /// struct Cleanup(Arc<AtomicBool>);
    /// impl Drop for Cleanup {
    ///     fn drop(&mut self) { self.0.store(true, Ordering::SeqCst); }
    /// }
    ///
    /// let rt = VirtualRuntime::new();
    /// let cleaned = Arc::new(AtomicBool::new(false));
    /// let flag = cleaned.clone();
    /// let bg = BackgroundTask::with_runtime(rt.clone(), move || {
    ///     let guard = Cleanup(flag.clone());
    ///     async move {
    ///         let _guard = guard;
    ///         std::future::pending::<Result<(), std::io::Error>>().await
    ///     }
    /// });
    /// rt.block_on(async {
    ///     bg.start();
    ///     wrangle_rt::yield_now().await; // the run starts
    ///     assert_eq!(bg.cancel().await, Some(Err(RunError::Cancelled)));
    ///     // Awaiting `cancel` returned only once the run's future was dropped.
    ///     assert!(cleaned.load(Ordering::SeqCst));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The run is cancelled when `cancel` is called, not when the future is first polled.
    /// Dropping the future only stops waiting: the run is dropped by its runtime soon after, as
    /// with [`abort`](BackgroundTask::abort).
    pub fn cancel(&self) -> BackgroundCancel<T> {
        let (run, handle) = {
            let mut st = lock(&self.state);
            match st.current.take() {
                None => (None, None),
                Some(run) => {
                    let handle = lock(&run.handle).take();
                    if run.finish(Err(RunError::Cancelled)) {
                        st.stats.cancelled += 1;
                    }
                    (Some(run), handle)
                }
            }
        };
        BackgroundCancel {
            inner: Box::pin(async move {
                if let Some(handle) = handle {
                    let _ = handle.cancel().await;
                }
                let run = run?;
                lock(&run.result).clone()
            }),
        }
    }
}

/// Cancels a run's task and tells its waiters; returns whether it was still running.
fn cancel_run<T>(run: &Run<T>) -> bool {
    let handle = lock(&run.handle).take();
    drop(handle);
    run.finish(Err(RunError::Cancelled))
}

impl<T, R: Runtime> Drop for BackgroundTask<T, R> {
    fn drop(&mut self) {
        if let Some(run) = lock(&self.state).current.take() {
            cancel_run(&run);
        }
    }
}

impl<T, R: Runtime> fmt::Debug for BackgroundTask<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("BackgroundTask")
            .field("running", &st.current.is_some())
            .field("stats", &st.stats)
            .finish_non_exhaustive()
    }
}

/// The future of [`BackgroundTask::wait`].
///
/// # Cancel safety
///
/// Dropping it only stops waiting; the run goes on.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct BackgroundWait<T> {
    inner: Pin<Box<dyn Future<Output = RunOutcome<T>> + Send>>,
}

impl<T> fmt::Debug for BackgroundWait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundWait").finish_non_exhaustive()
    }
}

impl<T> Future for BackgroundWait<T> {
    type Output = Option<Result<T, RunError>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// The future of [`BackgroundTask::cancel`].
///
/// # Cancel safety
///
/// Dropping it only stops waiting; the run was already cancelled.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct BackgroundCancel<T> {
    inner: Pin<Box<dyn Future<Output = RunOutcome<T>> + Send>>,
}

impl<T> fmt::Debug for BackgroundCancel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundCancel").finish_non_exhaustive()
    }
}

impl<T> Future for BackgroundCancel<T> {
    type Output = Option<Result<T, RunError>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

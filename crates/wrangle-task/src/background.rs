//! [`BackgroundTask`]: at most one live task, restartable, its errors sent to a handler.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use event_listener::Event;
use futures_lite::FutureExt;
use wrangle_rt::{
    BoxError, DefaultRuntime, ErrorHandler, ErrorReporter, JoinHandle, Runtime, Unhandled,
};

use crate::TaskPanicked;
use crate::sync::{Mutex, lock};

const ORIGIN: &str = "wrangle_task::BackgroundTask";

type RunOutcome<T> = Option<Result<T, RunError>>;

type Factory<T> =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>> + Send + Sync>;

/// How a run of a [`BackgroundTask`] ended without a value, as seen by
/// [`wait`](BackgroundTask::wait). The error itself went to the error handler.
///
/// # Examples
///
/// ```
/// assert_eq!(wrangle_task::RunError::Failed.to_string(), "the background task failed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError {
    /// It returned an error (sent to the error handler).
    Failed,
    /// It panicked (reported to the error handler).
    Panicked,
    /// It was cancelled (by [`cancel`](BackgroundTask::cancel) or a new
    /// [`start`](BackgroundTask::start)).
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

/// Counters of a [`BackgroundTask`].
///
/// # Examples
///
/// ```
/// assert_eq!(wrangle_task::BackgroundStats::default().started, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BackgroundStats {
    /// Runs started.
    pub started: u64,
    /// Runs that returned `Ok`.
    pub completed: u64,
    /// Runs that failed or panicked.
    pub failed: u64,
    /// Runs cancelled.
    pub cancelled: u64,
}

/// A factory of futures with at most one live run at a time (concurrent_tasks'
/// `BackgroundTask`).
///
/// [`start`](BackgroundTask::start) cancels the current run, if any, and starts a new one;
/// [`cancel`](BackgroundTask::cancel) cancels it and forgets it; [`wait`](BackgroundTask::wait)
/// waits for the latest run's result. A run's error (or panic) goes to the error handler whether or not
/// anyone waits; waiters see [`RunError`]. Dropping the `BackgroundTask` cancels the live run.
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
///     // The result stays until the next start; cancel forgets the run.
///     assert_eq!(bg.wait().await, Some(Ok(10)));
///     bg.cancel();
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

    /// Sends run errors to `handler` instead of the process-wide handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use wrangle_rt::{Unhandled, VirtualRuntime};
    /// use wrangle_task::{BackgroundTask, RunError};
    ///
    /// let rt = VirtualRuntime::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let bg = BackgroundTask::with_runtime(rt.clone(), || async { Err::<(), _>("broken") })
    ///     .error_handler(move |u: Unhandled| sink.lock().unwrap().push(u.error().to_string()));
    /// rt.block_on(async {
    ///     bg.start();
    ///     assert_eq!(bg.wait().await, Some(Err(RunError::Failed)));
    /// });
    /// assert_eq!(*seen.lock().unwrap(), ["broken"]);
    /// ```
    pub fn error_handler(mut self, handler: impl ErrorHandler) -> Self {
        self.reporter = ErrorReporter::new(handler);
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
            Err(p) => Box::pin(crate::panic::resume(p)),
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
                    let p = TaskPanicked::new(crate::panic::payload(p));
                    reporter.report(Unhandled::new(ORIGIN, p));
                    Err(RunError::Panicked)
                }
            };
            let ok = result.is_ok();
            let mut st = lock(&state);
            if run2.finish(result) {
                if ok {
                    st.stats.completed += 1;
                } else {
                    st.stats.failed += 1;
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

    /// Cancels the current run, if any, and forgets it; does not wait.
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
    /// bg.cancel();
    /// assert!(!bg.is_running());
    /// ```
    pub fn cancel(&self) {
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

    /// The counters so far.
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
    /// assert_eq!(bg.stats().started, 1);
    /// ```
    pub fn stats(&self) -> BackgroundStats {
        lock(&self.state).stats
    }
}

impl<T: Clone + Send + 'static, R: Runtime> BackgroundTask<T, R> {
    /// Waits for the latest run and gives its result: `Some(Ok(value))`, or `Some(Err(_))` if
    /// it failed, panicked or was cancelled meanwhile; `None` if there is no run to wait for
    /// (never started, or forgotten by [`cancel`](BackgroundTask::cancel)).
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

//! [`RestartableTask`]: retriable "send, then wait for a reply" attempts.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use event_listener::Event;
use futures_lite::FutureExt;
use wrangle_rt::{BoxError, DefaultRuntime, JoinHandle, PanicPayload, Runtime};

use crate::loom::{Mutex, lock};

type Factory<T> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Option<T>> + Send>> + Send + Sync>;

/// Why a [`RestartableTask`] attempt produced no value.
///
/// # Examples
///
/// ```
/// let e = wrangle_task::RestartError::TimedOut;
/// assert_eq!(e.to_string(), "the attempt timed out");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RestartError {
    /// [`wait`](RestartableTask::wait) was called before any [`start`](RestartableTask::start).
    NotStarted,
    /// No result arrived within the per-attempt timeout.
    TimedOut,
    /// [`set_error`](RestartableTask::set_error) was called for the attempt.
    Failed(Arc<dyn std::error::Error + Send + Sync>),
    /// The attempt's future panicked.
    Panicked(Arc<PanicPayload>),
}

impl fmt::Display for RestartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartError::NotStarted => f.write_str("the task has not been started"),
            RestartError::TimedOut => f.write_str("the attempt timed out"),
            RestartError::Failed(e) => write!(f, "the attempt failed: {e}"),
            RestartError::Panicked(p) => write!(f, "the attempt panicked: {p}"),
        }
    }
}

impl std::error::Error for RestartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RestartError::Failed(e) => Some(&**e),
            _ => None,
        }
    }
}

/// [`RestartableTask::set_result`] or [`set_error`](RestartableTask::set_error) found no live
/// attempt (none started, cancelled, or already resolved); the value is handed back.
///
/// # Examples
///
/// ```
/// let e = wrangle_task::NoAttempt(5);
/// assert_eq!(e.to_string(), "no attempt is waiting for a result");
/// ```
pub struct NoAttempt<T>(pub T);

impl<T> fmt::Debug for NoAttempt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NoAttempt").finish_non_exhaustive()
    }
}

impl<T> fmt::Display for NoAttempt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no attempt is waiting for a result")
    }
}

impl<T> std::error::Error for NoAttempt<T> {}

/// Counters of a [`RestartableTask`], from [`RestartableTask::stats`].
///
/// Every attempt is counted once when it ends, so at any time
/// `started == completed + failed + timed_out + cancelled + running` (`running` is 0 or 1). A
/// factory that panics is a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RestartStats {
    /// Attempts started.
    pub started: u64,
    /// Attempts resolved with a value.
    pub completed: u64,
    /// Attempts resolved with an error or a panic.
    pub failed: u64,
    /// Attempts cancelled (by `abort`, `cancel` or the drop of the task).
    pub cancelled: u64,
    /// Attempts that timed out.
    pub timed_out: u64,
    /// Attempts live now (started, not cancelled, not resolved): 0 or 1.
    pub running: usize,
}

/// A retriable attempt (concurrent_tasks' `RestartableTask`): each
/// [`start`](RestartableTask::start) spawns the factory's future (say, "send the request"); the
/// attempt is resolved by that future's own `Some(value)`, or later by
/// [`set_result`](RestartableTask::set_result) / [`set_error`](RestartableTask::set_error) (the
/// reply), or fails after the per-attempt timeout. It can be cancelled and started again any
/// number of times.
///
/// [`wait`](RestartableTask::wait) follows the task across restarts by generation: a
/// synchronous `abort(); start()` does not disturb waiters, who get the new attempt's outcome.
/// Dropping the `RestartableTask` cancels the live attempt.
///
/// The factory's future runs once per `start`, to its end, even when the reply comes before
/// the attempt's task was first polled: `start(); set_result(v)` still sends. A factory that
/// panics (while building its future, or the future while it runs) resolves the attempt with
/// [`RestartError::Panicked`]; the task keeps working.
///
/// Why this is not a [`BackgroundTask`](crate::BackgroundTask) with options: there the run is
/// the work and its own end is the outcome, its errors reported as they happen; here an attempt
/// is a request whose outcome may come from outside, within a timeout, and its errors belong to
/// the waiters (nothing is reported).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::RestartableTask;
///
/// let rt = VirtualRuntime::new();
/// // The attempt "sends" and returns `None`: the reply comes through `set_result`.
/// let task = RestartableTask::with_runtime(rt.clone(), || async { None::<u32> })
///     .timeout(Duration::from_secs(1));
/// rt.block_on(async {
///     task.start();
///     task.abort();
///     task.start();
///     task.set_result(7).unwrap();
///     assert_eq!(task.wait().await.unwrap(), 7);
///     assert_eq!(task.stats().started, 2);
/// });
/// ```
pub struct RestartableTask<T, R: Runtime = DefaultRuntime> {
    rt: R,
    factory: Factory<T>,
    timeout: Option<Duration>,
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    changed: Event,
}

struct State<T> {
    generation: u64,
    started_ever: bool,
    live: Option<JoinHandle<()>>,
    /// Attempts resolved from outside (`set_result`, `set_error`) whose function has not
    /// ended yet: it runs to its end (once per `start`), cancelled only with the task.
    finishing: Vec<JoinHandle<()>>,
    outcome: Option<Result<T, RestartError>>,
    stats: RestartStats,
}

impl<T> Shared<T> {
    /// Resolves attempt `generation` if it is still the live one.
    fn resolve(
        &self,
        generation: u64,
        outcome: Result<T, RestartError>,
    ) -> Result<(), NoAttempt<Result<T, RestartError>>> {
        let mut st = lock(&self.state);
        if st.generation != generation || st.live.is_none() || st.outcome.is_some() {
            return Err(NoAttempt(outcome));
        }
        match &outcome {
            Ok(_) => st.stats.completed += 1,
            Err(RestartError::TimedOut) => st.stats.timed_out += 1,
            Err(_) => st.stats.failed += 1,
        }
        st.outcome = Some(outcome);
        // The attempt is over. Its task is not cancelled: it may not even have run the
        // attempt's function yet, which runs once per `start` whatever happens to the reply
        // (the seed's behaviour); it ends at once after that (see `resolved`).
        if let Some(live) = st.live.take() {
            st.finishing.retain(|h| !h.is_finished());
            st.finishing.push(live);
        }
        drop(st);
        self.changed.notify(usize::MAX);
        Ok(())
    }

    /// Completes once attempt `generation` has an outcome (or a later attempt began).
    async fn resolved(&self, generation: u64) {
        loop {
            let listener = self.changed.listen();
            {
                let st = lock(&self.state);
                if st.generation != generation || st.outcome.is_some() {
                    return;
                }
            }
            listener.await;
        }
    }
}

impl<T: Clone + Send + 'static> RestartableTask<T> {
    /// A restartable task on [`DefaultRuntime::current`]; `factory` makes each attempt's future.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::RestartableTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let task = RestartableTask::new(|| async { Some("done by itself") });
    ///     task.start();
    ///     assert_eq!(task.wait().await.unwrap(), "done by itself");
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// Like [`DefaultRuntime::current`].
    pub fn new<F, Fut>(factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<T>> + Send + 'static,
    {
        RestartableTask::with_runtime(DefaultRuntime::current(), factory)
    }
}

impl<T: Clone + Send + 'static, R: Runtime> RestartableTask<T, R> {
    /// A restartable task on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::RestartableTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let task = RestartableTask::with_runtime(rt.clone(), || async { None::<()> });
    /// assert!(!task.is_running());
    /// ```
    pub fn with_runtime<F, Fut>(rt: R, factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<T>> + Send + 'static,
    {
        RestartableTask {
            rt,
            factory: Box::new(move || Box::pin(factory())),
            timeout: None,
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    generation: 0,
                    started_ever: false,
                    live: None,
                    finishing: Vec::new(),
                    outcome: None,
                    stats: RestartStats::default(),
                }),
                changed: Event::new(),
            }),
        }
    }

    /// Sets the per-attempt timeout, counted from each attempt's start.
    ///
    /// A duration too long for the clock (`Duration::MAX`) means no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::{RestartError, RestartableTask};
    ///
    /// let rt = VirtualRuntime::new();
    /// let task = RestartableTask::with_runtime(rt.clone(), || async { None::<()> })
    ///     .timeout(Duration::from_millis(10));
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     task.start();
    ///     assert!(matches!(task.wait().await, Err(RestartError::TimedOut)));
    /// });
    /// assert_eq!(rt.now() - start, Duration::from_millis(10));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Starts an attempt, unless one is live (then it does nothing).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::RestartableTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let task = RestartableTask::with_runtime(rt.clone(), || async { None::<()> });
    /// task.start();
    /// task.start(); // no-op: an attempt is live
    /// assert_eq!(task.stats().started, 1);
    /// ```
    pub fn start(&self) {
        let mut st = lock(&self.shared.state);
        if st.live.is_some() {
            return;
        }
        st.generation += 1;
        st.started_ever = true;
        st.outcome = None;
        st.stats.started += 1;
        let generation = st.generation;
        // The factory is user code: a panic while it builds the future is this attempt's
        // outcome, so that every counted attempt is resolved.
        let fut = match catch_unwind(AssertUnwindSafe(|| (self.factory)())) {
            Ok(fut) => fut,
            Err(p) => {
                st.stats.failed += 1;
                st.outcome = Some(Err(RestartError::Panicked(Arc::new(PanicPayload::new(p)))));
                drop(st);
                self.shared.changed.notify(usize::MAX);
                return;
            }
        };
        let shared = self.shared.clone();
        let sleep = self.timeout.map(|d| self.rt.sleep(d));
        st.live = Some(self.rt.spawn(async move {
            let work = async {
                match AssertUnwindSafe(fut).catch_unwind().await {
                    Ok(Some(v)) => Some(Ok(v)),
                    Ok(None) => None,
                    Err(p) => Some(Err(RestartError::Panicked(Arc::new(PanicPayload::new(p))))),
                }
            };
            if let Some(outcome) = work.await {
                let _ = shared.resolve(generation, outcome);
                return;
            }
            // Wait for the reply until the deadline, or until it came.
            if let Some(sleep) = sleep {
                let timed_out = futures_lite::future::or(
                    async {
                        sleep.await;
                        true
                    },
                    async {
                        shared.resolved(generation).await;
                        false
                    },
                )
                .await;
                if timed_out {
                    let _ = shared.resolve(generation, Err(RestartError::TimedOut));
                }
            }
        }));
        drop(st);
        self.shared.changed.notify(usize::MAX);
    }

    /// Requests the cancellation of the live attempt, if any, and never waits; waiters keep
    /// waiting for the next [`start`](RestartableTask::start). To wait until the attempt's
    /// future is gone, use [`cancel`](RestartableTask::cancel).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::RestartableTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let task = RestartableTask::with_runtime(rt.clone(), || async { None::<()> });
    /// task.start();
    /// task.abort();
    /// task.abort(); // no-op
    /// assert_eq!(task.stats().cancelled, 1);
    /// ```
    pub fn abort(&self) {
        let mut st = lock(&self.shared.state);
        if let Some(h) = st.live.take() {
            st.stats.cancelled += 1;
            drop(st);
            drop(h);
        }
    }

    /// Cancels the live attempt, if any, and waits until its future is gone (its drop-time
    /// cleanup has run). Resolves to `true` if an attempt was live. Waiters keep waiting for
    /// the next [`start`](RestartableTask::start).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::RestartableTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let rt2 = rt.clone();
    /// // Each attempt sends, then waits for the reply through `set_result`.
    /// let task = RestartableTask::with_runtime(rt.clone(), move || {
    ///     let rt = rt2.clone();
    ///     async move {
    ///         rt.sleep(Duration::from_millis(5)).await; // sending
    ///         None::<u32>
    ///     }
    /// });
    /// rt.block_on(async {
    ///     task.start();
    ///     assert!(task.cancel().await); // the attempt was live, and is gone now
    ///     assert!(!task.cancel().await); // nothing left to cancel
    ///     let stats = task.stats();
    ///     assert_eq!((stats.started, stats.cancelled, stats.running), (1, 1, 0));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The attempt is cancelled when `cancel` is called, not when the future is first polled.
    /// Dropping the future only stops waiting: the attempt is dropped by its runtime soon
    /// after, as with [`abort`](RestartableTask::abort).
    pub fn cancel(&self) -> RestartCancel {
        let mut st = lock(&self.shared.state);
        let live = st.live.take();
        if live.is_some() {
            st.stats.cancelled += 1;
        }
        drop(st);
        RestartCancel {
            inner: Box::pin(async move {
                match live {
                    Some(h) => {
                        let _ = h.cancel().await;
                        true
                    }
                    None => false,
                }
            }),
        }
    }

    /// Resolves the live attempt with `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::RestartableTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let task = RestartableTask::with_runtime(rt.clone(), || async { None::<u8> });
    /// assert_eq!(task.set_result(1).unwrap_err().0, 1); // not started
    /// task.start();
    /// task.set_result(2).unwrap();
    /// assert!(task.set_result(3).is_err()); // already resolved
    /// assert_eq!(rt.block_on(task.wait()).unwrap(), 2);
    /// ```
    ///
    /// # Errors
    ///
    /// [`NoAttempt`] with the value if no attempt is live or it is already resolved.
    pub fn set_result(&self, value: T) -> Result<(), NoAttempt<T>> {
        let generation = lock(&self.shared.state).generation;
        self.shared
            .resolve(generation, Ok(value))
            .map_err(|NoAttempt(v)| match v {
                Ok(v) => NoAttempt(v),
                Err(_) => unreachable!("resolve hands back what it was given"),
            })
    }

    /// Resolves the live attempt with an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{RestartError, RestartableTask};
    ///
    /// let rt = VirtualRuntime::new();
    /// let task = RestartableTask::with_runtime(rt.clone(), || async { None::<u8> });
    /// task.start();
    /// task.set_error("no reply").unwrap();
    /// assert!(matches!(rt.block_on(task.wait()), Err(RestartError::Failed(_))));
    /// ```
    ///
    /// # Errors
    ///
    /// [`NoAttempt`] with the error if no attempt is live or it is already resolved.
    pub fn set_error(&self, error: impl Into<BoxError>) -> Result<(), NoAttempt<BoxError>> {
        let error: BoxError = error.into();
        let generation = lock(&self.shared.state).generation;
        let shared_error: Arc<dyn std::error::Error + Send + Sync> = Arc::from(error);
        self.shared
            .resolve(generation, Err(RestartError::Failed(shared_error.clone())))
            .map_err(|_| NoAttempt(Box::new(HandedBack(shared_error)) as BoxError))
    }

    /// Returns `true` while an attempt is live (started, not cancelled, not resolved).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::RestartableTask;
    ///
    /// let rt = VirtualRuntime::new();
    /// let task = RestartableTask::with_runtime(rt.clone(), || async { None::<()> });
    /// task.start();
    /// assert!(task.is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        lock(&self.shared.state).live.is_some()
    }

    /// The counters so far; see [`RestartStats`] for their invariant.
    pub fn stats(&self) -> RestartStats {
        let st = lock(&self.shared.state);
        let mut stats = st.stats;
        stats.running = usize::from(st.live.is_some());
        stats
    }

    /// Waits for the outcome of the current attempt, following restarts: a cancelled attempt
    /// makes it wait for the next start.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{RestartError, RestartableTask};
    ///
    /// let rt = VirtualRuntime::new();
    /// let task = RestartableTask::with_runtime(rt.clone(), || async { None::<()> });
    /// assert!(matches!(rt.block_on(task.wait()), Err(RestartError::NotStarted)));
    /// ```
    ///
    /// # Errors
    ///
    /// [`RestartError::NotStarted`] if never started; otherwise the attempt's error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future only stops waiting; unlike upstream, it does not cancel the
    /// attempt.
    pub fn wait(&self) -> RestartWait<T> {
        let shared = self.shared.clone();
        RestartWait {
            inner: Box::pin(async move {
                loop {
                    let listener = shared.changed.listen();
                    {
                        let st = lock(&shared.state);
                        if !st.started_ever {
                            return Err(RestartError::NotStarted);
                        }
                        if let Some(outcome) = &st.outcome {
                            return outcome.clone();
                        }
                    }
                    listener.await;
                }
            }),
        }
    }
}

#[derive(Debug)]
struct HandedBack(Arc<dyn std::error::Error + Send + Sync>);

impl fmt::Display for HandedBack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for HandedBack {}

impl<T, R: Runtime> Drop for RestartableTask<T, R> {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        let live = st.live.take();
        let finishing = std::mem::take(&mut st.finishing);
        drop(st);
        drop(live);
        drop(finishing);
    }
}

impl<T, R: Runtime> fmt::Debug for RestartableTask<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("RestartableTask")
            .field("generation", &st.generation)
            .field("live", &st.live.is_some())
            .field("timeout", &self.timeout)
            .field("stats", &st.stats)
            .finish_non_exhaustive()
    }
}

/// The future of [`RestartableTask::wait`].
///
/// # Cancel safety
///
/// Dropping it only stops waiting.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RestartWait<T> {
    inner: Pin<Box<dyn Future<Output = Result<T, RestartError>> + Send>>,
}

impl<T> fmt::Debug for RestartWait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestartWait").finish_non_exhaustive()
    }
}

impl<T> Future for RestartWait<T> {
    type Output = Result<T, RestartError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// The future of [`RestartableTask::cancel`]: `true` if an attempt was live.
///
/// # Cancel safety
///
/// Dropping it only stops waiting; the attempt was already cancelled.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RestartCancel {
    inner: Pin<Box<dyn Future<Output = bool> + Send>>,
}

impl fmt::Debug for RestartCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestartCancel").finish_non_exhaustive()
    }
}

impl Future for RestartCancel {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        self.inner.as_mut().poll(cx)
    }
}

//! [`Supervisor`] and its driver: graceful shutdown on the first unhandled error, a request or
//! a signal.

use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use event_listener::EventListener;
use futures_lite::FutureExt;
use wrangle_rt::{BoxError, DefaultRuntime, ErrorReporter, Runtime, Unhandled, report_unhandled};

use super::handle::Shared;
use super::{ForceExit, ShutdownHandle, ShutdownReason, SupervisorHandle, SupervisorStats};
use crate::loom::lock;
use crate::{ScopeError, SupervisorError, TaskScope};

const ORIGIN: &str = "wrangle_task::Supervisor";

type BoxFut = Pin<Box<dyn Future<Output = ()> + Send>>;
type StopFn = Box<dyn FnOnce(ShutdownReason) -> BoxFut + Send>;

/// Runs an application's main body and its tasks, and stops them gracefully (concurrent_tasks'
/// `LoopExceptionHandler`, async-utils' `SignalService`).
///
/// - The first unhandled error of a task spawned through the [`SupervisorHandle`] (or reported
///   to its [`reporter`](SupervisorHandle::reporter)), a
///   [`close`](ShutdownHandle::close) request from any thread, or (feature `signal`, with
///   `Supervisor::signals`) SIGINT or SIGTERM starts the graceful stop **once**: the
///   [`token`](SupervisorHandle::token) is cancelled and the [`on_stop`](Supervisor::on_stop)
///   future runs. The body and the other tasks go on until they finish.
/// - [`run`](Supervisor::run) returns the first error; errors while stopping are only reported
///   (to the process-wide handler).
/// - A second signal while stopping forces the exit ([`ForceExit`], configurable).
/// - [`drain`](Supervisor::drain): a deadline for the graceful stop, after which everything
///   left is dropped.
/// - [`on_startup`](Supervisor::on_startup) and [`on_join`](Supervisor::on_join) hooks run, in
///   order, before the body and after everything else.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_task::{Supervisor, SupervisorError};
///
/// let rt = VirtualRuntime::new();
/// let rt2 = rt.clone();
/// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(move |sup| {
///     let rt = rt2.clone();
///     async move {
///         // A background task fails after 10 ms: the graceful stop begins.
///         let rt2 = rt.clone();
///         sup.spawn(async move {
///             rt2.sleep(Duration::from_millis(10)).await;
///             Err::<(), _>("disk full")
///         })
///         .unwrap();
///         sup.token().cancelled().await;
///         Ok::<_, std::io::Error>("main loop stopped")
///     }
/// }));
/// assert!(matches!(r, Err(SupervisorError::Failed(e)) if e.to_string() == "disk full"));
/// ```
pub struct Supervisor<R: Runtime = DefaultRuntime> {
    rt: R,
    pub(crate) shared: Arc<Shared>,
    stop: Option<StopFn>,
    drain: Option<Duration>,
    force: ForceExit,
    startup: Vec<BoxFut>,
    join: Vec<BoxFut>,
    signals: bool,
}

impl<R: Runtime> fmt::Debug for Supervisor<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("runtime", &self.rt)
            .field("on_stop", &self.stop.is_some())
            .field("drain", &self.drain)
            .field("force", &self.force)
            .field("signals", &self.signals)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// A supervisor on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let v = rt.block_on(async {
    ///     Supervisor::new().run(|_| async { Ok::<_, std::io::Error>(1) }).await
    /// });
    /// assert_eq!(v.unwrap(), 1);
    /// ```
    ///
    /// # Panics
    ///
    /// Like [`DefaultRuntime::current`].
    #[must_use]
    pub fn new() -> Self {
        Supervisor::with_runtime(DefaultRuntime::current())
    }
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor::new()
    }
}

impl<R: Runtime> Supervisor<R> {
    /// A supervisor on `rt`.
    pub fn with_runtime(rt: R) -> Self {
        Supervisor {
            rt,
            shared: Arc::new(Shared::new()),
            stop: None,
            drain: None,
            force: ForceExit::default(),
            startup: Vec::new(),
            join: Vec::new(),
            signals: false,
        }
    }

    /// A handle that starts the graceful stop from anywhere, before or during
    /// [`run`](Supervisor::run); the same as [`SupervisorHandle::shutdown_handle`] inside the
    /// body.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    /// use wrangle_task::supervisor::ShutdownReason;
    ///
    /// let rt = VirtualRuntime::new();
    /// let sup = Supervisor::with_runtime(rt.clone());
    /// let handle = sup.shutdown_handle();
    /// handle.close(); // before the run: the body starts with its token cancelled
    /// let r = rt.block_on(sup.run(|sup| async move {
    ///     sup.token().cancelled().await;
    ///     Ok::<_, std::io::Error>(sup.shutdown_handle().reason())
    /// }));
    /// assert_eq!(r.unwrap(), Some(ShutdownReason::Requested));
    /// ```
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: self.shared.clone(),
        }
    }

    /// The counters of the supervisor's tasks: zero before [`run`](Supervisor::run), which
    /// consumes the supervisor; during and after the run, read them from a
    /// [`shutdown_handle`](Supervisor::shutdown_handle) taken before
    /// ([`ShutdownHandle::stats`]) or from the [`SupervisorHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let sup = Supervisor::with_runtime(rt.clone());
    /// assert_eq!(sup.stats().started, 0);
    /// let handle = sup.shutdown_handle();
    /// rt.block_on(sup.run(|sup| async move {
    ///     sup.spawn(async {}).unwrap();
    ///     Ok::<_, std::io::Error>(())
    /// }))
    /// .unwrap();
    /// assert_eq!(handle.stats().completed, 1);
    /// ```
    #[must_use]
    pub fn stats(&self) -> SupervisorStats {
        self.shared.stats()
    }

    /// The graceful stop: called once, with the reason, when shutdown starts; it runs alongside
    /// the body. A panic of `stop` (while it builds its future, or of the future) is caught
    /// and reported; the stop goes on as if it had returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{CancellationToken, VirtualRuntime};
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let server = CancellationToken::new();
    /// let stop = server.clone();
    /// let r = rt.block_on(
    ///     Supervisor::with_runtime(rt.clone())
    ///         .on_stop(move |_reason| async move { stop.cancel() })
    ///         .run(|sup| async move {
    ///             sup.shutdown_handle().close();
    ///             server.cancelled().await; // the stop future ended the "server"
    ///             Ok::<_, std::io::Error>(())
    ///         }),
    /// );
    /// assert!(r.is_ok());
    /// ```
    pub fn on_stop<F, Fut>(mut self, stop: F) -> Self
    where
        F: FnOnce(ShutdownReason) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.stop = Some(Box::new(move |reason| Box::pin(stop(reason))));
        self
    }

    /// A deadline for the graceful stop, counted from its start.
    ///
    /// A duration too long for the clock (`Duration::MAX`) means no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{Supervisor, SupervisorError};
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(
    ///     Supervisor::with_runtime(rt.clone())
    ///         .drain(Duration::from_secs(5))
    ///         .run(|sup| async move {
    ///             sup.shutdown_handle().close();
    ///             std::future::pending::<()>().await; // never stops
    ///             Ok::<_, std::io::Error>(())
    ///         }),
    /// );
    /// assert!(matches!(r, Err(SupervisorError::DrainTimedOut)));
    /// ```
    pub fn drain(mut self, deadline: Duration) -> Self {
        self.drain = Some(deadline);
        self
    }

    /// What a second signal during the stop does (default: [`ForceExit::Exit`]`(130)`).
    pub fn force_exit(mut self, force: ForceExit) -> Self {
        self.force = force;
        self
    }

    /// Adds a startup hook, run (in order) before the body. A hook that panics fails the run
    /// with [`SupervisorError::Failed`] holding the [`PanicPayload`](wrangle_rt::PanicPayload).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(
    ///     Supervisor::with_runtime(rt.clone())
    ///         .on_startup(async { println!("starting") })
    ///         .run(|_| async { Ok::<_, std::io::Error>(()) }),
    /// );
    /// assert!(r.is_ok());
    /// ```
    pub fn on_startup(mut self, hook: impl Future<Output = ()> + Send + 'static) -> Self {
        self.startup.push(Box::pin(hook));
        self
    }

    /// Adds a join hook, run (in order) after the body, the tasks and the stop have finished,
    /// whatever the outcome. A hook that panics is reported; the next hooks still run.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(
    ///     Supervisor::with_runtime(rt.clone())
    ///         .on_join(async { println!("all done") })
    ///         .run(|_| async { Ok::<_, std::io::Error>(()) }),
    /// );
    /// assert!(r.is_ok());
    /// ```
    pub fn on_join(mut self, hook: impl Future<Output = ()> + Send + 'static) -> Self {
        self.join.push(Box::pin(hook));
        self
    }

    /// Reacts to SIGINT and SIGTERM: the first starts the graceful stop, a second one while
    /// stopping forces the exit. Needs the `signal` feature; the handlers are installed by
    /// [`run`](Supervisor::run) and removed when it ends.
    #[cfg(feature = "signal")]
    #[cfg_attr(docsrs, doc(cfg(feature = "signal")))]
    pub fn signals(mut self) -> Self {
        self.signals = true;
        self
    }

    /// Runs `body` with a [`SupervisorHandle`] until the body, its tasks and the graceful stop
    /// (if one started) have finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(
    ///     Supervisor::with_runtime(rt.clone()).run(|_| async { Ok::<_, std::io::Error>(5) }),
    /// );
    /// assert_eq!(r.unwrap(), 5);
    /// ```
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Failed`] with the first unhandled error (a task's, or the body's);
    /// [`SupervisorError::DrainTimedOut`], [`SupervisorError::Forced`], or
    /// [`SupervisorError::Signals`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the body and cancels every task without waiting, and removes
    /// the signal handlers.
    pub fn run<F, Fut, T, E>(self, body: F) -> SupervisorRun<T>
    where
        F: FnOnce(SupervisorHandle<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        #[cfg(feature = "tracing")]
        let inner = Box::pin(crate::trace::supervisor_run(drive(self, body)));
        #[cfg(not(feature = "tracing"))]
        let inner = Box::pin(drive(self, body));
        SupervisorRun { inner }
    }
}

/// The future of [`Supervisor::run`].
///
/// # Cancel safety
///
/// Dropping it drops the body and cancels every task without waiting.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct SupervisorRun<T> {
    inner: Pin<Box<dyn Future<Output = Result<T, SupervisorError>> + Send>>,
}

impl<T> fmt::Debug for SupervisorRun<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorRun").finish_non_exhaustive()
    }
}

impl<T> Future for SupervisorRun<T> {
    type Output = Result<T, SupervisorError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

#[cfg(feature = "signal")]
fn install_signals(enabled: bool) -> std::io::Result<Option<async_signal::Signals>> {
    use async_signal::{Signal, Signals};
    if !enabled {
        return Ok(None);
    }
    Signals::new([Signal::Int, Signal::Term]).map(Some)
}

#[cfg(not(feature = "signal"))]
fn install_signals(_enabled: bool) -> std::io::Result<Option<NoSignals>> {
    Ok(None)
}

#[cfg(not(feature = "signal"))]
struct NoSignals;

/// Polls the signal stream, turning each signal into a shutdown reason.
#[cfg(feature = "signal")]
fn poll_signal(
    signals: &mut Option<async_signal::Signals>,
    cx: &mut Context<'_>,
) -> Poll<ShutdownReason> {
    use async_signal::Signal;
    use futures_lite::Stream;
    let Some(s) = signals.as_mut() else {
        return Poll::Pending;
    };
    loop {
        match Pin::new(&mut *s).poll_next(cx) {
            Poll::Ready(Some(Ok(Signal::Int))) => return Poll::Ready(ShutdownReason::Interrupt),
            Poll::Ready(Some(Ok(Signal::Term))) => return Poll::Ready(ShutdownReason::Terminate),
            Poll::Ready(Some(_)) => continue,
            Poll::Ready(None) => {
                *signals = None;
                return Poll::Pending;
            }
            Poll::Pending => return Poll::Pending,
        }
    }
}

#[cfg(not(feature = "signal"))]
fn poll_signal(_signals: &mut Option<NoSignals>, _cx: &mut Context<'_>) -> Poll<ShutdownReason> {
    Poll::Pending
}

/// Runs a hook (user code) so that a panic never unwinds out of the supervisor: it is the
/// supervisor's error like a task's, or reported if the stop is already under way.
async fn guarded(shared: &Shared, hook: impl Future<Output = ()>) {
    if let Err(p) = AssertUnwindSafe(hook).catch_unwind().await {
        shared.report(Box::new(wrangle_rt::PanicPayload::new(p)));
    }
}

async fn drive<R, F, Fut, T, E>(sup: Supervisor<R>, body: F) -> Result<T, SupervisorError>
where
    R: Runtime,
    F: FnOnce(SupervisorHandle<R>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    let Supervisor {
        rt,
        shared,
        stop,
        drain,
        force,
        startup,
        join,
        signals,
    } = sup;
    let mut signals = install_signals(signals).map_err(SupervisorError::Signals)?;
    for hook in startup {
        guarded(&shared, hook).await;
    }

    let shutdown = ShutdownHandle {
        shared: shared.clone(),
    };
    // Weak: `shared.tasks` keeps the scope's context, which keeps this reporter; a strong
    // reference here would make a cycle that outlives the run (found by LeakSanitizer). Once
    // nothing else holds the supervisor's state, a late child's error goes to the
    // process-wide handler.
    let reporter_shared = Arc::downgrade(&shared);
    let handle_shutdown = shutdown.clone();
    let mut work = Box::pin(
        TaskScope::with_runtime(rt.clone())
            .error_reporter(ErrorReporter::new(
                move |u: Unhandled| match reporter_shared.upgrade() {
                    Some(shared) => shared.report(u.into_error()),
                    None => report_unhandled(u),
                },
            ))
            .run(move |scope| {
                *lock(&handle_shutdown.shared.tasks) = Some(scope.shared.ctx.clone());
                body(SupervisorHandle {
                    shutdown: handle_shutdown,
                    scope,
                })
            }),
    );
    let mut stop = stop;
    let mut stopping: Option<BoxFut> = None;
    let mut stop_done = false;
    let mut drain_sleep = None;
    let mut listener: Option<EventListener> = None;
    let mut output: Option<Result<T, ScopeError<E>>> = None;

    enum End {
        Done,
        DrainTimedOut,
        Forced,
    }

    let end = poll_fn(|cx| {
        loop {
            if let Poll::Ready(reason) = poll_signal(&mut signals, cx) {
                shared.signal(reason);
            }
            if listener.is_none() {
                listener = Some(shared.event.listen());
            }
            let (reason, forced) = {
                let st = lock(&shared.state);
                (st.reason, st.force)
            };
            if forced {
                match force {
                    ForceExit::Exit(code) => std::process::exit(code),
                    ForceExit::Return => return Poll::Ready(End::Forced),
                    ForceExit::Ignore => {}
                }
            }
            if let Some(reason) = reason
                && stopping.is_none()
                && !stop_done
            {
                match stop.take() {
                    Some(f) => {
                        // User code: a panic while it builds its future is that future's.
                        let fut = match catch_unwind(AssertUnwindSafe(|| f(reason))) {
                            Ok(fut) => fut,
                            Err(p) => Box::pin(crate::resume_panic(p)),
                        };
                        let sh = shared.clone();
                        stopping = Some(Box::pin(async move { guarded(&sh, fut).await }));
                    }
                    None => stop_done = true,
                }
                if let Some(d) = drain {
                    drain_sleep = Some(Box::pin(rt.sleep(d)));
                }
            }
            if let Some(s) = stopping.as_mut()
                && s.as_mut().poll(cx).is_ready()
            {
                stopping = None;
                stop_done = true;
            }
            if output.is_none()
                && let Poll::Ready(out) = work.as_mut().poll(cx)
            {
                output = Some(out);
            }
            if output.is_some() {
                // Read again: the body may have started the stop while it was polled.
                let reason = lock(&shared.state).reason;
                if reason.is_none() || stop_done {
                    return Poll::Ready(End::Done);
                }
                if stopping.is_none() {
                    continue;
                }
            }
            if let Some(d) = drain_sleep.as_mut()
                && d.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(End::DrainTimedOut);
            }
            match listener.as_mut().map(|l| Pin::new(l).poll(cx)) {
                Some(Poll::Ready(())) => listener = None,
                _ => return Poll::Pending,
            }
        }
    })
    .await;

    drop(work);
    drop(stopping);
    // Remove the signal handlers before the join hooks run.
    let _ = signals.take();
    for hook in join {
        guarded(&shared, hook).await;
    }
    let first_error = lock(&shared.state).first_error.take();
    let output = match output {
        // The body failed after another error started the stop: only report it.
        Some(Err(ScopeError::Body(e))) if first_error.is_some() => {
            report_unhandled(Unhandled::new(ORIGIN, e.into()));
            None
        }
        other => other,
    };
    match (end, output) {
        (_, _) if first_error.is_some() => {
            Err(SupervisorError::Failed(first_error.expect("checked")))
        }
        (End::Forced, _) => Err(SupervisorError::Forced),
        (End::DrainTimedOut, _) => Err(SupervisorError::DrainTimedOut),
        (End::Done, Some(Ok(v))) => Ok(v),
        (End::Done, Some(Err(ScopeError::Body(e)))) => Err(SupervisorError::Failed(e.into())),
        (End::Done, _) => Err(SupervisorError::Forced),
    }
}

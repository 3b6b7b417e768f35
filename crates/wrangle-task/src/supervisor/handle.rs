//! The handles of a running [`Supervisor`](crate::Supervisor): [`ShutdownHandle`] and
//! [`SupervisorHandle`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use event_listener::Event;
use wrangle_rt::{
    BoxError, CancellationToken, DefaultRuntime, ErrorReporter, Runtime, Unhandled,
    report_unhandled,
};

use wrangle_rt::TaskOutput;

use super::{ShutdownReason, SupervisorStats};
use crate::loom::{Mutex, lock};
use crate::scope::state::ChildCtx;
use crate::trace::{Kind, Label};
use crate::{Scope, ScopeClosed};

const ORIGIN: &str = "wrangle_task::Supervisor";

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) event: Event,
    pub(crate) token: CancellationToken,
    /// The counters of the run's scope, once the run has started.
    pub(crate) tasks: Mutex<Option<Arc<ChildCtx>>>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) reason: Option<ShutdownReason>,
    pub(crate) first_error: Option<BoxError>,
    pub(crate) force: bool,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Shared {
            state: Mutex::new(State::default()),
            event: Event::new(),
            token: CancellationToken::new(),
            tasks: Mutex::new(None),
        }
    }

    /// The counters of the supervised tasks (zero before the run).
    pub(crate) fn stats(&self) -> SupervisorStats {
        let ctx = lock(&self.tasks).clone();
        ctx.map_or_else(SupervisorStats::default, |c| {
            SupervisorStats::from_scope(*lock(&c.stats))
        })
    }

    /// Starts the graceful stop for `reason`; returns whether this call started it.
    pub(crate) fn trigger(&self, reason: ShutdownReason) -> bool {
        let mut st = lock(&self.state);
        if st.reason.is_some() {
            return false;
        }
        st.reason = Some(reason);
        drop(st);
        self.token.cancel();
        self.event.notify(usize::MAX);
        true
    }

    pub(crate) fn report(&self, error: BoxError) {
        let mut st = lock(&self.state);
        if st.reason.is_none() {
            st.first_error = Some(error);
            st.reason = Some(ShutdownReason::Error);
            drop(st);
            self.token.cancel();
            self.event.notify(usize::MAX);
        } else {
            drop(st);
            report_unhandled(Unhandled::new(ORIGIN, error));
        }
    }

    pub(crate) fn signal(&self, reason: ShutdownReason) {
        let mut st = lock(&self.state);
        if st.reason.is_none() {
            drop(st);
            self.trigger(reason);
        } else {
            st.force = true;
            drop(st);
            self.event.notify(usize::MAX);
        }
    }
}

/// A `Send + Sync` handle that starts the graceful stop of a [`Supervisor`](crate::Supervisor)
/// or a [`Server`](crate::Server) from anywhere: any thread, async or not, before or during the
/// run.
///
/// Its verb is [`close`](ShutdownHandle::close), the request half of a graceful shutdown: the
/// supervised work is told to stop taking new work (its token is cancelled) and to finish what
/// it has; `close` never waits. The waiting half is the future of
/// [`Supervisor::run`](crate::Supervisor::run) or [`Server::serve`](crate::Server::serve),
/// which resolves when everything has finished.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::Supervisor;
///
/// let rt = VirtualRuntime::new();
/// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(|sup| async move {
///     let handle = sup.shutdown_handle();
///     // A plain thread (say, an admin command) asks for the stop.
///     let started = std::thread::spawn(move || handle.close()).join().unwrap();
///     assert!(started);
///     sup.token().cancelled().await;
///     Ok::<_, std::io::Error>(())
/// }));
/// assert!(r.is_ok());
/// ```
#[derive(Clone)]
pub struct ShutdownHandle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl ShutdownHandle {
    /// Starts the graceful stop, with [`ShutdownReason::Requested`]; never waits. Returns
    /// `true` if this call started it, `false` if it had started already (by a call, an error or
    /// a signal).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(|sup| async move {
    ///     assert!(sup.shutdown_handle().close());
    ///     assert!(!sup.shutdown_handle().close()); // once only
    ///     Ok::<_, std::io::Error>(sup.shutdown_handle().is_closed())
    /// }));
    /// assert!(r.unwrap());
    /// ```
    pub fn close(&self) -> bool {
        self.shared.trigger(ShutdownReason::Requested)
    }

    /// Reports an unhandled error: the first one starts the graceful stop and becomes the
    /// supervisor's result; later ones go to the process-wide handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{Supervisor, SupervisorError};
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(|sup| async move {
    ///     sup.shutdown_handle().report("broken pipe");
    ///     Ok::<_, std::io::Error>(())
    /// }));
    /// assert!(matches!(r, Err(SupervisorError::Failed(_))));
    /// ```
    pub fn report(&self, error: impl Into<BoxError>) {
        self.shared.report(error.into());
    }

    /// Returns `true` once the graceful stop has started, whatever started it (see
    /// [`reason`](ShutdownHandle::reason)).
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).reason.is_some()
    }

    /// Why the graceful stop started, if it has.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    /// use wrangle_task::supervisor::ShutdownReason;
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(|sup| async move {
    ///     sup.shutdown_handle().close();
    ///     Ok::<_, std::io::Error>(sup.shutdown_handle().reason())
    /// }));
    /// assert_eq!(r.unwrap(), Some(ShutdownReason::Requested));
    /// ```
    pub fn reason(&self) -> Option<ShutdownReason> {
        lock(&self.shared.state).reason
    }

    /// The counters of the supervisor's tasks ([`SupervisorStats`]; for a
    /// [`Server`](crate::Server), one task per worker): readable from anywhere, before, during
    /// and after the run.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let sup = Supervisor::with_runtime(rt.clone());
    /// let handle = sup.shutdown_handle();
    /// let watcher = handle.clone();
    /// rt.block_on(sup.run(move |sup| async move {
    ///     let token = sup.token().clone();
    ///     sup.spawn(async move { token.cancelled().await }).unwrap();
    ///     // A monitoring thread would poll this; the one task is still running.
    ///     assert_eq!(watcher.stats().running, 1);
    ///     watcher.close();
    ///     Ok::<_, std::io::Error>(())
    /// }))
    /// .unwrap();
    /// let s = handle.stats();
    /// assert_eq!((s.started, s.completed, s.running), (1, 1, 0));
    /// ```
    #[must_use]
    pub fn stats(&self) -> SupervisorStats {
        self.shared.stats()
    }
}

/// What the body of [`Supervisor::run`](crate::Supervisor::run) gets: spawns supervised tasks, and gives the token and
/// the [`ShutdownHandle`].
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::Supervisor;
///
/// let rt = VirtualRuntime::new();
/// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(|sup| async move {
///     sup.spawn(async { Ok::<_, std::io::Error>(()) }).unwrap();
///     Ok::<_, std::io::Error>(())
/// }));
/// assert!(r.is_ok());
/// ```
pub struct SupervisorHandle<R: Runtime = DefaultRuntime> {
    pub(crate) shutdown: ShutdownHandle,
    pub(crate) scope: Scope<R>,
}

impl<R: Runtime> Clone for SupervisorHandle<R> {
    fn clone(&self) -> Self {
        SupervisorHandle {
            shutdown: self.shutdown.clone(),
            scope: self.scope.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for SupervisorHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorHandle")
            .field("closed", &self.shutdown.is_closed())
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> SupervisorHandle<R> {
    /// Spawns a supervised task: the supervisor waits for it, and its error (or panic) is an
    /// unhandled error. The graceful stop does not drop it: watch the
    /// [`token`](SupervisorHandle::token) to stop.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(|sup| async move {
    ///     let token = sup.token().clone();
    ///     sup.spawn(async move { token.cancelled().await }).unwrap();
    ///     sup.shutdown_handle().close();
    ///     Ok::<_, std::io::Error>(())
    /// }));
    /// assert!(r.is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScopeClosed`] with the future once the supervisor has finished.
    pub fn spawn<F>(&self, future: F) -> Result<(), ScopeClosed<F>>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.spawn_labelled(future, Label::new(Kind::Supervisor, None))
    }

    /// Spawns a supervised task like [`spawn`](SupervisorHandle::spawn), under a name that
    /// labels it in diagnostics: with the `tracing` feature, its span (`supervisor.child`)
    /// carries it as `task.name` (without the feature the name is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(|sup| async move {
    ///     let token = sup.token().clone();
    ///     sup.spawn_named("metrics-flusher", async move { token.cancelled().await })
    ///         .unwrap();
    ///     sup.shutdown_handle().close();
    ///     Ok::<_, std::io::Error>(())
    /// }));
    /// assert!(r.is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScopeClosed`] with the future once the supervisor has finished.
    pub fn spawn_named<F>(
        &self,
        name: impl Into<Cow<'static, str>>,
        future: F,
    ) -> Result<(), ScopeClosed<F>>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.spawn_labelled(future, Label::new(Kind::Supervisor, Some(name.into())))
    }

    fn spawn_labelled<F>(&self, future: F, label: Label) -> Result<(), ScopeClosed<F>>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.scope
            .spawn_with_token_labelled(move |_| future, label)
            .map_err(|ScopeClosed(c)| ScopeClosed(c(CancellationToken::new())))
    }

    /// The token cancelled when the graceful stop starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(|sup| async move {
    ///     assert!(!sup.token().is_cancelled());
    ///     Ok::<_, std::io::Error>(())
    /// }));
    /// assert!(r.is_ok());
    /// ```
    pub fn token(&self) -> &CancellationToken {
        &self.shutdown.shared.token
    }

    /// A `Send + Sync` handle to start the graceful stop from anywhere.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(|sup| async move {
    ///     sup.shutdown_handle().close();
    ///     Ok::<_, std::io::Error>(())
    /// }));
    /// assert!(r.is_ok());
    /// ```
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The counters of the supervisor's tasks, as [`ShutdownHandle::stats`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Supervisor;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(Supervisor::with_runtime(rt.clone()).run(|sup| async move {
    ///     sup.spawn(async { Ok::<_, std::io::Error>(()) }).unwrap();
    ///     wrangle_rt::yield_now().await;
    ///     let s = sup.stats();
    ///     assert_eq!(s.started, s.completed + s.failed + s.cancelled + s.running as u64);
    ///     Ok::<_, std::io::Error>(())
    /// }))
    /// .unwrap();
    /// ```
    #[must_use]
    pub fn stats(&self) -> SupervisorStats {
        self.shutdown.shared.stats()
    }

    /// An [`ErrorReporter`] that sends errors to the supervisor, to plug into other components
    /// ([`TaskScope::error_reporter`](crate::TaskScope::error_reporter), a pool, a timer...).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{Supervisor, SupervisorError, TaskScope};
    ///
    /// let rt = VirtualRuntime::new();
    /// let rt2 = rt.clone();
    /// let r = rt.block_on(Supervisor::with_runtime(rt.clone()).run(move |sup| async move {
    ///     TaskScope::with_runtime(rt2)
    ///         .error_reporter(sup.reporter())
    ///         .run(|scope| async move {
    ///             scope.spawn(async { Err::<(), _>("inner failure") }).unwrap();
    ///             Ok::<_, std::io::Error>(())
    ///         })
    ///         .await
    ///         .unwrap();
    ///     Ok::<_, std::io::Error>(())
    /// }));
    /// assert!(matches!(r, Err(SupervisorError::Failed(_))));
    /// ```
    pub fn reporter(&self) -> ErrorReporter {
        let shared = self.shutdown.shared.clone();
        ErrorReporter::new(move |u: Unhandled| shared.report(u.into_error()))
    }
}

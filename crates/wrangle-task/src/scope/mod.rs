//! [`TaskScope`]: structured spawning with an error reporter, exit and intrinsic timeouts.

pub(crate) mod error;
pub(crate) mod handle;
pub(crate) mod shield;
pub(crate) mod state;

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use wrangle_rt::{CancellationToken, DefaultRuntime, ErrorReporter, Runtime};

use crate::ScopeError;
use crate::concurrent::future_set::FutureSet;
use crate::loom::{Mutex, lock};
use crate::scope::handle::{Scope, ScopeStats};
use crate::scope::shield::{Outer, ShieldOnDrop, poll_outer};
use crate::scope::state::{Child, ChildCtx, ChildTask, Shared, State};

/// A scope for child tasks: the body spawns children through a [`Scope`] handle, and the scope
/// ends only when every child has ended.
///
/// - A child's error (an `Err` output, or a panic as a [`PanicPayload`](wrangle_rt::PanicPayload))
///   goes to the scope's [`error_reporter`](TaskScope::error_reporter) (the process-wide handler
///   unless one is set); it does not cancel the siblings or the body.
/// - An error of the body cancels the children: the scope's [`CancellationToken`] is
///   cancelled, which drops the children spawned with [`Scope::spawn`] at once and asks those
///   spawned with [`Scope::spawn_with_token`] to stop, and the scope waits for them.
/// - Leaving the scope waits for every child, including children spawned while leaving.
/// - [`exit_timeout`](TaskScope::exit_timeout): once the body has returned, children still
///   running after this long are asked to stop (the token); [`grace`](TaskScope::grace): once the
///   token is cancelled, children still running after this long are dropped.
/// - [`timeout`](TaskScope::timeout): an intrinsic deadline for the whole scope. At the deadline
///   the body is dropped, the children are asked to stop and awaited, and the scope returns
///   [`ScopeError::TimedOut`].
/// - The scope keeps no outputs unless asked ([`Scope::spawn_with_handle`]): a long-running
///   server can spawn millions of children through one scope.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_task::TaskScope;
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// let out = rt.block_on(TaskScope::with_runtime(rt.clone()).run(|scope| {
///     let rt = rt.clone();
///     async move {
///         for ms in [30, 10, 20] {
///             let rt = rt.clone();
///             scope.spawn(async move { rt.sleep(Duration::from_millis(ms)).await }).unwrap();
///         }
///         Ok::<_, std::io::Error>("body done")
///     }
/// }));
/// assert_eq!(out.unwrap(), "body done");
/// // The scope waited for its slowest child.
/// assert_eq!(rt.now() - start, Duration::from_millis(30));
/// ```
#[derive(Debug, Clone)]
pub struct TaskScope<R: Runtime = DefaultRuntime> {
    rt: R,
    timeout: Option<Duration>,
    exit_timeout: Option<Duration>,
    grace: Option<Duration>,
    reporter: ErrorReporter,
    parent: Option<CancellationToken>,
    shield: Option<Duration>,
}

impl TaskScope {
    /// A scope on [`DefaultRuntime::current`], with no timeouts, reporting child errors to the
    /// process-wide handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let n = rt.block_on(async {
    ///     TaskScope::new().run(|_scope| async { Ok::<_, std::io::Error>(1) }).await
    /// });
    /// assert_eq!(n.unwrap(), 1);
    /// ```
    ///
    /// # Panics
    ///
    /// Like [`DefaultRuntime::current`].
    #[must_use]
    pub fn new() -> Self {
        TaskScope::with_runtime(DefaultRuntime::current())
    }
}

impl Default for TaskScope {
    fn default() -> Self {
        TaskScope::new()
    }
}

impl<R: Runtime> TaskScope<R> {
    /// A scope on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let scope = TaskScope::with_runtime(rt.clone());
    /// assert!(rt.block_on(scope.run(|_| async { Ok::<_, std::io::Error>(()) })).is_ok());
    /// ```
    pub fn with_runtime(rt: R) -> Self {
        TaskScope {
            rt,
            timeout: None,
            exit_timeout: None,
            grace: None,
            reporter: ErrorReporter::global(),
            parent: None,
            shield: None,
        }
    }

    /// Sets an intrinsic deadline for the whole scope, body and children.
    ///
    /// A duration too long for the clock (`Duration::MAX`) means no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{ScopeError, TaskScope};
    ///
    /// let rt = VirtualRuntime::new();
    /// let scope = TaskScope::with_runtime(rt.clone()).timeout(Duration::from_secs(1));
    /// let r = rt.block_on(scope.run(|_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok::<_, std::io::Error>(())
    /// }));
    /// assert!(matches!(r, Err(ScopeError::TimedOut)));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// After the body returns, how long to wait for children before asking them to stop.
    ///
    /// A duration too long for the clock (`Duration::MAX`) means no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// let scope = TaskScope::with_runtime(rt.clone()).exit_timeout(Duration::from_millis(100));
    /// rt.block_on(scope.run(|scope| async move {
    ///     scope.spawn(std::future::pending::<()>()).unwrap();
    ///     Ok::<_, std::io::Error>(())
    /// }))
    /// .unwrap();
    /// assert_eq!(rt.now() - start, Duration::from_millis(100));
    /// ```
    pub fn exit_timeout(mut self, timeout: Duration) -> Self {
        self.exit_timeout = Some(timeout);
        self
    }

    /// Once the scope's token is cancelled, how long children may take to stop before they are
    /// dropped (default: no limit). A duration too long for the clock (`Duration::MAX`) means
    /// no limit too.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// let scope = TaskScope::with_runtime(rt.clone())
    ///     .exit_timeout(Duration::from_millis(10))
    ///     .grace(Duration::from_millis(5));
    /// rt.block_on(scope.run(|scope| async move {
    ///     // This child ignores its token: it is dropped when the grace period ends.
    ///     scope.spawn_with_token(|_token| std::future::pending::<()>()).unwrap();
    ///     Ok::<_, std::io::Error>(())
    /// }))
    /// .unwrap();
    /// assert_eq!(rt.now() - start, Duration::from_millis(15));
    /// ```
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// Sends child errors and panics to `reporter` instead of the process-wide handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use wrangle_rt::{ErrorReporter, Unhandled, VirtualRuntime};
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let reporter =
    ///     ErrorReporter::new(move |u: Unhandled| sink.lock().unwrap().push(u.error().to_string()));
    /// let scope = TaskScope::with_runtime(rt.clone()).error_reporter(reporter);
    /// rt.block_on(scope.run(|scope| async move {
    ///     scope.spawn(async { Err::<(), _>("child failed") }).unwrap();
    ///     let fail = true;
    ///     scope.spawn(async move { if fail { panic!("child panicked") } }).unwrap();
    ///     Ok::<_, std::io::Error>(())
    /// }))
    /// .unwrap();
    /// // Neither failure cancelled the body or the sibling; both were reported.
    /// assert_eq!(*seen.lock().unwrap(), ["child failed", "task panicked: child panicked"]);
    /// ```
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = reporter;
        self
    }

    /// Makes the scope's token a child of `parent`: cancelling `parent` asks every child of the
    /// scope to stop.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{CancellationToken, VirtualRuntime};
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let parent = CancellationToken::new();
    /// parent.cancel();
    /// let scope = TaskScope::with_runtime(rt.clone()).parent_token(&parent);
    /// let r = rt.block_on(scope.run(|scope| async move {
    ///     Ok::<_, std::io::Error>(scope.token().is_cancelled())
    /// }));
    /// assert!(r.unwrap());
    /// ```
    pub fn parent_token(mut self, parent: &CancellationToken) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Shields the children from an outer cancel for up to `limit` (aiotools'
    /// `TaskScope(shield=True)`, with a deadline): an outer cancel takes effect `limit` after
    /// it happens, or never if the scope ends first.
    ///
    /// An outer cancel is either of:
    ///
    /// - the [`parent_token`](TaskScope::parent_token) being cancelled: the scope's own token
    ///   is cancelled only `limit` later (the body and the children see nothing until then);
    /// - the [`run`](TaskScope::run) future being dropped: the children run on, detached, on
    ///   the scope's runtime, and are asked to stop (the token; then dropped after the
    ///   [`grace`](TaskScope::grace), if one is set) `limit` after the drop. The body itself
    ///   is dropped at once: it borrows from its caller, so it cannot outlive it.
    ///
    /// The scope's own deadlines still apply while it is shielded (as in aiotools, the
    /// intrinsic [`timeout`](TaskScope::timeout) is enforced even when shielded), and so does
    /// a cancel of [`Scope::token`] from inside. A duration too long for the clock
    /// (`Duration::MAX`) shields without a limit.
    ///
    /// # Examples
    ///
    /// A scope that saves its work even when its parent is told to stop, unless the save takes
    /// longer than 100 ms:
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{CancellationToken, Runtime, VirtualRuntime};
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let parent = CancellationToken::new();
    /// parent.cancel(); // the stop is already requested
    /// let start = rt.now();
    /// let rt2 = rt.clone();
    /// let saved = rt.block_on(
    ///     TaskScope::with_runtime(rt.clone())
    ///         .parent_token(&parent)
    ///         .shield(Duration::from_millis(100))
    ///         .run(|scope| async move {
    ///             let save = scope.spawn_with_handle(async move {
    ///                 rt2.sleep(Duration::from_millis(30)).await; // writes to disk
    ///                 Ok::<_, std::io::Error>("saved")
    ///             });
    ///             save.unwrap().await.unwrap()
    ///         }),
    /// );
    /// assert_eq!(saved.unwrap(), "saved");
    /// assert_eq!(rt.now() - start, Duration::from_millis(30));
    /// ```
    pub fn shield(mut self, limit: Duration) -> Self {
        self.shield = Some(limit);
        self
    }

    /// Runs the scope like [`run`](TaskScope::run), ending it **quietly** after `deadline`:
    /// the body is dropped, the children are asked to stop and awaited, and the future
    /// resolves to `Ok(None)` instead of [`ScopeError::TimedOut`] (trio and anyio's
    /// `move_on_after`, aiotools' `move_on_after`). `Ok(Some(output))` if the body finished
    /// first.
    ///
    /// If the scope also has a [`timeout`](TaskScope::timeout) shorter than `deadline`, that
    /// one still ends the scope with [`ScopeError::TimedOut`]. A duration too long for the
    /// clock (`Duration::MAX`) means no deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let rt2 = rt.clone();
    /// // Poll for a result for at most 250 ms, then carry on without it.
    /// let found = rt.block_on(TaskScope::with_runtime(rt.clone()).move_on_after(
    ///     Duration::from_millis(250),
    ///     |_scope| async move {
    ///         loop {
    ///             rt2.sleep(Duration::from_millis(100)).await; // nothing there yet
    ///         }
    ///         #[allow(unreachable_code)]
    ///         Ok::<u32, std::io::Error>(0)
    ///     },
    /// ));
    /// assert!(found.unwrap().is_none());
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`run`](TaskScope::run), except that reaching `deadline` is not one.
    ///
    /// # Cancel safety
    ///
    /// As for [`run`](TaskScope::run).
    pub fn move_on_after<'a, F, Fut, T, E>(self, deadline: Duration, body: F) -> MoveOn<'a, T, E>
    where
        F: FnOnce(Scope<R>) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
        T: Send + 'a,
        E: Send + 'a,
    {
        // The earlier deadline ends the scope; only `deadline` ends it quietly.
        let quiet = self.timeout.is_none_or(|t| deadline <= t);
        let timeout = self.timeout.map_or(deadline, |t| t.min(deadline));
        MoveOn {
            run: self.timeout(timeout).run(body),
            quiet,
        }
    }

    /// Runs `body` with a [`Scope`] handle, then waits for every child.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{ScopeError, TaskScope};
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(TaskScope::with_runtime(rt.clone()).run(|_| async { Err::<(), _>("no") }));
    /// assert!(matches!(r, Err(ScopeError::Body("no"))));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScopeError::Body`] with the body's error (the children were cancelled and awaited), or
    /// [`ScopeError::TimedOut`] if the intrinsic [`timeout`](TaskScope::timeout) fired.
    ///
    /// # Cancel safety
    ///
    /// Rust has no async drop: dropping the returned future drops the body and cancels every
    /// child without waiting for them, and closes the scope. To stop a scope and wait for its
    /// children's cleanup, cancel its token (or its [`parent_token`](TaskScope::parent_token))
    /// and keep awaiting.
    pub fn run<'a, F, Fut, T, E>(self, body: F) -> ScopeRun<'a, T, E>
    where
        F: FnOnce(Scope<R>) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
        T: Send + 'a,
        E: Send + 'a,
    {
        let token = match &self.parent {
            // Shielded: the parent's cancel reaches the scope's token only later (`drive`).
            Some(_) if self.shield.is_some() => CancellationToken::new(),
            Some(p) => p.child_token(),
            None => CancellationToken::new(),
        };
        let shared = Arc::new(Shared {
            rt: self.rt.clone(),
            token,
            ctx: Arc::new(ChildCtx {
                reporter: self.reporter.clone(),
                stats: Mutex::new(ScopeStats::default()),
            }),
            state: Mutex::new(State {
                pending: Vec::new(),
                closed: false,
                waker: None,
            }),
        });
        let scope = Scope {
            shared: shared.clone(),
        };
        let body = body(scope);
        ScopeRun {
            inner: Box::pin(drive(shared, body, self)),
        }
    }
}

/// The future of [`TaskScope::run`].
///
/// # Cancel safety
///
/// Dropping it drops the body and cancels every child without waiting, and closes the scope.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ScopeRun<'a, T, E> {
    inner: Pin<Box<dyn Future<Output = Result<T, ScopeError<E>>> + Send + 'a>>,
}

impl<T, E> fmt::Debug for ScopeRun<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeRun").finish_non_exhaustive()
    }
}

impl<T, E> Future for ScopeRun<'_, T, E> {
    type Output = Result<T, ScopeError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// The future of [`TaskScope::move_on_after`]: `Ok(None)` when the deadline ended the scope.
///
/// # Cancel safety
///
/// As for [`ScopeRun`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct MoveOn<'a, T, E> {
    run: ScopeRun<'a, T, E>,
    quiet: bool,
}

impl<T, E> fmt::Debug for MoveOn<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MoveOn").finish_non_exhaustive()
    }
}

impl<T, E> Future for MoveOn<'_, T, E> {
    type Output = Result<Option<T>, ScopeError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let quiet = self.quiet;
        Poll::Ready(match std::task::ready!(Pin::new(&mut self.run).poll(cx)) {
            Ok(v) => Ok(Some(v)),
            Err(ScopeError::TimedOut) if quiet => Ok(None),
            Err(e) => Err(e),
        })
    }
}

/// Closes the scope when the driver ends or is dropped, cancelling children nobody will await.
struct CloseGuard<'a, R>(&'a Shared<R>);

impl<R> Drop for CloseGuard<'_, R> {
    fn drop(&mut self) {
        let pending = {
            let mut st = lock(&self.0.state);
            st.closed = true;
            st.waker = None;
            std::mem::take(&mut st.pending)
        };
        drop(pending);
    }
}

impl<R> Shared<R> {
    /// Moves newly spawned children into `children` and registers the driver's waker.
    fn absorb(&self, children: &mut FutureSet<Child>, cx: &mut Context<'_>) {
        let mut st = lock(&self.state);
        if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            st.waker = Some(cx.waker().clone());
        }
        for child in st.pending.drain(..) {
            children.insert(child);
        }
    }

    /// Closes the scope if no child is left; a spawn racing with this lands before the close.
    fn try_close(&self, children: &FutureSet<Child>) -> bool {
        let mut st = lock(&self.state);
        if children.len() == 0 && st.pending.is_empty() {
            st.closed = true;
            true
        } else {
            false
        }
    }
}

/// Polls children until none is ready; returns `true` if the set is empty.
pub(crate) fn drain(children: &mut FutureSet<Child>, cx: &mut Context<'_>) -> bool {
    loop {
        match children.poll_next(cx) {
            Poll::Ready(Some(_)) => {}
            Poll::Ready(None) => return true,
            Poll::Pending => return false,
        }
    }
}

enum Outcome<T, E> {
    Body(Result<T, E>),
    TimedOut,
}

async fn drive<R, Fut, T, E>(
    shared: Arc<Shared<R>>,
    body: Fut,
    cfg: TaskScope<R>,
) -> Result<T, ScopeError<E>>
where
    R: Runtime,
    Fut: Future<Output = Result<T, E>>,
{
    let _close = CloseGuard(&shared);
    let rt = &shared.rt;
    let mut guard = ShieldOnDrop {
        shared: shared.clone(),
        set: FutureSet::default(),
        shield: cfg.shield,
        grace: cfg.grace,
    };
    let children = &mut guard.set;
    let mut outer = match (&cfg.parent, cfg.shield) {
        (Some(parent), Some(limit)) => Some(Outer {
            cancelled: Box::pin(parent.clone().cancelled_owned()),
            limit,
            sleep: None,
        }),
        _ => None,
    };
    let mut deadline = cfg.timeout.map(|d| Box::pin(rt.sleep(d)));
    let mut body = Box::pin(body);

    let outcome = poll_fn(|cx| {
        poll_outer(&mut outer, rt, &shared.token, cx);
        shared.absorb(children, cx);
        drain(children, cx);
        if let Some(d) = deadline.as_mut()
            && d.as_mut().poll(cx).is_ready()
        {
            deadline = None;
            return Poll::Ready(Outcome::TimedOut);
        }
        body.as_mut().poll(cx).map(Outcome::Body)
    })
    .await;
    drop(body);

    let mut result = match outcome {
        Outcome::Body(Ok(v)) => Ok(v),
        Outcome::Body(Err(e)) => Err(ScopeError::Body(e)),
        Outcome::TimedOut => Err(ScopeError::TimedOut),
    };
    if result.is_err() {
        shared.token.cancel();
    }

    let mut exit = cfg.exit_timeout.map(|d| Box::pin(rt.sleep(d)));
    let mut grace = None;
    let mut grace_over = false;
    let mut aborting: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
    poll_fn(|cx| {
        loop {
            poll_outer(&mut outer, rt, &shared.token, cx);
            shared.absorb(children, cx);
            let empty = drain(children, cx);
            aborting.retain_mut(|a| a.as_mut().poll(cx).is_pending());
            if empty && aborting.is_empty() && shared.try_close(children) {
                return Poll::Ready(());
            }
            if let Some(d) = deadline.as_mut()
                && d.as_mut().poll(cx).is_ready()
            {
                deadline = None;
                if result.is_ok() {
                    result = Err(ScopeError::TimedOut);
                }
                shared.token.cancel();
                continue;
            }
            if let Some(e) = exit.as_mut()
                && e.as_mut().poll(cx).is_ready()
            {
                exit = None;
                shared.token.cancel();
                continue;
            }
            if grace_over {
                // Children spawned after the grace period are dropped at once as well.
                if children.len() > 0 {
                    aborting.extend(children.take_all().into_iter().map(ChildTask::abort));
                    continue;
                }
                return Poll::Pending;
            }
            if grace.is_none()
                && shared.token.is_cancelled()
                && let Some(g) = cfg.grace
            {
                grace = Some(Box::pin(rt.sleep(g)));
            }
            if let Some(g) = grace.as_mut()
                && g.as_mut().poll(cx).is_ready()
            {
                // Grace is over: drop every child still running, and wait until it is gone.
                grace_over = true;
                continue;
            }
            return Poll::Pending;
        }
    })
    .await;
    result
}

//! [`Scope`]: the handle a [`TaskScope`](crate::TaskScope) body spawns children through, its
//! [`ScopeStats`], and [`ChildHandle`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wrangle_rt::{CancellationToken, DefaultRuntime, JoinError, Runtime, TaskOutput};

use crate::ScopeClosed;
use crate::loom::lock;
use crate::scope::state::{ChildWrap, Shared, Sink};
use crate::trace::{Kind, Label};

/// Counters of a [`Scope`], from [`Scope::stats`].
///
/// Every child is counted once when it ends, so at any time
/// `started == completed + failed + cancelled + running`; once the scope has finished,
/// `running == 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ScopeStats {
    /// Children spawned (counted when accepted by the scope).
    pub started: u64,
    /// Children that finished without error.
    pub completed: u64,
    /// Children that returned an error or panicked (each reported to the error reporter).
    pub failed: u64,
    /// Children cancelled (stopped by the token or dropped).
    pub cancelled: u64,
    /// Children running now.
    pub running: usize,
}

/// The handle a [`TaskScope`](crate::TaskScope) body uses to spawn children; cheap to clone, `Send` and `Sync`,
/// so children can spawn siblings.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::TaskScope;
///
/// let rt = VirtualRuntime::new();
/// let stats = rt.block_on(TaskScope::with_runtime(rt.clone()).run(|scope| async move {
///     let inner = scope.clone();
///     scope.spawn(async move { inner.spawn(async {}).unwrap() }).unwrap();
///     Ok::<_, std::io::Error>(scope)
/// }))
/// .unwrap()
/// .stats();
/// assert_eq!(stats.started, 2);
/// ```
pub struct Scope<R: Runtime = DefaultRuntime> {
    pub(crate) shared: Arc<Shared<R>>,
}

impl<R: Runtime> Clone for Scope<R> {
    fn clone(&self) -> Self {
        Scope {
            shared: self.shared.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for Scope<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("stats", &self.stats())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Scope<R> {
    /// Spawns a child. It is dropped as soon as the scope's token is cancelled; its error (or
    /// panic) goes to the scope's error reporter.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(TaskScope::with_runtime(rt.clone()).run(|scope| async move {
    ///     scope.spawn(async { Ok::<_, std::io::Error>(()) }).unwrap();
    ///     Ok::<_, std::io::Error>(())
    /// }))
    /// .unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScopeClosed`], with the future, if the scope has finished.
    pub fn spawn<F>(&self, future: F) -> Result<(), ScopeClosed<F>>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.spawn_labelled(future, Label::new(Kind::Scope, None))
    }

    /// Spawns a child like [`spawn`](Scope::spawn), under a name that labels it in
    /// diagnostics: with the `tracing` feature, the child's span (`scope.child`) carries it as
    /// `task.name` (without the feature the name is dropped, and this is `spawn`).
    ///
    /// The name is given at spawn, where the caller knows what the child is for (as
    /// `tokio::task::Builder::name`), by a method beside `spawn` rather than an argument every
    /// caller would have to pass.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let stats = rt.block_on(TaskScope::with_runtime(rt.clone()).run(|scope| async move {
    ///     for shard in 0..3 {
    ///         scope.spawn_named(format!("compact-shard-{shard}"), async move {
    ///             Ok::<_, std::io::Error>(shard)
    ///         })
    ///         .unwrap();
    ///     }
    ///     Ok::<_, std::io::Error>(scope)
    /// }))
    /// .unwrap()
    /// .stats();
    /// assert_eq!(stats.completed, 3);
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScopeClosed`], with the future, if the scope has finished.
    pub fn spawn_named<F>(
        &self,
        name: impl Into<Cow<'static, str>>,
        future: F,
    ) -> Result<(), ScopeClosed<F>>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.spawn_labelled(future, Label::new(Kind::Scope, Some(name.into())))
    }

    /// [`spawn`](Scope::spawn) with the child's label.
    fn spawn_labelled<F>(&self, future: F, label: Label) -> Result<(), ScopeClosed<F>>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        let token = self.shared.token.clone();
        self.spawn_inner(
            future,
            move |f| async move { token.run_until_cancelled(f).await },
            None,
            label,
        )
    }

    /// Spawns a child like [`spawn`](Scope::spawn), and asks for its output: the returned
    /// [`ChildHandle`] resolves to it. The output (an error included) goes to the handle, not to
    /// the error reporter, unless the handle was dropped by then.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let v = rt.block_on(TaskScope::with_runtime(rt.clone()).run(|scope| async move {
    ///     let h = scope.spawn_with_handle(async { Ok::<_, std::io::Error>(21 * 2) }).unwrap();
    ///     h.await.unwrap()
    /// }));
    /// assert_eq!(v.unwrap(), 42);
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScopeClosed`], with the future, if the scope has finished.
    pub fn spawn_with_handle<F>(&self, future: F) -> Result<ChildHandle<F::Output>, ScopeClosed<F>>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        let token = self.shared.token.clone();
        let (tx, rx) = async_channel::bounded(1);
        self.spawn_inner(
            future,
            move |f| async move { token.run_until_cancelled(f).await },
            Some(tx),
            Label::new(Kind::Scope, None),
        )?;
        Ok(ChildHandle {
            inner: Box::pin(async move { rx.recv().await.unwrap_or(Err(JoinError::Cancelled)) }),
        })
    }

    /// Spawns a child that gets the scope's token and handles cancellation itself, so it can
    /// clean up asynchronously before it returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::{ScopeError, TaskScope};
    ///
    /// let rt = VirtualRuntime::new();
    /// let r = rt.block_on(TaskScope::with_runtime(rt.clone()).run(|scope| {
    ///     let rt = rt.clone();
    ///     async move {
    ///         scope
    ///             .spawn_with_token(move |token| async move {
    ///                 token.cancelled().await;
    ///                 rt.sleep(Duration::from_millis(5)).await; // async cleanup
    ///             })
    ///             .unwrap();
    ///         Err::<(), _>("body failed")
    ///     }
    /// }));
    /// assert!(matches!(r, Err(ScopeError::Body("body failed"))));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScopeClosed`], with the closure, if the scope has finished.
    pub fn spawn_with_token<C, F>(&self, child: C) -> Result<(), ScopeClosed<C>>
    where
        C: FnOnce(CancellationToken) -> F,
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.spawn_with_token_labelled(child, Label::new(Kind::Scope, None))
    }

    /// [`spawn_with_token`](Scope::spawn_with_token) with the child's label (the supervisor
    /// spawns its children through this).
    pub(crate) fn spawn_with_token_labelled<C, F>(
        &self,
        child: C,
        label: Label,
    ) -> Result<(), ScopeClosed<C>>
    where
        C: FnOnce(CancellationToken) -> F,
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        let token = self.shared.token.clone();
        self.spawn_inner(
            child,
            move |c| {
                let f = c(token);
                async move { Some(f.await) }
            },
            None,
            label,
        )
    }

    fn spawn_inner<C, F, O, W>(
        &self,
        child: C,
        wrap: W,
        sink: Option<Sink<O>>,
        label: Label,
    ) -> Result<(), ScopeClosed<C>>
    where
        W: FnOnce(C) -> F,
        F: Future<Output = Option<O>> + Send + 'static,
        O: TaskOutput,
    {
        let waker = {
            let mut st = lock(&self.shared.state);
            if st.closed {
                return Err(ScopeClosed(child));
            }
            #[cfg(not(feature = "tracing"))]
            let handle = {
                let _ = label;
                self.shared.rt.spawn(wrap(child))
            };
            #[cfg(feature = "tracing")]
            let handle = self
                .shared
                .rt
                .spawn(crate::trace::Traced::new(wrap(child), label));
            {
                let mut stats = lock(&self.shared.ctx.stats);
                stats.started += 1;
                stats.running += 1;
            }
            st.pending.push(Box::new(ChildWrap {
                handle: Some(handle),
                ctx: self.shared.ctx.clone(),
                sink,
            }));
            st.waker.clone()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// The scope's cancellation token: cancelled when the body fails, the intrinsic timeout
    /// fires, the exit timeout runs out, or the parent token is cancelled. Cancel it yourself to
    /// stop every child.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(TaskScope::with_runtime(rt.clone()).run(|scope| async move {
    ///     scope.spawn(std::future::pending::<()>()).unwrap();
    ///     scope.token().cancel(); // the pending child is dropped; the scope can end
    ///     Ok::<_, std::io::Error>(())
    /// }))
    /// .unwrap();
    /// ```
    pub fn token(&self) -> &CancellationToken {
        &self.shared.token
    }

    /// The runtime children are spawned on.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let name = rt.block_on(TaskScope::with_runtime(rt.clone()).run(|scope| async move {
    ///     Ok::<_, std::io::Error>(scope.runtime().name())
    /// }));
    /// assert_eq!(name.unwrap(), "virtual");
    /// ```
    pub fn runtime(&self) -> &R {
        &self.shared.rt
    }

    /// The scope's counters so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(TaskScope::with_runtime(rt.clone()).run(|scope| async move {
    ///     scope.spawn(async {}).unwrap();
    ///     assert_eq!(scope.stats().running, 1);
    ///     Ok::<_, std::io::Error>(())
    /// }))
    /// .unwrap();
    /// ```
    pub fn stats(&self) -> ScopeStats {
        *lock(&self.shared.ctx.stats)
    }

    /// Returns `true` once the scope has finished (or its future was dropped); spawning then
    /// fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskScope;
    ///
    /// let rt = VirtualRuntime::new();
    /// let scope = rt
    ///     .block_on(TaskScope::with_runtime(rt.clone()).run(|s| async move { Ok::<_, ()>(s) }))
    ///     .unwrap();
    /// assert!(scope.is_closed());
    /// assert!(scope.spawn(async {}).is_err());
    /// ```
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).closed
    }
}

/// The output of a child spawned with [`Scope::spawn_with_handle`]: resolves to its output, or
/// to a [`JoinError`] if it panicked or was cancelled (the scope's token, or the scope's future
/// dropped).
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::TaskScope;
///
/// let rt = VirtualRuntime::new();
/// let r = rt.block_on(TaskScope::with_runtime(rt.clone()).run(|scope| async move {
///     let h = scope.spawn_with_handle(async { Err::<(), _>("mine to handle") }).unwrap();
///     Ok::<_, std::io::Error>(h.await.unwrap())
/// }));
/// assert_eq!(r.unwrap(), Err("mine to handle"));
/// ```
///
/// # Cancel safety
///
/// Dropping it does not stop the child; its outcome then goes to the scope's error reporter.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ChildHandle<T> {
    inner: Pin<Box<dyn Future<Output = Result<T, JoinError>> + Send>>,
}

impl<T> fmt::Debug for ChildHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildHandle").finish_non_exhaustive()
    }
}

impl<T> Future for ChildHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

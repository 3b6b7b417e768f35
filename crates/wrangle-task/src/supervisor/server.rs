//! [`Server`]: N workers, each a thread with its own runtime, stopped gracefully together.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use wrangle_rt::{
    BoxError, CancellationToken, DefaultRuntime, Runtime,
    thread::{RuntimeThread, ThreadFlavor},
};

use super::handle::Shared;
use super::{ForceExit, ServerStats, ShutdownHandle};
use crate::{Supervisor, SupervisorError};

/// What a server worker gets: its index, the token of the graceful stop, and its thread's
/// runtime.
///
/// # Examples
///
/// A worker that handles "requests" on its own runtime until the stop, then drains them:
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime, thread::ThreadFlavor};
/// use wrangle_task::Server;
/// use wrangle_task::supervisor::WorkerContext;
///
/// async fn worker(ctx: WorkerContext) -> std::io::Result<()> {
///     let rt = ctx.runtime().clone();
///     let mut in_flight = Vec::new();
///     // Take work until the graceful stop begins (here: three requests, then worker 0 asks).
///     for request in 0..3 {
///         let rt2 = rt.clone();
///         in_flight.push(rt.spawn(async move {
///             rt2.sleep(Duration::from_millis(5)).await;
///             request
///         }));
///     }
///     ctx.token().cancelled().await;
///     // Finish what was accepted before returning.
///     for r in in_flight {
///         r.await.map_err(std::io::Error::other)?;
///     }
///     Ok(())
/// }
///
/// let server = Server::new(NonZeroUsize::new(2).unwrap()).flavor(ThreadFlavor::Virtual);
/// let shutdown = server.shutdown_handle();
/// let r = VirtualRuntime::new().block_on(server.serve(move |ctx| {
///     if ctx.index() == 0 {
///         shutdown.close();
///     }
///     worker(ctx)
/// }));
/// assert!(r.is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct WorkerContext {
    index: usize,
    token: CancellationToken,
    runtime: DefaultRuntime,
}

impl WorkerContext {
    /// The worker's index, `0..workers`.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// Cancelled when the server starts its graceful stop: stop taking new work, finish what
    /// is in flight, and return.
    #[must_use]
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The runtime of the worker's own thread: spawn the worker's tasks here.
    #[must_use]
    pub fn runtime(&self) -> &DefaultRuntime {
        &self.runtime
    }
}

/// A multi-worker server: `workers` threads, each running its own runtime and the same worker
/// function, given a [`WorkerContext`] (its index, the stop token, its runtime). A
/// [`Supervisor`] over N [`RuntimeThread`]s, so it stops the way a supervisor does.
///
/// The first of these starts a graceful stop of every worker, exactly once: a worker's error
/// (or panic), [`ShutdownHandle::close`], or (with `Server::signals`, feature `signal`) SIGINT
/// or SIGTERM. A second signal during the stop forces the exit ([`ForceExit`], default: exit
/// code 130). [`serve`](Server::serve) resolves when every worker has returned, with the first
/// error; the threads are joined. A server serves once: its stop is final, so a second
/// `serve` of the same server stops at once.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use wrangle_rt::{VirtualRuntime, thread::ThreadFlavor};
/// use wrangle_task::Server;
///
/// let server = Server::new(NonZeroUsize::new(3).unwrap()).flavor(ThreadFlavor::Virtual);
/// let shutdown = server.shutdown_handle();
/// let result = VirtualRuntime::new().block_on(server.serve(move |ctx| {
///     let shutdown = shutdown.clone();
///     async move {
///         if ctx.index() == 0 {
///             shutdown.close(); // e.g. an admin command
///         }
///         // Every worker serves until the graceful stop, then returns.
///         ctx.token().cancelled().await;
///         Ok::<_, std::io::Error>(())
///     }
/// }));
/// assert!(result.is_ok());
/// ```
pub struct Server {
    workers: NonZeroUsize,
    flavor: ThreadFlavor,
    name: String,
    signals: bool,
    drain: Option<Duration>,
    force: ForceExit,
    shutdown: ShutdownHandle,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("workers", &self.workers)
            .field("flavor", &self.flavor)
            .field("name", &self.name)
            .field("signals", &self.signals)
            .field("drain", &self.drain)
            .field("force", &self.force)
            .field("shutdown", &self.shutdown)
            .finish()
    }
}

impl Server {
    /// A server of `workers` worker threads, each with the default [`ThreadFlavor`], named
    /// `wrangle-worker-<index>`.
    #[must_use]
    pub fn new(workers: NonZeroUsize) -> Self {
        Server {
            workers,
            flavor: ThreadFlavor::default(),
            name: "wrangle-worker".into(),
            signals: false,
            drain: None,
            force: ForceExit::default(),
            shutdown: ShutdownHandle {
                shared: Arc::new(Shared::new()),
            },
        }
    }

    /// The runtime each worker thread runs.
    #[must_use]
    pub fn flavor(mut self, flavor: ThreadFlavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// The prefix of the worker threads' names (`<prefix>-<index>`; default `wrangle-worker`).
    #[must_use]
    pub fn name(mut self, prefix: impl Into<String>) -> Self {
        self.name = prefix.into();
        self
    }

    /// Stop gracefully on the first SIGINT or SIGTERM (feature `signal`); a second one forces
    /// the exit (see [`force_exit`](Server::force_exit)).
    #[cfg(feature = "signal")]
    #[cfg_attr(docsrs, doc(cfg(feature = "signal")))]
    #[must_use]
    pub fn signals(mut self) -> Self {
        self.signals = true;
        self
    }

    /// The graceful stop may take at most `deadline`; then the workers are dropped and
    /// [`serve`](Server::serve) fails with [`SupervisorError::DrainTimedOut`]. A duration too
    /// long for the clock (`Duration::MAX`) means no limit.
    #[must_use]
    pub fn drain(mut self, deadline: Duration) -> Self {
        self.drain = Some(deadline);
        self
    }

    /// What a second signal during the graceful stop does (default: [`ForceExit::Exit`]`(130)`).
    #[must_use]
    pub fn force_exit(mut self, force: ForceExit) -> Self {
        self.force = force;
        self
    }

    /// A handle that starts the graceful stop from any thread, before or during
    /// [`serve`](Server::serve): the same [`ShutdownHandle`] a [`Supervisor`] gives.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use wrangle_rt::{VirtualRuntime, thread::ThreadFlavor};
    /// use wrangle_task::Server;
    /// use wrangle_task::supervisor::ShutdownReason;
    ///
    /// let server = Server::new(NonZeroUsize::MIN).flavor(ThreadFlavor::Virtual);
    /// let shutdown = server.shutdown_handle();
    /// // From a plain thread, e.g. a control socket; it never waits.
    /// std::thread::spawn({
    ///     let shutdown = shutdown.clone();
    ///     move || shutdown.close()
    /// })
    /// .join()
    /// .unwrap();
    /// let r = VirtualRuntime::new().block_on(server.serve(|ctx| async move {
    ///     ctx.token().cancelled().await; // already cancelled: return at once
    ///     Ok::<_, std::io::Error>(())
    /// }));
    /// assert!(r.is_ok());
    /// assert_eq!(shutdown.reason(), Some(ShutdownReason::Requested));
    /// ```
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Starts the worker threads, runs `worker` on each, and resolves when all have returned
    /// (and the threads are joined).
    ///
    /// The supervising part runs on the runtime that polls the future
    /// ([`DefaultRuntime::current`]); each worker runs on its own thread's runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use wrangle_rt::{Runtime, VirtualRuntime, thread::ThreadFlavor};
    /// use wrangle_task::{Server, SupervisorError};
    ///
    /// let server = Server::new(NonZeroUsize::new(2).unwrap()).flavor(ThreadFlavor::Virtual);
    /// let r = VirtualRuntime::new().block_on(server.serve(|ctx| async move {
    ///     // Each worker spawns on its own thread's runtime.
    ///     let index = ctx.index();
    ///     let job = ctx.runtime().spawn(async move { index * 10 });
    ///     if job.await.unwrap() == 10 {
    ///         return Err(std::io::Error::other("worker 1 failed"));
    ///     }
    ///     ctx.token().cancelled().await; // worker 0 stops when worker 1 fails
    ///     Ok(())
    /// }));
    /// assert!(matches!(r, Err(SupervisorError::Failed(e)) if e.to_string() == "worker 1 failed"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Failed`] with the first worker error or panic (or a worker thread
    /// that could not start); [`SupervisorError::DrainTimedOut`] or [`SupervisorError::Forced`]
    /// as configured; [`SupervisorError::Signals`] if signal handlers cannot be installed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops every worker at once (their tasks are dropped) and joins the
    /// threads.
    ///
    /// # Panics
    ///
    /// When first polled outside a runtime, as [`DefaultRuntime::current`].
    pub fn serve<F, Fut, E>(&self, worker: F) -> Serve
    where
        F: Fn(WorkerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let server = Server {
            workers: self.workers,
            flavor: self.flavor,
            name: self.name.clone(),
            signals: self.signals,
            drain: self.drain,
            force: self.force,
            shutdown: self.shutdown.clone(),
        };
        Serve {
            inner: Box::pin(serve(server, worker)),
        }
    }

    /// The counters of the workers (see [`ServerStats`]): zero before
    /// [`serve`](Server::serve), live while it runs (from another task or thread: the server
    /// is `Sync`), final after it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::sync::Arc;
    /// use wrangle_rt::{VirtualRuntime, thread::ThreadFlavor};
    /// use wrangle_task::Server;
    ///
    /// let server = Arc::new(Server::new(NonZeroUsize::new(2).unwrap()).flavor(ThreadFlavor::Virtual));
    /// let watcher = server.clone();
    /// let shutdown = server.shutdown_handle();
    /// let r = VirtualRuntime::new().block_on(server.serve(move |ctx| {
    ///     let (watcher, shutdown) = (watcher.clone(), shutdown.clone());
    ///     async move {
    ///         // A running worker is counted as running.
    ///         assert!(watcher.stats().running >= 1);
    ///         if ctx.index() == 0 {
    ///             shutdown.close();
    ///         }
    ///         ctx.token().cancelled().await;
    ///         Ok::<_, std::io::Error>(())
    ///     }
    /// }));
    /// assert!(r.is_ok());
    /// let s = server.stats();
    /// assert_eq!((s.started, s.completed, s.running), (2, 2, 0));
    /// ```
    #[must_use]
    pub fn stats(&self) -> ServerStats {
        ServerStats::from_supervisor(self.shutdown.shared.stats())
    }
}

async fn serve<F, Fut, E>(server: Server, worker: F) -> Result<(), SupervisorError>
where
    F: Fn(WorkerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    let mut threads = Vec::with_capacity(server.workers.get());
    for i in 0..server.workers.get() {
        match RuntimeThread::spawn(format!("{}-{i}", server.name), server.flavor) {
            Ok(t) => threads.push(t),
            Err(e) => return Err(SupervisorError::Failed(Box::new(e))),
        }
    }
    let runtimes: Vec<DefaultRuntime> = threads.iter().map(|t| t.runtime().clone()).collect();
    let mut sup = Supervisor::with_runtime(DefaultRuntime::current()).force_exit(server.force);
    // The server's handle is the supervisor's: `close` on it starts this run's graceful stop.
    sup.shared = server.shutdown.shared.clone();
    if let Some(d) = server.drain {
        sup = sup.drain(d);
    }
    #[cfg(feature = "signal")]
    if server.signals {
        sup = sup.signals();
    }
    let worker = Arc::new(worker);
    let result = sup
        .run(move |h| async move {
            for (index, rt) in runtimes.into_iter().enumerate() {
                let ctx = WorkerContext {
                    index,
                    token: h.token().child_token(),
                    runtime: rt.clone(),
                };
                // The supervisor awaits each worker; a worker's error or panic starts the stop.
                // The worker is spawned from the supervised task, so it is counted (`stats`)
                // before it runs. The worker function is user code: a panic while it builds
                // its future is caught with the future's, by the worker's task.
                let worker = worker.clone();
                h.spawn(async move {
                    let run = rt.spawn(async move { worker(ctx).await.map_err(Into::into) });
                    match run.await {
                        Ok(r) => r,
                        Err(e) => Err(BoxError::from(e)),
                    }
                })
                .map_err(|_| "the server stopped before it started")?;
            }
            Ok::<(), BoxError>(())
        })
        .await;
    // Join the worker threads (their runtimes drop anything still on them).
    drop(threads);
    result
}

/// The future of [`Server::serve`].
///
/// # Cancel safety
///
/// Dropping it stops every worker at once (their tasks are dropped) and joins the threads.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Serve {
    inner: Pin<Box<dyn Future<Output = Result<(), SupervisorError>> + Send>>,
}

impl fmt::Debug for Serve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve").finish_non_exhaustive()
    }
}

impl Future for Serve {
    type Output = Result<(), SupervisorError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

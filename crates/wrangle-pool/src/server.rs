//! [`Server`]: N workers, each a thread with its own runtime, stopped gracefully together.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wrangle_rt::{
    BoxError, CancellationToken, DefaultRuntime, Runtime,
    thread::{RuntimeThread, ThreadFlavor},
};
use wrangle_task::{ForceExit, Supervisor, SupervisorError};

/// What a server worker gets: its index, the shutdown signal, and its thread's runtime.
#[derive(Debug, Clone)]
pub struct WorkerContext {
    index: usize,
    shutdown: CancellationToken,
    runtime: DefaultRuntime,
}

impl WorkerContext {
    /// The worker's index, `0..workers`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use wrangle_pool::Server;
    /// # let rt = wrangle_rt::VirtualRuntime::new();
    /// # rt.block_on(Server::new(std::num::NonZeroUsize::MIN).flavor(wrangle_rt::thread::ThreadFlavor::Virtual)
    /// #     .serve(|ctx| async move { assert_eq!(ctx.index(), 0); Ok::<_, std::io::Error>(()) })).unwrap();
    /// ```
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// Cancelled when the server starts its graceful stop: finish in-flight work and return.
    ///
    /// # Examples
    ///
    /// ```
    /// # use wrangle_pool::Server;
    /// # let rt = wrangle_rt::VirtualRuntime::new();
    /// # rt.block_on(Server::new(std::num::NonZeroUsize::MIN).flavor(wrangle_rt::thread::ThreadFlavor::Virtual)
    /// #     .serve(|ctx| async move { assert!(!ctx.shutdown().is_cancelled()); Ok::<_, std::io::Error>(()) })).unwrap();
    /// ```
    #[must_use]
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// The runtime of the worker's own thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # use wrangle_pool::Server;
    /// use wrangle_rt::Runtime;
    /// # let rt = wrangle_rt::VirtualRuntime::new();
    /// # rt.block_on(Server::new(std::num::NonZeroUsize::MIN).flavor(wrangle_rt::thread::ThreadFlavor::Virtual)
    /// #     .serve(|ctx| async move { assert_eq!(ctx.runtime().name(), "virtual"); Ok::<_, std::io::Error>(()) })).unwrap();
    /// ```
    #[must_use]
    pub fn runtime(&self) -> &DefaultRuntime {
        &self.runtime
    }
}

/// Triggers a [`Server`]'s graceful stop from any thread, async or not.
#[derive(Debug, Clone, Default)]
pub struct ServerStop {
    token: CancellationToken,
}

impl ServerStop {
    /// Starts the graceful stop (once; later calls do nothing).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = wrangle_pool::Server::new(std::num::NonZeroUsize::MIN);
    /// server.stop_handle().stop();
    /// ```
    pub fn stop(&self) {
        self.token.cancel();
    }
}

/// A multi-worker server: `workers` threads, each running its own runtime and the same worker
/// function, given its index and a shutdown signal.
///
/// The first of these starts a graceful stop of every worker, exactly once: a worker's error,
/// [`ServerStop::stop`], or (with `Server::signals`, feature `signal`) SIGINT or
/// SIGTERM. A second signal during the stop forces the exit ([`ForceExit`], default: exit
/// code 130). [`serve`](Server::serve) returns when every worker has returned, with the first
/// error; the threads are joined.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use wrangle_pool::Server;
/// use wrangle_rt::thread::ThreadFlavor;
///
/// let server = Server::new(NonZeroUsize::new(3).unwrap()).flavor(ThreadFlavor::Virtual);
/// let stop = server.stop_handle();
/// let result = wrangle_rt::VirtualRuntime::new().block_on(server.serve(move |ctx| {
///     let stop = stop.clone();
///     async move {
///         if ctx.index() == 0 {
///             stop.stop(); // e.g. an admin command
///         }
///         ctx.shutdown().cancelled().await;
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
    stop: ServerStop,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("workers", &self.workers)
            .field("flavor", &self.flavor)
            .field("name", &self.name)
            .field("signals", &self.signals)
            .field("drain", &self.drain)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server of `workers` worker threads, each with the default [`ThreadFlavor`].
    ///
    /// # Examples
    ///
    /// ```
    /// let server = wrangle_pool::Server::new(std::num::NonZeroUsize::new(4).unwrap());
    /// # drop(server);
    /// ```
    #[must_use]
    pub fn new(workers: NonZeroUsize) -> Self {
        Server {
            workers,
            flavor: ThreadFlavor::default(),
            name: "wrangle-worker".into(),
            signals: false,
            drain: None,
            force: ForceExit::default(),
            stop: ServerStop::default(),
        }
    }

    /// The runtime each worker thread runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = wrangle_pool::Server::new(std::num::NonZeroUsize::MIN).flavor(wrangle_rt::thread::ThreadFlavor::Virtual);
    /// # drop(s);
    /// ```
    #[must_use]
    pub fn flavor(mut self, flavor: ThreadFlavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// The prefix of the worker threads' names (`<prefix>-<index>`; default `wrangle-worker`).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = wrangle_pool::Server::new(std::num::NonZeroUsize::MIN).name("echo");
    /// # drop(s);
    /// ```
    #[must_use]
    pub fn name(mut self, prefix: impl Into<String>) -> Self {
        self.name = prefix.into();
        self
    }

    /// Stop gracefully on the first SIGINT or SIGTERM (feature `signal`).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = wrangle_pool::Server::new(std::num::NonZeroUsize::MIN).signals();
    /// # drop(s);
    /// ```
    #[cfg(feature = "signal")]
    #[cfg_attr(docsrs, doc(cfg(feature = "signal")))]
    #[must_use]
    pub fn signals(mut self) -> Self {
        self.signals = true;
        self
    }

    /// The graceful stop may take at most `deadline`; then the workers are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = wrangle_pool::Server::new(std::num::NonZeroUsize::MIN).drain(std::time::Duration::from_secs(30));
    /// # drop(s);
    /// ```
    #[must_use]
    pub fn drain(mut self, deadline: Duration) -> Self {
        self.drain = Some(deadline);
        self
    }

    /// What a second signal during the graceful stop does (default: exit with code 130).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = wrangle_pool::Server::new(std::num::NonZeroUsize::MIN).force_exit(wrangle_task::ForceExit::Return);
    /// # drop(s);
    /// ```
    #[must_use]
    pub fn force_exit(mut self, force: ForceExit) -> Self {
        self.force = force;
        self
    }

    /// A handle that starts the graceful stop from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = wrangle_pool::Server::new(std::num::NonZeroUsize::MIN);
    /// let stop = server.stop_handle();
    /// std::thread::spawn(move || stop.stop()).join().unwrap();
    /// ```
    #[must_use]
    pub fn stop_handle(&self) -> ServerStop {
        self.stop.clone()
    }

    /// Starts the worker threads, runs `worker` on each, and returns when all have returned.
    ///
    /// The supervising part runs on the current runtime ([`DefaultRuntime::current`]); each
    /// worker runs on its own thread's runtime.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Failed`] with the first worker error (or a worker thread that could not
    /// start); [`SupervisorError::DrainTimedOut`] or [`SupervisorError::Forced`] as configured;
    /// [`SupervisorError::Signals`] if signal handlers cannot be installed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use wrangle_pool::Server;
    ///
    /// let server = Server::new(NonZeroUsize::new(2).unwrap()).flavor(wrangle_rt::thread::ThreadFlavor::Virtual);
    /// let r = wrangle_rt::VirtualRuntime::new()
    ///     .block_on(server.serve(|ctx| async move { Ok::<_, std::io::Error>(ctx.index()).map(drop) }));
    /// assert!(r.is_ok());
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops every worker at once (their tasks are dropped) and joins the
    /// threads.
    ///
    /// # Panics
    ///
    /// As [`DefaultRuntime::current`].
    pub async fn serve<F, Fut, E>(self, worker: F) -> Result<(), SupervisorError>
    where
        F: Fn(WorkerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let mut threads = Vec::with_capacity(self.workers.get());
        for i in 0..self.workers.get() {
            match RuntimeThread::spawn(format!("{}-{i}", self.name), self.flavor) {
                Ok(t) => threads.push(t),
                Err(e) => return Err(SupervisorError::Failed(Box::new(e))),
            }
        }
        let runtimes: Vec<DefaultRuntime> = threads.iter().map(|t| t.runtime().clone()).collect();
        let mut sup = Supervisor::with_runtime(DefaultRuntime::current()).force_exit(self.force);
        if let Some(d) = self.drain {
            sup = sup.drain(d);
        }
        #[cfg(feature = "signal")]
        if self.signals {
            sup = sup.signals();
        }
        let external = self.stop.token.clone();
        let worker = Arc::new(worker);
        let result = sup
            .run(move |h| async move {
                // An outside stop request becomes the supervisor's graceful stop; the watcher
                // ends too when every worker has returned on its own.
                let all_done = CancellationToken::new();
                let left = Arc::new(AtomicUsize::new(runtimes.len()));
                let shutdown = h.shutdown_handle();
                let stopping = h.token().clone();
                let done = all_done.clone();
                h.spawn(async move {
                    let requested = done
                        .run_until_cancelled(
                            stopping.run_until_cancelled(external.cancelled_owned()),
                        )
                        .await;
                    if let Some(Some(())) = requested {
                        shutdown.shutdown();
                    }
                })
                .map_err(|_| "the server stopped before it started")?;
                for (index, rt) in runtimes.into_iter().enumerate() {
                    let ctx = WorkerContext {
                        index,
                        shutdown: h.token().child_token(),
                        runtime: rt.clone(),
                    };
                    let run = rt.spawn({
                        let worker = worker.clone();
                        async move { worker(ctx).await.map_err(Into::into) }
                    });
                    let last = LastOut {
                        left: left.clone(),
                        all_done: all_done.clone(),
                    };
                    // The supervisor awaits each worker; a worker's error starts the stop.
                    h.spawn(async move {
                        let _last = last;
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
}

/// Cancels `all_done` when the last worker's watcher ends.
struct LastOut {
    left: Arc<AtomicUsize>,
    all_done: CancellationToken,
}

impl Drop for LastOut {
    fn drop(&mut self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_done.cancel();
        }
    }
}

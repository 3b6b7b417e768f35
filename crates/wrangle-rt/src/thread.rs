//! [`RuntimeThread`]: a runtime of its own on a dedicated, named OS thread.

use std::fmt;
use std::future::Future;
use std::sync::mpsc;

use crate::{CancellationToken, DefaultRuntime, VirtualRuntime};

/// Which executor a [`RuntimeThread`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThreadFlavor {
    /// A Tokio current-thread runtime (feature `runtime-tokio`).
    TokioCurrentThread,
    /// An `async_executor::Executor` driven by `async_io::block_on` (feature `runtime-smol`).
    Smol,
    /// A [`VirtualRuntime`]: virtual time of its own, for tests.
    Virtual,
}

impl ThreadFlavor {
    /// Whether this build can run the flavour.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(wrangle_rt::thread::ThreadFlavor::Virtual.is_available());
    /// ```
    #[must_use]
    pub fn is_available(self) -> bool {
        match self {
            ThreadFlavor::TokioCurrentThread => cfg!(feature = "runtime-tokio"),
            ThreadFlavor::Smol => cfg!(feature = "runtime-smol"),
            ThreadFlavor::Virtual => true,
        }
    }
}

impl Default for ThreadFlavor {
    /// Tokio if `runtime-tokio` is enabled, else smol if `runtime-smol` is, else virtual.
    fn default() -> Self {
        if cfg!(feature = "runtime-tokio") {
            ThreadFlavor::TokioCurrentThread
        } else if cfg!(feature = "runtime-smol") {
            ThreadFlavor::Smol
        } else {
            ThreadFlavor::Virtual
        }
    }
}

/// Why a [`RuntimeThread`] could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum RuntimeThreadError {
    /// The flavour is not compiled into this build.
    Unavailable(ThreadFlavor),
    /// The OS refused the thread, or the runtime failed to build.
    Io(std::io::Error),
}

impl fmt::Display for RuntimeThreadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeThreadError::Unavailable(flavor) => {
                write!(
                    f,
                    "runtime flavour {flavor:?} is not compiled into this build"
                )
            }
            RuntimeThreadError::Io(e) => write!(f, "failed to start the runtime thread: {e}"),
        }
    }
}

impl std::error::Error for RuntimeThreadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RuntimeThreadError::Io(e) => Some(e),
            RuntimeThreadError::Unavailable(_) => None,
        }
    }
}

/// A runtime of its own, running on a dedicated, named OS thread until stopped.
///
/// Spawn work on it through [`runtime`](RuntimeThread::runtime) from any thread. Dropping it
/// (or [`cancel_blocking`](RuntimeThread::cancel_blocking)) stops the runtime, which drops
/// every task still on it, and joins the thread; [`cancel`](RuntimeThread::cancel) does the
/// same and returns a future to await from another runtime instead of blocking.
///
/// # Examples
///
/// ```
/// use wrangle_rt::{Runtime, thread::{RuntimeThread, ThreadFlavor}};
///
/// let thread = RuntimeThread::spawn("worker", ThreadFlavor::Virtual).unwrap();
/// let name = thread.runtime().spawn(async { std::thread::current().name().map(String::from) });
/// assert_eq!(futures_lite::future::block_on(name).unwrap().as_deref(), Some("worker"));
/// thread.cancel_blocking();
/// ```
pub struct RuntimeThread {
    runtime: DefaultRuntime,
    flavor: ThreadFlavor,
    stop: CancellationToken,
    /// Cancelled by the thread as its last step (after its runtime and tasks are dropped),
    /// so that [`cancel`](RuntimeThread::cancel) can wait for it without blocking.
    exited: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for RuntimeThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeThread")
            .field("flavor", &self.flavor)
            .field(
                "thread",
                &self
                    .thread
                    .as_ref()
                    .map(|t| t.thread().name().map(String::from)),
            )
            .finish()
    }
}

impl RuntimeThread {
    /// Starts a thread named `name` running a runtime of `flavor`.
    ///
    /// # Errors
    ///
    /// [`RuntimeThreadError::Unavailable`] if the flavour is not compiled in;
    /// [`RuntimeThreadError::Io`] if the thread or runtime cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::thread::{RuntimeThread, ThreadFlavor};
    ///
    /// let t = RuntimeThread::spawn("io", ThreadFlavor::default()).unwrap();
    /// # drop(t);
    /// ```
    pub fn spawn(
        name: impl Into<String>,
        flavor: ThreadFlavor,
    ) -> Result<Self, RuntimeThreadError> {
        if !flavor.is_available() {
            return Err(RuntimeThreadError::Unavailable(flavor));
        }
        let stop = CancellationToken::new();
        let (tx, rx) = mpsc::channel::<std::io::Result<DefaultRuntime>>();
        let token = stop.clone();
        let exited = CancellationToken::new();
        let on_exit = exited.clone().drop_guard();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // Dropped last, however the thread ends (a panic included).
                let _on_exit = on_exit;
                run_thread(flavor, token, tx);
            })
            .map_err(RuntimeThreadError::Io)?;
        match rx.recv() {
            Ok(Ok(runtime)) => Ok(RuntimeThread {
                runtime,
                flavor,
                stop,
                exited,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(RuntimeThreadError::Io(e))
            }
            Err(_) => {
                let _ = thread.join();
                Err(RuntimeThreadError::Io(std::io::Error::other(
                    "runtime thread exited during start",
                )))
            }
        }
    }

    /// The runtime running on the thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, thread::{RuntimeThread, ThreadFlavor}};
    ///
    /// let t = RuntimeThread::spawn("rt", ThreadFlavor::Virtual).unwrap();
    /// assert_eq!(t.runtime().name(), "virtual");
    /// ```
    #[must_use]
    pub fn runtime(&self) -> &DefaultRuntime {
        &self.runtime
    }

    /// The flavour of the runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::thread::{RuntimeThread, ThreadFlavor};
    ///
    /// let t = RuntimeThread::spawn("rt", ThreadFlavor::Virtual).unwrap();
    /// assert_eq!(t.flavor(), ThreadFlavor::Virtual);
    /// ```
    #[must_use]
    pub fn flavor(&self) -> ThreadFlavor {
        self.flavor
    }

    /// The thread's id, to recognise calls made from the thread itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::thread::{RuntimeThread, ThreadFlavor};
    ///
    /// let t = RuntimeThread::spawn("rt", ThreadFlavor::Virtual).unwrap();
    /// assert_ne!(t.thread_id(), std::thread::current().id());
    /// ```
    #[must_use]
    pub fn thread_id(&self) -> std::thread::ThreadId {
        self.thread
            .as_ref()
            .expect("the thread is joined only on stop")
            .thread()
            .id()
    }

    /// Cancels the tasks still on the runtime (the runtime is stopped, which drops them) and
    /// blocks until the thread is joined: api.md's `cancel`, for a plain thread.
    ///
    /// Called from the runtime thread itself, it only requests the stop (joining there would
    /// deadlock); the thread then exits on its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::thread::{RuntimeThread, ThreadFlavor};
    ///
    /// RuntimeThread::spawn("rt", ThreadFlavor::Virtual).unwrap().cancel_blocking();
    /// ```
    pub fn cancel_blocking(mut self) {
        self.stop_and_join();
    }

    /// Cancels the tasks still on the runtime (the runtime is stopped, which drops them) and
    /// returns a future that resolves once the thread has ended and is joined: api.md's
    /// `cancel`, the async form of [`cancel_blocking`](RuntimeThread::cancel_blocking), to
    /// await from any runtime without blocking it.
    ///
    /// The stop is requested at once, when this is called. The future waits for the thread's
    /// last step (its runtime and every task on it dropped) without blocking, then joins the
    /// thread, which by then only has to return.
    ///
    /// Awaited on the thread's own runtime it never resolves: the stop ends that runtime,
    /// which drops the awaiting task with the others.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not undo the stop, which was requested by the call: the
    /// thread ends on its own, unjoined.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::thread::{RuntimeThread, ThreadFlavor};
    ///
    /// let t = RuntimeThread::spawn("rt", ThreadFlavor::Virtual).unwrap();
    /// futures_lite::future::block_on(t.cancel());
    /// ```
    pub fn cancel(mut self) -> CancelThread {
        self.stop.cancel();
        let exited = self.exited.clone();
        let thread = self.thread.take();
        CancelThread {
            fut: Box::pin(async move {
                exited.cancelled().await;
                if let Some(thread) = thread {
                    // A panic on the runtime thread was already reported by the panic hook.
                    let _ = thread.join();
                }
            }),
        }
    }

    fn stop_and_join(&mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            // A panic on the runtime thread was already reported by the panic hook.
            let _ = thread.join();
        }
    }
}

/// Future returned by [`RuntimeThread::cancel`]: resolves once the thread has ended and is
/// joined.
///
/// # Cancel safety
///
/// Dropping it does not undo the stop: the thread ends on its own, unjoined.
#[must_use = "the stop is requested already; `.await` this to wait until the thread has ended"]
pub struct CancelThread {
    fut: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl fmt::Debug for CancelThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelThread").finish_non_exhaustive()
    }
}

impl Future for CancelThread {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        self.fut.as_mut().poll(cx)
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn run_thread(
    flavor: ThreadFlavor,
    stop: CancellationToken,
    tx: mpsc::Sender<std::io::Result<DefaultRuntime>>,
) {
    match flavor {
        #[cfg(feature = "runtime-tokio")]
        ThreadFlavor::TokioCurrentThread => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(Ok(DefaultRuntime::Tokio(
                crate::adapter::TokioRuntime::new(runtime.handle().clone()),
            )));
            runtime.block_on(stop.cancelled());
            // Dropping the runtime drops every task still on it; blocking work is not awaited.
            runtime.shutdown_background();
        }
        #[cfg(feature = "runtime-smol")]
        ThreadFlavor::Smol => {
            let ex = std::sync::Arc::new(async_executor::Executor::new());
            // The runtime handed out holds the executor weakly: this is its only owner, so
            // that tasks holding the runtime do not keep it (and themselves) alive.
            let _ = tx.send(Ok(DefaultRuntime::Smol(
                crate::adapter::SmolRuntime::for_thread(&ex),
            )));
            async_io::block_on(ex.run(stop.cancelled()));
            // Dropping the executor drops every task still on it (unless a spawn elsewhere
            // holds it for that instant: then that spawn's drop of it does).
            drop(ex);
        }
        ThreadFlavor::Virtual => {
            // Work arrives from other threads: when idle with no timer, wait for it instead of
            // reporting a stall.
            let rt = VirtualRuntime::builder().park_when_stalled(true).build();
            let _ = tx.send(Ok(DefaultRuntime::Virtual(rt.clone())));
            let _ = rt.try_block_on(stop.cancelled());
            rt.abort();
        }
        #[allow(unreachable_patterns)] // Flavours not compiled in are refused by `spawn`.
        _ => {}
    }
}

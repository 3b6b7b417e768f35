//! [`ThreadedPool`]: a task pool on a dedicated OS thread with its own runtime.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use wrangle_rt::{
    BoxError, DefaultRuntime, ErrorReporter, Runtime, Unhandled,
    thread::{RuntimeThread, RuntimeThreadError, ThreadFlavor},
};

use crate::future::Run;
use crate::loom::{Mutex, lock};
use crate::{PoolJoinHandle, SpawnError, TaskError, TaskPool, TaskPoolStats};

type HookFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;
type Init<C> = Box<dyn FnOnce() -> HookFuture<C> + Send>;
type Teardown<C> = Box<dyn FnOnce(Arc<C>) -> HookFuture<()> + Send>;

/// A [`TaskPool`] on a dedicated, named OS thread that runs its own runtime (Tokio
/// current-thread, smol, or virtual time: [`ThreadFlavor`]).
///
/// - An async **init hook** ([`ThreadedPoolBuilder::init`]) runs on that thread before any
///   task and builds a context `C` (objects that must be created on the pool's own runtime,
///   such as clients bound to its reactor); tasks get it through
///   [`spawn_with_context`](ThreadedPool::spawn_with_context). An async **teardown hook**
///   ([`ThreadedPoolBuilder::teardown`]) runs on the thread after the pool drained.
/// - A **blocking API** for sync code ([`run_blocking`](ThreadedPool::run_blocking),
///   [`spawn`](ThreadedPool::spawn) + [`PoolJoinHandle::join_blocking`]) and an **async API**
///   usable from any other runtime ([`run`](ThreadedPool::run), awaiting a handle).
/// - Size and per-task timeout as for [`TaskPool`]; [`stats`](ThreadedPool::stats) are the
///   inner pool's [`TaskPoolStats`] (the thread adds no counter of its own, so no
///   `ThreadedPoolStats`).
/// - [`shutdown`](ThreadedPool::shutdown) drains every task (or
///   [`cancel`](ThreadedPool::cancel) cancels the pending work and waits until it is gone),
///   runs the teardown, and ends the thread; both are futures to await from any other
///   runtime, and [`shutdown_blocking`](ThreadedPool::shutdown_blocking) and
///   [`cancel_blocking`](ThreadedPool::cancel_blocking) do the same for sync code, blocking
///   the calling thread. Hook errors are returned and reported, never lost.
/// - Dropping the pool cancels all work, skips the teardown hook and joins the thread.
///
/// # Examples
///
/// ```
/// use wrangle_pool::ThreadedPool;
///
/// let pool = ThreadedPool::builder().name("db").build().unwrap();
/// let thread = pool.run_blocking(async { std::thread::current().name().map(String::from) });
/// assert_eq!(thread.unwrap().as_deref(), Some("db"));
/// pool.shutdown_blocking().unwrap();
/// ```
pub struct ThreadedPool<C = ()> {
    pool: Option<TaskPool<DefaultRuntime>>,
    context: Arc<C>,
    // A `Mutex` keeps the pool `Sync` although the hook is only `Send`.
    teardown: Mutex<Option<Teardown<C>>>,
    reporter: ErrorReporter,
    thread: Option<RuntimeThread>,
}

impl<C> fmt::Debug for ThreadedPool<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadedPool")
            .field("thread", &self.thread)
            .field("pool", &self.pool)
            .finish()
    }
}

/// Configures a [`ThreadedPool`]; made by [`ThreadedPool::builder`]. `C` is the context the
/// [`init`](Self::init) hook builds (`()` without one).
pub struct ThreadedPoolBuilder<C = ()> {
    name: String,
    size: Option<NonZeroUsize>,
    timeout: Option<Duration>,
    flavor: ThreadFlavor,
    reporter: ErrorReporter,
    init: Init<C>,
    teardown: Option<Teardown<C>>,
}

impl<C> fmt::Debug for ThreadedPoolBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadedPoolBuilder")
            .field("name", &self.name)
            .field("size", &self.size)
            .field("timeout", &self.timeout)
            .field("flavor", &self.flavor)
            .field("teardown", &self.teardown.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a [`ThreadedPool`] could not start or stop cleanly.
#[derive(Debug)]
#[non_exhaustive]
pub enum ThreadedPoolError {
    /// The thread or its runtime could not start.
    Thread(RuntimeThreadError),
    /// The init hook failed (the thread was stopped again).
    Init(BoxError),
    /// The init hook panicked.
    InitPanicked(wrangle_rt::PanicPayload),
    /// The teardown hook failed or panicked (the thread was stopped anyway).
    Teardown(BoxError),
}

impl fmt::Display for ThreadedPoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadedPoolError::Thread(e) => fmt::Display::fmt(e, f),
            ThreadedPoolError::Init(e) => write!(f, "pool init hook failed: {e}"),
            ThreadedPoolError::InitPanicked(p) => write!(f, "pool init hook panicked: {p}"),
            ThreadedPoolError::Teardown(e) => write!(f, "pool teardown hook failed: {e}"),
        }
    }
}

impl std::error::Error for ThreadedPoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ThreadedPoolError::Thread(e) => Some(e),
            ThreadedPoolError::Init(e) | ThreadedPoolError::Teardown(e) => Some(&**e),
            ThreadedPoolError::InitPanicked(_) => None,
        }
    }
}

impl Default for ThreadedPoolBuilder {
    fn default() -> Self {
        ThreadedPoolBuilder {
            name: "wrangle-pool".into(),
            size: None,
            timeout: None,
            flavor: ThreadFlavor::default(),
            reporter: ErrorReporter::global(),
            init: Box::new(|| Box::pin(async { Ok(()) })),
            teardown: None,
        }
    }
}

impl ThreadedPoolBuilder {
    /// The init hook: runs on the pool's thread, on its runtime, before any task, and builds
    /// the context tasks get through [`ThreadedPool::spawn_with_context`]. [`build`](Self::build)
    /// blocks until it has finished. It is called inside a task on that runtime, so a panic,
    /// while it builds its future or while that runs, is caught and returned as
    /// [`ThreadedPoolError::InitPanicked`].
    ///
    /// Once per builder (it sets the context type). A teardown set before `init` is kept, and
    /// gets `()` as its context; set it after `init` to receive the new context.
    ///
    /// # Examples
    ///
    /// A client that must be made on the pool's own runtime, shared by every task and closed
    /// at the end:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use wrangle_pool::ThreadedPool;
    ///
    /// struct Client { thread: String, closed: Arc<AtomicBool> }
    ///
    /// let closed = Arc::new(AtomicBool::new(false));
    /// let pool = ThreadedPool::builder()
    ///     .name("client")
    ///     .init({
    ///         let closed = closed.clone();
    ///         move || async move {
    ///             let thread = std::thread::current().name().unwrap_or_default().to_owned();
    ///             Ok::<_, std::io::Error>(Client { thread, closed })
    ///         }
    ///     })
    ///     .teardown(|client: Arc<Client>| async move {
    ///         client.closed.store(true, Ordering::SeqCst);
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .build()
    ///     .unwrap();
    /// let made_on = pool
    ///     .run_blocking_with_context(|client| async move { client.thread.clone() })
    ///     .unwrap();
    /// assert_eq!(made_on, "client");
    /// pool.shutdown_blocking().unwrap();
    /// assert!(closed.load(Ordering::SeqCst));
    /// ```
    pub fn init<C2, I, IF, IE>(self, init: I) -> ThreadedPoolBuilder<C2>
    where
        C2: Send + Sync + 'static,
        I: FnOnce() -> IF + Send + 'static,
        IF: Future<Output = Result<C2, IE>> + Send + 'static,
        IE: Into<BoxError> + 'static,
    {
        let teardown = self
            .teardown
            .map(|old| -> Teardown<C2> { Box::new(move |_: Arc<C2>| old(Arc::new(()))) });
        ThreadedPoolBuilder {
            name: self.name,
            size: self.size,
            timeout: self.timeout,
            flavor: self.flavor,
            reporter: self.reporter,
            // Called inside the future, on the pool's runtime: a panic while `init` builds
            // its future is the task's, caught there.
            init: Box::new(move || Box::pin(async move { init().await.map_err(Into::into) })),
            teardown,
        }
    }
}

impl<C: Send + Sync + 'static> ThreadedPoolBuilder<C> {
    /// The thread's name (default `wrangle-pool`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// At most `size` tasks run at once (default: unbounded).
    pub fn size(mut self, size: NonZeroUsize) -> Self {
        self.size = Some(size);
        self
    }

    /// Per-task timeout, counted from each task's start.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The runtime the thread runs (default: Tokio if enabled, else smol, else virtual).
    pub fn flavor(mut self, flavor: ThreadFlavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Where failures of detached tasks and hook errors go.
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = reporter;
        self
    }

    /// The teardown hook: runs on the pool's thread with the context after the pool drained,
    /// at [`ThreadedPool::shutdown_blocking`] or [`ThreadedPool::cancel_blocking`] (not when
    /// the pool is dropped). Its error, or a panic, is returned as
    /// [`ThreadedPoolError::Teardown`] and reported. See [`init`](Self::init) for an example.
    pub fn teardown<T, TF, TE>(mut self, teardown: T) -> Self
    where
        T: FnOnce(Arc<C>) -> TF + Send + 'static,
        TF: Future<Output = Result<(), TE>> + Send + 'static,
        TE: Into<BoxError> + 'static,
    {
        self.teardown = Some(Box::new(move |c| {
            Box::pin(async move { teardown(c).await.map_err(Into::into) })
        }));
        self
    }

    /// Starts the thread, runs the init hook on it, and starts the pool. Blocks until the init
    /// hook has finished.
    ///
    /// # Errors
    ///
    /// [`ThreadedPoolError::Thread`] if the thread cannot start; [`ThreadedPoolError::Init`] or
    /// [`ThreadedPoolError::InitPanicked`] if the init hook fails (the thread is then
    /// stopped).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    /// use wrangle_pool::ThreadedPool;
    ///
    /// let pool = ThreadedPool::builder()
    ///     .name("workers")
    ///     .size(NonZeroUsize::new(4).unwrap())
    ///     .timeout(Duration::from_secs(30))
    ///     .flavor(wrangle_rt::thread::ThreadFlavor::Virtual)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.run_blocking(async { 1 + 1 }).unwrap(), 2);
    /// pool.shutdown_blocking().unwrap();
    /// ```
    pub fn build(self) -> Result<ThreadedPool<C>, ThreadedPoolError> {
        let thread =
            RuntimeThread::spawn(self.name, self.flavor).map_err(ThreadedPoolError::Thread)?;
        let rt = thread.runtime().clone();
        let init = self.init;
        let context = match futures_lite::future::block_on(rt.spawn(async move { init().await })) {
            Ok(Ok(c)) => Arc::new(c),
            Ok(Err(e)) => return Err(ThreadedPoolError::Init(e)),
            Err(wrangle_rt::JoinError::Panicked(p)) => {
                return Err(ThreadedPoolError::InitPanicked(p));
            }
            Err(e) => return Err(ThreadedPoolError::Init(Box::new(e))),
        };
        let mut b = TaskPool::builder().error_reporter(self.reporter.clone());
        if let Some(size) = self.size {
            b = b.size(size);
        }
        if let Some(timeout) = self.timeout {
            b = b.timeout(timeout);
        }
        Ok(ThreadedPool {
            pool: Some(b.runtime(rt).build()),
            context,
            teardown: Mutex::new(self.teardown),
            reporter: self.reporter,
            thread: Some(thread),
        })
    }
}

impl ThreadedPool<()> {
    /// A builder: name, size, timeout, flavour, error reporter, init and teardown hooks.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().name("x").build().unwrap();
    /// assert_eq!(pool.run_blocking(async { "on x" }).unwrap(), "on x");
    /// ```
    #[must_use]
    pub fn builder() -> ThreadedPoolBuilder {
        ThreadedPoolBuilder::default()
    }
}

impl<C: Send + Sync + 'static> ThreadedPool<C> {
    fn pool(&self) -> &TaskPool<DefaultRuntime> {
        self.pool
            .as_ref()
            .expect("the pool lives until shutdown, cancel or drop")
    }

    /// Submits `future` to run on the pool's thread; callable from any thread.
    ///
    /// # Errors
    ///
    /// [`SpawnError`] with the future if the pool is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().name("adder").build().unwrap();
    /// let h = pool.spawn(async { std::thread::current().name() == Some("adder") }).unwrap();
    /// assert!(h.join_blocking().unwrap());
    /// ```
    pub fn spawn<F>(&self, future: F) -> Result<PoolJoinHandle<F::Output>, SpawnError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.pool().spawn(future)
    }

    /// Submits `future` under a name, as [`spawn`](Self::spawn) does: the name goes to the
    /// task's `tracing` span (feature `tracing`), as for [`TaskPool::spawn_named`].
    ///
    /// # Errors
    ///
    /// [`SpawnError`] with the future if the pool is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// let user = 7;
    /// let h = pool.spawn_named(format!("load-user-{user}"), async move { user * 6 }).unwrap();
    /// assert_eq!(h.join_blocking().unwrap(), 42);
    /// ```
    pub fn spawn_named<F>(
        &self,
        name: impl Into<std::borrow::Cow<'static, str>>,
        future: F,
    ) -> Result<PoolJoinHandle<F::Output>, SpawnError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.pool().spawn_named(name, future)
    }

    /// Submits `future` to run detached on the pool's thread, from any thread: what
    /// `spawn(future)` followed by [`PoolJoinHandle::detach`] does, without making the handle
    /// (see [`TaskPool::spawn_detached`]). Its output is dropped; a timeout or a panic goes to
    /// the pool's error reporter. [`shutdown_blocking`](Self::shutdown_blocking) waits for it,
    /// [`cancel_blocking`](Self::cancel_blocking) and drop cancel it.
    ///
    /// # Errors
    ///
    /// [`SpawnError`] with the future if the pool is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..3 {
    ///     let done = done.clone();
    ///     pool.spawn_detached(async move { done.fetch_add(1, Ordering::SeqCst); }).unwrap();
    /// }
    /// pool.shutdown_blocking().unwrap();
    /// assert_eq!(done.load(Ordering::SeqCst), 3);
    /// ```
    pub fn spawn_detached<F>(&self, future: F) -> Result<(), SpawnError<F>>
    where
        F: Future + Send + 'static,
    {
        self.pool().spawn_detached(future)
    }

    /// Submits a task built from the pool's context. If `f` panics while it builds the task,
    /// the handle reports that panic (counted in `failed`), as for a panic of the task.
    ///
    /// # Errors
    ///
    /// [`TaskError::Closed`] if the pool is closed (the task `f` built is dropped unrun).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder()
    ///     .init(|| async { Ok::<_, std::io::Error>(40) })
    ///     .build()
    ///     .unwrap();
    /// let h = pool.spawn_with_context(|ctx| async move { *ctx + 2 }).unwrap();
    /// assert_eq!(h.join_blocking().unwrap(), 42);
    /// ```
    pub fn spawn_with_context<F, Fut>(&self, f: F) -> Result<PoolJoinHandle<Fut::Output>, TaskError>
    where
        F: FnOnce(Arc<C>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        // User code: a panic while it builds the future is the task's panic, reported by its
        // handle (and counted) like a panic while it runs.
        match catch_unwind(AssertUnwindSafe(|| f(self.context.clone()))) {
            Ok(fut) => self.pool().spawn(fut).map_err(|_| TaskError::Closed),
            Err(p) => self
                .pool()
                .spawn(resume::<Fut::Output>(p))
                .map_err(|_| TaskError::Closed),
        }
    }

    /// Submits `future` at once and returns a future of its output, to await from any
    /// runtime (or none: `futures_lite::future::block_on`).
    ///
    /// # Errors
    ///
    /// As [`TaskPool::run`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().name("other").build().unwrap();
    /// // Awaited on this thread's executor, run on the pool's thread.
    /// let out = futures_lite::future::block_on(pool.run(async {
    ///     std::thread::current().name().map(String::from)
    /// }));
    /// assert_eq!(out.unwrap().as_deref(), Some("other"));
    /// ```
    pub fn run<F>(&self, future: F) -> Run<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.pool().run(future)
    }

    /// Submits `future` and blocks the calling (non-async) thread until it ends.
    ///
    /// # Errors
    ///
    /// [`TaskError::WouldDeadlock`] if called on the pool's own thread; otherwise as
    /// [`TaskPool::run`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// let sum = pool.run_blocking(async { (1..=10).sum::<u32>() });
    /// assert_eq!(sum.unwrap(), 55);
    /// ```
    pub fn run_blocking<F>(&self, future: F) -> Result<F::Output, TaskError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.is_pool_thread() {
            return Err(TaskError::WouldDeadlock);
        }
        match self.spawn(future) {
            Ok(h) => h.join_blocking(),
            Err(_) => Err(TaskError::Closed),
        }
    }

    /// [`run_blocking`](ThreadedPool::run_blocking) with a task built from the context.
    ///
    /// # Errors
    ///
    /// As [`run_blocking`](ThreadedPool::run_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder()
    ///     .init(|| async { Ok::<_, std::io::Error>(2) })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.run_blocking_with_context(|n| async move { *n * 5 }).unwrap(), 10);
    /// ```
    pub fn run_blocking_with_context<F, Fut>(&self, f: F) -> Result<Fut::Output, TaskError>
    where
        F: FnOnce(Arc<C>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        if self.is_pool_thread() {
            return Err(TaskError::WouldDeadlock);
        }
        self.spawn_with_context(f)?.join_blocking()
    }

    fn is_pool_thread(&self) -> bool {
        self.thread
            .as_ref()
            .is_some_and(|t| t.thread_id() == std::thread::current().id())
    }

    /// Refuses new tasks from now on; queued and running tasks go on. Returns `true` if this
    /// call closed the pool. The thread keeps running until
    /// [`shutdown_blocking`](Self::shutdown_blocking), [`cancel_blocking`](Self::cancel_blocking)
    /// or drop.
    pub fn close(&self) -> bool {
        self.pool().close()
    }

    /// Returns `true` once [`close`](Self::close) was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.pool().is_closed()
    }

    /// The counters of the pool (see [`TaskPoolStats`] for their invariant).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// pool.run_blocking(async {}).unwrap();
    /// let h = pool.spawn(std::future::pending::<()>()).unwrap();
    /// assert!(futures_lite::future::block_on(h.cancel()).unwrap_err().is_cancelled());
    /// let s = pool.stats();
    /// assert_eq!((s.submitted, s.completed, s.cancelled, s.running), (2, 1, 1, 0));
    /// assert_eq!(s.finished(), s.submitted);
    /// ```
    #[must_use]
    pub fn stats(&self) -> TaskPoolStats {
        self.pool().stats()
    }

    /// The runtime of the pool's thread.
    #[must_use]
    pub fn runtime(&self) -> &DefaultRuntime {
        self.pool().runtime()
    }

    /// Closes the pool, waits until every task has ended, runs the teardown hook on the
    /// pool's thread, and joins the thread. Blocks the calling thread: the `*_blocking` form
    /// of [`TaskPool::shutdown`].
    ///
    /// # Errors
    ///
    /// [`ThreadedPoolError::Teardown`] if the teardown hook failed or panicked (also reported
    /// to the error reporter); the thread is stopped either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..3 {
    ///     let done = done.clone();
    ///     pool.spawn(async move { done.fetch_add(1, Ordering::SeqCst); }).unwrap().detach();
    /// }
    /// pool.shutdown_blocking().unwrap();
    /// // Every detached task ran before the thread was joined.
    /// assert_eq!(done.load(Ordering::SeqCst), 3);
    /// ```
    pub fn shutdown_blocking(self) -> Result<(), ThreadedPoolError> {
        self.finish(false)
    }

    /// Cancels every queued and running task and waits until they are gone, then runs the
    /// teardown hook and joins the thread. Blocks the calling thread: the `*_blocking` form
    /// of api.md's `cancel` (cancel, and wait).
    ///
    /// # Errors
    ///
    /// As [`shutdown_blocking`](ThreadedPool::shutdown_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// let h = pool.spawn(std::future::pending::<()>()).unwrap();
    /// pool.cancel_blocking().unwrap();
    /// assert!(h.join_blocking().unwrap_err().is_cancelled());
    /// ```
    pub fn cancel_blocking(self) -> Result<(), ThreadedPoolError> {
        self.finish(true)
    }

    /// Closes the pool, waits until every queued and running task has finished, runs the
    /// teardown hook, and ends the thread: [`shutdown_blocking`](ThreadedPool::shutdown_blocking)
    /// as a future, to await from any runtime (another runtime's task, a `block_on`) without
    /// blocking its thread. api.md's `shutdown`.
    ///
    /// Not for a task of this pool: it would wait for itself to finish.
    ///
    /// # Errors
    ///
    /// As [`shutdown_blocking`](ThreadedPool::shutdown_blocking).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it resolves does what dropping the pool does: what is left
    /// is cancelled, the teardown hook is skipped (or cancelled, if it was running), and the thread is
    /// stopped and joined (blocking, as the pool's drop).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..3 {
    ///     let done = done.clone();
    ///     pool.spawn_detached(async move { done.fetch_add(1, Ordering::SeqCst); }).unwrap();
    /// }
    /// // Awaited from another runtime: here a plain `block_on` on this thread.
    /// futures_lite::future::block_on(pool.shutdown()).unwrap();
    /// assert_eq!(done.load(Ordering::SeqCst), 3);
    /// ```
    pub fn shutdown(self) -> ThreadedShutdown {
        ThreadedShutdown {
            fut: Box::pin(self.into_parts().finish_async(false)),
        }
    }

    /// Cancels every queued and running task, waits until they are gone, runs the teardown
    /// hook, and ends the thread: [`cancel_blocking`](ThreadedPool::cancel_blocking) as a
    /// future, to await from any runtime without blocking its thread. api.md's `cancel`.
    ///
    /// # Errors
    ///
    /// As [`shutdown_blocking`](ThreadedPool::shutdown_blocking).
    ///
    /// # Cancel safety
    ///
    /// As [`shutdown`](ThreadedPool::shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// let h = pool.spawn(std::future::pending::<()>()).unwrap();
    /// futures_lite::future::block_on(async {
    ///     pool.cancel().await.unwrap();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn cancel(self) -> ThreadedCancel {
        ThreadedCancel {
            fut: Box::pin(self.into_parts().finish_async(true)),
        }
    }

    fn finish(self, cancel: bool) -> Result<(), ThreadedPoolError> {
        let mut parts = self.into_parts();
        let result = futures_lite::future::block_on(parts.drain_and_teardown(cancel));
        if let Some(thread) = parts.thread.take() {
            thread.cancel_blocking();
        }
        result
    }

    /// Takes the pool apart for a shutdown (the pool's own `Drop` then has nothing to do).
    fn into_parts(mut self) -> Parts<C> {
        Parts {
            pool: self.pool.take(),
            context: self.context.clone(),
            teardown: lock(&self.teardown).take(),
            reporter: self.reporter.clone(),
            thread: self.thread.take(),
        }
    }
}

/// What a shutdown works through, owned by it: dropped midway (an async shutdown dropped),
/// the pool cancels what is left and then the thread is stopped and joined, as when the
/// `ThreadedPool` itself is dropped (fields drop in declaration order: `pool` before
/// `thread`).
struct Parts<C> {
    pool: Option<TaskPool<DefaultRuntime>>,
    context: Arc<C>,
    teardown: Option<Teardown<C>>,
    reporter: ErrorReporter,
    thread: Option<RuntimeThread>,
}

impl<C: Send + Sync + 'static> Parts<C> {
    /// Drains (or cancels) the pool, then runs the teardown hook on the pool's thread.
    async fn drain_and_teardown(&mut self, cancel: bool) -> Result<(), ThreadedPoolError> {
        // Left in `self` while it drains: dropped midway, `Parts` drops it before the thread.
        let pool = self
            .pool
            .as_ref()
            .expect("the pool lives until shutdown, cancel or drop");
        let rt = pool.runtime().clone();
        if cancel {
            let _ = pool.shutdown_timeout(Duration::ZERO).await;
        } else {
            pool.shutdown().await;
        }
        drop(self.pool.take());
        let Some(teardown) = self.teardown.take() else {
            return Ok(());
        };
        let context = self.context.clone();
        // Called inside the task: a panic of the hook, while it builds its future or while
        // that runs, is the task's, caught and reported as a teardown failure.
        let outcome = rt.spawn(async move { teardown(context).await }).await;
        let err: Option<BoxError> = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(e) => Some(Box::new(e)),
        };
        match err {
            None => Ok(()),
            Some(e) => {
                self.reporter.report(Unhandled::new(
                    "wrangle_pool::ThreadedPool teardown",
                    e.to_string(),
                ));
                Err(ThreadedPoolError::Teardown(e))
            }
        }
    }

    /// The whole shutdown, the thread's end awaited instead of blocked on.
    async fn finish_async(mut self, cancel: bool) -> Result<(), ThreadedPoolError> {
        let result = self.drain_and_teardown(cancel).await;
        if let Some(thread) = self.thread.take() {
            thread.cancel().await;
        }
        result
    }
}

/// Future returned by [`ThreadedPool::shutdown`]: resolves once every task has finished, the
/// teardown hook has run and the pool's thread has ended.
///
/// # Cancel safety
///
/// Dropping it before it resolves cancels what is left, as dropping the pool does.
#[must_use = "the pool is shut down only while this is polled; `.await` it"]
pub struct ThreadedShutdown {
    fut: Pin<Box<dyn Future<Output = Result<(), ThreadedPoolError>> + Send>>,
}

/// Future returned by [`ThreadedPool::cancel`]: resolves once every task is gone, the
/// teardown hook has run and the pool's thread has ended.
///
/// # Cancel safety
///
/// Dropping it before it resolves stops the thread at once, as dropping the pool does.
#[must_use = "`.await` this to wait until the tasks and the thread are gone"]
pub struct ThreadedCancel {
    fut: Pin<Box<dyn Future<Output = Result<(), ThreadedPoolError>> + Send>>,
}

impl fmt::Debug for ThreadedShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadedShutdown").finish_non_exhaustive()
    }
}

impl fmt::Debug for ThreadedCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadedCancel").finish_non_exhaustive()
    }
}

impl Future for ThreadedShutdown {
    type Output = Result<(), ThreadedPoolError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.fut.as_mut().poll(cx)
    }
}

impl Future for ThreadedCancel {
    type Output = Result<(), ThreadedPoolError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.fut.as_mut().poll(cx)
    }
}

impl<C> Drop for ThreadedPool<C> {
    fn drop(&mut self) {
        // Cancel all work first, then stop and join the thread (whose stop drops every task
        // still on its runtime, the cancelled workers among them).
        drop(self.pool.take());
        drop(self.thread.take());
    }
}

/// A future that resumes a caught panic when polled, so that it is handled where a panic of
/// the task itself would be.
async fn resume<T>(p: Box<dyn std::any::Any + Send>) -> T {
    std::panic::resume_unwind(p)
}

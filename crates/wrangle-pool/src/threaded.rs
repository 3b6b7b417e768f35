//! [`ThreadedPool`]: a task pool on a dedicated OS thread with its own runtime.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use wrangle_rt::{
    BoxError, DefaultRuntime, ErrorReporter, Runtime, Unhandled,
    thread::{RuntimeThread, RuntimeThreadError, ThreadFlavor},
};

use crate::{PoolHandle, PoolStats, SpawnError, TaskError, TaskPool};

type Teardown<C> =
    Box<dyn FnOnce(Arc<C>) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> + Send>;

/// A [`TaskPool`] on a dedicated, named OS thread that runs its own runtime (Tokio
/// current-thread, smol, or virtual time: [`ThreadFlavor`]).
///
/// - An async **init hook** runs on that thread before any task and builds a context `C`
///   (objects that must be created on the pool's own runtime, such as clients bound to its
///   reactor); tasks get it through [`spawn_with`](ThreadedPool::spawn_with). An async
///   **teardown hook** runs on the thread after the pool drained.
/// - A **blocking API** for sync code ([`run_blocking`](ThreadedPool::run_blocking),
///   [`spawn`](ThreadedPool::spawn) + [`PoolHandle::join_blocking`]) and an **async API**
///   usable from any other runtime ([`run`](ThreadedPool::run), awaiting a handle).
/// - Size and per-task timeout as for [`TaskPool`].
/// - [`stop`](ThreadedPool::stop) drains every task (or [`stop_now`](ThreadedPool::stop_now)
///   cancels pending work), runs the teardown, and joins the thread. Hook errors are returned
///   and reported, never lost.
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
/// pool.stop().unwrap();
/// ```
pub struct ThreadedPool<C = ()> {
    pool: Option<TaskPool<DefaultRuntime>>,
    context: Arc<C>,
    // A `Mutex` keeps the pool `Sync` although the hook is only `Send`.
    teardown: std::sync::Mutex<Option<Teardown<C>>>,
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

/// Configures a [`ThreadedPool`]; made by [`ThreadedPool::builder`].
#[derive(Debug, Clone)]
pub struct ThreadedPoolBuilder {
    name: String,
    size: Option<NonZeroUsize>,
    timeout: Option<Duration>,
    flavor: ThreadFlavor,
    reporter: ErrorReporter,
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
        }
    }
}

impl ThreadedPoolBuilder {
    /// The thread's name (default `wrangle-pool`).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = wrangle_pool::ThreadedPool::builder().name("io");
    /// # drop(b);
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// At most `size` tasks run at once (default: unbounded).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = wrangle_pool::ThreadedPool::builder().size(std::num::NonZeroUsize::new(2).unwrap());
    /// # drop(b);
    /// ```
    pub fn size(mut self, size: NonZeroUsize) -> Self {
        self.size = Some(size);
        self
    }

    /// Per-task timeout, counted from each task's start.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = wrangle_pool::ThreadedPool::builder().timeout(std::time::Duration::from_secs(1));
    /// # drop(b);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The runtime the thread runs (default: Tokio if enabled, else smol, else virtual).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = wrangle_pool::ThreadedPool::builder().flavor(wrangle_rt::thread::ThreadFlavor::Virtual);
    /// # drop(b);
    /// ```
    pub fn flavor(mut self, flavor: ThreadFlavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Where failures of detached tasks and hook errors go.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = wrangle_pool::ThreadedPool::builder().error_reporter(wrangle_rt::ErrorReporter::global());
    /// # drop(b);
    /// ```
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = reporter;
        self
    }

    /// Starts the thread and the pool, with no hooks.
    ///
    /// # Errors
    ///
    /// [`ThreadedPoolError::Thread`] if the thread or its runtime cannot start.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// pool.stop().unwrap();
    /// ```
    pub fn build(self) -> Result<ThreadedPool<()>, ThreadedPoolError> {
        self.build_with(
            || async { Ok::<(), BoxError>(()) },
            |_| async { Ok::<(), BoxError>(()) },
        )
    }

    /// Starts the thread, runs `init` on it to build the context, and keeps `teardown` to run
    /// on it at [`stop`](ThreadedPool::stop). Blocks until `init` has finished.
    ///
    /// # Errors
    ///
    /// [`ThreadedPoolError::Thread`] if the thread cannot start; [`ThreadedPoolError::Init`] or
    /// [`ThreadedPoolError::InitPanicked`] if `init` fails (the thread is then stopped).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wrangle_pool::ThreadedPool;
    ///
    /// let pool = ThreadedPool::builder()
    ///     .build_with(
    ///         || async { Ok::<_, std::io::Error>(String::from("connection")) },
    ///         |conn: Arc<String>| async move { drop(conn); Ok::<_, std::io::Error>(()) },
    ///     )
    ///     .unwrap();
    /// let len = pool.run_blocking_with(|conn| async move { conn.len() }).unwrap();
    /// assert_eq!(len, 10);
    /// pool.stop().unwrap();
    /// ```
    pub fn build_with<C, I, IF, IE, T, TF, TE>(
        self,
        init: I,
        teardown: T,
    ) -> Result<ThreadedPool<C>, ThreadedPoolError>
    where
        C: Send + Sync + 'static,
        I: FnOnce() -> IF + Send + 'static,
        IF: Future<Output = Result<C, IE>> + Send + 'static,
        IE: Into<BoxError> + Send + 'static,
        T: FnOnce(Arc<C>) -> TF + Send + 'static,
        TF: Future<Output = Result<(), TE>> + Send + 'static,
        TE: Into<BoxError> + 'static,
    {
        let thread =
            RuntimeThread::spawn(self.name, self.flavor).map_err(ThreadedPoolError::Thread)?;
        let rt = thread.runtime().clone();
        let context = match futures_lite::future::block_on(
            rt.spawn(async move { init().await.map_err(Into::into) }),
        ) {
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
        let teardown: Teardown<C> =
            Box::new(move |c| Box::pin(async move { teardown(c).await.map_err(Into::into) }));
        Ok(ThreadedPool {
            pool: Some(b.build_with_runtime(rt)),
            context,
            teardown: std::sync::Mutex::new(Some(teardown)),
            reporter: self.reporter,
            thread: Some(thread),
        })
    }
}

impl ThreadedPool<()> {
    /// A builder: name, size, timeout, flavour, hooks.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().name("x").build().unwrap();
    /// # drop(pool);
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
            .expect("the pool lives until stop or drop")
    }

    /// Submits `future` to run on the pool's thread; callable from any thread.
    ///
    /// # Errors
    ///
    /// [`SpawnError`] with the future if the pool is stopping.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// let h = pool.spawn(async { 1 + 1 }).unwrap();
    /// assert_eq!(h.join_blocking().unwrap(), 2);
    /// ```
    pub fn spawn<F>(&self, future: F) -> Result<PoolHandle<F::Output>, SpawnError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.pool().spawn(future)
    }

    /// Submits a task built from the pool's context. If `f` panics while it builds the task,
    /// the handle reports that panic (counted in `panicked`), as for a panic of the task.
    ///
    /// # Errors
    ///
    /// [`TaskError::Closed`] if the pool is stopping (the closure is dropped unused).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder()
    ///     .build_with(|| async { Ok::<_, std::io::Error>(40) }, |_| async { Ok::<_, std::io::Error>(()) })
    ///     .unwrap();
    /// let h = pool.spawn_with(|ctx| async move { *ctx + 2 }).unwrap();
    /// assert_eq!(h.join_blocking().unwrap(), 42);
    /// ```
    pub fn spawn_with<F, Fut>(&self, f: F) -> Result<PoolHandle<Fut::Output>, TaskError>
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

    /// Submits `future` and waits for it asynchronously, from any runtime.
    ///
    /// # Errors
    ///
    /// As [`TaskPool::run`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// let out = futures_lite::future::block_on(pool.run(async { 9 }));
    /// assert_eq!(out.unwrap(), 9);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the task.
    pub async fn run<F>(&self, future: F) -> Result<F::Output, TaskError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.pool().run(future).await
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
    /// assert_eq!(pool.run_blocking(async { 3 }).unwrap(), 3);
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
    ///     .build_with(|| async { Ok::<_, std::io::Error>(2) }, |_| async { Ok::<_, std::io::Error>(()) })
    ///     .unwrap();
    /// assert_eq!(pool.run_blocking_with(|n| async move { *n * 5 }).unwrap(), 10);
    /// ```
    pub fn run_blocking_with<F, Fut>(&self, f: F) -> Result<Fut::Output, TaskError>
    where
        F: FnOnce(Arc<C>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        if self.is_pool_thread() {
            return Err(TaskError::WouldDeadlock);
        }
        self.spawn_with(f)?.join_blocking()
    }

    fn is_pool_thread(&self) -> bool {
        self.thread
            .as_ref()
            .is_some_and(|t| t.thread_id() == std::thread::current().id())
    }

    /// The counters of the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// pool.run_blocking(async {}).unwrap();
    /// assert_eq!(pool.stats().completed, 1);
    /// ```
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        self.pool().stats()
    }

    /// The runtime of the pool's thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::Runtime;
    /// let pool = wrangle_pool::ThreadedPool::builder().flavor(wrangle_rt::thread::ThreadFlavor::Virtual).build().unwrap();
    /// assert_eq!(pool.runtime().name(), "virtual");
    /// ```
    #[must_use]
    pub fn runtime(&self) -> &DefaultRuntime {
        self.pool().runtime()
    }

    /// Drains every task, runs the teardown hook on the pool's thread, and joins the thread.
    /// Blocks the calling thread.
    ///
    /// # Errors
    ///
    /// [`ThreadedPoolError::Teardown`] if the teardown hook failed or panicked (also reported
    /// to the error handler); the thread is stopped either way.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// pool.spawn(async {}).unwrap().detach();
    /// pool.stop().unwrap();
    /// ```
    pub fn stop(self) -> Result<(), ThreadedPoolError> {
        self.finish(false)
    }

    /// Cancels every queued and running task, runs the teardown hook, and joins the thread.
    ///
    /// # Errors
    ///
    /// As [`stop`](ThreadedPool::stop).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = wrangle_pool::ThreadedPool::builder().build().unwrap();
    /// let h = pool.spawn(std::future::pending::<()>()).unwrap();
    /// pool.stop_now().unwrap();
    /// assert!(h.join_blocking().unwrap_err().is_cancelled());
    /// ```
    pub fn stop_now(self) -> Result<(), ThreadedPoolError> {
        self.finish(true)
    }

    fn finish(mut self, cancel: bool) -> Result<(), ThreadedPoolError> {
        let pool = self.pool.take().expect("the pool lives until stop or drop");
        let rt = pool.runtime().clone();
        if cancel {
            let _ = futures_lite::future::block_on(pool.shutdown_timeout(Duration::ZERO));
        } else {
            futures_lite::future::block_on(pool.shutdown());
        }
        drop(pool);
        let mut result = Ok(());
        let teardown = self
            .teardown
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(teardown) = teardown {
            let context = self.context.clone();
            // Called inside the task: a panic of the hook, while it builds its future or while
            // that runs, is the task's, caught and reported as a teardown failure.
            let outcome =
                futures_lite::future::block_on(rt.spawn(async move { teardown(context).await }));
            let err: Option<BoxError> = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(e) => Some(Box::new(e)),
            };
            if let Some(e) = err {
                self.reporter.report(Unhandled::new(
                    "wrangle_pool::ThreadedPool teardown",
                    e.to_string(),
                ));
                result = Err(ThreadedPoolError::Teardown(e));
            }
        }
        if let Some(thread) = self.thread.take() {
            thread.cancel_blocking();
        }
        result
    }
}

impl<C> Drop for ThreadedPool<C> {
    fn drop(&mut self) {
        // Cancel all work first, then stop and join the thread.
        drop(self.pool.take());
        drop(self.thread.take());
    }
}

/// A future that resumes a caught panic when polled, so that it is handled where a panic of
/// the task itself would be.
async fn resume<T>(p: Box<dyn std::any::Any + Send>) -> T {
    std::panic::resume_unwind(p)
}

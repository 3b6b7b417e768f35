//! [`ExitStack`] and [`defer`]: async cleanups run in reverse order on exit, error or
//! cancellation.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::FutureExt;
use wrangle_rt::{BoxError, DefaultRuntime, ErrorReporter, Runtime, Unhandled};

use crate::sync::{Mutex, lock};
use crate::{TaskOutput, TaskPanicked};

const ORIGIN: &str = "wrangle_task::ExitStack";

type Cleanup = Pin<Box<dyn Future<Output = Option<BoxError>> + Send>>;

/// An async cleanup stack: Rust has no async drop, so register async cleanups here and they run
/// in **reverse order** when the stack is [closed](ExitStack::close), every one of them, with
/// every error reported.
///
/// The stack is a cheap handle (`Clone`, `Send`, `Sync`). If the last handle is dropped with
/// cleanups still registered (the task owning it was cancelled), they are spawned on the
/// stack's runtime, still in reverse order, and their errors go to its error reporter.
/// [`defer`] wraps a body in a stack that is closed on every exit path.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::ExitStack;
///
/// let rt = VirtualRuntime::new();
/// let log = Arc::new(Mutex::new(Vec::new()));
/// rt.block_on(async {
///     let stack = ExitStack::with_runtime(rt.clone());
///     for i in 1..=3 {
///         let log = log.clone();
///         stack.push(async move { log.lock().unwrap().push(i) });
///     }
///     stack.close().await.unwrap();
/// });
/// assert_eq!(*log.lock().unwrap(), [3, 2, 1]);
/// ```
pub struct ExitStack<R: Runtime = DefaultRuntime> {
    inner: Arc<Inner<R>>,
}

struct Inner<R: Runtime> {
    rt: R,
    reporter: ErrorReporter,
    cleanups: Mutex<Vec<Cleanup>>,
}

impl<R: Runtime> Clone for ExitStack<R> {
    fn clone(&self) -> Self {
        ExitStack {
            inner: self.inner.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for ExitStack<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExitStack")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl ExitStack {
    /// An empty stack on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async { assert!(wrangle_task::ExitStack::new().is_empty()) });
    /// ```
    ///
    /// # Panics
    ///
    /// Like [`DefaultRuntime::current`].
    #[must_use]
    pub fn new() -> Self {
        ExitStack::with_runtime(DefaultRuntime::current())
    }
}

impl Default for ExitStack {
    fn default() -> Self {
        ExitStack::new()
    }
}

impl<R: Runtime> ExitStack<R> {
    /// An empty stack; cleanups left when the last handle is dropped run on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// assert_eq!(wrangle_task::ExitStack::with_runtime(rt).len(), 0);
    /// ```
    pub fn with_runtime(rt: R) -> Self {
        ExitStack {
            inner: Arc::new(Inner {
                rt,
                reporter: ErrorReporter::global(),
                cleanups: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sends errors of cleanups that run after the last handle was dropped to `reporter`
    /// (default: the process-wide handler). Call it before cloning the stack.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{ErrorReporter, VirtualRuntime};
    /// use wrangle_task::ExitStack;
    ///
    /// let stack = ExitStack::with_runtime(VirtualRuntime::new())
    ///     .error_reporter(ErrorReporter::new(|_u: wrangle_rt::Unhandled| {}));
    /// assert!(stack.is_empty());
    /// ```
    pub fn error_reporter(self, reporter: ErrorReporter) -> Self {
        let cleanups = std::mem::take(&mut *lock(&self.inner.cleanups));
        ExitStack {
            inner: Arc::new(Inner {
                rt: self.inner.rt.clone(),
                reporter,
                cleanups: Mutex::new(cleanups),
            }),
        }
    }

    /// Registers an async cleanup (a future, run at exit); it may return `()` or a `Result`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::ExitStack;
    ///
    /// let rt = VirtualRuntime::new();
    /// let stack = ExitStack::with_runtime(rt.clone());
    /// stack.push(async { Err::<(), _>("close failed") });
    /// let errors = rt.block_on(stack.close()).unwrap_err();
    /// assert_eq!(errors.errors()[0].to_string(), "close failed");
    /// ```
    pub fn push<F>(&self, cleanup: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        lock(&self.inner.cleanups).push(Box::pin(async move { cleanup.await.into_error() }));
    }

    /// The number of cleanups registered and not yet run.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = wrangle_task::ExitStack::with_runtime(wrangle_rt::VirtualRuntime::new());
    /// stack.push(async {});
    /// assert_eq!(stack.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.inner.cleanups).len()
    }

    /// Returns `true` if no cleanup is registered.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = wrangle_task::ExitStack::with_runtime(wrangle_rt::VirtualRuntime::new());
    /// assert!(stack.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs every registered cleanup, last registered first, one at a time; a failing or
    /// panicking cleanup does not stop the others. Cleanups registered while closing run too.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::ExitStack;
    ///
    /// let rt = VirtualRuntime::new();
    /// let stack = ExitStack::with_runtime(rt.clone());
    /// stack.push(async {});
    /// assert!(rt.block_on(stack.close()).is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// [`CleanupErrors`] with every cleanup error (and panic), in the order they happened.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the cleanup running at that moment; the ones not yet run stay
    /// registered (and run on the runtime when the last handle is dropped).
    pub fn close(&self) -> Close {
        let inner = self.inner.clone();
        Close {
            inner: Box::pin(async move {
                let mut errors = Vec::new();
                loop {
                    let next = lock(&inner.cleanups).pop();
                    let Some(cleanup) = next else { break };
                    if let Some(e) = run_one(cleanup).await {
                        errors.push(e);
                    }
                }
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(CleanupErrors { errors })
                }
            }),
        }
    }
}

async fn run_one(cleanup: Cleanup) -> Option<BoxError> {
    match AssertUnwindSafe(cleanup).catch_unwind().await {
        Ok(e) => e,
        Err(p) => Some(Box::new(TaskPanicked::new(crate::panic::payload(p)))),
    }
}

impl<R: Runtime> Drop for Inner<R> {
    fn drop(&mut self) {
        let cleanups = std::mem::take(&mut *lock(&self.cleanups));
        if cleanups.is_empty() {
            return;
        }
        let reporter = self.reporter.clone();
        self.rt
            .spawn(async move {
                for cleanup in cleanups.into_iter().rev() {
                    if let Some(e) = run_one(cleanup).await {
                        reporter.report(Unhandled::new(ORIGIN, e));
                    }
                }
            })
            .detach();
    }
}

/// The future of [`ExitStack::close`].
///
/// # Cancel safety
///
/// Dropping it drops the cleanup running at that moment; the others stay registered.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Close {
    inner: Pin<Box<dyn Future<Output = Result<(), CleanupErrors>> + Send>>,
}

impl fmt::Debug for Close {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Close").finish_non_exhaustive()
    }
}

impl Future for Close {
    type Output = Result<(), CleanupErrors>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// Every error of the cleanups of an [`ExitStack`], in the order they happened.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::ExitStack;
///
/// let rt = VirtualRuntime::new();
/// let stack = ExitStack::with_runtime(rt.clone());
/// stack.push(async { Err::<(), _>("first registered") });
/// stack.push(async { Err::<(), _>("last registered") });
/// let e = rt.block_on(stack.close()).unwrap_err();
/// assert_eq!(e.to_string(), "2 cleanups failed, the first: last registered");
/// ```
#[derive(Debug)]
pub struct CleanupErrors {
    errors: Vec<BoxError>,
}

impl CleanupErrors {
    /// The errors, in the order the cleanups ran.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::ExitStack;
    ///
    /// let rt = VirtualRuntime::new();
    /// let stack = ExitStack::with_runtime(rt.clone());
    /// stack.push(async { Err::<(), _>("x") });
    /// assert_eq!(rt.block_on(stack.close()).unwrap_err().errors().len(), 1);
    /// ```
    pub fn errors(&self) -> &[BoxError] {
        &self.errors
    }

    /// Unwraps the errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::ExitStack;
    ///
    /// let rt = VirtualRuntime::new();
    /// let stack = ExitStack::with_runtime(rt.clone());
    /// stack.push(async { Err::<(), _>("y") });
    /// let errors = rt.block_on(stack.close()).unwrap_err().into_errors();
    /// assert_eq!(errors[0].to_string(), "y");
    /// ```
    pub fn into_errors(self) -> Vec<BoxError> {
        self.errors
    }
}

impl fmt::Display for CleanupErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.as_slice() {
            [one] => write!(f, "a cleanup failed: {one}"),
            [first, ..] => write!(
                f,
                "{} cleanups failed, the first: {first}",
                self.errors.len()
            ),
            [] => f.write_str("no cleanup failed"),
        }
    }
}

impl std::error::Error for CleanupErrors {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors.first().map(|e| &**e as _)
    }
}

/// Runs `body` with a fresh [`ExitStack`] on [`DefaultRuntime::current`], then closes the
/// stack, whether the body returned normally or with an error; if the `defer` future is dropped
/// (cancelled), the cleanups run on the runtime instead.
///
/// Resolves to the body's output, or to a [`DeferError`] carrying both the output and every
/// cleanup error.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let out = rt.block_on(wrangle_task::defer(|stack| {
///     let log = log.clone();
///     async move {
///         for i in 1..=2 {
///             let log = log.clone();
///             log.lock().unwrap().push(i);
///             stack.push(async move { log.lock().unwrap().push(i) });
///         }
///         Err::<(), _>("the body failed")
///     }
/// }));
/// assert_eq!(out.unwrap(), Err("the body failed"));
/// assert_eq!(*log.lock().unwrap(), [1, 2, 2, 1]);
/// ```
///
/// # Panics
///
/// Like [`DefaultRuntime::current`].
///
/// # Cancel safety
///
/// Dropping the future drops the body; the registered cleanups then run on the runtime, in
/// reverse order, with errors sent to the process-wide handler.
pub fn defer<F, Fut>(body: F) -> Defer<Fut::Output>
where
    F: FnOnce(ExitStack) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    defer_with_runtime(DefaultRuntime::current(), body)
}

/// [`defer`] on a given runtime.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let v = rt.block_on(wrangle_task::defer_with_runtime(rt.clone(), |_stack| async { 3 }));
/// assert_eq!(v.unwrap(), 3);
/// ```
///
/// # Cancel safety
///
/// As for [`defer`].
pub fn defer_with_runtime<R, F, Fut>(rt: R, body: F) -> Defer<Fut::Output>
where
    R: Runtime,
    F: FnOnce(ExitStack<R>) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let stack = ExitStack::with_runtime(rt);
    let fut = body(stack.clone());
    Defer {
        inner: Box::pin(async move {
            let out = fut.await;
            match stack.close().await {
                Ok(()) => Ok(out),
                Err(errors) => Err(DeferError {
                    output: out,
                    errors,
                }),
            }
        }),
    }
}

/// The future of [`defer`].
///
/// # Cancel safety
///
/// Dropping it drops the body; the cleanups then run on the runtime.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Defer<T> {
    inner: Pin<Box<dyn Future<Output = Result<T, DeferError<T>>> + Send>>,
}

impl<T> fmt::Debug for Defer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Defer").finish_non_exhaustive()
    }
}

impl<T> Future for Defer<T> {
    type Output = Result<T, DeferError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// Cleanups of a [`defer`] failed; the body's output is handed back with the errors.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let e = rt
///     .block_on(wrangle_task::defer_with_runtime(rt.clone(), |stack| async move {
///         stack.push(async { Err::<(), _>("cleanup") });
///         "output"
///     }))
///     .unwrap_err();
/// assert_eq!(e.output, "output");
/// assert_eq!(e.errors.errors().len(), 1);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct DeferError<T> {
    /// What the body returned.
    pub output: T,
    /// Every cleanup error.
    pub errors: CleanupErrors,
}

impl<T> fmt::Display for DeferError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.errors, f)
    }
}

impl<T: fmt::Debug> std::error::Error for DeferError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.errors)
    }
}

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

use crate::loom::{Mutex, lock};
use wrangle_rt::TaskOutput;

const ORIGIN: &str = "wrangle_task::ExitStack";

type Cleanup = Pin<Box<dyn Future<Output = Option<BoxError>> + Send>>;

/// An async cleanup stack: Rust has no async drop, so register async cleanups here and they run
/// in **reverse order** when the stack is [unwound](ExitStack::unwind), every one of them, with
/// every error reported.
///
/// The stack is a cheap handle (`Clone`, `Send`, `Sync`). If the last handle is dropped with
/// cleanups still registered (the task owning it was cancelled), they are spawned on the
/// stack's runtime, still in reverse order, and their errors go to its error reporter.
/// [`defer`] wraps a body in a stack that is unwound on every exit path.
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
///     stack.unwind().await.unwrap();
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
    /// let errors = rt.block_on(stack.unwind()).unwrap_err();
    /// assert_eq!(errors.errors()[0].to_string(), "close failed");
    /// ```
    pub fn push<F>(&self, cleanup: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        lock(&self.inner.cleanups).push(Box::pin(async move { cleanup.await.into_result().err() }));
    }

    /// The number of cleanups registered and not yet run.
    pub fn len(&self) -> usize {
        lock(&self.inner.cleanups).len()
    }

    /// Returns `true` if no cleanup is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs every registered cleanup now, last registered first, one at a time; a failing or
    /// panicking cleanup does not stop the others. Cleanups registered while unwinding run too.
    ///
    /// The stack stays usable afterwards (new cleanups may be pushed and unwound later), so
    /// this is not a lifecycle `close`/`shutdown`: it is the stack's own operation, Python's
    /// `AsyncExitStack.aclose`.
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
    /// assert!(rt.block_on(stack.unwind()).is_ok());
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
    pub fn unwind(&self) -> Unwind {
        let inner = self.inner.clone();
        Unwind {
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
                    Err(CleanupErrors { errors, output: () })
                }
            }),
        }
    }
}

async fn run_one(cleanup: Cleanup) -> Option<BoxError> {
    match AssertUnwindSafe(cleanup).catch_unwind().await {
        Ok(e) => e,
        Err(p) => Some(Box::new(wrangle_rt::PanicPayload::new(p))),
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

/// The future of [`ExitStack::unwind`].
///
/// # Cancel safety
///
/// Dropping it drops the cleanup running at that moment; the others stay registered.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Unwind {
    inner: Pin<Box<dyn Future<Output = Result<(), CleanupErrors>> + Send>>,
}

impl fmt::Debug for Unwind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unwind").finish_non_exhaustive()
    }
}

impl Future for Unwind {
    type Output = Result<(), CleanupErrors>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// Every error of the cleanups of an [`ExitStack`], in the order they happened, with what
/// was not delivered because of them: nothing (`T = ()`) for [`ExitStack::unwind`], the body's
/// output for [`defer`].
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
/// let e = rt.block_on(stack.unwind()).unwrap_err();
/// assert_eq!(e.to_string(), "2 cleanups failed, the first: last registered");
/// ```
pub struct CleanupErrors<T = ()> {
    errors: Vec<BoxError>,
    output: T,
}

impl<T> CleanupErrors<T> {
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
    /// assert_eq!(rt.block_on(stack.unwind()).unwrap_err().errors().len(), 1);
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
    /// let errors = rt.block_on(stack.unwind()).unwrap_err().into_errors();
    /// assert_eq!(errors[0].to_string(), "y");
    /// ```
    pub fn into_errors(self) -> Vec<BoxError> {
        self.errors
    }

    /// What was handed back: the body's output for [`defer`], `()` for
    /// [`ExitStack::unwind`].
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
    /// assert_eq!(e.errors().len(), 1);
    /// assert_eq!(e.into_output(), "output");
    /// ```
    pub fn into_output(self) -> T {
        self.output
    }

    /// Splits into the output and the errors.
    pub fn into_parts(self) -> (T, Vec<BoxError>) {
        (self.output, self.errors)
    }
}

impl<T> fmt::Debug for CleanupErrors<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CleanupErrors")
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for CleanupErrors<T> {
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

impl<T> std::error::Error for CleanupErrors<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors.first().map(|e| &**e as _)
    }
}

/// Runs `body` with a fresh [`ExitStack`] on [`DefaultRuntime::current`], then unwinds the
/// stack, whether the body returned normally or with an error; if the `defer` future is dropped
/// (cancelled), the cleanups run on the runtime instead.
///
/// Resolves to the body's output, or to [`CleanupErrors`] carrying both the output and every
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
            match stack.unwind().await {
                Ok(()) => Ok(out),
                Err(CleanupErrors { errors, .. }) => Err(CleanupErrors {
                    errors,
                    output: out,
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
    inner: Pin<Box<dyn Future<Output = Result<T, CleanupErrors<T>>> + Send>>,
}

impl<T> fmt::Debug for Defer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Defer").finish_non_exhaustive()
    }
}

impl<T> Future for Defer<T> {
    type Output = Result<T, CleanupErrors<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

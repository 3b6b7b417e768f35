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

use crate::ExitOutcome;
use crate::lifecycle::exit_outcome::OwnedOutcome;
use crate::loom::{Mutex, lock};
use wrangle_rt::TaskOutput;

const ORIGIN: &str = "wrangle_task::ExitStack";

/// A cleanup's future: its errors (one, or every error of a group).
pub(crate) type Cleanup = Pin<Box<dyn Future<Output = Vec<BoxError>> + Send>>;
pub(crate) type ExitFn = Box<dyn FnOnce(&ExitOutcome<'_>) -> Cleanup + Send>;
/// The exits of a group entered by [`ExitStack::enter_all`], with each resource's index.
pub(crate) type Group = Arc<Mutex<Vec<(usize, ExitFn)>>>;

/// A registered cleanup: a future, a closure that builds it from the outcome, or a group of
/// such closures run concurrently.
enum Entry {
    Ready(Cleanup),
    Exit(ExitFn),
    Group(Group),
}

impl Entry {
    /// The cleanup's future; an outcome-seeing cleanup is built from `outcome` (user code: a
    /// panic becomes the cleanup's, caught and reported like one of its future).
    fn build(self, outcome: &ExitOutcome<'_>) -> Cleanup {
        match self {
            Entry::Ready(c) => c,
            Entry::Exit(f) => match std::panic::catch_unwind(AssertUnwindSafe(|| f(outcome))) {
                Ok(c) => c,
                Err(p) => Box::pin(crate::resume_panic(p)),
            },
            Entry::Group(group) => {
                let mut members = std::mem::take(&mut *lock(&group));
                // Exit in reverse: the last resource is asked first, then all run together.
                members.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
                let exits: Vec<Cleanup> = members
                    .into_iter()
                    .map(|(_, f)| Entry::Exit(f).build(outcome))
                    .collect();
                Box::pin(run_together(exits))
            }
        }
    }
}

/// Runs cleanups concurrently; every error of every one of them, in the order they ended.
async fn run_together(exits: Vec<Cleanup>) -> Vec<BoxError> {
    let mut running: Vec<Cleanup> = exits
        .into_iter()
        .map(|c| Box::pin(run_one(c)) as Cleanup)
        .collect();
    let mut errors = Vec::new();
    std::future::poll_fn(|cx| {
        running.retain_mut(|c| match c.as_mut().poll(cx) {
            Poll::Ready(mut e) => {
                errors.append(&mut e);
                false
            }
            Poll::Pending => true,
        });
        if running.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    errors
}

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
    cleanups: Mutex<Vec<Entry>>,
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
        lock(&self.inner.cleanups).push(Entry::Ready(Box::pin(async move {
            cleanup.await.into_result().err().into_iter().collect()
        })));
    }

    /// Registers an async cleanup that sees how the body ended (Python's `__aexit__`):
    /// `cleanup` is called with the [`ExitOutcome`] when the stack unwinds and returns the
    /// future to run, which may return `()` or a `Result`.
    ///
    /// Every outcome-seeing cleanup registered before the unwind is built when the unwind
    /// starts, last registered first, so each sees the body's error itself; the futures then
    /// run one at a time in reverse order, as for [`push`](ExitStack::push). One registered
    /// while the stack unwinds sees a copy of the outcome whose error keeps only the message
    /// (the body's error is borrowed, and gone by then). A closure that panics is a failed
    /// cleanup, reported like one whose future panics.
    ///
    /// # Examples
    ///
    /// A connection returned to its pool when the work succeeded, discarded when it failed or
    /// was cancelled:
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{ExitOutcome, defer_with_runtime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = Arc::new(Mutex::new(Vec::new()));
    /// for fails in [false, true] {
    ///     let pool = pool.clone();
    ///     let out = rt.block_on(
    ///         defer_with_runtime(rt.clone(), move |stack| async move {
    ///             let conn = format!("conn-{fails}");
    ///             stack.push_exit(move |outcome: &ExitOutcome<'_>| {
    ///                 let keep = outcome.is_success();
    ///                 async move {
    ///                     if keep {
    ///                         pool.lock().unwrap().push(conn);
    ///                     }
    ///                 }
    ///             });
    ///             if fails { Err(std::io::Error::other("query failed")) } else { Ok(1) }
    ///         })
    ///         .fail_on_err(),
    ///     );
    ///     assert_eq!(out.unwrap().is_ok(), !fails);
    /// }
    /// assert_eq!(*pool.lock().unwrap(), ["conn-false"]);
    /// ```
    pub fn push_exit<C, F>(&self, cleanup: C)
    where
        C: FnOnce(&ExitOutcome<'_>) -> F + Send + 'static,
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        lock(&self.inner.cleanups).push(Entry::Exit(Box::new(move |outcome| {
            let fut = cleanup(outcome);
            Box::pin(async move { fut.await.into_result().err().into_iter().collect() })
        })));
    }

    /// Registers an empty group of exits (filled by [`enter_all`](ExitStack::enter_all)) at
    /// this point of the stack.
    pub(crate) fn push_group(&self) -> Group {
        let group: Group = Arc::new(Mutex::new(Vec::new()));
        lock(&self.inner.cleanups).push(Entry::Group(group.clone()));
        group
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
        self.unwind_on(ExitOutcome::Succeeded)
    }

    /// Like [`unwind`](ExitStack::unwind), telling the cleanups registered with
    /// [`push_exit`](ExitStack::push_exit) how the body ended: `async with` in Python calls
    /// `__aexit__` with the exception; here you pass it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{ExitOutcome, ExitStack};
    ///
    /// let rt = VirtualRuntime::new();
    /// let seen = Arc::new(Mutex::new(None));
    /// let stack = ExitStack::with_runtime(rt.clone());
    /// let s = seen.clone();
    /// stack.push_exit(move |outcome: &ExitOutcome<'_>| {
    ///     // Look at the error while building the future; keep what is needed.
    ///     *s.lock().unwrap() = outcome.error().map(|e| e.is::<std::fmt::Error>());
    ///     async {}
    /// });
    /// let err = std::fmt::Error;
    /// rt.block_on(stack.unwind_on(ExitOutcome::Failed(&err))).unwrap();
    /// assert_eq!(*seen.lock().unwrap(), Some(true));
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`unwind`](ExitStack::unwind).
    ///
    /// # Cancel safety
    ///
    /// As for [`unwind`](ExitStack::unwind); the outcome-seeing cleanups were built when this
    /// was called, and those not yet run stay registered as built.
    pub fn unwind_on(&self, outcome: ExitOutcome<'_>) -> Unwind {
        // Build the outcome-seeing cleanups now, while the outcome is borrowed, last
        // registered first; outside the lock, since a closure may push onto the stack.
        let taken = std::mem::take(&mut *lock(&self.inner.cleanups));
        let mut built: Vec<Entry> = taken
            .into_iter()
            .rev()
            .map(|e| Entry::Ready(e.build(&outcome)))
            .collect();
        built.reverse();
        {
            let mut cleanups = lock(&self.inner.cleanups);
            // Anything pushed meanwhile is newer: it stays on top.
            built.append(&mut cleanups);
            *cleanups = built;
        }
        let later = OwnedOutcome::of(&outcome);
        let inner = self.inner.clone();
        Unwind {
            inner: Box::pin(async move {
                let mut errors = Vec::new();
                loop {
                    let next = lock(&inner.cleanups).pop();
                    let Some(entry) = next else { break };
                    let cleanup = entry.build(&later.borrow());
                    errors.append(&mut run_one(cleanup).await);
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

async fn run_one(cleanup: Cleanup) -> Vec<BoxError> {
    match AssertUnwindSafe(cleanup).catch_unwind().await {
        Ok(e) => e,
        Err(p) => vec![Box::new(wrangle_rt::PanicPayload::new(p))],
    }
}

impl<R: Runtime> Drop for Inner<R> {
    fn drop(&mut self) {
        let cleanups = std::mem::take(&mut *lock(&self.cleanups));
        if cleanups.is_empty() {
            return;
        }
        let reporter = self.reporter.clone();
        // Nobody unwound the stack: the body it guarded was cancelled.
        let cleanups: Vec<Cleanup> = cleanups
            .into_iter()
            .rev()
            .map(|e| e.build(&ExitOutcome::Cancelled))
            .collect();
        self.rt
            .spawn(async move {
                for cleanup in cleanups {
                    for e in run_one(cleanup).await {
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
/// reverse order, with errors sent to the process-wide handler (cleanups registered with
/// [`ExitStack::push_exit`] see [`ExitOutcome::Cancelled`]).
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
    // User code: a panic while it builds its future is the body's, and the stack unwinds.
    let fut: Pin<Box<dyn Future<Output = Fut::Output> + Send>> =
        match std::panic::catch_unwind(AssertUnwindSafe(|| body(stack.clone()))) {
            Ok(fut) => Box::pin(fut),
            Err(p) => Box::pin(crate::resume_panic(p)),
        };
    Defer {
        body: Some(fut),
        unwind: Some(Box::new(move |outcome| stack.unwind_on(*outcome))),
        classify: |_| ExitOutcome::Succeeded,
        unwinding: None,
    }
}

type UnwindFn = Box<dyn FnOnce(&ExitOutcome<'_>) -> Unwind + Send>;

/// The future of [`defer`].
///
/// # Cancel safety
///
/// Dropping it drops the body; the cleanups then run on the runtime, and those registered
/// with [`ExitStack::push_exit`] see [`ExitOutcome::Cancelled`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Defer<T> {
    body: Option<Pin<Box<dyn Future<Output = T> + Send>>>,
    unwind: Option<UnwindFn>,
    classify: for<'a> fn(&'a T) -> ExitOutcome<'a>,
    unwinding: Option<(Unwind, Option<T>)>,
}

impl<T> fmt::Debug for Defer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Defer")
            .field("unwinding", &self.unwinding.is_some())
            .finish_non_exhaustive()
    }
}

// The body is boxed and the output is only moved: nothing is pinned in place.
impl<T> Unpin for Defer<T> {}

impl<U, E: std::error::Error + 'static> Defer<Result<U, E>> {
    /// Tells the cleanups registered with [`ExitStack::push_exit`] that the body failed when
    /// it returns `Err(e)` ([`ExitOutcome::Failed`] with `e`); without this, `defer` cannot
    /// tell an error from any other output and says [`ExitOutcome::Succeeded`]. The error
    /// still goes back to the caller.
    ///
    /// For an error type that is not a `std::error::Error` (`&str`, `Box<dyn Error>`,
    /// `anyhow::Error`), use an [`ExitStack`] and [`ExitStack::unwind_on`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{ExitOutcome, defer_with_runtime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let seen = Arc::new(Mutex::new(String::new()));
    /// let s = seen.clone();
    /// let out = rt.block_on(
    ///     defer_with_runtime(rt.clone(), move |stack| async move {
    ///         stack.push_exit(move |o: &ExitOutcome<'_>| {
    ///             *s.lock().unwrap() = o.to_string();
    ///             async {}
    ///         });
    ///         Err::<(), _>(std::io::Error::other("disk full"))
    ///     })
    ///     .fail_on_err(),
    /// );
    /// assert_eq!(out.unwrap().unwrap_err().to_string(), "disk full");
    /// assert_eq!(*seen.lock().unwrap(), "failed: disk full");
    /// ```
    pub fn fail_on_err(mut self) -> Self {
        self.classify = |out| match out {
            Ok(_) => ExitOutcome::Succeeded,
            Err(e) => ExitOutcome::Failed(e),
        };
        self
    }
}

impl<T> Future for Defer<T> {
    type Output = Result<T, CleanupErrors<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            if let Some((unwind, out)) = this.unwinding.as_mut() {
                let result = std::task::ready!(Pin::new(unwind).poll(cx));
                let output = out.take().expect("Defer polled after completion");
                this.unwinding = None;
                return Poll::Ready(match result {
                    Ok(()) => Ok(output),
                    Err(CleanupErrors { errors, .. }) => Err(CleanupErrors { errors, output }),
                });
            }
            let body = this.body.as_mut().expect("Defer polled after completion");
            let out = std::task::ready!(body.as_mut().poll(cx));
            this.body = None;
            let unwind = this.unwind.take().expect("unwound once");
            let unwind = unwind(&(this.classify)(&out));
            this.unwinding = Some((unwind, Some(out)));
        }
    }
}

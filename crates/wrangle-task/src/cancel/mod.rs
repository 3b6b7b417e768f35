//! [`CancellableTask`] and cancel-and-wait.

pub(crate) mod as_completed;
pub(crate) mod gather;
pub(crate) mod race;
pub(crate) mod shield;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use wrangle_rt::{CancellationToken, JoinError, JoinHandle, PanicPayload, Runtime};

/// A spawned task with its own [`CancellationToken`], so it can be asked to stop and then
/// awaited while it cleans up asynchronously: the Rust form of a Python task's cancel.
///
/// Made by [`spawn_cancellable`]. Awaiting it gives the task's output; dropping it cancels the
/// task (drops its future); [`cancel`](CancellableTask::cancel) asks it to
/// stop through the token and waits for it to finish.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_task::{CancelOutcome, spawn_cancellable};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let rt2 = rt.clone();
///     let task = spawn_cancellable(rt.clone(), move |token| async move {
///         token.cancelled().await;
///         rt2.sleep(Duration::from_millis(5)).await; // async cleanup
///         "cleaned up"
///     });
///     rt.sleep(Duration::from_millis(1)).await;
///     assert!(matches!(task.cancel().await, CancelOutcome::Stopped("cleaned up")));
/// });
/// ```
///
/// # Cancel safety
///
/// Awaiting it is cancel safe in the sense of [`JoinHandle`]: dropping the `.await` together
/// with the task cancels the task.
#[must_use = "dropping a CancellableTask cancels the task at once, and so does `let _ = spawn_cancellable(..)`; keep it, or call `.detach()` to let the task run on its own"]
pub struct CancellableTask<T> {
    handle: JoinHandle<T>,
    token: CancellationToken,
    started: Arc<AtomicBool>,
}

impl<T> fmt::Debug for CancellableTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellableTask")
            .field("started", &self.started.load(Ordering::Relaxed))
            .field("cancelled", &self.token.is_cancelled())
            .field("finished", &self.handle.is_finished())
            .finish()
    }
}

/// Spawns `task(token)` on `rt`; the token is the task's own, cancelled by
/// [`CancellableTask::cancel`].
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::spawn_cancellable;
///
/// let rt = VirtualRuntime::new();
/// let task = spawn_cancellable(rt.clone(), |_token| async { 2 + 2 });
/// assert_eq!(rt.block_on(task).unwrap(), 4);
/// ```
pub fn spawn_cancellable<R, F, Fut>(rt: R, task: F) -> CancellableTask<Fut::Output>
where
    R: Runtime,
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let token = CancellationToken::new();
    let started = Arc::new(AtomicBool::new(false));
    let fut = task(token.clone());
    let flag = started.clone();
    let handle = rt.spawn(async move {
        flag.store(true, Ordering::SeqCst);
        fut.await
    });
    CancellableTask {
        handle,
        token,
        started,
    }
}

/// How a task ended after [`cancel`](CancellableTask::cancel).
///
/// # Examples
///
/// ```
/// use wrangle_task::CancelOutcome;
///
/// let o: CancelOutcome<u8> = CancelOutcome::Finished(1);
/// assert_eq!(o.into_output(), Some(1));
/// ```
#[non_exhaustive]
pub enum CancelOutcome<T> {
    /// The task had already finished before cancellation was requested; its output.
    Finished(T),
    /// The task was asked to stop, ran its cleanup and returned this (it may be an error the
    /// cleanup produced, or a result the task finished with meanwhile).
    Stopped(T),
    /// Like [`Stopped`](CancelOutcome::Stopped), but someone else had asked the task to stop
    /// before this cancel did (its token was already cancelled when the request was made: a
    /// holder of a clone of the token, or the task itself). aiotools' `cancel_and_wait` raises
    /// `CancelledError` in the caller in this case; see
    /// [`CancellableTask::cancel`] for what can and cannot be told.
    StoppedByOther(T),
    /// The task was cancelled before it ever ran: its future was dropped unpolled.
    NotStarted,
    /// The task was dropped without returning (the grace period ran out, or its runtime
    /// dropped it).
    Aborted,
    /// The task panicked, in its work or in its cleanup.
    Panicked(PanicPayload),
}

impl<T> CancelOutcome<T> {
    /// The task's output, if it returned one.
    pub fn into_output(self) -> Option<T> {
        match self {
            CancelOutcome::Finished(v)
            | CancelOutcome::Stopped(v)
            | CancelOutcome::StoppedByOther(v) => Some(v),
            _ => None,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for CancelOutcome<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelOutcome::Finished(v) => f.debug_tuple("Finished").field(v).finish(),
            CancelOutcome::Stopped(v) => f.debug_tuple("Stopped").field(v).finish(),
            CancelOutcome::StoppedByOther(v) => f.debug_tuple("StoppedByOther").field(v).finish(),
            CancelOutcome::NotStarted => f.write_str("NotStarted"),
            CancelOutcome::Aborted => f.write_str("Aborted"),
            CancelOutcome::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
        }
    }
}

impl<T: Send + 'static> CancellableTask<T> {
    /// The task's token.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::spawn_cancellable;
    ///
    /// let rt = VirtualRuntime::new();
    /// let task = spawn_cancellable(rt.clone(), |t| async move { t.cancelled().await });
    /// task.token().cancel();
    /// assert!(rt.block_on(task).is_ok());
    /// ```
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Returns `true` once the task has finished.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Lets the task run on without a handle.
    pub fn detach(self) {
        self.handle.detach();
    }

    /// Cancels the task and waits until it is gone: asks it to stop (its token) and waits until
    /// it has finished, however long its cleanup takes. A task that has not started yet is
    /// cancelled without ever running.
    ///
    /// # Who else cancelled
    ///
    /// aiotools' `cancel_and_wait` raises `CancelledError` when the task's cancel count shows
    /// that someone besides the caller cancelled it too. Here, what can be told is told: if the
    /// task's token was **already cancelled when this request was made** (by a holder of a
    /// clone of [`token`](CancellableTask::token), or by the task itself), a task that stops
    /// with an output resolves to [`CancelOutcome::StoppedByOther`] instead of
    /// [`CancelOutcome::Stopped`]. Two things cannot be told, by design of the model:
    ///
    /// - **A cancel that comes after this one.** A [`CancellationToken`] is a one-way latch with
    ///   no count: a second `cancel()` changes nothing and leaves no trace, where asyncio's
    ///   task keeps a `cancelling()` counter. Of two requests made at the same moment, one is
    ///   first and the other is not told.
    /// - **The caller being cancelled.** In Rust that drops this future, so there is no caller
    ///   left to tell (aiotools' other source of `CancelledError`).
    ///
    /// No one else can hard-cancel the task: only this `CancellableTask` holds its handle. A
    /// runtime that drops the task (it shut down) gives [`CancelOutcome::Aborted`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::{CancelOutcome, spawn_cancellable};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let task = spawn_cancellable(rt.clone(), |token| async move {
    ///         token.cancelled().await;
    ///         "stopped"
    ///     });
    ///     rt.sleep(Duration::from_millis(1)).await;
    ///     // A watchdog holding a clone of the token got there first.
    ///     let watchdog = task.token().clone();
    ///     watchdog.cancel();
    ///     assert!(matches!(task.cancel().await, CancelOutcome::StoppedByOther("stopped")));
    /// });
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{CancelOutcome, spawn_cancellable};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let task = spawn_cancellable(rt.clone(), |_| async { "never runs" });
    ///     assert!(matches!(task.cancel().await, CancelOutcome::NotStarted));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The request is made when this future is first polled. Dropping the future drops the task
    /// (cutting its cleanup short); wrap it in [`shield`](crate::shield) to let the cleanup
    /// finish whatever happens to the caller.
    pub fn cancel(self) -> CancelTask<T> {
        CancelTask {
            inner: Box::pin(cancel_inner(self, None::<(NoSleep, Duration)>)),
        }
    }

    /// Like [`cancel`](CancellableTask::cancel), but drops the task if it is still running
    /// `grace` after the request (measured on `rt`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::{CancelOutcome, spawn_cancellable};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let task = spawn_cancellable(rt.clone(), |_ignores_token| std::future::pending::<()>());
    ///     rt.sleep(Duration::from_millis(1)).await;
    ///     let outcome = task.cancel_within(rt.clone(), Duration::from_millis(10)).await;
    ///     assert!(matches!(outcome, CancelOutcome::Aborted));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As for [`cancel`](CancellableTask::cancel).
    pub fn cancel_within<R: Runtime>(self, rt: R, grace: Duration) -> CancelTask<T> {
        CancelTask {
            inner: Box::pin(cancel_inner(self, Some((RtSleep(rt), grace)))),
        }
    }
}

impl<T> Future for CancellableTask<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.handle).poll(cx)
    }
}

/// Something that can sleep, so the grace period needs no runtime when there is none.
trait GraceSleep: Send + 'static {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

struct NoSleep;

impl GraceSleep for NoSleep {
    fn sleep(&self, _: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(std::future::pending())
    }
}

struct RtSleep<R>(R);

impl<R: Runtime> GraceSleep for RtSleep<R> {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.0.sleep(d))
    }
}

async fn cancel_inner<T: Send + 'static, S: GraceSleep>(
    task: CancellableTask<T>,
    grace: Option<(S, Duration)>,
) -> CancelOutcome<T> {
    let CancellableTask {
        mut handle,
        token,
        started,
    } = task;
    if handle.is_finished() {
        return match (&mut handle).await {
            Ok(v) => CancelOutcome::Finished(v),
            Err(e) => from_error(e, true),
        };
    }
    if !started.load(Ordering::SeqCst) {
        token.cancel();
        return match handle.cancel().await {
            Ok(v) => CancelOutcome::Finished(v),
            Err(e) => from_error(e, started.load(Ordering::SeqCst)),
        };
    }
    // Read before the request: a token cancelled now was cancelled by someone else.
    let by_other = token.is_cancelled();
    token.cancel();
    let out = match grace {
        None => (&mut handle).await,
        Some((sleeper, d)) => {
            let sleep = sleeper.sleep(d);
            match futures_lite::future::or(async { Some((&mut handle).await) }, async {
                sleep.await;
                None
            })
            .await
            {
                Some(out) => out,
                None => handle.cancel().await,
            }
        }
    };
    match out {
        Ok(v) if by_other => CancelOutcome::StoppedByOther(v),
        Ok(v) => CancelOutcome::Stopped(v),
        Err(e) => from_error(e, true),
    }
}

fn from_error<T>(e: JoinError, started: bool) -> CancelOutcome<T> {
    match e {
        JoinError::Panicked(p) => CancelOutcome::Panicked(p),
        _ if !started => CancelOutcome::NotStarted,
        _ => CancelOutcome::Aborted,
    }
}

/// The future of [`CancellableTask::cancel`] and [`CancellableTask::cancel_within`].
///
/// # Cancel safety
///
/// Dropping it drops the task without waiting for its cleanup.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct CancelTask<T> {
    inner: Pin<Box<dyn Future<Output = CancelOutcome<T>> + Send>>,
}

impl<T> fmt::Debug for CancelTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelTask").finish_non_exhaustive()
    }
}

impl<T> Future for CancelTask<T> {
    type Output = CancelOutcome<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// Asks every task to stop, all at once, and waits until all have finished; outcomes in input
/// order.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_task::{CancelOutcome, cancel_all, spawn_cancellable};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let tasks: Vec<_> = (0..3)
///         .map(|_| spawn_cancellable(rt.clone(), |t| async move { t.cancelled().await }))
///         .collect();
///     rt.sleep(Duration::from_millis(1)).await; // let them start
///     let outcomes = cancel_all(tasks).await;
///     assert!(outcomes.iter().all(|o| matches!(o, CancelOutcome::Stopped(()))));
/// });
/// ```
///
/// # Cancel safety
///
/// Every task is asked to stop when the future is first polled; dropping it drops the tasks
/// still running without waiting for them.
pub fn cancel_all<T, I>(tasks: I) -> CancelAll<T>
where
    T: Send + 'static,
    I: IntoIterator<Item = CancellableTask<T>>,
{
    let waits: Vec<_> = tasks.into_iter().map(CancellableTask::cancel).collect();
    CancelAll {
        inner: Box::pin(async move {
            let mut slots: Vec<Option<CancelOutcome<T>>> = waits.iter().map(|_| None).collect();
            let mut waits: Vec<_> = waits.into_iter().map(Some).collect();
            std::future::poll_fn(|cx| {
                let mut pending = false;
                for (w, slot) in waits.iter_mut().zip(slots.iter_mut()) {
                    if let Some(f) = w {
                        match Pin::new(f).poll(cx) {
                            Poll::Ready(o) => {
                                *slot = Some(o);
                                *w = None;
                            }
                            Poll::Pending => pending = true,
                        }
                    }
                }
                if pending {
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            slots
                .into_iter()
                .map(|s| s.expect("every task finished"))
                .collect()
        }),
    }
}

/// The future of [`cancel_all`].
///
/// # Cancel safety
///
/// Dropping it drops the tasks still running without waiting for them.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct CancelAll<T> {
    inner: Pin<Box<dyn Future<Output = Vec<CancelOutcome<T>>> + Send>>,
}

impl<T> fmt::Debug for CancelAll<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelAll").finish_non_exhaustive()
    }
}

impl<T> Future for CancelAll<T> {
    type Output = Vec<CancelOutcome<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

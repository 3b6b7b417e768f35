//! [`race`]: the first success wins; the losers are cancelled and awaited.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{DefaultRuntime, JoinError, JoinHandle, PanicPayload, Runtime};

use crate::concurrent::future_set::FutureSet;

type Inner<T, E> = Pin<Box<dyn Future<Output = Result<(T, Vec<E>), RaceError<E>>> + Send>>;
type Start<T, E> = Box<dyn FnOnce(bool) -> Inner<T, E> + Send>;

/// Runs every future as a task on [`DefaultRuntime::current`]; resolves to the first `Ok`
/// value, after the other tasks have been cancelled **and are gone**.
///
/// The output is `(value, errors)`: `errors` holds the errors seen before the win, which only
/// happens with [`continue_on_error`](Race::continue_on_error); otherwise the first error ends
/// the race (the other tasks are cancelled and awaited too).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// let (winner, errors) = rt.block_on(async {
///     let jobs = [30u64, 10, 20].map(|ms| {
///         let rt = rt.clone();
///         async move {
///             rt.sleep(Duration::from_millis(ms)).await;
///             Ok::<_, std::io::Error>(ms)
///         }
///     });
///     wrangle_task::race(jobs).await.unwrap()
/// });
/// assert_eq!((winner, errors.len()), (10, 0));
/// assert_eq!(rt.now() - start, Duration::from_millis(10));
/// ```
///
/// # Errors
///
/// See [`Race`].
///
/// # Panics
///
/// Like [`DefaultRuntime::current`].
///
/// # Cancel safety
///
/// Dropping the future cancels every task still running, without waiting.
pub fn race<I, T, E>(futures: I) -> Race<T, E>
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    race_with_runtime(DefaultRuntime::current(), futures)
}

/// [`race`] on a given runtime.
///
/// # Examples
///
/// ```
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let r = rt.block_on(wrangle_task::race_with_runtime(rt.clone(), [async { Ok::<_, ()>(1) }]));
/// assert_eq!(r.unwrap().0, 1);
/// ```
///
/// # Errors
///
/// See [`Race`].
///
/// # Cancel safety
///
/// Dropping the future cancels every task still running, without waiting.
pub fn race_with_runtime<R, I, T, E>(rt: R, futures: I) -> Race<T, E>
where
    R: Runtime,
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let futures = futures.into_iter();
    Race {
        start: Some(Box::new(move |continue_on_error| {
            Box::pin(run(rt, futures, continue_on_error))
        })),
        continue_on_error: false,
        running: None,
    }
}

/// The future of [`race`].
///
/// # Errors
///
/// [`RaceError::Empty`] for no futures; [`RaceError::Failed`] with the first error (unless
/// [`continue_on_error`](Race::continue_on_error)); [`RaceError::AllFailed`] with every error
/// when all failed under `continue_on_error`; [`RaceError::Panicked`] if a task panicked.
///
/// # Cancel safety
///
/// Dropping it cancels every task still running, without waiting.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Race<T, E> {
    start: Option<Start<T, E>>,
    continue_on_error: bool,
    running: Option<Inner<T, E>>,
}

impl<T, E> fmt::Debug for Race<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Race")
            .field("continue_on_error", &self.continue_on_error)
            .field("started", &self.running.is_some())
            .finish()
    }
}

impl<T, E> Race<T, E> {
    /// Keeps racing after an error, collecting errors until a success (or until all failed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let (v, errors) = rt.block_on(async {
    ///     let jobs = [(10, Err("early")), (20, Ok(2))].map(|(ms, r)| {
    ///         let rt = rt.clone();
    ///         async move {
    ///             rt.sleep(Duration::from_millis(ms)).await;
    ///             r
    ///         }
    ///     });
    ///     wrangle_task::race(jobs).continue_on_error().await.unwrap()
    /// });
    /// assert_eq!((v, errors), (2, vec!["early"]));
    /// ```
    pub fn continue_on_error(mut self) -> Self {
        self.continue_on_error = true;
        self
    }
}

impl<T, E> Future for Race<T, E> {
    type Output = Result<(T, Vec<E>), RaceError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(start) = self.start.take() {
            self.running = Some(start(self.continue_on_error));
        }
        let running = self.running.as_mut().expect("Race polled after completion");
        let out = std::task::ready!(running.as_mut().poll(cx));
        self.running = None;
        Poll::Ready(out)
    }
}

async fn run<R, I, T, E>(
    rt: R,
    futures: I,
    continue_on_error: bool,
) -> Result<(T, Vec<E>), RaceError<E>>
where
    R: Runtime,
    I: Iterator,
    I::Item: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let mut slots: FutureSet<JoinHandle<Result<T, E>>> = FutureSet::default();
    for f in futures {
        slots.insert(rt.spawn(f));
    }
    if slots.len() == 0 {
        return Err(RaceError::Empty);
    }
    let mut errors = Vec::new();
    loop {
        let outcome = match poll_fn(|cx| slots.poll_next(cx)).await {
            None => return Err(RaceError::AllFailed(errors)),
            Some(Ok(Ok(Ok(v)))) => Ok((v, std::mem::take(&mut errors))),
            Some(Ok(Ok(Err(e)))) if continue_on_error => {
                errors.push(e);
                continue;
            }
            Some(Ok(Ok(Err(e)))) => Err(RaceError::Failed(e)),
            Some(Ok(Err(JoinError::Panicked(p)))) => Err(RaceError::Panicked(p)),
            // Cancelled by its runtime: it neither won nor failed.
            Some(Ok(Err(_))) => continue,
            Some(Err(p)) => Err(RaceError::Panicked(PanicPayload::new(p))),
        };
        for c in slots.take_all().into_iter().map(JoinHandle::cancel) {
            let _ = c.await;
        }
        return outcome;
    }
}

/// Why a [`race`] produced no winner.
///
/// # Examples
///
/// ```
/// use wrangle_task::RaceError;
///
/// let e: RaceError<std::io::Error> = RaceError::Empty;
/// assert_eq!(e.to_string(), "race over no futures");
/// ```
#[non_exhaustive]
pub enum RaceError<E> {
    /// There were no futures.
    Empty,
    /// A future failed first (without `continue_on_error`); the others were cancelled.
    Failed(E),
    /// Every future failed (with `continue_on_error`); the errors in completion order.
    AllFailed(Vec<E>),
    /// A future panicked; the others were cancelled.
    Panicked(PanicPayload),
}

impl<E: fmt::Debug> fmt::Debug for RaceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RaceError::Empty => f.write_str("Empty"),
            RaceError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            RaceError::AllFailed(es) => f.debug_tuple("AllFailed").field(es).finish(),
            RaceError::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for RaceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RaceError::Empty => f.write_str("race over no futures"),
            RaceError::Failed(e) => write!(f, "a raced future failed: {e}"),
            RaceError::AllFailed(es) => write!(f, "all {} raced futures failed", es.len()),
            RaceError::Panicked(p) => write!(
                f,
                "a raced future panicked: {}",
                p.message().unwrap_or("no message")
            ),
        }
    }
}

/// The failed future's error is part of the message, so any `E: Debug + Display` makes this an
/// `Error` (`anyhow::Error` included) that `?` converts into `anyhow::Error` or `Box<dyn Error>`.
impl<E: fmt::Debug + fmt::Display> std::error::Error for RaceError<E> {}

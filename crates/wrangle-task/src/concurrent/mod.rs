//! [`Concurrent`]: run futures on the runtime, a bounded number at a time.

pub(crate) mod concurrent_inline;
pub(crate) mod error;
pub(crate) mod future_set;
pub(crate) mod limit;
pub(crate) mod source;
pub(crate) mod stats;

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::Stream;
use pin_project::pin_project;
use wrangle_rt::{DefaultRuntime, JoinError, JoinHandle, Runtime, future::Cancel};

use crate::concurrent::future_set::FutureSet;
use crate::concurrent::source::{IterSource, Source, StreamSource, TryStreamSource};
use crate::{ConcurrentError, ConcurrentStats, Limit};
use wrangle_rt::PanicPayload;

type Output<S> = Result<<S as Source>::Ok, <S as Source>::Error>;

/// Runs futures from a [`Source`] as tasks on a runtime, at most a [`Limit`] at a time, and
/// yields their outputs in completion order as a [`Stream`].
///
/// The futures run in parallel on a multi-thread runtime. Each item is `Ok(value)` or a
/// [`ConcurrentError`]: a future's `Err`, a panic (never a crash), or an error of the input
/// stream (which ends the run at once). With [`ErrorPolicy::Stop`] (the default) the first
/// error cancels the futures still in flight, waits until they are gone, is yielded, and ends the
/// stream; with [`ErrorPolicy::Yield`] errors are items like any other. Under `Stop`, a future
/// that had already completed when the error was observed (the same instant, another thread)
/// is not thrown away: its output is yielded before the error, whatever order the runtime ran
/// the tasks in.
///
/// A new future is taken from the source only when a slot is free, so a slow consumer and a
/// limit give backpressure all the way to the source. Dropping the stream cancels everything
/// still in flight.
///
/// Made by [`Concurrent::new`], [`Concurrent::from_stream`] and
/// [`Concurrent::from_try_stream`] (and their `_with_runtime` forms). For futures that are not
/// `Send`, or to stay within the current task, use [`ConcurrentInline`](crate::ConcurrentInline).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures_lite::StreamExt;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_task::{Concurrent, Limit};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let jobs = [30u64, 10, 20].map(|ms| {
///         let rt = rt.clone();
///         async move {
///             rt.sleep(Duration::from_millis(ms)).await;
///             Ok::<_, std::io::Error>(ms)
///         }
///     });
///     let done: Vec<u64> = Concurrent::with_runtime(rt.clone(), jobs)
///         .limit(Limit::Unlimited)
///         .map(|r| r.unwrap())
///         .collect()
///         .await;
///     assert_eq!(done, [10, 20, 30]);
/// });
/// ```
///
/// # Cancel safety
///
/// Dropping a pending `next()` loses nothing: outputs stay in the runner until polled again.
/// Dropping the stream cancels the futures in flight (without waiting for them) and takes no more
/// from the source.
#[pin_project]
#[must_use = "streams do nothing unless polled"]
pub struct Concurrent<S: Source, R: Runtime = DefaultRuntime> {
    rt: R,
    #[pin]
    source: S,
    source_done: bool,
    limit: Option<usize>,
    policy: ErrorPolicy,
    slots: FutureSet<JoinHandle<Output<S>>>,
    state: State<S>,
    stats: ConcurrentStats,
}

enum State<S: Source> {
    Running,
    Stopping {
        error: Option<ConcurrentError<S::Error>>,
        cancels: Vec<Cancel<Output<S>>>,
        /// Outputs of jobs that had already completed when their cancellation was asked
        /// for: a complete result is never thrown away, it is yielded before the error.
        ready: VecDeque<S::Ok>,
    },
    Done,
}

impl<I> Concurrent<IterSource<I>>
where
    IterSource<I>: Source,
{
    /// Runs the futures of an iterator, on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Concurrent;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut s = Concurrent::new([async { Ok::<_, ()>(1) }]);
    ///     assert!(matches!(s.next().await, Some(Ok(1))));
    ///     assert!(s.next().await.is_none());
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// Like [`DefaultRuntime::current`].
    pub fn new<T: IntoIterator<IntoIter = I>>(futures: T) -> Self {
        Concurrent::from_source(
            DefaultRuntime::current(),
            IterSource::new(futures.into_iter()),
        )
    }
}

impl<St> Concurrent<StreamSource<St>>
where
    StreamSource<St>: Source,
{
    /// Runs the futures of a stream, on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::{StreamExt, stream};
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Concurrent;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let jobs = stream::iter(0..3).map(|i| async move { Ok::<_, ()>(i) });
    ///     assert_eq!(Concurrent::from_stream(jobs).count().await, 3);
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// Like [`DefaultRuntime::current`].
    pub fn from_stream(stream: St) -> Self {
        Concurrent::from_source(DefaultRuntime::current(), StreamSource::new(stream))
    }
}

impl<St> Concurrent<TryStreamSource<St>>
where
    TryStreamSource<St>: Source,
{
    /// Runs the futures of a fallible stream, on [`DefaultRuntime::current`]; an `Err` from the
    /// stream ends the run with [`ConcurrentError::Input`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::{StreamExt, stream};
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{Concurrent, ConcurrentError};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let input = stream::iter([Ok(async { Ok(1) }), Err("broken source")]);
    ///     let items: Vec<_> = Concurrent::from_try_stream(input).collect().await;
    ///     assert!(matches!(items.last(), Some(Err(ConcurrentError::Input("broken source")))));
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// Like [`DefaultRuntime::current`].
    pub fn from_try_stream(stream: St) -> Self {
        Concurrent::from_source(DefaultRuntime::current(), TryStreamSource::new(stream))
    }
}

impl<I, R: Runtime> Concurrent<IterSource<I>, R>
where
    IterSource<I>: Source,
{
    /// Runs the futures of an iterator on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Concurrent;
    ///
    /// let rt = VirtualRuntime::new();
    /// let n = rt.block_on(Concurrent::with_runtime(rt.clone(), [async { Ok::<_, ()>(()) }]).count());
    /// assert_eq!(n, 1);
    /// ```
    pub fn with_runtime<T: IntoIterator<IntoIter = I>>(rt: R, futures: T) -> Self {
        Concurrent::from_source(rt, IterSource::new(futures.into_iter()))
    }
}

impl<St, R: Runtime> Concurrent<StreamSource<St>, R>
where
    StreamSource<St>: Source,
{
    /// Runs the futures of a stream on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::{StreamExt, stream};
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Concurrent;
    ///
    /// let rt = VirtualRuntime::new();
    /// let jobs = stream::once(async { Ok::<_, ()>(7) });
    /// let n = rt.block_on(Concurrent::from_stream_with_runtime(rt.clone(), jobs).count());
    /// assert_eq!(n, 1);
    /// ```
    pub fn from_stream_with_runtime(rt: R, stream: St) -> Self {
        Concurrent::from_source(rt, StreamSource::new(stream))
    }
}

impl<St, R: Runtime> Concurrent<TryStreamSource<St>, R>
where
    TryStreamSource<St>: Source,
{
    /// Runs the futures of a fallible stream on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::{StreamExt, stream};
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Concurrent;
    ///
    /// let rt = VirtualRuntime::new();
    /// let jobs = stream::once(Ok::<_, ()>(async { Ok::<_, ()>(7) }));
    /// let n = rt.block_on(Concurrent::from_try_stream_with_runtime(rt.clone(), jobs).count());
    /// assert_eq!(n, 1);
    /// ```
    pub fn from_try_stream_with_runtime(rt: R, stream: St) -> Self {
        Concurrent::from_source(rt, TryStreamSource::new(stream))
    }
}

impl<S: Source, R: Runtime> Concurrent<S, R> {
    fn from_source(rt: R, source: S) -> Self {
        Concurrent {
            rt,
            source,
            source_done: false,
            limit: Limit::Default.get(),
            policy: ErrorPolicy::Stop,
            slots: FutureSet::default(),
            state: State::Running,
            stats: ConcurrentStats::default(),
        }
    }

    /// Sets how many futures run at once (default: [`Limit::Default`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use futures_lite::StreamExt;
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Concurrent;
    ///
    /// let rt = VirtualRuntime::new();
    /// let jobs = (0..10).map(|i| async move { Ok::<_, ()>(i) });
    /// let s = Concurrent::with_runtime(rt.clone(), jobs).limit(NonZeroUsize::MIN.into());
    /// // With a limit of one, completion order is input order.
    /// let out: Vec<_> = rt.block_on(s.map(Result::unwrap).collect());
    /// assert_eq!(out, (0..10).collect::<Vec<_>>());
    /// ```
    pub fn limit(mut self, limit: Limit) -> Self {
        self.limit = limit.get();
        self
    }

    /// Sets what happens on a future's error or panic (default: [`ErrorPolicy::Stop`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::{Concurrent, ErrorPolicy};
    ///
    /// let rt = VirtualRuntime::new();
    /// let jobs = [Err("a"), Ok(1), Err("b")].map(|r| async move { r });
    /// let s = Concurrent::with_runtime(rt.clone(), jobs).error_policy(ErrorPolicy::Yield);
    /// let items: Vec<_> = rt.block_on(s.collect());
    /// assert_eq!(items.iter().filter(|r| r.is_err()).count(), 2);
    /// ```
    pub fn error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The runner's counters so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::Concurrent;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut s = Concurrent::with_runtime(rt.clone(), [async { Ok::<_, ()>(1) }]);
    ///     while s.next().await.is_some() {}
    ///     assert_eq!(s.stats().completed, 1);
    /// });
    /// ```
    pub fn stats(&self) -> ConcurrentStats {
        let stopping = match &self.state {
            State::Stopping { cancels, .. } => cancels.len(),
            _ => 0,
        };
        ConcurrentStats {
            running: self.slots.pending() + stopping,
            ..self.stats
        }
    }
}

impl<S, R> Stream for Concurrent<S, R>
where
    S: Source,
    S::Future: Send + 'static,
    S::Ok: Send + 'static,
    S::Error: Send + 'static,
    R: Runtime,
{
    type Item = Result<S::Ok, ConcurrentError<S::Error>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            match this.state {
                State::Done => return Poll::Ready(None),
                State::Stopping {
                    error,
                    cancels,
                    ready,
                } => {
                    let stats = &mut *this.stats;
                    cancels.retain_mut(|c| match Pin::new(c).poll(cx) {
                        Poll::Pending => true,
                        // It had ended before the cancellation took effect.
                        Poll::Ready(Ok(Ok(v))) => {
                            stats.completed += 1;
                            ready.push_back(v);
                            false
                        }
                        // A later failure: the stream reports its first error only.
                        Poll::Ready(Ok(Err(_)) | Err(JoinError::Panicked(_))) => {
                            stats.failed += 1;
                            false
                        }
                        Poll::Ready(Err(_)) => {
                            stats.cancelled += 1;
                            false
                        }
                    });
                    if let Some(v) = ready.pop_front() {
                        return Poll::Ready(Some(Ok(v)));
                    }
                    if !cancels.is_empty() {
                        return Poll::Pending;
                    }
                    let error = error.take();
                    *this.state = State::Done;
                    return Poll::Ready(error.map(Err));
                }
                State::Running => {}
            }

            let mut stop = None;
            while !*this.source_done && this.limit.is_none_or(|l| this.slots.len() < l) {
                match this.source.as_mut().poll_next_future(cx) {
                    Poll::Ready(Some(Ok(f))) => {
                        this.stats.started += 1;
                        this.slots.insert(this.rt.spawn(f));
                    }
                    Poll::Ready(Some(Err(e))) => {
                        *this.source_done = true;
                        stop = Some(ConcurrentError::Input(e));
                    }
                    Poll::Ready(None) => *this.source_done = true,
                    Poll::Pending => break,
                }
            }
            if let Some(error) = stop {
                begin_stop::<S>(this.state, this.slots, this.stats, error);
                continue;
            }

            let error = match this.slots.poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) if *this.source_done => {
                    *this.state = State::Done;
                    return Poll::Ready(None);
                }
                // Nothing in flight; the source will wake us.
                Poll::Ready(None) => return Poll::Pending,
                Poll::Ready(Some(Ok(Ok(Ok(v))))) => {
                    this.stats.completed += 1;
                    return Poll::Ready(Some(Ok(v)));
                }
                Poll::Ready(Some(Ok(Ok(Err(e))))) => ConcurrentError::Failed(e),
                Poll::Ready(Some(Ok(Err(JoinError::Panicked(p))))) => ConcurrentError::Panicked(p),
                Poll::Ready(Some(Ok(Err(_)))) => ConcurrentError::Cancelled,
                Poll::Ready(Some(Err(p))) => ConcurrentError::Panicked(PanicPayload::new(p)),
            };
            this.stats.failed += 1;
            match this.policy {
                ErrorPolicy::Yield => return Poll::Ready(Some(Err(error))),
                ErrorPolicy::Stop => {
                    *this.source_done = true;
                    begin_stop::<S>(this.state, this.slots, this.stats, error);
                }
            }
        }
    }
}

fn begin_stop<S: Source>(
    state: &mut State<S>,
    slots: &mut FutureSet<JoinHandle<Output<S>>>,
    stats: &mut ConcurrentStats,
    error: ConcurrentError<S::Error>,
) where
    S::Ok: Send + 'static,
    S::Error: Send + 'static,
{
    // Outputs the slots produced in the same pass as the error are complete results.
    let mut ready = VecDeque::new();
    for out in slots.take_outputs() {
        match out {
            Ok(Ok(Ok(v))) => {
                stats.completed += 1;
                ready.push_back(v);
            }
            Ok(Err(JoinError::Cancelled)) => stats.cancelled += 1,
            _ => stats.failed += 1,
        }
    }
    // The rest are counted as each cancellation resolves: a job that had already ended is
    // counted (and its output yielded) as such.
    let cancels: Vec<_> = slots
        .take_all()
        .into_iter()
        .map(JoinHandle::cancel)
        .collect();
    *state = State::Stopping {
        error: Some(error),
        cancels,
        ready,
    };
}

/// Terminated once the stream has yielded everything it will (the source ended and every job
/// was yielded, or the error that stopped it was): the next poll returns `None`.
impl<S, R> futures_core::stream::FusedStream for Concurrent<S, R>
where
    S: Source,
    S::Future: Send + 'static,
    S::Ok: Send + 'static,
    S::Error: Send + 'static,
    R: Runtime,
{
    fn is_terminated(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl<S: Source, R: Runtime> fmt::Debug for Concurrent<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Concurrent")
            .field("runtime", &self.rt)
            .field("limit", &self.limit)
            .field("policy", &self.policy)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What a concurrent runner does when a future fails or panics.
///
/// An error of the input stream itself always ends the run, whatever the policy.
///
/// # Examples
///
/// The same three jobs, the second failing, under each policy (the default is `Stop`):
///
/// ```
/// use futures_lite::StreamExt;
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_task::{ConcurrentInline, ErrorPolicy, Limit};
///
/// let jobs = || (1..=3).map(|i| async move { if i == 2 { Err(i) } else { Ok(i) } });
/// let one_at_a_time = Limit::try_from(1).unwrap();
/// let rt = VirtualRuntime::new();
/// let stopped: Vec<_> = rt.block_on(ConcurrentInline::new(jobs()).limit(one_at_a_time).collect());
/// assert_eq!(stopped.len(), 2); // Ok(1), then the error; job 3 never starts
/// let yielded: Vec<_> = rt.block_on(
///     ConcurrentInline::new(jobs())
///         .limit(one_at_a_time)
///         .error_policy(ErrorPolicy::Yield)
///         .collect(),
/// );
/// assert_eq!(yielded.len(), 3); // Ok(1), the error, Ok(3)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ErrorPolicy {
    /// Cancel the futures still in flight, wait until they are gone, yield the error and end.
    #[default]
    Stop,
    /// Yield errors as items, in completion order, and keep going.
    Yield,
}

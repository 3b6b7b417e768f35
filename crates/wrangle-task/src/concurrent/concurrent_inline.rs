//! [`ConcurrentInline`]: run futures concurrently inside the current task.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::Stream;
use pin_project::pin_project;

use crate::concurrent::future_set::FutureSet;
use crate::concurrent::source::{IterSource, Source, StreamSource, TryStreamSource};
use crate::{ConcurrentError, ConcurrentStats, ErrorPolicy, Limit};
use wrangle_rt::PanicPayload;

/// Runs futures from a [`Source`] concurrently inside the task that polls it (no spawning), at
/// most a [`Limit`] at a time, and yields their outputs in completion order as a [`Stream`].
///
/// The same contract as [`Concurrent`](crate::Concurrent), without parallelism and without
/// `Send` or `'static` bounds, so it also runs futures that borrow or are `!Send`. Under
/// [`ErrorPolicy::Stop`] the futures still in flight are dropped at the first error.
///
/// It stays fair: one poll polls at most a fixed budget of futures (128) and then yields to the
/// executor, so futures that are always ready cannot starve the other tasks of the thread
/// (the `FuturesUnordered` starvation problem). Only futures that woke are polled, and the slots
/// and their wakers are reused, so running a future allocates nothing.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use futures_lite::StreamExt;
/// use wrangle_task::ConcurrentInline;
///
/// // The futures borrow a `!Send` counter.
/// let hits = Cell::new(0);
/// let jobs = (0..5).map(|_| async { hits.set(hits.get() + 1); Ok::<_, ()>(()) });
/// let n = futures_lite::future::block_on(ConcurrentInline::new(jobs).count());
/// assert_eq!((n, hits.get()), (5, 5));
/// ```
///
/// # Cancel safety
///
/// Dropping a pending `next()` loses nothing. Dropping the stream drops every future in flight
/// and takes no more from the source.
#[pin_project]
#[must_use = "streams do nothing unless polled"]
pub struct ConcurrentInline<S: Source> {
    #[pin]
    source: S,
    source_done: bool,
    done: bool,
    /// After an error under [`ErrorPolicy::Stop`]: the outputs the same poll pass completed
    /// (yielded first, never thrown away), then the error.
    stopping: Stopping<S>,
    limit: Option<usize>,
    policy: ErrorPolicy,
    slots: FutureSet<S::Future>,
    stats: ConcurrentStats,
}

impl<I> ConcurrentInline<IterSource<I>>
where
    IterSource<I>: Source,
{
    /// Runs the futures of an iterator.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use wrangle_task::ConcurrentInline;
    ///
    /// let s = ConcurrentInline::new([async { Ok::<_, ()>(1) }]);
    /// assert_eq!(futures_lite::future::block_on(s.count()), 1);
    /// ```
    pub fn new<T: IntoIterator<IntoIter = I>>(futures: T) -> Self {
        ConcurrentInline::from_source(IterSource::new(futures.into_iter()))
    }
}

impl<St> ConcurrentInline<StreamSource<St>>
where
    StreamSource<St>: Source,
{
    /// Runs the futures of a stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::{StreamExt, stream};
    /// use wrangle_task::ConcurrentInline;
    ///
    /// let jobs = stream::iter(0..4).map(|i| async move { Ok::<_, ()>(i) });
    /// let s = ConcurrentInline::from_stream(jobs);
    /// assert_eq!(futures_lite::future::block_on(s.count()), 4);
    /// ```
    pub fn from_stream(stream: St) -> Self {
        ConcurrentInline::from_source(StreamSource::new(stream))
    }
}

impl<St> ConcurrentInline<TryStreamSource<St>>
where
    TryStreamSource<St>: Source,
{
    /// Runs the futures of a fallible stream; an `Err` from the stream ends the run with
    /// [`ConcurrentError::Input`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::{StreamExt, stream};
    /// use wrangle_task::{ConcurrentError, ConcurrentInline};
    ///
    /// let input = stream::iter([Err("no more input"), Ok(async { Ok(1) })]);
    /// let items: Vec<_> =
    ///     futures_lite::future::block_on(ConcurrentInline::from_try_stream(input).collect());
    /// assert!(matches!(items[..], [Err(ConcurrentError::Input("no more input"))]));
    /// ```
    pub fn from_try_stream(stream: St) -> Self {
        ConcurrentInline::from_source(TryStreamSource::new(stream))
    }
}

impl<S: Source> ConcurrentInline<S> {
    fn from_source(source: S) -> Self {
        ConcurrentInline {
            source,
            source_done: false,
            done: false,
            stopping: None,
            limit: Limit::Default.get(),
            policy: ErrorPolicy::Stop,
            slots: FutureSet::default(),
            stats: ConcurrentStats::default(),
        }
    }

    /// Sets how many futures run at once (default: [`Limit::Default`]).
    pub fn limit(mut self, limit: Limit) -> Self {
        self.limit = limit.get();
        self
    }

    /// Sets what happens on a future's error or panic (default: [`ErrorPolicy::Stop`]).
    pub fn error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The runner's counters so far.
    pub fn stats(&self) -> ConcurrentStats {
        ConcurrentStats {
            running: self.slots.pending(),
            ..self.stats
        }
    }
}

impl<S: Source> Stream for ConcurrentInline<S> {
    type Item = Result<S::Ok, ConcurrentError<S::Error>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if this.stopping.is_some() {
            return self_stopping::<S>(this.stopping);
        }
        if *this.done {
            return Poll::Ready(None);
        }
        while !*this.source_done && this.limit.is_none_or(|l| this.slots.len() < l) {
            match this.source.as_mut().poll_next_future(cx) {
                Poll::Ready(Some(Ok(f))) => {
                    this.stats.started += 1;
                    this.slots.insert(f);
                }
                Poll::Ready(Some(Err(e))) => {
                    let ready = take_completed::<S>(this.slots, this.stats);
                    this.stats.cancelled += this.slots.len() as u64;
                    this.slots.clear();
                    *this.done = true;
                    *this.stopping = Some((ready, ConcurrentError::Input(e)));
                    return self_stopping::<S>(this.stopping);
                }
                Poll::Ready(None) => *this.source_done = true,
                Poll::Pending => break,
            }
        }
        let error = match this.slots.poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) if *this.source_done => {
                *this.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(None) => return Poll::Pending,
            Poll::Ready(Some(Ok(Ok(v)))) => {
                this.stats.completed += 1;
                return Poll::Ready(Some(Ok(v)));
            }
            Poll::Ready(Some(Ok(Err(e)))) => ConcurrentError::Failed(e),
            Poll::Ready(Some(Err(p))) => ConcurrentError::Panicked(PanicPayload::new(p)),
        };
        this.stats.failed += 1;
        if this.policy == &ErrorPolicy::Stop {
            let ready = take_completed::<S>(this.slots, this.stats);
            this.stats.cancelled += this.slots.len() as u64;
            this.slots.clear();
            *this.done = true;
            *this.stopping = Some((ready, error));
            return self_stopping::<S>(this.stopping);
        }
        Poll::Ready(Some(Err(error)))
    }
}

type Stopping<S> = Option<(
    VecDeque<<S as Source>::Ok>,
    ConcurrentError<<S as Source>::Error>,
)>;
type Item<S> = Result<<S as Source>::Ok, ConcurrentError<<S as Source>::Error>>;

/// The next item after an error under [`ErrorPolicy::Stop`]: a complete output, then the
/// error.
fn self_stopping<S: Source>(stopping: &mut Stopping<S>) -> Poll<Option<Item<S>>> {
    let (ready, _) = stopping.as_mut().expect("stopping");
    if let Some(v) = ready.pop_front() {
        return Poll::Ready(Some(Ok(v)));
    }
    let (_, error) = stopping.take().expect("stopping");
    Poll::Ready(Some(Err(error)))
}

/// Outputs of futures that completed in a poll pass and were not yielded yet: complete
/// results, taken (and counted) before the rest is dropped, never thrown away.
fn take_completed<S: Source>(
    slots: &mut FutureSet<S::Future>,
    stats: &mut ConcurrentStats,
) -> VecDeque<S::Ok> {
    let mut ready = VecDeque::new();
    for out in slots.take_outputs() {
        match out {
            Ok(Ok(v)) => {
                stats.completed += 1;
                ready.push_back(v);
            }
            _ => stats.failed += 1,
        }
    }
    ready
}

/// Terminated once the stream has yielded everything it will (the source ended and every
/// future was yielded, or the error that stopped it was): the next poll returns `None`.
impl<S: Source> futures_core::stream::FusedStream for ConcurrentInline<S> {
    fn is_terminated(&self) -> bool {
        self.done && self.stopping.is_none()
    }
}

impl<S: Source> fmt::Debug for ConcurrentInline<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrentInline")
            .field("limit", &self.limit)
            .field("policy", &self.policy)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

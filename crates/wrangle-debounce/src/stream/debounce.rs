//! [`Debounce`]: lodash's `debounce` as a stream adaptor.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::Stream;
use pin_project::pin_project;
use std::future::Future;
use wrangle_rt::{DefaultRuntime, Runtime, Sleep};

use crate::debouncer::default_runtime;
use crate::lodash::Edges;
use crate::{InvalidDebounceConfig, check_max_wait, check_window};

/// Items taken from the inner stream in one poll before yielding to the executor: an
/// always-ready source must not starve the other tasks.
const BUDGET: u32 = 256;

/// A stream that debounces another one (lodash's `debounce`, with `leading`, `trailing` and
/// `maxWait`). Made by [`DebounceStreamExt::debounce`](crate::DebounceStreamExt::debounce) or
/// a [`DebounceBuilder`].
///
/// It keeps the latest item of a burst and emits it on the trailing edge; with a leading
/// edge it also emits the first item of a burst at once. A burst ends once no item has
/// arrived for a whole window (or, with a maximum wait, that long after the last emission).
/// When the inner stream ends, the item still waiting is emitted at once (with a trailing
/// edge), then the stream ends.
///
/// It uses one resettable sleep of the runtime, moved once per window at most, never a timer
/// per item; items that arrive in the same poll count as arriving at the same instant.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures_lite::StreamExt;
/// use wrangle_debounce::DebounceBuilder;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let (tx, rx) = async_channel::unbounded();
///     let producer = rt.spawn({
///         let rt = rt.clone();
///         async move {
///             for (i, gap) in [0, 3, 3, 20, 3].into_iter().enumerate() {
///                 rt.sleep(Duration::from_millis(gap)).await;
///                 tx.send(i).await.unwrap();
///             }
///         }
///     });
///     let out: Vec<usize> = DebounceBuilder::new(Duration::from_millis(10))
///         .leading(true)
///         .runtime(rt.clone())
///         .build(rx)
///         .unwrap()
///         .collect()
///         .await;
///     producer.await.unwrap();
///     // Two bursts: 0 (leading), 2 (trailing); then 3 (leading), 4 (trailing).
///     assert_eq!(out, [0, 2, 3, 4]);
/// });
/// ```
///
/// # Cancel safety
///
/// Dropping a `next()` future loses nothing: the item waiting for its edge stays in the
/// adaptor, and the edge is still measured from when the items arrived. Dropping the adaptor
/// drops the waiting item and its sleep.
#[pin_project]
#[must_use = "streams do nothing unless polled"]
pub struct Debounce<S: Stream, R: Runtime = DefaultRuntime> {
    #[pin]
    stream: S,
    // Boxed (once per adaptor, not per item) so that the adaptor is `Unpin` whenever the
    // inner stream is, whatever the runtime's sleep.
    sleep: Option<Pin<Box<R::Sleep>>>,
    rt: R,
    edges: Edges,
    pending: Option<S::Item>,
    done: bool,
    /// The last poll stopped at the budget with the inner stream still ready: the time spent
    /// away since was not a quiet period, so the next poll takes an item before firing edges.
    yielded: bool,
    stats: StreamDebounceStats,
    window: Duration,
}

/// Counters of a [`Debounce`] or [`Throttle`](crate::Throttle) stream.
///
/// Invariant: `submitted == completed + skipped + queued`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures_lite::{StreamExt, stream};
/// use wrangle_debounce::DebounceStreamExt;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// rt.block_on(async {
///     let mut s = stream::iter(0..10).throttle(Duration::from_millis(5)).unwrap();
///     assert_eq!(s.next().await, Some(0)); // the leading edge
///     while s.next().await.is_some() {}
///     let stats = s.stats();
///     assert_eq!((stats.submitted, stats.completed, stats.skipped), (10, 2, 8));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StreamDebounceStats {
    /// Items taken from the inner stream.
    pub submitted: u64,
    /// Items emitted.
    pub completed: u64,
    /// Items dropped: replaced by a newer one, or left when a burst ended with no trailing
    /// edge.
    pub skipped: u64,
    /// Items waiting for an edge (0 or 1).
    pub queued: usize,
}

/// Configures a [`Debounce`] stream: its edges, maximum wait and runtime.
///
/// # Examples
///
/// See [`Debounce`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until you call `build`"]
pub struct DebounceBuilder<R = DefaultRuntime> {
    window: Duration,
    leading: bool,
    trailing: bool,
    max_wait: Option<Duration>,
    rt: Option<R>,
}

impl DebounceBuilder {
    /// A trailing debounce with this window, on the current runtime unless
    /// [`runtime`](Self::runtime) says otherwise.
    ///
    /// # Examples
    ///
    /// See [`Debounce`].
    pub fn new(window: Duration) -> Self {
        DebounceBuilder {
            window,
            leading: false,
            trailing: true,
            max_wait: None,
            rt: None,
        }
    }
}

impl<R: Runtime> DebounceBuilder<R> {
    /// Whether the first item of a burst is emitted at once (default `false`).
    ///
    /// # Examples
    ///
    /// See [`Debounce`].
    pub fn leading(mut self, on: bool) -> Self {
        self.leading = on;
        self
    }

    /// Whether the latest item of a burst is emitted when it ends (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_lite::{StreamExt, stream};
    /// use wrangle_debounce::DebounceBuilder;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// rt.block_on(async {
    ///     // Leading only: the first item of each burst, nothing else.
    ///     let out: Vec<u8> = DebounceBuilder::new(Duration::from_millis(10))
    ///         .leading(true)
    ///         .trailing(false)
    ///         .build(stream::iter([1, 2, 3]))
    ///         .unwrap()
    ///         .collect()
    ///         .await;
    ///     assert_eq!(out, [1]);
    /// });
    /// ```
    pub fn trailing(mut self, on: bool) -> Self {
        self.trailing = on;
        self
    }

    /// The longest an item can be held back by newer ones (lodash's `maxWait`); not shorter
    /// than the window.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_lite::StreamExt;
    /// use wrangle_debounce::DebounceBuilder;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// // An item every 5 ms for 100 ms never leaves a 10 ms gap; the maximum wait still lets
    /// // one through every 30 ms (at 30, 60 and 90 ms), and the last one at the end.
    /// let (tx, rx) = async_channel::unbounded();
    /// let producer = rt.spawn({
    ///     let rt = rt.clone();
    ///     async move {
    ///         for i in 0..20_u32 {
    ///             tx.send(i).await.unwrap();
    ///             rt.sleep(Duration::from_millis(5)).await;
    ///         }
    ///     }
    /// });
    /// let out: Vec<u32> = rt.block_on(
    ///     DebounceBuilder::new(Duration::from_millis(10))
    ///         .max_wait(Duration::from_millis(30))
    ///         .runtime(rt.clone())
    ///         .build(rx)
    ///         .unwrap()
    ///         .collect(),
    /// );
    /// # drop(producer);
    /// assert_eq!(out, [5, 11, 17, 19]);
    /// ```
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// The runtime whose clock and sleep the stream uses.
    ///
    /// # Examples
    ///
    /// See [`Debounce`].
    pub fn runtime<R2: Runtime>(self, rt: R2) -> DebounceBuilder<R2> {
        DebounceBuilder {
            window: self.window,
            leading: self.leading,
            trailing: self.trailing,
            max_wait: self.max_wait,
            rt: Some(rt),
        }
    }

    /// Wraps `stream`.
    ///
    /// # Examples
    ///
    /// See [`Debounce`].
    ///
    /// # Errors
    ///
    /// [`InvalidDebounceConfig::ZeroWindow`], [`InvalidDebounceConfig::OutOfRange`],
    /// [`InvalidDebounceConfig::NoEdge`] (neither leading nor trailing),
    /// [`InvalidDebounceConfig::MaxWaitBelowWindow`].
    ///
    /// # Panics
    ///
    /// Without [`runtime`](Self::runtime), if no runtime is available (see
    /// [`DefaultRuntime::current`]).
    pub fn build<S: Stream>(self, stream: S) -> Result<Debounce<S, R>, InvalidDebounceConfig> {
        check_window(self.window)?;
        if !(self.leading || self.trailing) {
            return Err(InvalidDebounceConfig::NoEdge);
        }
        if let Some(max_wait) = self.max_wait {
            check_max_wait(self.window, max_wait)?;
        }
        let rt = self.rt.unwrap_or_else(default_runtime);
        Ok(Debounce::new(
            stream,
            rt,
            self.window,
            Edges::new(self.window, self.max_wait, self.leading, self.trailing),
        ))
    }
}

impl<S: Stream, R: Runtime> Debounce<S, R> {
    pub(crate) fn new(stream: S, rt: R, window: Duration, edges: Edges) -> Self {
        Debounce {
            stream,
            sleep: None,
            rt,
            edges,
            pending: None,
            done: false,
            yielded: false,
            stats: StreamDebounceStats::default(),
            window,
        }
    }

    /// A snapshot of the counters.
    ///
    /// # Examples
    ///
    /// See [`StreamDebounceStats`].
    #[must_use]
    pub fn stats(&self) -> StreamDebounceStats {
        StreamDebounceStats {
            queued: usize::from(self.pending.is_some()),
            ..self.stats
        }
    }

    /// The inner stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_lite::{Stream, stream};
    /// use wrangle_debounce::DebounceStreamExt;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let s = stream::iter([1, 2]).debounce(Duration::from_millis(1)).unwrap();
    ///     assert_eq!(s.get_ref().size_hint(), (2, Some(2)));
    /// });
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.stream
    }
}

impl<S: Stream, R: Runtime> Stream for Debounce<S, R> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut this = self.project();
        loop {
            let now = this.rt.now();
            let mut budget = BUDGET;
            loop {
                // An edge due by now fires before any item that arrives now (unless we only
                // yielded with items still ready: then the burst never paused).
                if let Some(at) = this.edges.timer().filter(|&at| at <= now && !*this.yielded) {
                    if this.edges.expire(at) {
                        this.stats.completed += 1;
                        return Poll::Ready(this.pending.take());
                    }
                    if !this.edges.has_args() && this.pending.take().is_some() {
                        this.stats.skipped += 1;
                    }
                    continue;
                }
                if *this.done {
                    if this.edges.flush(now) {
                        this.stats.completed += 1;
                        return Poll::Ready(this.pending.take());
                    }
                    if this.pending.take().is_some() {
                        this.stats.skipped += 1;
                    }
                    return Poll::Ready(None);
                }
                let next = this.stream.as_mut().poll_next(cx);
                *this.yielded = false;
                match next {
                    Poll::Ready(Some(item)) => {
                        this.stats.submitted += 1;
                        if this.pending.replace(item).is_some() {
                            this.stats.skipped += 1;
                        }
                        if this.edges.call(now) {
                            this.stats.completed += 1;
                            return Poll::Ready(this.pending.take());
                        }
                        budget -= 1;
                        if budget == 0 {
                            *this.yielded = true;
                            cx.waker().wake_by_ref();
                            return Poll::Pending;
                        }
                    }
                    Poll::Ready(None) => *this.done = true,
                    Poll::Pending => break,
                }
            }
            let Some(at) = this.edges.timer() else {
                return Poll::Pending;
            };
            let sleep = match this.sleep {
                Some(sleep) => {
                    if sleep.deadline() != at {
                        sleep.as_mut().reset(at);
                    }
                    sleep
                }
                None => this.sleep.insert(Box::pin(this.rt.sleep_until(at))),
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The edge passed while we were busy: go round again and fire it.
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (_, upper) = self.stream.size_hint();
        let waiting = usize::from(self.pending.is_some());
        (0, upper.and_then(|u| u.checked_add(waiting)))
    }
}

/// Terminated once the inner stream ended and the item it left waiting, if any, was yielded
/// (or dropped, without a trailing edge): the next poll returns `None`. The inner stream is
/// not polled again after its end.
impl<S: Stream, R: Runtime> futures_core::stream::FusedStream for Debounce<S, R> {
    fn is_terminated(&self) -> bool {
        self.done && self.pending.is_none()
    }
}

impl<S: Stream, R: Runtime> fmt::Debug for Debounce<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Debounce")
            .field("window", &self.window)
            .field("edges", &self.edges)
            .field("waiting", &self.pending.is_some())
            .field("done", &self.done)
            .field("runtime", &self.rt.name())
            .finish()
    }
}

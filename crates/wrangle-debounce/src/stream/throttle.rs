//! [`Throttle`]: lodash's `throttle` as a stream adaptor.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::Stream;
use pin_project::pin_project;
use wrangle_rt::{DefaultRuntime, Runtime};

use crate::debouncer::default_runtime;
use crate::lodash::Edges;
use crate::stream::{Debounce, StreamDebounceStats};
use crate::{InvalidDebounceConfig, check_window};

/// A stream that lets at most one item through per window (lodash's `throttle`: a debounce
/// whose maximum wait is its window). Made by
/// [`DebounceStreamExt::throttle`](crate::DebounceStreamExt::throttle) or a
/// [`ThrottleBuilder`].
///
/// By default the first item of a burst goes through at once (leading edge) and the latest
/// item of each window after it at the window's end (trailing edge); an item still waiting
/// when the inner stream ends is emitted at once. One resettable sleep, moved once per window
/// at most.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures_lite::StreamExt;
/// use wrangle_debounce::DebounceStreamExt;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// rt.block_on(async {
///     let (tx, rx) = async_channel::unbounded();
///     let producer = rt.spawn({
///         let rt = rt.clone();
///         async move {
///             for i in 0..10_u32 {
///                 tx.send(i).await.unwrap(); // an item every 4 ms
///                 rt.sleep(Duration::from_millis(4)).await;
///             }
///         }
///     });
///     let mut out = std::pin::pin!(rx.throttle(Duration::from_millis(10)).unwrap());
///     let mut seen = Vec::new();
///     while let Some(i) = out.next().await {
///         seen.push((i, (rt.now() - start).as_millis()));
///     }
///     producer.await.unwrap();
///     // At most one per 10 ms: the leading 0, then the latest item of each window, and the
///     // waiting 9 when the input ends.
///     assert_eq!(seen, [(0, 0), (2, 10), (5, 20), (7, 30), (9, 40)]);
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
pub struct Throttle<S: Stream, R: Runtime = DefaultRuntime> {
    #[pin]
    inner: Debounce<S, R>,
}

/// Configures a [`Throttle`] stream: its edges and runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures_lite::{StreamExt, stream};
/// use wrangle_debounce::ThrottleBuilder;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// rt.block_on(async {
///     // Trailing only: each window's latest item at its end, nothing at once.
///     let out: Vec<u8> = ThrottleBuilder::new(Duration::from_millis(10))
///         .leading(false)
///         .build(stream::iter([1, 2, 3]))
///         .unwrap()
///         .collect()
///         .await;
///     assert_eq!(out, [3]);
/// });
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until you call `build`"]
pub struct ThrottleBuilder<R = DefaultRuntime> {
    window: Duration,
    leading: bool,
    trailing: bool,
    rt: Option<R>,
}

impl ThrottleBuilder {
    /// A leading and trailing throttle with this window, on the current runtime unless
    /// [`runtime`](Self::runtime) says otherwise.
    ///
    /// # Examples
    ///
    /// See [`ThrottleBuilder`].
    pub fn new(window: Duration) -> Self {
        ThrottleBuilder {
            window,
            leading: true,
            trailing: true,
            rt: None,
        }
    }
}

impl<R: Runtime> ThrottleBuilder<R> {
    /// Whether the first item of a burst goes through at once (default `true`).
    ///
    /// # Examples
    ///
    /// See [`ThrottleBuilder`].
    pub fn leading(mut self, on: bool) -> Self {
        self.leading = on;
        self
    }

    /// Whether each window's latest item goes through at its end (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_lite::{StreamExt, stream};
    /// use wrangle_debounce::ThrottleBuilder;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let out: Vec<u8> = ThrottleBuilder::new(Duration::from_millis(10))
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

    /// The runtime whose clock and sleep the stream uses.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_debounce::ThrottleBuilder;
    ///
    /// let b = ThrottleBuilder::new(Duration::from_millis(10)).runtime(wrangle_rt::VirtualRuntime::new());
    /// # drop(b);
    /// ```
    pub fn runtime<R2: Runtime>(self, rt: R2) -> ThrottleBuilder<R2> {
        ThrottleBuilder {
            window: self.window,
            leading: self.leading,
            trailing: self.trailing,
            rt: Some(rt),
        }
    }

    /// Wraps `stream`.
    ///
    /// # Examples
    ///
    /// See [`ThrottleBuilder`].
    ///
    /// # Errors
    ///
    /// [`InvalidDebounceConfig::ZeroWindow`], [`InvalidDebounceConfig::OutOfRange`],
    /// [`InvalidDebounceConfig::NoEdge`] (neither leading nor trailing).
    ///
    /// # Panics
    ///
    /// Without [`runtime`](Self::runtime), if no runtime is available (see
    /// [`DefaultRuntime::current`]).
    pub fn build<S: Stream>(self, stream: S) -> Result<Throttle<S, R>, InvalidDebounceConfig> {
        check_window(self.window)?;
        if !(self.leading || self.trailing) {
            return Err(InvalidDebounceConfig::NoEdge);
        }
        let rt = self.rt.unwrap_or_else(default_runtime);
        let edges = Edges::new(self.window, Some(self.window), self.leading, self.trailing);
        Ok(Throttle {
            inner: Debounce::new(stream, rt, self.window, edges),
        })
    }
}

impl<S: Stream, R: Runtime> Throttle<S, R> {
    /// A snapshot of the counters.
    ///
    /// # Examples
    ///
    /// See [`StreamDebounceStats`].
    #[must_use]
    pub fn stats(&self) -> StreamDebounceStats {
        self.inner.stats()
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
    ///     let s = stream::iter([1, 2]).throttle(Duration::from_millis(1)).unwrap();
    ///     assert_eq!(s.get_ref().size_hint(), (2, Some(2)));
    /// });
    /// ```
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }
}

impl<S: Stream, R: Runtime> Stream for Throttle<S, R> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.project().inner.poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Terminated once the inner stream ended and the item it left waiting, if any, was yielded:
/// the next poll returns `None`.
impl<S: Stream, R: Runtime> futures_core::stream::FusedStream for Throttle<S, R> {
    fn is_terminated(&self) -> bool {
        futures_core::stream::FusedStream::is_terminated(&self.inner)
    }
}

impl<S: Stream, R: Runtime> fmt::Debug for Throttle<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Throttle").field(&self.inner).finish()
    }
}

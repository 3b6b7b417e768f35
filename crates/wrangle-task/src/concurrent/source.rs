//! Where the concurrent runners take their futures from.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::Stream;
use pin_project::pin_project;

mod sealed {
    pub trait Sealed {}
}

/// A source of futures for [`Concurrent`](crate::Concurrent) and
/// [`ConcurrentInline`](crate::ConcurrentInline): an iterator ([`IterSource`]), a stream
/// ([`StreamSource`]) or a fallible stream ([`TryStreamSource`]).
///
/// The futures return `Result<Ok, Error>`; a fallible stream fails with the same `Error` type.
/// This trait is sealed; the runners' constructors build the sources.
pub trait Source: sealed::Sealed {
    /// What a future returns on success.
    type Ok;
    /// What a future (or a fallible input stream) fails with.
    type Error;
    /// The futures.
    type Future: Future<Output = Result<Self::Ok, Self::Error>>;

    /// The next future, an input error, or `None` at the end.
    #[doc(hidden)]
    fn poll_next_future(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Self::Future, Self::Error>>>;
}

/// A [`Source`] over an iterator of futures.
#[pin_project]
pub struct IterSource<I> {
    iter: I,
}

impl<I> IterSource<I> {
    pub(crate) fn new(iter: I) -> Self {
        IterSource { iter }
    }
}

impl<I> fmt::Debug for IterSource<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterSource").finish_non_exhaustive()
    }
}

impl<I> sealed::Sealed for IterSource<I> {}

impl<I, F, T, E> Source for IterSource<I>
where
    I: Iterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    type Ok = T;
    type Error = E;
    type Future = F;

    fn poll_next_future(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<F, E>>> {
        Poll::Ready(self.project().iter.next().map(Ok))
    }
}

/// A [`Source`] over a stream of futures.
#[pin_project]
pub struct StreamSource<S> {
    #[pin]
    stream: S,
}

impl<S> StreamSource<S> {
    pub(crate) fn new(stream: S) -> Self {
        StreamSource { stream }
    }
}

impl<S> fmt::Debug for StreamSource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSource").finish_non_exhaustive()
    }
}

impl<S> sealed::Sealed for StreamSource<S> {}

impl<S, F, T, E> Source for StreamSource<S>
where
    S: Stream<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    type Ok = T;
    type Error = E;
    type Future = F;

    fn poll_next_future(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<F, E>>> {
        self.project().stream.poll_next(cx).map(|item| item.map(Ok))
    }
}

/// A [`Source`] over a stream of `Result<future, error>`; an error ends the run.
#[pin_project]
pub struct TryStreamSource<S> {
    #[pin]
    stream: S,
}

impl<S> TryStreamSource<S> {
    pub(crate) fn new(stream: S) -> Self {
        TryStreamSource { stream }
    }
}

impl<S> fmt::Debug for TryStreamSource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryStreamSource").finish_non_exhaustive()
    }
}

impl<S> sealed::Sealed for TryStreamSource<S> {}

impl<S, F, T, E> Source for TryStreamSource<S>
where
    S: Stream<Item = Result<F, E>>,
    F: Future<Output = Result<T, E>>,
{
    type Ok = T;
    type Error = E;
    type Future = F;

    fn poll_next_future(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<F, E>>> {
        self.project().stream.poll_next(cx)
    }
}

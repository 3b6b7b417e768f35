//! The named futures of this crate.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;
use wrangle_rt::{BoxError, DefaultRuntime, PanicPayload, Runtime};

use crate::error::LoadError;
use crate::finish::{Fallible, Plain};
use crate::flow::{Flow, FnInit};
use crate::inner::Inner;
use crate::memo::finish::{CallFinish, LoadFn, MemoInit};

type PlainFlow<'a, K, V, R, F> = Flow<&'a Inner<K, V, R>, K, V, R, FnInit<F>, Plain>;
type FallibleFlow<'a, K, V, R, F, E> = Flow<&'a Inner<K, V, R>, K, V, R, FnInit<F>, Fallible<E>>;
pub(crate) type CallFlow<'a, A, K, T, E, R> = Flow<
    &'a Inner<K, Result<T, E>, R>,
    K,
    Result<T, E>,
    R,
    MemoInit<&'a LoadFn<A, T, E>, A>,
    CallFinish<'a, A, K, T, E, R>,
>;

/// The future of [`Cache::get_or_insert_with`](crate::Cache::get_or_insert_with).
///
/// # Cancel safety
///
/// Cancel-safe: dropping a waiter loses nothing; dropping the caller that runs the load
/// hands the load over to the waiters.
#[must_use = "futures do nothing unless you .await or poll them"]
#[pin_project]
pub struct GetOrInsertWith<'a, K, V, R, F, Fut>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: FnOnce() -> Fut,
    Fut: Future,
{
    #[pin]
    flow: PlainFlow<'a, K, V, R, F>,
}

impl<'a, K, V, R, F, Fut> GetOrInsertWith<'a, K, V, R, F, Fut>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: FnOnce() -> Fut,
    Fut: Future,
{
    pub(crate) fn new(flow: PlainFlow<'a, K, V, R, F>) -> Self {
        GetOrInsertWith { flow }
    }
}

impl<K, V, R, F, Fut> Future for GetOrInsertWith<'_, K, V, R, F, Fut>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: FnOnce() -> Fut,
    Fut: Future<Output = V>,
{
    type Output = Result<V, PanicPayload>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut flow = self.project().flow;
        match flow.as_mut().poll_hit() {
            Some(output) => Poll::Ready(output),
            None => flow.poll(cx),
        }
    }
}

impl<K, V, R, F, Fut> fmt::Debug for GetOrInsertWith<'_, K, V, R, F, Fut>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: FnOnce() -> Fut,
    Fut: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GetOrInsertWith").field(&self.flow).finish()
    }
}

/// The future of [`Cache::try_get_or_insert_with`](crate::Cache::try_get_or_insert_with).
///
/// # Cancel safety
///
/// Cancel-safe, as [`GetOrInsertWith`].
#[must_use = "futures do nothing unless you .await or poll them"]
#[pin_project]
pub struct TryGetOrInsertWith<'a, K, V, R, F, Fut, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: FnOnce() -> Fut,
    Fut: Future,
{
    #[pin]
    flow: FallibleFlow<'a, K, V, R, F, E>,
}

impl<'a, K, V, R, F, Fut, E> TryGetOrInsertWith<'a, K, V, R, F, Fut, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: FnOnce() -> Fut,
    Fut: Future,
{
    pub(crate) fn new(flow: FallibleFlow<'a, K, V, R, F, E>) -> Self {
        TryGetOrInsertWith { flow }
    }
}

impl<K, V, R, F, Fut, E> Future for TryGetOrInsertWith<'_, K, V, R, F, Fut, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<V, E>>,
    E: Clone + Send + Sync + 'static,
{
    type Output = Result<V, LoadError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut flow = self.project().flow;
        match flow.as_mut().poll_hit() {
            Some(output) => Poll::Ready(output),
            None => flow.poll(cx),
        }
    }
}

impl<K, V, R, F, Fut, E> fmt::Debug for TryGetOrInsertWith<'_, K, V, R, F, Fut, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: FnOnce() -> Fut,
    Fut: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TryGetOrInsertWith")
            .field(&self.flow)
            .finish()
    }
}

/// The future of [`Memoized::call`](crate::Memoized::call) and
/// [`Memoized::start`](crate::Memoized::start).
///
/// # Cancel safety
///
/// Cancel-safe: dropping a waiter loses nothing; dropping the caller that runs the function
/// hands the run over to the waiters; a preemptive run goes on in its task.
#[must_use = "futures do nothing unless you .await or poll them"]
#[pin_project]
pub struct Call<'a, A, K, T, E, R = DefaultRuntime>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
    R: Runtime,
{
    #[pin]
    state: CallState<'a, A, K, T, E, R>,
}

#[pin_project(project = CallStateProj)]
enum CallState<'a, A, K, T, E, R>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
    R: Runtime,
{
    Flow(#[pin] CallFlow<'a, A, K, T, E, R>),
    /// The key function panicked: nothing to run.
    KeyPanicked(Option<PanicPayload>),
}

impl<'a, A, K, T, E, R> Call<'a, A, K, T, E, R>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
    R: Runtime,
{
    pub(crate) fn new(flow: CallFlow<'a, A, K, T, E, R>) -> Self {
        Call {
            state: CallState::Flow(flow),
        }
    }

    pub(crate) fn panicked(payload: PanicPayload) -> Self {
        Call {
            state: CallState::KeyPanicked(Some(payload)),
        }
    }
}

impl<A, K, T, E, R> Future for Call<'_, A, K, T, E, R>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
    R: Runtime,
{
    type Output = Result<T, LoadError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            CallStateProj::Flow(mut flow) => match flow.as_mut().poll_hit() {
                Some(output) => Poll::Ready(output),
                None => flow.poll(cx),
            },
            CallStateProj::KeyPanicked(payload) => Poll::Ready(Err(LoadError::Panicked(
                payload.take().expect("`Call` polled after completion"),
            ))),
        }
    }
}

impl<A, K, T, E, R> fmt::Debug for Call<'_, A, K, T, E, R>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
    R: Runtime,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            CallState::Flow(flow) => f.debug_tuple("Call").field(flow).finish(),
            CallState::KeyPanicked(_) => f.write_str("Call(key panicked)"),
        }
    }
}

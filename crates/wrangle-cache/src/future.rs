//! The named futures of this crate.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;
use wrangle_rt::{PanicPayload, Runtime};

use crate::error::LoadError;
use crate::finish::{Fallible, Plain};
use crate::flow::Flow;
use crate::inner::Inner;



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
{
    #[pin]
    flow: Flow<&'a Inner<K, V, R>, K, V, R, F, Fut, Plain>,
}

impl<'a, K, V, R, F, Fut> GetOrInsertWith<'a, K, V, R, F, Fut>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    pub(crate) fn new(flow: Flow<&'a Inner<K, V, R>, K, V, R, F, Fut, Plain>) -> Self {
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().flow.poll(cx)
    }
}

impl<K, V, R, F, Fut> fmt::Debug for GetOrInsertWith<'_, K, V, R, F, Fut>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
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
{
    #[pin]
    flow: Flow<&'a Inner<K, V, R>, K, V, R, F, Fut, Fallible<E>>,
}

impl<'a, K, V, R, F, Fut, E> TryGetOrInsertWith<'a, K, V, R, F, Fut, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    pub(crate) fn new(flow: Flow<&'a Inner<K, V, R>, K, V, R, F, Fut, Fallible<E>>) -> Self {
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().flow.poll(cx)
    }
}

impl<K, V, R, F, Fut, E> fmt::Debug for TryGetOrInsertWith<'_, K, V, R, F, Fut, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TryGetOrInsertWith").field(&self.flow).finish()
    }
}


//! The named futures of [`TaskSet`]: [`JoinNext`], [`JoinNextWithId`] and [`Drain`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{JoinError, Runtime};

use crate::{TaskId, TaskSet};

/// The future of [`TaskSet::join_next`].
///
/// # Cancel safety
///
/// Cancel safe: dropping it loses no output.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct JoinNext<'a, T, R: Runtime> {
    pub(crate) set: &'a mut TaskSet<T, R>,
}

impl<T, R: Runtime> fmt::Debug for JoinNext<'_, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinNext").field("set", &*self.set).finish()
    }
}

impl<T: Send + 'static, R: Runtime> Future for JoinNext<'_, T, R> {
    type Output = Option<Result<T, JoinError>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.set.poll_join_next(cx)
    }
}

/// The future of [`TaskSet::join_next_with_id`].
///
/// # Cancel safety
///
/// Cancel safe: dropping it loses no output.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct JoinNextWithId<'a, T, R: Runtime> {
    pub(crate) set: &'a mut TaskSet<T, R>,
}

impl<T, R: Runtime> fmt::Debug for JoinNextWithId<'_, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinNextWithId")
            .field("set", &*self.set)
            .finish()
    }
}

impl<T: Send + 'static, R: Runtime> Future for JoinNextWithId<'_, T, R> {
    type Output = Option<(TaskId, Result<T, JoinError>)>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.set.poll_join_next_with_id(cx)
    }
}

/// The future of [`TaskSet::shutdown`], [`TaskSet::shutdown_timeout`] and
/// [`TaskSet::cancel`]: joins every task of the set, and resolves to their outcomes in
/// completion order.
///
/// # Cancel safety
///
/// Dropping it drops the outcomes collected so far; the tasks not joined yet stay in the set.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Drain<'a, T, R: Runtime> {
    pub(crate) set: &'a mut TaskSet<T, R>,
    pub(crate) deadline: Option<Pin<Box<R::Sleep>>>,
    pub(crate) outputs: Vec<Result<T, JoinError>>,
}

impl<T, R: Runtime> fmt::Debug for Drain<'_, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("set", &*self.set)
            .field("deadline", &self.deadline)
            .field("collected", &self.outputs.len())
            .finish()
    }
}

// The sleep is boxed and the outputs are only moved: nothing is pinned in place.
impl<T, R: Runtime> Unpin for Drain<'_, T, R> {}

impl<T: Send + 'static, R: Runtime> Future for Drain<'_, T, R> {
    type Output = Vec<Result<T, JoinError>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match this.set.poll_join_next(cx) {
                Poll::Ready(Some(out)) => this.outputs.push(out),
                Poll::Ready(None) => return Poll::Ready(std::mem::take(&mut this.outputs)),
                Poll::Pending => {
                    if let Some(d) = this.deadline.as_mut()
                        && d.as_mut().poll(cx).is_ready()
                    {
                        this.deadline = None;
                        this.set.abort_all();
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

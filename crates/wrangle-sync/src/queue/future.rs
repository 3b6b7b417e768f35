//! The futures and permit of [`DualQueue`]: [`Put`], [`Get`], [`Reserve`], [`PutPermit`],
//! [`Join`], [`Closed`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::waiters::{Reg, WakeBy};
use super::{DualQueue, GetError, PutError, QueueClosed, TryPutError};

/// Which waiter list a [`Waiter`] is registered in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Get,
    Put,
    Join,
    Closed,
}

/// A waiter's registration in one of a queue's waiter lists; dropping it deregisters it (and
/// passes on a wake-up it had received and not used).
pub(crate) struct Waiter<'a, T> {
    pub(crate) queue: &'a DualQueue<T>,
    side: Side,
    /// Its entry in the list, while registered.
    pub(crate) key: Option<usize>,
}

impl<'a, T> Waiter<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>, side: Side) -> Self {
        Waiter {
            queue,
            side,
            key: None,
        }
    }

    /// The registration for an operation polled with `cx`.
    fn reg<'r>(&'r mut self, cx: &'r Context<'_>) -> Reg<'r> {
        Reg::Wait(&mut self.key, WakeBy::Task(cx.waker()))
    }
}

impl<T> Drop for Waiter<'_, T> {
    fn drop(&mut self) {
        if self.key.is_some() {
            self.queue.cancel(self.side, &mut self.key);
        }
    }
}

/// The future of [`DualQueue::put`].
///
/// # Cancel safety
///
/// Dropped before completion, it drops its item and leaves the queue unchanged; a wake-up it
/// had received passes to the next waiter. Use [`DualQueue::reserve`] to keep the item.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Put<'a, T> {
    item: Option<T>,
    waiter: Waiter<'a, T>,
}

impl<'a, T> Put<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>, item: T) -> Self {
        Put {
            item: Some(item),
            waiter: Waiter::new(queue, Side::Put),
        }
    }
}

impl<T> Unpin for Put<'_, T> {}

impl<T> Future for Put<'_, T> {
    type Output = Result<(), PutError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let item = this.item.take().expect("`Put` polled after completion");
        let queue = this.waiter.queue;
        match queue.put_inner(item, this.waiter.reg(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(TryPutError::Full(t)) => {
                this.item = Some(t);
                Poll::Pending
            }
            Err(TryPutError::Closed(t)) => Poll::Ready(Err(PutError(t))),
        }
    }
}

impl<T> fmt::Debug for Put<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("waiting", &self.waiter.key.is_some())
            .finish_non_exhaustive()
    }
}

/// The future of [`DualQueue::get`].
///
/// # Cancel safety
///
/// Cancel-safe: an item is taken only when it completes; a wake-up it had received passes to
/// the next waiter.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Get<'a, T> {
    waiter: Waiter<'a, T>,
}

impl<'a, T> Get<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>) -> Self {
        Get {
            waiter: Waiter::new(queue, Side::Get),
        }
    }
}

impl<T> Future for Get<'_, T> {
    type Output = Result<T, QueueClosed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let queue = self.waiter.queue;
        match queue.get_inner(self.waiter.reg(cx)) {
            Ok(item) => Poll::Ready(Ok(item)),
            Err(GetError::Empty) => Poll::Pending,
            Err(GetError::Closed) => Poll::Ready(Err(QueueClosed(()))),
        }
    }
}

impl<T> fmt::Debug for Get<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("waiting", &self.waiter.key.is_some())
            .finish_non_exhaustive()
    }
}

/// The future of [`DualQueue::reserve`].
///
/// # Cancel safety
///
/// Cancel-safe: no item is involved, and a wake-up it had received passes on.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Reserve<'a, T> {
    waiter: Waiter<'a, T>,
}

impl<'a, T> Reserve<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>) -> Self {
        Reserve {
            waiter: Waiter::new(queue, Side::Put),
        }
    }
}

impl<'a, T> Future for Reserve<'a, T> {
    type Output = Result<PutPermit<'a, T>, QueueClosed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let queue = self.waiter.queue;
        match queue.reserve_inner(self.waiter.reg(cx)) {
            Ok(()) => Poll::Ready(Ok(PutPermit { queue: Some(queue) })),
            Err(TryPutError::Full(())) => Poll::Pending,
            Err(TryPutError::Closed(())) => Poll::Ready(Err(QueueClosed(()))),
        }
    }
}

impl<T> fmt::Debug for Reserve<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve")
            .field("waiting", &self.waiter.key.is_some())
            .finish_non_exhaustive()
    }
}

/// A reserved slot of a [`DualQueue`]; dropping it unused gives the slot back.
#[must_use = "the slot is given back as soon as this is dropped"]
pub struct PutPermit<'a, T> {
    queue: Option<&'a DualQueue<T>>,
}

impl<T> PutPermit<'_, T> {
    /// Puts `item` into the reserved slot. Never waits and never fails, even if the queue
    /// was closed since the slot was reserved (getters drain it).
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let q = wrangle_sync::DualQueue::unbounded();
    ///     q.reserve().await.unwrap().put("x");
    ///     assert_eq!(q.try_get(), Ok("x"));
    /// });
    /// ```
    pub fn put(mut self, item: T) {
        if let Some(q) = self.queue.take() {
            q.fill_reserved(item);
        }
    }
}

impl<T> Drop for PutPermit<'_, T> {
    fn drop(&mut self) {
        if let Some(q) = self.queue.take() {
            q.release_reserved();
        }
    }
}

impl<T> fmt::Debug for PutPermit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutPermit").finish_non_exhaustive()
    }
}

/// The future of [`DualQueue::join`].
///
/// # Cancel safety
///
/// Cancel-safe: waiting changes nothing.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Join<'a, T> {
    waiter: Waiter<'a, T>,
}

impl<'a, T> Join<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>) -> Self {
        Join {
            waiter: Waiter::new(queue, Side::Join),
        }
    }
}

impl<T> Future for Join<'_, T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let queue = self.waiter.queue;
        if queue.join_inner(self.waiter.reg(cx)) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<T> fmt::Debug for Join<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").finish_non_exhaustive()
    }
}

/// The future of [`DualQueue::closed`] (and of the sending and receiving handles' `closed`).
///
/// # Cancel safety
///
/// Cancel-safe: waiting changes nothing.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Closed<'a, T> {
    waiter: Waiter<'a, T>,
}

impl<'a, T> Closed<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>) -> Self {
        Closed {
            waiter: Waiter::new(queue, Side::Closed),
        }
    }
}

impl<T> Future for Closed<'_, T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let queue = self.waiter.queue;
        if queue.closed_inner(self.waiter.reg(cx)) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<T> fmt::Debug for Closed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closed")
            .field("waiting", &self.waiter.key.is_some())
            .finish_non_exhaustive()
    }
}

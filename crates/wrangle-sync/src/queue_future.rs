//! The futures and permit of [`DualQueue`]: [`Put`], [`Get`], [`Reserve`], [`PutPermit`],
//! [`Join`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use event_listener::EventListener;

use crate::{DualQueue, GetError, QueueClosed, TryPutError};

/// Which waiters a [`Waiting`] counts as.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Get,
    Put,
}

/// A waiter's listener on one side of a queue, counted while it exists.
pub(crate) struct Waiting<'a, T> {
    queue: &'a DualQueue<T>,
    side: Side,
    pub(crate) listener: Option<EventListener>,
    registered: bool,
}

impl<'a, T> Waiting<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>, side: Side) -> Self {
        Waiting {
            queue,
            side,
            listener: None,
            registered: false,
        }
    }

    /// Starts listening; the caller retries its operation once more before waiting.
    pub(crate) fn arm(&mut self) {
        self.listener = Some(self.queue.listen(self.side));
    }

    /// The registration flag to pass to the queue's next operation: counted only once a
    /// listener exists (or it was counted before), so a notification always finds it.
    pub(crate) fn registration(&mut self) -> Option<&mut bool> {
        (self.listener.is_some() || self.registered).then_some(&mut self.registered)
    }

    /// Arms the listener if needed (ready at once, to retry), else waits for it.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.listener {
            None => {
                self.arm();
                Poll::Ready(())
            }
            Some(l) => {
                ready!(Pin::new(l).poll(cx));
                self.listener = None;
                Poll::Ready(())
            }
        }
    }
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        // Drop the listener first: a notification it holds passes to the next waiter while
        // this one is still counted.
        self.listener = None;
        self.queue.unregister(self.side, &mut self.registered);
    }
}

/// Polls `listener` if armed; otherwise arms it (the caller then retries its operation once
/// more before waiting, so no notification between the try and the listen is missed).
fn wait_on(
    listener: &mut Option<EventListener>,
    event: &event_listener::Event,
    cx: &mut Context<'_>,
) -> Poll<()> {
    match listener {
        None => {
            *listener = Some(event.listen());
            Poll::Ready(())
        }
        Some(l) => {
            ready!(Pin::new(l).poll(cx));
            *listener = None;
            Poll::Ready(())
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
    queue: &'a DualQueue<T>,
    item: Option<T>,
    waiting: Waiting<'a, T>,
}

impl<'a, T> Put<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>, item: T) -> Self {
        Put {
            queue,
            item: Some(item),
            waiting: Waiting::new(queue, Side::Put),
        }
    }
}

impl<T> Unpin for Put<'_, T> {}

impl<T> Future for Put<'_, T> {
    type Output = Result<(), TryPutError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            let item = this.item.take().expect("`Put` polled after completion");
            match this.queue.put_inner(item, this.waiting.registration()) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(TryPutError::Closed(t)) => return Poll::Ready(Err(TryPutError::Closed(t))),
                Err(TryPutError::Full(t)) => this.item = Some(t),
            }
            ready!(this.waiting.poll(cx));
        }
    }
}

impl<T> fmt::Debug for Put<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("waiting", &self.waiting.listener.is_some())
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
    queue: &'a DualQueue<T>,
    waiting: Waiting<'a, T>,
}

impl<'a, T> Get<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>) -> Self {
        Get {
            queue,
            waiting: Waiting::new(queue, Side::Get),
        }
    }
}

impl<T> Future for Get<'_, T> {
    type Output = Result<T, GetError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match this.queue.get_inner(this.waiting.registration()) {
                Err(GetError::Empty) => {}
                other => return Poll::Ready(other),
            }
            ready!(this.waiting.poll(cx));
        }
    }
}

impl<T> fmt::Debug for Get<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("waiting", &self.waiting.listener.is_some())
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
    queue: &'a DualQueue<T>,
    waiting: Waiting<'a, T>,
}

impl<'a, T> Reserve<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>) -> Self {
        Reserve {
            queue,
            waiting: Waiting::new(queue, Side::Put),
        }
    }
}

impl<'a, T> Future for Reserve<'a, T> {
    type Output = Result<PutPermit<'a, T>, QueueClosed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match this.queue.reserve_inner(this.waiting.registration()) {
                Ok(()) => {
                    return Poll::Ready(Ok(PutPermit {
                        queue: Some(this.queue),
                    }));
                }
                Err(TryPutError::Closed(())) => return Poll::Ready(Err(QueueClosed(()))),
                Err(TryPutError::Full(())) => {}
            }
            ready!(this.waiting.poll(cx));
        }
    }
}

impl<T> fmt::Debug for Reserve<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve")
            .field("waiting", &self.waiting.listener.is_some())
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
    queue: &'a DualQueue<T>,
    listener: Option<EventListener>,
}

impl<'a, T> Join<'a, T> {
    pub(crate) fn new(queue: &'a DualQueue<T>) -> Self {
        Join {
            queue,
            listener: None,
        }
    }
}

impl<T> Future for Join<'_, T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            if this.queue.unfinished() == 0 {
                return Poll::Ready(());
            }
            ready!(wait_on(
                &mut this.listener,
                &this.queue.events().all_done,
                cx
            ));
        }
    }
}

impl<T> fmt::Debug for Join<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").finish_non_exhaustive()
    }
}

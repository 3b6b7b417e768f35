//! The futures of [`PrioritySemaphore`]: [`Acquire`] and [`AcquireOwned`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::error::AcquireFailure;
use super::{
    AcquireError, OwnedSemaphorePermit, Priority, PrioritySemaphore, SemaphorePermit, Ticket,
    WaitPoll,
};

/// Where one waiter stands; shared by the borrowed and owned futures.
#[derive(Debug)]
struct Waiting {
    n: usize,
    priority: Option<Priority>,
    key: Option<Ticket>,
    done: bool,
}

impl Waiting {
    fn new(n: usize) -> Self {
        Waiting {
            n,
            priority: None,
            key: None,
            done: false,
        }
    }

    fn set_priority(&mut self, sem: &PrioritySemaphore, priority: Priority) {
        self.priority = Some(priority);
        if let Some(key) = self.key {
            self.key = Some(sem.requeue(key, priority));
        }
    }

    fn poll(
        &mut self,
        sem: &PrioritySemaphore,
        cx: &Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        assert!(!self.done, "`Acquire` polled after completion");
        let outcome = match self.key {
            None => match sem.start_wait(self.n, self.priority, cx.waker()) {
                Ok(None) => Ok(()),
                Ok(Some(key)) => {
                    self.key = Some(key);
                    return Poll::Pending;
                }
                Err(e) => Err(e),
            },
            Some(key) => match sem.poll_wait(key, cx.waker()) {
                WaitPoll::Granted => Ok(()),
                WaitPoll::Closed => Err(AcquireError(AcquireFailure::Closed)),
                WaitPoll::Pending => return Poll::Pending,
            },
        };
        self.done = true;
        self.key = None;
        Poll::Ready(outcome)
    }

    fn cancel(&mut self, sem: &PrioritySemaphore) {
        if let Some(key) = self.key.take() {
            sem.cancel_wait(key, self.n);
        }
    }
}

/// The future of [`PrioritySemaphore::acquire`] and [`PrioritySemaphore::acquire_many`].
///
/// It joins the queue when first polled: its arrival is the moment of that poll.
///
/// # Cancel safety
///
/// Cancel-safe. Dropping it gives up its place in the queue; if permits had already been
/// handed to it, they are returned and the next waiters are served.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Acquire<'a> {
    sem: &'a PrioritySemaphore,
    waiting: Waiting,
}

impl<'a> Acquire<'a> {
    pub(crate) fn new(sem: &'a PrioritySemaphore, n: usize) -> Self {
        Acquire {
            sem,
            waiting: Waiting::new(n),
        }
    }

    /// Waits at `priority` instead of the semaphore's default. Lower values are served first.
    ///
    /// Called on a future already queued, it moves the waiter to the new priority and keeps
    /// its arrival order among waiters of that priority.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_sync::PrioritySemaphore;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let sem = PrioritySemaphore::new(1);
    ///     let _permit = sem.acquire().priority(3).await.unwrap();
    /// });
    /// ```
    pub fn priority(mut self, priority: Priority) -> Self {
        self.waiting.set_priority(self.sem, priority);
        self
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.waiting
            .poll(this.sem, cx)
            .map_ok(|()| SemaphorePermit::new(this.sem, this.waiting.n))
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        self.waiting.cancel(self.sem);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.waiting.n)
            .field("priority", &self.waiting.priority)
            .field("queued", &self.waiting.key.is_some())
            .finish()
    }
}

/// The future of [`PrioritySemaphore::acquire_owned`] and
/// [`PrioritySemaphore::acquire_many_owned`].
///
/// # Cancel safety
///
/// Cancel-safe, as [`Acquire`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AcquireOwned {
    sem: Arc<PrioritySemaphore>,
    waiting: Waiting,
}

impl AcquireOwned {
    pub(crate) fn new(sem: Arc<PrioritySemaphore>, n: usize) -> Self {
        AcquireOwned {
            sem,
            waiting: Waiting::new(n),
        }
    }

    /// Waits at `priority` instead of the semaphore's default, as [`Acquire::priority`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wrangle_sync::PrioritySemaphore;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let sem = Arc::new(PrioritySemaphore::new(1));
    ///     let _permit = sem.acquire_owned().priority(-2).await.unwrap();
    /// });
    /// ```
    pub fn priority(mut self, priority: Priority) -> Self {
        self.waiting.set_priority(&self.sem, priority);
        self
    }
}

impl Future for AcquireOwned {
    type Output = Result<OwnedSemaphorePermit, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.waiting
            .poll(&this.sem, cx)
            .map_ok(|()| OwnedSemaphorePermit::new(Arc::clone(&this.sem), this.waiting.n))
    }
}

impl Drop for AcquireOwned {
    fn drop(&mut self) {
        self.waiting.cancel(&self.sem);
    }
}

impl fmt::Debug for AcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("permits", &self.waiting.n)
            .field("priority", &self.waiting.priority)
            .field("queued", &self.waiting.key.is_some())
            .finish()
    }
}

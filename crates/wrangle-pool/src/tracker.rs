//! The habits of tokio-util's `TaskTracker` on [`TaskPool`]: wait until the pool is empty
//! without closing it ([`TaskPool::wait_empty`]), reopen a closed pool
//! ([`TaskPool::reopen`]), count a future the pool does not run
//! ([`TaskPool::track_future`]), and the pool's cancellation token ([`TaskPool::token`]).

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use event_listener::EventListener;
use wrangle_rt::{CancellationToken, DefaultRuntime, Runtime};

use crate::pool::{Shared, TrackedCounts};
use crate::{SpawnError, TaskPool};

impl<R: Runtime> TaskPool<R> {
    /// Opens a closed pool again: it accepts tasks from now on, as before
    /// [`close`](TaskPool::close). Returns `true` if this call reopened it, `false` if it was
    /// open.
    ///
    /// Tasks queued or running when the pool was closed are not affected: a plain `close`
    /// cancelled nothing, and what [`shutdown_timeout`](TaskPool::shutdown_timeout) or
    /// dropping cancelled stays cancelled. The pool's [`token`](TaskPool::token) was cancelled
    /// by the close and stays so; the reopened pool has a fresh one.
    ///
    /// # Examples
    ///
    /// A pool closed between two batches of work, waited for, and reopened for the next
    /// (tokio-util's `TaskTracker` rhythm: `close`, `wait`, `reopen`):
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// rt.block_on(async {
    ///     for batch in 0..2 {
    ///         for _ in 0..3 {
    ///             let rt = rt.clone();
    ///             pool.spawn_detached(async move { rt.sleep(Duration::from_millis(10)).await })
    ///                 .unwrap();
    ///         }
    ///         pool.shutdown().await;
    ///         assert!(pool.spawn_detached(async {}).is_err(), "closed between batches");
    ///         assert!(pool.reopen());
    ///         assert_eq!(pool.stats().completed, 3 * (batch + 1));
    ///     }
    /// });
    /// assert!(!pool.reopen(), "open already");
    /// ```
    pub fn reopen(&self) -> bool {
        self.shared().reopen()
    }

    /// Waits until nothing is queued, running or [tracked](TaskPool::track_future), without
    /// closing the pool: new work may come in meanwhile (and is waited for too).
    ///
    /// When it resolves, the futures of the tasks that ran are gone (dropped on their
    /// workers), not only ended. A pool that is empty when this is polled resolves at once.
    /// If work keeps coming in faster than it ends, this may wait for ever: to stop new work,
    /// [`shutdown`](TaskPool::shutdown) instead.
    ///
    /// # Examples
    ///
    /// Waiting for a burst of fire-and-forget work, then using the pool again:
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::with_runtime(rt.clone(), std::num::NonZeroUsize::MIN);
    /// rt.block_on(async {
    ///     let start = rt.now();
    ///     for ms in [10, 20] {
    ///         let rt = rt.clone();
    ///         pool.spawn_detached(async move { rt.sleep(Duration::from_millis(ms)).await })
    ///             .unwrap();
    ///     }
    ///     pool.wait_empty().await;
    ///     // One slot: 10 ms, then 20 ms.
    ///     assert_eq!(rt.now() - start, Duration::from_millis(30));
    ///     assert!(!pool.is_closed());
    ///     assert_eq!(pool.run(async { "still open" }).await.unwrap(), "still open");
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits; dropping it changes nothing in the pool.
    pub fn wait_empty(&self) -> WaitEmpty<'_, R> {
        WaitEmpty {
            shared: self.shared(),
            listener: None,
        }
    }

    /// Counts `future` as a task of this pool without running it on the pool: the caller
    /// polls the returned [`TrackedFuture`] wherever it likes (inside another task, a
    /// `select!`, a `block_on`), and the pool counts it as running until it ends.
    ///
    /// - [`stats`](TaskPool::stats) counts it as `submitted`, then `running`, then once as
    ///   `completed` (it returned its output), `failed` (a poll panicked; the panic is
    ///   re-raised to the caller, whose future it is) or `cancelled` (dropped before it ended).
    /// - [`wait_empty`](TaskPool::wait_empty) and [`shutdown`](TaskPool::shutdown) wait until
    ///   it is **dropped** (tokio-util's rule: its resources are gone, not only its work).
    /// - The pool does not own it: the pool's size and timeout do not apply to it, and neither
    ///   dropping the pool nor [`shutdown_timeout`](TaskPool::shutdown_timeout) cancels it (at
    ///   its deadline, `shutdown_timeout` stops waiting for it). To stop it with the pool, race
    ///   it against the pool's [`token`](TaskPool::token).
    ///
    /// # Errors
    ///
    /// [`SpawnError`] with the future, if the pool is closed (like a spawn).
    ///
    /// # Examples
    ///
    /// Work that must stay on the current task (it borrows a local), counted with the pool's
    /// own so that a shutdown waits for it:
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_lite::future;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// rt.block_on(async {
    ///     let mut log = Vec::new();
    ///     let local = pool
    ///         .track_future(async {
    ///             rt.sleep(Duration::from_millis(5)).await;
    ///             log.push("tracked");
    ///         })
    ///         .unwrap();
    ///     assert_eq!(pool.stats().running, 1);
    ///     // Polled here, beside the pool's shutdown: the shutdown ends only after it.
    ///     future::zip(local, pool.shutdown()).await;
    ///     assert_eq!(log, ["tracked"]);
    ///     assert_eq!(pool.stats().completed, 1);
    /// });
    /// ```
    pub fn track_future<F: Future>(&self, future: F) -> Result<TrackedFuture<F, R>, SpawnError<F>> {
        let shared = self.shared();
        let mut st = shared.lock();
        if st.closed {
            return Err(SpawnError(future));
        }
        Shared::<R>::count_submitted(&mut st);
        st.tracked.live += 1;
        st.tracked.running += 1;
        drop(st);
        Ok(TrackedFuture {
            future: Some(future),
            shared: shared.clone(),
            ended: false,
        })
    }

    /// A token that is cancelled when the pool closes: by [`close`](TaskPool::close), a
    /// shutdown, or dropping the last clone of the pool. Tasks take it to notice that the
    /// pool is winding down and finish early (the pool still waits for them; nothing is
    /// forced).
    ///
    /// It is a [child](CancellationToken::child_token) of the pool's own token: cancelling it
    /// cancels only it (and its children), never the pool. A token taken after
    /// [`reopen`](TaskPool::reopen) belongs to the reopened pool; one taken before stays
    /// cancelled.
    ///
    /// # Examples
    ///
    /// A long-running loop that stops at the next iteration once the pool shuts down, so the
    /// shutdown does not wait for the loop to run out:
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let pool = wrangle_pool::TaskPool::unbounded_with_runtime(rt.clone());
    /// let token = pool.token();
    /// let poller = pool
    ///     .spawn({
    ///         let rt = rt.clone();
    ///         async move {
    ///             let mut rounds = 0;
    ///             while !token.is_cancelled() {
    ///                 rounds += 1;
    ///                 let _ = token.run_until_cancelled(rt.sleep(Duration::from_secs(1))).await;
    ///             }
    ///             rounds
    ///         }
    ///     })
    ///     .unwrap();
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     rt.sleep(Duration::from_millis(2500)).await;
    ///     pool.shutdown().await;
    ///     assert_eq!(poller.await.unwrap(), 3);
    /// });
    /// // The shutdown cut the third second short.
    /// assert_eq!(rt.now() - start, Duration::from_millis(2500));
    /// ```
    #[must_use]
    pub fn token(&self) -> CancellationToken {
        self.shared().lock().token.child_token()
    }
}

/// Future returned by [`TaskPool::wait_empty`]: resolves once nothing is queued, running or
/// tracked in the pool.
///
/// # Cancel safety
///
/// Cancel safe: it only waits; dropping it changes nothing in the pool.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct WaitEmpty<'a, R: Runtime = DefaultRuntime> {
    shared: &'a Shared<R>,
    listener: Option<EventListener>,
}

impl<R: Runtime> fmt::Debug for WaitEmpty<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitEmpty")
            .field("waiting", &self.listener.is_some())
            .finish()
    }
}

impl<R: Runtime> Future for WaitEmpty<'_, R> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(listener) = &mut self.listener {
                ready!(Pin::new(listener).poll(cx));
                self.listener = None;
            }
            // Listen before looking: the worker (or tracked future) that empties the pool
            // after the look notifies this listener.
            let listener = self.shared.emptied.listen();
            {
                let st = self.shared.lock();
                if self.shared.is_empty_locked(&st) {
                    return Poll::Ready(());
                }
            }
            self.listener = Some(listener);
        }
    }
}

/// A future counted as a task of a [`TaskPool`] while it lives; made by
/// [`TaskPool::track_future`], which says how it is counted.
///
/// It yields the inner future's output unchanged. A panic of the inner future (while polled
/// or dropped) is counted as `failed` and re-raised to the caller.
///
/// # Examples
///
/// See [`TaskPool::track_future`].
///
/// # Cancel safety
///
/// As cancel safe as the inner future. Dropping it before it ended drops the inner future
/// and counts it `cancelled`.
#[pin_project::pin_project(PinnedDrop)]
#[must_use = "futures do nothing unless you `.await` or poll them; dropping it counts as cancelled"]
pub struct TrackedFuture<F, R: Runtime = DefaultRuntime> {
    /// `None` once dropped in place (see the drop: the inner future goes first).
    #[pin]
    future: Option<F>,
    shared: Arc<Shared<R>>,
    /// Its end (completed or failed) is counted; its drop then only releases `live`.
    ended: bool,
}

impl<F, R: Runtime> fmt::Debug for TrackedFuture<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedFuture")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// How a tracked future ended.
enum TrackedEnd {
    Completed,
    Failed,
}

fn record(counts: &mut TrackedCounts, end: TrackedEnd) {
    counts.running -= 1;
    match end {
        TrackedEnd::Completed => counts.completed += 1,
        TrackedEnd::Failed => counts.failed += 1,
    }
}

impl<F: Future, R: Runtime> Future for TrackedFuture<F, R> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(future) = this.future.as_pin_mut() else {
            unreachable!("the inner future is taken only by the drop");
        };
        let polled = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
        let end = match &polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(_)) => TrackedEnd::Completed,
            Err(_) => TrackedEnd::Failed,
        };
        if !std::mem::replace(this.ended, true) {
            record(&mut this.shared.lock().tracked, end);
        }
        match polled {
            Ok(ready) => ready,
            Err(payload) => resume_unwind(payload),
        }
    }
}

#[pin_project::pinned_drop]
impl<F, R: Runtime> PinnedDrop for TrackedFuture<F, R> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        // The inner future goes first, so that whoever waits for the pool to be empty finds
        // its resources released.
        let dropped = catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
        let shared = &**this.shared;
        let mut st = shared.lock();
        if !*this.ended {
            *this.ended = true;
            match dropped {
                Ok(()) => {
                    st.tracked.running -= 1;
                    st.tracked.cancelled += 1;
                }
                Err(_) => record(&mut st.tracked, TrackedEnd::Failed),
            }
        }
        st.tracked.live -= 1;
        let drained = st.closed && st.is_drained();
        let empty = shared.is_empty_locked(&st);
        drop(st);
        if drained {
            shared.drained.notify(usize::MAX);
        }
        if empty {
            shared.emptied.notify(usize::MAX);
        }
        if let Err(payload) = dropped {
            // Re-raised as any destructor's panic would be, unless this drop is part of an
            // unwinding already (a second panic would abort the process).
            if !std::thread::panicking() {
                resume_unwind(payload);
            }
        }
    }
}

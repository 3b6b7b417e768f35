//! [`TaskSet`]: a growable set of spawned tasks, joined in completion order (tokio's `JoinSet`,
//! on every runtime).

pub(crate) mod future;
pub(crate) mod stats;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use wrangle_rt::{DefaultRuntime, JoinError, JoinHandle, Runtime};

use crate::concurrent::future_set::{BUDGET, FutureSet};
use crate::set::future::{Drain, JoinNext, JoinNextWithId};
use crate::{TaskId, TaskSetStats};

/// A set of tasks spawned on one runtime, that grows at any time and hands their outputs back
/// in **completion order**: tokio's `JoinSet`, on every wrangle runtime.
///
/// - [`spawn`](TaskSet::spawn) adds a task at any time (also between two
///   [`join_next`](TaskSet::join_next)s of a drain loop) and returns its [`TaskId`].
/// - [`join_next`](TaskSet::join_next) waits for the next task to end: its output, or a
///   [`JoinError`] if it panicked (the panic is caught: [`JoinError::Panicked`] holds the
///   [`PanicPayload`](wrangle_rt::PanicPayload)) or was cancelled; `None` once the set is empty.
///   [`try_join_next`](TaskSet::try_join_next) does not wait.
/// - [`abort`](TaskSet::abort) / [`abort_all`](TaskSet::abort_all) request cancellation and
///   never wait: aborted tasks stay in the set and come out of `join_next` as
///   [`JoinError::Cancelled`] (or with their output, if they finished first).
/// - [`cancel`](TaskSet::cancel) cancels every task and waits until all are gone (tokio's
///   `JoinSet::shutdown`); [`shutdown`](TaskSet::shutdown) lets every task finish and collects
///   the outputs (tokio's `join_all`), with [`shutdown_timeout`](TaskSet::shutdown_timeout)
///   cancelling what is left at a deadline. The set stays usable after both.
/// - [`detach_all`](TaskSet::detach_all) lets every task run on outside the set.
/// - **Dropping the set cancels every task in it** (without waiting), as tokio's does.
///
/// The set keeps the output of a finished task until it is joined, like `JoinSet` (for
/// millions of fire-and-forget tasks whose outputs nobody reads, use a
/// [`TaskScope`](crate::TaskScope), which keeps none). It has no `close`: only the owner
/// spawns (`&mut self`), so there is nobody to shut out, and `shutdown`/`cancel` borrow the
/// set until they are done.
///
/// | tokio `JoinSet` | `TaskSet` |
/// |---|---|
/// | `spawn` -> `AbortHandle` | [`spawn`](TaskSet::spawn) -> [`TaskId`], then [`abort(id)`](TaskSet::abort) |
/// | `join_next`, `join_next_with_id`, `try_join_next` | the same names; ids as a tuple |
/// | `shutdown` (abort all, wait) | [`cancel`](TaskSet::cancel) |
/// | `join_all` | [`shutdown`](TaskSet::shutdown) (panics are returned, not resumed) |
/// | `abort_all`, `detach_all`, `len`, `is_empty`, `Extend`, `FromIterator` | the same |
///
/// # Examples
///
/// A crawler that starts with one page and spawns a task per link it finds, while it drains:
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_task::TaskSet;
///
/// // A made-up site: page `n` links to pages `2n` and `2n + 1`, up to page 7.
/// fn links(page: u32) -> Vec<u32> {
///     [2 * page, 2 * page + 1].into_iter().filter(|&p| p <= 7).collect()
/// }
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// let visited = rt.block_on(async {
///     let mut set = TaskSet::with_runtime(rt.clone());
///     let fetch = |page: u32| {
///         let rt = rt.clone();
///         async move {
///             rt.sleep(Duration::from_millis(10)).await; // the download
///             page
///         }
///     };
///     set.spawn(fetch(1));
///     let mut visited = Vec::new();
///     while let Some(page) = set.join_next().await {
///         let page = page.unwrap();
///         visited.push(page);
///         for link in links(page) {
///             set.spawn(fetch(link)); // the set grows while it drains
///         }
///     }
///     visited.sort();
///     visited
/// });
/// assert_eq!(visited, [1, 2, 3, 4, 5, 6, 7]);
/// // Three levels of pages, each level downloaded concurrently.
/// assert_eq!(rt.now() - start, Duration::from_millis(30));
/// ```
pub struct TaskSet<T, R: Runtime = DefaultRuntime> {
    rt: R,
    tasks: FutureSet<Entry<T>>,
    next_id: u64,
    stats: TaskSetStats,
}

/// A task of the set, with its id.
pub(crate) struct Entry<T> {
    id: TaskId,
    handle: JoinHandle<T>,
}

// The handle is polled through `&mut`, never pinned in place.
impl<T> Unpin for Entry<T> {}

impl<T> Future for Entry<T> {
    type Output = (TaskId, Result<T, JoinError>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.id;
        Pin::new(&mut self.handle).poll(cx).map(|out| (id, out))
    }
}

impl<T, R: Runtime> fmt::Debug for TaskSet<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet")
            .field("runtime", &self.rt)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<T, R: Runtime> TaskSet<T, R> {
    /// The number of tasks in the set: running, or finished and not joined yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut set = TaskSet::with_runtime(rt.clone());
    ///     set.spawn(async {});
    ///     wrangle_rt::yield_now().await; // the task finishes...
    ///     assert_eq!(set.len(), 1); // ...and stays in the set until joined
    ///     set.join_next().await.unwrap().unwrap();
    ///     assert!(set.is_empty());
    /// });
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.tasks.pending()
    }

    /// Returns `true` if the set holds no task.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The runtime the set spawns on.
    pub fn runtime(&self) -> &R {
        &self.rt
    }

    /// The set's counters (see [`TaskSetStats`] for the invariant).
    #[must_use]
    pub fn stats(&self) -> TaskSetStats {
        TaskSetStats {
            running: self.len(),
            ..self.stats
        }
    }
}

impl<T: Send + 'static> TaskSet<T> {
    /// An empty set that spawns on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// let sum: u32 = rt.block_on(async {
    ///     let mut set = TaskSet::new();
    ///     for i in 1..=3 {
    ///         set.spawn(async move { i * 10 });
    ///     }
    ///     set.shutdown().await.into_iter().map(Result::unwrap).sum()
    /// });
    /// assert_eq!(sum, 60);
    /// ```
    ///
    /// # Panics
    ///
    /// Like [`DefaultRuntime::current`].
    #[must_use]
    pub fn new() -> Self {
        TaskSet::with_runtime(DefaultRuntime::current())
    }
}

impl<T: Send + 'static> Default for TaskSet<T> {
    fn default() -> Self {
        TaskSet::new()
    }
}

impl<T: Send + 'static, R: Runtime> TaskSet<T, R> {
    /// An empty set that spawns on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// let mut set = TaskSet::with_runtime(rt.clone());
    /// set.spawn(async { "spawned on rt, even from outside it" });
    /// assert_eq!(rt.block_on(set.join_next()).unwrap().unwrap(), "spawned on rt, even from outside it");
    /// ```
    pub fn with_runtime(rt: R) -> Self {
        TaskSet {
            rt,
            tasks: FutureSet::default(),
            next_id: 0,
            stats: TaskSetStats::default(),
        }
    }

    /// Spawns `future` on the set's runtime and adds it to the set; it starts running at once,
    /// whether or not the set is being joined. A panic of the future is caught and comes out of
    /// [`join_next`](TaskSet::join_next) as [`JoinError::Panicked`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut set = TaskSet::with_runtime(rt.clone());
    ///     set.spawn(async { 1 });
    ///     let boom = true;
    ///     set.spawn(async move {
    ///         if boom {
    ///             panic!("boom");
    ///         }
    ///         2
    ///     });
    ///     let mut panics = 0;
    ///     while let Some(out) = set.join_next().await {
    ///         if let Err(e) = out {
    ///             assert_eq!(e.into_panic().unwrap().message(), Some("boom"));
    ///             panics += 1;
    ///         }
    ///     }
    ///     assert_eq!(panics, 1);
    /// });
    /// ```
    pub fn spawn<F>(&mut self, future: F) -> TaskId
    where
        F: Future<Output = T> + Send + 'static,
    {
        let id = TaskId(self.next_id);
        self.next_id += 1;
        let handle = self.rt.spawn(future);
        self.tasks.insert(Entry { id, handle });
        self.stats.started += 1;
        id
    }

    /// Waits for the next task to end and returns its output, or `None` if the set is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// let order = rt.block_on(async {
    ///     let mut set = TaskSet::with_runtime(rt.clone());
    ///     for ms in [30u64, 10, 20] {
    ///         let rt = rt.clone();
    ///         set.spawn(async move {
    ///             rt.sleep(Duration::from_millis(ms)).await;
    ///             ms
    ///         });
    ///     }
    ///     let mut order = Vec::new();
    ///     while let Some(ms) = set.join_next().await {
    ///         order.push(ms.unwrap());
    ///     }
    ///     order
    /// });
    /// assert_eq!(order, [10, 20, 30]);
    /// ```
    ///
    /// # Errors
    ///
    /// `Some(Err(_))`: [`JoinError::Panicked`] with the task's panic, or
    /// [`JoinError::Cancelled`] if it was aborted (or its runtime dropped it).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no output is lost; the next
    /// call returns it.
    pub fn join_next(&mut self) -> JoinNext<'_, T, R> {
        JoinNext { set: self }
    }

    /// Like [`join_next`](TaskSet::join_next), with the [`TaskId`] of the task that ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut set = TaskSet::with_runtime(rt.clone());
    ///     let mut names = HashMap::new();
    ///     for name in ["alpha", "beta"] {
    ///         names.insert(set.spawn(async move { name.len() }), name);
    ///     }
    ///     while let Some((id, len)) = set.join_next_with_id().await {
    ///         assert_eq!(names[&id].len(), len.unwrap());
    ///     }
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`join_next`](TaskSet::join_next).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`join_next`](TaskSet::join_next).
    pub fn join_next_with_id(&mut self) -> JoinNextWithId<'_, T, R> {
        JoinNextWithId { set: self }
    }

    /// Returns the output of a task that has ended, if one has, without waiting.
    ///
    /// `None` when no task has ended yet, or when the set is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut set = TaskSet::with_runtime(rt.clone());
    ///     set.spawn(async { 7 });
    ///     assert!(set.try_join_next().is_none()); // not run yet
    ///     wrangle_rt::yield_now().await;
    ///     assert_eq!(set.try_join_next().unwrap().unwrap(), 7);
    /// });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id().map(|(_, out)| out)
    }

    /// Like [`try_join_next`](TaskSet::try_join_next), with the [`TaskId`].
    pub fn try_join_next_with_id(&mut self) -> Option<(TaskId, Result<T, JoinError>)> {
        let mut cx = Context::from_waker(Waker::noop());
        // One poll looks at up to `BUDGET` tasks: look at every task that woke.
        for _ in 0..=self.tasks.len() / BUDGET {
            if let Poll::Ready(out) = self.poll_join_next_with_id(&mut cx) {
                return out;
            }
        }
        None
    }

    /// Polls for the next task to end, for code that implements `Future` by hand:
    /// `Poll::Ready(None)` when the set is empty; on `Pending`, `cx`'s waker is woken when a
    /// task ends.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_with_id(cx)
            .map(|o| o.map(|(_, out)| out))
    }

    /// Like [`poll_join_next`](TaskSet::poll_join_next), with the [`TaskId`].
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(TaskId, Result<T, JoinError>)>> {
        let out = match std::task::ready!(self.tasks.poll_next(cx)) {
            None => return Poll::Ready(None),
            Some(Ok(out)) => out,
            // Polling a `JoinHandle` never panics (it catches the task's panic), and dropping a
            // finished one runs no user code.
            Some(Err(p)) => std::panic::resume_unwind(p),
        };
        match &out.1 {
            Ok(_) => self.stats.completed += 1,
            Err(JoinError::Panicked(_)) => self.stats.failed += 1,
            Err(_) => self.stats.cancelled += 1,
        }
        Poll::Ready(Some(out))
    }

    /// Requests the cancellation of task `id` and returns at once; returns `false` if no such
    /// task is running in the set (it was never spawned here, was joined, or has already
    /// ended and waits to be joined).
    ///
    /// The task stays in the set: `join_next` returns it as [`JoinError::Cancelled`] once its
    /// future has been dropped, or with its output if it finished first. This looks at every
    /// task of the set (`O(len)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut set = TaskSet::with_runtime(rt.clone());
    ///     let stuck = set.spawn(std::future::pending::<()>());
    ///     assert!(set.abort(stuck));
    ///     let (id, out) = set.join_next_with_id().await.unwrap();
    ///     assert_eq!(id, stuck);
    ///     assert!(out.unwrap_err().is_cancelled());
    ///     assert!(!set.abort(stuck)); // gone
    /// });
    /// ```
    pub fn abort(&mut self, id: TaskId) -> bool {
        let mut found = false;
        // An aborted handle waits on a new future: poll it again so it registers its waker.
        self.tasks.for_each_mut(|e| {
            let hit = e.id == id && !e.handle.is_finished();
            if hit {
                e.handle.abort();
                found = true;
            }
            hit
        });
        found
    }

    /// Requests the cancellation of every task in the set and returns at once (api.md's
    /// `abort`; tokio's name). The tasks stay in the set until joined, as after
    /// [`abort`](TaskSet::abort); to wait until they are gone, use [`cancel`](TaskSet::cancel).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut set = TaskSet::with_runtime(rt.clone());
    ///     for _ in 0..3 {
    ///         set.spawn(std::future::pending::<()>());
    ///     }
    ///     set.abort_all();
    ///     assert_eq!(set.len(), 3); // still there, being cancelled
    ///     while let Some(out) = set.join_next().await {
    ///         assert!(out.unwrap_err().is_cancelled());
    ///     }
    /// });
    /// ```
    pub fn abort_all(&mut self) {
        self.tasks.for_each_mut(|e| {
            e.handle.abort();
            true
        });
    }

    /// Removes every task from the set without cancelling it: they run on, and their outputs
    /// (also those of tasks that have ended and were not joined) are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// let flushed = Arc::new(AtomicBool::new(false));
    /// rt.block_on(async {
    ///     let mut set = TaskSet::with_runtime(rt.clone());
    ///     let flag = flushed.clone();
    ///     set.spawn(async move {
    ///         wrangle_rt::yield_now().await;
    ///         flag.store(true, Ordering::SeqCst);
    ///     });
    ///     set.detach_all();
    ///     drop(set); // would have cancelled the task, but it is no longer the set's
    ///     wrangle_rt::yield_now().await;
    ///     wrangle_rt::yield_now().await;
    /// });
    /// assert!(flushed.load(Ordering::SeqCst));
    /// ```
    pub fn detach_all(&mut self) {
        self.stats.detached += self.tasks.pending() as u64;
        for entry in self.tasks.take_all() {
            entry.handle.detach();
        }
    }

    /// Lets every task finish and returns their outputs, in completion order; the set is then
    /// empty, and usable again (tokio's `join_all`, without resuming panics: a panic is a
    /// [`JoinError::Panicked`] in its place).
    ///
    /// api.md's `shutdown`: "close" has nothing to do here, since nobody else can spawn while
    /// the set is borrowed.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// let outs = rt.block_on(async {
    ///     let mut set: TaskSet<Result<u32, String>, _> = TaskSet::with_runtime(rt.clone());
    ///     set.extend((1..=3).map(|i| async move {
    ///         if i == 2 { Err(format!("job {i} failed")) } else { Ok(i) }
    ///     }));
    ///     set.shutdown().await
    /// });
    /// let failed = outs.iter().filter(|o| matches!(o, Ok(Err(_)))).count();
    /// assert_eq!((outs.len(), failed), (3, 1));
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the outputs it has collected; the tasks not joined yet stay in
    /// the set.
    pub fn shutdown(&mut self) -> Drain<'_, T, R> {
        Drain {
            set: self,
            deadline: None,
            outputs: Vec::new(),
        }
    }

    /// Like [`shutdown`](TaskSet::shutdown), but after `timeout` the tasks still running are
    /// cancelled (as by [`abort_all`](TaskSet::abort_all)), and the future waits until they
    /// are gone. A duration too long for the clock (`Duration::MAX`) means no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::TaskSet;
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// let outs = rt.block_on(async {
    ///     let mut set = TaskSet::with_runtime(rt.clone());
    ///     for ms in [10u64, 1_000] {
    ///         let rt = rt.clone();
    ///         set.spawn(async move { rt.sleep(Duration::from_millis(ms)).await });
    ///     }
    ///     set.shutdown_timeout(Duration::from_millis(50)).await
    /// });
    /// assert!(outs[0].is_ok());
    /// assert!(outs[1].as_ref().unwrap_err().is_cancelled());
    /// assert_eq!(rt.now() - start, Duration::from_millis(50));
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As for [`shutdown`](TaskSet::shutdown); tasks aborted at the deadline stay in the set.
    pub fn shutdown_timeout(&mut self, timeout: Duration) -> Drain<'_, T, R> {
        let deadline = self
            .rt
            .deadline_after(timeout)
            .ok()
            .map(|at| Box::pin(self.rt.sleep_until(at)));
        Drain {
            set: self,
            deadline,
            outputs: Vec::new(),
        }
    }

    /// Cancels every task and waits until all are gone (tokio's `JoinSet::shutdown`); the set
    /// is then empty and usable again. Resolves to every task's outcome in completion order:
    /// [`JoinError::Cancelled`] for the tasks it stopped, and the output (or panic) of those
    /// that ended first, so no output is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use wrangle_rt::VirtualRuntime;
    /// use wrangle_task::TaskSet;
    ///
    /// struct Conn(Arc<AtomicUsize>);
    /// impl Drop for Conn {
    ///     fn drop(&mut self) {
    ///         self.0.fetch_add(1, Ordering::SeqCst);
    ///     }
    /// }
    ///
    /// let rt = VirtualRuntime::new();
    /// let closed = Arc::new(AtomicUsize::new(0));
    /// rt.block_on(async {
    ///     let mut set = TaskSet::with_runtime(rt.clone());
    ///     for _ in 0..4 {
    ///         let conn = Conn(closed.clone());
    ///         set.spawn(async move {
    ///             let _conn = conn;
    ///             std::future::pending::<()>().await
    ///         });
    ///     }
    ///     let outcomes = set.cancel().await;
    ///     assert!(outcomes.iter().all(|o| o.as_ref().unwrap_err().is_cancelled()));
    ///     // Every task's future, and what it owned, is gone once `cancel` returns.
    ///     assert_eq!(closed.load(Ordering::SeqCst), 4);
    ///     assert!(set.is_empty());
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The cancellation is requested when `cancel` is called. Dropping the future drops the
    /// outcomes collected so far; the tasks not joined yet stay in the set, cancelled.
    pub fn cancel(&mut self) -> Drain<'_, T, R> {
        self.abort_all();
        self.shutdown()
    }
}

impl<T, R, F> Extend<F> for TaskSet<T, R>
where
    T: Send + 'static,
    R: Runtime,
    F: Future<Output = T> + Send + 'static,
{
    /// Spawns every future of `iter` into the set.
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for future in iter {
            self.spawn(future);
        }
    }
}

impl<T, F> FromIterator<F> for TaskSet<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    /// A set on [`DefaultRuntime::current`] with every future of `iter` spawned.
    ///
    /// # Panics
    ///
    /// Like [`DefaultRuntime::current`].
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = TaskSet::new();
        set.extend(iter);
        set
    }
}

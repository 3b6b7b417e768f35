//! A small set of futures polled together, with a waker per slot that is reused.
//!
//! Unlike `FuturesUnordered`, a slot (its pinned box and its waker) is allocated once and then
//! reused for every future that passes through it, so a bounded runner allocates nothing per
//! future. Only futures that woke are polled, and one call polls at most `budget` futures before
//! it yields to the executor, so a set of always-ready futures cannot starve other tasks.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use pin_project::pin_project;

use std::sync::Arc;

use crate::loom::{AtomicBool, Mutex, Ordering, lock};

/// A future's output, or the payload of its panic.
pub(crate) type Caught<T> = Result<T, Box<dyn Any + Send>>;

/// How many futures one call to [`FutureSet::poll_next`] polls before yielding.
pub(crate) const BUDGET: usize = 128;

pub(crate) struct FutureSet<F: Future> {
    entries: Vec<Entry<F>>,
    free: Vec<usize>,
    len: usize,
    local: VecDeque<usize>,
    spare: Vec<usize>,
    /// Outputs of futures that completed in an earlier poll, not yet handed out.
    outputs: VecDeque<Caught<F::Output>>,
    shared: Arc<Shared>,
}

struct Entry<F> {
    cell: Pin<Box<Cell<F>>>,
    wake: Arc<SlotWake>,
    waker: Waker,
}

#[pin_project(project = CellProj)]
enum Cell<F> {
    Empty,
    Full(#[pin] F),
}

pub(crate) struct Shared {
    inner: Mutex<SharedInner>,
}

struct SharedInner {
    ready: Vec<usize>,
    waker: Option<Waker>,
    /// The owner is inside `poll_next` and drains `ready` before it returns, so a wake need not
    /// reschedule it.
    polling: bool,
}

pub(crate) struct SlotWake {
    index: usize,
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl SlotWake {
    fn notify(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            let parent = {
                let mut inner = lock(&self.shared.inner);
                let was_empty = inner.ready.is_empty();
                inner.ready.push(self.index);
                // The owner drains the whole list when polled: only the first push wakes it, and
                // none while it is polling.
                if was_empty && !inner.polling {
                    inner.waker.clone()
                } else {
                    None
                }
            };
            if let Some(w) = parent {
                w.wake();
            }
        }
    }
}

impl Wake for SlotWake {
    fn wake(self: Arc<Self>) {
        self.notify();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notify();
    }
}

impl<F: Future> Default for FutureSet<F> {
    fn default() -> Self {
        FutureSet {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
            local: VecDeque::new(),
            spare: Vec::new(),
            outputs: VecDeque::new(),
            shared: Arc::new(Shared {
                inner: Mutex::new(SharedInner {
                    ready: Vec::new(),
                    waker: None,
                    polling: false,
                }),
            }),
        }
    }
}

impl<F: Future> FutureSet<F> {
    /// The number of futures in the set.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The futures not handed out yet: those still running plus the outputs buffered by a poll
    /// pass (what a runner counts as running).
    pub(crate) fn pending(&self) -> usize {
        self.len + self.outputs.len()
    }

    /// Adds a future; it is polled on the next call to [`poll_next`](Self::poll_next).
    pub(crate) fn insert(&mut self, future: F) {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let index = self.entries.len();
                let wake = Arc::new(SlotWake {
                    index,
                    queued: AtomicBool::new(false),
                    shared: self.shared.clone(),
                });
                let waker = Waker::from(wake.clone());
                self.entries.push(Entry {
                    cell: Box::pin(Cell::Empty),
                    wake,
                    waker,
                });
                index
            }
        };
        let entry = &mut self.entries[index];
        entry.cell.as_mut().set(Cell::Full(future));
        if !entry.wake.queued.swap(true, Ordering::AcqRel) {
            self.local.push_back(index);
        }
        self.len += 1;
    }

    /// Polls the futures that woke; returns the first output, `Ready(None)` when the set is
    /// empty, or `Pending` (after asking to be polled again if the budget ran out).
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Caught<F::Output>>> {
        if let Some(out) = self.outputs.pop_front() {
            return Poll::Ready(Some(out));
        }
        if self.len == 0 {
            return Poll::Ready(None);
        }
        {
            let mut inner = lock(&self.shared.inner);
            if !inner
                .waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                inner.waker = Some(cx.waker().clone());
            }
            inner.polling = true;
        }
        let out = self.poll_ready(cx);
        let mut inner = lock(&self.shared.inner);
        inner.polling = false;
        if out.is_pending() && !inner.ready.is_empty() {
            // Woken after the last drain but before `polling` was cleared: poll again soon.
            cx.waker().wake_by_ref();
        }
        out
    }

    /// Polls every future that woke (up to the budget), buffering outputs, so the locks of
    /// one poll are shared by every output it finds.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Option<Caught<F::Output>>> {
        let mut polled = 0;
        loop {
            if self.local.is_empty() {
                {
                    let mut inner = lock(&self.shared.inner);
                    std::mem::swap(&mut inner.ready, &mut self.spare);
                }
                self.local.extend(self.spare.drain(..));
                if self.local.is_empty() {
                    return match self.outputs.pop_front() {
                        Some(out) => Poll::Ready(Some(out)),
                        None => Poll::Pending,
                    };
                }
            }
            while let Some(index) = self.local.pop_front() {
                if polled == BUDGET {
                    self.local.push_front(index);
                    if let Some(out) = self.outputs.pop_front() {
                        return Poll::Ready(Some(out));
                    }
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                let entry = &mut self.entries[index];
                entry.wake.queued.store(false, Ordering::Release);
                let mut task_cx = Context::from_waker(&entry.waker);
                let cell = entry.cell.as_mut();
                let out = match cell.project() {
                    CellProj::Empty => continue,
                    CellProj::Full(f) => {
                        polled += 1;
                        match catch_unwind(AssertUnwindSafe(|| f.poll(&mut task_cx))) {
                            Ok(Poll::Pending) => continue,
                            Ok(Poll::Ready(v)) => Ok(v),
                            Err(p) => Err(p),
                        }
                    }
                };
                // A panicking destructor is reported in place of the output.
                let dropped = catch_unwind(AssertUnwindSafe(|| {
                    entry.cell.as_mut().set(Cell::Empty);
                }));
                self.free.push(index);
                self.len -= 1;
                self.outputs.push_back(match (out, dropped) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(p), _) | (Ok(_), Err(p)) => Err(p),
                });
            }
        }
    }

    /// Takes the outputs already produced (by futures that completed in a poll pass) and not
    /// yet returned by [`poll_next`](Self::poll_next). A runner that stops on an error takes
    /// them first: they are complete results, never to be thrown away.
    pub(crate) fn take_outputs(&mut self) -> VecDeque<Caught<F::Output>> {
        std::mem::take(&mut self.outputs)
    }

    /// Drops every future in the set.
    pub(crate) fn clear(&mut self) {
        self.outputs.clear();
        for entry in &mut self.entries {
            entry.cell.as_mut().set(Cell::Empty);
        }
        self.free.clear();
        self.free.extend(0..self.entries.len());
        self.len = 0;
    }
}

impl<F: Future + Unpin> FutureSet<F> {
    /// Takes every future out of the set.
    pub(crate) fn take_all(&mut self) -> Vec<F> {
        self.outputs.clear();
        let mut out = Vec::with_capacity(self.len);
        for entry in &mut self.entries {
            if let Cell::Full(f) = std::mem::replace(&mut *entry.cell, Cell::Empty) {
                out.push(f);
            }
        }
        self.free.clear();
        self.free.extend(0..self.entries.len());
        self.len = 0;
        out
    }

    /// Calls `f` on every future still in the set (not on buffered outputs), in slot order; a
    /// future for which `f` returns `true` is polled again on the next
    /// [`poll_next`](Self::poll_next) (`f` changed it so that its old waker may never fire).
    pub(crate) fn for_each_mut(&mut self, mut f: impl FnMut(&mut F) -> bool) {
        for entry in &mut self.entries {
            if let Cell::Full(fut) = &mut *entry.cell
                && f(fut)
            {
                entry.wake.notify();
            }
        }
    }
}

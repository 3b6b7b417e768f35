//! The engine behind [`Debouncer`](crate::Debouncer) and
//! [`AsyncDebouncer`](crate::AsyncDebouncer): who runs when, with which arguments, and where
//! the result goes.
//!
//! State lives under one mutex. A run is always a task of its own, owned by the engine (never
//! a caller's future), so dropping any caller cannot strand the others. A run that waits for
//! a trailing edge has one "pending" task that sleeps on one resettable sleep until the edge,
//! then starts the run. Before any decision the state is first brought up to "now"
//! ([`Shared::settle`]): an edge due at or before now fires first, whoever notices it, so the
//! outcome never depends on which task the runtime happens to poll first.

use std::borrow::Cow;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_listener::Event;
use futures_lite::FutureExt;
use wrangle_rt::{BoxError, ErrorReporter, JoinHandle, PanicPayload, Runtime, Sleep, Unhandled};

use crate::DebounceError;
use crate::lodash::Edges;
use crate::loom::{Mutex, lock};
use crate::slot::Slot;

/// A boxed, sendable future.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The user's function, boxed once at construction.
pub(crate) type Func<A, T, E> = Arc<dyn Fn(A) -> BoxFuture<Result<T, E>> + Send + Sync>;

/// When calls run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Leading edge; calls within a window of the last run's start share its result.
    Eager,
    /// One run at the end of a fixed window opened by the first call.
    Lazy,
    /// Leading edge, then one run at the end of the last run's window for calls inside it.
    EagerLazy,
    /// lodash's edges: the trailing window restarts on every call (see [`Edges`]).
    Trailing,
    /// `AsyncDebouncer`: leading edge, and one trailing run a window after the first deferred
    /// call.
    Deferred,
}

/// Counters, kept under the state lock so that a snapshot is consistent.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    pub(crate) submitted: u64,
    pub(crate) started: u64,
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) panicked: u64,
    pub(crate) cancelled: u64,
    pub(crate) skipped: u64,
    pub(crate) running: usize,
    pub(crate) queued: usize,
}

/// A run that waits for its trailing edge: the latest arguments, the slot its callers wait on.
struct Pending<A, T, E> {
    id: u64,
    args: A,
    slot: Arc<Slot<T, E>>,
    /// Calls coalesced into it so far.
    calls: usize,
    /// Its trailing edge (all modes but `Trailing`, whose edge is the lodash timer).
    deadline: Instant,
    /// The task that waits for the edge: cancelled when the run starts (or is flushed)
    /// without it, so that no sleeping task outlives its purpose.
    task: Option<JoinHandle<()>>,
}

struct State<A, T, E> {
    closed: bool,
    /// When the last run started (its logical instant: the edge that started it).
    last_start: Option<Instant>,
    /// The last run's slot, for `Eager` calls inside its window.
    last_slot: Option<Arc<Slot<T, E>>>,
    pending: Option<Pending<A, T, E>>,
    edges: Option<Edges>,
    next_id: u64,
    /// Handles of the tasks this engine owns (pending and running), cancelled on drop.
    tasks: Vec<JoinHandle<()>>,
    /// Tasks not yet finished (or dropped), for `idle`.
    live: usize,
    /// Set when the owner is dropped: nothing is spawned after that (a task spawned then
    /// would hold the state that holds its handle, and never be cancelled).
    dropped: bool,
    counters: Counters,
}

pub(crate) struct Shared<A, T, E, R> {
    rt: R,
    func: Func<A, T, E>,
    mode: Mode,
    window: Duration,
    reporter: ErrorReporter,
    origin: Cow<'static, str>,
    to_box: fn(E) -> BoxError,
    state: Mutex<State<A, T, E>>,
    idle: Event,
}

/// What a call did.
pub(crate) struct Accepted<T, E> {
    pub(crate) slot: Arc<Slot<T, E>>,
    /// Whether the call started a run at once.
    pub(crate) ran: bool,
}

/// The engine, shared by the owner and its tasks.
pub(crate) struct Engine<A, T, E, R> {
    shared: Arc<Shared<A, T, E, R>>,
}

/// Everything a new engine needs.
pub(crate) struct Setup<A, T, E, R> {
    pub(crate) rt: R,
    pub(crate) func: Func<A, T, E>,
    pub(crate) mode: Mode,
    pub(crate) window: Duration,
    pub(crate) edges: Option<Edges>,
    pub(crate) reporter: ErrorReporter,
    pub(crate) origin: Cow<'static, str>,
    pub(crate) to_box: fn(E) -> BoxError,
}

impl<A, T, E, R> Engine<A, T, E, R>
where
    A: Send + 'static,
    T: Clone + Send + 'static,
    E: Clone + Send + 'static,
    R: Runtime,
{
    pub(crate) fn new(setup: Setup<A, T, E, R>) -> Self {
        Engine {
            shared: Arc::new(Shared {
                rt: setup.rt,
                func: setup.func,
                mode: setup.mode,
                window: setup.window,
                reporter: setup.reporter,
                origin: setup.origin,
                to_box: setup.to_box,
                state: Mutex::new(State {
                    closed: false,
                    last_start: None,
                    last_slot: None,
                    pending: None,
                    edges: setup.edges,
                    next_id: 0,
                    tasks: Vec::new(),
                    live: 0,
                    dropped: false,
                    counters: Counters::default(),
                }),
                idle: Event::new(),
            }),
        }
    }

    /// A call with `args` now. `None` once closed (the call is counted as submitted and
    /// skipped).
    pub(crate) fn call(&self, args: A) -> Option<Accepted<T, E>> {
        let shared = &self.shared;
        let mut st = lock(&shared.state);
        // Read under the lock, so that calls reach the state in the order of their instants.
        let now = shared.rt.now();
        st.counters.submitted += 1;
        if st.closed {
            st.counters.skipped += 1;
            return None;
        }
        shared.settle(&mut st, now);
        let outside = |st: &State<A, T, E>| {
            st.last_start
                .is_none_or(|last| now.saturating_duration_since(last) >= shared.window)
        };
        match shared.mode {
            Mode::Eager => {
                if !outside(&st)
                    && let Some(slot) = st.last_slot.clone()
                {
                    st.counters.skipped += 1;
                    return Some(Accepted { slot, ran: false });
                }
                Some(shared.run_now(&mut st, args, now))
            }
            Mode::Lazy => Some(match shared.join(&mut st, args) {
                Ok(slot) => slot,
                Err(args) => shared.open(&mut st, args, now + shared.window),
            }),
            Mode::EagerLazy | Mode::Deferred => Some(match shared.join(&mut st, args) {
                Ok(slot) => slot,
                Err(args) if outside(&st) => shared.run_now(&mut st, args, now),
                Err(args) => {
                    let anchor = match shared.mode {
                        Mode::EagerLazy => st.last_start.unwrap_or(now),
                        _ => now,
                    };
                    shared.open(&mut st, args, anchor + shared.window)
                }
            }),
            Mode::Trailing => {
                let run = st.edges.as_mut().is_some_and(|e| e.call(now));
                if st.pending.is_none() {
                    return Some(if run {
                        shared.run_now(&mut st, args, now)
                    } else {
                        // The edge of a `Trailing` pending run is the lodash timer.
                        shared.open(&mut st, args, now)
                    });
                }
                let joined = shared.join(&mut st, args).ok()?;
                if run {
                    // A maximum wait reached inside a tight burst: the pending run starts now.
                    if let Some(p) = st.pending.take() {
                        shared.start(&mut st, p, now);
                    }
                }
                Some(Accepted {
                    slot: joined.slot,
                    ran: run,
                })
            }
        }
    }

    /// Runs the pending call now, if there is one, and returns its slot.
    pub(crate) fn flush(&self) -> Option<Arc<Slot<T, E>>> {
        let shared = &self.shared;
        let mut st = lock(&shared.state);
        let now = shared.rt.now();
        shared.settle(&mut st, now);
        if let Some(edges) = st.edges.as_mut() {
            edges.flush(now);
        }
        let pending = st.pending.take()?;
        let slot = Arc::clone(&pending.slot);
        shared.start(&mut st, pending, now);
        Some(slot)
    }

    /// Refuses calls from now on. Returns `true` if this call closed it.
    pub(crate) fn close(&self) -> bool {
        let mut st = lock(&self.shared.state);
        !std::mem::replace(&mut st.closed, true)
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.shared.state).closed
    }

    /// Forgets the window: the next call is outside any window.
    pub(crate) fn reset_window(&self) {
        let mut st = lock(&self.shared.state);
        st.last_start = None;
        st.last_slot = None;
        let idle = st.pending.is_none();
        if let Some(edges) = st.edges.as_mut().filter(|_| idle) {
            edges.reset();
        }
    }

    /// Completes once no task of this engine is left (pending or running).
    pub(crate) async fn idle(&self) {
        loop {
            let listener = self.shared.idle.listen();
            if lock(&self.shared.state).live == 0 {
                return;
            }
            listener.await;
        }
    }

    pub(crate) fn counters(&self) -> Counters {
        lock(&self.shared.state).counters
    }

    /// Whether a run waits for its trailing edge.
    pub(crate) fn has_pending(&self) -> bool {
        lock(&self.shared.state).pending.is_some()
    }
}

impl<A, T, E, R> Engine<A, T, E, R> {
    pub(crate) fn runtime(&self) -> &R {
        &self.shared.rt
    }

    pub(crate) fn window(&self) -> Duration {
        self.shared.window
    }
}

impl<A, T, E, R> Drop for Engine<A, T, E, R> {
    fn drop(&mut self) {
        // Dropping the handles cancels the tasks; their guards then fail the slots of the
        // runs they carried (`Cancelled`) and drop the pending arguments. Handles are dropped
        // outside the lock, since a runtime may drop a task's future on the spot.
        let tasks = {
            let mut st = lock(&self.shared.state);
            st.dropped = true;
            let mut tasks = std::mem::take(&mut st.tasks);
            tasks.extend(st.pending.as_mut().and_then(|p| p.task.take()));
            tasks
        };
        drop(tasks);
    }
}

impl<A, T, E, R> Shared<A, T, E, R>
where
    A: Send + 'static,
    T: Clone + Send + 'static,
    E: Clone + Send + 'static,
    R: Runtime,
{
    /// Fires every edge due at or before `now`, in order.
    fn settle(self: &Arc<Self>, st: &mut State<A, T, E>, now: Instant) {
        if self.mode == Mode::Trailing {
            while let Some(at) = st
                .edges
                .as_ref()
                .and_then(Edges::timer)
                .filter(|&at| at <= now)
            {
                let run = st.edges.as_mut().is_some_and(|e| e.expire(at));
                if run && let Some(p) = st.pending.take() {
                    self.start(st, p, at);
                }
            }
            return;
        }
        if let Some(p) = st.pending.take_if(|p| p.deadline <= now) {
            let at = p.deadline;
            self.start(st, p, at);
        }
    }

    /// Joins the pending run with `args` (the latest arguments win), or hands `args` back.
    fn join(&self, st: &mut State<A, T, E>, args: A) -> Result<Accepted<T, E>, A> {
        match st.pending.as_mut() {
            Some(p) => {
                // The superseded arguments are dropped here, once.
                p.args = args;
                p.calls += 1;
                st.counters.queued += 1;
                Ok(Accepted {
                    slot: Arc::clone(&p.slot),
                    ran: false,
                })
            }
            None => Err(args),
        }
    }

    /// Opens a pending run with its trailing edge at `deadline`, and the task that waits for
    /// it.
    fn open(
        self: &Arc<Self>,
        st: &mut State<A, T, E>,
        args: A,
        deadline: Instant,
    ) -> Accepted<T, E> {
        let slot = Arc::new(Slot::new());
        let id = st.next_id;
        st.next_id += 1;
        st.pending = Some(Pending {
            id,
            args,
            slot: Arc::clone(&slot),
            calls: 1,
            deadline,
            task: None,
        });
        st.counters.queued += 1;
        st.live += 1;
        let guard = PendingGuard {
            shared: Arc::clone(self),
            id,
        };
        let task = self.rt.spawn(async move {
            let guard = guard;
            guard.wait().await;
        });
        if let Some(p) = st.pending.as_mut() {
            p.task = Some(task);
        }
        Accepted { slot, ran: false }
    }

    /// Starts a run with `args` now, in a slot of its own.
    fn run_now(self: &Arc<Self>, st: &mut State<A, T, E>, args: A, now: Instant) -> Accepted<T, E> {
        let slot = Arc::new(Slot::new());
        st.counters.queued += 1;
        let pending = Pending {
            id: u64::MAX,
            args,
            slot: Arc::clone(&slot),
            calls: 1,
            deadline: now,
            task: None,
        };
        self.start(st, pending, now);
        Accepted { slot, ran: true }
    }

    /// Starts `pending` as a run whose logical start is `at`.
    fn start(self: &Arc<Self>, st: &mut State<A, T, E>, pending: Pending<A, T, E>, at: Instant) {
        // Dropping the waiting task's handle cancels it (it may be the task running this: it
        // returns right after). Runtimes never drop a future inside `JoinHandle::drop`, so
        // this is safe under the lock.
        let Pending {
            args, slot, calls, ..
        } = pending;
        if st.dropped {
            // A pending task noticed its edge while the owner was being dropped.
            st.counters.queued -= calls;
            st.counters.skipped += calls as u64;
            drop(args);
            slot.complete(Err(DebounceError::Cancelled));
            return;
        }
        st.last_start = Some(at);
        st.last_slot = (self.mode == Mode::Eager).then(|| Arc::clone(&slot));
        let c = &mut st.counters;
        c.queued -= calls;
        c.started += 1;
        c.skipped += calls as u64 - 1;
        c.running += 1;
        st.live += 1;
        let guard = RunGuard {
            shared: Arc::clone(self),
            slot,
            ended: false,
        };
        let func = Arc::clone(&self.func);
        let task = self.rt.spawn(async move {
            let guard = guard;
            let outcome = match catch_unwind(AssertUnwindSafe(|| func(args))) {
                Ok(future) => AssertUnwindSafe(future)
                    .catch_unwind()
                    .await
                    .map_err(PanicPayload::new),
                Err(payload) => Err(PanicPayload::new(payload)),
            };
            guard.end(outcome);
        });
        st.tasks.retain(|h| !h.is_finished());
        st.tasks.push(task);
    }
}

/// Owned by a pending run's task: waits for the edge, and cleans up if the task is dropped.
struct PendingGuard<A, T, E, R> {
    shared: Arc<Shared<A, T, E, R>>,
    id: u64,
}

impl<A, T, E, R> PendingGuard<A, T, E, R>
where
    A: Send + 'static,
    T: Clone + Send + 'static,
    E: Clone + Send + 'static,
    R: Runtime,
{
    /// Sleeps until the pending run's edge (re-arming one sleep when the edge moved), until
    /// the run has been started (by this task or by a call that noticed the edge first) or
    /// flushed.
    async fn wait(&self) {
        let shared = &self.shared;
        let mut sleep: Option<Pin<Box<R::Sleep>>> = None;
        loop {
            let deadline = {
                let now = shared.rt.now();
                let mut st = lock(&shared.state);
                shared.settle(&mut st, now);
                match &st.pending {
                    Some(p) if p.id == self.id => match shared.mode {
                        Mode::Trailing => st
                            .edges
                            .as_ref()
                            .and_then(Edges::timer)
                            .unwrap_or(now + shared.window),
                        _ => p.deadline,
                    },
                    _ => return,
                }
            };
            match sleep.as_mut() {
                Some(s) => s.as_mut().reset(deadline),
                None => sleep = Some(Box::pin(shared.rt.sleep_until(deadline))),
            }
            if let Some(s) = sleep.as_mut() {
                s.await;
            }
        }
    }
}

impl<A, T, E, R> Drop for PendingGuard<A, T, E, R> {
    fn drop(&mut self) {
        let (pending, idle) = {
            let mut st = lock(&self.shared.state);
            let pending = st.pending.take_if(|p| p.id == self.id);
            if let Some(p) = &pending {
                // Its calls end without a run: cancelled with the debouncer.
                // Never started, so not a cancelled run: its calls were skipped.
                st.counters.queued -= p.calls;
                st.counters.skipped += p.calls as u64;
                if let Some(edges) = st.edges.as_mut() {
                    edges.reset();
                }
            }
            st.live -= 1;
            (pending, st.live == 0)
        };
        if let Some(p) = pending {
            // The arguments go first: a caller woken by the slot sees the work gone.
            drop(p.args);
            p.slot.complete(Err(DebounceError::Cancelled));
        }
        if idle {
            self.shared.idle.notify(usize::MAX);
        }
    }
}

/// Owned by a run's task: records the outcome, or `Cancelled` if the task is dropped first.
struct RunGuard<A, T, E, R> {
    shared: Arc<Shared<A, T, E, R>>,
    slot: Arc<Slot<T, E>>,
    ended: bool,
}

impl<A, T, E, R> RunGuard<A, T, E, R>
where
    A: Send + 'static,
    T: Clone + Send + 'static,
    E: Clone + Send + 'static,
    R: Runtime,
{
    fn end(mut self, outcome: Result<Result<T, E>, PanicPayload>) {
        self.ended = true;
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(DebounceError::Failed(e)),
            Err(payload) => Err(DebounceError::Panicked(Arc::new(payload))),
        };
        let unheard = {
            let mut st = lock(&self.shared.state);
            let c = &mut st.counters;
            c.running -= 1;
            match &result {
                Ok(_) => c.completed += 1,
                Err(DebounceError::Panicked(_)) => {
                    c.failed += 1;
                    c.panicked += 1;
                }
                Err(_) => c.failed += 1,
            }
            // Nobody will see a failure if no caller holds the slot (this guard holds one,
            // the eager window another).
            let kept = st
                .last_slot
                .as_ref()
                .is_some_and(|s| Arc::ptr_eq(s, &self.slot));
            // A fire-and-forget debouncer has no callers at all: it reports every failure.
            self.shared.mode == Mode::Deferred
                || Arc::strong_count(&self.slot) == 1 + usize::from(kept)
        };
        let report: Option<BoxError> = match (&result, unheard) {
            (Err(DebounceError::Failed(e)), true) => Some((self.shared.to_box)(e.clone())),
            (Err(DebounceError::Panicked(p)), true) => Some(Box::new(Arc::clone(p))),
            _ => None,
        };
        self.slot.complete(result);
        if let Some(error) = report {
            self.shared
                .reporter
                .report(Unhandled::new(self.shared.origin.clone(), error));
        }
    }
}

impl<A, T, E, R> Drop for RunGuard<A, T, E, R> {
    fn drop(&mut self) {
        let idle = {
            let mut st = lock(&self.shared.state);
            if !self.ended {
                st.counters.running -= 1;
                st.counters.cancelled += 1;
            }
            st.live -= 1;
            st.live == 0
        };
        if !self.ended {
            self.slot.complete(Err(DebounceError::Cancelled));
        }
        if idle {
            self.shared.idle.notify(usize::MAX);
        }
    }
}

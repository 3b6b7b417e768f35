//! The deterministic virtual-time runtime.

mod advance;
mod sleep;

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_task::Runnable;
use jiff::{SignedDuration, Timestamp};

pub use advance::{Advance, AdvanceToNext};
pub use sleep::VirtualSleep;

use crate::{JoinHandle, Runtime};

/// How long a stalled runtime waits for an outside wake-up by default.
const DEFAULT_STALL_GRACE: Duration = Duration::from_secs(5);

thread_local! {
    static CURRENT: RefCell<Option<VirtualRuntime>> = const { RefCell::new(None) };
}

/// A deterministic, single-threaded runtime whose monotonic and wall clocks are both virtual.
///
/// Time moves only when the runtime lets it:
///
/// - **Auto-advance** (the default): when every task is idle (nothing runnable, no blocking
///   work outstanding), the clock jumps straight to the next timer. A test that sleeps a virtual
///   week finishes at once and sees exact instants.
/// - **Explicit**: [`advance`](VirtualRuntime::advance) and
///   [`advance_to_next`](VirtualRuntime::advance_to_next) move time on request; with
///   auto-advance turned off ([`VirtualRuntimeBuilder::auto_advance`]) nothing else does.
/// - **Wall clock**: [`set_wall`](VirtualRuntime::set_wall),
///   [`jump_wall`](VirtualRuntime::jump_wall) (forward or back) and
///   [`suspend`](VirtualRuntime::suspend) (the wall clock moves, the monotonic clock does not,
///   as when a machine sleeps) move only the wall clock.
///
/// Time never advances while work from [`spawn_blocking`](Runtime::spawn_blocking) is
/// outstanding, or while a [`HoldGuard`] is alive: use one when a task waits on a thread that
/// the runtime does not know about and timers are armed. When nothing at all can run and no
/// timer is armed, the runtime waits for a wake-up from another thread for a grace period
/// ([`VirtualRuntimeBuilder::stall_grace`]) before reporting a stall.
///
/// Tasks run on the thread that calls [`block_on`](VirtualRuntime::block_on). The order in which
/// ready tasks run is FIFO, or a seeded shuffle ([`VirtualRuntimeBuilder::seed`]): the same seed
/// gives the same interleaving, every run.
///
/// Inside `block_on`, [`DefaultRuntime::current`](crate::DefaultRuntime::current) returns this
/// runtime, so code that picks its runtime automatically runs on virtual time too.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// rt.block_on(async {
///     let a = rt.spawn({
///         let rt = rt.clone();
///         async move { rt.sleep(Duration::from_secs(3600)).await; rt.now() }
///     });
///     rt.sleep(Duration::from_secs(7 * 86_400)).await;
///     assert_eq!(a.await.unwrap() - start, Duration::from_secs(3600));
/// });
/// assert_eq!(rt.now() - start, Duration::from_secs(7 * 86_400));
/// ```
#[derive(Clone)]
pub struct VirtualRuntime {
    shared: Arc<Shared>,
}

struct Shared {
    base: Instant,
    state: Mutex<State>,
    cond: Condvar,
}

struct State {
    queue: VecDeque<Runnable>,
    rng: u64,
    seeded: bool,
    auto_advance: bool,
    park_when_stalled: bool,
    stall_grace: Duration,
    /// Monotonic time since `base`.
    offset: Duration,
    wall_start: Timestamp,
    /// Wall-clock moves that did not move monotonic time (jumps, suspends).
    wall_adjust: SignedDuration,
    timers: BTreeMap<(Instant, u64), Waker>,
    /// Deadlines that `advance` futures wait for.
    targets: BTreeMap<(Instant, u64), Waker>,
    next_id: u64,
    blocking: usize,
    holds: usize,
    main_woken: bool,
    running: bool,
    shut_down: bool,
    polls: u64,
    /// A waker of every spawned task not finished yet, so that `shutdown` (and the runtime's
    /// drop) reaches tasks nothing else refers to: a detached task pending with no waker
    /// stored anywhere would otherwise never be dropped.
    active: BTreeMap<u64, Waker>,
    next_task: u64,
}

impl fmt::Debug for VirtualRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("VirtualRuntime")
            .field("elapsed", &st.offset)
            .field("timers", &st.timers.len())
            .field("runnable", &st.queue.len())
            .field("blocking", &st.blocking)
            .finish()
    }
}

impl Default for VirtualRuntime {
    fn default() -> Self {
        VirtualRuntime::new()
    }
}

/// Why [`VirtualRuntime::try_block_on`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockOnError {
    /// The main future is pending, no task can run, no blocking work is outstanding, and no timer
    /// is armed (or auto-advance is off and no `advance` is pending): nothing can ever wake it.
    Stalled,
    /// `block_on` was already running for this runtime.
    AlreadyRunning,
}

impl fmt::Display for BlockOnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockOnError::Stalled => f.write_str(
                "virtual runtime stalled: the main future is pending and nothing can wake it \
                 (no runnable task, no timer, no blocking work; wrap waits on outside threads \
                 in spawn_blocking or hold a HoldGuard)",
            ),
            BlockOnError::AlreadyRunning => {
                f.write_str("virtual runtime is already running block_on")
            }
        }
    }
}

impl std::error::Error for BlockOnError {}

/// Configures a [`VirtualRuntime`].
#[derive(Debug, Clone)]
pub struct VirtualRuntimeBuilder {
    seed: Option<u64>,
    auto_advance: bool,
    park_when_stalled: bool,
    stall_grace: Duration,
    wall_start: Timestamp,
}

impl VirtualRuntimeBuilder {
    /// Runs ready tasks in an order shuffled by `seed` instead of FIFO. The same seed gives the
    /// same interleaving, every run.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::builder().seed(42).build();
    /// # drop(rt);
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Whether the clock jumps to the next timer when every task is idle (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::builder().auto_advance(false).build();
    /// # drop(rt);
    /// ```
    pub fn auto_advance(mut self, on: bool) -> Self {
        self.auto_advance = on;
        self
    }

    /// When nothing can run and no timer is armed, wait for a wake-up from another thread
    /// instead of reporting [`BlockOnError::Stalled`] (default `false`).
    ///
    /// For a runtime that serves work submitted from other threads, such as a
    /// [`RuntimeThread`](crate::RuntimeThread) of flavour `Virtual`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::builder().park_when_stalled(true).build();
    /// # drop(rt);
    /// ```
    pub fn park_when_stalled(mut self, on: bool) -> Self {
        self.park_when_stalled = on;
        self
    }

    /// How long (real time) to wait for a wake-up from another thread before declaring a stall,
    /// when nothing can run and no timer is armed (default five seconds, generous for loaded CI
    /// machines). Virtual time cannot
    /// move during the wait, so it does not affect determinism; it only lets a task await work
    /// done on an outside thread. `Duration::ZERO` reports stalls at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = wrangle_rt::VirtualRuntime::builder().stall_grace(Duration::ZERO).build();
    /// assert!(rt.try_block_on(std::future::pending::<()>()).is_err());
    /// ```
    pub fn stall_grace(mut self, grace: Duration) -> Self {
        self.stall_grace = grace;
        self
    }

    /// The wall-clock time at which the runtime starts (default 2000-01-01T00:00:00Z).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let start: jiff::Timestamp = "2024-03-31T00:30:00Z".parse().unwrap();
    /// let rt = VirtualRuntime::builder().wall_start(start).build();
    /// assert_eq!(rt.wall_now(), start);
    /// ```
    pub fn wall_start(mut self, at: Timestamp) -> Self {
        self.wall_start = at;
        self
    }

    /// Builds the runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::builder().build();
    /// # drop(rt);
    /// ```
    #[must_use]
    pub fn build(self) -> VirtualRuntime {
        VirtualRuntime {
            shared: Arc::new(Shared {
                base: Instant::now(),
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    // xorshift must not start at zero.
                    rng: self.seed.map_or(1, |s| s ^ 0x9E37_79B9_7F4A_7C15) | 1,
                    seeded: self.seed.is_some(),
                    auto_advance: self.auto_advance,
                    park_when_stalled: self.park_when_stalled,
                    stall_grace: self.stall_grace,
                    offset: Duration::ZERO,
                    wall_start: self.wall_start,
                    wall_adjust: SignedDuration::ZERO,
                    timers: BTreeMap::new(),
                    targets: BTreeMap::new(),
                    next_id: 0,
                    blocking: 0,
                    holds: 0,
                    main_woken: true,
                    running: false,
                    shut_down: false,
                    polls: 0,
                    active: BTreeMap::new(),
                    next_task: 0,
                }),
                cond: Condvar::new(),
            }),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held while user code runs.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self, st: &State) -> Instant {
        self.base + st.offset
    }
}

impl State {
    /// Whether something other than the clock can make progress: a woken main future, a
    /// runnable task, outside work, or a pending `advance`.
    fn can_move(&self) -> bool {
        self.main_woken
            || !self.queue.is_empty()
            || self.blocking > 0
            || self.holds > 0
            || !self.targets.is_empty()
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn pick(&mut self) -> Option<Runnable> {
        if self.seeded && self.queue.len() > 1 {
            // xorshift64*: tiny, and plenty for choosing among ready tasks.
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let i = (r % self.queue.len() as u64) as usize;
            self.queue.swap_remove_back(i)
        } else {
            self.queue.pop_front()
        }
    }
}

struct MainWaker {
    shared: Weak<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.shared.upgrade() {
            shared.lock().main_woken = true;
            shared.cond.notify_all();
        }
    }
}

/// Keeps a [`VirtualRuntime`]'s clock from advancing while it lives.
///
/// Made by [`VirtualRuntime::hold`]. Use it while a task waits on something the runtime cannot
/// see, such as a thread of your own.
#[must_use = "the clock is held only while the guard lives"]
pub struct HoldGuard {
    shared: Arc<Shared>,
}

impl fmt::Debug for HoldGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HoldGuard").finish_non_exhaustive()
    }
}

impl Drop for HoldGuard {
    fn drop(&mut self) {
        self.shared.lock().holds -= 1;
        self.shared.cond.notify_all();
    }
}

impl VirtualRuntime {
    /// A runtime with FIFO scheduling and auto-advance, its wall clock at
    /// 2000-01-01T00:00:00Z.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// assert_eq!(rt.elapsed(), std::time::Duration::ZERO);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        VirtualRuntime::builder().build()
    }

    /// A builder to choose the seed, auto-advance and the starting wall-clock time.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::builder().seed(7).auto_advance(false).build();
    /// # drop(rt);
    /// ```
    #[must_use]
    pub fn builder() -> VirtualRuntimeBuilder {
        VirtualRuntimeBuilder {
            seed: None,
            auto_advance: true,
            park_when_stalled: false,
            stall_grace: DEFAULT_STALL_GRACE,
            wall_start: Timestamp::from_second(946_684_800).expect("2000-01-01 is representable"),
        }
    }

    /// The virtual runtime whose `block_on` is running on this thread, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// assert!(VirtualRuntime::try_current().is_none());
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async { assert!(VirtualRuntime::try_current().is_some()) });
    /// ```
    #[must_use]
    pub fn try_current() -> Option<VirtualRuntime> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Virtual time elapsed since the runtime was created.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(rt.sleep(Duration::from_millis(1500)));
    /// assert_eq!(rt.elapsed(), Duration::from_millis(1500));
    /// ```
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.shared.lock().offset
    }

    /// The number of armed timers (sleeps being waited on).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(wrangle_rt::VirtualRuntime::new().pending_timers(), 0);
    /// ```
    #[must_use]
    pub fn pending_timers(&self) -> usize {
        self.shared.lock().timers.len()
    }

    /// The deadline of the earliest armed timer.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(wrangle_rt::VirtualRuntime::new().next_timer().is_none());
    /// ```
    #[must_use]
    pub fn next_timer(&self) -> Option<Instant> {
        self.shared.lock().timers.keys().next().map(|k| k.0)
    }

    /// How many times a task has been polled so far (a cheap progress counter for tests).
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// assert_eq!(rt.task_polls(), 1);
    /// ```
    #[must_use]
    pub fn task_polls(&self) -> u64 {
        self.shared.lock().polls
    }

    /// Moves time forward by `duration`, firing every timer on the way in order and letting
    /// the tasks they wake run at their exact instant. Completes at `now + duration`.
    ///
    /// Works with and without auto-advance.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::builder().auto_advance(false).build();
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     let sleeper = rt.spawn({
    ///         let rt = rt.clone();
    ///         async move { rt.sleep(Duration::from_secs(2)).await; rt.now() }
    ///     });
    ///     rt.advance(Duration::from_secs(5)).await;
    ///     assert_eq!(sleeper.await.unwrap() - start, Duration::from_secs(2));
    /// });
    /// assert_eq!(rt.now() - start, Duration::from_secs(5));
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future withdraws the request; time already advanced stays advanced.
    pub fn advance(&self, duration: Duration) -> Advance {
        Advance::new(self.shared.clone(), duration)
    }

    /// Moves time to the next armed timer and completes there, returning its instant, or `None`
    /// at once if no timer is armed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::builder().auto_advance(false).build();
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     let _t = rt.spawn({
    ///         let rt = rt.clone();
    ///         async move { rt.sleep(Duration::from_millis(250)).await }
    ///     });
    ///     wrangle_rt::yield_now().await;
    ///     let at = rt.advance_to_next().await.unwrap();
    ///     assert_eq!(at - start, Duration::from_millis(250));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future withdraws the request.
    pub fn advance_to_next(&self) -> AdvanceToNext {
        AdvanceToNext::new(self.shared.clone())
    }

    /// Sets the wall clock to `at` (forward or back); the monotonic clock does not move.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let at: jiff::Timestamp = "2030-06-01T12:00:00Z".parse().unwrap();
    /// rt.set_wall(at);
    /// assert_eq!(rt.wall_now(), at);
    /// ```
    pub fn set_wall(&self, at: Timestamp) {
        let mut st = self.shared.lock();
        let current = wall_of(&st);
        let delta = at.duration_since(current);
        st.wall_adjust = st.wall_adjust.saturating_add(delta);
    }

    /// Moves the wall clock by `delta` (negative moves it back); the monotonic clock does not
    /// move.
    ///
    /// # Examples
    ///
    /// ```
    /// use jiff::SignedDuration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let before = rt.wall_now();
    /// rt.jump_wall(SignedDuration::from_hours(-1));
    /// assert_eq!(before.duration_since(rt.wall_now()), SignedDuration::from_hours(1));
    /// ```
    pub fn jump_wall(&self, delta: SignedDuration) {
        let mut st = self.shared.lock();
        st.wall_adjust = st.wall_adjust.saturating_add(delta);
    }

    /// Simulates the machine sleeping for `duration`: the wall clock moves forward, the
    /// monotonic clock does not (as `CLOCK_MONOTONIC` behaves on Linux).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let (mono, wall) = (rt.now(), rt.wall_now());
    /// rt.suspend(Duration::from_secs(600));
    /// assert_eq!(rt.now(), mono);
    /// assert_eq!(rt.wall_now().duration_since(wall).as_secs(), 600);
    /// ```
    pub fn suspend(&self, duration: Duration) {
        let delta = SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX);
        self.jump_wall(delta);
    }

    /// Keeps the clock from advancing until the returned guard is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let guard = rt.hold();
    /// drop(guard);
    /// ```
    pub fn hold(&self) -> HoldGuard {
        self.shared.lock().holds += 1;
        HoldGuard {
            shared: self.shared.clone(),
        }
    }

    /// Runs `future` to completion on this thread, running spawned tasks and advancing virtual
    /// time as described on [`VirtualRuntime`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// assert_eq!(rt.block_on(async { 7 }), 7);
    /// ```
    ///
    /// # Panics
    ///
    /// If the runtime stalls (see [`BlockOnError::Stalled`]) or is already running; use
    /// [`try_block_on`](VirtualRuntime::try_block_on) to get these as errors.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self.try_block_on(future) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`block_on`](VirtualRuntime::block_on), but reports a stall instead of panicking.
    ///
    /// # Errors
    ///
    /// [`BlockOnError::Stalled`] when nothing can ever wake the main future;
    /// [`BlockOnError::AlreadyRunning`] if `block_on` is already running for this runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{BlockOnError, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::builder().stall_grace(Duration::ZERO).build();
    /// let r = rt.try_block_on(std::future::pending::<()>());
    /// assert_eq!(r, Err(BlockOnError::Stalled));
    /// ```
    pub fn try_block_on<F: Future>(&self, future: F) -> Result<F::Output, BlockOnError> {
        {
            let mut st = self.shared.lock();
            if st.running {
                return Err(BlockOnError::AlreadyRunning);
            }
            st.running = true;
            st.shut_down = false;
            st.main_woken = true;
        }
        let _running = RunningGuard {
            shared: &self.shared,
        };
        let _current = CurrentGuard::enter(self.clone());
        let waker = Waker::from(Arc::new(MainWaker {
            shared: Arc::downgrade(&self.shared),
        }));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            let poll_main = std::mem::take(&mut self.shared.lock().main_woken);
            if poll_main && let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return Ok(v);
            }
            let next = {
                let mut st = self.shared.lock();
                let r = st.pick();
                if r.is_some() {
                    st.polls += 1;
                }
                r
            };
            if let Some(runnable) = next {
                runnable.run();
                continue;
            }
            self.idle()?;
        }
    }

    /// Called when nothing is runnable: wait for outside work, or advance the clock.
    fn idle(&self) -> Result<(), BlockOnError> {
        let mut st = self.shared.lock();
        if st.main_woken || !st.queue.is_empty() {
            return Ok(());
        }
        if st.blocking > 0 || st.holds > 0 {
            // Outside work is in flight; time stands still until it reports back.
            let _st = self.shared.cond.wait(st).unwrap_or_else(|e| e.into_inner());
            return Ok(());
        }
        let now = self.shared.now(&st);
        let mut wake = Vec::new();
        // An `advance` whose target is reached completes only once everything woken at that
        // instant has run and gone idle again.
        while let Some(entry) = st.targets.first_entry() {
            if entry.key().0 > now {
                break;
            }
            wake.push(entry.remove());
        }
        if wake.is_empty() {
            let next_timer = st.timers.keys().next().map(|k| k.0);
            let next_target = st.targets.keys().next().map(|k| k.0);
            let to = match (next_timer, next_target) {
                (Some(t), Some(g)) => t.min(g),
                (Some(t), None) if st.auto_advance => t,
                (None, Some(g)) => g,
                _ if st.park_when_stalled => {
                    let _st = self.shared.cond.wait(st).unwrap_or_else(|e| e.into_inner());
                    return Ok(());
                }
                _ => {
                    // Nothing here can move, but another thread may still wake a task: give it
                    // the grace period (real time) before declaring a stall. Virtual time cannot
                    // advance meanwhile, so determinism is unaffected.
                    let grace = st.stall_grace;
                    let (st, _) = self
                        .shared
                        .cond
                        .wait_timeout_while(st, grace, |st| !st.can_move())
                        .unwrap_or_else(|e| e.into_inner());
                    let moved = st.can_move();
                    return if moved {
                        Ok(())
                    } else {
                        Err(BlockOnError::Stalled)
                    };
                }
            };
            if to > now {
                st.offset = to - self.shared.base;
            }
            let now = self.shared.now(&st);
            while let Some(entry) = st.timers.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                wake.push(entry.remove());
            }
        }
        drop(st);
        // Wake outside the lock: waking schedules tasks, which takes the lock.
        for w in wake {
            w.wake();
        }
        Ok(())
    }

    /// Drops every task that is queued or waiting on a timer of this runtime, so their futures
    /// are dropped and their handles resolve to [`JoinError::Cancelled`](crate::JoinError).
    ///
    /// Tasks spawned later are dropped at once until the next `block_on`. Call this at the
    /// end of a test to release tasks that would otherwise wait forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let handle = rt.spawn(std::future::pending::<()>());
    /// handle.detach();
    /// rt.shutdown();
    /// ```
    pub fn shutdown(&self) {
        let (queue, timers, targets, active) = {
            let mut st = self.shared.lock();
            st.shut_down = true;
            (
                std::mem::take(&mut st.queue),
                std::mem::take(&mut st.timers),
                std::mem::take(&mut st.targets),
                std::mem::take(&mut st.active),
            )
        };
        // Dropped outside the lock: dropping a task's future may touch the runtime.
        drop(queue);
        drop(timers);
        drop(targets);
        // Every task not finished yet is woken: being shut down, the runtime drops it (with
        // its future) instead of queueing it.
        for waker in active.into_values() {
            waker.wake();
        }
    }

    fn schedule_fn(&self) -> impl Fn(Runnable) + Send + Sync + 'static {
        let weak = Arc::downgrade(&self.shared);
        move |runnable: Runnable| {
            let Some(shared) = weak.upgrade() else {
                // The runtime is gone; dropping the runnable drops the task's future.
                return;
            };
            let mut st = shared.lock();
            if st.shut_down {
                drop(st);
                drop(runnable);
                return;
            }
            st.queue.push_back(runnable);
            drop(st);
            shared.cond.notify_all();
        }
    }
}

fn wall_of(st: &State) -> Timestamp {
    let mono = SignedDuration::try_from(st.offset).unwrap_or(SignedDuration::MAX);
    st.wall_start
        .checked_add(mono.saturating_add(st.wall_adjust))
        .unwrap_or(if st.wall_adjust.is_negative() {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
}

struct RunningGuard<'a> {
    shared: &'a Shared,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().running = false;
    }
}

struct CurrentGuard {
    previous: Option<VirtualRuntime>,
}

impl CurrentGuard {
    fn enter(rt: VirtualRuntime) -> Self {
        CurrentGuard {
            previous: CURRENT.with(|c| c.borrow_mut().replace(rt)),
        }
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

struct BlockingGuard {
    shared: Arc<Shared>,
}

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        self.shared.lock().blocking -= 1;
        self.shared.cond.notify_all();
    }
}

/// Removes a spawned task's entry from `State::active` when its future ends or is dropped.
struct Untrack {
    shared: Weak<Shared>,
    id: u64,
}

impl Drop for Untrack {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            let waker = shared.lock().active.remove(&self.id);
            // Dropped outside the lock: the last reference to a task may schedule it.
            drop(waker);
        }
    }
}

impl Runtime for VirtualRuntime {
    type Sleep = VirtualSleep;

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = {
            let mut st = self.shared.lock();
            st.next_task += 1;
            st.next_task
        };
        let untrack = Untrack {
            shared: Arc::downgrade(&self.shared),
            id,
        };
        let tracked = async move {
            let _untrack = untrack;
            future.await
        };
        let (runnable, task) = async_task::Builder::new()
            .propagate_panic(true)
            .spawn(move |()| tracked, self.schedule_fn());
        self.shared.lock().active.insert(id, runnable.waker());
        runnable.schedule();
        JoinHandle::from_task(task)
    }

    fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.shared.lock().blocking += 1;
        let guard = BlockingGuard {
            shared: self.shared.clone(),
        };
        let work = async move { f() };
        let guard = Mutex::new(Some(guard));
        let (runnable, task) = async_task::Builder::new().propagate_panic(true).spawn(
            move |()| work,
            move |runnable: Runnable| {
                let guard = guard.lock().unwrap_or_else(|e| e.into_inner()).take();
                // Blocking work gets a real thread; the count drops only after the result is
                // delivered, so the clock cannot move between the two.
                std::thread::Builder::new()
                    .name("wrangle-virtual-blocking".into())
                    .spawn(move || {
                        runnable.run();
                        drop(guard);
                    })
                    .expect("failed to spawn a thread for blocking work");
            },
        );
        runnable.schedule();
        JoinHandle::from_task(task)
    }

    fn now(&self) -> Instant {
        let st = self.shared.lock();
        self.shared.now(&st)
    }

    /// Virtual nanoseconds since this runtime was built: exact, like `now`.
    fn monotonic_nanos(&self) -> u64 {
        u64::try_from(self.shared.lock().offset.as_nanos()).unwrap_or(u64::MAX)
    }

    fn wall_now(&self) -> Timestamp {
        wall_of(&self.shared.lock())
    }

    fn sleep_until(&self, deadline: Instant) -> VirtualSleep {
        VirtualSleep::new(self.shared.clone(), deadline)
    }

    fn name(&self) -> &'static str {
        "virtual"
    }
}

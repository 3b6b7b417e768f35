//! The deterministic virtual-time runtime: [`VirtualRuntime`], its builder and its errors.
//!
//! Its futures ([`Advance`], [`AdvanceToNext`], [`VirtualSleep`]) are in [`crate::future`].

pub(crate) mod advance;
mod builder;
mod executor;
pub(crate) mod sleep;

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

use advance::{Advance, AdvanceToNext};
pub use builder::{BlockOnError, VirtualRuntimeBuilder};
use sleep::VirtualSleep;

use crate::loom::IgnorePoison;
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
    /// A waker of every spawned task not finished yet, so that `abort` (and the runtime's
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

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held while user code runs.
        self.state.lock().ignore_poison()
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
                let guard = guard.lock().ignore_poison().take();
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

//! [`VirtualRuntimeBuilder`] and [`BlockOnError`].

use super::*;

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
    pub(super) seed: Option<u64>,
    pub(super) auto_advance: bool,
    pub(super) park_when_stalled: bool,
    pub(super) stall_grace: Duration,
    pub(super) wall_start: Timestamp,
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
    /// [`RuntimeThread`](crate::thread::RuntimeThread) of flavour `Virtual`.
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

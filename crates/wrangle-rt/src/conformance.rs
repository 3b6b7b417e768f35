//! A conformance suite for any [`Runtime`] implementation.
//!
//! Each check is an `async fn` generic over the runtime that panics, with a message, when the
//! runtime breaks the contract. [`run_all`] runs every check. The suite runs against every
//! adapter in this crate's tests; run it against your own implementation the same way:
//!
//! ```
//! use wrangle_rt::{VirtualRuntime, conformance};
//!
//! let rt = VirtualRuntime::new();
//! rt.block_on(conformance::run_all(&rt));
//! ```
//!
//! Checks that wait for something to happen give up after [`GUARD`] (on the runtime's own
//! clock), so a broken runtime fails instead of hanging.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use event_listener::Event;

use crate::{JoinError, Runtime, Sleep};

/// How long a check waits for an event before it declares the runtime broken.
pub const GUARD: Duration = Duration::from_secs(10);

/// A one-way flag that can be awaited.
#[derive(Clone, Default)]
struct Flag {
    inner: Arc<(AtomicBool, Event)>,
}

impl Flag {
    fn set(&self) {
        self.inner.0.store(true, Ordering::SeqCst);
        self.inner.1.notify(usize::MAX);
    }

    fn is_set(&self) -> bool {
        self.inner.0.load(Ordering::SeqCst)
    }

    async fn wait(&self) {
        loop {
            if self.is_set() {
                return;
            }
            let listener = self.inner.1.listen();
            if self.is_set() {
                return;
            }
            listener.await;
        }
    }
}

/// Sets its flag when dropped.
struct SetOnDrop(Flag);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

async fn within<R: Runtime, F: Future>(rt: &R, what: &str, future: F) -> F::Output {
    match rt.timeout(GUARD, future).await {
        Ok(v) => v,
        Err(_) => panic!("{}: {what} did not happen within {GUARD:?}", rt.name()),
    }
}

/// Runs every check of the suite.
///
/// # Panics
///
/// When the runtime breaks the contract, naming the check.
pub async fn run_all<R: Runtime>(rt: &R) {
    spawn_join(rt).await;
    spawn_many(rt).await;
    drop_cancels(rt).await;
    detach_keeps_running(rt).await;
    cancel_waits_for_drop(rt).await;
    cancel_after_finish_returns_output(rt).await;
    panic_is_captured(rt).await;
    blocking_work(rt).await;
    blocking_panic_is_captured(rt).await;
    timers_never_fire_early(rt).await;
    sleep_reset(rt).await;
    timeout_elapses(rt).await;
    clocks_are_monotonic(rt).await;
    fast_clock_follows_now(rt).await;
}

/// A spawned task's output reaches its handle.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn spawn_join<R: Runtime>(rt: &R) {
    let out = within(rt, "join", rt.spawn(async { 40 + 2 })).await;
    assert_eq!(
        out.expect("spawn_join: task failed"),
        42,
        "spawn_join: wrong output"
    );
}

/// 1,000 tasks all run, each exactly once.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn spawn_many<R: Runtime>(rt: &R) {
    let count = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..1000)
        .map(|i| {
            let count = count.clone();
            rt.spawn(async move {
                count.fetch_add(1, Ordering::SeqCst);
                i
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let out = within(rt, "join", h).await;
        assert_eq!(
            out.expect("spawn_many: task failed"),
            i,
            "spawn_many: outputs mixed up"
        );
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        1000,
        "spawn_many: a task ran twice or never"
    );
}

/// Dropping a handle cancels its task: the future is dropped and never completes.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn drop_cancels<R: Runtime>(rt: &R) {
    let (started, dropped, finished) = (Flag::default(), Flag::default(), Flag::default());
    let handle = rt.spawn({
        let (started, finished) = (started.clone(), finished.clone());
        let guard = SetOnDrop(dropped.clone());
        async move {
            let _guard = guard;
            started.set();
            std::future::pending::<()>().await;
            finished.set();
        }
    });
    within(rt, "start of the task", started.wait()).await;
    drop(handle);
    within(rt, "drop of the cancelled task's future", dropped.wait()).await;
    assert!(
        !finished.is_set(),
        "drop_cancels: the task ran past its cancellation"
    );
}

/// A detached task runs to completion.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn detach_keeps_running<R: Runtime>(rt: &R) {
    let (go, done) = (Flag::default(), Flag::default());
    rt.spawn({
        let (go, done) = (go.clone(), done.clone());
        async move {
            go.wait().await;
            done.set();
        }
    })
    .detach();
    go.set();
    within(rt, "completion of the detached task", done.wait()).await;
}

/// `cancel().await` returns only after the task's future has been dropped.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn cancel_waits_for_drop<R: Runtime>(rt: &R) {
    let (started, dropped) = (Flag::default(), Flag::default());
    let handle = rt.spawn({
        let started = started.clone();
        let guard = SetOnDrop(dropped.clone());
        async move {
            let _guard = guard;
            started.set();
            std::future::pending::<()>().await;
        }
    });
    within(rt, "start of the task", started.wait()).await;
    let out = within(rt, "cancel-and-wait", handle.cancel()).await;
    assert!(
        matches!(out, Err(JoinError::Cancelled)),
        "cancel_waits_for_drop: expected Cancelled, got {out:?}"
    );
    assert!(
        dropped.is_set(),
        "cancel_waits_for_drop: cancel returned before the future was dropped"
    );
}

/// Cancelling a task that already finished returns its output.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn cancel_after_finish_returns_output<R: Runtime>(rt: &R) {
    let done = Flag::default();
    let handle = rt.spawn({
        let done = done.clone();
        async move {
            done.set();
            7
        }
    });
    within(rt, "completion", done.wait()).await;
    // The flag is set just before the output is stored; wait until the handle reports it.
    within(rt, "handle to finish", async {
        while !handle.is_finished() {
            crate::yield_now().await;
        }
    })
    .await;
    let out = within(rt, "cancel", handle.cancel()).await;
    assert_eq!(
        out.ok(),
        Some(7),
        "cancel_after_finish_returns_output: output lost"
    );
}

/// A panic inside a task is captured, with its message, and the runtime keeps working.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn panic_is_captured<R: Runtime>(rt: &R) {
    let out = within(
        rt,
        "join of a panicking task",
        rt.spawn(async { panic!("conformance boom") }),
    )
    .await;
    match out {
        Err(JoinError::Panicked(p)) => {
            assert_eq!(
                p.message(),
                Some("conformance boom"),
                "panic_is_captured: message lost"
            );
        }
        other => panic!("panic_is_captured: expected Panicked, got {other:?}"),
    }
    let after = within(rt, "join after a panic", rt.spawn(async { 1 })).await;
    assert_eq!(
        after.ok(),
        Some(1),
        "panic_is_captured: runtime broken after a panic"
    );
}

/// Blocking work runs and its result reaches the handle.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn blocking_work<R: Runtime>(rt: &R) {
    let out = within(
        rt,
        "blocking work",
        rt.spawn_blocking(|| (1..=100u32).sum::<u32>()),
    )
    .await;
    assert_eq!(out.ok(), Some(5050), "blocking_work: wrong result");
}

/// A panic in blocking work is captured.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn blocking_panic_is_captured<R: Runtime>(rt: &R) {
    let out = within(
        rt,
        "blocking panic",
        rt.spawn_blocking(|| -> u32 { panic!("blocking boom") }),
    )
    .await;
    match out {
        Err(JoinError::Panicked(p)) => assert_eq!(p.message(), Some("blocking boom")),
        other => panic!("blocking_panic_is_captured: expected Panicked, got {other:?}"),
    }
}

/// Sleeps complete at or after their deadline, never before.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn timers_never_fire_early<R: Runtime>(rt: &R) {
    for ms in [0_u64, 1, 5, 20] {
        let deadline = rt.now() + Duration::from_millis(ms);
        within(rt, "sleep", rt.sleep_until(deadline)).await;
        let now = rt.now();
        assert!(
            now >= deadline,
            "timers_never_fire_early: woke {:?} early",
            deadline - now
        );
    }
    let start = rt.now();
    within(rt, "sleep", rt.sleep(Duration::from_millis(10))).await;
    assert!(
        rt.now() - start >= Duration::from_millis(10),
        "timers_never_fire_early: sleep short"
    );
}

/// A sleep can be reset earlier and later, before and after it was first polled.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn sleep_reset<R: Runtime>(rt: &R) {
    // Earlier: an hour becomes 10 ms.
    let mut sleep = Box::pin(rt.sleep(Duration::from_secs(3600)));
    assert!(
        futures_lite::future::poll_once(sleep.as_mut())
            .await
            .is_none()
    );
    let early = rt.now() + Duration::from_millis(10);
    sleep.as_mut().reset(early);
    assert_eq!(sleep.deadline(), early, "sleep_reset: deadline not updated");
    within(rt, "reset sleep", sleep.as_mut()).await;
    assert!(
        rt.now() >= early,
        "sleep_reset: fired before the new deadline"
    );

    // Later, after completion: the sleep is armed again.
    let later = rt.now() + Duration::from_millis(15);
    sleep.as_mut().reset(later);
    within(rt, "re-armed sleep", sleep.as_mut()).await;
    assert!(rt.now() >= later, "sleep_reset: re-armed sleep fired early");
}

/// A timeout elapses on a pending future and passes a ready one through.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn timeout_elapses<R: Runtime>(rt: &R) {
    let start = rt.now();
    let r = rt
        .timeout(Duration::from_millis(10), std::future::pending::<()>())
        .await;
    assert!(
        r.is_err(),
        "timeout_elapses: pending future did not time out"
    );
    assert!(
        rt.now() - start >= Duration::from_millis(10),
        "timeout_elapses: elapsed early"
    );
    let ok = rt.timeout(Duration::from_secs(3600), async { 9 }).await;
    assert_eq!(ok.ok(), Some(9), "timeout_elapses: ready future timed out");
}

/// The monotonic clock never goes back, across tasks and sleeps.
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn clocks_are_monotonic<R: Runtime>(rt: &R) {
    let mut last = rt.now();
    for _ in 0..100 {
        let now = rt.now();
        assert!(now >= last, "clocks_are_monotonic: now() went back");
        last = now;
    }
    let inner = rt.clone();
    let seen = within(rt, "join", rt.spawn(async move { inner.now() }))
        .await
        .expect("task failed");
    assert!(
        seen >= last,
        "clocks_are_monotonic: a task saw an earlier now()"
    );
    let _ = rt.wall_now();
}

/// [`Runtime::monotonic_nanos`] never goes back, and its intervals are the intervals of
/// [`Runtime::now`]: each reading is bracketed by two `now()` readings, so the interval
/// between two of them must lie between the brackets' inner and outer intervals (with a
/// slack of one microsecond plus 0.1% for clocks of slightly different rates).
///
/// # Panics
///
/// When the runtime breaks the contract.
pub async fn fast_clock_follows_now<R: Runtime>(rt: &R) {
    let mut last = rt.monotonic_nanos();
    for _ in 0..100 {
        let now = rt.monotonic_nanos();
        assert!(
            now >= last,
            "fast_clock_follows_now: monotonic_nanos() went back"
        );
        last = now;
    }
    let bracket = || {
        let before = rt.now();
        let nanos = rt.monotonic_nanos();
        (before, nanos, rt.now())
    };
    let (before0, nanos0, after0) = bracket();
    rt.sleep(Duration::from_millis(20)).await;
    let (before1, nanos1, after1) = bracket();
    let fast = Duration::from_nanos(nanos1 - nanos0);
    let inner = before1.saturating_duration_since(after0);
    let outer = after1.saturating_duration_since(before0);
    let slack = Duration::from_micros(1) + outer / 1000;
    assert!(
        fast + slack >= inner && fast <= outer + slack,
        "fast_clock_follows_now: {fast:?} on monotonic_nanos() against {inner:?}..{outer:?} on now()"
    );
}

//! The lifecycle verbs of the task-owning types (`PeriodicTask`, `Timer`, `ScheduledTask`):
//! `abort` requests the cancellation without waiting; `cancel` also waits and returns the
//! final stats; a `future::Cancel` dropped after any number of polls (R5) has still cancelled.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{DropCounter, MS, eventually};
use futures_lite::future::poll_once;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime};
use wrangle_timer::{Overlap, PeriodicTask, ScheduledTask, Timer, TimerTick, WallSchedule};

/// What the three owners have in common, for the tests below.
trait Owner {
    type Stats: std::fmt::Debug + Copy + PartialEq;
    fn start(rt: &DefaultRuntime, made: Arc<AtomicUsize>, drops: DropCounter) -> Self;
    fn started(&self) -> u64;
    fn is_finished(&self) -> bool;
    fn abort(&self);
    fn cancel(self) -> impl Future<Output = Self::Stats> + Send + 'static;
}

/// A call that counts itself, holds a drop guard and never ends by itself.
fn endless(
    rt: &DefaultRuntime,
    made: &AtomicUsize,
    drops: &DropCounter,
) -> impl Future<Output = ()> + Send + use<> {
    made.fetch_add(1, Ordering::SeqCst);
    let (rt, guard) = (rt.clone(), drops.guard());
    async move {
        let _guard = guard;
        rt.sleep(Duration::from_secs(3600)).await;
    }
}

impl Owner for PeriodicTask {
    type Stats = wrangle_timer::PeriodicStats;
    fn start(rt: &DefaultRuntime, made: Arc<AtomicUsize>, drops: DropCounter) -> Self {
        let rt2 = rt.clone();
        PeriodicTask::with_runtime(rt.clone(), 2 * MS, move || endless(&rt2, &made, &drops))
            .unwrap()
    }
    fn started(&self) -> u64 {
        self.stats().started
    }
    fn is_finished(&self) -> bool {
        self.is_finished()
    }
    fn abort(&self) {
        self.abort();
    }
    fn cancel(self) -> impl Future<Output = Self::Stats> + Send + 'static {
        PeriodicTask::cancel(self)
    }
}

impl Owner for Timer {
    type Stats = wrangle_timer::TimerStats;
    fn start(rt: &DefaultRuntime, made: Arc<AtomicUsize>, drops: DropCounter) -> Self {
        let rt2 = rt.clone();
        Timer::with_runtime(rt.clone(), 2 * MS, Overlap::Allow, move |_: TimerTick| {
            endless(&rt2, &made, &drops)
        })
        .unwrap()
    }
    fn started(&self) -> u64 {
        self.stats().started
    }
    fn is_finished(&self) -> bool {
        self.is_finished()
    }
    fn abort(&self) {
        self.abort();
    }
    fn cancel(self) -> impl Future<Output = Self::Stats> + Send + 'static {
        Timer::cancel(self)
    }
}

impl Owner for ScheduledTask {
    type Stats = wrangle_timer::ScheduledStats;
    fn start(rt: &DefaultRuntime, made: Arc<AtomicUsize>, drops: DropCounter) -> Self {
        let rt2 = rt.clone();
        let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
        let every = WallSchedule::every(anchor, SignedDuration::from_millis(2)).unwrap();
        ScheduledTask::builder(every)
            .overlap(Overlap::Allow)
            .runtime(rt.clone())
            .spawn(move |_: Timestamp| endless(&rt2, &made, &drops))
            .unwrap()
    }
    fn started(&self) -> u64 {
        self.stats().started
    }
    fn is_finished(&self) -> bool {
        self.is_finished()
    }
    fn abort(&self) {
        self.abort();
    }
    fn cancel(self) -> impl Future<Output = Self::Stats> + Send + 'static {
        ScheduledTask::cancel(self)
    }
}

async fn abort_then_cancel<O: Owner>(rt: &DefaultRuntime) {
    let (made, drops) = (Arc::new(AtomicUsize::new(0)), DropCounter::default());
    let owner = O::start(rt, made.clone(), drops.clone());
    eventually(rt, "a first call", || owner.started() >= 1).await;
    owner.abort();
    eventually(rt, "the owner to end", || owner.is_finished()).await;
    let calls = made.load(Ordering::SeqCst);
    assert_eq!(drops.dropped(), calls, "every call dropped");
    rt.sleep(10 * MS).await;
    assert_eq!(owner.started(), calls as u64, "no call after abort");
    assert_eq!(made.load(Ordering::SeqCst), calls);
    owner.abort(); // again: nothing to do
    owner.cancel().await;
}

/// R5: the `Cancel` future polled `polls` times, then dropped.
async fn dropped_cancel<O: Owner>(rt: &DefaultRuntime, polls: usize) {
    let (made, drops) = (Arc::new(AtomicUsize::new(0)), DropCounter::default());
    let owner = O::start(rt, made.clone(), drops.clone());
    eventually(rt, "a first call", || owner.started() >= 1).await;
    let mut cancel = Box::pin(owner.cancel());
    for _ in 0..polls {
        // The calls never end by themselves, but cancelled they may be gone at once.
        if poll_once(&mut cancel).await.is_some() {
            break;
        }
    }
    drop(cancel);
    eventually(rt, "every call's drop", || {
        drops.dropped() == made.load(Ordering::SeqCst)
    })
    .await;
    let calls = made.load(Ordering::SeqCst);
    rt.sleep(10 * MS).await;
    assert_eq!(
        made.load(Ordering::SeqCst),
        calls,
        "no call after cancel, {polls} polls"
    );
    assert_eq!(drops.dropped(), calls);
}

#[test]
fn abort_cancels_without_waiting_and_no_call_starts_after() {
    each_runtime(|rt| async move {
        abort_then_cancel::<PeriodicTask>(&rt).await;
        abort_then_cancel::<Timer>(&rt).await;
        abort_then_cancel::<ScheduledTask>(&rt).await;
    });
}

#[test]
fn a_cancel_future_dropped_after_any_number_of_polls_has_cancelled() {
    each_runtime(|rt| async move {
        for polls in 0..3 {
            dropped_cancel::<PeriodicTask>(&rt, polls).await;
            dropped_cancel::<Timer>(&rt, polls).await;
            dropped_cancel::<ScheduledTask>(&rt, polls).await;
        }
    });
}

#[test]
fn cancel_returns_the_final_stats_once_every_call_is_gone() {
    each_runtime(|rt| async move {
        let drops = DropCounter::default();
        let made = Arc::new(AtomicUsize::new(0));
        let task = PeriodicTask::start(&rt, made.clone(), drops.clone());
        eventually(&rt, "a first call", || task.stats().started >= 1).await;
        let last = PeriodicTask::cancel(task).await;
        // Waited: the call in progress is dropped when `cancel` completes.
        assert_eq!(drops.dropped(), made.load(Ordering::SeqCst));
        assert_eq!((last.cancelled, last.running), (1, 0));
        assert_eq!(last.started, 1, "calls never overlap, the first never ends");
    });
}

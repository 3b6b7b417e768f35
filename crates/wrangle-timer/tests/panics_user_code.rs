//! R16: user code that panics synchronously, while building its future (before it returns
//! one), or a user `Schedule` that panics: the panic is reported and counted, and the task
//! goes on as its `FailurePolicy` says. Exact counts on virtual time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{Collected, MS, eventually};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime};
use wrangle_timer::{
    FailurePolicy, Overlap, PeriodicTask, Schedule, ScheduledTask, Timer, TimerTick, WallSchedule,
};

/// Counts calls; the second one (index 1) panics before returning its future.
fn second_call_panics(calls: &Arc<AtomicU32>) -> impl FnMut() -> std::future::Ready<()> + use<> {
    let calls = calls.clone();
    move || {
        if calls.fetch_add(1, Ordering::SeqCst) == 1 {
            panic!("sync boom");
        }
        std::future::ready(())
    }
}

async fn wait_calls(rt: &DefaultRuntime, calls: &AtomicU32, n: u32) {
    eventually(rt, "the calls", || calls.load(Ordering::SeqCst) >= n).await;
}

#[test]
fn periodic_task_reports_a_synchronous_panic_and_continues() {
    each_runtime(|rt| async move {
        let errors = Collected::default();
        let calls = Arc::new(AtomicU32::new(0));
        let task = PeriodicTask::builder(10 * MS)
            .error_reporter(errors.reporter())
            .name("beat")
            .runtime(rt.clone())
            .spawn(second_call_panics(&calls))
            .unwrap();
        if rt.is_virtual() {
            rt.sleep(35 * MS).await;
        } else {
            wait_calls(&rt, &calls, 4).await;
        }
        assert!(!task.is_finished(), "the task survived the panic");
        let stats = task.cancel().await;
        if rt.is_virtual() {
            // Calls at 0, 10, 20 and 30 ms; the one at 10 ms panicked.
            assert_eq!((stats.started, stats.completed, stats.failed), (4, 3, 1));
        }
        assert_eq!(stats.failed, 1);
        assert_eq!(
            stats.started,
            stats.completed + stats.failed + stats.cancelled
        );
        assert_eq!(
            errors.messages(),
            ["unhandled error in beat: task panicked: sync boom"]
        );
    });
}

#[test]
fn periodic_task_stops_after_a_synchronous_panic_under_the_stop_policy() {
    each_runtime(|rt| async move {
        let errors = Collected::default();
        let calls = Arc::new(AtomicU32::new(0));
        let task = PeriodicTask::builder(10 * MS)
            .failure_policy(FailurePolicy::Stop)
            .error_reporter(errors.reporter())
            .runtime(rt.clone())
            .spawn(second_call_panics(&calls))
            .unwrap();
        eventually(&rt, "the stop", || task.is_finished()).await;
        let stats = task.cancel().await;
        assert_eq!((stats.started, stats.completed, stats.failed), (2, 1, 1));
        assert_eq!(errors.messages().len(), 1);
    });
}

#[test]
fn timer_reports_a_synchronous_panic_and_keeps_ticking() {
    each_runtime(|rt| async move {
        let errors = Collected::default();
        let calls = Arc::new(AtomicU32::new(0));
        let mut f = second_call_panics(&calls);
        let timer = Timer::builder(10 * MS, Overlap::Allow)
            .error_reporter(errors.reporter())
            .name("ticker")
            .runtime(rt.clone())
            .spawn(move |_: TimerTick| f())
            .unwrap();
        if rt.is_virtual() {
            rt.sleep(35 * MS).await;
        } else {
            wait_calls(&rt, &calls, 4).await;
        }
        let stats = timer.cancel().await;
        if rt.is_virtual() {
            assert_eq!((stats.started, stats.completed, stats.failed), (4, 3, 1));
        }
        assert_eq!(stats.failed, 1);
        assert_eq!(
            stats.started,
            stats.completed + stats.failed + stats.cancelled
        );
        assert_eq!(
            errors.messages(),
            ["unhandled error in ticker: task panicked: sync boom"]
        );
    });
}

#[test]
fn scheduled_task_reports_a_synchronous_panic_and_continues() {
    each_runtime(|rt| async move {
        let errors = Collected::default();
        let calls = Arc::new(AtomicU32::new(0));
        let mut f = second_call_panics(&calls);
        let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
        let task = ScheduledTask::builder(WallSchedule::every(anchor, ms(10)).unwrap())
            .error_reporter(errors.reporter())
            .name("job")
            .runtime(rt.clone())
            .spawn(move |_: Timestamp| f())
            .unwrap();
        if rt.is_virtual() {
            rt.sleep(35 * MS).await;
        } else {
            wait_calls(&rt, &calls, 4).await;
        }
        assert!(!task.is_finished(), "the task survived the panic");
        let stats = task.cancel().await;
        if rt.is_virtual() {
            // Runs at 10, 20 and 30 ms (the grid's first point after now); the one at 20 ms
            // panicked.
            assert_eq!((stats.started, stats.completed, stats.failed), (3, 2, 1));
        }
        assert_eq!(stats.failed, 1);
        assert_eq!(
            errors.messages(),
            ["unhandled error in job: task panicked: sync boom"]
        );
    });
}

#[test]
fn scheduled_task_stops_after_a_synchronous_panic_under_the_stop_policy() {
    each_runtime(|rt| async move {
        let calls = Arc::new(AtomicU32::new(0));
        let mut f = second_call_panics(&calls);
        let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
        let task = ScheduledTask::builder(WallSchedule::every(anchor, ms(10)).unwrap())
            .failure_policy(FailurePolicy::Stop)
            .error_reporter(Collected::default().reporter())
            .runtime(rt.clone())
            .spawn(move |_: Timestamp| f())
            .unwrap();
        eventually(&rt, "the stop", || task.is_finished()).await;
        let stats = task.cancel().await;
        assert_eq!((stats.started, stats.completed, stats.failed), (2, 1, 1));
    });
}

/// Every 10 ms from its creation; `next_fire` panics on the calls listed in `panics`.
struct Flaky {
    origin: Timestamp,
    asked: AtomicU32,
    panics: Vec<u32>,
}

impl Schedule for Flaky {
    fn next_fire(&self, after: Timestamp) -> Option<Timestamp> {
        let n = self.asked.fetch_add(1, Ordering::SeqCst);
        if self.panics.contains(&n) {
            panic!("schedule boom {n}");
        }
        let since = after.duration_since(self.origin).as_millis();
        let k = since.div_euclid(10) + 1;
        Some(self.origin + SignedDuration::from_millis(i64::try_from(k).unwrap() * 10))
    }

    fn first_fire(&self, _now: Timestamp) -> Option<Timestamp> {
        Some(self.origin)
    }
}

fn ms(n: i64) -> SignedDuration {
    SignedDuration::from_millis(n)
}

#[test]
fn a_panicking_schedule_is_reported_counted_and_asked_again_under_continue() {
    each_runtime(|rt| async move {
        let errors = Collected::default();
        let calls = Arc::new(AtomicU32::new(0));
        let schedule = Flaky {
            origin: rt.wall_now(),
            asked: AtomicU32::new(0),
            panics: vec![1],
        };
        let c = calls.clone();
        let task = ScheduledTask::builder(schedule)
            .max_sleep(50 * MS)
            .error_reporter(errors.reporter())
            .name("flaky")
            .runtime(rt.clone())
            .spawn(move |_: Timestamp| {
                c.fetch_add(1, Ordering::SeqCst);
                async {}
            })
            .unwrap();
        if rt.is_virtual() {
            rt.sleep(75 * MS).await;
        } else {
            wait_calls(&rt, &calls, 3).await;
        }
        assert!(!task.is_finished(), "the task survived the panic");
        let stats = task.cancel().await;
        if rt.is_virtual() {
            // Runs at 0 and 10 ms; asking for the instant after 10 ms panicked, so it asks
            // again `max_sleep` later (at 60 ms): 70 ms.
            assert_eq!((stats.started, stats.schedule_panicked), (3, 1));
            assert_eq!(calls.load(Ordering::SeqCst), 3);
        }
        assert_eq!(stats.schedule_panicked, 1);
        assert_eq!(
            errors.messages(),
            ["unhandled error in flaky: schedule panicked: schedule boom 1"]
        );
    });
}

#[test]
fn a_panicking_schedule_ends_the_task_under_stop() {
    each_runtime(|rt| async move {
        let errors = Collected::default();
        let schedule = Flaky {
            origin: rt.wall_now() + ms(5),
            asked: AtomicU32::new(0),
            panics: vec![0],
        };
        let task = ScheduledTask::builder(schedule)
            .failure_policy(FailurePolicy::Stop)
            .error_reporter(errors.reporter())
            .name("flaky")
            .runtime(rt.clone())
            .spawn(|_: Timestamp| async {})
            .unwrap();
        eventually(&rt, "the end", || task.is_finished()).await;
        let stats = task.cancel().await;
        if rt.is_virtual() {
            // The first instant was known (first_fire): it ran; the next could not be known.
            assert_eq!(
                (stats.started, stats.completed, stats.schedule_panicked),
                (1, 1, 1)
            );
        } else {
            // A loaded machine may come to the first instant late: then it is a misfire, and
            // counting the instants it missed asks the schedule first.
            assert!(stats.started <= 1, "{stats:?}");
            assert_eq!(
                (stats.completed, stats.schedule_panicked),
                (stats.started, 1)
            );
        }
        assert_eq!(
            errors.messages(),
            ["unhandled error in flaky: schedule panicked: schedule boom 0"]
        );
    });
}

//! ScheduledTask on wall-clock schedules: seed cases, DST on virtual time, jumps and suspend,
//! overlap, misfire and error policies, cancel on drop.

mod common;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Collected, DropCounter, MS, eventually};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, Runtime, VirtualRuntime};
use wrangle_timer::{
    ConfigError, FailurePolicy, Misfire, Overlap, ScheduledStats, ScheduledTask, WallSchedule,
};

fn paris() -> TimeZone {
    TimeZone::get("Europe/Paris").unwrap()
}

fn ms(n: i64) -> SignedDuration {
    SignedDuration::from_millis(n)
}

/// Runs `schedule` with calls that sleep `work`, for `window`, and returns the total time slept
/// by completed calls and the final counters. On a real runtime, where a loaded machine may
/// not even start a run within the window, it also waits until `until` holds of the counters
/// (eventually) before stopping the task.
async fn seed_run(
    rt: &DefaultRuntime,
    schedule: WallSchedule,
    overdue_runs: bool,
    work: Duration,
    window: Duration,
    until: impl Fn(&ScheduledStats) -> bool,
) -> (Duration, ScheduledStats) {
    let total = Arc::new(Mutex::new(Duration::ZERO));
    let mut builder = ScheduledTask::builder(schedule);
    if overdue_runs {
        builder = builder.overlap(Overlap::Queue).misfire(Misfire::RunAll);
    }
    let task = {
        let (rt2, total) = (rt.clone(), total.clone());
        builder
            .runtime(rt.clone())
            .spawn(move |_at: Timestamp| {
                let (rt, total) = (rt2.clone(), total.clone());
                async move {
                    rt.sleep(work).await;
                    *total.lock().unwrap() += work;
                }
            })
            .unwrap()
    };
    rt.sleep(window).await;
    if !rt.is_virtual() {
        eventually(rt, "the awaited runs", || until(&task.stats())).await;
    }
    let stats = task.cancel().await;
    let total = *total.lock().unwrap();
    (total, stats)
}

/// The time slept by the completed runs of `seed_run` (40 ms each).
fn work_of(stats: &ScheduledStats) -> Duration {
    40 * MS * u32::try_from(stats.completed).unwrap()
}

fn now_in_paris(rt: &DefaultRuntime) -> Zoned {
    rt.wall_now().to_zoned(paris())
}

#[test]
fn single_run_on_time() {
    each_runtime(|rt| async move {
        let on = now_in_paris(&rt) + ms(40);
        // A loaded machine may come to the instant after it passed: a skipped misfire.
        let (total, stats) = seed_run(&rt, WallSchedule::once(on), false, 40 * MS, 100 * MS, |s| {
            s.started + s.skipped >= 1
        })
        .await;
        assert_eq!(stats.started + stats.skipped, 1, "{stats:?}");
        if rt.is_virtual() {
            assert_eq!((total, stats.started, stats.completed), (40 * MS, 1, 1));
        }
    });
}

#[test]
fn single_overdue_is_skipped_or_run_once() {
    each_runtime(|rt| async move {
        let on = now_in_paris(&rt) - ms(40);
        let (total, stats) = seed_run(
            &rt,
            WallSchedule::once(on.clone()),
            false,
            40 * MS,
            100 * MS,
            |s| s.skipped >= 1,
        )
        .await;
        assert_eq!(
            (total, stats.started, stats.skipped),
            (Duration::ZERO, 0, 1)
        );
        let (total, stats) = seed_run(&rt, WallSchedule::once(on), true, 40 * MS, 100 * MS, |s| {
            s.started >= 1
        })
        .await;
        assert_eq!(stats.started, 1);
        if rt.is_virtual() {
            assert_eq!((total, stats.completed), (40 * MS, 1));
        }
    });
}

#[test]
fn repeating_grid_runs_before_its_anchor() {
    each_runtime(|rt| async move {
        let on = now_in_paris(&rt) + ms(130);
        let schedule = WallSchedule::every(on, ms(50)).unwrap();
        let (total, stats) = seed_run(&rt, schedule, false, 40 * MS, 100 * MS, |_| true).await;
        if rt.is_virtual() {
            // Runs at +30 ms (a grid point before the anchor) and +80 ms (cut off).
            assert_eq!(total, 40 * MS);
            assert_eq!((stats.started, stats.completed, stats.cancelled), (2, 1, 1));
        } else {
            // A starved test may stop the task late: count runs, not time.
            assert_eq!(total, work_of(&stats));
            assert!(stats.started <= stats.completed + 1, "one run at a time");
        }
    });
}

#[test]
fn repeating_overdue_skips_or_runs_missed_points_back_to_back() {
    each_runtime(|rt| async move {
        let on = now_in_paris(&rt) - ms(90);
        let schedule = WallSchedule::every(on, ms(35)).unwrap();
        let (total, stats) =
            seed_run(&rt, schedule.clone(), true, 40 * MS, 100 * MS, |_| true).await;
        if rt.is_virtual() {
            // Runs at +15 ms, then at +55 ms for the overdue +50 ms point.
            assert_eq!(total, 80 * MS);
        } else {
            assert_eq!(total, work_of(&stats));
        }
        let (total, stats) = seed_run(&rt, schedule, false, 40 * MS, 100 * MS, |_| true).await;
        if rt.is_virtual() {
            // Runs at +15 ms; +50 ms is skipped; +85 ms is cut off.
            assert_eq!(total, 40 * MS);
            assert_eq!(stats.skipped, 1);
        } else {
            assert_eq!(total, work_of(&stats));
        }
    });
}

/// Records the wall and monotonic instants of each run, with the instant it was for.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<(Timestamp, Timestamp, Duration)>>>);

impl Log {
    fn spawn(
        &self,
        rt: &VirtualRuntime,
        builder: wrangle_timer::ScheduledBuilder<WallSchedule>,
    ) -> ScheduledTask {
        let (log, rt2) = (self.0.clone(), rt.clone());
        builder
            .runtime(rt.clone())
            .spawn(move |at: Timestamp| {
                log.lock()
                    .unwrap()
                    .push((at, rt2.wall_now(), rt2.elapsed()));
                async {}
            })
            .unwrap()
    }

    fn entries(&self) -> Vec<(Timestamp, Timestamp, Duration)> {
        self.0.lock().unwrap().clone()
    }
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn daily_at_23h_across_the_paris_autumn_change_waits_25_hours() {
    virtual_time(|rt: VirtualRuntime| async move {
        let start: Zoned = "2024-10-26T22:00:00[Europe/Paris]".parse().unwrap();
        rt.set_wall(start.timestamp());
        let anchor: Zoned = "2024-10-26T23:00:00[Europe/Paris]".parse().unwrap();
        let log = Log::default();
        let task = log.spawn(
            &rt,
            ScheduledTask::builder(
                WallSchedule::every(anchor, SignedDuration::from_hours(24)).unwrap(),
            ),
        );
        rt.sleep(27 * HOUR).await;
        drop(task);
        let runs: Vec<_> = log
            .entries()
            .iter()
            .map(|(at, wall, mono)| {
                (
                    at.to_zoned(paris()).datetime().to_string(),
                    *wall == *at,
                    mono.as_secs() / 3600,
                )
            })
            .collect();
        assert_eq!(
            runs,
            [
                ("2024-10-26T23:00:00".to_owned(), true, 1),
                ("2024-10-27T23:00:00".to_owned(), true, 26),
            ]
        );
    });
}

#[test]
fn six_hourly_across_the_new_york_spring_change_is_elapsed_time() {
    virtual_time(|rt: VirtualRuntime| async move {
        let anchor: Zoned = "2024-03-09T23:00:00[America/New_York]".parse().unwrap();
        rt.set_wall(anchor.timestamp());
        let log = Log::default();
        let builder = ScheduledTask::builder(
            WallSchedule::every(anchor, SignedDuration::from_hours(6)).unwrap(),
        )
        .max_sleep(HOUR);
        let task = log.spawn(&rt, builder);
        rt.sleep(19 * HOUR).await;
        drop(task);
        let tz = TimeZone::get("America/New_York").unwrap();
        let runs: Vec<_> = log
            .entries()
            .iter()
            .map(|(at, _, mono)| {
                (
                    at.to_zoned(tz.clone()).datetime().to_string(),
                    mono.as_secs() / 3600,
                )
            })
            .collect();
        assert_eq!(
            runs,
            [
                ("2024-03-10T06:00:00".to_owned(), 6),
                ("2024-03-10T12:00:00".to_owned(), 12),
                ("2024-03-10T18:00:00".to_owned(), 18),
            ]
        );
    });
}

#[test]
fn wall_clock_jump_back_delays_the_run_and_it_fires_once_never_early() {
    virtual_time(|rt: VirtualRuntime| async move {
        let at = rt.wall_now().to_zoned(TimeZone::UTC) + SignedDuration::from_mins(30);
        let log = Log::default();
        let task = log.spawn(&rt, ScheduledTask::builder(WallSchedule::once(at.clone())));
        rt.sleep(Duration::from_secs(600)).await;
        rt.jump_wall(SignedDuration::from_hours(-1));
        rt.sleep(3 * HOUR).await;
        let entries = log.entries();
        assert_eq!(entries.len(), 1);
        let (for_at, wall, mono) = entries[0];
        assert_eq!(for_at, at.timestamp());
        assert_eq!(
            wall,
            at.timestamp(),
            "on time by the wall clock, never early"
        );
        assert_eq!(mono, Duration::from_secs(90 * 60));
        assert!(task.is_finished());
    });
}

#[test]
fn wall_clock_jump_forward_fires_once_within_the_polling_bound() {
    virtual_time(|rt: VirtualRuntime| async move {
        let anchor = rt.wall_now().to_zoned(TimeZone::UTC) + SignedDuration::from_mins(30);
        let log = Log::default();
        let schedule = WallSchedule::every(anchor.clone(), SignedDuration::from_hours(2)).unwrap();
        let task = log.spawn(&rt, ScheduledTask::builder(schedule));
        rt.sleep(Duration::from_secs(600)).await;
        rt.jump_wall(SignedDuration::from_hours(1));
        rt.sleep(HOUR).await;
        let entries = log.entries();
        assert_eq!(entries.len(), 1, "{entries:?}");
        let (for_at, wall, mono) = entries[0];
        assert_eq!(for_at, anchor.timestamp());
        assert!(wall >= for_at, "never early");
        assert!(
            mono <= Duration::from_secs(601),
            "noticed within a second of the jump"
        );
        assert_eq!(task.stats().skipped, 0);
    });
}

#[test]
fn suspend_past_several_points_fires_the_awaited_one_once_and_applies_the_misfire_policy() {
    for (misfire, expected, skipped) in [
        (Misfire::Skip, vec![10, 40], 2),
        (Misfire::RunOnce, vec![10, 30, 40], 1),
        (Misfire::RunAll, vec![10, 20, 30, 40], 0),
    ] {
        virtual_time(|rt: VirtualRuntime| async move {
            let start = rt.wall_now();
            let anchor = start.to_zoned(TimeZone::UTC);
            let schedule = WallSchedule::every(anchor, SignedDuration::from_mins(10)).unwrap();
            let log = Log::default();
            let task = log.spawn(&rt, ScheduledTask::builder(schedule).misfire(misfire));
            rt.sleep(Duration::from_secs(60)).await;
            rt.suspend(Duration::from_secs(35 * 60));
            rt.sleep(Duration::from_secs(5 * 60)).await;
            let minutes: Vec<i64> = log
                .entries()
                .iter()
                .map(|(at, wall, _)| {
                    assert!(wall >= at, "never early");
                    at.duration_since(start).as_mins()
                })
                .collect();
            assert_eq!(minutes, expected, "{misfire:?}");
            assert_eq!(task.cancel().await.skipped, skipped, "{misfire:?}");
        });
    }
}

/// A schedule every 10 ms whose runs take 25 ms, for 97 ms; returns the counters and the
/// highest number of runs seen at once. On a real runtime it also waits until `until` holds of
/// the counters (eventually), so that the assertions about overlap are not vacuous.
async fn overlapping(
    rt: &DefaultRuntime,
    overlap: Overlap,
    limit: usize,
    until: impl Fn(&ScheduledStats) -> bool,
) -> (ScheduledStats, usize) {
    let active = Arc::new(AtomicUsize::new(0));
    let high = Arc::new(AtomicUsize::new(0));
    let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
    let schedule = WallSchedule::every(anchor, ms(10)).unwrap();
    let task = {
        let (rt2, active, high) = (rt.clone(), active.clone(), high.clone());
        ScheduledTask::builder(schedule)
            .overlap(overlap)
            .max_concurrency(NonZeroUsize::new(limit).unwrap())
            .runtime(rt.clone())
            .spawn(move |_at: Timestamp| {
                let (rt, active, high) = (rt2.clone(), active.clone(), high.clone());
                async move {
                    struct Leave(Arc<AtomicUsize>);
                    impl Drop for Leave {
                        fn drop(&mut self) {
                            self.0.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    let _leave = Leave(active);
                    high.fetch_max(now, Ordering::SeqCst);
                    rt.sleep(25 * MS).await;
                }
            })
            .unwrap()
    };
    rt.sleep(97 * MS).await;
    if !rt.is_virtual() {
        eventually(rt, "the awaited runs", || until(&task.stats())).await;
    }
    let stats = task.cancel().await;
    (stats, high.load(Ordering::SeqCst))
}

#[test]
fn overlap_skip_drops_points_while_a_run_is_going() {
    each_runtime(|rt| async move {
        let (stats, high) =
            overlapping(&rt, Overlap::Skip, 8, |s| s.started >= 2 && s.skipped >= 1).await;
        assert_eq!(high, 1);
        assert!(stats.skipped >= 1, "{stats:?}");
        if rt.is_virtual() {
            // Runs at 10, 40 and 70 ms; 20, 30, 50, 60, 80 and 90 ms are skipped.
            assert_eq!((stats.started, stats.skipped, stats.completed), (3, 6, 3));
        }
    });
}

#[test]
fn overlap_queue_runs_one_at_a_time_back_to_back() {
    each_runtime(|rt| async move {
        let (stats, high) = overlapping(&rt, Overlap::Queue, 8, |s| s.started >= 2).await;
        assert_eq!(high, 1);
        if rt.is_virtual() {
            // Runs start at 10, 35, 60 and 85 ms, each as soon as the previous one ends.
            assert_eq!((stats.started, stats.completed, stats.cancelled), (4, 3, 1));
        }
    });
}

#[test]
fn overlap_replace_cancels_the_running_run() {
    each_runtime(|rt| async move {
        let (stats, high) = overlapping(&rt, Overlap::Replace, 8, |s| s.started >= 2).await;
        assert_eq!(high, 1);
        assert_eq!(stats.completed + stats.cancelled, stats.started);
        if rt.is_virtual() {
            assert_eq!((stats.started, stats.cancelled), (9, 9));
        }
    });
}

#[test]
fn overlap_allow_runs_concurrently_up_to_the_limit() {
    each_runtime(|rt| async move {
        let (stats, high) = overlapping(&rt, Overlap::Allow, 2, |s| s.started >= 1).await;
        assert!(high <= 2);
        assert!(stats.started >= 1);
        if rt.is_virtual() {
            assert_eq!(high, 2);
            // Starts at 10, 20, then each as a slot frees: 35, 45, 60, 70, 85, 95 ms; the
            // 80 ms point had passed by 85 ms and was a skipped misfire.
            assert_eq!((stats.started, stats.skipped), (8, 1));
        }
        let (_, high) = overlapping(&rt, Overlap::Allow, 8, |_| true).await;
        if rt.is_virtual() {
            assert_eq!(high, 3);
        }
    });
}

#[test]
fn a_failing_run_is_reported_and_stops_the_task_under_the_stop_policy() {
    each_runtime(|rt| async move {
        let errors = Collected::default();
        let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
        let schedule = WallSchedule::every(anchor, ms(5)).unwrap();
        let task = ScheduledTask::builder(schedule)
            .failure_policy(FailurePolicy::Stop)
            .error_reporter(errors.reporter())
            .name("job")
            .runtime(rt.clone())
            .spawn(|_at: Timestamp| async { Err::<(), _>("nope") })
            .unwrap();
        while !task.is_finished() {
            rt.sleep(5 * MS).await;
        }
        let stats = task.cancel().await;
        assert_eq!((stats.started, stats.failed), (1, 1));
        assert_eq!(errors.messages(), ["unhandled error in job: nope"]);
    });
}

#[test]
fn dropping_the_task_cancels_the_running_run() {
    each_runtime(|rt| async move {
        let drops = DropCounter::default();
        let anchor = rt.wall_now().to_zoned(TimeZone::UTC);
        let started = Arc::new(AtomicUsize::new(0));
        let task = {
            let (rt2, drops, started) = (rt.clone(), drops.clone(), started.clone());
            ScheduledTask::with_runtime(
                rt.clone(),
                WallSchedule::every(anchor, ms(2)).unwrap(),
                move |_at: Timestamp| {
                    let (rt, guard, started) = (rt2.clone(), drops.guard(), started.clone());
                    async move {
                        started.fetch_add(1, Ordering::SeqCst);
                        let _guard = guard;
                        rt.sleep(Duration::from_secs(3600)).await;
                    }
                },
            )
            .unwrap()
        };
        eventually(&rt, "the first run", || started.load(Ordering::SeqCst) == 1).await;
        drop(task);
        eventually(&rt, "the run's drop", || drops.dropped() == 1).await;
        rt.sleep(5 * MS).await;
        assert_eq!(drops.dropped(), 1);
        assert_eq!(started.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn zero_max_sleep_is_a_typed_error() {
    each_runtime(|rt| async move {
        let at = rt.wall_now().to_zoned(TimeZone::UTC);
        let err = ScheduledTask::builder(WallSchedule::once(at))
            .max_sleep(Duration::ZERO)
            .runtime(rt.clone())
            .spawn(|_at: Timestamp| async {})
            .unwrap_err();
        assert_eq!(err, ConfigError::ZeroPeriod);
    });
}

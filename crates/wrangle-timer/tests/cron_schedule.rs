//! CronSchedule: syntax, next instants, DST gap and overlap rules, typed errors, and running
//! a cron job on virtual time.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use wrangle_rt::testing::virtual_time;
use wrangle_rt::{Runtime, VirtualRuntime};
use wrangle_timer::{CronError, CronSchedule, Misfire, Overlap, ScheduledTask};

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// The next `n` local firing times after the local time `from` (in `zone`).
fn upcoming(expr: &str, zone: &str, from: &str, n: usize) -> Vec<String> {
    let cron = CronSchedule::parse(expr, tz(zone)).unwrap();
    let from: Zoned = format!("{from}[{zone}]").parse().unwrap();
    let mut at = from.timestamp();
    let mut out = Vec::new();
    for _ in 0..n {
        let next = cron.next_after(at).unwrap();
        out.push(next.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
        at = next.timestamp();
    }
    out
}

#[test]
fn steps_lists_and_ranges() {
    assert_eq!(
        upcoming("*/15 * * * *", "UTC", "2024-01-01T10:07:30", 3),
        [
            "2024-01-01T10:15:00+00:00",
            "2024-01-01T10:30:00+00:00",
            "2024-01-01T10:45:00+00:00"
        ]
    );
    assert_eq!(
        upcoming("5,50 8-9 * * *", "UTC", "2024-01-01T08:50:00", 3),
        [
            "2024-01-01T09:05:00+00:00",
            "2024-01-01T09:50:00+00:00",
            "2024-01-02T08:05:00+00:00"
        ]
    );
    assert_eq!(
        upcoming("0 10/6 * * *", "UTC", "2024-01-01T00:00:00", 3),
        [
            "2024-01-01T10:00:00+00:00",
            "2024-01-01T16:00:00+00:00",
            "2024-01-01T22:00:00+00:00"
        ]
    );
}

#[test]
fn a_sixth_field_counts_seconds() {
    assert_eq!(
        upcoming("*/20 * * * * *", "UTC", "2024-01-01T10:00:30", 3),
        [
            "2024-01-01T10:00:40+00:00",
            "2024-01-01T10:01:00+00:00",
            "2024-01-01T10:01:20+00:00"
        ]
    );
}

#[test]
fn names_sunday_as_seven_and_shorthands() {
    // 2024-06-01 is a Saturday.
    assert_eq!(
        upcoming("0 12 * jun-jul sat-sun", "UTC", "2024-06-01T13:00:00", 2),
        ["2024-06-02T12:00:00+00:00", "2024-06-08T12:00:00+00:00"]
    );
    assert_eq!(
        upcoming("0 0 * * 5-7", "UTC", "2024-06-01T13:00:00", 2),
        ["2024-06-02T00:00:00+00:00", "2024-06-07T00:00:00+00:00"]
    );
    assert_eq!(
        upcoming("@weekly", "UTC", "2024-06-01T13:00:00", 1),
        ["2024-06-02T00:00:00+00:00"]
    );
    assert_eq!(
        upcoming("@monthly", "UTC", "2024-06-01T13:00:00", 1),
        ["2024-07-01T00:00:00+00:00"]
    );
    assert_eq!(
        upcoming("@yearly", "UTC", "2024-06-01T13:00:00", 1),
        ["2025-01-01T00:00:00+00:00"]
    );
    assert_eq!(
        upcoming("@hourly", "UTC", "2024-06-01T13:00:00", 1),
        ["2024-06-01T14:00:00+00:00"]
    );
}

#[test]
fn restricted_day_of_month_and_weekday_match_either() {
    // The 13th, or any Friday: 2024-09-06 and 2024-09-13 (a Friday the 13th), 2024-09-20.
    assert_eq!(
        upcoming("0 0 13 * fri", "UTC", "2024-09-01T00:00:00", 3),
        [
            "2024-09-06T00:00:00+00:00",
            "2024-09-13T00:00:00+00:00",
            "2024-09-20T00:00:00+00:00"
        ]
    );
}

#[test]
fn leap_days_are_found_and_impossible_dates_end_the_schedule() {
    assert_eq!(
        upcoming("0 0 29 2 *", "UTC", "2025-01-01T00:00:00", 1),
        ["2028-02-29T00:00:00+00:00"]
    );
    let never = CronSchedule::parse("0 0 30 2 *", TimeZone::UTC).unwrap();
    assert_eq!(never.next_after(Timestamp::UNIX_EPOCH), None);
}

#[test]
fn a_fixed_time_in_the_spring_gap_fires_once_right_after_it() {
    assert_eq!(
        upcoming("30 2 * * *", "America/New_York", "2024-03-09T03:00:00", 3),
        [
            "2024-03-10T03:00:00-04:00",
            "2024-03-11T02:30:00-04:00",
            "2024-03-12T02:30:00-04:00"
        ]
    );
    assert_eq!(
        upcoming("30 2 * * *", "Europe/Paris", "2024-03-30T03:00:00", 2),
        ["2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"]
    );
    // Four matches inside the gap, and 03:00 itself: one firing.
    assert_eq!(
        upcoming(
            "*/15 2-3 * * *",
            "America/New_York",
            "2024-03-10T01:50:00",
            3
        ),
        [
            "2024-03-10T03:00:00-04:00",
            "2024-03-10T03:15:00-04:00",
            "2024-03-10T03:30:00-04:00"
        ]
    );
}

#[test]
fn a_time_in_the_autumn_overlap_fires_once() {
    assert_eq!(
        upcoming("30 1 * * *", "America/New_York", "2024-11-03T00:00:00", 2),
        ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"]
    );
    assert_eq!(
        upcoming("0,30 * * * *", "Europe/Paris", "2024-10-27T01:45:00", 4),
        [
            "2024-10-27T02:00:00+02:00",
            "2024-10-27T02:30:00+02:00",
            "2024-10-27T03:00:00+01:00",
            "2024-10-27T03:30:00+01:00"
        ]
    );
}

#[test]
fn invalid_expressions_are_typed_errors() {
    let parse = |s: &str| CronSchedule::parse(s, TimeZone::UTC).unwrap_err();
    assert_eq!(parse("* * * *"), CronError::FieldCount { found: 4 });
    assert_eq!(parse(""), CronError::FieldCount { found: 0 });
    assert_eq!(
        parse("@often"),
        CronError::UnknownShorthand("@often".to_owned())
    );
    let cases = [
        (
            "60 * * * *",
            "invalid minute field `60`: value out of range 0-59",
        ),
        (
            "* 24 * * *",
            "invalid hour field `24`: value out of range 0-23",
        ),
        (
            "* * 0 * *",
            "invalid day of month field `0`: value out of range 1-31",
        ),
        (
            "* * * 13 *",
            "invalid month field `13`: value out of range 1-12",
        ),
        (
            "* * * * 8",
            "invalid day of week field `8`: value out of range 0-7",
        ),
        (
            "*/0 * * * *",
            "invalid minute field `*/0`: step must be at least 1",
        ),
        (
            "5-1 * * * *",
            "invalid minute field `5-1`: range start after its end",
        ),
        (
            "* * * foo *",
            "invalid month field `foo`: not a number or a known name",
        ),
        (
            "1,,2 * * * *",
            "invalid minute field `1,,2`: empty list item",
        ),
        ("*/x * * * *", "invalid minute field `*/x`: invalid step"),
        (
            "-1 * * * * *",
            "invalid second field `-1`: not a number or a known name",
        ),
    ];
    for (expr, message) in cases {
        assert_eq!(parse(expr).to_string(), message, "{expr}");
    }
}

#[test]
fn a_cron_job_runs_at_its_instants_on_virtual_time() {
    virtual_time(|rt: VirtualRuntime| async move {
        rt.set_wall("2024-01-01T10:00:05Z".parse().unwrap());
        let cron = CronSchedule::parse("*/20 * * * * *", TimeZone::UTC).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = {
            let (seen, rt2) = (seen.clone(), rt.clone());
            ScheduledTask::with_runtime(rt.clone(), cron, move |at: Timestamp| {
                seen.lock()
                    .unwrap()
                    .push((at.to_string(), rt2.wall_now() == at));
                async {}
            })
            .unwrap()
        };
        rt.sleep(Duration::from_secs(60)).await;
        drop(task);
        let seen = seen.lock().unwrap().clone();
        let expected = [
            "2024-01-01T10:00:20Z",
            "2024-01-01T10:00:40Z",
            "2024-01-01T10:01:00Z",
        ];
        assert_eq!(seen, expected.map(|s| (s.to_owned(), true)));
    });
}

#[test]
fn a_daily_cron_job_fires_once_after_the_spring_gap_on_virtual_time() {
    virtual_time(|rt: VirtualRuntime| async move {
        let ny = tz("America/New_York");
        let start: Zoned = "2024-03-09T12:00:00[America/New_York]".parse().unwrap();
        rt.set_wall(start.timestamp());
        let cron = CronSchedule::parse("30 2 * * *", ny.clone()).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = {
            let seen = seen.clone();
            ScheduledTask::builder(cron)
                .max_sleep(Duration::from_secs(3600))
                .runtime(rt.clone())
                .spawn(move |at: Timestamp| {
                    seen.lock()
                        .unwrap()
                        .push(at.to_zoned(ny.clone()).datetime().to_string());
                    async {}
                })
                .unwrap()
        };
        rt.sleep(Duration::from_secs(2 * 86_400)).await;
        drop(task);
        assert_eq!(
            *seen.lock().unwrap(),
            ["2024-03-10T03:00:00", "2024-03-11T02:30:00"]
        );
    });
}

#[test]
fn after_a_suspend_run_all_catches_up_with_bounded_concurrency() {
    virtual_time(|rt: VirtualRuntime| async move {
        rt.set_wall("2024-01-01T10:00:30Z".parse().unwrap());
        let cron = CronSchedule::parse("* * * * *", TimeZone::UTC).unwrap();
        let active = Arc::new(Mutex::new((0usize, 0usize)));
        let task = {
            let (active, rt2) = (active.clone(), rt.clone());
            ScheduledTask::builder(cron)
                .overlap(Overlap::Allow)
                .max_concurrency(NonZeroUsize::new(2).unwrap())
                .misfire(Misfire::RunAll)
                .runtime(rt.clone())
                .spawn(move |_at: Timestamp| {
                    let (active, rt) = (active.clone(), rt2.clone());
                    async move {
                        {
                            let mut a = active.lock().unwrap();
                            a.0 += 1;
                            a.1 = a.1.max(a.0);
                        }
                        rt.sleep(Duration::from_secs(5)).await;
                        active.lock().unwrap().0 -= 1;
                    }
                })
                .unwrap()
        };
        rt.sleep(Duration::from_secs(10)).await;
        rt.suspend(Duration::from_secs(10 * 60));
        rt.sleep(Duration::from_secs(60)).await;
        let stats = task.cancel().await;
        // 10:01 (awaited, late), 10:02..10:10 caught up, two at a time, then 10:11.
        assert_eq!(stats.started, 11);
        assert_eq!(stats.skipped, 0);
        assert_eq!(active.lock().unwrap().1, 2);
    });
}

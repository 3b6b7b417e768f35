//! WallSchedule as a pure calendar: grid phase, DST rules in Paris and New York, bad input.

use jiff::{SignedDuration, Timestamp, Zoned};
use wrangle_timer::{ConfigError, Schedule, WallSchedule};

fn zoned(s: &str) -> Zoned {
    s.parse().unwrap()
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// The next `n` points after `from`, as local strings, and the gaps between them in hours.
fn walk(s: &WallSchedule, from: Timestamp, n: usize) -> (Vec<String>, Vec<i64>) {
    let mut at = from;
    let (mut points, mut gaps) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let p = s.next_after(at).unwrap();
        gaps.push(p.timestamp().duration_since(at).as_hours());
        points.push(p.datetime().to_string());
        at = p.timestamp();
    }
    (points, gaps)
}

#[test]
fn daily_interval_keeps_civil_time_across_the_autumn_change_in_paris() {
    let at = zoned("2024-10-26T23:00:00[Europe/Paris]");
    let s = WallSchedule::every(at.clone(), hours(24)).unwrap();
    let (points, gaps) = walk(&s, at.timestamp(), 3);
    assert_eq!(
        points,
        [
            "2024-10-27T23:00:00",
            "2024-10-28T23:00:00",
            "2024-10-29T23:00:00"
        ]
    );
    assert_eq!(gaps, [25, 24, 24]);
}

#[test]
fn six_hour_interval_is_elapsed_time_across_the_autumn_change_in_paris() {
    let at = zoned("2024-10-26T23:00:00[Europe/Paris]");
    let s = WallSchedule::every(at.clone(), hours(6)).unwrap();
    let (points, gaps) = walk(&s, at.timestamp(), 4);
    assert_eq!(
        points,
        [
            "2024-10-27T04:00:00",
            "2024-10-27T10:00:00",
            "2024-10-27T16:00:00",
            "2024-10-27T22:00:00"
        ]
    );
    assert_eq!(gaps, [6, 6, 6, 6]);
}

#[test]
fn daily_and_six_hourly_across_the_spring_change_in_paris() {
    let at = zoned("2024-03-30T23:00:00[Europe/Paris]");
    let daily = WallSchedule::every(at.clone(), hours(24)).unwrap();
    let (points, gaps) = walk(&daily, at.timestamp(), 2);
    assert_eq!(points, ["2024-03-31T23:00:00", "2024-04-01T23:00:00"]);
    assert_eq!(gaps, [23, 24]);
    let six = WallSchedule::every(at.clone(), hours(6)).unwrap();
    let (points, gaps) = walk(&six, at.timestamp(), 2);
    assert_eq!(points, ["2024-03-31T06:00:00", "2024-03-31T12:00:00"]);
    assert_eq!(gaps, [6, 6]);
}

#[test]
fn both_changes_in_new_york() {
    let autumn = zoned("2024-11-02T23:00:00[America/New_York]");
    let daily = WallSchedule::every(autumn.clone(), hours(24)).unwrap();
    assert_eq!(walk(&daily, autumn.timestamp(), 2).1, [25, 24]);
    let six = WallSchedule::every(autumn.clone(), hours(6)).unwrap();
    let (points, gaps) = walk(&six, autumn.timestamp(), 2);
    assert_eq!(points, ["2024-11-03T04:00:00", "2024-11-03T10:00:00"]);
    assert_eq!(gaps, [6, 6]);

    let spring = zoned("2024-03-09T23:00:00[America/New_York]");
    let daily = WallSchedule::every(spring.clone(), hours(24)).unwrap();
    let (points, gaps) = walk(&daily, spring.timestamp(), 2);
    assert_eq!(points, ["2024-03-10T23:00:00", "2024-03-11T23:00:00"]);
    assert_eq!(gaps, [23, 24]);
    let six = WallSchedule::every(spring.clone(), hours(6)).unwrap();
    assert_eq!(
        walk(&six, spring.timestamp(), 2).0,
        ["2024-03-10T06:00:00", "2024-03-10T12:00:00"]
    );
}

#[test]
fn daily_point_in_a_gap_moves_forward_and_in_a_fold_takes_the_first_occurrence() {
    let at = zoned("2024-03-08T02:30:00[America/New_York]");
    let daily = WallSchedule::every(at.clone(), hours(24)).unwrap();
    let (points, _) = walk(&daily, at.timestamp(), 3);
    assert_eq!(
        points,
        [
            "2024-03-09T02:30:00",
            "2024-03-10T03:30:00",
            "2024-03-11T02:30:00"
        ]
    );

    let at = zoned("2024-11-02T01:30:00[America/New_York]");
    let daily = WallSchedule::every(at.clone(), hours(24)).unwrap();
    let p = daily.next_after(at.timestamp()).unwrap();
    assert_eq!(p.to_string(), "2024-11-03T01:30:00-04:00[America/New_York]");
    let q = daily.next_after(p.timestamp()).unwrap();
    assert_eq!(q.to_string(), "2024-11-04T01:30:00-05:00[America/New_York]");
    assert_eq!(q.timestamp().duration_since(p.timestamp()), hours(25));
}

#[test]
fn the_anchor_is_a_phase_so_points_exist_before_it() {
    let anchor = zoned("2024-05-01T12:00:00[UTC]");
    let s = WallSchedule::every(anchor.clone(), SignedDuration::from_millis(50)).unwrap();
    let now = anchor.timestamp() - SignedDuration::from_millis(130);
    let last = s.last_at_or_before(now).unwrap();
    assert_eq!(
        anchor
            .timestamp()
            .duration_since(last.timestamp())
            .as_millis(),
        150
    );
    let next = s.next_after(now).unwrap();
    assert_eq!(
        anchor
            .timestamp()
            .duration_since(next.timestamp())
            .as_millis(),
        100
    );
    assert_eq!(s.next_fire(now), Some(next.timestamp()));
    assert_eq!(
        s.last_at_or_before(anchor.timestamp()),
        Some(anchor.clone())
    );
    assert_eq!(
        s.next_after(anchor.timestamp() - SignedDuration::from_nanos(1)),
        Some(anchor)
    );
}

#[test]
fn a_single_instant_is_next_only_before_it() {
    let at = zoned("2024-05-01T12:00:00[Asia/Tokyo]");
    let once = WallSchedule::once(at.clone());
    let before = at.timestamp() - SignedDuration::from_secs(1);
    assert_eq!(once.next_after(before), Some(at.clone()));
    assert_eq!(once.next_after(at.timestamp()), None);
    let after = at.timestamp() + SignedDuration::from_secs(1);
    assert_eq!(
        once.first_fire(after),
        Some(at.timestamp()),
        "a passed instant is a misfire"
    );
    assert_eq!(once.last_at_or_before(before), None);
}

#[test]
fn zero_and_negative_intervals_are_typed_errors() {
    let at = zoned("2024-05-01T12:00:00[UTC]");
    assert_eq!(
        WallSchedule::every(at.clone(), SignedDuration::ZERO).unwrap_err(),
        ConfigError::ZeroPeriod
    );
    assert_eq!(
        WallSchedule::every(at, hours(-1)).unwrap_err(),
        ConfigError::NegativePeriod
    );
}

#[test]
fn the_end_of_the_range_ends_the_grid() {
    let at = zoned("9999-12-20T00:00:00[UTC]");
    let s = WallSchedule::every(at.clone(), hours(24 * 7)).unwrap();
    let last = s.next_after(at.timestamp()).unwrap();
    assert_eq!(last.datetime().to_string(), "9999-12-27T00:00:00");
    assert_eq!(s.next_after(last.timestamp()), None);
}

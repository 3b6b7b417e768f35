use std::time::Duration;

use wrangle::rt::{DefaultRuntime, Runtime};
use wrangle::timer::jiff::{SignedDuration, tz::TimeZone};
use wrangle::timer::{CronSchedule, Interval, MissedTick, PeriodicTask, Scheduler};

pub(crate) async fn tour(rt: DefaultRuntime) {
    let ms = Duration::from_millis;
    // Interval: a drift-free grid, with a missed-tick policy you must choose.
    let mut iv = Interval::with_runtime(rt.clone(), ms(2), MissedTick::Skip).unwrap();
    let first = iv.tick().await;
    rt.sleep(ms(7)).await;
    let (late, next) = (iv.tick().await, iv.tick().await);
    let skipped = iv.stats().skipped;
    println!(
        "interval 2 ms, 7 ms stall, Skip: late tick due +{:?}, then +{:?} on the grid ({skipped} skipped)",
        late - first,
        next - first
    );

    // PeriodicTask: never overlaps, one period from start to start; cancel() waits and
    // returns the final stats.
    let task = PeriodicTask::with_runtime(rt.clone(), ms(3), || async {}).unwrap();
    rt.sleep(ms(10)).await;
    let stats = task.cancel().await;
    println!(
        "periodic task every 3 ms for 10 ms: {} started, {} completed",
        stats.started, stats.completed
    );

    // Cron in a time zone: a time inside the spring-forward gap fires once, right after it.
    let ny = TimeZone::get("America/New_York").unwrap();
    let cron = CronSchedule::parse("30 2 * * *", ny).unwrap();
    let next = cron
        .next_after("2024-03-10T05:00:00Z".parse().unwrap())
        .unwrap();
    println!("cron `30 2 * * *` on the New York spring change fires at {next}");

    // Scheduler: payloads at wall-clock instants, in time order; removed ones never come out.
    let mut scheduler = Scheduler::with_runtime(rt.clone());
    let at = |n| rt.wall_now() + SignedDuration::from_millis(n);
    scheduler.schedule(at(4), "second").unwrap();
    let removed = scheduler.schedule(at(2), "removed").unwrap();
    scheduler.schedule(at(1), "first").unwrap();
    scheduler.remove(removed);
    let (a, b) = (scheduler.next_due().await, scheduler.next_due().await);
    println!("scheduler delivered {a:?} then {b:?}");
}

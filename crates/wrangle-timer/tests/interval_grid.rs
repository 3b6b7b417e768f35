//! Interval behaviour: grid, missed-tick policies, reset, bad input.

use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{Runtime, VirtualRuntime};
use wrangle_timer::{ConfigError, Interval, MissedTick};

const MS: Duration = Duration::from_millis(1);

#[test]
fn first_tick_is_immediate_and_ticks_follow_the_grid() {
    each_runtime(|rt| async move {
        let start = rt.now();
        let mut iv =
            Interval::at_with_runtime(rt.clone(), start, 5 * MS, MissedTick::Skip).unwrap();
        let mut last = None;
        for n in 0..4u32 {
            let due = iv.tick().await;
            assert!(rt.now() >= due, "a tick is never early");
            if rt.is_virtual() {
                assert_eq!(due, start + n * 5 * MS);
            } else {
                // A loaded machine may make Skip drop grid points; every due is still on the grid.
                let off = (due - start).as_nanos();
                assert_eq!(off % (5 * MS).as_nanos(), 0, "tick off the grid");
                assert!(last.is_none_or(|l| due > l), "ticks go forward");
            }
            last = Some(due);
        }
        if rt.is_virtual() {
            assert_eq!(rt.now() - start, 15 * MS);
        }
        assert_eq!(iv.stats().started, 4);
    });
}

#[test]
fn ten_thousand_periods_have_exact_count_and_last_instant() {
    virtual_time(|rt: VirtualRuntime| async move {
        let start = rt.now();
        let period = Duration::from_micros(1_234_567);
        let mut iv = Interval::with_runtime(rt.clone(), period, MissedTick::Burst).unwrap();
        let mut last = start;
        for _ in 0..=10_000 {
            last = iv.tick().await;
            assert_eq!(rt.now(), last, "each tick is taken at its exact deadline");
        }
        assert_eq!(last - start, period * 10_000);
        let stats = iv.stats();
        assert_eq!((stats.started, stats.late, stats.skipped), (10_001, 0, 0));
    });
}

/// Ticks every 10 ms, the consumer stalls from 5 ms to 35 ms, then takes four more ticks.
async fn after_stall(rt: &VirtualRuntime, policy: MissedTick) -> (Vec<(u128, u128)>, u64, u64) {
    let start = rt.now();
    let mut iv = Interval::with_runtime(rt.clone(), 10 * MS, policy).unwrap();
    let ms = |i: Instant| (i - start).as_millis();
    assert_eq!(ms(iv.tick().await), 0);
    rt.sleep(5 * MS).await;
    rt.sleep(30 * MS).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let due = iv.tick().await;
        seen.push((ms(due), ms(rt.now())));
    }
    (seen, iv.stats().late, iv.stats().skipped)
}

#[test]
fn burst_catches_up_every_missed_tick() {
    virtual_time(|rt: VirtualRuntime| async move {
        let (seen, late, skipped) = after_stall(&rt, MissedTick::Burst).await;
        assert_eq!(seen, [(10, 35), (20, 35), (30, 35), (40, 40), (50, 50)]);
        assert_eq!((late, skipped), (2, 0));
    });
}

#[test]
fn delay_restarts_the_grid_after_the_late_tick() {
    virtual_time(|rt: VirtualRuntime| async move {
        let (seen, late, skipped) = after_stall(&rt, MissedTick::Delay).await;
        assert_eq!(seen, [(10, 35), (45, 45), (55, 55), (65, 65), (75, 75)]);
        assert_eq!((late, skipped), (1, 0));
    });
}

#[test]
fn skip_drops_missed_grid_points() {
    virtual_time(|rt: VirtualRuntime| async move {
        let (seen, late, skipped) = after_stall(&rt, MissedTick::Skip).await;
        assert_eq!(seen, [(10, 35), (40, 40), (50, 50), (60, 60), (70, 70)]);
        assert_eq!((late, skipped), (1, 2));
    });
}

#[test]
fn a_late_tick_within_one_period_keeps_the_grid() {
    virtual_time(|rt: VirtualRuntime| async move {
        for policy in [MissedTick::Burst, MissedTick::Delay, MissedTick::Skip] {
            let start = rt.now();
            let mut iv = Interval::at_with_runtime(rt.clone(), start, 10 * MS, policy).unwrap();
            iv.tick().await;
            rt.sleep_until(start + 17 * MS).await;
            assert_eq!(iv.tick().await, start + 10 * MS);
            assert_eq!(iv.tick().await, start + 20 * MS);
            assert_eq!(rt.now(), start + 20 * MS);
            assert_eq!(iv.stats().late, 0);
        }
    });
}

#[test]
fn every_policy_ticks_after_a_stall_on_every_runtime() {
    each_runtime(|rt| async move {
        for policy in [MissedTick::Burst, MissedTick::Delay, MissedTick::Skip] {
            let mut iv = Interval::with_runtime(rt.clone(), 2 * MS, policy).unwrap();
            let first = iv.tick().await;
            rt.sleep(7 * MS).await;
            let late = iv.tick().await;
            if rt.is_virtual() {
                assert_eq!(late, first + 2 * MS);
            } else {
                // On a loaded machine the first tick itself may already be late; the late tick
                // still comes after it.
                assert!(late > first);
            }
            let next = iv.tick().await;
            assert!(next > late);
            assert!(rt.now() >= next);
            assert!(iv.stats().late >= 1);
        }
    });
}

#[test]
fn reset_moves_the_next_tick() {
    each_runtime(|rt| async move {
        let mut iv = Interval::with_runtime(rt.clone(), 3 * MS, MissedTick::Skip).unwrap();
        iv.tick().await;
        let before = rt.now();
        iv.reset();
        let due = iv.tick().await;
        assert!(due >= before + 3 * MS);
        assert!(rt.now() >= due);
        iv.reset_immediately();
        let at = iv.next_due();
        assert_eq!(iv.tick().await, at);
        let target = rt.now() + 4 * MS;
        iv.reset_at(target);
        assert_eq!(iv.tick().await, target);
        assert!(rt.now() >= target);
    });
}

#[test]
fn interval_is_a_stream() {
    each_runtime(|rt| async move {
        let start = rt.now();
        let iv = Interval::at_with_runtime(rt.clone(), start, MS, MissedTick::Burst).unwrap();
        let ticks: Vec<Instant> = iv.take(3).collect().await;
        assert_eq!(ticks, [start, start + MS, start + 2 * MS]);
    });
}

#[test]
fn dropping_a_tick_future_loses_no_tick() {
    virtual_time(|rt: VirtualRuntime| async move {
        let start = rt.now();
        let mut iv = Interval::with_runtime(rt.clone(), 10 * MS, MissedTick::Skip).unwrap();
        iv.tick().await;
        let r = rt.timeout(3 * MS, iv.tick()).await;
        assert!(r.is_err());
        assert_eq!(iv.tick().await, start + 10 * MS);
        assert_eq!(iv.stats().started, 2);
    });
}

#[test]
fn zero_and_huge_periods_are_typed_errors() {
    each_runtime(|rt| async move {
        let e = Interval::with_runtime(rt.clone(), Duration::ZERO, MissedTick::Skip).unwrap_err();
        assert_eq!(e, ConfigError::ZeroPeriod);
        let e = Interval::with_runtime(rt.clone(), Duration::MAX, MissedTick::Skip).unwrap_err();
        assert_eq!(e, ConfigError::OutOfRange);
    });
}

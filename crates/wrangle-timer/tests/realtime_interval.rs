//! R7: a real-time smoke test on Tokio and smol. A 1 ms interval runs for 300 ms; the median
//! lateness of its last 100 ticks may exceed that of its first 100 by at most one period (the
//! drift bound). Only the drift bound is asserted, never speed.

use std::time::{Duration, Instant};

use wrangle_rt::Runtime;
use wrangle_rt::testing::{RuntimeKind, run_on};
use wrangle_timer::{Interval, MissedTick};

const PERIOD: Duration = Duration::from_millis(1);
const TICKS: usize = 300;
const WINDOW: usize = 100;

/// Median lateness of a window of ticks: robust to the odd stall of a shared machine.
fn median(lateness: &[Duration]) -> Duration {
    let mut sorted = lateness.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

#[test]
fn one_ms_interval_does_not_drift_on_real_runtimes() {
    let kinds = [
        RuntimeKind::TokioCurrentThread,
        RuntimeKind::TokioMultiThread,
        RuntimeKind::Smol,
    ];
    for kind in kinds
        .into_iter()
        .filter(|k| RuntimeKind::enabled().contains(k))
    {
        let (lateness, due) = run_on(kind, |rt| async move {
            let start = rt.now();
            let mut iv =
                Interval::at_with_runtime(rt.clone(), start, PERIOD, MissedTick::Burst).unwrap();
            let mut lateness = Vec::with_capacity(TICKS + 1);
            let mut due = Vec::with_capacity(TICKS + 1);
            for _ in 0..=TICKS {
                let d = iv.tick().await;
                let now: Instant = rt.now();
                assert!(now >= d, "a tick is never early");
                lateness.push(now - d);
                due.push(d - start);
            }
            (lateness, due)
        });
        // The grid is exact: tick n is due at n periods.
        assert!(
            due.iter().enumerate().all(|(n, d)| *d == PERIOD * n as u32),
            "[{kind}]"
        );
        // Drift: how much later the last ticks are than the first ones.
        let first = median(&lateness[..WINDOW]);
        let last = median(&lateness[lateness.len() - WINDOW..]);
        let drift = last.saturating_sub(first);
        println!("[{kind}] median lateness first {first:?}, last {last:?}, drift {drift:?}");
        assert!(
            drift <= PERIOD,
            "[{kind}] drift {drift:?} over {TICKS} ticks exceeds one period"
        );
    }
}

//! R7: a real-time smoke test on Tokio and smol. A 1 ms interval runs for 2 s per runtime.
//!
//! What a real runtime guarantees is not speed: a loaded machine may stall any thread for
//! tens of milliseconds, early or late in the run. So the interval is measured against the
//! runtime's own timer under exactly the same load: a plain `sleep_until` loop on the same
//! grid runs in the same task (joined with the interval, so both are polled on every wake-up
//! and share every stall). Asserted:
//!
//! - the grid is exact (tick n is due at n periods: the schedule itself never drifts);
//! - a tick is never early;
//! - the interval adds no lateness of its own: its p99 lateness is within one period of the
//!   plain sleep loop's p99, and so is the median of its last ticks (drift: lateness that
//!   grows over the run and that the runtime's timer does not show).
//!
//! Exact timing is asserted on virtual time, in `time_interval.rs`.

use std::time::{Duration, Instant};

use futures_lite::future;
use wrangle_rt::Runtime;
use wrangle_rt::testing::{RuntimeKind, run_on};
use wrangle_timer::{Interval, MissedTick};

const PERIOD: Duration = Duration::from_millis(1);
/// 2 s of 1 ms ticks.
const TICKS: u32 = 2000;
const WINDOW: usize = 200;

fn percentile(lateness: &[Duration], p: usize) -> Duration {
    let mut sorted = lateness.to_vec();
    sorted.sort();
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn median(lateness: &[Duration]) -> Duration {
    percentile(lateness, 50)
}

#[test]
fn one_ms_interval_is_as_punctual_as_the_runtime_timer() {
    let kinds = [
        RuntimeKind::TokioCurrentThread,
        RuntimeKind::TokioMultiThread,
        RuntimeKind::Smol,
    ];
    for kind in kinds
        .into_iter()
        .filter(|k| RuntimeKind::enabled().contains(k))
    {
        let (interval, reference, due) = run_on(kind, |rt| async move {
            let start = rt.now() + 10 * PERIOD;
            let mut iv =
                Interval::at_with_runtime(rt.clone(), start, PERIOD, MissedTick::Burst).unwrap();
            let ticks = async {
                let mut lateness = Vec::with_capacity(TICKS as usize + 1);
                let mut due = Vec::with_capacity(TICKS as usize + 1);
                for _ in 0..=TICKS {
                    let d = iv.tick().await;
                    let now: Instant = rt.now();
                    assert!(now >= d, "[{kind}] a tick is never early");
                    lateness.push(now - d);
                    due.push(d - start);
                }
                (lateness, due)
            };
            let sleeps = async {
                let mut lateness = Vec::with_capacity(TICKS as usize + 1);
                for n in 0..=TICKS {
                    let d = start + PERIOD * n;
                    rt.sleep_until(d).await;
                    lateness.push(rt.now().saturating_duration_since(d));
                }
                lateness
            };
            let ((lateness, due), reference) = future::zip(ticks, sleeps).await;
            (lateness, reference, due)
        });
        assert!(
            due.iter().enumerate().all(|(n, d)| *d == PERIOD * n as u32),
            "[{kind}] tick n is due at n periods"
        );
        let (p99, ref_p99) = (percentile(&interval, 99), percentile(&reference, 99));
        let tail = interval.len() - WINDOW;
        let (last, ref_last) = (median(&interval[tail..]), median(&reference[tail..]));
        println!(
            "[{kind}] p99 lateness {p99:?} (runtime timer {ref_p99:?}); \
             median of the last {WINDOW} ticks {last:?} (runtime timer {ref_last:?})"
        );
        assert!(
            p99 <= ref_p99 + PERIOD,
            "[{kind}] p99 lateness {p99:?} exceeds the runtime timer's {ref_p99:?} by more \
             than one period"
        );
        assert!(
            last <= ref_last + PERIOD,
            "[{kind}] the interval drifted: its last ticks are {last:?} late, the runtime \
             timer's {ref_last:?}"
        );
    }
}

//! R6: Interval against a reference model on virtual time, over random stall schedules, for
//! every missed-tick policy (256 cases per policy).

use std::time::Duration;

use proptest::prelude::*;
use wrangle_rt::testing::virtual_time;
use wrangle_rt::{Runtime, VirtualRuntime};
use wrangle_timer::{Interval, MissedTick};

/// The reference: for each tick, `(due, taken)` in milliseconds from the start, when the
/// consumer waits `stalls[i]` ms before asking for tick `i`.
fn model(policy: MissedTick, period: u64, stalls: &[u64]) -> Vec<(u64, u64)> {
    let (mut next, mut now) = (0u64, 0u64);
    let mut out = Vec::new();
    for stall in stalls {
        now += stall;
        let taken = now.max(next);
        now = taken;
        let due = next;
        out.push((due, taken));
        // A tick is missed when the following grid point has passed by the time it is taken.
        let following = due + period;
        next = if taken < following {
            following
        } else {
            match policy {
                MissedTick::Burst => following,
                MissedTick::Delay => taken + period,
                _ => due + period * ((taken - due) / period + 1),
            }
        };
    }
    out
}

fn run(policy: MissedTick, period: u64, stalls: Vec<u64>) -> Vec<(u64, u64)> {
    virtual_time(move |rt: VirtualRuntime| async move {
        let start = rt.now();
        let p = Duration::from_millis(period);
        let mut iv = Interval::at_with_runtime(rt.clone(), start, p, policy).unwrap();
        let mut out = Vec::new();
        for stall in stalls {
            if stall > 0 {
                rt.sleep(Duration::from_millis(stall)).await;
            }
            let due = iv.tick().await;
            let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap();
            out.push((ms(due - start), ms(rt.now() - start)));
        }
        out
    })
}

fn check(policy: MissedTick, period: u64, stalls: Vec<u64>) -> Result<(), TestCaseError> {
    let got = run(policy, period, stalls.clone());
    prop_assert_eq!(&got, &model(policy, period, &stalls));
    for w in got.windows(2) {
        prop_assert!(w[1].0 > w[0].0, "due instants increase");
    }
    for (due, taken) in &got {
        prop_assert!(taken >= due, "never early");
        if policy != MissedTick::Delay {
            prop_assert_eq!(due % period, 0, "on the grid");
        }
    }
    if policy == MissedTick::Burst {
        for (k, (due, _)) in got.iter().enumerate() {
            prop_assert_eq!(*due, k as u64 * period, "burst loses no grid point");
        }
    }
    Ok(())
}

fn stalls() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(
        prop_oneof![3 => Just(0u64), 2 => 0u64..10, 1 => 10u64..200],
        1..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn burst_matches_the_model(period in 1u64..20, stalls in stalls()) {
        check(MissedTick::Burst, period, stalls)?;
    }

    #[test]
    fn delay_matches_the_model(period in 1u64..20, stalls in stalls()) {
        check(MissedTick::Delay, period, stalls)?;
    }

    #[test]
    fn skip_matches_the_model(period in 1u64..20, stalls in stalls()) {
        check(MissedTick::Skip, period, stalls)?;
    }
}

//! Backoff policies: exact sequences, jitter bounds and spread, limits on the runtime's clock.

use std::time::Duration;

use wrangle_io::{Backoff, InvalidBackoff, Jitter};
use wrangle_rt::testing::virtual_time;
use wrangle_rt::{Runtime, VirtualRuntime};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn delays(policy: &Backoff, n: usize) -> Vec<Duration> {
    policy
        .schedule_with_runtime(VirtualRuntime::new())
        .unwrap()
        .take(n)
        .collect()
}

#[test]
fn exponential_without_jitter_doubles_up_to_the_cap() {
    let policy = Backoff::exponential(ms(100), ms(1000)).jitter(Jitter::None);
    assert_eq!(
        delays(&policy, 7),
        [100, 200, 400, 800, 1000, 1000, 1000].map(ms)
    );
    let policy = Backoff::exponential(ms(100), ms(10_000))
        .jitter(Jitter::None)
        .factor(1.5);
    assert_eq!(
        delays(&policy, 4),
        [100, 150, 225, 337].map(|m| ms(m)
            + if m == 337 {
                Duration::from_micros(500)
            } else {
                Duration::ZERO
            })
    );
}

#[test]
fn full_jitter_stays_under_the_capped_ceiling_and_is_applied_after_the_cap() {
    let cap = ms(1000);
    for seed in 0..200 {
        let policy = Backoff::exponential(ms(100), cap).seed(seed);
        for (k, d) in delays(&policy, 12).into_iter().enumerate() {
            let ceiling = (ms(100) * (1 << k.min(20))).min(cap);
            assert!(d <= ceiling, "attempt {k}: {d:?} > {ceiling:?}");
        }
    }
    // After the cap, delays stay spread over [0, cap]: not piled up on it.
    let late: Vec<Duration> = (0..1000)
        .map(|seed| delays(&Backoff::exponential(ms(100), cap).seed(seed), 10)[9])
        .collect();
    let at_cap = late.iter().filter(|d| **d == cap).count();
    assert!(
        at_cap < 10,
        "{at_cap} of 1000 delays sit exactly on the cap"
    );
    assert!(late.iter().any(|d| *d < ms(100)));
    assert!(late.iter().any(|d| *d > ms(900)));
}

#[test]
fn the_first_wait_is_jittered() {
    let firsts: Vec<Duration> = (0..500)
        .map(|seed| delays(&Backoff::exponential(ms(1000), ms(30_000)).seed(seed), 1)[0])
        .collect();
    assert!(firsts.iter().all(|d| *d <= ms(1000)));
    let min = firsts.iter().min().unwrap();
    let max = firsts.iter().max().unwrap();
    assert!(
        *max - *min > ms(900),
        "first waits spread over {min:?}..{max:?}"
    );
}

/// The jitter-spread test of ADR 0060: 1,000 clients that lose their server at the same
/// instant; no 100 ms window may hold more than 5% of their first reconnect attempts.
#[test]
fn first_retries_of_a_crowd_are_spread_out() {
    // Full jitter: the first wait is drawn from [0, 4 s].
    let firsts: Vec<Duration> = (0..1000)
        .map(|seed| delays(&Backoff::exponential(ms(4000), ms(30_000)).seed(seed), 1)[0])
        .collect();
    assert!(max_window_share(&firsts, ms(100)) <= 0.05);
    let decorrelated: Vec<Duration> = (0..1000)
        .map(|seed| {
            // Decorrelated: the first wait is drawn from [2 s, 6 s].
            let policy = Backoff::exponential(ms(2000), ms(30_000))
                .jitter(Jitter::Decorrelated)
                .seed(seed);
            delays(&policy, 1)[0]
        })
        .collect();
    assert!(max_window_share(&decorrelated, ms(100)) <= 0.05);
}

/// The largest share of `at` that falls in any window `[t, t + width)`.
fn max_window_share(at: &[Duration], width: Duration) -> f64 {
    let mut sorted = at.to_vec();
    sorted.sort();
    let mut best = 0;
    for (i, start) in sorted.iter().enumerate() {
        let n = sorted[i..]
            .iter()
            .take_while(|t| **t < *start + width)
            .count();
        best = best.max(n);
    }
    best as f64 / at.len() as f64
}

#[test]
fn decorrelated_jitter_follows_its_bounds() {
    for seed in 0..100 {
        let policy = Backoff::exponential(ms(100), ms(5000))
            .jitter(Jitter::Decorrelated)
            .seed(seed);
        let mut previous = ms(100);
        for d in delays(&policy, 30) {
            assert!(d >= ms(100));
            assert!(d <= (previous * 3).min(ms(5000)));
            previous = d;
        }
    }
}

#[test]
fn seeds_make_jitter_reproducible_and_unseeded_schedules_differ() {
    let policy = Backoff::exponential(ms(100), ms(60_000)).seed(42);
    assert_eq!(delays(&policy, 10), delays(&policy, 10));
    let unseeded = Backoff::exponential(ms(100), ms(60_000));
    assert_ne!(delays(&unseeded, 10), delays(&unseeded, 10));
}

#[test]
fn constant_and_custom_policies() {
    assert_eq!(delays(&Backoff::constant(ms(250)), 3), [ms(250); 3]);
    for d in delays(&Backoff::constant(ms(250)).jitter(Jitter::Full).seed(1), 50) {
        assert!(d <= ms(250));
    }
    let custom = Backoff::custom(|attempt| (attempt < 3).then(|| ms(10 * u64::from(attempt + 1))));
    let all: Vec<_> = custom
        .schedule_with_runtime(VirtualRuntime::new())
        .unwrap()
        .collect();
    assert_eq!(all, [ms(10), ms(20), ms(30)]);
}

#[test]
fn immediate_first_skips_only_the_first_wait() {
    let policy = Backoff::exponential(ms(100), ms(1000))
        .jitter(Jitter::None)
        .immediate_first(true);
    assert_eq!(delays(&policy, 4), [0, 100, 200, 400].map(ms));
}

#[test]
fn max_attempts_ends_the_schedule() {
    let policy = Backoff::constant(ms(1)).max_attempts(4);
    let mut schedule = policy.schedule_with_runtime(VirtualRuntime::new()).unwrap();
    assert_eq!(schedule.by_ref().count(), 4);
    assert_eq!(schedule.attempts(), 4);
    assert_eq!(schedule.next(), None);
}

#[test]
fn max_elapsed_counts_time_on_the_runtime_clock() {
    virtual_time(|rt| async move {
        // Attempts themselves take time (500 ms each): elapsed time is measured, not summed
        // from the delays.
        let policy = Backoff::constant(ms(1000)).max_elapsed(ms(4000));
        let start = rt.now();
        let mut attempts = 0;
        for delay in policy.schedule_with_runtime(rt.clone()).unwrap() {
            rt.sleep(delay).await;
            rt.sleep(ms(500)).await; // the attempt
            attempts += 1;
        }
        // Attempts start at 1.0, 2.5 and 4.0 s; the next would start at 5.5 s.
        assert_eq!(attempts, 3);
        assert_eq!(rt.now() - start, ms(4500));
    });
}

#[test]
fn invalid_policies_are_typed_errors() {
    let cases = [
        (Backoff::constant(Duration::ZERO), InvalidBackoff::ZeroDelay),
        (
            Backoff::exponential(Duration::ZERO, ms(1)),
            InvalidBackoff::ZeroDelay,
        ),
        (
            Backoff::exponential(ms(2), ms(1)),
            InvalidBackoff::MaxBelowInitial {
                initial: ms(2),
                max: ms(1),
            },
        ),
        (
            Backoff::exponential(ms(1), ms(2)).factor(0.5),
            InvalidBackoff::Factor(0.5),
        ),
        (
            Backoff::constant(ms(1)).factor(2.0),
            InvalidBackoff::FactorNotExponential,
        ),
        (
            Backoff::constant(ms(1)).max_attempts(0),
            InvalidBackoff::ZeroMaxAttempts,
        ),
        (
            Backoff::constant(ms(1)).max_elapsed(Duration::ZERO),
            InvalidBackoff::ZeroMaxElapsed,
        ),
        (
            Backoff::constant(ms(1)).jitter(Jitter::Decorrelated),
            InvalidBackoff::Jitter("constant"),
        ),
        (
            Backoff::custom(|_| None).jitter(Jitter::Full),
            InvalidBackoff::Jitter("custom"),
        ),
    ];
    for (policy, expected) in cases {
        assert_eq!(policy.validate(), Err(expected), "{policy:?}");
        assert!(policy.schedule_with_runtime(VirtualRuntime::new()).is_err());
    }
    for factor in [f64::NAN, f64::INFINITY] {
        assert!(
            Backoff::exponential(ms(1), ms(2))
                .factor(factor)
                .validate()
                .is_err()
        );
    }
}

#[test]
fn extreme_durations_neither_panic_nor_overflow() {
    let rt = VirtualRuntime::new();
    let huge = Backoff::exponential(Duration::from_nanos(1), Duration::MAX).factor(1e300);
    for d in huge.schedule_with_runtime(rt.clone()).unwrap().take(100) {
        assert!(d <= Duration::MAX);
    }
    let max = Backoff::constant(Duration::MAX)
        .max_elapsed(Duration::MAX)
        .jitter(Jitter::Full);
    assert!(
        max.schedule_with_runtime(rt.clone())
            .unwrap()
            .next()
            .is_some()
    );
    // A budget that a single wait overshoots gives up at once instead of overflowing.
    let short = Backoff::constant(Duration::MAX).max_elapsed(ms(1));
    assert_eq!(short.schedule_with_runtime(rt).unwrap().next(), None);
}

#[test]
#[should_panic(expected = "policy bug")]
fn a_custom_policy_panic_reaches_a_direct_caller() {
    let policy = Backoff::custom(|_| panic!("policy bug"));
    let _ = policy
        .schedule_with_runtime(VirtualRuntime::new())
        .unwrap()
        .next();
}

//! governor's habits on the limiters (issue 18 item 4): `Quota`, `check_n` / `acquire_n`,
//! `InsufficientCapacity`, jitter, a chosen hasher and `len` / `shrink` for the keyed limiter,
//! and rates above 10^9 per second refused. The first tests are governor's `tests/direct.rs`
//! and `tests/keyed_hashmap.rs` cases, rewritten with the virtual runtime as the fake clock;
//! timing is asserted exactly on virtual time only.

use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;
use std::num::NonZeroU32;
use std::time::Duration;

use futures_lite::future::poll_once;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{Runtime, VirtualRuntime};
use wrangle_sync::{
    GcraLimiter, InsufficientCapacity, InvalidQuota, KeyedLimiter, Quota, RateLimiter,
};

const MS: Duration = Duration::from_millis(1);

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn direct(rt: &VirtualRuntime, quota: Quota) -> GcraLimiter<VirtualRuntime> {
    GcraLimiter::from_quota_with_runtime(rt.clone(), quota).unwrap()
}

#[test]
fn quota_constructors_match_governor() {
    let q = Quota::per_second(nz(50));
    assert_eq!((q.replenish_interval(), q.burst_size()), (20 * MS, nz(50)));
    assert_eq!(q, Quota::per_second(nz(50)).allow_burst(nz(50)));
    let q = Quota::per_minute(nz(60));
    assert_eq!(q.replenish_interval(), Duration::from_secs(1));
    let q = Quota::per_hour(nz(2)).allow_burst(nz(90));
    assert_eq!(
        (q.replenish_interval(), q.burst_size()),
        (Duration::from_secs(1800), nz(90))
    );
    let q = Quota::with_period(3 * MS);
    assert_eq!((q.replenish_interval(), q.burst_size()), (3 * MS, nz(1)));
}

#[test]
fn bad_quotas_are_refused_with_the_reason() {
    let rt = VirtualRuntime::new();
    let build = |q| GcraLimiter::from_quota_with_runtime(rt.clone(), q).map(|_| ());
    // Above 10^9 per second: refused, not clamped to 1 ns (governor's choice).
    assert_eq!(
        build(Quota::per_second(nz(1_000_000_001))),
        Err(InvalidQuota::RateTooHigh)
    );
    assert_eq!(
        build(Quota::per_second(NonZeroU32::MAX)),
        Err(InvalidQuota::RateTooHigh)
    );
    assert_eq!(build(Quota::per_second(nz(1_000_000_000))), Ok(())); // exactly 1 ns
    assert_eq!(
        build(Quota::with_period(Duration::ZERO)),
        Err(InvalidQuota::ZeroPeriod)
    );
    assert_eq!(
        build(Quota::with_period(Duration::MAX)),
        Err(InvalidQuota::PeriodTooLong)
    );
    // A burst window (burst × interval) over 100 years.
    let long = Quota::with_period(Duration::from_secs(3600 * 24 * 365)).allow_burst(nz(101));
    assert_eq!(build(long), Err(InvalidQuota::PeriodTooLong));
    let keyed =
        KeyedLimiter::<u8, _>::from_quota_with_runtime(rt, Quota::per_second(NonZeroU32::MAX));
    assert_eq!(keyed.unwrap_err(), InvalidQuota::RateTooHigh);
}

#[test]
fn accepts_first_cell_and_rejects_too_many() {
    virtual_time(|rt| async move {
        let lb = direct(&rt, Quota::per_second(nz(2)));
        lb.check().unwrap();
        rt.advance(MS).await;
        lb.check().unwrap();
        rt.advance(MS).await;
        assert!(lb.check().is_err());
        // Fine again a second later:
        rt.advance(1000 * MS).await;
        lb.check().unwrap();
        rt.advance(MS).await;
        lb.check().unwrap();
        rt.advance(MS).await;
        assert!(lb.check().is_err());
    });
}

/// governor issues 107 and 249: no extra cell after a long quiet spell.
#[test]
fn does_not_allow_one_extra_cell_after_a_longer_interval() {
    virtual_time(|rt| async move {
        let lb = direct(&rt, Quota::per_second(nz(5)));
        for _ in 0..5 {
            lb.check().unwrap();
        }
        assert!(lb.check().is_err());
        rt.advance(Duration::from_secs(2)).await;
        for _ in 0..5 {
            lb.check().unwrap();
        }
        assert!(lb.check().is_err());
    });
}

#[test]
fn check_n_of_one_is_check() {
    virtual_time(|rt| async move {
        let a = direct(&rt, Quota::per_second(nz(2)));
        let b = direct(&rt, Quota::per_second(nz(2)));
        for step in 0..50 {
            rt.advance(if step % 3 == 0 { 400 * MS } else { MS }).await;
            let one = a.check().map_err(|e| e.retry_at());
            let n = b.check_n(nz(1)).unwrap().map_err(|e| e.retry_at());
            assert_eq!(one, n, "step {step}");
        }
    });
}

#[test]
fn never_allows_more_than_capacity_all() {
    virtual_time(|rt| async move {
        let lb = direct(&rt, Quota::per_second(nz(4)));
        assert!(lb.check_n(nz(2)).unwrap().is_ok());
        assert!(lb.check_n(nz(2)).unwrap().is_ok());
        rt.advance(MS).await;
        assert!(lb.check_n(nz(2)).unwrap().is_err());
        rt.advance(1000 * MS).await;
        assert!(lb.check_n(nz(2)).unwrap().is_ok());
        rt.advance(MS).await;
        assert!(lb.check_n(nz(2)).unwrap().is_ok());
        rt.advance(MS).await;
        assert!(lb.check_n(nz(2)).unwrap().is_err());
    });
}

#[test]
fn all_capacity_check_rejects_excess() {
    virtual_time(|rt| async move {
        let lb = direct(&rt, Quota::per_second(nz(5)));
        for n in [15, 7, 6] {
            let err: InsufficientCapacity = lb.check_n(nz(n)).unwrap_err();
            assert_eq!(err.capacity(), 5);
            assert!(err.to_string().contains("capacity of 5"), "{err}");
        }
        assert!(lb.acquire_n(nz(6)).is_err());
        rt.advance(Duration::from_secs(3)).await; // waiting never helps
        assert!(lb.check_n(nz(15)).is_err());
        assert!(lb.check_n(nz(5)).unwrap().is_ok());
    });
}

#[test]
fn correct_wait_time() {
    virtual_time(|rt| async move {
        // One cell per 200 ms.
        let lb = direct(&rt, Quota::per_second(nz(5)));
        let mut conforming = 0;
        for _ in 0..20 {
            rt.advance(MS).await;
            match lb.check() {
                Ok(()) => conforming += 1,
                Err(wait) => {
                    rt.sleep_until(wait.retry_at()).await;
                    lb.check().unwrap();
                    conforming += 1;
                }
            }
        }
        assert_eq!(conforming, 20);
    });
}

#[test]
fn check_n_refusal_names_the_instant_all_n_conform() {
    virtual_time(|rt| async move {
        // One cell per 100 ms, bursts of 4.
        let lb = direct(&rt, Quota::per_second(nz(10)).allow_burst(nz(4)));
        let start = rt.now();
        assert!(lb.check_n(nz(3)).unwrap().is_ok());
        let refused = lb.check_n(nz(3)).unwrap().unwrap_err();
        assert_eq!(refused.retry_at() - start, 200 * MS); // 1 left, 2 more cells
        rt.sleep_until(refused.retry_at()).await;
        assert!(lb.check_n(nz(3)).unwrap().is_ok());
    });
}

#[test]
fn acquire_n_waits_exactly_on_every_limiter() {
    virtual_time(|rt| async move {
        let start = rt.now();
        let gcra = direct(&rt, Quota::per_second(nz(10)).allow_burst(nz(5)));
        gcra.acquire_n(nz(5)).unwrap().await;
        gcra.acquire_n(nz(3)).unwrap().await;
        assert_eq!(rt.now() - start, 300 * MS);

        let start = rt.now();
        let keyed =
            KeyedLimiter::from_quota_with_runtime(rt.clone(), Quota::per_second(nz(4))).unwrap();
        keyed.acquire_n('a', nz(4)).unwrap().await;
        keyed.acquire_n('b', nz(4)).unwrap().await;
        keyed.acquire_n('a', nz(1)).unwrap().await;
        assert_eq!(rt.now() - start, 250 * MS);

        let start = rt.now();
        let window = RateLimiter::with_runtime(rt.clone(), nz(4), Duration::from_secs(1)).unwrap();
        window.acquire_n(nz(1)).unwrap().await; // at 0
        rt.sleep(100 * MS).await;
        window.acquire_n(nz(3)).unwrap().await; // at 100 ms: 4 in the window
        window.acquire_n(nz(2)).unwrap().await; // needs 2 out: at 1100 ms
        assert_eq!(rt.now() - start, 1100 * MS);
        assert!(window.acquire_n(nz(5)).is_err());
        assert_eq!(window.stats().admitted, 3); // one admission per call
    });
}

/// R5: an `acquire_n` future polled k times and dropped gives its `n` cells back.
#[test]
fn a_dropped_acquire_n_gives_all_its_cells_back() {
    virtual_time(|rt| async move {
        let gcra = direct(&rt, Quota::per_second(nz(10)).allow_burst(nz(3)));
        let keyed = KeyedLimiter::from_quota_with_runtime(
            rt.clone(),
            Quota::per_second(nz(10)).allow_burst(nz(3)),
        )
        .unwrap();
        let window = RateLimiter::with_runtime(rt.clone(), nz(3), Duration::from_secs(1)).unwrap();
        gcra.check_n(nz(3)).unwrap().unwrap();
        keyed.check_n(&1, nz(3)).unwrap().unwrap();
        window.check_n(nz(3)).unwrap().unwrap();
        for k in 0..3 {
            let mut a = Box::pin(gcra.acquire_n(nz(2)).unwrap());
            let mut b = Box::pin(keyed.acquire_n(1, nz(2)).unwrap());
            let mut c = Box::pin(window.acquire_n(nz(2)).unwrap());
            for _ in 0..k {
                assert!(poll_once(a.as_mut()).await.is_none());
                assert!(poll_once(b.as_mut()).await.is_none());
                assert!(poll_once(c.as_mut()).await.is_none());
            }
            drop((a, b, c));
        }
        let start = rt.now();
        // Nothing was kept: the next 2 cells come as if the dropped futures never were.
        gcra.acquire_n(nz(2)).unwrap().await;
        assert_eq!(rt.now() - start, 200 * MS);
        keyed.acquire_n(1, nz(2)).unwrap().await;
        assert_eq!(rt.now() - start, 200 * MS);
        window.acquire_n(nz(2)).unwrap().await;
        assert_eq!(rt.now() - start, Duration::from_secs(1));
        assert_eq!(gcra.stats().refunded, 2);
        assert_eq!(keyed.stats().refunded, 2);
        assert_eq!(window.stats().refunded, 2);
    });
}

#[test]
fn acquire_n_serves_in_call_order_on_every_runtime() {
    each_runtime(|rt| async move {
        // One cell per ms, bursts of 4.
        let quota = Quota::per_second(nz(1000)).allow_burst(nz(4));
        let limiter = GcraLimiter::from_quota_with_runtime(rt.clone(), quota).unwrap();
        let start = rt.now();
        // Each future reserves on its first poll: in call order.
        let mut futs = Vec::new();
        for n in [2, 3, 4, 2, 3, 4] {
            let mut fut = Box::pin(limiter.acquire_n(nz(n)).unwrap());
            let done = poll_once(fut.as_mut()).await.is_some();
            futs.push((done, fut));
        }
        let mut at = Vec::new();
        for (done, fut) in futs {
            if !done {
                fut.await;
            }
            at.push(rt.now() - start);
        }
        assert!(at.windows(2).all(|w| w[0] <= w[1]));
        if rt.is_virtual() {
            // GCRA: each batch's last cell conforms (n - 1) ms after the previous batch's
            // theoretical arrival, less the 3 ms of burst tolerance.
            assert_eq!(at, [0, 1, 5, 7, 10, 14].map(|m| m * MS));
        } else {
            assert!(at[5] >= 14 * MS);
        }
    });
}

#[test]
fn jitter_delays_only_waits_within_its_bound_and_repeats_with_the_seed() {
    fn run(seed: Option<u64>) -> Vec<Duration> {
        virtual_time(|rt| async move {
            let mut limiter = direct(&rt, Quota::with_period(100 * MS));
            if let Some(seed) = seed {
                limiter = limiter.jitter_seed(seed);
            }
            let start = rt.now();
            let mut at = Vec::new();
            for _ in 0..50 {
                limiter.acquire().jitter(30 * MS).await;
                at.push(rt.now() - start);
            }
            at
        })
    }
    let a = run(Some(1));
    assert_eq!(a[0], Duration::ZERO); // admitted at once: no jitter
    for (i, w) in a.windows(2).enumerate() {
        // Each cell conforms 100 ms after the previous slot; jitter adds up to 30 ms, and
        // the slots stay on the 100 ms grid (jitter never lends capacity).
        let slot = 100 * MS * (i as u32 + 1);
        assert!(w[1] >= slot && w[1] <= slot + 30 * MS, "{i}: {:?}", w[1]);
    }
    assert!(
        a.windows(2).any(|w| w[1] - w[0] != 100 * MS),
        "some jitter was drawn"
    );
    assert_eq!(a, run(Some(1)), "the same seed, the same waits");
    assert_ne!(a, run(Some(2)));
    // On virtual time the default seed is fixed: runs repeat without one.
    assert_eq!(run(None), run(None));
}

#[test]
fn jitter_on_keyed_and_window_limiters_stays_within_bounds() {
    virtual_time(|rt| async move {
        let keyed = KeyedLimiter::from_quota_with_runtime(rt.clone(), Quota::with_period(50 * MS))
            .unwrap()
            .jitter_seed(9);
        let window = RateLimiter::with_runtime(rt.clone(), nz(1), 50 * MS)
            .unwrap()
            .jitter_seed(9);
        for limiter_kind in 0..2 {
            let start = rt.now();
            for i in 0..20_u32 {
                if limiter_kind == 0 {
                    keyed.acquire("k").jitter(10 * MS).await;
                } else {
                    window.acquire().jitter(10 * MS).await;
                }
                let waited = rt.now() - start;
                // A slot comes every 50 ms after the previous admission at the earliest.
                assert!(waited >= 50 * MS * i, "{limiter_kind}/{i}: {waited:?}");
                assert!(waited <= 60 * MS * i, "{limiter_kind}/{i}: {waited:?}");
            }
        }
    });
}

#[test]
fn keyed_len_and_shrink() {
    virtual_time(|rt| async move {
        let limiter =
            KeyedLimiter::from_quota_with_runtime(rt.clone(), Quota::per_second(nz(1))).unwrap();
        assert!(limiter.is_empty());
        for key in 0..300_u32 {
            limiter.check(&key).unwrap();
        }
        assert_eq!(limiter.len(), 300);
        assert_eq!(limiter.stats().keys, 300);
        rt.advance(500 * MS).await;
        limiter.check(&1000).unwrap();
        limiter.shrink(); // nothing has recovered yet
        assert_eq!(limiter.len(), 301);
        rt.advance(500 * MS).await; // the first 300 have
        limiter.shrink();
        assert_eq!(limiter.len(), 1);
        rt.advance(500 * MS).await;
        limiter.shrink();
        assert!(limiter.is_empty());
        // A key that recovered is as good as new.
        limiter.check(&1).unwrap();
    });
}

#[test]
fn keyed_limiter_with_a_chosen_hasher() {
    virtual_time(|rt| async move {
        type Fixed = BuildHasherDefault<DefaultHasher>;
        let limiter: KeyedLimiter<String, VirtualRuntime, Fixed> =
            KeyedLimiter::with_hasher(rt.clone(), Quota::per_second(nz(2)), Fixed::default())
                .unwrap();
        for user in ["ann", "bob"] {
            limiter.check(user).unwrap();
            limiter.check(user).unwrap();
            assert!(limiter.check(user).is_err());
        }
        let start = rt.now();
        limiter.acquire("ann".to_owned()).await;
        assert_eq!(rt.now() - start, 500 * MS);
        assert!(limiter.check_n("carl", nz(2)).unwrap().is_ok());
        assert_eq!(limiter.len(), 3);
    });
}

#[test]
fn keyed_expiration_keeps_only_recent_keys() {
    virtual_time(|rt| async move {
        let limiter =
            KeyedLimiter::from_quota_with_runtime(rt.clone(), Quota::per_second(nz(1))).unwrap();
        limiter.check(&"foo").unwrap();
        rt.advance(600 * MS).await;
        limiter.check(&"bar").unwrap();
        rt.advance(600 * MS).await;
        limiter.retain_recent();
        assert_eq!(limiter.len(), 1); // "foo" recovered, "bar" not yet
        assert!(limiter.check(&"bar").is_err());
        assert!(limiter.check(&"foo").is_ok());
    });
}

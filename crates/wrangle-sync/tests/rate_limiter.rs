//! Behaviour of the rate limiters on every runtime, and R8 properties on virtual time.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::future::poll_once;
use proptest::prelude::*;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{Runtime, VirtualRuntime};
use wrangle_sync::{GcraLimiter, InvalidQuota, KeyedLimiter, RateLimiter};

const MS: Duration = Duration::from_millis(1);

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

#[test]
fn seed_two_per_100ms_admits_at_0_0_100_100_200() {
    each_runtime(|rt| async move {
        let limiter = Arc::new(RateLimiter::with_runtime(rt.clone(), nz(2), 100 * MS).unwrap());
        let start = rt.now();
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (limiter, rt2) = (Arc::clone(&limiter), rt.clone());
                rt.spawn(async move {
                    limiter.acquire().await;
                    rt2.now()
                })
            })
            .collect();
        let mut at = Vec::new();
        for t in tasks {
            at.push(t.await.unwrap() - start);
        }
        at.sort();
        for (got, want) in at.iter().zip([0, 0, 100, 100, 200]) {
            assert!(*got >= want * MS, "{at:?}");
        }
        if rt.is_virtual() {
            assert_eq!(at, [0, 0, 100, 100, 200].map(|m| m * MS));
        }
    });
}

#[test]
fn check_never_waits_and_refuses_with_retry_instant() {
    virtual_time(|rt| async move {
        let limiter = RateLimiter::with_runtime(rt.clone(), nz(2), 100 * MS).unwrap();
        let start = rt.now();
        limiter.check().unwrap();
        rt.sleep(30 * MS).await;
        limiter.check().unwrap();
        let refused = limiter.check().unwrap_err();
        assert_eq!(refused.retry_at() - start, 100 * MS);
        rt.sleep_until(refused.retry_at()).await;
        limiter.check().unwrap();
        assert_eq!(limiter.check().unwrap_err().retry_at() - start, 130 * MS);
        assert_eq!((limiter.stats().admitted, limiter.stats().skipped), (3, 2));
    });
}

#[test]
fn check_respects_waiters_that_reserved_first() {
    virtual_time(|rt| async move {
        let limiter = Arc::new(RateLimiter::with_runtime(rt.clone(), nz(1), 100 * MS).unwrap());
        limiter.check().unwrap();
        let waiter = rt.spawn({
            let limiter = Arc::clone(&limiter);
            async move { limiter.acquire().await }
        });
        rt.sleep(100 * MS).await;
        // The slot at 100 ms belongs to the waiter.
        assert!(limiter.check().is_err());
        waiter.await.unwrap();
    });
}

#[test]
fn cancelled_last_waiter_gives_its_slot_back() {
    virtual_time(|rt| async move {
        let limiter = RateLimiter::with_runtime(rt.clone(), nz(1), 100 * MS).unwrap();
        let start = rt.now();
        limiter.check().unwrap();
        {
            let mut fut = Box::pin(limiter.acquire());
            assert!(poll_once(fut.as_mut()).await.is_none());
        }
        assert_eq!(limiter.stats().refunded, 1);
        limiter.acquire().await;
        assert_eq!(rt.now() - start, 100 * MS);
    });
}

#[test]
fn invalid_quotas_are_typed_errors() {
    let rt = VirtualRuntime::new();
    assert_eq!(
        RateLimiter::with_runtime(rt.clone(), nz(1), Duration::ZERO).unwrap_err(),
        InvalidQuota::ZeroPeriod
    );
    assert_eq!(
        GcraLimiter::with_runtime(rt.clone(), nz(10), Duration::from_nanos(5), nz(1)).unwrap_err(),
        InvalidQuota::RateTooHigh
    );
    assert!(KeyedLimiter::<u8, _>::with_runtime(rt, nz(1), Duration::ZERO, nz(1)).is_err());
}

#[test]
fn gcra_bursts_then_spaces_admissions() {
    each_runtime(|rt| async move {
        let limiter =
            GcraLimiter::with_runtime(rt.clone(), nz(10), Duration::from_secs(1), nz(3)).unwrap();
        let start = rt.now();
        let mut at = Vec::new();
        for _ in 0..5 {
            limiter.acquire().await;
            at.push(rt.now() - start);
        }
        assert!(at[4] >= 200 * MS);
        if rt.is_virtual() {
            assert_eq!(at, [0, 0, 0, 100, 200].map(|m| m * MS));
        }
    });
}

#[test]
fn gcra_cancelled_last_waiter_gives_its_slot_back() {
    virtual_time(|rt| async move {
        let one = nz(1);
        let limiter = GcraLimiter::with_runtime(rt.clone(), one, 100 * MS, one).unwrap();
        let start = rt.now();
        limiter.check().unwrap();
        {
            let mut fut = Box::pin(limiter.acquire());
            assert!(poll_once(fut.as_mut()).await.is_none());
        }
        limiter.acquire().await;
        assert_eq!(rt.now() - start, 100 * MS);
        // The cancelled reservation was given back: one slot reserved in all.
        assert_eq!(limiter.stats().admitted, 1);
    });
}

#[test]
fn keyed_limits_each_key_separately() {
    each_runtime(|rt| async move {
        let one = nz(1);
        let limiter = KeyedLimiter::with_runtime(rt.clone(), one, 50 * MS, one).unwrap();
        let start = rt.now();
        limiter.check(&"a").unwrap();
        limiter.check(&"b").unwrap();
        assert!(limiter.check(&"a").is_err());
        limiter.acquire("a").await;
        let waited = rt.now() - start;
        assert!(waited >= 50 * MS);
        if rt.is_virtual() {
            assert_eq!(waited, 50 * MS);
        }
    });
}

#[test]
fn keyed_memory_stays_bounded_with_many_keys() {
    virtual_time(|rt| async move {
        let one = nz(1);
        let limiter = KeyedLimiter::with_runtime(rt.clone(), one, MS, one).unwrap();
        for i in 0..200_000u64 {
            limiter.check(&i).unwrap();
            if i % 100 == 99 {
                rt.sleep(MS).await;
            }
        }
        assert!(limiter.len() <= 2048, "len {}", limiter.len());
    });
}

/// One step of a schedule: wait `gap` ms, then `check` (true) or spawn an `acquire` (false).
fn schedule() -> impl Strategy<Value = Vec<(u64, bool)>> {
    prop::collection::vec((0u64..40, any::<bool>()), 1..40)
}

/// Runs a schedule; returns (request, admission or None if refused, was a check) per op.
fn run_schedule<F, L>(ops: &[(u64, bool)], make: F) -> Vec<(Instant, Option<Instant>, bool)>
where
    F: FnOnce(VirtualRuntime) -> L,
    L: Limiter + Send + Sync + 'static,
{
    virtual_time(|rt| async move {
        let limiter = Arc::new(make(rt.clone()));
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for &(gap, is_check) in ops {
            rt.sleep(Duration::from_millis(gap)).await;
            let now = rt.now();
            let idx = {
                let mut out = out.lock().unwrap();
                out.push((now, None, is_check));
                out.len() - 1
            };
            if is_check {
                if limiter.check_now() {
                    out.lock().unwrap()[idx].1 = Some(now);
                }
            } else {
                // The reservation is taken on the task's first poll: wait for it, so slots
                // are reserved in op order whatever the scheduler's order.
                let reserved = limiter.admitted() + 1;
                let task = rt.spawn({
                    let (limiter, out, rt2) = (Arc::clone(&limiter), Arc::clone(&out), rt.clone());
                    async move {
                        limiter.wait().await;
                        out.lock().unwrap()[idx].1 = Some(rt2.now());
                    }
                });
                while limiter.admitted() < reserved {
                    wrangle_rt::yield_now().await;
                }
                tasks.push(task);
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(out).unwrap().into_inner().unwrap()
    })
}

trait Limiter {
    fn check_now(&self) -> bool;
    /// A count that grows by one with each reservation (and may count admissions too).
    fn admitted(&self) -> u64;
    fn wait(&self) -> impl Future<Output = ()> + Send + '_;
}

impl<R: Runtime> Limiter for RateLimiter<R> {
    fn check_now(&self) -> bool {
        self.check().is_ok()
    }
    fn admitted(&self) -> u64 {
        self.stats().admitted
    }
    fn wait(&self) -> impl Future<Output = ()> + Send + '_ {
        self.acquire()
    }
}

impl<R: Runtime> Limiter for GcraLimiter<R> {
    fn check_now(&self) -> bool {
        self.check().is_ok()
    }
    fn admitted(&self) -> u64 {
        // Only reservations are counted here; the caller waits for its own.
        self.stats().admitted
    }
    fn wait(&self) -> impl Future<Output = ()> + Send + '_ {
        self.acquire()
    }
}

/// Runs acquirers that give up after a random time; returns the admission instants.
fn run_with_cancels(limit: u32, period: Duration, ops: &[(u64, u64)]) -> Vec<Instant> {
    virtual_time(|rt| async move {
        let limiter = Arc::new(RateLimiter::with_runtime(rt.clone(), nz(limit), period).unwrap());
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for &(gap, patience) in ops {
            rt.sleep(Duration::from_millis(gap)).await;
            let (limiter, admitted, rt2) =
                (Arc::clone(&limiter), Arc::clone(&admitted), rt.clone());
            tasks.push(rt.spawn(async move {
                let wait = rt2.timeout(Duration::from_millis(patience), limiter.acquire());
                if wait.await.is_ok() {
                    admitted.lock().unwrap().push(rt2.now());
                }
            }));
            wrangle_rt::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut out = admitted.lock().unwrap().clone();
        out.sort();
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Cancelled waiters (R5) never let the limiter admit more than its limit.
    #[test]
    fn cancelled_waiters_never_raise_the_limit(
        ops in prop::collection::vec((0u64..30, 0u64..200), 1..40),
        limit in 1u32..4,
        period_ms in 1u64..100,
    ) {
        let period = Duration::from_millis(period_ms);
        let admitted = run_with_cancels(limit, period, &ops);
        let limit = limit as usize;
        for w in admitted.windows(limit + 1) {
            prop_assert!(w[limit] - w[0] >= period);
        }
    }

    #[test]
    fn sliding_window_properties(ops in schedule(), limit in 1u32..5, period_ms in 1u64..120) {
        let period = Duration::from_millis(period_ms);
        let log = run_schedule(&ops, |rt| RateLimiter::with_runtime(rt, nz(limit), period).unwrap());
        let limit = limit as usize;
        let mut admitted: Vec<Instant> = log.iter().filter_map(|e| e.1).collect();
        admitted.sort();
        // At most `limit` admissions in any window of one period.
        for w in admitted.windows(limit + 1) {
            prop_assert!(w[limit] - w[0] >= period);
        }
        for (i, &(req, adm, is_check)) in log.iter().enumerate() {
            let earlier: Vec<Instant> = log[..i].iter().filter_map(|e| e.1).collect();
            match adm {
                // Waits never end early; a wait ends as soon as the window allows.
                Some(at) => {
                    prop_assert!(at >= req);
                    if at > req {
                        let full = earlier.iter().filter(|&&a| a + period >= at && a <= at).count();
                        prop_assert!(full >= limit, "op {} waited without need", i);
                    }
                }
                // Never refuses while capacity remains.
                None => {
                    prop_assert!(is_check);
                    let busy = earlier.iter().filter(|&&a| a + period > req).count();
                    prop_assert!(busy >= limit, "op {} refused with capacity left", i);
                }
            }
        }
    }

    #[test]
    fn gcra_properties(ops in schedule(), rate in 1u32..20, burst in 1u32..5) {
        let per = Duration::from_secs(1);
        let interval = per / rate;
        let log = run_schedule(&ops, |rt| {
            GcraLimiter::with_runtime(rt, nz(rate), per, nz(burst)).unwrap()
        });
        let mut admitted: Vec<Instant> = log.iter().filter_map(|e| e.1).collect();
        admitted.sort();
        // In any window [a_i, a_j]: at most burst + (a_j - a_i) / interval admissions.
        for i in 0..admitted.len() {
            for j in i..admitted.len() {
                let span = (admitted[j] - admitted[i]).as_nanos() / interval.as_nanos();
                prop_assert!((j - i + 1) as u128 <= u128::from(burst) + span);
            }
        }
        for &(req, adm, is_check) in &log {
            if let Some(at) = adm {
                prop_assert!(at >= req);
            } else {
                prop_assert!(is_check);
            }
        }
    }
}

/// `LimiterStats` of the three limiters: `check`s admitted and refused (`skipped`), a
/// cancelled waiter's slot moving from `admitted` to `refunded`, and `keys` for the keyed one.
#[test]
fn stats_of_every_limiter_count_admissions_refusals_and_refunds() {
    const HOUR: Duration = Duration::from_secs(3600);
    each_runtime(|rt| async move {
        // One call per hour: nothing refills between two checks, even on a loaded machine.
        let window = RateLimiter::with_runtime(rt.clone(), nz(1), HOUR).unwrap();
        window.check().unwrap();
        assert!(window.check().is_err());
        assert!(window.check().is_err());
        let mut waiter = Box::pin(window.acquire());
        assert!(poll_once(&mut waiter).await.is_none()); // reserves the slot in an hour
        assert_eq!(window.stats().admitted, 2);
        drop(waiter); // the last reservation: given back
        let s = window.stats();
        assert_eq!((s.admitted, s.skipped, s.refunded, s.keys), (1, 2, 1, 0));

        let gcra = GcraLimiter::with_runtime(rt.clone(), nz(1), HOUR, nz(1)).unwrap();
        gcra.check().unwrap(); // not counted: the lock-free check has no counter
        assert!(gcra.check().is_err());
        let mut waiter = Box::pin(gcra.acquire());
        assert!(poll_once(&mut waiter).await.is_none());
        assert_eq!(gcra.stats().admitted, 1);
        drop(waiter);
        let s = gcra.stats();
        assert_eq!((s.admitted, s.skipped, s.refunded, s.keys), (0, 1, 1, 0));

        let keyed = KeyedLimiter::with_runtime(rt.clone(), nz(1), HOUR, nz(1)).unwrap();
        keyed.check("a").unwrap();
        assert!(keyed.check("a").is_err());
        keyed.check("b").unwrap();
        let mut waiter = Box::pin(keyed.acquire("a".to_owned()));
        assert!(poll_once(&mut waiter).await.is_none());
        assert_eq!(keyed.stats().admitted, 3);
        drop(waiter);
        let s = keyed.stats();
        assert_eq!((s.admitted, s.skipped, s.refunded, s.keys), (2, 1, 1, 2));
        assert_eq!(s.keys, keyed.len());
    });
}

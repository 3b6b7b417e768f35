//! Behaviour of `race`, `gather` and `as_completed` (seed 3.7).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Drops, ms};
use futures_lite::StreamExt;
use futures_lite::future::poll_once;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, Runtime, VirtualRuntime};
use wrangle_task::{
    RaceError, as_completed_with_runtime, gather, gather_with_runtime, race, race_with_runtime,
};

#[derive(Debug, PartialEq)]
struct Zde;

/// A job: sleeps `d` ms, then returns `r`; dropped early, it counts a cancellation.
fn job<R: Runtime>(
    rt: &R,
    cancelled: &Arc<AtomicUsize>,
    d: u64,
    r: Result<u64, Zde>,
) -> impl Future<Output = Result<u64, Zde>> + Send + 'static {
    struct OnDrop(Arc<AtomicUsize>, bool);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            if !self.1 {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    let (rt, cancelled) = (rt.clone(), cancelled.clone());
    async move {
        let mut guard = OnDrop(cancelled, false);
        rt.sleep(ms(d)).await;
        guard.1 = true;
        r
    }
}

#[test]
fn race_returns_the_first_success_and_cancels_the_losers_before_returning() {
    virtual_time(|rt| async move {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let start = rt.now();
        let jobs =
            [(100, Ok(1)), (300, Err(Zde)), (500, Ok(5))].map(|(d, r)| job(&rt, &cancelled, d, r));
        let (v, errors) = race_with_runtime(rt.clone(), jobs).await.unwrap();
        assert_eq!((v, errors), (1, vec![]));
        // Both losers are gone when race returns.
        assert_eq!(cancelled.load(Ordering::SeqCst), 2);
        assert_eq!(rt.now() - start, ms(100));
    });
}

#[test]
fn race_continue_on_error_collects_errors_until_a_success() {
    virtual_time(|rt| async move {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let jobs = [
            (300, Err(Zde)),
            (350, Err(Zde)),
            (400, Ok(4)),
            (450, Err(Zde)),
            (500, Ok(5)),
        ]
        .map(|(d, r)| job(&rt, &cancelled, d, r));
        let (v, errors) = race_with_runtime(rt.clone(), jobs)
            .continue_on_error()
            .await
            .unwrap();
        assert_eq!((v, errors), (4, vec![Zde, Zde]));
        assert_eq!(cancelled.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn race_all_failing_gives_every_error() {
    virtual_time(|rt| async move {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let jobs = [10, 20, 30].map(|d| job(&rt, &cancelled, d, Err(Zde)));
        match race_with_runtime(rt.clone(), jobs)
            .continue_on_error()
            .await
        {
            Err(RaceError::AllFailed(errors)) => assert_eq!(errors.len(), 3),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(cancelled.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn race_without_continue_stops_at_the_first_error() {
    virtual_time(|rt| async move {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let start = rt.now();
        let jobs =
            [(30, Ok(3)), (10, Err(Zde)), (20, Ok(2))].map(|(d, r)| job(&rt, &cancelled, d, r));
        assert!(matches!(
            race_with_runtime(rt.clone(), jobs).await,
            Err(RaceError::Failed(Zde))
        ));
        assert_eq!(cancelled.load(Ordering::SeqCst), 2);
        assert_eq!(rt.now() - start, ms(10));
    });
}

#[test]
fn race_over_nothing_is_a_typed_error() {
    each_runtime(|rt| async move {
        let none: Vec<std::future::Ready<Result<(), ()>>> = Vec::new();
        assert!(matches!(
            race_with_runtime(rt.clone(), none).await,
            Err(RaceError::Empty)
        ));
    });
}

#[test]
fn race_on_every_runtime_cancels_losers() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let losers = (0..5).map(|_| {
            let guard = drops.guard();
            let fut: std::pin::Pin<Box<dyn Future<Output = Result<u8, ()>> + Send>> =
                Box::pin(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    Ok(0)
                });
            fut
        });
        let winner: std::pin::Pin<Box<dyn Future<Output = Result<u8, ()>> + Send>> = {
            let rt = rt.clone();
            Box::pin(async move {
                rt.sleep(ms(2)).await;
                Ok(9)
            })
        };
        let all: Vec<_> = losers.chain(std::iter::once(winner)).collect();
        let (v, _) = race(all).await.unwrap();
        assert_eq!(v, 9);
        assert_eq!(drops.count(), 5);
    });
}

#[test]
fn race_reports_a_panic() {
    each_runtime(|_rt: DefaultRuntime| async move {
        let jobs = [0, 1].map(|i| async move {
            if i == 1 {
                panic!("racer exploded");
            }
            std::future::pending::<()>().await;
            Ok::<(), ()>(())
        });
        match race(jobs).await {
            Err(RaceError::Panicked(p)) => assert_eq!(p.message(), Some("racer exploded")),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn gather_keeps_input_order_with_errors_inline() {
    virtual_time(|rt| async move {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let jobs =
            [(300, Ok(3)), (200, Err(Zde)), (100, Ok(1))].map(|(d, r)| job(&rt, &cancelled, d, r));
        let start = rt.now();
        let out: Vec<_> = gather_with_runtime(rt.clone(), jobs)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(out, [Ok(3), Err(Zde), Ok(1)]);
        assert_eq!(cancelled.load(Ordering::SeqCst), 0);
        assert_eq!(rt.now() - start, ms(300));
    });
}

#[test]
fn gather_under_an_outer_timeout_cancels_the_unfinished() {
    virtual_time(|rt| async move {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..7)
            .map(|i| job(&rt, &cancelled, 100 * i, Ok(i)))
            .collect();
        let r = rt
            .timeout(ms(350), gather_with_runtime(rt.clone(), jobs))
            .await;
        assert!(r.is_err());
        rt.sleep(ms(1)).await;
        // The 400, 500 and 600 ms jobs were cancelled.
        assert_eq!(cancelled.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn gather_reports_panics_inline_on_every_runtime() {
    each_runtime(|_rt| async move {
        let out = gather((0..4).map(|i| async move {
            if i == 2 {
                panic!("gathered panic");
            }
            i
        }))
        .await;
        assert!(matches!(out[0], Ok(0)));
        assert!(matches!(out[3], Ok(3)));
        assert_eq!(
            out[2].as_ref().unwrap_err().to_string(),
            "task panicked: gathered panic"
        );
    });
}

#[test]
fn as_completed_yields_in_completion_order() {
    virtual_time(|rt| async move {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let jobs = [(100, Ok(1)), (200, Err(Zde)), (300, Ok(3)), (400, Err(Zde))]
            .map(|(d, r)| job(&rt, &cancelled, d, r));
        let out: Vec<_> = as_completed_with_runtime(rt.clone(), jobs)
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(out, [Ok(1), Err(Zde), Ok(3), Err(Zde)]);
    });
}

#[test]
fn as_completed_cancel_cancels_and_awaits_the_rest() {
    virtual_time(|rt| async move {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let jobs =
            [(100, Ok(1)), (200, Ok(2)), (300, Ok(3))].map(|(d, r)| job(&rt, &cancelled, d, r));
        let mut s = as_completed_with_runtime(rt.clone(), jobs);
        assert_eq!(s.next().await.unwrap().unwrap(), Ok(1));
        s.cancel().await;
        assert_eq!(cancelled.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn as_completed_dropped_early_cancels_the_rest() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let jobs: Vec<_> = (0..4)
            .map(|_| {
                let guard = drops.guard();
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                }
            })
            .collect();
        let mut s = as_completed_with_runtime(rt.clone(), jobs);
        assert!(poll_once(s.next()).await.is_none());
        drop(s);
        common::eventually(&rt, || drops.count() == 4).await;
    });
}

#[test]
fn as_completed_under_a_timeout_in_the_loop_body() {
    let rt = VirtualRuntime::new();
    let cancelled = Arc::new(AtomicUsize::new(0));
    let c = cancelled.clone();
    let rt2 = rt.clone();
    rt.block_on(async move {
        let jobs = [(100, Ok(1)), (200, Ok(2)), (300, Ok(3))].map(|(d, r)| job(&rt2, &c, d, r));
        let mut seen = Vec::new();
        let r = rt2
            .timeout(ms(150), async {
                let mut s = as_completed_with_runtime(rt2.clone(), jobs);
                while let Some(v) = s.next().await {
                    seen.push(v.unwrap().unwrap());
                }
            })
            .await;
        assert!(r.is_err());
        rt2.sleep(ms(1)).await;
        assert_eq!(seen, [1]);
    });
    assert_eq!(cancelled.load(Ordering::SeqCst), 2);
}

//! Behaviour of `Concurrent`, the spawning bounded runner.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Drops, Gauge, eventually, ms};
use futures_lite::future::poll_once;
use futures_lite::{StreamExt, stream};
use wrangle_rt::Runtime;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_task::{Concurrent, ConcurrentError, ErrorPolicy, Limit};

#[test]
fn yields_in_completion_order_at_exact_times() {
    virtual_time(|rt| async move {
        let start = rt.now();
        let jobs = [30u64, 10, 20].map(|d| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms(d)).await;
                Ok::<_, ()>((d, rt.now()))
            }
        });
        let out: Vec<_> = Concurrent::with_runtime(rt.clone(), jobs)
            .map(Result::unwrap)
            .collect()
            .await;
        let got: Vec<_> = out.iter().map(|(d, at)| (*d, *at - start)).collect();
        assert_eq!(got, [(10, ms(10)), (20, ms(20)), (30, ms(30))]);
    });
}

#[test]
fn limit_bounds_futures_in_flight() {
    each_runtime(|rt| async move {
        let gauge = Gauge::default();
        let jobs = (0..40).map(|i| {
            let (rt, gauge) = (rt.clone(), gauge.clone());
            async move {
                let _g = gauge.enter();
                rt.sleep(ms(1)).await;
                Ok::<_, ()>(i)
            }
        });
        let mut out: Vec<i32> = Concurrent::with_runtime(rt.clone(), jobs)
            .limit(Limit::try_from(3).unwrap())
            .map(Result::unwrap)
            .collect()
            .await;
        out.sort_unstable();
        assert_eq!(out, (0..40).collect::<Vec<_>>());
        assert!(gauge.max() <= 3, "max in flight {}", gauge.max());
        assert_eq!(gauge.max(), 3);
    });
}

#[test]
fn limit_bounds_time_on_virtual_clock() {
    virtual_time(|rt| async move {
        let start = rt.now();
        let jobs = (0..10).map(|_| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms(10)).await;
                Ok::<_, ()>(())
            }
        });
        let n = Concurrent::with_runtime(rt.clone(), jobs)
            .limit(Limit::try_from(4).unwrap())
            .count()
            .await;
        assert_eq!(n, 10);
        // 4 + 4 + 2: three rounds.
        assert_eq!(rt.now() - start, ms(30));
    });
}

#[test]
fn zero_limit_is_a_typed_error_not_a_hang() {
    // The error is std's, the same as `NonZeroUsize::try_from(0)` gives.
    let err: std::num::TryFromIntError = Limit::try_from(0).unwrap_err();
    assert_eq!(err, std::num::NonZeroUsize::try_from(0).unwrap_err());
    assert_eq!(Limit::try_from(1).unwrap().get(), Some(1));
}

#[test]
fn default_limit_is_min_32_cores_plus_4() {
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(Limit::Default.get(), Some((cores + 4).min(32)));
    assert_eq!(Limit::Unlimited.get(), None);
}

#[test]
fn unlimited_starts_everything_at_once() {
    each_runtime(|rt| async move {
        let gauge = Gauge::default();
        let jobs = (0..100).map(|_| {
            let (rt, gauge) = (rt.clone(), gauge.clone());
            async move {
                let _g = gauge.enter();
                rt.sleep(ms(20)).await;
                Ok::<_, ()>(())
            }
        });
        let mut s = Concurrent::with_runtime(rt.clone(), jobs).limit(Limit::Unlimited);
        assert!(s.next().await.is_some());
        assert_eq!(gauge.max(), 100);
        assert_eq!(s.count().await, 99);
    });
}

#[test]
fn empty_input_ends_at_once() {
    each_runtime(|rt| async move {
        let jobs = std::iter::empty::<std::future::Ready<Result<(), ()>>>();
        assert!(Concurrent::with_runtime(rt, jobs).next().await.is_none());
    });
}

#[test]
fn stop_policy_cancels_and_awaits_in_flight_then_ends() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let jobs = (0..10).map(|i| {
            let (rt, guard) = (rt.clone(), drops.guard());
            async move {
                let _guard = guard;
                if i == 2 {
                    rt.sleep(ms(5)).await;
                    return Err(format!("job {i} failed"));
                }
                std::future::pending::<()>().await;
                Ok(i)
            }
        });
        let mut s = Concurrent::with_runtime(rt.clone(), jobs).limit(Limit::try_from(4).unwrap());
        match s.next().await {
            Some(Err(ConcurrentError::Failed(e))) => assert_eq!(e, "job 2 failed"),
            other => panic!("unexpected {other:?}"),
        }
        // The three others in flight were cancelled and are gone when the error is yielded;
        // the six others were never taken from the source.
        assert_eq!(drops.count(), 4);
        assert_eq!(s.stats().cancelled, 3);
        assert_eq!(s.stats().started, 4);
        assert!(s.next().await.is_none());
    });
}

#[test]
fn yield_policy_yields_errors_inline_and_keeps_going() {
    each_runtime(|rt| async move {
        let jobs = (0..6).map(|i| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms(i)).await;
                if i % 2 == 0 { Ok(i) } else { Err(i) }
            }
        });
        let items: Vec<_> = Concurrent::with_runtime(rt.clone(), jobs)
            .error_policy(ErrorPolicy::Yield)
            .collect()
            .await;
        let mut ok: Vec<_> = items
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        let mut err: Vec<_> = items
            .into_iter()
            .filter_map(|r| r.err().and_then(ConcurrentError::into_failed))
            .collect();
        ok.sort_unstable();
        err.sort_unstable();
        assert_eq!((ok, err), (vec![0, 2, 4], vec![1, 3, 5]));
    });
}

#[test]
fn yield_policy_errors_arrive_in_completion_order() {
    virtual_time(|rt| async move {
        let jobs = [(30, Ok(1)), (10, Err("a")), (20, Ok(2))].map(|(d, r)| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms(d)).await;
                r
            }
        });
        let items: Vec<_> = Concurrent::with_runtime(rt.clone(), jobs)
            .error_policy(ErrorPolicy::Yield)
            .map(|r| r.map_err(|e| e.into_failed().unwrap()))
            .collect()
            .await;
        assert_eq!(items, [Err("a"), Ok(2), Ok(1)]);
    });
}

#[test]
fn panic_in_a_future_is_an_error_item_not_a_crash() {
    each_runtime(|rt| async move {
        let jobs = (0..4).map(|i| async move {
            if i == 1 {
                panic!("job one exploded");
            }
            Ok::<_, ()>(i)
        });
        let items: Vec<_> = Concurrent::with_runtime(rt.clone(), jobs)
            .error_policy(ErrorPolicy::Yield)
            .collect()
            .await;
        assert_eq!(items.len(), 4);
        let panics: Vec<_> = items
            .into_iter()
            .filter_map(|r| match r {
                Err(ConcurrentError::Panicked(p)) => Some(p.message().map(str::to_owned)),
                _ => None,
            })
            .collect();
        assert_eq!(panics, [Some("job one exploded".to_owned())]);
        // The runtime still works.
        assert_eq!(rt.spawn(async { 5 }).await.unwrap(), 5);
    });
}

#[test]
fn input_stream_error_ends_the_run_at_once_whatever_the_policy() {
    each_runtime(|rt| async move {
        for policy in [ErrorPolicy::Stop, ErrorPolicy::Yield] {
            let drops = Drops::default();
            let input = stream::iter(0..5).map({
                let drops = drops.clone();
                move |i| {
                    let guard = drops.guard();
                    if i == 2 {
                        Err("source broke")
                    } else {
                        Ok(async move {
                            let _guard = guard;
                            std::future::pending::<()>().await;
                            Ok(())
                        })
                    }
                }
            });
            let items: Vec<_> = Concurrent::from_try_stream_with_runtime(rt.clone(), input)
                .error_policy(policy)
                .limit(Limit::Unlimited)
                .collect()
                .await;
            assert!(matches!(
                items[..],
                [Err(ConcurrentError::Input("source broke"))]
            ));
            // The two started futures were cancelled and awaited; items 3 and 4 never pulled.
            assert_eq!(drops.count(), 3);
        }
    });
}

#[test]
fn dropping_the_stream_cancels_in_flight_work() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let started = Arc::new(AtomicUsize::new(0));
        let jobs = (0..8).map(|_| {
            let (guard, started) = (drops.guard(), started.clone());
            async move {
                let _guard = guard;
                started.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
                Ok::<(), ()>(())
            }
        });
        let mut s = Concurrent::with_runtime(rt.clone(), jobs).limit(Limit::try_from(5).unwrap());
        assert!(poll_once(s.next()).await.is_none());
        eventually(&rt, || started.load(Ordering::SeqCst) == 5).await;
        drop(s);
        // The five started tasks are cancelled, each dropped once; nothing more is pulled.
        eventually(&rt, || drops.count() == 5).await;
        rt.sleep(ms(5)).await;
        assert_eq!(drops.count(), 5);
        assert_eq!(started.load(Ordering::SeqCst), 5);
    });
}

#[test]
fn dropping_the_stream_cancels_before_the_clock_moves() {
    virtual_time(|rt| async move {
        let drops = Drops::default();
        let jobs = (0..3).map(|_| {
            let guard = drops.guard();
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok::<(), ()>(())
            }
        });
        let mut s = Concurrent::with_runtime(rt.clone(), jobs);
        assert!(poll_once(s.next()).await.is_none());
        wrangle_rt::yield_now().await;
        let before = rt.now();
        drop(s);
        // Every cancelled task runs (and drops its future) before virtual time may advance.
        rt.sleep(ms(1)).await;
        assert_eq!(drops.count(), 3);
        assert_eq!(rt.now() - before, ms(1));
    });
}

#[test]
fn takes_from_the_source_only_when_a_slot_is_free() {
    each_runtime(|rt| async move {
        let pulled = Arc::new(AtomicUsize::new(0));
        let jobs = (0..10).map({
            let (pulled, rt) = (pulled.clone(), rt.clone());
            move |i| {
                pulled.fetch_add(1, Ordering::SeqCst);
                let rt = rt.clone();
                async move {
                    rt.sleep(ms(1)).await;
                    Ok::<_, ()>(i)
                }
            }
        });
        let mut s = Concurrent::with_runtime(rt.clone(), jobs).limit(Limit::try_from(2).unwrap());
        assert!(s.next().await.is_some());
        // Two started, one finished: at most one more pulled, on the next poll.
        assert_eq!(pulled.load(Ordering::SeqCst), 2);
        assert_eq!(s.count().await, 9);
    });
}

#[test]
fn next_dropped_while_pending_loses_no_item() {
    each_runtime(|rt| async move {
        let jobs = (0..20).map(|i| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms(i % 3)).await;
                Ok::<_, ()>(i)
            }
        });
        let mut s = Concurrent::with_runtime(rt.clone(), jobs).limit(Limit::try_from(4).unwrap());
        let mut got = Vec::new();
        // Poll `next()` once at a time and drop it, again and again.
        loop {
            match poll_once(s.next()).await {
                Some(Some(r)) => got.push(r.unwrap()),
                Some(None) => break,
                None => rt.sleep(ms(1)).await,
            }
        }
        got.sort_unstable();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
    });
}

#[test]
fn panic_isolation_each_outcome_counted_once() {
    each_runtime(|rt| async move {
        let jobs = (0..1000u32).map(|i| {
            let rt = rt.clone();
            async move {
                if i % 7 == 0 {
                    rt.sleep(ms(1)).await;
                }
                if i % 10 == 3 {
                    panic!("job {i}");
                }
                if i % 10 == 5 {
                    return Err(i);
                }
                Ok(i)
            }
        });
        let mut s = Concurrent::with_runtime(rt.clone(), jobs)
            .limit(Limit::try_from(64).unwrap())
            .error_policy(ErrorPolicy::Yield);
        let (mut ok, mut failed, mut panicked) = (0, 0, 0);
        while let Some(item) = s.next().await {
            match item {
                Ok(i) => {
                    assert!(i % 10 != 3 && i % 10 != 5);
                    ok += 1;
                }
                Err(ConcurrentError::Failed(i)) => {
                    assert_eq!(i % 10, 5);
                    failed += 1;
                }
                Err(ConcurrentError::Panicked(p)) => {
                    assert!(p.message().unwrap().starts_with("job "));
                    panicked += 1;
                }
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((ok, failed, panicked), (800, 100, 100));
        let stats = s.stats();
        assert_eq!(
            (stats.started, stats.completed, stats.failed),
            (1000, 800, 200)
        );
        assert_eq!(stats.running, 0);
    });
}

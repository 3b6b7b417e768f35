//! Behaviour of `ConcurrentInline`, the runner that stays inside the current task.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Drops, Gauge, ms};
use futures_lite::future::poll_once;
use futures_lite::{StreamExt, stream};
use wrangle_rt::Runtime;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_task::{ConcurrentError, ConcurrentInline, ErrorPolicy, Limit};

#[test]
fn runs_borrowing_non_send_futures_in_completion_order() {
    virtual_time(|rt| async move {
        let log = Rc::new(RefCell::new(Vec::new()));
        let jobs = [30u64, 10, 20].map(|d| {
            let (rt, log) = (rt.clone(), log.clone());
            async move {
                rt.sleep(ms(d)).await;
                log.borrow_mut().push(d);
                Ok::<_, ()>(d)
            }
        });
        let out: Vec<_> = ConcurrentInline::new(jobs)
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(out, [10, 20, 30]);
        assert_eq!(*log.borrow(), [10, 20, 30]);
    });
}

#[test]
fn limit_bounds_futures_in_flight() {
    each_runtime(|rt| async move {
        let gauge = Gauge::default();
        let jobs = (0..30).map(|i| {
            let (rt, gauge) = (rt.clone(), gauge.clone());
            async move {
                let _g = gauge.enter();
                rt.sleep(ms(1)).await;
                Ok::<_, ()>(i)
            }
        });
        let n = ConcurrentInline::new(jobs)
            .limit(Limit::try_from(4).unwrap())
            .count()
            .await;
        assert_eq!(n, 30);
        assert_eq!(gauge.max(), 4);
    });
}

#[test]
fn always_ready_futures_do_not_starve_other_tasks() {
    each_runtime(|rt| async move {
        // Futures that wake themselves and stay pending until another task sets the flag: on a
        // single-thread executor that task only runs if the runner yields.
        let flag = Arc::new(AtomicBool::new(false));
        let setter = rt.spawn({
            let flag = flag.clone();
            async move { flag.store(true, Ordering::SeqCst) }
        });
        let jobs = (0..8).map(|i| {
            let flag = flag.clone();
            async move {
                while !flag.load(Ordering::SeqCst) {
                    wrangle_rt::yield_now().await;
                }
                Ok::<_, ()>(i)
            }
        });
        assert_eq!(ConcurrentInline::new(jobs).count().await, 8);
        setter.await.unwrap();
    });
}

#[test]
fn stop_policy_drops_in_flight_futures_and_ends() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let jobs = (0..6).map(|i| {
            let (rt, guard) = (rt.clone(), drops.guard());
            async move {
                let _guard = guard;
                rt.sleep(ms(1)).await;
                if i == 0 {
                    return Err("first failed");
                }
                std::future::pending::<()>().await;
                Ok(i)
            }
        });
        let mut s = ConcurrentInline::new(jobs).limit(Limit::try_from(3).unwrap());
        assert!(matches!(
            s.next().await,
            Some(Err(ConcurrentError::Failed("first failed")))
        ));
        assert_eq!(drops.count(), 3);
        assert!(s.next().await.is_none());
        assert_eq!(s.stats().cancelled, 2);
    });
}

#[test]
fn panic_is_an_error_item_and_the_runner_goes_on() {
    each_runtime(|_rt| async move {
        let jobs = (0..3).map(|i| async move {
            if i == 1 {
                panic!("inline boom");
            }
            Ok::<_, ()>(i)
        });
        let items: Vec<_> = ConcurrentInline::new(jobs)
            .error_policy(ErrorPolicy::Yield)
            .collect()
            .await;
        assert_eq!(items.len(), 3);
        let messages: Vec<_> = items
            .iter()
            .filter_map(|r| match r {
                Err(ConcurrentError::Panicked(p)) => p.message(),
                _ => None,
            })
            .collect();
        assert_eq!(messages, ["inline boom"]);
    });
}

#[test]
fn input_stream_error_ends_at_once() {
    each_runtime(|_rt| async move {
        let input = stream::iter([Ok(1), Err("bad input"), Ok(3)])
            .map(|r| r.map(|i| async move { Ok::<_, &str>(i) }));
        let items: Vec<_> = ConcurrentInline::from_try_stream(input)
            .error_policy(ErrorPolicy::Yield)
            .collect()
            .await;
        // The input error is yielded right away, before the pending first future's output.
        assert!(matches!(
            items[..],
            [Err(ConcurrentError::Input("bad input"))]
        ));
    });
}

#[test]
fn dropping_the_stream_drops_every_future_once() {
    each_runtime(|_rt| async move {
        let drops = Drops::default();
        let polls = Rc::new(Cell::new(0));
        let jobs = (0..4).map(|_| {
            let (guard, polls) = (drops.guard(), polls.clone());
            async move {
                let _guard = guard;
                polls.set(polls.get() + 1);
                std::future::pending::<()>().await;
                Ok::<(), ()>(())
            }
        });
        let mut s = ConcurrentInline::new(jobs).limit(Limit::Unlimited);
        assert!(poll_once(s.next()).await.is_none());
        assert_eq!(polls.get(), 4);
        drop(s);
        assert_eq!(drops.count(), 4);
    });
}

#[test]
fn stream_source_is_consumed_lazily() {
    each_runtime(|rt| async move {
        let jobs = stream::iter(0..10).map(|i| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms(1)).await;
                Ok::<_, ()>(i)
            }
        });
        let mut out: Vec<_> = ConcurrentInline::from_stream(jobs)
            .limit(Limit::try_from(2).unwrap())
            .map(Result::unwrap)
            .collect()
            .await;
        out.sort_unstable();
        assert_eq!(out, (0..10).collect::<Vec<_>>());
    });
}

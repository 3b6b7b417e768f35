//! The invariant of `ConcurrentStats` (`started == completed + failed + cancelled + running`)
//! holds after every item, under both error policies, for `Concurrent` and `ConcurrentInline`.

mod common;

use common::ms;
use futures_lite::StreamExt;
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;
use wrangle_task::{Concurrent, ConcurrentInline, ConcurrentStats, ErrorPolicy, Limit};

type Job = std::pin::Pin<Box<dyn Future<Output = Result<u8, u8>> + Send>>;

fn holds(s: ConcurrentStats) -> bool {
    s.started == s.completed + s.failed + s.cancelled + s.running as u64
}

#[test]
fn yield_policy_counts_every_future_once() {
    each_runtime(|rt| async move {
        let jobs = (0..6u64).map(|i| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms(i + 1)).await;
                if i % 3 == 0 { Err(i) } else { Ok(i) }
            }
        });
        let mut s = Concurrent::with_runtime(rt.clone(), jobs)
            .limit(Limit::try_from(2).unwrap())
            .error_policy(ErrorPolicy::Yield);
        assert!(holds(s.stats()));
        while s.next().await.is_some() {
            let stats = s.stats();
            assert!(holds(stats), "{stats:?}");
            assert!(stats.running <= 2, "{stats:?}");
        }
        let stats = s.stats();
        assert_eq!(
            (
                stats.started,
                stats.completed,
                stats.failed,
                stats.cancelled,
                stats.running
            ),
            (6, 4, 2, 0, 0)
        );
    });
}

#[test]
fn stop_policy_counts_the_cancelled_futures() {
    each_runtime(|rt| async move {
        let rt2 = rt.clone();
        let jobs: Vec<Job> = vec![
            Box::pin(async { Ok(1) }),
            Box::pin(async move {
                rt2.sleep(ms(2)).await;
                Err(2)
            }),
            Box::pin(std::future::pending()),
            Box::pin(std::future::pending()),
        ];
        let mut s = Concurrent::with_runtime(rt.clone(), jobs);
        let mut items = Vec::new();
        while let Some(item) = s.next().await {
            assert!(holds(s.stats()), "{:?}", s.stats());
            items.push(item.map_err(|e| e.into_failed()));
        }
        let stats = s.stats();
        assert!(holds(stats), "{stats:?}");
        assert_eq!((stats.started, stats.failed, stats.running), (4, 1, 0));
        assert_eq!(items.last(), Some(&Err(Some(2))));
        if rt.is_virtual() {
            // Exact on virtual time: the first job ended before the error 2 ms later.
            assert_eq!(items, [Ok(1), Err(Some(2))]);
            assert_eq!((stats.completed, stats.cancelled), (1, 2));
        } else {
            // A loaded real runtime may not have run the first job before the error: it is
            // then cancelled, never lost from the counts.
            assert_eq!(stats.completed + stats.cancelled, 3);
            assert_eq!(items.len() as u64, stats.completed + 1);
        }
    });
}

#[test]
fn inline_runner_keeps_the_same_invariant() {
    each_runtime(|rt| async move {
        let jobs = (0..5u64).map(|i| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms(5 - i)).await;
                if i == 2 { Err(i) } else { Ok(i) }
            }
        });
        let mut s = ConcurrentInline::new(jobs)
            .limit(Limit::try_from(3).unwrap())
            .error_policy(ErrorPolicy::Yield);
        while s.next().await.is_some() {
            let stats = s.stats();
            assert!(holds(stats), "{stats:?}");
        }
        let stats = s.stats();
        assert_eq!(
            (
                stats.started,
                stats.completed,
                stats.failed,
                stats.cancelled,
                stats.running
            ),
            (5, 4, 1, 0, 0)
        );
    });
}

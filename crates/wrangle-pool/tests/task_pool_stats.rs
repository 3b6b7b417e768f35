//! `TaskPoolStats`: the invariant `submitted == queued + running + completed + failed +
//! timed_out + cancelled` on every runtime, and exact snapshots on virtual time.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use wrangle_pool::TaskPool;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{ErrorReporter, Runtime, Unhandled, yield_now};

mod common;
use common::{assert_accounted, stuck_task};

const MS: Duration = Duration::from_millis(1);

#[test]
fn every_task_is_counted_once_whatever_its_end() {
    each_runtime(|rt| async move {
        let pool = TaskPool::builder()
            .size(NonZeroUsize::new(2).unwrap())
            .timeout(50 * MS)
            .error_reporter(ErrorReporter::new(|_: Unhandled| {}))
            .runtime(rt.clone())
            .build();
        let dropped = Arc::new(AtomicUsize::new(0));
        // 4 complete (one of them detached), 2 panic, 1 times out (an hour is past any
        // timeout), 1 is cancelled while queued, and 1 is cancelled while it runs (or, on a
        // real runtime loaded past the timeout before the cancel, times out: the stats must
        // say what its handle said).
        let mut handles = Vec::new();
        for i in 0..3 {
            handles.push(pool.spawn(async move { i }).unwrap());
        }
        pool.spawn_detached(async {}).unwrap();
        let panics: Vec<_> = (0..2)
            .map(|_| pool.spawn(async { panic!("boom") }).unwrap())
            .collect();
        let late = pool
            .spawn({
                let rt = rt.clone();
                async move { rt.sleep(Duration::from_secs(3600)).await }
            })
            .unwrap();
        let running = pool.spawn(stuck_task(&dropped)).unwrap();
        let queued = pool.spawn(stuck_task(&dropped)).unwrap();
        if rt.is_virtual() {
            // One thread: no worker is between a pop and a first poll while this runs. On a
            // multi-threaded runtime workers run meanwhile, and the invariant holds at rest.
            assert_accounted(&pool.stats());
        }
        let queued = queued.cancel();
        for h in handles {
            h.await.unwrap();
        }
        for h in panics {
            assert!(h.await.unwrap_err().is_panic());
        }
        // `late` and `running` hold both workers; on virtual time no time has passed yet.
        while !running.is_finished() && pool.stats().running < 2 {
            yield_now().await;
        }
        let running = running.cancel().await.unwrap_err();
        assert!(running.is_cancelled() || running.is_timeout(), "{running}");
        if rt.is_virtual() {
            assert!(running.is_cancelled(), "no time passed: {running}");
        }
        assert!(late.await.unwrap_err().is_timeout());
        // Queued behind the two, it is cancelled before it could start.
        assert!(queued.await.unwrap_err().is_cancelled());
        pool.shutdown().await;
        let s = pool.stats();
        let ran_out = u64::from(running.is_timeout());
        assert_eq!(
            (s.submitted, s.completed, s.failed, s.timed_out, s.cancelled),
            (9, 4, 2, 1 + ran_out, 2 - ran_out),
            "{s:?}"
        );
        assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!((s.running, s.queued), (0, 0));
        assert_accounted(&s);
    });
}

#[test]
fn snapshots_on_virtual_time_are_exact_while_tasks_run() {
    virtual_time(|rt| async move {
        // Size 2, five 10 ms tasks: they run in pairs at 0, 10 and 20 ms.
        let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::new(2).unwrap());
        let start = rt.now();
        let handles: Vec<_> = (0..5)
            .map(|_| {
                let rt = rt.clone();
                pool.spawn(async move { rt.sleep(10 * MS).await }).unwrap()
            })
            .collect();
        let snap = |pool: &TaskPool<_>| {
            let s = pool.stats();
            assert_accounted(&s);
            (s.running, s.queued, s.completed)
        };
        // Every runnable task runs before virtual time moves: both workers have started.
        rt.sleep(MS).await;
        assert_eq!(snap(&pool), (2, 3, 0));
        rt.sleep(10 * MS).await; // 11 ms
        assert_eq!(snap(&pool), (2, 1, 2));
        rt.sleep(10 * MS).await; // 21 ms
        assert_eq!(snap(&pool), (1, 0, 4));
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(rt.now() - start, 30 * MS);
        assert_eq!(snap(&pool), (0, 0, 5));
        assert_eq!(pool.stats().submitted, 5);
    });
}

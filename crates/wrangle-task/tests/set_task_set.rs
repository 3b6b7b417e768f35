//! Behaviour of `TaskSet`, with tokio's `tests/task_join_set.rs` rewritten onto every runtime
//! (the tests that need `LocalSet`, `spawn_local` or tokio's coop budget have no counterpart:
//! wrangle's tasks are `Send`, and `try_join_next` looks at every task that woke).

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Drops, eventually, ms};
use futures_lite::future::poll_once;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, JoinError, Runtime};
use wrangle_task::{TaskSet, TaskSetStats};

fn holds(s: TaskSetStats) -> bool {
    s.started == s.completed + s.failed + s.cancelled + s.detached + s.running as u64
}

/// A task that sleeps `d` ms and returns `v`.
fn sleeper<R: Runtime>(rt: &R, d: u64, v: usize) -> impl Future<Output = usize> + Send + 'static {
    let rt = rt.clone();
    async move {
        rt.sleep(ms(d)).await;
        v
    }
}

/// Joins until the set is empty; panics on a task error.
async fn drain_all<R: Runtime>(set: &mut TaskSet<usize, R>) -> Vec<usize> {
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("task failed"));
    }
    out
}

#[test]
fn spawn_detach_and_spawn_again_in_completion_order() {
    // tokio: test_with_sleep.
    each_runtime(|rt| async move {
        let mut set = TaskSet::with_runtime(rt.clone());
        for i in 0..10 {
            set.spawn(sleeper(&rt, i as u64, i));
            assert_eq!(set.len(), 1 + i);
        }
        set.detach_all();
        assert_eq!(set.len(), 0);
        assert!(set.join_next().await.is_none());

        for round in 0..2 {
            let start = rt.now();
            for i in 0..10 {
                set.spawn(sleeper(&rt, i as u64, i));
                assert_eq!(set.len(), 1 + i);
            }
            let mut seen = drain_all(&mut set).await;
            if rt.is_virtual() {
                // Completion order, exactly, and the longest task decides the time.
                assert_eq!(seen, (0..10).collect::<Vec<_>>(), "round {round}");
                assert_eq!(rt.now() - start, ms(9));
            }
            seen.sort_unstable();
            assert_eq!(seen, (0..10).collect::<Vec<_>>());
            assert!(set.join_next().await.is_none());
        }
        let s = set.stats();
        assert_eq!(
            (s.started, s.completed, s.detached, s.running),
            (30, 20, 10, 0)
        );
    });
}

#[test]
fn dropping_the_set_cancels_every_task() {
    // tokio: test_abort_on_drop.
    each_runtime(|rt| async move {
        let mut set = TaskSet::with_runtime(rt.clone());
        let drops = Drops::default();
        let mut receivers = Vec::new();
        for _ in 0..16 {
            let (tx, rx) = async_channel::bounded::<()>(1);
            receivers.push(rx);
            let guard = drops.guard();
            set.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                drop(tx);
            });
        }
        drop(set);
        for rx in receivers {
            // The sender goes with the task's future.
            assert!(rx.recv().await.is_err());
        }
        // Each future dropped exactly once.
        assert_eq!(drops.count(), 16);
    });
}

#[test]
fn alternating_spawn_and_join() {
    // tokio: alternating.
    each_runtime(|rt| async move {
        let mut set = TaskSet::with_runtime(rt.clone());
        assert_eq!(set.len(), 0);
        set.spawn(async {});
        set.spawn(async {});
        assert_eq!(set.len(), 2);
        for _ in 0..16 {
            set.join_next().await.unwrap().unwrap();
            assert_eq!(set.len(), 1);
            set.spawn(async {});
            assert_eq!(set.len(), 2);
        }
    });
}

#[test]
fn abort_by_id_cancels_only_that_task() {
    // tokio: abort_tasks (an id instead of an AbortHandle).
    each_runtime(|rt| async move {
        let mut set = TaskSet::with_runtime(rt.clone());
        for i in 0..16 {
            // Odd tasks never end on their own, so their abort always wins.
            let id = if i % 2 == 0 {
                set.spawn(sleeper(&rt, i as u64, i))
            } else {
                set.spawn(std::future::pending())
            };
            if i % 2 != 0 {
                assert!(set.abort(id));
            }
        }
        let (mut cancelled, mut completed) = (0, 0);
        while let Some(out) = set.join_next().await {
            match out {
                Ok(v) => {
                    assert_eq!(v % 2, 0);
                    completed += 1;
                }
                Err(e) => {
                    assert!(e.is_cancelled());
                    cancelled += 1;
                }
            }
        }
        assert_eq!((cancelled, completed), (8, 8));
        let s = set.stats();
        assert_eq!((s.cancelled, s.completed), (8, 8));
    });
}

#[test]
fn abort_of_an_unknown_joined_or_finished_task_returns_false() {
    each_runtime(|rt| async move {
        let mut set = TaskSet::with_runtime(rt.clone());
        let done = set.spawn(async { 1 });
        let mut other = TaskSet::with_runtime(rt.clone());
        other.spawn(async { 2 });
        let pending = other.spawn(std::future::pending());
        // `pending` is id 1 of `other`: this set has no id 1.
        assert!(!set.abort(pending));
        assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
        assert!(!set.abort(done));
        assert!(other.abort(pending));
        if rt.is_virtual() {
            // Ended but not joined yet: nothing left to abort, and the output is kept.
            let quick = set.spawn(async { 3 });
            rt.sleep(ms(1)).await;
            assert!(!set.abort(quick));
            assert_eq!(set.join_next().await.unwrap().unwrap(), 3);
        }
    });
}

#[test]
fn shutdown_collects_every_output() {
    // tokio: join_all.
    each_runtime(|rt| async move {
        let mut set: TaskSet<i32, _> = TaskSet::with_runtime(rt.clone());
        for _ in 0..5 {
            set.spawn(async { 1 });
        }
        let res = set.shutdown().await;
        assert_eq!(res.len(), 5);
        assert!(res.into_iter().all(|r| r.unwrap() == 1));
        assert!(set.is_empty());
        // Usable again.
        set.spawn(async { 2 });
        assert_eq!(set.join_next().await.unwrap().unwrap(), 2);
    });
}

#[test]
fn a_panic_is_returned_as_its_payload_and_the_others_go_on() {
    // tokio: task_panics (join_all there resumes the panic and aborts the rest).
    each_runtime(|rt| async move {
        let mut set: TaskSet<(), _> = TaskSet::with_runtime(rt.clone());
        let (tx, rx) = async_channel::bounded(1);
        let rt2 = rt.clone();
        set.spawn(async move {
            rt2.sleep(ms(2)).await;
            tx.send(()).await.unwrap();
        });
        let rt3 = rt.clone();
        let boom = true;
        set.spawn(async move {
            rt3.sleep(ms(1)).await;
            if boom {
                panic!("task 2 panicked");
            }
        });
        let outs = set.shutdown().await;
        let panics: Vec<_> = outs
            .into_iter()
            .filter_map(|o| o.err())
            .map(|e| e.into_panic().unwrap())
            .collect();
        assert_eq!(panics.len(), 1);
        assert_eq!(panics[0].message(), Some("task 2 panicked"));
        // The sibling ran to the end.
        assert!(rx.try_recv().is_ok());
        let s = set.stats();
        assert_eq!((s.completed, s.failed), (1, 1));
        assert!(holds(s));
    });
}

#[test]
fn abort_all_leaves_tasks_in_the_set_until_joined() {
    // tokio: abort_all.
    each_runtime(|rt| async move {
        let mut set: TaskSet<(), _> = TaskSet::with_runtime(rt.clone());
        for _ in 0..5 {
            set.spawn(std::future::pending());
        }
        let finished = Arc::new(AtomicUsize::new(0));
        for _ in 0..5 {
            let (rt, finished) = (rt.clone(), finished.clone());
            set.spawn(async move {
                rt.sleep(ms(1)).await;
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        eventually(&rt, || finished.load(Ordering::SeqCst) == 5).await;
        set.abort_all();
        assert_eq!(set.len(), 10);
        let (mut count, mut cancelled) = (0, 0);
        while let Some(res) = set.join_next().await {
            if let Err(e) = res {
                assert!(e.is_cancelled());
                cancelled += 1;
            }
            count += 1;
        }
        assert_eq!(count, 10);
        // The pending five for sure; a task that had returned but not quite ended on another
        // thread may be cancelled too on a real runtime.
        assert!(cancelled >= 5);
        if rt.is_virtual() {
            assert_eq!(cancelled, 5);
        }
        assert_eq!(set.len(), 0);
        assert!(holds(set.stats()));
    });
}

#[test]
fn try_join_next_sees_every_finished_task_past_one_poll_budget() {
    // tokio: join_set_coop and try_join_next, with 1000 tasks (more than one poll budget).
    const N: usize = 1000;
    each_runtime(|rt| async move {
        let (tx, rx) = async_channel::bounded::<()>(1);
        let mut set = TaskSet::with_runtime(rt.clone());
        let mut spawned = HashSet::new();
        for _ in 0..N {
            let rx = rx.clone();
            spawned.insert(set.spawn(async move {
                let _ = rx.recv().await;
            }));
        }
        drop(rx);
        assert!(set.try_join_next().is_none());
        // Closing the channel releases every task.
        drop(tx);
        let mut joined = HashSet::new();
        if rt.is_virtual() {
            // One thread: after a sleep every task has ended, and one try loop gets them all.
            rt.sleep(ms(1)).await;
            while let Some((id, out)) = set.try_join_next_with_id() {
                out.unwrap();
                joined.insert(id);
            }
        } else {
            let rt2 = rt.clone();
            let r = rt
                .timeout(std::time::Duration::from_secs(60), async {
                    while joined.len() < N {
                        match set.try_join_next_with_id() {
                            Some((id, out)) => {
                                out.unwrap();
                                joined.insert(id);
                            }
                            None => rt2.sleep(ms(1)).await,
                        }
                    }
                })
                .await;
            assert!(r.is_ok(), "not every task was joined");
        }
        assert_eq!(joined, spawned);
        assert!(set.is_empty());
    });
}

#[test]
fn extend_and_collect_spawn_every_future() {
    // tokio: extend.
    each_runtime(|rt| async move {
        // Inside the runtime, `collect` spawns on `DefaultRuntime::current()`.
        let _ = &rt;
        let mut set: TaskSet<usize> = (0..5).map(|i| async move { i }).collect();
        set.extend((5..10).map(|i| async move { i }));
        let mut seen = drain_all(&mut set).await;
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    });
}

#[test]
fn spawning_while_draining_keeps_the_drain_going() {
    each_runtime(|rt| async move {
        let mut set = TaskSet::with_runtime(rt.clone());
        set.spawn(sleeper(&rt, 1, 3));
        let mut seen = Vec::new();
        // Each task's output says how many more generations to spawn.
        while let Some(left) = set.join_next().await {
            let left = left.unwrap();
            seen.push(left);
            if left > 0 {
                set.spawn(sleeper(&rt, 1, left - 1));
                set.spawn(sleeper(&rt, 2, 0));
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 0, 0, 0, 1, 2, 3]);
        assert_eq!(set.stats().started, 7);
    });
}

#[test]
fn cancel_waits_until_every_future_is_dropped_and_keeps_finished_outputs() {
    each_runtime(|rt| async move {
        let mut set = TaskSet::with_runtime(rt.clone());
        let drops = Drops::default();
        set.spawn(async { Some(7) });
        // Let it finish before the cancel (for sure on virtual time): its output is kept.
        rt.sleep(ms(1)).await;
        for _ in 0..8 {
            let guard = drops.guard();
            set.spawn(async move {
                let _guard = guard;
                std::future::pending::<Option<u32>>().await
            });
        }
        let outs = set.cancel().await;
        // Gone when `cancel` returns, on every runtime: no waiting for another thread.
        assert_eq!(drops.count(), 8);
        assert_eq!(outs.len(), 9);
        let kept = outs.iter().filter(|o| matches!(o, Ok(Some(7)))).count();
        let cancelled = outs
            .iter()
            .filter(|o| matches!(o, Err(JoinError::Cancelled)))
            .count();
        // On a real runtime the quick task may still be ending on another thread when the
        // cancel comes; then it is cancelled too.
        assert_eq!(kept + cancelled, 9);
        if rt.is_virtual() {
            assert_eq!((kept, cancelled), (1, 8));
        }
        assert!(set.is_empty());
        let s = set.stats();
        assert_eq!((s.started, s.completed + s.cancelled, s.running), (9, 9, 0));
    });
}

#[test]
fn shutdown_timeout_cancels_what_is_left_at_the_deadline() {
    virtual_time(|rt| async move {
        let mut set = TaskSet::with_runtime(rt.clone());
        let drops = Drops::default();
        for d in [5, 10, 1_000, 2_000] {
            let (rt, guard) = (rt.clone(), drops.guard());
            set.spawn(async move {
                let _guard = guard;
                rt.sleep(ms(d)).await;
                d
            });
        }
        let start = rt.now();
        let outs = set.shutdown_timeout(ms(20)).await;
        assert_eq!(rt.now() - start, ms(20));
        assert_eq!(drops.count(), 4);
        let ok: Vec<_> = outs
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .copied()
            .collect();
        assert_eq!(ok, [5, 10]);
        assert_eq!(outs.len(), 4);
    });
}

#[test]
fn shutdown_timeout_of_duration_max_means_no_limit() {
    virtual_time(|rt| async move {
        let mut set = TaskSet::with_runtime(rt.clone());
        set.spawn(sleeper(&rt, 3_600_000, 1));
        let start = rt.now();
        let outs = set.shutdown_timeout(std::time::Duration::MAX).await;
        assert_eq!(outs.len(), 1);
        assert_eq!(*outs[0].as_ref().unwrap(), 1);
        assert_eq!(rt.now() - start, ms(3_600_000));
    });
}

#[test]
fn join_next_polled_then_dropped_loses_no_output() {
    // R5: poll k times, then drop.
    each_runtime(|rt| async move {
        for k in 0..4 {
            let mut set = TaskSet::with_runtime(rt.clone());
            for i in 0..3 {
                set.spawn(sleeper(&rt, i, i as usize));
            }
            let mut got = Vec::new();
            for _ in 0..k {
                let mut next = set.join_next();
                if let Some(Some(out)) = poll_once(&mut next).await {
                    got.push(out.unwrap());
                }
                drop(next);
                rt.sleep(ms(1)).await;
            }
            got.extend(drain_all(&mut set).await);
            got.sort_unstable();
            assert_eq!(got, [0, 1, 2], "k = {k}");
            assert!(holds(set.stats()));
        }
    });
}

#[test]
fn a_dropped_shutdown_leaves_the_tasks_not_joined_in_the_set() {
    // R5 for `shutdown` and `cancel`.
    each_runtime(|rt| async move {
        let mut set = TaskSet::with_runtime(rt.clone());
        for _ in 0..3 {
            set.spawn(std::future::pending::<()>());
        }
        for k in 0..3 {
            let mut shutdown = set.shutdown();
            for _ in 0..k {
                assert!(poll_once(&mut shutdown).await.is_none());
            }
            drop(shutdown);
            assert_eq!(set.len(), 3);
        }
        // A dropped `cancel` has made its request: the tasks come out cancelled.
        drop(set.cancel());
        assert_eq!(set.len(), 3);
        while let Some(out) = set.join_next().await {
            assert!(out.unwrap_err().is_cancelled());
        }
    });
}

#[test]
fn stats_invariant_holds_through_every_outcome() {
    each_runtime(|rt| async move {
        let mut set: TaskSet<u32, DefaultRuntime> = TaskSet::with_runtime(rt.clone());
        assert!(holds(set.stats()));
        set.spawn(async { 1 });
        let boom = true;
        set.spawn(async move {
            if boom {
                panic!("boom");
            }
            2
        });
        let stuck = set.spawn(std::future::pending());
        set.spawn(std::future::pending());
        assert!(holds(set.stats()));
        set.abort(stuck);
        for _ in 0..3 {
            set.join_next().await.unwrap().ok();
            assert!(holds(set.stats()));
        }
        set.detach_all();
        let s = set.stats();
        assert!(holds(s), "{s:?}");
        assert_eq!(
            (
                s.started,
                s.completed,
                s.failed,
                s.cancelled,
                s.detached,
                s.running
            ),
            (4, 1, 1, 1, 1, 0)
        );
    });
}

#[test]
fn tasks_of_a_runtime_that_shut_down_come_out_cancelled() {
    // tokio: runtime_gone (a virtual runtime's `abort` drops every task it holds).
    let gone = wrangle_rt::VirtualRuntime::new();
    let mut set = TaskSet::with_runtime(gone.clone());
    set.spawn(async { 1 });
    set.spawn(std::future::pending());
    gone.abort();
    let other = wrangle_rt::VirtualRuntime::new();
    let outs = other.block_on(set.shutdown());
    assert_eq!(outs.len(), 2);
    assert!(outs.iter().all(|o| o.as_ref().unwrap_err().is_cancelled()));
    let s = set.stats();
    assert_eq!((s.started, s.cancelled, s.running), (2, 2, 0));
}

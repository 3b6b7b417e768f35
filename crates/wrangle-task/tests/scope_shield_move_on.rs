//! Scope-level shielding with a deadline (aiotools' `TaskScope(shield=True)`) and
//! `move_on_after` (seed 3.3).

mod common;

use std::sync::{Arc, Mutex};

use common::{Drops, Log, eventually, ms};
use futures_lite::future::poll_once;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{CancellationToken, Runtime};
use wrangle_task::{ScopeError, TaskScope};

#[test]
fn a_parent_cancel_reaches_a_shielded_scope_only_after_the_limit() {
    virtual_time(|rt| async move {
        let parent = CancellationToken::new();
        let start = rt.now();
        let (p, rt2) = (parent.clone(), rt.clone());
        rt.spawn(async move {
            rt2.sleep(ms(10)).await;
            p.cancel();
        })
        .detach();
        let rt3 = rt.clone();
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        let r = TaskScope::with_runtime(rt.clone())
            .parent_token(&parent)
            .shield(ms(50))
            .run(move |scope| async move {
                // Would take 100 ms; the parent's cancel arrives at 10 ms, held back 50 ms.
                let rt4 = rt3.clone();
                scope
                    .spawn(async move { rt4.sleep(ms(100)).await })
                    .unwrap();
                scope
                    .spawn_with_token(move |token| async move {
                        token.cancelled().await;
                        *s.lock().unwrap() = Some(rt3.now());
                    })
                    .unwrap();
                Ok::<_, std::io::Error>(scope)
            })
            .await;
        let scope = r.unwrap();
        assert_eq!(rt.now() - start, ms(60));
        assert_eq!(seen.lock().unwrap().map(|t| t - start), Some(ms(60)));
        let stats = scope.stats();
        assert_eq!((stats.started, stats.completed, stats.cancelled), (2, 1, 1));
    });
}

#[test]
fn a_shielded_scope_that_ends_before_the_limit_never_sees_the_cancel() {
    each_runtime(|rt| async move {
        let parent = CancellationToken::new();
        parent.cancel();
        let rt2 = rt.clone();
        let r = TaskScope::with_runtime(rt.clone())
            .parent_token(&parent)
            .shield(std::time::Duration::MAX)
            .run(move |scope| async move {
                let h = scope
                    .spawn_with_handle(async move {
                        rt2.sleep(ms(5)).await;
                        Ok::<_, std::io::Error>(7)
                    })
                    .unwrap();
                let v = h.await.unwrap()?;
                Ok::<_, std::io::Error>((v, scope.token().is_cancelled()))
            })
            .await;
        assert_eq!(r.unwrap(), (7, false));
    });
}

#[test]
fn without_a_shield_the_parent_cancel_is_immediate() {
    virtual_time(|rt| async move {
        let parent = CancellationToken::new();
        parent.cancel();
        let start = rt.now();
        let rt2 = rt.clone();
        let r = TaskScope::with_runtime(rt.clone())
            .parent_token(&parent)
            .run(move |scope| async move {
                scope
                    .spawn(async move { rt2.sleep(ms(100)).await })
                    .unwrap();
                Ok::<_, std::io::Error>(scope.token().is_cancelled())
            })
            .await;
        assert!(r.unwrap());
        assert_eq!(rt.now(), start);
    });
}

#[test]
fn the_intrinsic_timeout_is_enforced_even_when_shielded() {
    virtual_time(|rt| async move {
        let parent = CancellationToken::new();
        let start = rt.now();
        let r = TaskScope::with_runtime(rt.clone())
            .parent_token(&parent)
            .shield(ms(1_000))
            .timeout(ms(25))
            .run(|scope| async move {
                scope.spawn(std::future::pending::<()>()).unwrap();
                std::future::pending::<()>().await;
                Ok::<_, std::io::Error>(())
            })
            .await;
        assert!(matches!(r, Err(ScopeError::TimedOut)));
        assert_eq!(rt.now() - start, ms(25));
    });
}

#[test]
fn children_of_a_dropped_shielded_scope_run_on_until_the_limit() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let drops = Drops::default();
        let start = rt.now();
        let (rt2, l, d) = (rt.clone(), log.clone(), drops.clone());
        let mut run =
            TaskScope::with_runtime(rt.clone())
                .shield(ms(50))
                .run(move |scope| async move {
                    let (rt3, l2) = (rt2.clone(), l.clone());
                    scope
                        .spawn(async move {
                            rt3.sleep(ms(20)).await;
                            l2.push("saved");
                        })
                        .unwrap();
                    let guard = d.guard();
                    let l3 = l.clone();
                    scope
                        .spawn_with_token(move |token| async move {
                            let _guard = guard;
                            token.cancelled().await;
                            l3.push(format!("asked to stop at {:?}", rt2.now() - start));
                        })
                        .unwrap();
                    std::future::pending::<()>().await;
                    Ok::<_, std::io::Error>(())
                });
        assert!(poll_once(&mut run).await.is_none());
        rt.sleep(ms(5)).await;
        drop(run); // the caller was cancelled at 5 ms
        rt.sleep(ms(100)).await;
        assert_eq!(log.get(), ["saved", "asked to stop at 55ms"]);
        assert_eq!(drops.count(), 1);
    });
}

#[test]
fn a_dropped_shielded_scope_drops_children_that_ignore_the_stop_after_the_grace() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let d = drops.clone();
        let mut run = TaskScope::with_runtime(rt.clone())
            .shield(ms(5))
            .grace(ms(5))
            .run(move |scope| async move {
                let guard = d.guard();
                scope
                    .spawn_with_token(move |_ignores_it| async move {
                        let _guard = guard;
                        std::future::pending::<()>().await
                    })
                    .unwrap();
                std::future::pending::<()>().await;
                Ok::<_, std::io::Error>(())
            });
        assert!(poll_once(&mut run).await.is_none());
        drop(run);
        assert_eq!(drops.count(), 0, "shielded: not dropped with the scope");
        eventually(&rt, || drops.count() == 1).await;
    });
}

#[test]
fn a_dropped_unshielded_scope_cancels_its_children_at_once() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let d = drops.clone();
        let mut run = TaskScope::with_runtime(rt.clone()).run(move |scope| async move {
            let guard = d.guard();
            scope
                .spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                })
                .unwrap();
            std::future::pending::<()>().await;
            Ok::<_, std::io::Error>(())
        });
        assert!(poll_once(&mut run).await.is_none());
        drop(run);
        eventually(&rt, || drops.count() == 1).await;
    });
}

#[test]
fn move_on_after_ends_the_scope_quietly() {
    // After seed 3.3: children end at 0.1/0.2/0.3 s; the body logs 4 at 0.23 s and 5 at
    // 0.26 s; move_on_after(0.25) -> no error, 5 and 3 never logged, one child cancelled.
    virtual_time(|rt| async move {
        let log = Log::default();
        let (rt2, l) = (rt.clone(), log.clone());
        let kept = Arc::new(Mutex::new(None));
        let k = kept.clone();
        let start = rt.now();
        let r = TaskScope::with_runtime(rt.clone())
            .move_on_after(ms(250), move |scope| async move {
                *k.lock().unwrap() = Some(scope.clone());
                for (i, d) in [(1, 100), (2, 200), (3, 300)] {
                    let (rt, l) = (rt2.clone(), l.clone());
                    scope
                        .spawn(async move {
                            rt.sleep(ms(d)).await;
                            l.push(i.to_string());
                        })
                        .unwrap();
                }
                rt2.sleep(ms(230)).await;
                l.push("4");
                rt2.sleep(ms(30)).await;
                l.push("5");
                Ok::<_, std::io::Error>("body done")
            })
            .await;
        assert!(r.unwrap().is_none());
        assert_eq!(log.get(), ["1", "2", "4"]);
        assert_eq!(rt.now() - start, ms(250));
        let stats = kept.lock().unwrap().take().unwrap().stats();
        assert_eq!((stats.completed, stats.cancelled), (2, 1));
    });
}

#[test]
fn move_on_after_gives_the_output_when_the_body_finishes_first() {
    each_runtime(|rt| async move {
        let r = TaskScope::with_runtime(rt.clone())
            .move_on_after(ms(60_000), |_| async { Ok::<_, std::io::Error>(3) })
            .await;
        assert_eq!(r.unwrap(), Some(3));
        let r = TaskScope::with_runtime(rt.clone())
            .move_on_after(ms(60_000), |_| async { Err::<(), _>("failed") })
            .await;
        assert!(matches!(r, Err(ScopeError::Body("failed"))));
    });
}

#[test]
fn a_shorter_timeout_still_times_out_and_duration_max_means_no_deadline() {
    virtual_time(|rt| async move {
        let start = rt.now();
        let r = TaskScope::with_runtime(rt.clone())
            .timeout(ms(10))
            .move_on_after(ms(20), |_| async {
                std::future::pending::<()>().await;
                Ok::<_, std::io::Error>(())
            })
            .await;
        assert!(matches!(r, Err(ScopeError::TimedOut)));
        assert_eq!(rt.now() - start, ms(10));
        // The move-on deadline is the earlier one: quiet.
        let r = TaskScope::with_runtime(rt.clone())
            .timeout(ms(20))
            .move_on_after(ms(10), |_| async {
                std::future::pending::<()>().await;
                Ok::<_, std::io::Error>(())
            })
            .await;
        assert!(r.unwrap().is_none());
        let rt2 = rt.clone();
        let r = TaskScope::with_runtime(rt.clone())
            .move_on_after(std::time::Duration::MAX, move |_| async move {
                rt2.sleep(ms(3_600_000)).await;
                Ok::<_, std::io::Error>(1)
            })
            .await;
        assert_eq!(r.unwrap(), Some(1));
    });
}

#[test]
fn a_dropped_move_on_after_cancels_its_children() {
    // R5: poll k times, then drop.
    each_runtime(|rt| async move {
        for k in 1..4 {
            let drops = Drops::default();
            let d = drops.clone();
            let mut run = TaskScope::with_runtime(rt.clone()).move_on_after(
                ms(60_000),
                move |scope| async move {
                    let guard = d.guard();
                    scope
                        .spawn(async move {
                            let _guard = guard;
                            std::future::pending::<()>().await
                        })
                        .unwrap();
                    std::future::pending::<()>().await;
                    Ok::<_, std::io::Error>(())
                },
            );
            for _ in 0..k {
                assert!(poll_once(&mut run).await.is_none());
            }
            drop(run);
            eventually(&rt, || drops.count() == 1).await;
        }
    });
}

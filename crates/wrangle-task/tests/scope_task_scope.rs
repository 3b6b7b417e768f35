//! Behaviour of `TaskScope`.

mod common;

use std::sync::{Arc, Mutex};

use common::{Drops, Log, eventually, ms};
use futures_lite::future::poll_once;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{CancellationToken, ErrorReporter, Runtime, Unhandled};
use wrangle_task::{ScopeError, TaskScope};

type Errors = Arc<Mutex<Vec<String>>>;

fn collecting() -> (Errors, impl Fn(Unhandled) + Send + Sync + 'static) {
    let errors = Errors::default();
    let sink = errors.clone();
    (errors, move |u: Unhandled| {
        sink.lock().unwrap().push(u.error().to_string())
    })
}

#[test]
fn child_error_goes_to_the_handler_and_siblings_and_body_keep_running() {
    virtual_time(|rt| async move {
        let (errors, handler) = collecting();
        let log = Log::default();
        let start = rt.now();
        let scope = TaskScope::with_runtime(rt.clone()).error_reporter(ErrorReporter::new(handler));
        let stats = scope
            .run(|scope| {
                let (rt, log) = (rt.clone(), log.clone());
                async move {
                    for (d, fail) in [(100, false), (200, true), (300, false)] {
                        let (rt, log) = (rt.clone(), log.clone());
                        scope
                            .spawn(async move {
                                rt.sleep(ms(d)).await;
                                if fail {
                                    return Err("child failed");
                                }
                                log.push(format!("child {d}"));
                                Ok(())
                            })
                            .unwrap();
                    }
                    rt.sleep(ms(50)).await;
                    log.push("body 50");
                    rt.sleep(ms(200)).await;
                    log.push("body 250");
                    Ok::<_, std::io::Error>(scope)
                }
            })
            .await
            .unwrap()
            .stats();
        assert_eq!(log.get(), ["body 50", "child 100", "body 250", "child 300"]);
        assert_eq!(*errors.lock().unwrap(), ["child failed"]);
        assert_eq!((stats.completed, stats.failed, stats.cancelled), (2, 1, 0));
        assert_eq!(rt.now() - start, ms(300));
    });
}

#[test]
fn body_error_cancels_children_and_waits_for_their_cleanup() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let start = rt.now();
        let r = TaskScope::with_runtime(rt.clone())
            .run(|scope| {
                let (rt, log) = (rt.clone(), log.clone());
                async move {
                    let (rt2, log2) = (rt.clone(), log.clone());
                    scope
                        .spawn_with_token(move |token| async move {
                            token.cancelled().await;
                            log2.push("cleanup start");
                            rt2.sleep(ms(50)).await;
                            log2.push("cleanup done");
                        })
                        .unwrap();
                    let log3 = log.clone();
                    scope
                        .spawn(async move {
                            let _never = std::future::pending::<()>().await;
                            log3.push("unreachable");
                        })
                        .unwrap();
                    rt.sleep(ms(10)).await;
                    Err::<(), _>("body failed")
                }
            })
            .await;
        assert!(matches!(r, Err(ScopeError::Body("body failed"))));
        assert_eq!(log.get(), ["cleanup start", "cleanup done"]);
        assert_eq!(rt.now() - start, ms(60));
    });
}

#[test]
fn leaving_waits_for_children_spawned_while_leaving() {
    virtual_time(|rt| async move {
        let start = rt.now();
        let done = Log::default();
        TaskScope::with_runtime(rt.clone())
            .run(|scope| {
                let (rt, done) = (rt.clone(), done.clone());
                async move {
                    let inner = scope.clone();
                    scope
                        .spawn(async move {
                            rt.sleep(ms(10)).await;
                            let rt2 = rt.clone();
                            inner
                                .spawn(async move {
                                    rt2.sleep(ms(20)).await;
                                    done.push("late child");
                                })
                                .unwrap();
                        })
                        .unwrap();
                    Ok::<_, std::io::Error>(())
                }
            })
            .await
            .unwrap();
        assert_eq!(done.get(), ["late child"]);
        assert_eq!(rt.now() - start, ms(30));
    });
}

#[test]
fn exit_timeout_requests_cancellation_then_waits_for_async_cleanup() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let start = rt.now();
        TaskScope::with_runtime(rt.clone())
            .exit_timeout(ms(100))
            .run(|scope| {
                let (rt, log) = (rt.clone(), log.clone());
                async move {
                    scope
                        .spawn_with_token(move |token| async move {
                            token.cancelled().await;
                            rt.sleep(ms(30)).await;
                            log.push("cleaned up");
                        })
                        .unwrap();
                    Ok::<_, std::io::Error>(())
                }
            })
            .await
            .unwrap();
        assert_eq!(log.get(), ["cleaned up"]);
        assert_eq!(rt.now() - start, ms(130));
    });
}

#[test]
fn zero_exit_timeout_cancels_at_once_rather_than_waiting_forever() {
    virtual_time(|rt| async move {
        let start = rt.now();
        TaskScope::with_runtime(rt.clone())
            .exit_timeout(ms(0))
            .run(|scope| async move {
                scope.spawn(std::future::pending::<()>()).unwrap();
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap();
        assert_eq!(rt.now(), start);
    });
}

#[test]
fn grace_drops_children_that_ignore_the_token() {
    virtual_time(|rt| async move {
        let drops = Drops::default();
        let start = rt.now();
        let stats = TaskScope::with_runtime(rt.clone())
            .exit_timeout(ms(10))
            .grace(ms(5))
            .run(|scope| {
                let guard = drops.guard();
                async move {
                    scope
                        .spawn_with_token(move |_token| async move {
                            let _guard = guard;
                            std::future::pending::<()>().await;
                        })
                        .unwrap();
                    Ok::<_, std::io::Error>(scope)
                }
            })
            .await
            .unwrap()
            .stats();
        assert_eq!(drops.count(), 1);
        assert_eq!(stats.cancelled, 1);
        assert_eq!(rt.now() - start, ms(15));
    });
}

#[test]
fn intrinsic_timeout_drops_body_cancels_children_and_reports_timed_out() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let start = rt.now();
        let scope_handle = Arc::new(Mutex::new(None));
        let r = TaskScope::with_runtime(rt.clone())
            .timeout(ms(250))
            .run(|scope| {
                let (rt, log) = (rt.clone(), log.clone());
                *scope_handle.lock().unwrap() = Some(scope.clone());
                async move {
                    for d in [100, 200, 300] {
                        let (rt, log) = (rt.clone(), log.clone());
                        scope
                            .spawn(async move {
                                rt.sleep(ms(d)).await;
                                log.push(format!("child {d}"));
                            })
                            .unwrap();
                    }
                    rt.sleep(ms(230)).await;
                    log.push("body 230");
                    rt.sleep(ms(30)).await;
                    log.push("body 260");
                    Ok::<_, std::io::Error>(())
                }
            })
            .await;
        assert!(matches!(r, Err(ScopeError::TimedOut)));
        assert_eq!(log.get(), ["child 100", "child 200", "body 230"]);
        let stats = scope_handle.lock().unwrap().as_ref().unwrap().stats();
        assert_eq!((stats.completed, stats.cancelled), (2, 1));
        assert_eq!(rt.now() - start, ms(250));
    });
}

#[test]
fn intrinsic_timeout_also_bounds_the_wait_for_children() {
    virtual_time(|rt| async move {
        let start = rt.now();
        let r = TaskScope::with_runtime(rt.clone())
            .timeout(ms(40))
            .run(|scope| async move {
                scope.spawn(std::future::pending::<()>()).unwrap();
                Ok::<_, std::io::Error>(())
            })
            .await;
        assert!(matches!(r, Err(ScopeError::TimedOut)));
        assert_eq!(rt.now() - start, ms(40));
    });
}

#[test]
fn panicking_child_is_reported_and_siblings_finish() {
    each_runtime(|rt| async move {
        let (errors, handler) = collecting();
        let stats = TaskScope::with_runtime(rt.clone())
            .error_reporter(ErrorReporter::new(handler))
            .run(|scope| {
                let rt = rt.clone();
                async move {
                    for i in 0..10 {
                        let rt = rt.clone();
                        scope
                            .spawn(async move {
                                rt.sleep(ms(1)).await;
                                if i == 3 {
                                    panic!("child three");
                                }
                            })
                            .unwrap();
                    }
                    Ok::<_, std::io::Error>(scope)
                }
            })
            .await
            .unwrap()
            .stats();
        assert_eq!(*errors.lock().unwrap(), ["task panicked: child three"]);
        assert_eq!((stats.completed, stats.failed, stats.running), (9, 1, 0));
    });
}

#[test]
fn dropping_the_scope_future_cancels_every_child_once() {
    each_runtime(|rt| async move {
        let drops = Drops::default();
        let keep = Arc::new(Mutex::new(None));
        let mut run = Box::pin(TaskScope::with_runtime(rt.clone()).run(|scope| {
            *keep.lock().unwrap() = Some(scope.clone());
            let drops = drops.clone();
            async move {
                for _ in 0..5 {
                    let guard = drops.guard();
                    scope
                        .spawn(async move {
                            let _guard = guard;
                            std::future::pending::<()>().await;
                        })
                        .unwrap();
                }
                std::future::pending::<()>().await;
                Ok::<_, std::io::Error>(())
            }
        }));
        assert!(poll_once(run.as_mut()).await.is_none());
        drop(run);
        eventually(&rt, || drops.count() == 5).await;
        let scope = keep.lock().unwrap().take().unwrap();
        // The scope is closed: a late spawn is refused and handed back.
        assert!(scope.is_closed());
        let back = scope
            .spawn(async { Ok::<_, std::io::Error>(7) })
            .unwrap_err()
            .into_inner();
        assert_eq!(back.await.unwrap(), 7);
    });
}

#[test]
fn parent_token_cancellation_stops_children() {
    each_runtime(|rt| async move {
        let parent = CancellationToken::new();
        let trigger = parent.clone();
        let rt2 = rt.clone();
        rt.spawn(async move {
            rt2.sleep(ms(5)).await;
            trigger.cancel();
        })
        .detach();
        let stats = TaskScope::with_runtime(rt.clone())
            .parent_token(&parent)
            .run(|scope| async move {
                for _ in 0..3 {
                    scope.spawn(std::future::pending::<()>()).unwrap();
                }
                Ok::<_, std::io::Error>(scope)
            })
            .await
            .unwrap()
            .stats();
        assert_eq!(stats.cancelled, 3);
    });
}

#[test]
fn many_children_on_every_runtime() {
    each_runtime(|rt| async move {
        let (errors, handler) = collecting();
        let stats = TaskScope::with_runtime(rt.clone())
            .error_reporter(ErrorReporter::new(handler))
            .run(|scope| async move {
                for i in 0..500u32 {
                    scope
                        .spawn(async move {
                            if i % 100 == 0 {
                                Err(format!("e{i}"))
                            } else {
                                Ok(())
                            }
                        })
                        .unwrap();
                }
                Ok::<_, std::io::Error>(scope)
            })
            .await
            .unwrap()
            .stats();
        assert_eq!(
            (stats.started, stats.completed, stats.failed),
            (500, 495, 5)
        );
        assert_eq!(errors.lock().unwrap().len(), 5);
    });
}

#[test]
fn outputs_are_kept_only_when_asked_with_a_handle() {
    each_runtime(|rt| async move {
        let (errors, handler) = collecting();
        let rt2 = rt.clone();
        TaskScope::with_runtime(rt.clone())
            .error_reporter(ErrorReporter::new(handler))
            .run(|scope| async move {
                // Asked: the output, error included, goes to the handle.
                let ok = scope
                    .spawn_with_handle(async { Ok::<_, String>(1) })
                    .unwrap();
                let err = scope
                    .spawn_with_handle(async { Err::<u8, _>("for the handle".to_owned()) })
                    .unwrap();
                let boom = scope
                    .spawn_with_handle(async {
                        if true {
                            panic!("handled panic");
                        }
                    })
                    .unwrap();
                assert_eq!(ok.await.unwrap(), Ok(1));
                assert_eq!(err.await.unwrap(), Err("for the handle".to_owned()));
                let p = boom.await.unwrap_err().into_panic().unwrap();
                assert_eq!(p.message(), Some("handled panic"));
                // A handle dropped before the end: the error is unhandled after all.
                let dropped = scope
                    .spawn_with_handle({
                        let rt = rt2.clone();
                        async move {
                            rt.sleep(ms(2)).await;
                            Err::<(), _>("nobody listened")
                        }
                    })
                    .unwrap();
                drop(dropped);
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap();
        assert_eq!(*errors.lock().unwrap(), ["nobody listened"]);
    });
}

#[test]
fn a_handle_of_a_cancelled_child_reports_cancelled() {
    each_runtime(|rt| async move {
        TaskScope::with_runtime(rt.clone())
            .run(|scope| async move {
                let h = scope
                    .spawn_with_handle(async {
                        std::future::pending::<()>().await;
                    })
                    .unwrap();
                scope.token().cancel();
                assert!(h.await.unwrap_err().is_cancelled());
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap();
    });
}

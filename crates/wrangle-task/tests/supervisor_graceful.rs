//! Behaviour of `Supervisor` without signals (seed 1.8, 5.12).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Log, ms};
use wrangle_rt::Runtime;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_task::supervisor::ShutdownReason;
use wrangle_task::{Supervisor, SupervisorError};

#[test]
fn normal_run_returns_the_body_output_and_never_calls_stop() {
    virtual_time(|rt| async move {
        let stops = Arc::new(AtomicUsize::new(0));
        let s = stops.clone();
        let rt2 = rt.clone();
        let out = Supervisor::with_runtime(rt.clone())
            .on_stop(move |_| async move {
                s.fetch_add(1, Ordering::SeqCst);
            })
            .run(move |sup| async move {
                let log = Log::default();
                for d in [10, 5] {
                    let (rt, log) = (rt2.clone(), log.clone());
                    sup.spawn(async move {
                        rt.sleep(ms(d)).await;
                        log.push(d.to_string());
                    })
                    .unwrap();
                }
                rt2.sleep(ms(20)).await;
                Ok::<_, std::io::Error>(log.get())
            })
            .await
            .unwrap();
        assert_eq!(out, ["5", "10"]);
        assert_eq!(stops.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn first_task_error_starts_the_stop_once_other_work_finishes_and_error_is_returned() {
    virtual_time(|rt| async move {
        let stops = Arc::new(AtomicUsize::new(0));
        let s = stops.clone();
        let log = Log::default();
        let (rt2, l) = (rt.clone(), log.clone());
        let start = rt.now();
        let r = Supervisor::with_runtime(rt.clone())
            .on_stop(move |reason| async move {
                assert_eq!(reason, ShutdownReason::Error);
                s.fetch_add(1, Ordering::SeqCst);
            })
            .run(move |sup| async move {
                sup.spawn(async { Err::<(), _>("!") }).unwrap();
                let (rt, l2) = (rt2.clone(), l.clone());
                sup.spawn(async move {
                    rt.sleep(ms(10)).await;
                    l2.push("other work finished");
                })
                .unwrap();
                Ok::<_, std::io::Error>(())
            })
            .await;
        match r {
            Err(SupervisorError::Failed(e)) => assert_eq!(e.to_string(), "!"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(stops.load(Ordering::SeqCst), 1);
        assert_eq!(log.get(), ["other work finished"]);
        assert_eq!(rt.now() - start, ms(10));
    });
}

#[test]
fn stop_runs_exactly_once_whatever_triggers_it() {
    each_runtime(|rt| async move {
        let stops = Arc::new(AtomicUsize::new(0));
        let s = stops.clone();
        let r = Supervisor::with_runtime(rt.clone())
            .on_stop(move |_| async move {
                s.fetch_add(1, Ordering::SeqCst);
            })
            .run(move |sup| async move {
                let h = sup.shutdown_handle();
                assert!(h.close(), "the first close starts the stop");
                h.report("late error");
                assert!(!h.close(), "a later close reports that it did not");
                assert!(h.is_closed());
                sup.spawn(async { Err::<(), _>("task error while stopping") })
                    .unwrap();
                sup.token().cancelled().await;
                Ok::<_, std::io::Error>(h.reason())
            })
            .await;
        assert_eq!(r.unwrap(), Some(ShutdownReason::Requested));
        assert_eq!(stops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn shutdown_from_a_plain_thread() {
    each_runtime(|rt| async move {
        let r = Supervisor::with_runtime(rt.clone())
            .run(move |sup| async move {
                let handle = sup.shutdown_handle();
                let thread = std::thread::spawn(move || handle.close());
                sup.token().cancelled().await;
                thread.join().unwrap();
                Ok::<_, std::io::Error>("stopped")
            })
            .await;
        assert_eq!(r.unwrap(), "stopped");
    });
}

#[test]
fn drain_deadline_drops_what_is_left() {
    virtual_time(|rt| async move {
        let start = rt.now();
        let rt2 = rt.clone();
        let r = Supervisor::with_runtime(rt.clone())
            .drain(ms(50))
            .on_stop(|_| std::future::pending())
            .run(move |sup| async move {
                rt2.sleep(ms(10)).await;
                sup.shutdown_handle().close();
                std::future::pending::<()>().await;
                Ok::<_, std::io::Error>(())
            })
            .await;
        assert!(matches!(r, Err(SupervisorError::DrainTimedOut)));
        assert_eq!(rt.now() - start, ms(60));
    });
}

#[test]
fn the_stop_future_can_end_the_body() {
    virtual_time(|rt| async move {
        let server = wrangle_rt::CancellationToken::new();
        let stop = server.clone();
        let (rt2, rt3) = (rt.clone(), rt.clone());
        let start = rt.now();
        let r = Supervisor::with_runtime(rt.clone())
            .on_stop(move |_| async move {
                rt3.sleep(ms(5)).await; // say goodbye to clients
                stop.cancel();
            })
            .run(move |sup| async move {
                let h = sup.shutdown_handle();
                let rt4 = rt2.clone();
                rt2.spawn(async move {
                    rt4.sleep(ms(20)).await;
                    h.close();
                })
                .detach();
                server.cancelled().await;
                Ok::<_, std::io::Error>("served")
            })
            .await;
        assert_eq!(r.unwrap(), "served");
        assert_eq!(rt.now() - start, ms(25));
    });
}

#[test]
fn hooks_run_in_order_around_the_body_even_on_error() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let (a, b, c, d) = (log.clone(), log.clone(), log.clone(), log.clone());
        let body_log = log.clone();
        let r = Supervisor::with_runtime(rt.clone())
            .on_startup(async move { a.push("startup 1") })
            .on_startup(async move { b.push("startup 2") })
            .on_join(async move { c.push("join 1") })
            .on_join(async move { d.push("join 2") })
            .run(move |_| async move {
                body_log.push("body");
                Err::<(), _>("body failed")
            })
            .await;
        assert!(matches!(r, Err(SupervisorError::Failed(e)) if e.to_string() == "body failed"));
        assert_eq!(
            log.get(),
            ["startup 1", "startup 2", "body", "join 1", "join 2"]
        );
    });
}

#[test]
fn a_panicking_task_is_an_unhandled_error() {
    each_runtime(|rt| async move {
        let r = Supervisor::with_runtime(rt.clone())
            .run(move |sup| async move {
                sup.spawn(async {
                    if true {
                        panic!("task blew up");
                    }
                })
                .unwrap();
                sup.token().cancelled().await;
                Ok::<_, std::io::Error>(())
            })
            .await;
        match r {
            Err(SupervisorError::Failed(e)) => {
                assert_eq!(e.to_string(), "task panicked: task blew up")
            }
            other => panic!("unexpected {other:?}"),
        }
    });
}

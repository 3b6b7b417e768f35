//! Behaviour of `ExitStack` and `defer` (seed 3.10-3.11).

mod common;

use std::sync::{Arc, Mutex};

use common::{Log, eventually, ms};
use futures_lite::future::poll_once;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{ErrorReporter, Runtime, Unhandled};
use wrangle_task::{ExitStack, defer_with_runtime};

#[test]
fn cleanups_run_in_reverse_order_on_normal_exit() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let out = defer_with_runtime(rt.clone(), |stack| {
            let log = log.clone();
            async move {
                for i in 1..=3 {
                    log.push(i.to_string());
                    let log = log.clone();
                    stack.push(async move { log.push(i.to_string()) });
                }
                "body"
            }
        })
        .await
        .unwrap();
        assert_eq!(out, "body");
        assert_eq!(log.get(), ["1", "2", "3", "3", "2", "1"]);
    });
}

#[test]
fn cleanups_run_when_the_body_fails_and_the_error_is_kept() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let out = defer_with_runtime(rt.clone(), |stack| {
            let log = log.clone();
            async move {
                for i in 1..=2 {
                    log.push(i.to_string());
                    let log = log.clone();
                    stack.push(async move { log.push(i.to_string()) });
                }
                Err::<(), _>("body failed")
            }
        })
        .await
        .unwrap();
        assert_eq!(out, Err("body failed"));
        assert_eq!(log.get(), ["1", "2", "2", "1"]);
    });
}

#[test]
fn every_cleanup_runs_and_every_error_is_reported() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let err = defer_with_runtime(rt.clone(), |stack| {
            let log = log.clone();
            async move {
                let l = log.clone();
                stack.push(async move { l.push("first registered") });
                stack.push(async { Err::<(), _>("a") });
                stack.push(async {
                    if true {
                        panic!("b");
                    }
                });
                let l = log.clone();
                stack.push(async move { l.push("last registered") });
                42
            }
        })
        .await
        .unwrap_err();
        let errors: Vec<String> = err.errors().iter().map(|e| e.to_string()).collect();
        assert_eq!(err.into_output(), 42);
        assert_eq!(errors, ["task panicked: b", "a"]);
        assert_eq!(log.get(), ["last registered", "first registered"]);
    });
}

#[test]
fn async_cleanups_run_one_after_another() {
    virtual_time(|rt| async move {
        let stack = ExitStack::with_runtime(rt.clone());
        for _ in 0..3 {
            let rt = rt.clone();
            stack.push(async move { rt.sleep(ms(10)).await });
        }
        let start = rt.now();
        stack.unwind().await.unwrap();
        assert_eq!(rt.now() - start, ms(30));
        assert!(stack.is_empty());
    });
}

#[test]
fn cleanups_registered_while_closing_run_too() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let stack = ExitStack::with_runtime(rt.clone());
        let (s, l) = (stack.clone(), log.clone());
        stack.push(async move {
            l.push("outer");
            let l2 = l.clone();
            s.push(async move { l2.push("pushed during close") });
        });
        stack.unwind().await.unwrap();
        assert_eq!(log.get(), ["outer", "pushed during close"]);
    });
}

#[test]
fn cancelled_body_still_runs_its_cleanups_on_the_runtime() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let mut fut = Box::pin(defer_with_runtime(rt.clone(), |stack| {
            let (log, rt) = (log.clone(), rt.clone());
            async move {
                for i in 1..=2 {
                    let (log, rt) = (log.clone(), rt.clone());
                    stack.push(async move {
                        rt.sleep(ms(1)).await;
                        log.push(format!("cleanup {i}"));
                    });
                }
                std::future::pending::<()>().await;
            }
        }));
        assert!(poll_once(fut.as_mut()).await.is_none());
        drop(fut);
        eventually(&rt, || log.get().len() == 2).await;
        assert_eq!(log.get(), ["cleanup 2", "cleanup 1"]);
    });
}

#[test]
fn errors_of_cleanups_after_a_cancel_go_to_the_reporter() {
    virtual_time(|rt| async move {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let stack = ExitStack::with_runtime(rt.clone()).error_reporter(ErrorReporter::new(
            move |u: Unhandled| sink.lock().unwrap().push(u.error().to_string()),
        ));
        stack.push(async { Err::<(), _>("late failure") });
        drop(stack);
        rt.sleep(ms(1)).await;
        assert_eq!(*seen.lock().unwrap(), ["late failure"]);
    });
}

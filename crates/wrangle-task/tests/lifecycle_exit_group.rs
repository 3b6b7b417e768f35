//! `ExitStack::enter_all` (aiotools' `actxgroup`, seed 3.10): resources entered concurrently,
//! exited concurrently in reverse, entry errors as values, every exit error kept.

mod common;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Drops, Log, eventually, ms};
use futures_lite::future::poll_once;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{ErrorReporter, Runtime, Unhandled};
use wrangle_task::{EnterError, ExitOutcome, ExitStack};

type ExitFut = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type BoxExit = Box<dyn FnOnce(&ExitOutcome<'_>) -> ExitFut + Send>;
type Resource = Pin<Box<dyn Future<Output = Result<(u32, BoxExit), String>> + Send>>;

/// A resource that takes `enter` ms to enter and `exit` ms to leave, logging both; `fail`
/// makes its exit return an error.
fn resource<R: Runtime>(
    rt: &R,
    log: &Log,
    name: u32,
    enter: u64,
    exit: u64,
    fail: bool,
) -> Resource {
    let (rt, log) = (rt.clone(), log.clone());
    Box::pin(async move {
        rt.sleep(ms(enter)).await;
        log.push(format!("enter {name}"));
        let exit: BoxExit = Box::new(move |o: &ExitOutcome<'_>| {
            let seen = o.to_string();
            Box::pin(async move {
                log.push(format!("exit {name} start ({seen})"));
                rt.sleep(ms(exit)).await;
                log.push(format!("exit {name} end"));
                if fail {
                    Err(format!("exit {name} failed"))
                } else {
                    Ok(())
                }
            }) as ExitFut
        });
        Ok((name, exit))
    })
}

#[test]
fn resources_are_entered_together_and_exited_together_in_reverse() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let stack = ExitStack::with_runtime(rt.clone());
        let start = rt.now();
        let values = stack
            .enter_all([
                resource(&rt, &log, 1, 30, 10, false),
                resource(&rt, &log, 2, 10, 20, false),
                resource(&rt, &log, 3, 20, 5, false),
            ])
            .await;
        // Concurrently: the slowest entry decides, not the sum.
        assert_eq!(rt.now() - start, ms(30));
        let values: Vec<u32> = values.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, [1, 2, 3], "input order, not entry order");
        assert_eq!(log.get(), ["enter 2", "enter 3", "enter 1"]);
        let start = rt.now();
        stack.unwind().await.unwrap();
        // Concurrently, started last first; the slowest exit decides.
        assert_eq!(rt.now() - start, ms(20));
        assert_eq!(
            log.get()[3..],
            [
                "exit 3 start (succeeded)",
                "exit 2 start (succeeded)",
                "exit 1 start (succeeded)",
                "exit 3 end",
                "exit 1 end",
                "exit 2 end"
            ]
        );
    });
}

#[test]
fn entry_errors_and_panics_come_back_as_values_and_have_no_exit() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let stack = ExitStack::with_runtime(rt.clone());
        let boom = true;
        let resources: Vec<Resource> = vec![
            resource(&rt, &log, 1, 1, 1, false),
            Box::pin(async { Err("refused".to_string()) }),
            Box::pin(async move {
                if boom {
                    panic!("enter panicked");
                }
                Err(String::new())
            }),
        ];
        let out = stack.enter_all(resources).await;
        assert_eq!(*out[0].as_ref().unwrap(), 1);
        assert!(matches!(&out[1], Err(EnterError::Failed(e)) if e == "refused"));
        match &out[2] {
            Err(EnterError::Panicked(p)) => assert_eq!(p.message(), Some("enter panicked")),
            other => panic!("expected a panic, got {other:?}"),
        }
        stack.unwind().await.unwrap();
        assert_eq!(
            log.get(),
            ["enter 1", "exit 1 start (succeeded)", "exit 1 end"]
        );
    });
}

#[test]
fn every_exit_error_is_kept_and_the_exits_see_the_outcome() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let stack = ExitStack::with_runtime(rt.clone());
        let out = stack
            .enter_all([
                resource(&rt, &log, 1, 1, 2, true),
                resource(&rt, &log, 2, 1, 1, false),
                resource(&rt, &log, 3, 1, 1, true),
            ])
            .await;
        assert!(out.iter().all(Result::is_ok));
        let err = std::fmt::Error;
        let errors = stack
            .unwind_on(ExitOutcome::Failed(&err))
            .await
            .unwrap_err();
        let mut messages: Vec<String> = errors.errors().iter().map(|e| e.to_string()).collect();
        messages.sort();
        assert_eq!(messages, ["exit 1 failed", "exit 3 failed"]);
        let starts = log
            .get()
            .into_iter()
            .filter(|l| l.contains("start"))
            .count();
        assert_eq!(starts, 3);
        assert!(
            log.get()
                .iter()
                .filter(|l| l.contains("start"))
                .all(|l| l.ends_with("(failed: an error occurred when formatting an argument)"))
        );
    });
}

#[test]
fn the_group_keeps_its_place_in_the_stack() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let stack = ExitStack::with_runtime(rt.clone());
        let (before, after) = (log.clone(), log.clone());
        stack.push(async move { before.push("pushed before") });
        let out = stack.enter_all([resource(&rt, &log, 1, 1, 1, false)]).await;
        assert!(out[0].is_ok());
        stack.push(async move { after.push("pushed after") });
        assert_eq!(stack.len(), 3);
        stack.unwind().await.unwrap();
        assert_eq!(
            log.get(),
            [
                "enter 1",
                "pushed after",
                "exit 1 start (succeeded)",
                "exit 1 end",
                "pushed before"
            ]
        );
    });
}

#[test]
fn a_dropped_enter_all_exits_only_what_was_entered() {
    // R5: poll k times, then drop.
    virtual_time(|rt| async move {
        for k in 0..3 {
            let log = Log::default();
            let drops = Drops::default();
            let stack = ExitStack::with_runtime(rt.clone());
            let slow = {
                let (rt, guard) = (rt.clone(), drops.guard());
                let inner = resource(&rt, &log, 2, 1_000, 1, false);
                async move {
                    let _guard = guard;
                    inner.await
                }
            };
            let fast = {
                let guard = drops.guard();
                let inner = resource(&rt, &log, 1, 0, 1, false);
                async move {
                    let _guard = guard;
                    inner.await
                }
            };
            let mut enter = stack.enter_all([Box::pin(fast) as Resource, Box::pin(slow)]);
            for _ in 0..k {
                assert!(poll_once(&mut enter).await.is_none());
                rt.sleep(ms(1)).await;
            }
            drop(enter);
            // Every future that was entering is gone.
            assert_eq!(drops.count(), 2, "k = {k}");
            stack.unwind().await.unwrap();
            let exited: Vec<String> = log
                .get()
                .into_iter()
                .filter(|l| l.starts_with("exit"))
                .collect();
            if k == 0 {
                assert!(exited.is_empty());
            } else {
                // The fast one had entered at the first poll: it is exited; the slow one never was.
                assert_eq!(
                    exited,
                    ["exit 1 start (succeeded)", "exit 1 end"],
                    "k = {k}"
                );
            }
        }
    });
}

#[test]
fn a_dropped_stack_exits_the_group_as_cancelled_and_reports_every_error() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let reported = Arc::new(AtomicUsize::new(0));
        let r = reported.clone();
        let stack = ExitStack::with_runtime(rt.clone()).error_reporter(ErrorReporter::new(
            move |_: Unhandled| {
                r.fetch_add(1, Ordering::SeqCst);
            },
        ));
        let out = stack
            .enter_all([
                resource(&rt, &log, 1, 1, 1, true),
                resource(&rt, &log, 2, 1, 1, true),
            ])
            .await;
        assert!(out.iter().all(Result::is_ok));
        drop(stack);
        let (l, r) = (log.clone(), reported.clone());
        eventually(&rt, move || {
            r.load(Ordering::SeqCst) == 2
                && l.get()
                    .iter()
                    .filter(|s| s.ends_with("(cancelled)"))
                    .count()
                    == 2
        })
        .await;
    });
}

//! Exit-stack cleanups that see how the body ended (Python's `__aexit__`, seed 3.10):
//! succeeded, failed with the error, or cancelled.

mod common;

use common::{Log, eventually, ms};
use futures_lite::future::poll_once;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{ErrorReporter, Runtime, Unhandled};
use wrangle_task::{ExitOutcome, ExitStack, defer_with_runtime};

#[derive(Debug)]
struct Violation(u32);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "constraint {} violated", self.0)
    }
}

impl std::error::Error for Violation {}

/// A cleanup that logs what it saw: `ok`, `failed: <message>` or `cancelled`.
fn observer(
    log: &Log,
    name: &'static str,
) -> impl FnOnce(&ExitOutcome<'_>) -> std::future::Ready<()> + Send + 'static {
    let log = log.clone();
    move |outcome: &ExitOutcome<'_>| {
        let seen = match outcome {
            ExitOutcome::Succeeded => "ok".to_string(),
            ExitOutcome::Failed(e) => format!("failed: {e}"),
            ExitOutcome::Cancelled => "cancelled".to_string(),
            _ => unreachable!(),
        };
        log.push(format!("{name} {seen}"));
        std::future::ready(())
    }
}

#[test]
fn defer_tells_the_cleanups_that_the_body_succeeded_or_failed_with_its_error() {
    each_runtime(|rt| async move {
        for fail in [false, true] {
            let log = Log::default();
            let l = log.clone();
            let out = defer_with_runtime(rt.clone(), move |stack| async move {
                stack.push_exit(observer(&l, "a"));
                let l2 = l.clone();
                // The cleanup can downcast the error, as `isinstance` would.
                stack.push_exit(move |o: &ExitOutcome<'_>| {
                    let code = o
                        .error()
                        .and_then(|e| e.downcast_ref::<Violation>())
                        .map(|v| v.0);
                    l2.push(format!("b code {code:?}"));
                    async {}
                });
                if fail { Err(Violation(7)) } else { Ok("rows") }
            })
            .fail_on_err()
            .await
            .unwrap();
            if fail {
                assert_eq!(out.unwrap_err().0, 7, "the error goes back to the caller");
                assert_eq!(
                    log.get(),
                    ["b code Some(7)", "a failed: constraint 7 violated"]
                );
            } else {
                assert_eq!(out.unwrap(), "rows");
                assert_eq!(log.get(), ["b code None", "a ok"]);
            }
        }
    });
}

#[test]
fn a_plain_defer_cannot_tell_an_error_and_says_succeeded() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let l = log.clone();
        let out = defer_with_runtime(rt.clone(), move |stack| async move {
            stack.push_exit(observer(&l, "a"));
            Err::<(), _>(Violation(1))
        })
        .await
        .unwrap();
        assert!(out.is_err());
        assert_eq!(log.get(), ["a ok"]);
    });
}

#[test]
fn a_dropped_defer_tells_the_cleanups_it_was_cancelled() {
    // R5: poll k times, then drop.
    each_runtime(|rt| async move {
        // From one poll on, the body has registered its cleanups.
        for k in 1..4 {
            let log = Log::default();
            let l = log.clone();
            let rt2 = rt.clone();
            let mut d = defer_with_runtime(rt.clone(), move |stack| async move {
                stack.push(std::future::ready(()));
                stack.push_exit(observer(&l, "a"));
                rt2.sleep(ms(1_000)).await;
                Ok::<_, Violation>(())
            })
            .fail_on_err();
            for _ in 0..k {
                assert!(poll_once(&mut d).await.is_none());
            }
            drop(d);
            let l = log.clone();
            eventually(&rt, move || l.get() == ["a cancelled"]).await;
        }
    });
}

#[test]
fn outcome_seeing_and_plain_cleanups_run_last_in_first_out() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let stack = ExitStack::with_runtime(rt.clone());
        let (l1, l3) = (log.clone(), log.clone());
        stack.push(async move { l1.push("plain 1") });
        stack.push_exit(observer(&log, "exit 2"));
        stack.push(async move { l3.push("plain 3") });
        stack.push_exit(observer(&log, "exit 4"));
        let err = Violation(2);
        stack.unwind_on(ExitOutcome::Failed(&err)).await.unwrap();
        // The closures ran when the unwind started (they log while building), last first;
        // the plain cleanups ran in reverse order afterwards.
        assert_eq!(
            log.get(),
            [
                "exit 4 failed: constraint 2 violated",
                "exit 2 failed: constraint 2 violated",
                "plain 3",
                "plain 1"
            ]
        );
        assert!(stack.is_empty());
    });
}

#[test]
fn a_cleanup_registered_while_unwinding_sees_the_error_message() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let stack = ExitStack::with_runtime(rt.clone());
        let (s, l) = (stack.clone(), log.clone());
        stack.push(async move {
            s.push_exit(observer(&l, "late"));
        });
        let err = Violation(3);
        stack.unwind_on(ExitOutcome::Failed(&err)).await.unwrap();
        assert_eq!(log.get(), ["late failed: constraint 3 violated"]);
    });
}

#[test]
fn a_panicking_exit_closure_is_a_failed_cleanup_and_the_others_run() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let stack = ExitStack::with_runtime(rt.clone());
        stack.push_exit(observer(&log, "first"));
        stack.push_exit(|o: &ExitOutcome<'_>| {
            if o.is_success() {
                panic!("exit closure panicked");
            }
            async {}
        });
        let errors = stack.unwind().await.unwrap_err();
        assert_eq!(errors.errors().len(), 1);
        assert_eq!(
            errors.errors()[0].to_string(),
            "task panicked: exit closure panicked"
        );
        assert_eq!(log.get(), ["first ok"]);
        // The stack keeps working.
        stack.push_exit(observer(&log, "again"));
        stack.unwind().await.unwrap();
        assert_eq!(log.get(), ["first ok", "again ok"]);
    });
}

#[test]
fn cleanups_of_a_dropped_stack_report_their_errors_and_see_cancelled() {
    each_runtime(|rt| async move {
        let log = Log::default();
        let reported = Log::default();
        let r = reported.clone();
        let stack = ExitStack::with_runtime(rt.clone()).error_reporter(ErrorReporter::new(
            move |u: Unhandled| r.push(u.error().to_string()),
        ));
        let l = log.clone();
        stack.push_exit(move |o: &ExitOutcome<'_>| {
            l.push(o.to_string());
            async { Err::<(), _>("close failed") }
        });
        drop(stack);
        let (l, r) = (log.clone(), reported.clone());
        eventually(&rt, move || {
            l.get() == ["cancelled"] && r.get() == ["close failed"]
        })
        .await;
    });
}

//! With the `tracing` feature, each call a timer makes has a `timer.tick` span carrying the
//! component's name (`builder.name(..)`), with events `spawned`, `started`, then `finished`,
//! `failed`, `panicked` or `cancelled`.
#![cfg(feature = "tracing")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wrangle_rt::testing::{SpanRecorder, each_runtime, virtual_time};
use wrangle_rt::{ErrorReporter, Runtime, Unhandled};
use wrangle_timer::PeriodicTask;

/// A name unique to this test and this runtime (tests share the recorder).
fn unique(test: &str, rt: &impl Runtime) -> String {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{test}-{}-{}",
        rt.name(),
        RUN.fetch_add(1, Ordering::Relaxed)
    )
}

fn quiet() -> ErrorReporter {
    ErrorReporter::new(|_: Unhandled| {})
}

#[test]
fn each_tick_has_its_own_span_under_the_task_name() {
    let recorder = SpanRecorder::global();
    virtual_time(|rt| async move {
        let name = unique("heartbeat", &rt);
        let task = PeriodicTask::builder(Duration::from_secs(1))
            .name(name.clone())
            .runtime(rt.clone())
            .spawn(|| async { tracing::info!("beat") })
            .unwrap();
        // Ticks at 0, 1 and 2 s.
        rt.sleep(Duration::from_millis(2500)).await;
        task.cancel().await;
        let spans = recorder.spans_with("task.name", &name);
        assert_eq!(spans.len(), 3, "{spans:?}");
        for span in spans {
            assert_eq!((span.name, span.target), ("timer.tick", "wrangle_timer"));
            assert_eq!(span.events, ["spawned", "started", "beat", "finished"]);
        }
    });
}

#[test]
fn failing_and_panicking_ticks_say_so() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let (failing, panicking) = (unique("failing", &rt), unique("panicking", &rt));
            let a = PeriodicTask::builder(Duration::from_secs(3600))
                .name(failing.clone())
                .error_reporter(quiet())
                .runtime(rt.clone())
                .spawn(|| async { Err::<(), _>("no route to host") })
                .unwrap();
            let b = PeriodicTask::builder(Duration::from_secs(3600))
                .name(panicking.clone())
                .error_reporter(quiet())
                .runtime(rt.clone())
                .spawn(|| async {
                    if true {
                        panic!("tick failed");
                    }
                })
                .unwrap();
            // The first call of each runs at once; wait until both ended.
            while a.stats().failed + b.stats().failed < 2 {
                rt.sleep(Duration::from_millis(1)).await;
            }
            a.cancel().await;
            b.cancel().await;
            let events = |name: &str| {
                let spans = recorder.spans_with("task.name", name);
                assert_eq!(spans.len(), 1, "{spans:?}");
                spans[0].events.clone()
            };
            assert_eq!(events(&failing), ["spawned", "started", "failed"]);
            assert_eq!(events(&panicking), ["spawned", "started", "panicked"]);
        }
    });
}

#[test]
fn a_tick_cut_short_by_cancel_ends_with_cancelled() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let name = unique("cut-short", &rt);
            let task = PeriodicTask::builder(Duration::from_secs(1))
                .name(name.clone())
                .runtime(rt.clone())
                .spawn(std::future::pending::<()>)
                .unwrap();
            // Until the call has started (counted as running a little before).
            let started = || {
                recorder
                    .spans_with("task.name", &name)
                    .iter()
                    .any(|s| s.events.iter().any(|e| e == "started"))
            };
            while !started() {
                rt.sleep(Duration::from_millis(1)).await;
            }
            let stats = task.cancel().await;
            assert_eq!(stats.cancelled, 1);
            let spans = recorder.spans_with("task.name", &name);
            assert_eq!(spans.len(), 1, "{spans:?}");
            assert_eq!(spans[0].events, ["spawned", "started", "cancelled"]);
        }
    });
}

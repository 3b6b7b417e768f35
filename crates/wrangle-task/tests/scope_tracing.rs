//! With the `tracing` feature, each scope child has a `scope.child` span and each supervised
//! task a `supervisor.child` span, carrying the name given to `spawn_named`, with an event for
//! each step of its life: `spawned`, `started`, then `finished`, `panicked` or `cancelled`; a
//! supervisor's run has a `supervisor` span of its own.
#![cfg(feature = "tracing")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wrangle_rt::testing::{RecordedSpan, SpanRecorder, each_runtime, virtual_time};
use wrangle_rt::{ErrorReporter, Runtime, Unhandled};
use wrangle_task::{ScopeError, Supervisor, TaskScope};

fn span_of(recorder: &SpanRecorder, name: &str) -> RecordedSpan {
    let spans = recorder.spans_with("task.name", name);
    assert_eq!(spans.len(), 1, "one span named {name}: {spans:?}");
    spans.into_iter().next().unwrap()
}

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
fn a_scope_child_that_ends_has_spawned_started_finished() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let name = unique("scope-finished", &rt);
            let n = name.clone();
            TaskScope::with_runtime(rt.clone())
                .run(|scope| async move {
                    scope
                        .spawn_named(n, async {
                            tracing::info!("working");
                        })
                        .unwrap();
                    Ok::<_, std::io::Error>(())
                })
                .await
                .unwrap();
            let span = span_of(&recorder, &name);
            assert_eq!((span.name, span.target), ("scope.child", "wrangle_task"));
            assert_eq!(span.events, ["spawned", "started", "working", "finished"]);
        }
    });
}

#[test]
fn a_panicking_scope_child_ends_with_panicked() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let name = unique("scope-panicked", &rt);
            let n = name.clone();
            let stats = TaskScope::with_runtime(rt.clone())
                .error_reporter(quiet())
                .run(|scope| async move {
                    scope
                        .spawn_named(n, async {
                            if true {
                                panic!("child failed");
                            }
                        })
                        .unwrap();
                    Ok::<_, std::io::Error>(scope)
                })
                .await
                .unwrap()
                .stats();
            assert_eq!(stats.failed, 1);
            assert_eq!(
                span_of(&recorder, &name).events,
                ["spawned", "started", "panicked"]
            );
        }
    });
}

#[test]
fn a_child_stopped_by_the_scope_ends_with_cancelled() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let name = unique("scope-cancelled", &rt);
            let n = name.clone();
            let r = TaskScope::with_runtime(rt.clone())
                .run(|scope| async move {
                    scope.spawn_named(n, std::future::pending::<()>()).unwrap();
                    // The body fails: the children are cancelled.
                    Err::<(), _>("body failed")
                })
                .await;
            assert!(matches!(r, Err(ScopeError::Body("body failed"))));
            let events = span_of(&recorder, &name).events;
            assert_eq!(events.first().map(String::as_str), Some("spawned"));
            assert_eq!(events.last().map(String::as_str), Some("cancelled"));
            assert_eq!(
                events.len(),
                events
                    .iter()
                    .collect::<std::collections::HashSet<_>>()
                    .len()
            );
        }
    });
}

#[test]
fn a_child_dropped_at_the_scope_timeout_ends_with_cancelled() {
    let recorder = SpanRecorder::global();
    virtual_time(|rt| async move {
        let name = unique("scope-timeout", &rt);
        let n = name.clone();
        let start = rt.now();
        let r = TaskScope::with_runtime(rt.clone())
            .timeout(Duration::from_millis(10))
            .run(|scope| async move {
                scope.spawn_named(n, std::future::pending::<()>()).unwrap();
                Ok::<_, std::io::Error>(())
            })
            .await;
        assert!(matches!(r, Err(ScopeError::TimedOut)));
        assert_eq!(rt.now() - start, Duration::from_millis(10));
        assert_eq!(
            span_of(&recorder, &name).events,
            ["spawned", "started", "cancelled"]
        );
    });
}

#[test]
fn a_supervised_task_has_a_supervisor_child_span() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let name = unique("supervised", &rt);
            let n = name.clone();
            let r = Supervisor::with_runtime(rt.clone())
                .run(|sup| async move {
                    let token = sup.token().clone();
                    sup.spawn_named(n, async move { token.cancelled().await })
                        .unwrap();
                    sup.shutdown_handle().close();
                    Ok::<_, std::io::Error>(())
                })
                .await;
            assert!(r.is_ok());
            let span = span_of(&recorder, &name);
            assert_eq!(span.name, "supervisor.child");
            assert_eq!(span.events, ["spawned", "started", "finished"]);
        }
    });
}

#[test]
fn unnamed_children_have_spans_without_a_name() {
    let recorder = SpanRecorder::global();
    virtual_time(|rt| async move {
        let marker = unique("unnamed-child", &rt);
        let m = marker.clone();
        TaskScope::with_runtime(rt.clone())
            .run(|scope| async move {
                scope.spawn(async move { tracing::info!("{m}") }).unwrap();
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap();
        let spans: Vec<_> = recorder
            .spans()
            .into_iter()
            .filter(|s| s.events.contains(&marker))
            .collect();
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_eq!(spans[0].name, "scope.child");
        assert_eq!(spans[0].field("task.name"), None);
        assert_eq!(spans[0].events, ["spawned", "started", &marker, "finished"]);
    });
}

/// The `supervisor` span of the run whose body recorded `marker`.
fn supervisor_span(recorder: &SpanRecorder, marker: &str) -> RecordedSpan {
    let spans: Vec<_> = recorder
        .spans()
        .into_iter()
        .filter(|s| s.name == "supervisor" && s.events.iter().any(|e| e == marker))
        .collect();
    assert_eq!(
        spans.len(),
        1,
        "one supervisor span with {marker}: {spans:?}"
    );
    spans.into_iter().next().unwrap()
}

#[test]
fn a_supervisor_run_has_its_own_span_from_started_to_finished_or_failed() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let ok = unique("supervisor-ok", &rt);
            let marker = ok.clone();
            let out = Supervisor::with_runtime(rt.clone())
                .run(move |_| async move {
                    tracing::info!("{marker}");
                    Ok::<_, std::io::Error>(7)
                })
                .await;
            assert_eq!(out.unwrap(), 7);
            let span = supervisor_span(&recorder, &ok);
            assert_eq!(span.target, "wrangle_task");
            assert_eq!(span.events, ["started", ok.as_str(), "finished"]);

            let failing = unique("supervisor-failed", &rt);
            let marker = failing.clone();
            let out = Supervisor::with_runtime(rt.clone())
                .run(move |_| async move {
                    tracing::info!("{marker}");
                    Err::<(), _>(std::io::Error::other("boom"))
                })
                .await;
            assert!(out.is_err());
            let span = supervisor_span(&recorder, &failing);
            assert_eq!(span.events, ["started", failing.as_str(), "failed"]);

            // A run dropped before it ends is recorded as cancelled.
            let dropped = unique("supervisor-dropped", &rt);
            let marker = dropped.clone();
            let mut run = Box::pin(
                Supervisor::with_runtime(rt.clone()).run(move |_| async move {
                    tracing::info!("{marker}");
                    std::future::pending::<Result<(), std::io::Error>>().await
                }),
            );
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            assert!(run.as_mut().poll(&mut cx).is_pending());
            drop(run);
            let span = supervisor_span(&recorder, &dropped);
            assert_eq!(span.events, ["started", dropped.as_str(), "cancelled"]);
        }
    });
}

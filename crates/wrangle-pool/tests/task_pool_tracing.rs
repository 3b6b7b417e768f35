//! With the `tracing` feature, each pooled task has a span (`pool.task`, carrying the name
//! given to `spawn_named`) with an event for each step of its life: `spawned`, `started`, then
//! one of `finished`, `panicked`, `timed out` or `cancelled`. Recorded by a subscriber that
//! keeps every span; each test picks its own spans by task name.
#![cfg(feature = "tracing")]

use std::num::NonZeroUsize;
use std::time::Duration;

use wrangle_pool::TaskPool;
use wrangle_rt::testing::{RecordedSpan, SpanRecorder, each_runtime, virtual_time};
use wrangle_rt::{Runtime, yield_now};

/// The one span of the task named `name` (per runtime: `tag` tells the runs apart).
fn span_of(recorder: &SpanRecorder, name: &str) -> RecordedSpan {
    let spans = recorder.spans_with("task.name", name);
    assert_eq!(spans.len(), 1, "one span named {name}: {spans:?}");
    spans.into_iter().next().unwrap()
}

/// A name unique to this test and this runtime.
fn unique(test: &str, rt: &impl Runtime) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static RUN: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{test}-{}-{}",
        rt.name(),
        RUN.fetch_add(1, Ordering::Relaxed)
    )
}

#[test]
fn a_finished_task_has_spawned_started_finished() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let pool = TaskPool::unbounded_with_runtime(rt.clone());
            let name = unique("finished", &rt);
            let h = pool
                .spawn_named(name.clone(), async {
                    // The task's own events nest in its span.
                    tracing::info!("working");
                    7
                })
                .unwrap();
            assert_eq!(h.await.unwrap(), 7);
            let span = span_of(&recorder, &name);
            assert_eq!((span.name, span.target), ("pool.task", "wrangle_pool"));
            assert_eq!(span.events, ["spawned", "started", "working", "finished"]);
        }
    });
}

#[test]
fn a_panicking_task_ends_with_panicked() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let pool = TaskPool::unbounded_with_runtime(rt.clone());
            let name = unique("panicked", &rt);
            let h = pool
                .spawn_named(name.clone(), async { panic!("task failed") })
                .unwrap();
            assert!(h.await.unwrap_err().is_panic());
            assert_eq!(
                span_of(&recorder, &name).events,
                ["spawned", "started", "panicked"]
            );
            // The pool keeps working.
            assert_eq!(pool.run(async { 1 }).await.unwrap(), 1);
        }
    });
}

#[test]
fn a_task_that_times_out_ends_with_timed_out() {
    let recorder = SpanRecorder::global();
    virtual_time(|rt| async move {
        let pool = TaskPool::builder()
            .timeout(Duration::from_millis(10))
            .runtime(rt.clone())
            .build();
        let name = unique("timed-out", &rt);
        let slow = {
            let rt = rt.clone();
            async move { rt.sleep(Duration::from_secs(1)).await }
        };
        let h = pool.spawn_named(name.clone(), slow).unwrap();
        assert!(h.await.unwrap_err().is_timeout());
        assert_eq!(
            span_of(&recorder, &name).events,
            ["spawned", "started", "timed out"]
        );
    });
}

#[test]
fn a_task_cancelled_while_running_or_queued_ends_with_cancelled() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
            let (running, queued) = (unique("running", &rt), unique("queued", &rt));
            let a = pool
                .spawn_named(running.clone(), std::future::pending::<()>())
                .unwrap();
            let mut b = pool.spawn_named(queued.clone(), async {}).unwrap();
            // Let the first start (it holds the only slot, so the second stays queued).
            while pool.stats().running == 0 {
                yield_now().await;
            }
            // The queued one is cancelled first (a request: it waits for the slot to be
            // dropped), then the running one, which frees the slot.
            b.abort();
            assert!(a.cancel().await.unwrap_err().is_cancelled());
            assert!(b.await.unwrap_err().is_cancelled());
            assert_eq!(
                span_of(&recorder, &running).events,
                ["spawned", "started", "cancelled"]
            );
            // Never started.
            assert_eq!(span_of(&recorder, &queued).events, ["spawned", "cancelled"]);
        }
    });
}

#[test]
fn tasks_dropped_with_the_pool_end_with_cancelled() {
    let recorder = SpanRecorder::global();
    each_runtime(|rt| {
        let recorder = recorder.clone();
        async move {
            let pool = TaskPool::with_runtime(rt.clone(), NonZeroUsize::MIN);
            let name = unique("dropped-queued", &rt);
            pool.spawn_named(name.clone(), std::future::pending::<()>())
                .unwrap()
                .detach();
            drop(pool);
            // A task running on another thread is dropped there, soon after.
            let mut events = span_of(&recorder, &name).events;
            for _ in 0..10_000 {
                if events.last().map(String::as_str) == Some("cancelled") {
                    break;
                }
                rt.sleep(Duration::from_millis(1)).await;
                events = span_of(&recorder, &name).events;
            }
            assert_eq!(events.first().map(String::as_str), Some("spawned"));
            assert_eq!(events.last().map(String::as_str), Some("cancelled"));
            assert_eq!(events.iter().filter(|e| *e == "cancelled").count(), 1);
        }
    });
}

#[test]
fn an_unnamed_task_has_a_span_without_a_name() {
    let recorder = SpanRecorder::global();
    virtual_time(|rt| async move {
        let pool = TaskPool::unbounded_with_runtime(rt.clone());
        let marker = unique("unnamed", &rt);
        let m = marker.clone();
        pool.spawn(async move { tracing::info!("{m}") })
            .unwrap()
            .await
            .unwrap();
        // The task's event found its span, which has no `task.name`.
        let spans: Vec<_> = recorder
            .spans()
            .into_iter()
            .filter(|s| s.events.contains(&marker))
            .collect();
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_eq!(spans[0].name, "pool.task");
        assert_eq!(spans[0].field("task.name"), None);
        assert_eq!(spans[0].events, ["spawned", "started", &marker, "finished"]);
    });
}

//! The invariant of `ScopeStats` (`started == completed + failed + cancelled + running`) while
//! children run, fail, panic and are cancelled, and `running == 0` once the scope is done.

mod common;

use common::{eventually, ms};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{ErrorReporter, Runtime, Unhandled};
use wrangle_task::{ScopeError, ScopeStats, TaskScope};

fn holds(s: ScopeStats) -> bool {
    s.started == s.completed + s.failed + s.cancelled + s.running as u64
}

#[test]
fn every_child_is_counted_once() {
    each_runtime(|rt| async move {
        let kept = std::sync::Arc::new(std::sync::Mutex::new(None));
        let keep = kept.clone();
        let rt2 = rt.clone();
        let r = TaskScope::with_runtime(rt.clone())
            .error_reporter(ErrorReporter::new(|_: Unhandled| {}))
            .run(move |scope| async move {
                *keep.lock().unwrap() = Some(scope.clone());
                for _ in 0..2 {
                    let rt = rt2.clone();
                    scope.spawn(async move { rt.sleep(ms(1)).await }).unwrap();
                }
                scope.spawn(async { Err::<(), _>("failed") }).unwrap();
                let panics = true;
                scope
                    .spawn(async move {
                        if panics {
                            panic!("panicked");
                        }
                    })
                    .unwrap();
                for _ in 0..2 {
                    scope.spawn(std::future::pending::<()>()).unwrap();
                }
                let stats = scope.stats();
                assert!(holds(stats), "{stats:?}");
                assert_eq!(stats.started, 6);
                // Two children never end; the other four do.
                eventually(&rt2, || scope.stats().running == 2).await;
                let stats = scope.stats();
                assert!(holds(stats), "{stats:?}");
                assert_eq!((stats.completed, stats.failed), (2, 2));
                // The body's error cancels the two left.
                Err::<(), _>("body failed")
            })
            .await;
        assert!(matches!(r, Err(ScopeError::Body("body failed"))));
        let stats = kept.lock().unwrap().take().unwrap().stats();
        assert_eq!(
            (
                stats.started,
                stats.completed,
                stats.failed,
                stats.cancelled,
                stats.running
            ),
            (6, 2, 2, 2, 0)
        );
        let _ = rt;
    });
}

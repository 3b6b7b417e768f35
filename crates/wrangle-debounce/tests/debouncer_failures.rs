//! Errors and panics of the debounced function reach every coalesced caller, are counted,
//! and leave the debouncer working; failures nobody hears go to the error reporter.

mod common;

use std::sync::{Arc, Mutex};

use common::ms;
use wrangle_debounce::{DebounceError, Debouncer};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{ErrorReporter, Unhandled};

#[test]
fn an_error_reaches_every_coalesced_caller() {
    each_runtime(|rt| async move {
        let d = Debouncer::builder(ms(50))
            .lazy(true)
            .runtime(rt.clone())
            .build(|x: i32| async move {
                if x < 0 {
                    Err(format!("bad {x}"))
                } else {
                    Ok(x)
                }
            })
            .unwrap();
        let (a, b) = (d.call(1), d.call(-2));
        let want = Err(DebounceError::Failed("bad -2".to_owned()));
        assert_eq!(a.await, want);
        assert_eq!(b.await, want);
        // Still working.
        assert_eq!(d.call(5).await, Ok(5));
        let s = d.stats();
        assert_eq!((s.started, s.failed, s.completed, s.panicked), (2, 1, 1, 0));
    });
}

#[test]
fn a_panic_while_running_or_building_reaches_every_caller() {
    each_runtime(|rt| async move {
        // A long window, flushed by hand: printing a panic can take longer than a short one.
        let d = Debouncer::builder(ms(60_000))
            .eager(true)
            .lazy(true)
            .runtime(rt.clone())
            .build(|x: u32| {
                if x == 1 {
                    panic!("while building");
                }
                async move {
                    if x == 2 {
                        panic!("while running");
                    }
                    Ok::<_, std::fmt::Error>(x)
                }
            })
            .unwrap();
        // 1 runs at once and panics while building its future.
        let first = d.call(1);
        match first.await {
            Err(DebounceError::Panicked(p)) => assert_eq!(p.message(), Some("while building")),
            other => panic!("unexpected {other:?}"),
        }
        // 2 and 3 are coalesced into one trailing run of 2, which panics while running.
        let (a, b) = (d.call(3), d.call(2));
        assert!(d.flush().await);
        let (ra, rb) = (a.await, b.await);
        match (&ra, &rb) {
            (Err(DebounceError::Panicked(p)), Err(DebounceError::Panicked(q))) => {
                assert!(Arc::ptr_eq(p, q), "both callers see the same panic");
                assert_eq!(p.message(), Some("while running"));
                let e: &dyn std::error::Error = ra.as_ref().unwrap_err();
                assert!(e.to_string().contains("while running"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let next = d.call(7);
        assert!(d.flush().await);
        assert_eq!(next.await, Ok(7));
        let s = d.stats();
        assert_eq!((s.failed, s.panicked, s.completed), (2, 2, 1));
    });
}

#[test]
fn a_failure_nobody_waits_for_goes_to_the_error_reporter() {
    each_runtime(|rt| async move {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let d = Debouncer::builder(ms(20))
            .lazy(true)
            .name("refresh")
            .error_reporter(ErrorReporter::new(move |u: Unhandled| {
                sink.lock().unwrap().push(u.to_string());
            }))
            .runtime(rt.clone())
            .build(|_: u32| async { Err::<u32, _>("backend down") })
            .unwrap();
        drop(d.call(1)); // nobody waits for this run
        d.shutdown().await;
        assert_eq!(
            *seen.lock().unwrap(),
            ["unhandled error in refresh: backend down"]
        );
        // A failure a caller receives is not reported.
        let d2 = Debouncer::builder(ms(20))
            .eager(true)
            .error_reporter(ErrorReporter::new(|u: Unhandled| panic!("reported {u}")))
            .runtime(rt.clone())
            .build(|_: u32| async { Err::<u32, _>("seen by the caller") })
            .unwrap();
        assert!(d2.call(1).await.is_err());
        d2.shutdown().await;
    });
}

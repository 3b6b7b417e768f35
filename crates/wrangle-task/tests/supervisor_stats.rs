//! `SupervisorStats` and `ServerStats`: every task or worker counted once, the invariant
//! `started == completed + failed + cancelled + running` at every step, readable before,
//! during and after the run.

mod common;

use std::num::NonZeroUsize;

use common::{eventually, ms};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::thread::ThreadFlavor;
use wrangle_rt::{Runtime, VirtualRuntime};
use wrangle_task::supervisor::{ServerStats, SupervisorStats};
use wrangle_task::{Server, Supervisor, SupervisorError};

fn holds(s: SupervisorStats) -> bool {
    s.started == s.completed + s.failed + s.cancelled + s.running as u64
}

fn server_holds(s: ServerStats) -> bool {
    s.started == s.completed + s.failed + s.cancelled + s.running as u64
}

#[test]
fn supervisor_counts_every_task_once() {
    each_runtime(|rt| async move {
        let sup = Supervisor::with_runtime(rt.clone());
        assert_eq!(sup.stats(), SupervisorStats::default());
        let handle = sup.shutdown_handle();
        let rt2 = rt.clone();
        let r = sup
            .run(move |sup| async move {
                let token = sup.token().clone();
                for _ in 0..3 {
                    sup.spawn(async { Ok::<_, std::io::Error>(()) }).unwrap();
                }
                for _ in 0..2 {
                    let token = token.clone();
                    sup.spawn(async move { token.cancelled().await }).unwrap();
                }
                assert!(holds(sup.stats()));
                assert_eq!(sup.stats().started, 5);
                eventually(&rt2, || sup.stats().completed == 3).await;
                let s = sup.stats();
                assert!(holds(s), "{s:?}");
                assert_eq!(s.running, 2);
                // A failure starts the stop; the two waiting tasks then end on their own.
                sup.spawn(async { Err::<(), _>("broken") }).unwrap();
                token.cancelled().await;
                Ok::<_, std::io::Error>(())
            })
            .await;
        assert!(matches!(r, Err(SupervisorError::Failed(e)) if e.to_string() == "broken"));
        let s = handle.stats();
        assert!(holds(s), "{s:?}");
        assert_eq!(
            (s.started, s.completed, s.failed, s.cancelled, s.running),
            (6, 5, 1, 0, 0)
        );
    });
}

#[test]
fn supervisor_counts_panics_as_failed_and_drained_tasks_as_cancelled() {
    virtual_time(|rt| async move {
        let sup = Supervisor::with_runtime(rt.clone()).drain(ms(10));
        let handle = sup.shutdown_handle();
        let r = sup
            .run(|sup| async move {
                let boom = true;
                sup.spawn(async move {
                    if boom {
                        panic!("task panicked");
                    }
                })
                .unwrap();
                // Ignores the stop: dropped at the drain deadline.
                sup.spawn(std::future::pending::<()>()).unwrap();
                Ok::<_, std::io::Error>(())
            })
            .await;
        assert!(matches!(r, Err(SupervisorError::Failed(_))));
        let s = handle.stats();
        assert!(holds(s), "{s:?}");
        assert_eq!(
            (s.started, s.completed, s.failed, s.cancelled, s.running),
            (2, 0, 1, 1, 0)
        );
    });
}

#[test]
fn server_counts_its_workers() {
    let server = Server::new(NonZeroUsize::new(3).unwrap()).flavor(ThreadFlavor::Virtual);
    assert_eq!(server.stats(), ServerStats::default());
    let shutdown = server.shutdown_handle();
    let r = VirtualRuntime::new().block_on(server.serve(move |ctx| {
        let shutdown = shutdown.clone();
        async move {
            if ctx.index() == 2 {
                shutdown.close();
                return Err(std::io::Error::other("worker 2 failed on its way out"));
            }
            ctx.token().cancelled().await;
            Ok(())
        }
    }));
    // The close came first: the worker's error is only reported.
    assert!(r.is_ok(), "{r:?}");
    let s = server.stats();
    assert!(server_holds(s), "{s:?}");
    assert_eq!(
        (s.started, s.completed, s.failed, s.cancelled, s.running),
        (3, 2, 1, 0, 0)
    );
}

#[test]
fn server_stats_are_live_while_it_serves_and_drained_workers_are_cancelled() {
    let server = std::sync::Arc::new(
        Server::new(NonZeroUsize::new(2).unwrap())
            .flavor(ThreadFlavor::Virtual)
            .drain(ms(5)),
    );
    let watcher = server.clone();
    let rt = VirtualRuntime::new();
    let rt2 = rt.clone();
    let r = rt.block_on(async {
        let serve = server.serve(|ctx| async move {
            if ctx.index() == 0 {
                ctx.token().cancelled().await;
                return Ok::<_, std::io::Error>(());
            }
            // Worker 1 ignores the stop: dropped at the drain deadline.
            std::future::pending().await
        });
        let watch = async {
            let running = |w: &Server| w.stats().running == 2;
            let r = rt2
                .timeout(std::time::Duration::from_secs(60), async {
                    while !running(&watcher) {
                        rt2.sleep(ms(1)).await;
                    }
                })
                .await;
            assert!(r.is_ok(), "the workers never ran");
            assert!(server_holds(watcher.stats()));
            watcher.shutdown_handle().close();
        };
        futures_lite::future::zip(serve, watch).await.0
    });
    assert!(matches!(r, Err(SupervisorError::DrainTimedOut)), "{r:?}");
    let s = watcher.stats();
    assert!(server_holds(s), "{s:?}");
    // Worker 1 for sure; worker 0 too if the deadline came before its return was seen.
    assert_eq!((s.started, s.failed, s.running), (2, 0, 0));
    assert!(s.cancelled >= 1, "{s:?}");
}

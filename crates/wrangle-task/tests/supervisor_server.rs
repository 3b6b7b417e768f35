//! `Server`: N worker threads with their own runtimes, stopped together (moved here from
//! wrangle-pool with the type).

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, thread::ThreadFlavor};
use wrangle_task::{Server, SupervisorError};

fn flavours() -> Vec<ThreadFlavor> {
    [
        ThreadFlavor::TokioCurrentThread,
        ThreadFlavor::Smol,
        ThreadFlavor::Virtual,
    ]
    .into_iter()
    .filter(|f| f.is_available())
    .collect()
}

#[test]
fn every_worker_runs_on_its_own_named_thread_and_stops_on_request() {
    for flavor in flavours() {
        each_runtime(|_rt| async move {
            let server = Server::new(NonZeroUsize::new(3).unwrap())
                .flavor(flavor)
                .name("w");
            let shutdown = server.shutdown_handle();
            let started = Arc::new(AtomicUsize::new(0));
            let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
            let (s2, seen2) = (started.clone(), seen.clone());
            let r = server
                .serve(move |ctx| {
                    let (started, seen, shutdown) = (s2.clone(), seen2.clone(), shutdown.clone());
                    async move {
                        let name = std::thread::current().name().map(String::from);
                        seen.lock().unwrap().push((ctx.index(), name));
                        if started.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                            // The last worker up asks for the stop, from its own thread.
                            std::thread::spawn(move || shutdown.close()).join().unwrap();
                        }
                        ctx.token().cancelled().await;
                        Ok::<_, std::io::Error>(())
                    }
                })
                .await;
            assert!(r.is_ok(), "{flavor:?}: {r:?}");
            let mut seen = seen.lock().unwrap().clone();
            seen.sort();
            assert_eq!(
                seen,
                (0..3)
                    .map(|i| (i, Some(format!("w-{i}"))))
                    .collect::<Vec<_>>(),
                "{flavor:?}"
            );
        });
    }
}

#[test]
fn a_worker_error_stops_the_others_gracefully_and_is_returned() {
    each_runtime(|_rt| async move {
        let stopped = Arc::new(AtomicUsize::new(0));
        let s2 = stopped.clone();
        let r = Server::new(NonZeroUsize::new(3).unwrap())
            .flavor(ThreadFlavor::default())
            .serve(move |ctx| {
                let stopped = s2.clone();
                async move {
                    if ctx.index() == 1 {
                        return Err(std::io::Error::other("worker 1 failed"));
                    }
                    ctx.token().cancelled().await;
                    stopped.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .await;
        match r {
            Err(SupervisorError::Failed(e)) => assert_eq!(e.to_string(), "worker 1 failed"),
            other => panic!("expected the worker's error, got {other:?}"),
        }
        assert_eq!(
            stopped.load(Ordering::SeqCst),
            2,
            "the other workers did not stop gracefully"
        );
    });
}

#[test]
fn workers_that_return_on_their_own_end_the_server() {
    each_runtime(|_rt| async move {
        let r = Server::new(NonZeroUsize::new(2).unwrap())
            .serve(|ctx| async move {
                let rt = ctx.runtime().clone();
                rt.spawn(async {}).await.map_err(std::io::Error::other)
            })
            .await;
        assert!(r.is_ok());
    });
}

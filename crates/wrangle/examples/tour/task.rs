//! Tour: wrangle-task (bounded runner, scope, task set, race, exit stack, supervisor, server).

use std::time::Duration;

use futures_lite::StreamExt;
use wrangle::rt::Runtime;
use wrangle::rt::{ErrorReporter, Unhandled, thread::ThreadFlavor};
use wrangle::task::{
    Concurrent, Limit, Server, Supervisor, TaskScope, TaskSet, defer_with_runtime,
    race_with_runtime,
};

pub(crate) async fn tour(rt: wrangle::rt::DefaultRuntime) {
    let ms = Duration::from_millis;
    // A bounded runner: 6 jobs, 2 at a time, outputs in completion order.
    let jobs = [5u64, 1, 4, 2, 3, 1].map(|d| {
        let rt = rt.clone();
        async move {
            rt.sleep(ms(d)).await;
            Ok::<_, std::io::Error>(d)
        }
    });
    let limit = Limit::try_from(2).unwrap();
    let done: Vec<u64> = Concurrent::with_runtime(rt.clone(), jobs)
        .limit(limit)
        .map(Result::unwrap)
        .collect()
        .await;
    println!("concurrent (limit 2), completion order: {done:?}");
    // A scope: a failing child is reported, its sibling and the body go on; the scope waits.
    let scope =
        TaskScope::with_runtime(rt.clone()).error_reporter(ErrorReporter::new(|u: Unhandled| {
            println!("scope reporter got: {}", u.error())
        }));
    let r = scope
        .run(|s| async move {
            s.spawn(async { Err::<(), _>("child failed") }).unwrap();
            Ok::<_, std::io::Error>("body done")
        })
        .await;
    println!("scope returned {:?}", r.unwrap());
    // A task set (tokio's JoinSet): it grows while it drains, outputs in completion order.
    let mut set = TaskSet::with_runtime(rt.clone());
    for d in [3u64, 1] {
        let rt = rt.clone();
        set.spawn(async move {
            rt.sleep(ms(d)).await;
            d
        });
    }
    let mut joined = Vec::new();
    while let Some(d) = set.join_next().await {
        let d = d.unwrap();
        joined.push(d);
        if d == 1 {
            let rt = rt.clone();
            set.spawn(async move {
                rt.sleep(ms(1)).await;
                10
            });
        }
    }
    println!("task set, completion order: {joined:?}");
    // Race: the fastest success wins; the losers are cancelled and gone before it returns.
    let racers = [3u64, 1, 2].map(|d| {
        let rt = rt.clone();
        async move {
            rt.sleep(ms(d)).await;
            Ok::<_, ()>(d)
        }
    });
    println!(
        "race winner: {}",
        race_with_runtime(rt.clone(), racers).await.unwrap().0
    );
    // Async cleanups run in reverse order, even when the body fails.
    let out = defer_with_runtime(rt.clone(), |stack| async move {
        for name in ["db", "socket"] {
            stack.push(async move { println!("closing {name}") });
        }
        Err::<(), _>("body failed")
    })
    .await;
    println!("defer kept the body's result: {:?}", out.unwrap());
    // A supervisor: `close` on its shutdown handle starts the graceful stop once (it never
    // waits); the body finishes, and `run` resolves when everything has. The handles, the
    // stop reason (`why`) and the counters are in `wrangle::task::supervisor`.
    let r = Supervisor::with_runtime(rt.clone())
        .on_stop(|why| async move { println!("graceful stop: {why}") })
        .run(|sup| async move {
            sup.shutdown_handle().close();
            sup.token().cancelled().await;
            Ok::<_, std::io::Error>("stopped cleanly")
        })
        .await;
    println!("supervisor: {}", r.unwrap());
    // A server: a supervisor over worker threads, each with its own runtime. The first worker
    // to fail starts the graceful stop of all of them.
    let server = Server::new(std::num::NonZeroUsize::new(2).unwrap())
        .flavor(ThreadFlavor::Virtual)
        .name("tour-worker");
    let r = server
        .serve(|ctx| async move {
            if ctx.index() == 1 {
                return Err(std::io::Error::other("worker 1 failed"));
            }
            ctx.token().cancelled().await;
            println!("worker {} stopped gracefully", ctx.index());
            Ok(())
        })
        .await;
    println!("server: {}", r.unwrap_err());
}

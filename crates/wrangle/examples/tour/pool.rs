use std::num::NonZeroUsize;
use std::time::Duration;

use wrangle::pool::{TaskPool, ThreadedPool};
use wrangle::rt::{DefaultRuntime, Runtime};

pub(crate) async fn tour(rt: DefaultRuntime) {
    // A pool of 2 with a 15 ms timeout per task, counted from each task's start.
    let pool = TaskPool::builder()
        .size(NonZeroUsize::new(2).unwrap())
        .timeout(Duration::from_millis(15))
        .runtime(rt.clone())
        .build();
    let jobs: Vec<_> = [5u64, 5, 5, 40]
        .into_iter()
        .map(|ms| {
            let rt = rt.clone();
            pool.spawn(async move {
                rt.sleep(Duration::from_millis(ms)).await;
                ms
            })
            .unwrap()
        })
        .collect();
    for h in jobs {
        match h.await {
            Ok(ms) => println!("pooled job of {ms} ms finished (queue time does not count)"),
            Err(e) => println!("pooled job failed: {e}"),
        }
    }
    // Submission from a plain thread.
    let from_thread = std::thread::scope(|s| {
        s.spawn(|| pool.spawn(async { "hello from a plain thread" }))
            .join()
    });
    println!("{}", from_thread.unwrap().unwrap().await.unwrap());
    pool.shutdown().await;
    let s = pool.stats();
    println!(
        "pool stats: submitted {}, completed {}, timed out {}",
        s.submitted, s.completed, s.timed_out
    );

    // tokio-util's TaskTracker rhythm: reopen the closed pool, hand its token to the work,
    // count a future polled right here, and wait for the pool to be empty without closing it.
    pool.reopen();
    let token = pool.token();
    pool.spawn_named("watcher", async move { token.cancelled().await })
        .unwrap()
        .detach();
    let here = pool
        .track_future(async { "a tracked future, polled by the tour itself" })
        .unwrap();
    println!("{}", here.await);
    pool.close(); // cancels the token: the watcher ends
    pool.wait_empty().await;
    println!(
        "pool empty again: {} tasks ran in all",
        pool.stats().completed
    );

    // A pool on its own named thread and runtime, usable from sync code.
    let threaded = ThreadedPool::builder().name("tour-pool").build().unwrap();
    let name = threaded
        .spawn(async { std::thread::current().name().map(String::from) })
        .unwrap();
    println!(
        "threaded pool task ran on thread {:?}",
        name.await.unwrap().unwrap_or_default()
    );
    threaded.shutdown_blocking().unwrap();
}

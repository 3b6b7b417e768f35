//! A smol app that drives its own executor makes it the default once, and a pool built with
//! the default runtime runs its jobs there, not on smol's global executor (threads `smol-N`).
#![cfg(not(loom))]

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::thread;

use wrangle_pool::TaskPool;
use wrangle_rt::{DefaultRuntime, adapter::SmolRuntime};

#[test]
fn pool_built_under_an_entered_executor_runs_jobs_on_it() {
    let ex = Arc::new(async_executor::Executor::new());
    let _guard = DefaultRuntime::enter(SmolRuntime::with_executor(ex.clone()));
    let main = thread::current().id();
    let ran_on = futures_lite::future::block_on(ex.run(async {
        let pool = TaskPool::new(NonZeroUsize::new(2).unwrap());
        let jobs: Vec<_> = (0..4)
            .map(|_| pool.spawn(async { thread::current().id() }).unwrap())
            .collect();
        let mut ids = Vec::new();
        for job in jobs {
            ids.push(job.await.unwrap());
        }
        // Before the executor stops being run: its workers end here. (Only dropped, the
        // cancelled workers would wait for an executor run that never comes, keeping the pool,
        // which keeps the executor: a cycle LeakSanitizer reports.)
        pool.shutdown().await;
        assert_eq!(pool.stats().completed, 4);
        ids
    }));
    assert_eq!(ran_on, vec![main; 4]);
}

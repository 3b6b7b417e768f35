//! The `pool_spawn_join` loops of `benches/pool.rs`, ours and tokio-util's `TaskTracker`, for
//! an instruction count that the machine's load does not disturb:
//!
//! ```text
//! cargo build --release -p wrangle-benches --example pool_spawn_cg
//! for f in ours tracker; do
//!   valgrind --tool=callgrind --toggle-collect="*loop_$f*" target/release/examples/pool_spawn_cg $f
//! done
//! ```
//!
//! Each collected function runs 10,000 tasks that yield once (pool of 64, a 60 s timeout per
//! task) on a current-thread Tokio runtime: divide "Collected" by 10,000 for the instructions
//! per task. A second argument repeats the loop, for a sampling profiler.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use wrangle_pool::TaskPool;
use wrangle_rt::adapter::TokioRuntime;

const TASKS: usize = 10_000;
const SIZE: usize = 64;
const TIMEOUT: Duration = Duration::from_secs(60);

#[inline(never)]
fn loop_ours(rt: &tokio::runtime::Runtime, pool: &TaskPool<TokioRuntime>) {
    rt.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                pool.spawn(async move {
                    tokio::task::yield_now().await;
                    i
                })
                .unwrap()
            })
            .collect();
        for h in handles {
            black_box(h.await.unwrap());
        }
    });
}

#[inline(never)]
fn loop_tracker(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let sem = Arc::new(Semaphore::new(SIZE));
        let tracker = TaskTracker::new();
        for i in 0..TASKS {
            let permit = sem.clone().acquire_owned().await.unwrap();
            tracker.spawn(async move {
                let _permit = permit;
                black_box(
                    tokio::time::timeout(TIMEOUT, async move {
                        tokio::task::yield_now().await;
                        i
                    })
                    .await,
                )
            });
        }
        tracker.close();
        tracker.wait().await;
    });
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = TaskPool::builder()
        .size(NonZeroUsize::new(SIZE).unwrap())
        .timeout(TIMEOUT)
        .runtime(TokioRuntime::new(rt.handle().clone()))
        .build();
    let (which, reps) = wrangle_benches::cg::args();
    for _ in 0..reps {
        match which.as_deref() {
            Some("ours") => loop_ours(&rt, &pool),
            Some("tracker") => loop_tracker(&rt),
            _ => {
                loop_ours(&rt, &pool);
                loop_tracker(&rt);
            }
        }
    }
}

//! The `rt_spawn_join` loops of `benches/rt.rs`, ours and the runtime called directly, for an
//! instruction count that the machine's load does not disturb:
//!
//! ```text
//! cargo build --release -p wrangle-benches --example rt_spawn_cg
//! for f in ours_tokio tokio ours_smol smol; do
//!   valgrind --tool=callgrind --toggle-collect="*loop_$f*" target/release/examples/rt_spawn_cg
//! done
//! ```
//!
//! Each collected function spawns and joins 1,000 trivial tasks 10 times: divide "Collected"
//! by 10,000 for the instructions per task.

use std::hint::black_box;
use std::sync::Arc;

use wrangle_rt::Runtime;
use wrangle_rt::adapter::{SmolRuntime, TokioRuntime};

const TASKS: usize = 1_000;
const ROUNDS: usize = 10;

#[inline(never)]
fn loop_ours_tokio(rt: &tokio::runtime::Runtime, ours: &TokioRuntime) {
    for _ in 0..ROUNDS {
        rt.block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|i| ours.spawn(async move { black_box(i) }))
                .collect();
            for h in handles {
                black_box(h.await.unwrap());
            }
        });
    }
}

#[inline(never)]
fn loop_tokio(rt: &tokio::runtime::Runtime) {
    for _ in 0..ROUNDS {
        rt.block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|i| tokio::spawn(async move { black_box(i) }))
                .collect();
            for h in handles {
                black_box(h.await.unwrap());
            }
        });
    }
}

#[inline(never)]
fn loop_ours_smol(ex: &async_executor::Executor<'static>, ours: &SmolRuntime) {
    for _ in 0..ROUNDS {
        futures_lite::future::block_on(ex.run(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|i| ours.spawn(async move { black_box(i) }))
                .collect();
            for h in handles {
                black_box(h.await.unwrap());
            }
        }));
    }
}

#[inline(never)]
fn loop_smol(ex: &async_executor::Executor<'static>) {
    for _ in 0..ROUNDS {
        futures_lite::future::block_on(ex.run(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|i| ex.spawn(async move { black_box(i) }))
                .collect();
            for h in handles {
                black_box(h.await);
            }
        }));
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ours = TokioRuntime::new(rt.handle().clone());
    loop_ours_tokio(&rt, &ours);
    loop_tokio(&rt);

    let ex = Arc::new(async_executor::Executor::new());
    let ours = SmolRuntime::with_executor(ex.clone());
    loop_ours_smol(&ex, &ours);
    loop_smol(&ex);
}

//! The `sync_dual_queue/spsc_async` loops of `benches/sync.rs`, ours and flume's, for an
//! instruction count that the machine's load does not disturb:
//!
//! ```text
//! cargo build --release -p wrangle-benches --example queue_cg
//! for f in ours flume; do
//!   valgrind --tool=callgrind --toggle-collect="*loop_$f*" target/release/examples/queue_cg
//! done
//! ```
//!
//! Each collected function moves 100,000 items through a queue of capacity 1,024, producer
//! and consumer both async on one current-thread Tokio runtime: divide "Collected" by
//! 100,000 for the instructions per item.

use std::hint::black_box;
use std::num::NonZeroUsize;

const MESSAGES: usize = 100_000;
const CAPACITY: usize = 1_024;

#[inline(never)]
fn loop_ours(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let q = wrangle_sync::DualQueue::bounded(NonZeroUsize::new(CAPACITY).unwrap());
        let tx = q.clone();
        let p = tokio::spawn(async move {
            for i in 0..MESSAGES {
                tx.put(i).await.unwrap();
            }
            tx.close();
        });
        while let Ok(v) = q.get().await {
            black_box(v);
        }
        p.await.unwrap();
    });
}

#[inline(never)]
fn loop_flume(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let (tx, rx) = flume::bounded(CAPACITY);
        let p = tokio::spawn(async move {
            for i in 0..MESSAGES {
                tx.send_async(i).await.unwrap();
            }
        });
        while let Ok(v) = rx.recv_async().await {
            black_box(v);
        }
        p.await.unwrap();
    });
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (which, reps) = wrangle_benches::cg::args();
    for _ in 0..reps {
        match which.as_deref() {
            Some("ours") => loop_ours(&rt),
            Some("flume") => loop_flume(&rt),
            _ => {
                loop_ours(&rt);
                loop_flume(&rt);
            }
        }
    }
}

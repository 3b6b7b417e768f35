//! `CancellationToken` trees of extreme depth: memory retained and the drop, on every runtime.
//!
//! A file of its own: resident-memory readings are meaningful only without other tests
//! allocating beside them, so this binary holds one `#[test]`.

use std::time::Duration;

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{CancellationToken, Runtime};

/// Resident memory in bytes, from `/proc/self/statm` (resident pages), or `None` off Linux.
fn resident() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

const MIB: u64 = 1024 * 1024;

#[test]
fn deep_chains_retain_no_ancestors_and_drop_without_recursion() {
    each_runtime(|rt| async move {
        // 1. `t = t.child_token()` a million times: each step drops the previous handle, so
        //    only the root and the newest token may stay alive (was: every ancestor, about
        //    123 MiB).
        let root = CancellationToken::new();
        let before = resident();
        let mut t = root.child_token();
        for _ in 0..1_000_000 {
            t = t.child_token();
        }
        if let (Some(before), Some(after)) = (before, resident()) {
            let grown = after.saturating_sub(before);
            assert!(
                grown < 8 * MIB,
                "a 1e6-deep chain kept {} MiB resident",
                grown / MIB
            );
        }
        // The newest token still hears the root, through the ancestors that are gone.
        let waiter = rt.spawn(t.clone().cancelled_owned());
        wrangle_rt::yield_now().await;
        root.cancel();
        rt.timeout(Duration::from_secs(10), waiter)
            .await
            .expect("the chain's leaf was not woken")
            .unwrap();
        assert!(t.is_cancelled());
        drop(t);

        // 2. A chain of 1e5 whose every token is alive (no ancestor can be let go), dropped
        //    leaf first, root first, and as a whole: no stack overflow (was: an abort).
        for order in ["leaf first", "root first"] {
            let root = CancellationToken::new();
            let mut chain = Vec::with_capacity(100_000);
            chain.push(root.child_token());
            for i in 1..100_000 {
                let next = chain[i - 1].child_token();
                chain.push(next);
            }
            if order == "leaf first" {
                while chain.pop().is_some() {}
            } else {
                drop(chain);
            }
            drop(root);
        }
        // The chain built by the loop above, dropped from its leaf: the old node kept its
        // parent alive and dropped it recursively.
        let mut leaf = CancellationToken::new();
        let mut kept = Vec::with_capacity(100_000);
        for _ in 0..100_000 {
            let next = leaf.child_token();
            kept.push(std::mem::replace(&mut leaf, next));
        }
        kept.clear();
        assert!(!leaf.is_cancelled());
        drop(leaf);
    });
}

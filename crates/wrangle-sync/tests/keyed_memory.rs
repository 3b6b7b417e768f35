//! Keyed tables give their memory back: a million keys come and go, then resident memory is
//! read from `/proc/self/statm`, on every runtime.
//!
//! A file of its own: resident-memory readings are meaningful only without other tests
//! allocating beside them, so this binary holds one `#[test]`. It runs its body in a child
//! process with glibc's allocator tuned to return what is freed (`GLIBC_TUNABLES`): by
//! default glibc raises its mmap threshold after each large free and serves the next large
//! tables from the heap, and keeps small freed blocks in per-thread caches and fast bins,
//! uncoalesced, so freed memory may stay resident. Tuned (a fixed mmap threshold, no fast
//! bins, no thread cache), memory a table frees goes back to the system, and resident memory
//! measures what the tables hold.

use std::num::NonZeroU32;
use std::time::Duration;

use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;
use wrangle_sync::{KeyedFifoLockout, KeyedLimiter, KeyedLockout};

const KEYS: u64 = 1_000_000;
const MIB: u64 = 1024 * 1024;

/// Resident memory in bytes (resident pages of `/proc/self/statm`), or `None` off Linux.
fn resident() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Asserts that what `fill` allocated for a million keys is gone once `empty` ran.
fn assert_given_back(what: &str, before: Option<u64>, len: usize) {
    assert_eq!(len, 0, "{what}: not emptied");
    // Under a sanitizer (`cargo xtask asan`), shadow memory and the sanitizer's allocator stay
    // resident after a free: the bound measures them, not the tables.
    if std::env::var_os("WRANGLE_SANITIZER").is_some() {
        return;
    }
    if let (Some(before), Some(after)) = (before, resident()) {
        let kept = after.saturating_sub(before);
        // One million (u64, state) entries are 20 to 40 MiB; was: all of it kept.
        assert!(
            kept < 8 * MIB,
            "{what}: {} MiB still resident with the table empty",
            kept / MIB
        );
    }
}

const CHILD: &str = "WRANGLE_KEYED_MEMORY_CHILD";

#[test]
fn a_million_keys_that_come_and_go_leave_no_memory_behind() {
    if std::env::var_os(CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "a_million_keys_that_come_and_go_leave_no_memory_behind",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env(
                "GLIBC_TUNABLES",
                "glibc.malloc.mmap_threshold=131072:glibc.malloc.mxfast=0:\
                 glibc.malloc.tcache_count=0",
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    each_runtime(|rt| async move {
        let one = NonZeroU32::MIN;
        let second = Duration::from_secs(1);
        // Past every entry's expiry, with a margin for the cheap clock the limiter reads on
        // real runtimes (not the one their timers use).
        let expired = second + second / 10;

        let before = resident();
        let limiter = KeyedLimiter::with_runtime(rt.clone(), one, second, one).unwrap();
        for key in 0..KEYS {
            limiter.check(&key).unwrap();
        }
        assert!(!limiter.is_empty());
        rt.sleep(expired).await;
        limiter.retain_recent();
        assert_given_back("KeyedLimiter", before, limiter.len());
        // Still limits afterwards.
        limiter.check(&7).unwrap();
        assert!(limiter.check(&7).is_err());

        let before = resident();
        let lockouts = KeyedLockout::with_runtime(rt.clone());
        for key in 0..KEYS {
            lockouts.lockout_for(key, second);
        }
        rt.sleep(expired).await;
        lockouts.retain_recent();
        assert_given_back("KeyedLockout", before, lockouts.len());

        // A quarter of the keys: each FIFO gate also allocates its turn semaphore, and the
        // table alone (about 15 MiB here) is still well above the bound.
        let before = resident();
        let gates = KeyedFifoLockout::with_runtime(rt.clone());
        for key in 0..KEYS / 4 {
            gates.lockout_for(key, second);
        }
        rt.sleep(expired).await;
        gates.retain_recent();
        assert_given_back("KeyedFifoLockout", before, gates.len());
        // Keys that come and go one at a time through `enter` leave nothing either.
        for key in 0..1000_u64 {
            drop(gates.enter(key).await);
        }
        assert!(gates.is_empty());
    });
}

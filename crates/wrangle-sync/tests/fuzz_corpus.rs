//! Replays the committed fuzz corpora (`tests/fuzz_corpus/<target>/`, inside the package so
//! its tests pass from the published `.crate`) and a few hundred seeded
//! pseudo-random inputs through the op-sequence harnesses, so the stable test suite checks
//! what the nightly fuzzer found (R14). See `fuzz_harness/mod.rs`.

mod fuzz_harness;

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let data = std::fs::read(&path).expect("corpus file");
            (path, data)
        })
        .collect();
    files.sort();
    files
}

/// Deterministic inputs: lengths 0..=600, bytes from a xorshift generator.
fn seeded(count: u64) -> impl Iterator<Item = Vec<u8>> {
    (0..count).map(|i| {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ (i.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let len = (next() % 601) as usize;
        (0..len).map(|_| next() as u8).collect()
    })
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = corpus(target);
    assert!(!files.is_empty(), "the {target} corpus is empty");
    for (path, data) in files {
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "corpus file {} diverged", path.display());
    }
}

#[test]
fn semaphore_corpus_replays() {
    replay("semaphore_ops", fuzz_harness::semaphore::run);
}

#[test]
fn semaphore_seeded_inputs() {
    for data in seeded(400) {
        fuzz_harness::semaphore::run(&data);
    }
}

#[test]
fn batcher_corpus_replays() {
    replay("batcher_ops", fuzz_harness::batcher::run);
}

#[test]
fn batcher_seeded_inputs() {
    for data in seeded(300) {
        fuzz_harness::batcher::run(&data);
    }
}

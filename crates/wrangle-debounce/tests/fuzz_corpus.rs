//! R14: replays the kept corpus of the `debounce_ops` fuzz target (`tests/fuzz_corpus/debounce_ops/`,
//! inside this crate so that the packaged crate replays it too) and a few hundred seeded
//! pseudo-random inputs through the op-sequence harness (`fuzz_harness/`), so the stable test
//! suite checks what the fuzzer found.

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

/// Deterministic inputs: lengths 0..=400, bytes from a xorshift generator.
fn seeded(count: u64) -> impl Iterator<Item = Vec<u8>> {
    (0..count).map(|i| {
        let mut x = 0x2545_f491_4f6c_dd1d_u64 ^ (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let len = (next() % 401) as usize;
        (0..len).map(|_| next() as u8).collect()
    })
}

#[test]
fn debounce_corpus_replays() {
    let files = corpus("debounce_ops");
    assert!(!files.is_empty(), "the debounce_ops corpus is empty");
    for (path, data) in files {
        let outcome = std::panic::catch_unwind(|| fuzz_harness::run(&data));
        assert!(outcome.is_ok(), "corpus file {} diverged", path.display());
    }
}

#[test]
fn debounce_seeded_inputs() {
    for data in seeded(400) {
        fuzz_harness::run(&data);
    }
}

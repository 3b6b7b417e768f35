//! R14: replays the kept corpus of the `debounce_ops` fuzz target (`tests/fuzz_corpus/debounce_ops/`,
//! inside this crate so that the packaged crate replays it too) and a few hundred seeded
//! pseudo-random inputs through the op-sequence harness (`fuzz_harness/`), so the stable test
//! suite checks what the fuzzer found.

mod fuzz_harness;

use wrangle_rt::testing::{replay_fuzz_corpus, seeded_inputs};

/// Deterministic inputs of up to 400 bytes.
fn seeded(count: u64) -> impl Iterator<Item = Vec<u8>> {
    seeded_inputs(count, 400, 0x2545_f491_4f6c_dd1d)
}

fn replay(target: &str, run: fn(&[u8])) {
    replay_fuzz_corpus(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz_corpus")
            .join(target),
        run,
    );
}

#[test]
fn debounce_corpus_replays() {
    replay("debounce_ops", fuzz_harness::run);
}

#[test]
fn debounce_seeded_inputs() {
    for data in seeded(400) {
        fuzz_harness::run(&data);
    }
}

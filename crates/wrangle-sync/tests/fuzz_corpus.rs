//! Replays the committed fuzz corpora (`tests/fuzz_corpus/<target>/`, inside the package so
//! its tests pass from the published `.crate`) and a few hundred seeded
//! pseudo-random inputs through the op-sequence harnesses, so the stable test suite checks
//! what the nightly fuzzer found (R14). See `fuzz_harness/mod.rs`.

mod fuzz_harness;

use wrangle_rt::testing::{replay_fuzz_corpus, seeded_inputs};

/// Deterministic inputs of up to 600 bytes.
fn seeded(count: u64) -> impl Iterator<Item = Vec<u8>> {
    seeded_inputs(count, 600, 0x9e37_79b9_7f4a_7c15)
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

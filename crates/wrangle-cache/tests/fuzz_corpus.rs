//! R14: replays the committed fuzz corpus (`tests/fuzz_corpus/cache_ops/`, kept inside this
//! crate) and a few hundred seeded pseudo-random inputs through the op-sequence harness, so
//! the stable test suite checks what the nightly fuzzer found. See `fuzz_harness/mod.rs`.

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
fn cache_corpus_replays() {
    replay("cache_ops", fuzz_harness::cache::run);
}

#[test]
fn cache_seeded_inputs() {
    for data in seeded(400) {
        fuzz_harness::cache::run(&data);
    }
}

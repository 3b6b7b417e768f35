//! libFuzzer target: op sequences against the debouncer and stream-adaptor models (see the
//! harness). The corpus is kept in `crates/wrangle-debounce/tests/fuzz_corpus/debounce_ops/`.

#![no_main]

#[allow(dead_code)]
#[path = "../../crates/wrangle-debounce/tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::run(data));

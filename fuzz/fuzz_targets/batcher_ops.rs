//! libFuzzer target: op sequences against the batcher model (see the harness).

#![no_main]

#[allow(dead_code)]
#[path = "../../crates/wrangle-sync/tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::batcher::run(data));

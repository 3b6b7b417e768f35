//! libFuzzer target: op sequences against the semaphore model (see the harness).

#![no_main]

#[allow(dead_code)]
#[path = "../../crates/wrangle-sync/tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::semaphore::run(data));

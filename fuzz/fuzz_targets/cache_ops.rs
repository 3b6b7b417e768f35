//! libFuzzer target: op sequences against the cache models (see the harness). Its corpus is
//! kept in the crate: `crates/wrangle-cache/tests/fuzz_corpus/cache_ops/`.

#![no_main]

#[allow(dead_code)]
#[path = "../../crates/wrangle-cache/tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::cache::run(data));

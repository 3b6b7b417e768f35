//! Op-sequence harnesses shared by the cargo-fuzz target (`fuzz/`, nightly) and the stable
//! corpus replay (`tests/fuzz_corpus.rs`).
//!
//! A harness decodes a byte string into a bounded sequence of operations with [`Bytes`],
//! drives the real cache on virtual time, compares it with a small reference model after
//! every step and panics on the first divergence. Any byte string is a valid input: running
//! out of bytes ends the sequence.

pub(crate) mod cache;

/// At most this many operations are decoded from one input.
pub(crate) const MAX_OPS: usize = 256;

/// A tiny decoder over the fuzzer's bytes: every read past the end yields `None` (or 0).
#[derive(Debug)]
pub(crate) struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    /// The next byte, if any.
    pub(crate) fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(first)
    }

    /// The next byte, or 0 past the end.
    pub(crate) fn byte(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }
}

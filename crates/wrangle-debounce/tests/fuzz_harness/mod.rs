//! The op-sequence harness shared by the cargo-fuzz target `debounce_ops` (`fuzz/` at the
//! workspace root, nightly) and the stable replay of the kept corpus (`tests/fuzz_corpus.rs`).
//!
//! [`run`] decodes a byte string into a configuration and a bounded schedule of operations
//! (calls and flushes at whole milliseconds), drives the real type on virtual time, and
//! panics on the first divergence from the reference models of `tests/common/model.rs`. Any
//! byte string is a valid input: running out of bytes ends the schedule.

#[path = "../common/mod.rs"]
mod common;

use common::harness;
use common::model::{self, ModelMode, Op};

/// At most this many operations are decoded from one input.
pub(crate) const MAX_OPS: usize = 200;

/// A tiny decoder over the fuzzer's bytes: every read past the end yields 0.
#[derive(Debug)]
struct Bytes<'a> {
    data: &'a [u8],
}

impl Bytes<'_> {
    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(first)
    }

    fn byte(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }
}

/// What the input drives.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A `Debouncer` or `AsyncDebouncer` in this mode, whose function takes `takes` ms.
    Debouncer { mode: ModelMode, takes: u64 },
    /// A `Debounce` (or `Throttle`) stream.
    Stream { mode: ModelMode, throttle: bool },
}

/// Runs one input; panics on a divergence from the model.
pub(crate) fn run(data: &[u8]) {
    let mut input = Bytes { data };
    let window = 1 + u64::from(input.byte() % 20);
    let flags = input.byte();
    let extra = u64::from(input.byte() % 30);
    let max_wait = (flags & 0x10 != 0).then_some(window + extra);
    let target = match flags % 8 {
        0 => Target::Debouncer {
            mode: ModelMode::Eager,
            takes: extra % 16,
        },
        1 => Target::Debouncer {
            mode: ModelMode::Lazy,
            takes: extra % 16,
        },
        2 => Target::Debouncer {
            mode: ModelMode::EagerLazy,
            takes: extra % 16,
        },
        3 => Target::Debouncer {
            mode: ModelMode::Deferred,
            takes: extra % 16,
        },
        4 | 5 => Target::Debouncer {
            mode: ModelMode::Lodash {
                leading: flags & 0x20 != 0,
                trailing: true,
                max_wait,
            },
            takes: extra % 16,
        },
        6 => {
            let (leading, trailing) = match (flags >> 5) % 3 {
                0 => (false, true),
                1 => (true, false),
                _ => (true, true),
            };
            Target::Stream {
                mode: ModelMode::Lodash {
                    leading,
                    trailing,
                    max_wait,
                },
                throttle: false,
            }
        }
        _ => Target::Stream {
            mode: ModelMode::Lodash {
                leading: flags & 0x20 == 0,
                trailing: flags & 0x40 == 0 || flags & 0x20 != 0,
                max_wait: Some(window),
            },
            throttle: true,
        },
    };
    let mut ops = Vec::new();
    let mut t = 0;
    let mut arg = 0;
    while ops.len() < MAX_OPS {
        let Some(op) = input.next() else { break };
        t += u64::from(input.byte() % 25);
        // Streams have no flush: every op is an item.
        if op % 8 == 7 && matches!(target, Target::Debouncer { .. }) {
            ops.push((t, Op::Flush));
        } else {
            ops.push((t, Op::Call(arg)));
            arg += 1;
        }
    }
    match target {
        Target::Debouncer { mode, takes } => {
            let mut want = model::debouncer_ops(mode, window, &ops);
            want.runs.sort_unstable();
            let got = harness::debouncer_ops(mode, window, takes, &ops);
            if mode == ModelMode::Deferred {
                assert_eq!(got.runs, want.runs, "{mode:?} window {window} ops {ops:?}");
            } else {
                assert_eq!(
                    got, want,
                    "{mode:?} window {window} takes {takes} ops {ops:?}"
                );
            }
        }
        Target::Stream { mode, throttle } => {
            let items: Vec<(u64, u32)> = ops
                .iter()
                .filter_map(|&(t, op)| match op {
                    Op::Call(a) => Some((t, a)),
                    Op::Flush => None,
                })
                .collect();
            let end = t + extra;
            let want = model::lodash(mode, window, &items, Some(end)).runs;
            let got = harness::stream(mode, throttle, window, &items, end);
            assert_eq!(
                got, want,
                "{mode:?} throttle {throttle} window {window} items {items:?}"
            );
        }
    }
}

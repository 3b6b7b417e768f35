//! Criterion benchmarks of wrangle against its peers. See `docs/benchmarks.md`.
//!
//! Each scenario is one benchmark group named as in `docs/benchmarks.md`; inside it the
//! function `wrangle` (or `wrangle_<peer>` when one group holds several adapters) is ours and
//! every other function is a peer, measured in the same run.

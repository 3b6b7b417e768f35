//! Where a [`Concurrent`](crate::Concurrent) or [`ConcurrentInline`](crate::ConcurrentInline)
//! runner takes its futures from: an iterator, a stream, or a stream of `Result`s. The
//! constructors pick the source (`new`, `from_stream`, `from_try_stream`); these types appear
//! only in the runners' type parameters.

pub use crate::concurrent::source::{IterSource, Source, StreamSource, TryStreamSource};

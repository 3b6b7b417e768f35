//! Debounce and throttle adaptors for any [`Stream`].

mod debounce;
mod throttle;

use std::time::Duration;

use futures_lite::Stream;

use crate::InvalidDebounceConfig;

pub use debounce::{Debounce, DebounceBuilder, StreamDebounceStats};
pub use throttle::{Throttle, ThrottleBuilder};

/// `debounce` and `throttle` for every [`Stream`], on the [current
/// runtime](wrangle_rt::DefaultRuntime::current). For a leading edge, a maximum wait or
/// another runtime, use [`DebounceBuilder`] and [`ThrottleBuilder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures_lite::{StreamExt, stream};
/// use wrangle_debounce::DebounceStreamExt;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// rt.block_on(async {
///     // A burst of ready items settles on the last one.
///     let settled: Vec<u32> = stream::iter(1..=100)
///         .debounce(Duration::from_millis(10))
///         .unwrap()
///         .collect()
///         .await;
///     assert_eq!(settled, [100]);
/// });
/// ```
pub trait DebounceStreamExt: Stream + Sized {
    /// Emits an item once no newer one has arrived for `window` (lodash's trailing
    /// `debounce`); at the end of the stream the item still waiting is emitted at once.
    ///
    /// # Examples
    ///
    /// See [`DebounceStreamExt`] and [`DebounceBuilder`].
    ///
    /// # Errors
    ///
    /// [`InvalidDebounceConfig::ZeroWindow`] or [`InvalidDebounceConfig::OutOfRange`].
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`](wrangle_rt::DefaultRuntime::current)).
    fn debounce(self, window: Duration) -> Result<Debounce<Self>, InvalidDebounceConfig> {
        DebounceBuilder::new(window).build(self)
    }

    /// Emits the first item at once, then at most one item (the latest) per `window`
    /// (lodash's `throttle`, leading and trailing).
    ///
    /// # Examples
    ///
    /// See [`ThrottleBuilder`].
    ///
    /// # Errors
    ///
    /// [`InvalidDebounceConfig::ZeroWindow`] or [`InvalidDebounceConfig::OutOfRange`].
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`](wrangle_rt::DefaultRuntime::current)).
    fn throttle(self, window: Duration) -> Result<Throttle<Self>, InvalidDebounceConfig> {
        ThrottleBuilder::new(window).build(self)
    }
}

impl<S: Stream> DebounceStreamExt for S {}

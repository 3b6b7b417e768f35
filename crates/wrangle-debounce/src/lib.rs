//! Runtime-agnostic debouncing: a debouncer whose coalesced callers share one result, a
//! fire-and-forget debouncer, and debounce/throttle adaptors for any stream, with lodash's
//! `leading`, `trailing` and `maxWait` as well as the seed library's eager and lazy modes.
//!
//! - [`Debouncer`]: wraps an async function shared by every caller. Calls close together run
//!   it once, and every coalesced caller gets that run's result, error or panic. Modes:
//!   **eager** (leading edge), **lazy** (one run at the end of a fixed window opened by the
//!   first call), **eager + lazy**, and **trailing** (the classic debounce: every call
//!   restarts the window), the last with an optional leading edge and **max wait**.
//! - [`AsyncDebouncer`]: fire-and-forget, leading and trailing; a call says whether it ran or
//!   was deferred; failures go to the error reporter; [`flush`](AsyncDebouncer::flush);
//!   reusable after [`shutdown`](AsyncDebouncer::shutdown).
//! - [`DebounceStreamExt`]: [`debounce`](DebounceStreamExt::debounce) (trailing, leading,
//!   both, max wait: [`DebounceBuilder`]) and [`throttle`](DebounceStreamExt::throttle)
//!   ([`ThrottleBuilder`]) for any [`Stream`](futures_lite::Stream), each on one resettable
//!   sleep moved at most once per window.
//!
//! # The modes side by side
//!
//! A window of 100 ms and four calls (or stream items) `a` to `d` at 0, 50, 90 and 120 ms.
//! Each row shows when the function runs (or the stream emits), with which call's arguments,
//! and what each caller of a [`Debouncer`] gets back:
//!
//! ```text
//! time (ms)       0    50   100  150  200  250
//!                 |----|----|----|----|----|
//! calls           a    b   c  d
//! eager           a           d              a b c -> a   d -> d
//! lazy                      c           d    a b c -> c   d -> d
//! eager + lazy    a         c         d      a -> a   b c -> c   d -> d
//! trailing                              d    a b c d -> d
//! throttle        a         c           d
//! ```
//!
//! - **eager**: `a` runs at once; `b` and `c` fall in the 100 ms after `a` started and share
//!   its result; `d` is outside it and runs at once.
//! - **lazy** (the seed's fixed window): `a` opens a window that later calls do not extend;
//!   at 100 ms one run with the latest arguments (`c`) answers `a`, `b` and `c`; `d` opens a
//!   new window, run at 220 ms.
//! - **eager + lazy**: `a` runs at once; `b` and `c` wait for one trailing run at the end of
//!   `a`'s window; `d` falls in the window of that run (100 to 200 ms) and waits for its end.
//! - **trailing** (lodash's `debounce`): every call restarts the window; the function runs
//!   once the calls have been quiet for 100 ms, with `d`.
//! - **throttle** (lodash's `throttle`, stream adaptor): at most one per window, the first at
//!   once and then the latest of each window.
//!
//! # Examples
//!
//! A settings page saves at most once per second while the user types, and every save
//! request learns whether the save that covered it worked.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use wrangle_debounce::Debouncer;
//! use wrangle_rt::{Runtime, VirtualRuntime};
//!
//! let rt = VirtualRuntime::new();
//! let start = rt.now();
//! let saved = Arc::new(Mutex::new(Vec::new()));
//! rt.block_on(async {
//!     let store = Arc::clone(&saved);
//!     let save = Debouncer::builder(Duration::from_secs(1))
//!         .eager(true)
//!         .lazy(true)
//!         .build(move |text: String| {
//!             let store = Arc::clone(&store);
//!             async move {
//!                 store.lock().unwrap().push(text.clone());
//!                 // Each coalesced caller gets a clone of the result: an `Arc` shares the error.
//!                 Ok::<_, Arc<std::io::Error>>(text.len())
//!             }
//!         })
//!         .unwrap();
//!     let mut requests = Vec::new();
//!     for text in ["h", "he", "hel", "hell", "hello"] {
//!         requests.push(save.call(text.to_owned()));
//!         rt.sleep(Duration::from_millis(300)).await;
//!     }
//!     let mut lengths = Vec::new();
//!     for r in requests {
//!         lengths.push(r.await.unwrap());
//!     }
//!     // "h" saved at once; "he".."hell" by one save at 1 s; "hello" (at 1.2 s) at 2 s.
//!     assert_eq!(lengths, [1, 4, 4, 4, 5]);
//!     save.shutdown().await;
//! });
//! assert_eq!(*saved.lock().unwrap(), ["h", "hell", "hello"]);
//! assert_eq!(rt.now() - start, Duration::from_secs(2));
//! ```
//!
//! # Cancel safety
//!
//! A run is a task owned by its debouncer, never a caller's future: dropping a caller,
//! including the one whose call started the run or whose call opened the window it waits
//! for, neither cancels the run nor leaves the other callers waiting. Dropping a debouncer
//! cancels its pending and running calls, and their callers get
//! [`DebounceError::Cancelled`]. Each async operation documents its own cancel safety.
//!
//! # Features
//!
//! This crate has no features of its own: runtimes are chosen through `wrangle-rt`'s features
//! (or the `wrangle` facade's).
//!
//! # Runtime support
//!
//! Everything works on every runtime `wrangle-rt` supports, and exactly on its virtual-time
//! runtime in tests: time is read and slept on only through a [`wrangle_rt::Runtime`]
//! (default [`DefaultRuntime`](wrangle_rt::DefaultRuntime)), and runs are spawned on it.
//!
//! # When not to use this
//!
//! To limit how many calls run at once, use a semaphore or a pool; to run every call but
//! space them out, use a rate limiter. A debouncer drops or merges calls on purpose.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod async_debouncer;
mod debouncer;
mod engine;
mod error;
pub mod future;
mod lodash;
mod loom;
mod slot;
mod stream;

pub use async_debouncer::{AsyncDebouncer, AsyncDebouncerBuilder, AsyncDebouncerStats, Called};
pub use debouncer::{Debouncer, DebouncerBuilder, DebouncerStats};
pub use error::{DebounceError, InvalidDebounceConfig, MAX_WINDOW};
pub(crate) use error::{check_max_wait, check_window};
pub use stream::{
    Debounce, DebounceBuilder, DebounceStreamExt, StreamDebounceStats, Throttle, ThrottleBuilder,
};

//! Run one async test body on every enabled runtime.
//!
//! Every behaviour test in wrangle goes through [`each_runtime`]: the body runs on Tokio
//! current-thread, Tokio multi-thread, smol, async-std and the virtual-time runtime, each as the
//! features of the build allow. Timing assertions belong on virtual time
//! ([`DefaultRuntime::is_virtual`], or [`virtual_time`]), where they are exact.
//!
//! Set `WRANGLE_TEST_RUNTIMES` (comma-separated names from [`RuntimeKind::name`]) to run a
//! subset, and `WRANGLE_VIRTUAL_SEED` to change the virtual runtime's scheduling seed.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use crate::{DefaultRuntime, VirtualRuntime};

/// With the `tracing` feature: a subscriber that records spans and their events, for tests
/// of the crates' spans.
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use crate::span_recorder::{RecordedSpan, SpanRecorder};

/// The seed the virtual runtime uses in tests unless `WRANGLE_VIRTUAL_SEED` says otherwise.
pub const DEFAULT_SEED: u64 = 0x5EED;

/// A runtime flavour [`each_runtime`] can run a body on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuntimeKind {
    /// Tokio's current-thread runtime.
    TokioCurrentThread,
    /// Tokio's multi-thread runtime, with two workers.
    TokioMultiThread,
    /// smol's global executor, driven by `smol::block_on`.
    Smol,
    /// async-std (legacy).
    AsyncStd,
    /// [`VirtualRuntime`], seeded.
    Virtual,
}

impl RuntimeKind {
    /// Every flavour, enabled or not.
    pub const ALL: [RuntimeKind; 5] = [
        RuntimeKind::TokioCurrentThread,
        RuntimeKind::TokioMultiThread,
        RuntimeKind::Smol,
        RuntimeKind::AsyncStd,
        RuntimeKind::Virtual,
    ];

    /// The flavour's name: `tokio-ct`, `tokio-mt`, `smol`, `async-std`, `virtual`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(wrangle_rt::testing::RuntimeKind::Virtual.name(), "virtual");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::TokioCurrentThread => "tokio-ct",
            RuntimeKind::TokioMultiThread => "tokio-mt",
            RuntimeKind::Smol => "smol",
            RuntimeKind::AsyncStd => "async-std",
            RuntimeKind::Virtual => "virtual",
        }
    }

    /// Whether this build has the flavour's feature.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(wrangle_rt::testing::RuntimeKind::Virtual.is_compiled());
    /// ```
    #[must_use]
    pub fn is_compiled(self) -> bool {
        match self {
            RuntimeKind::TokioCurrentThread | RuntimeKind::TokioMultiThread => {
                cfg!(feature = "runtime-tokio")
            }
            RuntimeKind::Smol => cfg!(feature = "runtime-smol"),
            RuntimeKind::AsyncStd => cfg!(feature = "runtime-async-std"),
            RuntimeKind::Virtual => true,
        }
    }

    /// The flavours [`each_runtime`] uses: compiled in, and selected by
    /// `WRANGLE_TEST_RUNTIMES` when it is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::testing::RuntimeKind;
    /// assert!(RuntimeKind::enabled().iter().all(|k| k.is_compiled()));
    /// ```
    #[must_use]
    pub fn enabled() -> Vec<RuntimeKind> {
        let filter = std::env::var("WRANGLE_TEST_RUNTIMES").ok();
        RuntimeKind::ALL
            .into_iter()
            .filter(|k| k.is_compiled())
            .filter(|k| {
                filter
                    .as_deref()
                    .is_none_or(|f| f.split(',').any(|n| n.trim() == k.name()))
            })
            .collect()
    }
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn seed() -> u64 {
    std::env::var("WRANGLE_VIRTUAL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// Runs `body` on one runtime flavour and returns its output.
///
/// The body gets the runtime as a [`DefaultRuntime`]; [`DefaultRuntime::current`] inside it
/// returns the same runtime. For the virtual runtime, tasks still pending at the end are
/// dropped ([`VirtualRuntime::abort`]).
///
/// # Examples
///
/// ```
/// use wrangle_rt::Runtime;
/// use wrangle_rt::testing::{RuntimeKind, run_on};
///
/// let n = run_on(RuntimeKind::Virtual, |rt| async move { rt.spawn(async { 3 }).await.unwrap() });
/// assert_eq!(n, 3);
/// ```
///
/// # Panics
///
/// If the flavour is not compiled into this build, or its runtime cannot be started; and
/// whenever `body` panics.
pub fn run_on<F, Fut>(kind: RuntimeKind, body: F) -> Fut::Output
where
    F: FnOnce(DefaultRuntime) -> Fut,
    Fut: Future,
{
    match kind {
        #[cfg(feature = "runtime-tokio")]
        RuntimeKind::TokioCurrentThread | RuntimeKind::TokioMultiThread => {
            let mut builder = if kind == RuntimeKind::TokioCurrentThread {
                tokio::runtime::Builder::new_current_thread()
            } else {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(2);
                b
            };
            let runtime = builder.enable_all().build().expect("failed to start Tokio");
            let rt =
                DefaultRuntime::Tokio(crate::adapter::TokioRuntime::new(runtime.handle().clone()));
            let out = runtime.block_on(body(rt));
            // Do not wait for blocking work a test left behind.
            runtime.shutdown_background();
            out
        }
        #[cfg(feature = "runtime-smol")]
        RuntimeKind::Smol => smol::block_on(body(DefaultRuntime::Smol(
            crate::adapter::SmolRuntime::new(),
        ))),
        #[cfg(feature = "runtime-async-std")]
        RuntimeKind::AsyncStd => async_std::task::block_on(body(DefaultRuntime::AsyncStd(
            crate::adapter::AsyncStdRuntime::new(),
        ))),
        RuntimeKind::Virtual => {
            let rt = VirtualRuntime::builder().seed(seed()).build();
            let out = rt.block_on(body(DefaultRuntime::Virtual(rt.clone())));
            rt.abort();
            out
        }
        #[allow(unreachable_patterns)] // Reached only for flavours not compiled in.
        other => panic!("runtime {other} is not compiled into this build"),
    }
}

/// Runs `body` once on every enabled runtime flavour ([`RuntimeKind::enabled`]).
///
/// A failure names the runtime it happened on.
///
/// # Examples
///
/// ```
/// use wrangle_rt::Runtime;
///
/// wrangle_rt::testing::each_runtime(|rt| async move {
///     let h = rt.spawn(async { 1 + 1 });
///     assert_eq!(h.await.unwrap(), 2);
/// });
/// ```
///
/// # Panics
///
/// When `body` panics on any runtime, with the runtime's name in the message.
pub fn each_runtime<F, Fut>(body: F)
where
    F: Fn(DefaultRuntime) -> Fut,
    Fut: Future<Output = ()>,
{
    for kind in RuntimeKind::enabled() {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| run_on(kind, &body))) {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned());
            match message {
                Some(m) => panic!("[runtime {kind}] {m}"),
                None => resume_unwind(payload),
            }
        }
    }
}

/// Runs `body` on a fresh, seeded [`VirtualRuntime`], for tests that assert exact timing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_rt::Runtime;
///
/// wrangle_rt::testing::virtual_time(|rt| async move {
///     let start = rt.now();
///     rt.sleep(Duration::from_secs(90)).await;
///     assert_eq!(rt.now() - start, Duration::from_secs(90));
/// });
/// ```
pub fn virtual_time<F, Fut>(body: F) -> Fut::Output
where
    F: FnOnce(VirtualRuntime) -> Fut,
    Fut: Future,
{
    let rt = VirtualRuntime::builder().seed(seed()).build();
    let out = rt.block_on(body(rt.clone()));
    rt.abort();
    out
}

/// Replays every file of a committed fuzz corpus directory through `run`, in name order, so
/// the stable test suite checks what the nightly fuzzer found (R14).
///
/// # Panics
///
/// If the directory cannot be read or holds no file (an empty corpus checks nothing), or
/// naming the first file whose run panicked.
pub fn replay_fuzz_corpus(dir: impl AsRef<std::path::Path>, run: impl Fn(&[u8])) {
    let dir = dir.as_ref();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    for path in files {
        let data = std::fs::read(&path).expect("corpus file");
        let outcome = catch_unwind(AssertUnwindSafe(|| run(&data)));
        assert!(outcome.is_ok(), "corpus file {} diverged", path.display());
    }
}

/// `count` deterministic pseudo-random fuzz inputs of `0..=max_len` bytes (xorshift from
/// `seed`), for the inputs a corpus does not hold yet.
pub fn seeded_inputs(count: u64, max_len: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
    (0..count).map(move |i| {
        let mut x = seed ^ (i.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let len = (next() % (max_len as u64 + 1)) as usize;
        (0..len).map(|_| next() as u8).collect()
    })
}

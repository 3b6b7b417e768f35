//! The rate limiters: [`RateLimiter`] (a sliding window: N per period), [`GcraLimiter`]
//! (rate + burst, lock-free `check`) and [`KeyedLimiter`] (GCRA per key, bounded memory).
//! All three report [`LimiterStats`].

mod error;
mod gcra;
mod jitter;
mod keyed;
mod quota;
mod reserve_wait;
mod sliding_window;

pub use error::{InsufficientCapacity, InvalidQuota, RateLimited};
pub use gcra::{GcraAcquire, GcraLimiter};
pub use keyed::{KeyedAcquire, KeyedLimiter};
pub use quota::Quota;
pub use sliding_window::{RateAcquire, RateLimiter};

/// A snapshot of a rate limiter's counters: [`RateLimiter`], [`GcraLimiter`] or
/// [`KeyedLimiter`].
///
/// Invariants: `admitted` counts each admission once, and a slot given back by a cancelled
/// waiter moves from `admitted` to `refunded` (so `admitted + refunded` never falls);
/// `keys == 0` for the unkeyed limiters. A [`GcraLimiter`] does not count the admissions of
/// its lock-free `check` (an atomic counter would cost as much as the check itself: one
/// clock read and one compare-and-swap), only the slots its `acquire` reserves; count `Ok`s
/// yourself where you need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LimiterStats {
    /// Calls admitted by `check`, or with a slot reserved by `acquire`, so far, less the
    /// slots given back.
    pub admitted: u64,
    /// `check` calls refused (api.md's `skipped`: not run, on purpose).
    pub skipped: u64,
    /// Waiters dropped before their slot whose slot was given back.
    pub refunded: u64,
    /// Keys in a [`KeyedLimiter`]'s table now (gauge; see its `len`); 0 for the others.
    pub keys: usize,
}

//! What the store keeps per key: the value and its deadlines on the runtime's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Deadlines are nanoseconds of [`Runtime::monotonic_nanos`](wrangle_rt::Runtime::monotonic_nanos);
/// `NEVER` means none.
pub(crate) const NEVER: u64 = u64::MAX;

#[derive(Clone)]
pub(crate) struct Entry<V> {
    pub(crate) value: V,
    /// Tells this entry from a newer one under the same key (for `remove_if`).
    pub(crate) id: u64,
    /// Weight computed once, before any lock is taken.
    pub(crate) weight: u64,
    /// Expired at and after this instant (the end of the load plus the time to live).
    pub(crate) expires_at: u64,
    /// Refresh-ahead starts at and after this instant.
    pub(crate) refresh_at: u64,
    /// Last read, with a time-to-idle only: the one thing a read writes, and only then.
    pub(crate) touched: Option<Arc<AtomicU64>>,
}

impl<V> Entry<V> {
    /// The entry a cache without deadlines or weights would have built for `value` (what
    /// a [bare store](crate::store::BareStore) hands out). Its id is never compared: only
    /// expired entries are removed by id, and it never expires.
    pub(crate) fn timeless(value: V) -> Self {
        Entry {
            value,
            id: 0,
            weight: 1,
            expires_at: NEVER,
            refresh_at: NEVER,
            touched: None,
        }
    }

    /// Whether the entry may be served at `now` given the time-to-idle `idle` (nanoseconds).
    pub(crate) fn is_fresh(&self, now: u64, idle: u64) -> bool {
        if now >= self.expires_at {
            return false;
        }
        match &self.touched {
            Some(touched) => now < touched.load(Ordering::Relaxed).saturating_add(idle),
            None => true,
        }
    }

    /// Records a read at `now` (time-to-idle only).
    pub(crate) fn touch(&self, now: u64) {
        if let Some(touched) = &self.touched {
            touched.fetch_max(now, Ordering::Relaxed);
        }
    }
}

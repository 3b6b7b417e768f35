//! Keys whose `Hash` panics (user code inside the keyed tables), on every runtime: a panic in
//! a call reaches that caller; a panic inside a guard's or future's drop is reported, never
//! raised from the destructor, and the table goes on working.
//!
//! A file of its own: it installs the process-wide error handler.

use std::hash::{Hash, Hasher};
use std::num::NonZeroU32;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_lite::future::poll_once;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{PanicPayload, Unhandled};
use wrangle_sync::{KeyedFifoLockout, KeyedLimiter};

/// While set, hashing key 13 panics.
static ARMED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Key(u32);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        assert!(
            !(ARMED.load(Ordering::SeqCst) && self.0 == 13),
            "hash panicked"
        );
        self.0.hash(state);
    }
}

#[test]
fn a_panicking_key_hash_never_escapes_a_destructor() {
    let reported = Arc::new(AtomicUsize::new(0));
    wrangle_rt::set_global_error_handler({
        let reported = Arc::clone(&reported);
        move |u: Unhandled| {
            let message = u
                .error()
                .downcast_ref::<PanicPayload>()
                .and_then(|p| p.message());
            assert_eq!(message, Some("hash panicked"), "{u}");
            reported.fetch_add(1, Ordering::SeqCst);
        }
    });
    each_runtime(|rt| {
        let reported = Arc::clone(&reported);
        async move {
            ARMED.store(false, Ordering::SeqCst);
            reported.store(0, Ordering::SeqCst);
            let one = NonZeroU32::MIN;

            // A call: the panic reaches its caller, and the limiter goes on.
            // One per hour: "the key's state survived" must not depend on how fast a loaded
            // real runtime gets from one check to the next.
            let limiter =
                KeyedLimiter::with_runtime(rt.clone(), one, Duration::from_secs(3600), one)
                    .unwrap();
            limiter.check(&Key(13)).unwrap();
            ARMED.store(true, Ordering::SeqCst);
            assert!(catch_unwind(AssertUnwindSafe(|| limiter.check(&Key(13)))).is_err());
            ARMED.store(false, Ordering::SeqCst);
            assert!(limiter.check(&Key(13)).is_err(), "the key's state survived");
            limiter.check(&Key(1)).unwrap();

            // A waiting acquire dropped: its refund hashes the key inside the destructor.
            let mut waiting = Box::pin(limiter.acquire(Key(13)));
            assert!(poll_once(waiting.as_mut()).await.is_none());
            ARMED.store(true, Ordering::SeqCst);
            drop(waiting);
            ARMED.store(false, Ordering::SeqCst);
            assert_eq!(reported.load(Ordering::SeqCst), 1);

            // A FIFO guard dropped: leaving the key hashes it inside the destructor. (The
            // key's entry then keeps one user for good: a leak of one entry, not a hang.)
            let gates = KeyedFifoLockout::with_runtime(rt.clone());
            let guard = gates.enter(Key(13)).await;
            ARMED.store(true, Ordering::SeqCst);
            drop(guard);
            // And a waiter dropped before its turn.
            ARMED.store(false, Ordering::SeqCst);
            let holder = gates.enter(Key(13)).await;
            let mut queued = Box::pin(gates.enter(Key(13)));
            assert!(poll_once(queued.as_mut()).await.is_none());
            ARMED.store(true, Ordering::SeqCst);
            drop(queued);
            ARMED.store(false, Ordering::SeqCst);
            assert_eq!(reported.load(Ordering::SeqCst), 3);
            drop(holder);
            // The gates still admit that key and others.
            drop(gates.enter(Key(13)).await);
            drop(gates.enter(Key(7)).await);
        }
    });
    wrangle_rt::reset_global_error_handler();
}

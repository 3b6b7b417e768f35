//! Behaviour of `Lockout`, `FifoLockout` and `KeyedLockout` on every runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::future::poll_once;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{Runtime, yield_now};
use wrangle_sync::{FifoLockout, KeyedLockout, Lockout};

const MS: Duration = Duration::from_millis(1);

#[test]
fn seed_lockouts_of_100_and_50_ms_enter_at_100() {
    each_runtime(|rt| async move {
        let lockout = Lockout::with_runtime(rt.clone());
        let start = rt.now();
        lockout.lockout_for(100 * MS);
        lockout.lockout_for(50 * MS);
        lockout.wait().await;
        let waited = rt.now() - start;
        assert!(waited >= 100 * MS);
        if rt.is_virtual() {
            assert_eq!(waited, 100 * MS);
        }
        assert!(!lockout.is_locked());
        assert_eq!(lockout.stats().added, 2);
    });
}

#[test]
fn lockout_added_while_waiting_extends_the_wait() {
    virtual_time(|rt| async move {
        let lockout = Arc::new(Lockout::with_runtime(rt.clone()));
        let start = rt.now();
        lockout.lockout_for(10 * MS);
        let waiter = rt.spawn({
            let (lockout, rt) = (Arc::clone(&lockout), rt.clone());
            async move {
                lockout.wait().await;
                rt.now()
            }
        });
        rt.sleep(5 * MS).await;
        lockout.lockout_for(20 * MS); // until 25 ms
        assert_eq!(waiter.await.unwrap() - start, 25 * MS);
    });
}

#[test]
fn unlocked_gate_passes_immediately() {
    each_runtime(|rt| async move {
        let lockout = Lockout::with_runtime(rt.clone());
        assert!(poll_once(lockout.wait()).await.is_some());
        lockout.lockout_for(Duration::ZERO);
        assert!(poll_once(lockout.wait()).await.is_some());
    });
}

#[test]
fn fifo_admits_in_arrival_order_after_holder_exits() {
    each_runtime(|rt| async move {
        let gate = Arc::new(FifoLockout::with_runtime(rt.clone()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let holder = gate.enter().await;
        let mut tasks = Vec::new();
        for name in ["w1", "w2", "w3"] {
            let (gate2, order) = (Arc::clone(&gate), Arc::clone(&order));
            tasks.push(rt.spawn(async move {
                let _g = gate2.enter().await;
                order.lock().unwrap().push(name);
            }));
            while gate.waiting() < tasks.len() {
                yield_now().await;
            }
        }
        gate.lockout_for(30 * MS);
        order.lock().unwrap().push("holder-exit");
        drop(holder);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["holder-exit", "w1", "w2", "w3"]);
    });
}

#[test]
fn fifo_first_waiter_enters_when_lockout_expires_with_nobody_inside() {
    each_runtime(|rt| async move {
        let gate = FifoLockout::with_runtime(rt.clone());
        let start = rt.now();
        gate.lockout_for(40 * MS);
        let _g = gate.enter().await;
        let waited = rt.now() - start;
        assert!(waited >= 40 * MS);
        if rt.is_virtual() {
            assert_eq!(waited, 40 * MS);
        }
    });
}

#[test]
fn fifo_cancelled_waiter_never_enters_and_next_moves_up() {
    virtual_time(|rt| async move {
        let gate = Arc::new(FifoLockout::with_runtime(rt.clone()));
        let start = rt.now();
        gate.lockout_for(100 * MS);
        let entered = Arc::new(Mutex::new(Vec::new()));
        let spawn_waiter = |name: &'static str| {
            let (gate, entered, rt2) = (Arc::clone(&gate), Arc::clone(&entered), rt.clone());
            rt.spawn(async move {
                let _g = gate.enter().await;
                entered.lock().unwrap().push((name, rt2.now()));
            })
        };
        let first = spawn_waiter("first");
        rt.sleep(MS).await;
        let second = spawn_waiter("second");
        rt.sleep(29 * MS).await;
        // Cancelled at 30 ms, while waiting on the lockout.
        assert!(first.cancel().await.is_err());
        second.await.unwrap();
        assert_eq!(*entered.lock().unwrap(), [("second", start + 100 * MS)]);
        assert_eq!(gate.waiting(), 0);
    });
}

#[test]
fn keyed_lockouts_are_independent_and_stack_per_key() {
    each_runtime(|rt| async move {
        let lockouts = KeyedLockout::with_runtime(rt.clone());
        let start = rt.now();
        lockouts.lockout_for("a", 30 * MS);
        lockouts.lockout_for("a", 10 * MS);
        lockouts.lockout_for("b", 10 * MS);
        assert!(lockouts.is_locked("a") && lockouts.is_locked("b"));
        assert!(!lockouts.is_locked("c"));
        lockouts.wait("c").await;
        if rt.is_virtual() {
            assert_eq!(rt.now(), start);
        }
        lockouts.wait("b").await;
        if rt.is_virtual() {
            assert_eq!(rt.now() - start, 10 * MS);
        }
        assert!(lockouts.is_locked("a") || !rt.is_virtual());
        lockouts.wait("a").await;
        let waited = rt.now() - start;
        assert!(waited >= 30 * MS);
        if rt.is_virtual() {
            assert_eq!(waited, 30 * MS);
        }
    });
}

#[test]
fn keyed_table_stays_bounded_under_many_keys() {
    virtual_time(|rt| async move {
        let lockouts = KeyedLockout::with_runtime(rt.clone());
        for i in 0..100_000u32 {
            lockouts.lockout_for(i, MS);
            if i % 100 == 99 {
                rt.sleep(MS).await;
            }
        }
        // Only keys locked in the last millisecond can be live; the rest are swept.
        assert!(lockouts.len() <= 2 * 100 + 64, "len {}", lockouts.len());
    });
}

#[test]
fn debug_of_a_locked_gate_shows_its_deadline() {
    virtual_time(|rt| async move {
        let lockout = Lockout::with_runtime(rt.clone());
        lockout.lockout_for(10 * MS);
        // Upstream's repr() raises on a locked lockout.
        let shown = format!("{lockout:?}");
        assert!(shown.contains("locked_until: Some("), "{shown}");
        let gate = FifoLockout::with_runtime(rt.clone());
        gate.lockout_for(10 * MS);
        assert!(format!("{gate:?}").contains("waiting: 0"));
    });
}

//! Behaviour of `Lockout`, `FifoLockout`, `KeyedLockout` and `KeyedFifoLockout` on every
//! runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::future::poll_once;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{Runtime, yield_now};
use wrangle_sync::{FifoLockout, KeyedFifoLockout, KeyedLockout, Lockout};

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

#[test]
fn keyed_fifo_admits_in_arrival_order_per_key_after_holder_exits() {
    each_runtime(|rt| async move {
        let gates = Arc::new(KeyedFifoLockout::with_runtime(rt.clone()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let start = rt.now();
        let holder = gates.enter("a").await;
        let mut tasks = Vec::new();
        for name in ["w1", "w2", "w3"] {
            let (gates2, order, rt2) = (Arc::clone(&gates), Arc::clone(&order), rt.clone());
            tasks.push(rt.spawn(async move {
                let _g = gates2.enter("a").await;
                order.lock().unwrap().push((name, rt2.now() - start));
            }));
            while gates.waiting("a") < tasks.len() {
                yield_now().await;
            }
        }
        // Another key is neither held back by the holder nor by the queue of "a".
        drop(gates.enter("b").await);
        gates.lockout_for("a", 30 * MS);
        order
            .lock()
            .unwrap()
            .push(("holder-exit", rt.now() - start));
        drop(holder);
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        let names: Vec<&str> = order.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["holder-exit", "w1", "w2", "w3"]);
        assert!(order[1].1 >= 30 * MS);
        if rt.is_virtual() {
            let at: Vec<Duration> = order.iter().map(|(_, t)| *t).collect();
            assert_eq!(at, [Duration::ZERO, 30 * MS, 30 * MS, 30 * MS]);
        }
        assert_eq!(gates.waiting("a"), 0);
    });
}

#[test]
fn keyed_fifo_first_waiter_enters_when_lockout_expires_with_nobody_inside() {
    each_runtime(|rt| async move {
        let gates = KeyedFifoLockout::with_runtime(rt.clone());
        let start = rt.now();
        gates.lockout_for(7u32, 40 * MS);
        gates.lockout_for(8u32, 90 * MS);
        let g = gates.enter(7).await;
        let waited = rt.now() - start;
        assert!(waited >= 40 * MS);
        if rt.is_virtual() {
            assert_eq!(waited, 40 * MS);
        }
        assert_eq!(*g.key(), 7);
    });
}

#[test]
fn keyed_fifo_cancelled_waiter_never_enters_and_next_of_its_key_moves_up() {
    virtual_time(|rt| async move {
        let gates = Arc::new(KeyedFifoLockout::with_runtime(rt.clone()));
        let start = rt.now();
        gates.lockout_for("k", 100 * MS);
        let entered = Arc::new(Mutex::new(Vec::new()));
        let spawn_waiter = |name: &'static str, key: &'static str| {
            let (gates, entered, rt2) = (Arc::clone(&gates), Arc::clone(&entered), rt.clone());
            rt.spawn(async move {
                let _g = gates.enter(key).await;
                entered.lock().unwrap().push((name, rt2.now() - start));
                rt2.sleep(10 * MS).await;
            })
        };
        // `first` has the turn and waits on the lockout; `second` waits for the turn.
        let first = spawn_waiter("first", "k");
        rt.sleep(MS).await;
        let second = spawn_waiter("second", "k");
        let third = spawn_waiter("third", "k");
        let other = spawn_waiter("other", "j");
        rt.sleep(29 * MS).await;
        assert_eq!(gates.waiting("k"), 2);
        // Cancelled at 30 ms while holding the turn: it passes the turn on.
        assert!(first.cancel().await.is_err());
        // Cancelled while waiting for the turn: it gives up its place.
        assert!(third.cancel().await.is_err());
        second.await.unwrap();
        other.await.unwrap();
        assert_eq!(
            *entered.lock().unwrap(),
            [("other", MS), ("second", 100 * MS)]
        );
        assert_eq!(gates.waiting("k"), 0);
    });
}

#[test]
fn keyed_fifo_lockout_added_by_the_holder_holds_back_only_its_key() {
    each_runtime(|rt| async move {
        let gates = Arc::new(KeyedFifoLockout::with_runtime(rt.clone()));
        let start = rt.now();
        let holder = gates.enter(1u64).await;
        let next = rt.spawn({
            let (gates, rt) = (Arc::clone(&gates), rt.clone());
            async move {
                drop(gates.enter(1).await);
                rt.now()
            }
        });
        while gates.waiting(&1) < 1 {
            yield_now().await;
        }
        gates.lockout_for(1, 50 * MS); // the holder was told to back off
        drop(holder);
        drop(gates.enter(2).await);
        if rt.is_virtual() {
            assert_eq!(rt.now(), start);
        }
        let entered = next.await.unwrap() - start;
        assert!(entered >= 50 * MS);
        if rt.is_virtual() {
            assert_eq!(entered, 50 * MS);
        }
    });
}

#[test]
fn keyed_fifo_table_stays_bounded_and_empties() {
    virtual_time(|rt| async move {
        let gates = KeyedFifoLockout::with_runtime(rt.clone());
        // Entering and leaving a key without a lockout leaves no entry behind.
        for i in 0..10_000u32 {
            drop(gates.enter(i).await);
            let cancelled = gates.enter(i + 1_000_000);
            drop(cancelled);
        }
        assert!(gates.is_empty(), "len {}", gates.len());
        // Lockouts keep entries only while in force (plus one sweep's worth).
        for i in 0..100_000u32 {
            gates.lockout_for(i, MS);
            if i % 100 == 99 {
                rt.sleep(MS).await;
            }
        }
        assert!(gates.len() <= 2 * 100 + 64, "len {}", gates.len());
        // A guard keeps its key even after the lockout expired; leaving removes it.
        gates.lockout_for(u32::MAX, MS);
        let held = gates.enter(u32::MAX).await;
        rt.sleep(MS).await;
        gates.retain_recent();
        assert_eq!(gates.len(), 1);
        drop(held);
        assert!(gates.is_empty());
    });
}

#[test]
fn a_lockout_of_duration_max_saturates_instead_of_panicking() {
    each_runtime(|rt| async move {
        let far = |until: Option<std::time::Instant>| {
            until.is_some_and(|u| u - rt.now() > Duration::from_secs(20 * 365 * 24 * 3600))
        };
        let lockout = Lockout::with_runtime(rt.clone());
        lockout.lockout_for(Duration::MAX);
        assert!(far(lockout.locked_until()));
        let fifo = FifoLockout::with_runtime(rt.clone());
        fifo.lockout_for(Duration::MAX);
        assert!(fifo.is_locked());
        let keyed = KeyedLockout::with_runtime(rt.clone());
        keyed.lockout_for(1, Duration::MAX);
        assert!(far(keyed.locked_until(&1)));
        let keyed_fifo = KeyedFifoLockout::with_runtime(rt.clone());
        keyed_fifo.lockout_for(1, Duration::MAX);
        assert!(far(keyed_fifo.locked_until(&1)));
        // A waiter waits (it does not end early, and nothing panics), and can be dropped.
        let mut wait = Box::pin(lockout.wait());
        assert!(poll_once(wait.as_mut()).await.is_none());
    });
}

/// `LockoutStats` of all four gates, and its invariants: `locked <= 1` unkeyed and
/// `<= keys` keyed, `keys == 0` unkeyed, `queued == 0` for the non-FIFO gates.
#[test]
fn stats_of_every_lockout_hold_their_invariants() {
    const HOUR: Duration = Duration::from_secs(3600);
    each_runtime(|rt| async move {
        let lockout = Lockout::with_runtime(rt.clone());
        lockout.lockout_for(HOUR);
        lockout.lockout_for(2 * HOUR);
        let s = lockout.stats();
        assert_eq!((s.added, s.locked, s.keys, s.queued), (2, 1, 0, 0));

        let keyed = KeyedLockout::with_runtime(rt.clone());
        keyed.lockout_for("a", HOUR);
        keyed.lockout_for("b", HOUR);
        keyed.lockout_for("b", 2 * HOUR);
        let s = keyed.stats();
        assert_eq!((s.added, s.locked, s.keys, s.queued), (3, 2, 2, 0));

        let fifo = Arc::new(FifoLockout::with_runtime(rt.clone()));
        let guard = fifo.enter().await;
        let waiter = rt.spawn({
            let fifo = Arc::clone(&fifo);
            async move { drop(fifo.enter().await) }
        });
        while fifo.waiting() < 1 {
            yield_now().await;
        }
        let s = fifo.stats();
        assert_eq!((s.added, s.locked, s.keys, s.queued), (0, 0, 0, 1));
        drop(guard);
        waiter.await.unwrap();
        assert_eq!(fifo.stats().queued, 0);

        let gates = Arc::new(KeyedFifoLockout::with_runtime(rt.clone()));
        let guard = gates.enter("a").await;
        let waiter = rt.spawn({
            let gates = Arc::clone(&gates);
            async move { drop(gates.enter("a").await) }
        });
        while gates.waiting("a") < 1 {
            yield_now().await;
        }
        gates.lockout_for("b", HOUR);
        let s = gates.stats();
        assert_eq!((s.added, s.locked, s.keys, s.queued), (1, 1, 2, 1));
        drop(guard);
        waiter.await.unwrap();
        // "a" is idle and gone; "b" stays while its lockout is in force.
        let s = gates.stats();
        assert_eq!((s.added, s.locked, s.keys, s.queued), (1, 1, 1, 0));
    });
}

#[test]
fn keyed_lockout_stats_count_expired_entries_as_keys_not_locked_until_swept() {
    virtual_time(|rt| async move {
        let keyed = KeyedLockout::with_runtime(rt.clone());
        let gates = KeyedFifoLockout::with_runtime(rt.clone());
        for (key, ms) in [(1, 10), (2, 20), (3, 30)] {
            keyed.lockout_for(key, ms * MS);
            gates.lockout_for(key, ms * MS);
        }
        rt.advance(20 * MS).await;
        for s in [keyed.stats(), gates.stats()] {
            assert_eq!((s.added, s.locked, s.keys), (3, 1, 3));
        }
        keyed.retain_recent();
        gates.retain_recent();
        for s in [keyed.stats(), gates.stats()] {
            assert_eq!((s.added, s.locked, s.keys), (3, 1, 1));
        }
        rt.advance(10 * MS).await;
        for s in [keyed.stats(), gates.stats()] {
            assert_eq!((s.locked, s.keys), (0, 1));
            assert!(s.locked <= s.keys);
        }
    });
}

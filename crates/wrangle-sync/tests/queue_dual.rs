//! Behaviour of `DualQueue` on every runtime: orders, mixed blocking/async ends, close,
//! cancellation safety (R5), conservation (R12) and a model-based property test.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::future::poll_once;
use proptest::prelude::*;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, yield_now};
use wrangle_sync::{DualQueue, GetError, PutError, TryPutError};

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn fifo_lifo_and_priority_orders() {
    let fifo = DualQueue::unbounded();
    let lifo = DualQueue::builder().lifo().build();
    let prio = DualQueue::builder().priority().build();
    for i in [3, 1, 2, 1] {
        fifo.try_put(i).unwrap();
        lifo.try_put(i).unwrap();
        prio.try_put(i).unwrap();
    }
    let drain = |q: &DualQueue<i32>| std::iter::from_fn(|| q.try_get().ok()).collect::<Vec<_>>();
    assert_eq!(drain(&fifo), [3, 1, 2, 1]);
    assert_eq!(drain(&lifo), [1, 2, 1, 3]);
    assert_eq!(drain(&prio), [1, 1, 2, 3]);
}

#[test]
fn priority_ties_come_out_in_arrival_order() {
    let q = DualQueue::builder()
        .priority_by(|a: &(u8, u32), b| a.0.cmp(&b.0))
        .build();
    for (i, p) in [2, 1, 2, 1, 2].into_iter().enumerate() {
        q.try_put((p, i as u32)).unwrap();
    }
    let out: Vec<u32> = std::iter::from_fn(|| q.try_get().ok())
        .map(|e| e.1)
        .collect();
    assert_eq!(out, [1, 3, 0, 2, 4]);
}

#[test]
fn bounded_queue_reports_full_and_blocking_put_times_out() {
    let q = DualQueue::bounded(nz(2));
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    assert!(matches!(q.try_put(3), Err(TryPutError::Full(3))));
    assert!(matches!(
        q.put_blocking_timeout(3, Duration::from_millis(1)),
        Err(TryPutError::Full(3))
    ));
    assert_eq!(q.get_blocking_timeout(Duration::from_millis(1)), Ok(1));
    assert_eq!(q.len(), 1);
}

/// What each consumer received: (producer, sequence number) pairs.
type Seen = Arc<Mutex<Vec<Vec<(u32, u32)>>>>;

#[test]
fn mixed_blocking_and_async_ends_conserve_items_in_producer_order() {
    each_runtime(|rt| async move {
        const PER: u32 = 300;
        let q = DualQueue::bounded(nz(16));
        let mut producers = Vec::new();
        for p in 0..4u32 {
            let q = q.clone();
            if p % 2 == 0 {
                producers.push(rt.spawn_blocking(move || {
                    for i in 0..PER {
                        q.put_blocking((p, i)).unwrap();
                    }
                }));
            } else {
                producers.push(rt.spawn(async move {
                    for i in 0..PER {
                        q.put((p, i)).await.unwrap();
                    }
                }));
            }
        }
        let seen: Seen = Arc::new(Mutex::new(Vec::new()));
        let mut consumers = Vec::new();
        for c in 0..3 {
            let (q, seen) = (q.clone(), Arc::clone(&seen));
            let record = move |got: Vec<(u32, u32)>| seen.lock().unwrap().push(got);
            if c == 0 {
                consumers.push(rt.spawn_blocking(move || {
                    let mut got = Vec::new();
                    while let Ok(item) = q.get_blocking() {
                        got.push(item);
                    }
                    record(got);
                }));
            } else {
                consumers.push(rt.spawn(async move {
                    let mut got = Vec::new();
                    while let Ok(item) = q.get().await {
                        got.push(item);
                    }
                    record(got);
                }));
            }
        }
        for p in producers {
            p.await.unwrap();
        }
        q.close();
        for c in consumers {
            c.await.unwrap();
        }
        let seen = seen.lock().unwrap();
        let total: usize = seen.iter().map(Vec::len).sum();
        assert_eq!(total, 4 * PER as usize);
        // Each consumer sees each producer's items in the order they were put.
        for got in seen.iter() {
            for p in 0..4 {
                let mine: Vec<u32> = got.iter().filter(|e| e.0 == p).map(|e| e.1).collect();
                assert!(mine.windows(2).all(|w| w[0] < w[1]));
            }
        }
        assert_eq!(q.stats().submitted, q.stats().taken);
    });
}

#[test]
fn close_wakes_a_blocked_thread_getter_promptly() {
    each_runtime(|rt| async move {
        let q = DualQueue::<u8>::unbounded();
        let getter = rt.spawn_blocking({
            let q = q.clone();
            move || q.get_blocking()
        });
        while q.stats().getters_waiting < 1 {
            yield_now().await;
        }
        q.close();
        assert!(
            getter.await.unwrap().is_err(),
            "a blocking get fails once closed and drained"
        );
    });
}

#[test]
fn close_fails_async_putters_waiting_for_room_and_hands_items_back() {
    each_runtime(|rt| async move {
        let q = DualQueue::bounded(nz(1));
        q.try_put(0).unwrap();
        let putter = rt.spawn({
            let q = q.clone();
            async move { q.put(1).await }
        });
        while q.stats().putters_waiting < 1 {
            yield_now().await;
        }
        q.close();
        assert!(matches!(putter.await.unwrap(), Err(PutError(1))));
        assert_eq!(q.try_get(), Ok(0));
        assert_eq!(q.try_get(), Err(GetError::Closed));
    });
}

#[test]
fn cancelled_woken_getter_passes_its_wakeup_on() {
    each_runtime(|rt| async move {
        let q = DualQueue::unbounded();
        let mut first = Box::pin(q.get());
        assert!(poll_once(first.as_mut()).await.is_none());
        let second = rt.spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        // Let `second` register behind `first`.
        while q.stats().getters_waiting < 2 {
            yield_now().await;
        }
        q.try_put(5).unwrap(); // wakes `first`...
        drop(first); // ...which gives the wake-up to `second`
        assert_eq!(second.await.unwrap(), Ok(5));
    });
}

#[test]
fn dropped_reserve_and_unused_permit_give_the_slot_back() {
    each_runtime(|rt| async move {
        let q = DualQueue::bounded(nz(1));
        let permit = q.reserve().await.unwrap();
        let mut waiting = Box::pin(q.reserve());
        assert!(poll_once(waiting.as_mut()).await.is_none());
        drop(permit); // wakes `waiting`...
        drop(waiting); // ...which passes it on
        let putter = rt.spawn({
            let q = q.clone();
            async move { q.reserve().await.map(|p| p.put(9)) }
        });
        putter.await.unwrap().unwrap();
        assert_eq!(q.try_get(), Ok(9));
        assert_eq!(q.stats().reserved, 0);
    });
}

#[test]
fn cancelled_put_leaves_queue_unchanged() {
    each_runtime(|_rt| async move {
        let q = DualQueue::bounded(nz(1));
        q.try_put(1).unwrap();
        for k in 0..3 {
            let mut fut = Box::pin(q.put(2));
            for _ in 0..k {
                assert!(poll_once(fut.as_mut()).await.is_none());
            }
        }
        assert_eq!(q.len(), 1);
        assert_eq!(q.try_get(), Ok(1));
    });
}

#[test]
fn join_waits_for_task_done_of_every_item() {
    each_runtime(|rt| async move {
        let q = DualQueue::unbounded();
        for i in 0..5 {
            q.put(i).await.unwrap();
        }
        let worker = rt.spawn({
            let (q, rt) = (q.clone(), rt.clone());
            async move {
                for _ in 0..5 {
                    let _ = q.get().await.unwrap();
                    rt.sleep(Duration::from_millis(1)).await;
                    q.task_done().unwrap();
                }
            }
        });
        q.join().await;
        assert_eq!(q.stats().unfinished, 0);
        worker.await.unwrap();
        assert!(q.task_done().is_err());
        q.join_blocking();
    });
}

#[test]
fn blocking_get_with_timeout_racing_puts_loses_nothing() {
    each_runtime(|rt| async move {
        const N: u32 = 300;
        let q = DualQueue::bounded(nz(4));
        let getter = rt.spawn_blocking({
            let q = q.clone();
            move || {
                let mut got = Vec::new();
                loop {
                    // Short timeouts: many of them expire while a put is racing in.
                    match q.get_blocking_timeout(Duration::from_micros(20)) {
                        Ok(v) => got.push(v),
                        Err(GetError::Empty) => {}
                        Err(_) => return got,
                    }
                }
            }
        });
        for i in 0..N {
            q.put(i).await.unwrap();
            if i % 5 == 0 {
                yield_now().await;
            }
        }
        q.close();
        assert_eq!(getter.await.unwrap(), (0..N).collect::<Vec<_>>());
        let s = q.stats();
        assert_eq!((s.getters_waiting, s.putters_waiting), (0, 0));
    });
}

#[test]
fn blocking_put_with_timeout_racing_gets_loses_nothing() {
    each_runtime(|rt| async move {
        const N: u32 = 300;
        let q = DualQueue::bounded(nz(2));
        let putter = rt.spawn_blocking({
            let q = q.clone();
            move || {
                let mut timeouts = 0u32;
                for i in 0..N {
                    let mut item = i;
                    loop {
                        match q.put_blocking_timeout(item, Duration::from_micros(20)) {
                            Ok(()) => break,
                            Err(TryPutError::Full(t)) => {
                                timeouts += 1;
                                item = t;
                            }
                            Err(_) => unreachable!("the queue is not closed"),
                        }
                    }
                }
                timeouts
            }
        });
        let mut got = Vec::new();
        for _ in 0..N {
            got.push(q.get().await.unwrap());
            if got.len() % 5 == 0 {
                yield_now().await;
            }
        }
        putter.await.unwrap();
        assert_eq!(got, (0..N).collect::<Vec<_>>());
        let s = q.stats();
        assert_eq!((s.queued, s.getters_waiting, s.putters_waiting), (0, 0, 0));
    });
}

#[test]
fn cancelled_woken_async_getter_passes_the_item_to_a_blocked_thread() {
    each_runtime(|rt| async move {
        let q = DualQueue::unbounded();
        let mut first = Box::pin(q.get());
        assert!(poll_once(first.as_mut()).await.is_none());
        let thread = rt.spawn_blocking({
            let q = q.clone();
            move || q.get_blocking()
        });
        while q.stats().getters_waiting < 2 {
            yield_now().await;
        }
        q.try_put(5).unwrap(); // wakes `first`, the oldest getter...
        drop(first); // ...which passes the wake-up to the thread
        assert_eq!(thread.await.unwrap(), Ok(5));
        assert_eq!(q.stats().getters_waiting, 0);
    });
}

#[test]
fn cancelled_woken_async_putter_passes_the_slot_to_a_blocked_thread() {
    each_runtime(|rt| async move {
        let q = DualQueue::bounded(nz(1));
        q.try_put(0).unwrap();
        let mut first = Box::pin(q.put(1));
        assert!(poll_once(first.as_mut()).await.is_none());
        let thread = rt.spawn_blocking({
            let q = q.clone();
            move || q.put_blocking(2)
        });
        while q.stats().putters_waiting < 2 {
            yield_now().await;
        }
        assert_eq!(q.try_get(), Ok(0)); // frees the slot and wakes `first`...
        drop(first); // ...which passes the wake-up to the thread
        thread.await.unwrap().unwrap();
        assert_eq!(q.try_get(), Ok(2));
        assert_eq!(q.stats().putters_waiting, 0);
    });
}

#[test]
fn freed_slots_wake_putters_and_woken_threads_hand_the_turn_on() {
    each_runtime(|rt| async move {
        let q = DualQueue::bounded(nz(3));
        for i in 0..3 {
            q.try_put(i).unwrap();
        }
        let mut putters = Vec::new();
        for p in 10..14 {
            let q = q.clone();
            if p % 2 == 0 {
                putters.push(rt.spawn_blocking(move || q.put_blocking(p).unwrap()));
            } else {
                putters.push(rt.spawn(async move { q.put(p).await.unwrap() }));
            }
        }
        while q.stats().putters_waiting < 4 {
            yield_now().await;
        }
        // Three slots freed: each wakes one more putter future, and a woken thread, once
        // served, wakes the next while room is left; the fourth putter keeps waiting.
        for i in 0..3 {
            assert_eq!(q.try_get(), Ok(i));
        }
        while q.len() < 3 {
            yield_now().await;
        }
        assert_eq!(q.stats().putters_waiting, 1);
        let mut got: Vec<i32> = (0..3).map(|_| q.try_get().unwrap()).collect();
        got.push(q.get().await.unwrap());
        for p in putters {
            p.await.unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, [10, 11, 12, 13]);
        assert_eq!(q.stats().putters_waiting, 0);
    });
}

#[test]
fn join_blocking_thread_wakes_when_tasks_finish() {
    each_runtime(|rt| async move {
        let q = DualQueue::unbounded();
        for i in 0..3 {
            q.put(i).await.unwrap();
        }
        let joiner = rt.spawn_blocking({
            let q = q.clone();
            move || q.join_blocking()
        });
        for _ in 0..3 {
            q.get().await.unwrap();
            yield_now().await;
            q.task_done().unwrap();
        }
        joiner.await.unwrap();
        assert_eq!(q.stats().unfinished, 0);
    });
}

#[test]
fn cancelled_join_leaves_no_waiter_behind() {
    each_runtime(|_rt| async move {
        let q = DualQueue::unbounded();
        q.try_put(1).unwrap();
        let mut join = Box::pin(q.join());
        assert!(poll_once(join.as_mut()).await.is_none());
        drop(join);
        q.try_get().unwrap();
        q.task_done().unwrap();
        q.join().await;
    });
}

#[derive(Debug, Clone)]
enum Op {
    Put(u8),
    Get,
    Close,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Non-waiting operations against a model: same results, nothing lost or invented.
    #[test]
    fn matches_a_vecdeque_model(
        ops in prop::collection::vec(prop_oneof![
            any::<u8>().prop_map(Op::Put),
            Just(Op::Get),
            Just(Op::Close),
        ], 0..200),
        cap in 1usize..8,
        lifo in any::<bool>(),
    ) {
        let q = if lifo {
            DualQueue::builder().lifo().bounded(nz(cap)).build()
        } else {
            DualQueue::bounded(nz(cap))
        };
        let mut model: VecDeque<u8> = VecDeque::new();
        let mut closed = false;
        for op in ops {
            match op {
                Op::Put(v) => {
                    let got = q.try_put(v);
                    if closed {
                        prop_assert!(matches!(got, Err(TryPutError::Closed(x)) if x == v));
                    } else if model.len() == cap {
                        prop_assert!(matches!(got, Err(TryPutError::Full(x)) if x == v));
                    } else {
                        prop_assert!(got.is_ok());
                        model.push_back(v);
                    }
                }
                Op::Get => {
                    let want = if lifo { model.pop_back() } else { model.pop_front() };
                    let got = q.try_get();
                    match want {
                        Some(v) => prop_assert_eq!(got, Ok(v)),
                        None if closed => prop_assert_eq!(got, Err(GetError::Closed)),
                        None => prop_assert_eq!(got, Err(GetError::Empty)),
                    }
                }
                Op::Close => {
                    q.close();
                    closed = true;
                }
            }
            prop_assert_eq!(q.len(), model.len());
        }
    }
}

/// `QueueStats` invariants in every snapshot: `submitted == taken + queued`,
/// `queued + reserved <= capacity`, `unfinished <= submitted`.
#[test]
fn stats_invariants_hold_through_puts_reservations_gets_and_task_done() {
    fn holds(q: &DualQueue<u32>) {
        let s = q.stats();
        assert_eq!(s.submitted, s.taken + s.queued as u64, "{s:?}");
        assert!(s.queued + s.reserved <= 3, "{s:?}");
        assert!(s.unfinished as u64 <= s.submitted, "{s:?}");
    }
    each_runtime(|rt| async move {
        let q = DualQueue::bounded(nz(3));
        q.put(1).await.unwrap();
        q.put_blocking(2).unwrap();
        holds(&q);
        let permit = q.reserve().await.unwrap();
        holds(&q);
        assert_eq!((q.stats().queued, q.stats().reserved), (2, 1));
        let consumer = rt.spawn({
            let q = q.clone();
            async move {
                let mut got = Vec::new();
                while let Ok(item) = q.get().await {
                    got.push(item);
                    q.task_done().unwrap();
                }
                got
            }
        });
        permit.put(3);
        q.put(4).await.unwrap();
        holds(&q);
        q.join().await;
        holds(&q);
        assert!(q.close());
        assert_eq!(consumer.await.unwrap(), [1, 2, 3, 4]);
        let s = q.stats();
        assert_eq!(
            (s.submitted, s.taken, s.queued, s.reserved, s.unfinished),
            (4, 4, 0, 0, 0)
        );
    });
}

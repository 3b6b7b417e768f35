//! A woken waiter that is kept alive but never polled again holds up no other waiter.
//!
//! `DualQueue`: it holds only the one wake-up it received; every later item (or freed slot)
//! wakes another waiter. On every runtime, with task and thread waiters. The semaphore (and
//! the FIFO lockouts built on it) hands permits over instead of waking a waiter to come and
//! take them: a served waiter that is never polled holds its own permits, and the next
//! waiters are served from the rest. The rate limiters and lockouts wait on their own timers
//! (nothing is handed on), and the batch channel is an `async-channel`.

use std::num::NonZeroUsize;

use futures_lite::future::poll_once;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, yield_now};
use wrangle_sync::{DualQueue, PrioritySemaphore};

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn a_stalled_woken_putter_does_not_hold_up_other_producers() {
    each_runtime(|rt| async move {
        let q = DualQueue::bounded(nz(2));
        q.try_put(0).unwrap();
        q.try_put(1).unwrap();
        let mut stalled = Box::pin(q.put(100));
        assert!(poll_once(stalled.as_mut()).await.is_none());
        let task = rt.spawn({
            let q = q.clone();
            async move { q.put(200).await.unwrap() }
        });
        let thread = rt.spawn_blocking({
            let q = q.clone();
            move || q.put_blocking(300).unwrap()
        });
        while q.stats().putters_waiting < 3 {
            yield_now().await;
        }
        // Two slots free: the first wakes `stalled` (never polled again), the second another
        // producer; later slots wake the rest.
        let mut got = vec![q.get().await.unwrap(), q.get().await.unwrap()];
        while !(got.contains(&200) && got.contains(&300)) {
            got.push(q.get().await.unwrap());
        }
        task.await.unwrap();
        thread.await.unwrap();
        assert_eq!(q.stats().putters_waiting, 1); // `stalled`, still registered
        drop(stalled);
        assert_eq!(q.stats().putters_waiting, 0);
        got.sort_unstable();
        assert_eq!(got, [0, 1, 200, 300]);
    });
}

#[test]
fn a_stalled_woken_putter_whose_slot_was_taken_does_not_hold_up_the_next_slot() {
    each_runtime(|rt| async move {
        let q = DualQueue::bounded(nz(1));
        q.try_put(0).unwrap();
        let mut stalled = Box::pin(q.put(100));
        assert!(poll_once(stalled.as_mut()).await.is_none());
        let next = rt.spawn({
            let q = q.clone();
            async move { q.put(200).await.unwrap() }
        });
        while q.stats().putters_waiting < 2 {
            yield_now().await;
        }
        assert_eq!(q.try_get(), Ok(0)); // wakes `stalled`...
        q.try_put(1).unwrap(); // ...whose slot another producer takes at once
        assert_eq!(q.try_get(), Ok(1)); // this slot wakes `next`
        next.await.unwrap();
        assert_eq!(q.try_get(), Ok(200));
        drop(stalled);
        assert_eq!(q.stats().putters_waiting, 0);
    });
}

#[test]
fn a_stalled_woken_reserver_does_not_hold_up_other_producers() {
    each_runtime(|rt| async move {
        let q = DualQueue::bounded(nz(1));
        q.try_put(0).unwrap();
        let mut stalled = Box::pin(q.reserve());
        assert!(poll_once(stalled.as_mut()).await.is_none());
        let next = rt.spawn_blocking({
            let q = q.clone();
            move || q.put_blocking(200).unwrap()
        });
        while q.stats().putters_waiting < 2 {
            yield_now().await;
        }
        assert_eq!(q.try_get(), Ok(0)); // wakes `stalled`
        q.try_put(1).unwrap();
        assert_eq!(q.try_get(), Ok(1)); // wakes the thread
        next.await.unwrap();
        assert_eq!(q.try_get(), Ok(200));
        drop(stalled);
    });
}

#[test]
fn a_stalled_woken_getter_does_not_hold_up_other_consumers() {
    each_runtime(|rt| async move {
        let q = DualQueue::unbounded();
        let mut stalled = Box::pin(q.get());
        assert!(poll_once(stalled.as_mut()).await.is_none());
        let task = rt.spawn({
            let q = q.clone();
            async move { q.get().await.unwrap() }
        });
        let thread = rt.spawn_blocking({
            let q = q.clone();
            move || q.get_blocking().unwrap()
        });
        while q.stats().getters_waiting < 3 {
            yield_now().await;
        }
        q.try_put(1).unwrap(); // wakes `stalled` (never polled again)...
        assert_eq!(q.try_get(), Ok(1)); // ...and another consumer takes the item
        q.try_put(2).unwrap(); // this item wakes a waiting consumer
        q.try_put(3).unwrap(); // and this one the last
        let mut got = [task.await.unwrap(), thread.await.unwrap()];
        got.sort_unstable();
        assert_eq!(got, [2, 3]);
        assert_eq!(q.stats().getters_waiting, 1);
        drop(stalled);
        assert_eq!(q.stats().getters_waiting, 0);
    });
}

#[test]
fn a_served_semaphore_waiter_never_polled_holds_only_its_own_permits() {
    each_runtime(|rt| async move {
        let sem = std::sync::Arc::new(PrioritySemaphore::new(2));
        let held = sem.try_acquire_many(2).unwrap();
        let mut stalled = Box::pin(sem.acquire());
        assert!(poll_once(stalled.as_mut()).await.is_none());
        let next = rt.spawn(std::sync::Arc::clone(&sem).acquire_owned());
        while sem.stats().queued < 2 {
            yield_now().await;
        }
        drop(held); // serves `stalled` (never polled again) and `next`
        let permit = next.await.unwrap().unwrap();
        assert_eq!(sem.available_permits(), 0);
        drop(permit);
        drop(stalled); // its unseen permit comes back
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(sem.stats().returned, 1);
    });
}

#[test]
fn a_woken_producer_thread_hands_the_turn_on_past_a_stalled_future() {
    each_runtime(|rt| async move {
        let q = DualQueue::bounded(nz(2));
        q.try_put(0).unwrap();
        q.try_put(1).unwrap();
        let mut stalled = Box::pin(q.put(100));
        assert!(poll_once(stalled.as_mut()).await.is_none());
        let thread = rt.spawn_blocking({
            let q = q.clone();
            move || q.put_blocking(200).unwrap()
        });
        while q.stats().putters_waiting < 2 {
            yield_now().await;
        }
        let task = rt.spawn({
            let q = q.clone();
            async move { q.put(300).await.unwrap() }
        });
        while q.stats().putters_waiting < 3 {
            yield_now().await;
        }
        // The first slot wakes `stalled`, the second the thread (it takes it); the next slot
        // freed wakes the task, past `stalled`.
        assert_eq!(q.get().await, Ok(0));
        assert_eq!(q.get().await, Ok(1));
        thread.await.unwrap();
        assert_eq!(q.get().await, Ok(200));
        task.await.unwrap();
        assert_eq!(q.get().await, Ok(300));
        drop(stalled);
        assert_eq!(q.stats().putters_waiting, 0);
    });
}

#[test]
fn slots_freed_while_a_woken_thread_has_not_run_go_on_when_it_runs() {
    each_runtime(|rt| async move {
        let q = DualQueue::bounded(nz(3));
        for i in 0..3 {
            q.try_put(i).unwrap();
        }
        let thread = rt.spawn_blocking({
            let q = q.clone();
            move || q.put_blocking(100).unwrap()
        });
        while q.stats().putters_waiting < 1 {
            yield_now().await;
        }
        let tasks: Vec<_> = [200, 300]
            .map(|v| {
                let q = q.clone();
                rt.spawn(async move { q.put(v).await.unwrap() })
            })
            .into_iter()
            .collect();
        while q.stats().putters_waiting < 3 {
            yield_now().await;
        }
        // Three slots at once: the first wakes the thread, the next two wake no one until it
        // has run; then it hands them on, one wake-up each.
        let mut got: Vec<i32> = (0..3).map(|_| q.try_get().unwrap()).collect();
        thread.await.unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        got.extend((0..3).map(|_| q.try_get().unwrap()));
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 100, 200, 300]);
    });
}

//! async-channel's habits on `DualQueue`: split sending and receiving handles whose counts
//! close the queue, `closed()`, `is_full`, `force_put`, the receiver as a `Stream` and the
//! sender as a `Sink`. Most tests are async-channel's `tests/bounded.rs` and
//! `tests/unbounded.rs`, rewritten for `each_runtime` (sleeps between threads replaced by
//! waiting for the state they waited for, so they hold under load).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_core::FusedStream;
use futures_lite::StreamExt;
use futures_lite::future::poll_once;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, yield_now};
use wrangle_sync::{DualQueue, GetError, PutError, TryPutError};

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn smoke() {
    each_runtime(|_rt| async move {
        let (tx, rx) = DualQueue::bounded(nz(1)).split();
        tx.put(7).await.unwrap();
        assert_eq!(rx.try_get(), Ok(7));
        tx.put(8).await.unwrap();
        assert_eq!(rx.get().await, Ok(8));
        assert_eq!(rx.try_get(), Err(GetError::Empty));

        let (tx, rx) = DualQueue::unbounded().split();
        tx.put_blocking(7).unwrap();
        assert_eq!(rx.get_blocking(), Ok(7));
    });
}

#[test]
fn capacity_len_empty_full() {
    let (tx, rx) = DualQueue::bounded(nz(2)).split();
    assert_eq!((tx.capacity(), rx.capacity()), (Some(2), Some(2)));
    assert!(tx.is_empty() && rx.is_empty() && !tx.is_full() && !rx.is_full());
    tx.try_put(()).unwrap();
    assert_eq!((tx.len(), rx.len()), (1, 1));
    assert!(!tx.is_empty() && !tx.is_full());
    tx.try_put(()).unwrap();
    assert!(tx.is_full() && rx.is_full());
    assert!(matches!(tx.try_put(()), Err(TryPutError::Full(()))));
    rx.try_get().unwrap();
    assert!(!rx.is_full());

    let (tx, _rx) = DualQueue::unbounded().split();
    assert_eq!(tx.capacity(), None);
    for i in 0..1000 {
        tx.try_put(i).unwrap();
    }
    assert!(!tx.is_full()); // an unbounded queue is never full
}

#[test]
fn closed_future_completes_when_the_last_receiver_is_dropped() {
    each_runtime(|rt| async move {
        let (tx, rx) = DualQueue::bounded(nz(1)).split();
        tx.put(7).await.unwrap();
        let mut before = Box::pin(tx.closed());
        assert!(poll_once(before.as_mut()).await.is_none());
        let receiver = rt.spawn(async move {
            assert_eq!(rx.get().await, Ok(7));
            let rx2 = rx.clone();
            drop(rx); // one receiver left: still open
            yield_now().await;
            drop(rx2);
        });
        before.await;
        receiver.await.unwrap();
        assert!(tx.is_closed());
        assert_eq!(poll_once(tx.closed()).await, Some(()));
    });
}

#[test]
fn closed_future_polled_k_times_then_dropped_leaves_no_waiter() {
    each_runtime(|_rt| async move {
        let q = DualQueue::<u8>::unbounded();
        for k in 0..4 {
            let mut f = Box::pin(q.closed());
            for _ in 0..k {
                assert!(poll_once(f.as_mut()).await.is_none());
            }
            drop(f);
        }
        // A waiter left behind would be woken by close; none is, and close still works.
        assert!(q.close());
        assert_eq!(poll_once(q.closed()).await, Some(()));
    });
}

#[test]
fn force_put_keeps_the_newest_items() {
    each_runtime(|rt| async move {
        let (tx, rx) = DualQueue::bounded(nz(1)).split();
        assert_eq!(tx.force_put(7), Ok(None));
        assert_eq!(tx.force_put(8), Ok(Some(7)));
        let getter = rt.spawn({
            let rx = rx.clone();
            async move { (rx.get().await.unwrap(), rx.get().await.unwrap()) }
        });
        while tx.len() == 1 {
            yield_now().await; // the getter takes 8
        }
        assert_eq!(tx.force_put(9), Ok(None)); // wakes the getter's second get
        assert_eq!(getter.await.unwrap(), (8, 9));
        assert_eq!(tx.force_put(10), Ok(None));
        assert_eq!(tx.force_put(11), Ok(Some(10)));
        assert_eq!(rx.try_get(), Ok(11));
        let stats = rx.stats();
        assert_eq!((stats.submitted, stats.taken, stats.skipped), (5, 3, 2));
    });
}

#[test]
fn force_put_evicts_per_order_and_counts() {
    let lifo = DualQueue::builder().lifo().bounded(nz(3)).build();
    for i in 0..5 {
        lifo.force_put(i).unwrap();
    }
    // The oldest went (0, 1): a LIFO still gives the newest first.
    assert_eq!(
        std::iter::from_fn(|| lifo.try_get().ok()).collect::<Vec<_>>(),
        [4, 3, 2]
    );

    let prio = DualQueue::builder().priority().bounded(nz(3)).build();
    for i in [5, 1, 9] {
        prio.try_put(i).unwrap();
    }
    assert_eq!(prio.force_put(3), Ok(Some(9))); // the least urgent goes
    assert_eq!(prio.force_put(7), Ok(Some(7))); // would come out last: handed back
    assert_eq!(prio.force_put(5), Ok(Some(5))); // equal to the last: the newer goes
    assert_eq!(
        std::iter::from_fn(|| prio.try_get().ok()).collect::<Vec<_>>(),
        [1, 3, 5]
    );
    let s = prio.stats();
    assert_eq!(s.submitted, s.taken + s.skipped + s.queued as u64);
    assert_eq!((s.submitted, s.skipped), (6, 3));
    assert_eq!(s.unfinished, 3); // evicted items are not waited for by `join`
}

#[test]
fn force_put_refuses_when_every_slot_is_reserved_or_closed() {
    each_runtime(|_rt| async move {
        let q = DualQueue::bounded(nz(1));
        let permit = q.reserve().await.unwrap();
        assert!(matches!(q.force_put(1), Err(TryPutError::Full(1))));
        permit.put(0);
        assert_eq!(q.force_put(1), Ok(Some(0)));
        q.close();
        assert!(matches!(q.force_put(2), Err(TryPutError::Closed(2))));
        assert_eq!(q.try_get(), Ok(1));
    });
}

#[test]
fn join_does_not_wait_for_evicted_items() {
    each_runtime(|_rt| async move {
        let q = DualQueue::bounded(nz(1));
        q.force_put(1).unwrap();
        q.force_put(2).unwrap(); // 1 is evicted: nobody will mark it done
        assert_eq!(q.try_get(), Ok(2));
        q.task_done().unwrap();
        q.join().await;
        assert!(q.task_done().is_err());
    });
}

#[test]
fn put_after_the_last_receiver_is_dropped_fails() {
    each_runtime(|_rt| async move {
        let (tx, rx) = DualQueue::bounded(nz(100)).split();
        for i in 1..=3 {
            tx.put(i).await.unwrap();
        }
        drop(rx);
        assert_eq!(tx.put(4).await, Err(PutError(4)));
        assert!(matches!(tx.try_put(5), Err(TryPutError::Closed(5))));
        assert_eq!(tx.put_blocking(6), Err(PutError(6)));
        assert!(tx.reserve().await.is_err());
    });
}

#[test]
fn get_after_the_last_sender_is_dropped_drains_then_fails() {
    each_runtime(|_rt| async move {
        let (tx, rx) = DualQueue::bounded(nz(100)).split();
        for i in 1..=3 {
            tx.put(i).await.unwrap();
        }
        let tx2 = tx.clone();
        drop(tx);
        assert!(!rx.is_closed()); // a clone still sends
        drop(tx2);
        assert!(rx.is_closed());
        for i in 1..=3 {
            assert_eq!(rx.get().await, Ok(i));
        }
        assert!(rx.get().await.is_err());
        assert_eq!(rx.try_get(), Err(GetError::Closed));
    });
}

#[test]
fn sender_and_receiver_counts() {
    let (tx, rx) = DualQueue::<()>::bounded(nz(5)).split();
    let receivers: Vec<_> = (0..20).map(|_| rx.clone()).collect();
    let senders: Vec<_> = (0..10).map(|_| tx.clone()).collect();
    assert_eq!((tx.receiver_count(), rx.receiver_count()), (21, 21));
    assert_eq!((tx.sender_count(), rx.sender_count()), (11, 11));
    drop(receivers);
    drop(senders);
    assert_eq!((tx.sender_count(), rx.receiver_count()), (1, 1));
    assert!(!tx.is_closed());
    // A second split of the same queue counts too.
    let q = DualQueue::<()>::unbounded();
    let (a, _ra) = q.clone().split();
    let (_b, _rb) = q.split();
    assert_eq!(a.sender_count(), 2);
    drop(a);
    assert!(!_b.is_closed());
}

#[test]
fn dropping_the_last_receiver_wakes_a_waiting_sender() {
    each_runtime(|rt| async move {
        let (tx, rx) = DualQueue::bounded(nz(1)).split();
        tx.try_put(1).unwrap(); // full
        let task = rt.spawn({
            let tx = tx.clone();
            async move { tx.put(2).await }
        });
        let thread = rt.spawn_blocking(move || tx.put_blocking(3));
        while rx.stats().putters_waiting < 2 {
            yield_now().await;
        }
        drop(rx);
        assert_eq!(task.await.unwrap(), Err(PutError(2)));
        assert_eq!(thread.await.unwrap(), Err(PutError(3)));
    });
}

#[test]
fn dropping_the_last_sender_wakes_waiting_receivers() {
    each_runtime(|rt| async move {
        let (tx, rx) = DualQueue::<()>::bounded(nz(1)).split();
        let task = rt.spawn({
            let rx = rx.clone();
            async move { rx.get().await }
        });
        let thread = rt.spawn_blocking(move || rx.get_blocking());
        while tx.stats().getters_waiting < 2 {
            yield_now().await;
        }
        drop(tx);
        assert!(task.await.unwrap().is_err());
        assert!(thread.await.unwrap().is_err());
    });
}

/// async-channel's `forget_blocked_sender`: a put future polled once and kept alive does not
/// hold up another sender once slots free up.
#[test]
fn forgotten_blocked_sender() {
    each_runtime(|rt| async move {
        let (s1, rx) = DualQueue::bounded(nz(2)).split();
        let s2 = s1.clone();
        s1.put(3).await.unwrap();
        s1.put(7).await.unwrap();
        let mut s1_fut = Box::pin(s1.put(13));
        assert!(poll_once(s1_fut.as_mut()).await.is_none());
        let other = rt.spawn(async move { s2.put(42).await.unwrap() });
        while rx.stats().putters_waiting < 2 {
            yield_now().await;
        }
        assert_eq!(rx.get().await, Ok(3));
        assert_eq!(rx.get().await, Ok(7));
        other.await.unwrap();
        assert_eq!(rx.try_get(), Ok(42));
        drop(s1_fut);
    });
}

/// async-channel's `forget_blocked_receiver`: a get future polled once and kept alive does
/// not hold up another receiver once items come.
#[test]
fn forgotten_blocked_receiver() {
    each_runtime(|rt| async move {
        let (tx, r1) = DualQueue::bounded(nz(2)).split();
        let r2 = r1.clone();
        let mut r1_fut = Box::pin(r1.get());
        assert!(poll_once(r1_fut.as_mut()).await.is_none());
        let other = rt.spawn(async move { r2.get().await.unwrap() });
        while tx.stats().getters_waiting < 2 {
            yield_now().await;
        }
        tx.put(3).await.unwrap();
        tx.put(7).await.unwrap();
        // 3 woke `r1_fut`, 7 woke `r2`, which takes the first item.
        assert_eq!(other.await.unwrap(), 3);
        assert_eq!(tx.len(), 1);
        tx.try_put(42).unwrap();
        drop(r1_fut);
        assert_eq!(r1.try_get(), Ok(7));
        assert_eq!(r1.try_get(), Ok(42));
    });
}

#[test]
fn spsc_keeps_order() {
    each_runtime(|rt| async move {
        const COUNT: usize = 5_000;
        let (tx, rx) = DualQueue::bounded(nz(3)).split();
        let consumer = rt.spawn(async move {
            for i in 0..COUNT {
                assert_eq!(rx.get().await, Ok(i));
            }
            assert!(rx.get().await.is_err());
        });
        for i in 0..COUNT {
            tx.put(i).await.unwrap();
        }
        drop(tx);
        consumer.await.unwrap();
    });
}

/// async-channel's `mpmc` and `mpmc_stream`: every item is received exactly once, by get
/// futures, blocking gets and streams at once.
#[test]
fn mpmc_gets_and_streams_receive_every_item_once() {
    each_runtime(|rt| async move {
        const COUNT: usize = 2_000;
        const PRODUCERS: usize = 4;
        let (tx, rx) = DualQueue::bounded(nz(3)).split();
        let seen: Arc<Vec<AtomicUsize>> =
            Arc::new((0..COUNT).map(|_| AtomicUsize::new(0)).collect());
        let mut consumers = Vec::new();
        for c in 0..3 {
            let (rx, seen) = (rx.clone(), Arc::clone(&seen));
            let count = move |n: usize| {
                seen[n].fetch_add(1, Ordering::SeqCst);
            };
            consumers.push(match c {
                0 => rt.spawn(async move { rx.for_each(count).await }),
                1 => rt.spawn(async move {
                    while let Ok(n) = rx.get().await {
                        count(n);
                    }
                }),
                _ => {
                    let h = rt.spawn_blocking(move || {
                        while let Ok(n) = rx.get_blocking() {
                            count(n);
                        }
                    });
                    rt.spawn(async move { h.await.unwrap() })
                }
            });
        }
        drop(rx);
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|_| {
                let tx = tx.clone();
                rt.spawn(async move {
                    for i in 0..COUNT {
                        tx.put(i).await.unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        for p in producers {
            p.await.unwrap();
        }
        for c in consumers {
            c.await.unwrap();
        }
        assert!(seen.iter().all(|c| c.load(Ordering::SeqCst) == PRODUCERS));
    });
}

#[test]
fn the_receiver_stream_is_fused_and_ends_after_the_drain() {
    each_runtime(|rt| async move {
        let (tx, mut rx) = DualQueue::unbounded().split();
        tx.try_put(1).unwrap();
        tx.try_put(2).unwrap();
        assert_eq!(rx.next().await, Some(1));
        assert!(!rx.is_terminated());
        let sender = rt.spawn(async move {
            tx.put(3).await.unwrap();
        });
        assert_eq!(rx.next().await, Some(2));
        assert_eq!(rx.next().await, Some(3));
        sender.await.unwrap(); // the last sender is gone
        assert_eq!(rx.next().await, None);
        assert!(rx.is_terminated());
        assert_eq!(rx.next().await, None);
    });
}

#[test]
fn a_dropped_receiver_passes_its_streams_wakeup_on() {
    each_runtime(|rt| async move {
        let (tx, rx) = DualQueue::unbounded().split();
        let mut first = rx.clone();
        assert!(poll_once(first.next()).await.is_none()); // the stream waits
        let second = rt.spawn(async move { rx.get().await });
        while tx.stats().getters_waiting < 2 {
            yield_now().await;
        }
        tx.try_put(5).unwrap(); // wakes `first`...
        drop(first); // ...whose drop passes the wake-up to `second`
        assert_eq!(second.await.unwrap(), Ok(5));
    });
}

#[test]
fn stats_stay_consistent_through_split_handles_and_evictions() {
    each_runtime(|rt| async move {
        let (tx, rx) = DualQueue::bounded(nz(4)).split();
        let log = Arc::new(Mutex::new(Vec::new()));
        let consumer = rt.spawn({
            let log = Arc::clone(&log);
            async move {
                while let Ok(i) = rx.get().await {
                    let s = rx.stats();
                    assert_eq!(s.submitted, s.taken + s.skipped + s.queued as u64);
                    log.lock().unwrap().push(i);
                    rx.task_done().unwrap();
                    yield_now().await;
                }
                rx.stats()
            }
        });
        for i in 0..200 {
            if i % 3 == 0 {
                tx.force_put(i).unwrap();
            } else {
                tx.put(i).await.unwrap();
            }
        }
        drop(tx);
        let end = consumer.await.unwrap();
        let got = log.lock().unwrap().clone();
        assert_eq!(end.submitted, 200);
        assert_eq!(end.taken, got.len() as u64);
        assert_eq!(end.taken + end.skipped, 200);
        assert_eq!((end.queued, end.unfinished), (0, 0));
        // Each producer's items arrive in order (FIFO), evictions only leave gaps.
        assert!(got.windows(2).all(|w| w[0] < w[1]));
    });
}

#[cfg(feature = "sink")]
mod sink {
    use super::*;
    use futures_sink::Sink;
    use std::future::poll_fn;
    use std::pin::Pin;
    use wrangle_sync::stream::QueueSinkError;

    async fn ready<S: Sink<u32> + Unpin>(s: &mut S) -> Result<(), S::Error> {
        poll_fn(|cx| Pin::new(&mut *s).poll_ready(cx)).await
    }

    #[test]
    fn poll_ready_reserves_the_slot_that_start_send_fills() {
        each_runtime(|rt| async move {
            let (mut tx, rx) = DualQueue::bounded(nz(1)).split();
            ready(&mut tx).await.unwrap();
            assert!(tx.is_full()); // the slot is reserved
            assert!(matches!(tx.try_put(9), Err(TryPutError::Full(9))));
            Pin::new(&mut tx).start_send(1).unwrap();
            assert_eq!(tx.len(), 1);
            // Full: the next poll_ready waits until the consumer takes the item.
            let mut tx2 = tx.clone();
            let sender = rt.spawn(async move {
                ready(&mut tx2).await.unwrap();
                Pin::new(&mut tx2).start_send(2).unwrap();
                poll_fn(|cx| Pin::new(&mut tx2).poll_flush(cx))
                    .await
                    .unwrap();
            });
            assert_eq!(rx.get().await, Ok(1));
            assert_eq!(rx.get().await, Ok(2));
            sender.await.unwrap();
        });
    }

    #[test]
    fn start_send_without_poll_ready_on_a_full_queue_hands_the_item_back() {
        each_runtime(|_rt| async move {
            let (mut tx, rx) = DualQueue::bounded(nz(1)).split();
            // With room, an unreserved `start_send` puts the item.
            Pin::new(&mut tx).start_send(1).unwrap();
            // Full and nothing reserved: a typed error with the item, no panic, no loss.
            let refused = Pin::new(&mut tx).start_send(2).unwrap_err();
            assert!(matches!(refused, QueueSinkError::Full(2)));
            assert!(!refused.is_closed());
            assert_eq!(
                refused.to_string(),
                "queue full: `start_send` without a ready `poll_ready` first"
            );
            assert_eq!(refused.into_inner(), Some(2));
            assert_eq!(rx.stats().submitted, 1);
            // The sink is still usable: the contract kept, the next item goes in.
            assert_eq!(rx.get().await, Ok(1));
            ready(&mut tx).await.unwrap();
            Pin::new(&mut tx).start_send(3).unwrap();
            assert_eq!(rx.get().await, Ok(3));
            // Closed by the receiver's side: the item comes back as `Closed`.
            drop(rx);
            let closed = Pin::new(&mut tx).start_send(4).unwrap_err();
            assert!(closed.is_closed());
            assert_eq!(closed.into_inner(), Some(4));
        });
    }

    #[test]
    fn a_sender_dropped_with_a_reserved_slot_gives_it_back() {
        each_runtime(|_rt| async move {
            let (mut tx, rx) = DualQueue::<u32>::bounded(nz(1)).split();
            let keep = tx.clone();
            ready(&mut tx).await.unwrap();
            assert!(rx.is_full());
            drop(tx);
            assert!(!rx.is_full());
            assert_eq!(rx.stats().reserved, 0);
            keep.try_put(3).unwrap();
        });
    }

    #[test]
    fn poll_close_counts_as_the_senders_drop() {
        each_runtime(|_rt| async move {
            let (mut tx, rx) = DualQueue::<u32>::unbounded().split();
            let mut other = tx.clone();
            poll_fn(|cx| Pin::new(&mut tx).poll_close(cx))
                .await
                .unwrap();
            assert_eq!(rx.sender_count(), 1);
            assert!(!rx.is_closed());
            // This sink is closed: refused, the item handed back.
            assert!(matches!(
                ready(&mut tx).await,
                Err(QueueSinkError::Closed(None))
            ));
            assert!(matches!(
                Pin::new(&mut tx).start_send(1),
                Err(QueueSinkError::Closed(Some(1)))
            ));
            ready(&mut other).await.unwrap();
            Pin::new(&mut other).start_send(2).unwrap();
            poll_fn(|cx| Pin::new(&mut other).poll_close(cx))
                .await
                .unwrap();
            assert!(rx.is_closed()); // the last sender closed
            drop(tx);
            drop(other); // no double count
            assert_eq!(rx.sender_count(), 0);
            assert_eq!(rx.get().await, Ok(2));
            assert!(rx.get().await.is_err());
        });
    }

    #[test]
    fn a_waiting_poll_ready_fails_when_the_last_receiver_goes() {
        each_runtime(|rt| async move {
            let (mut tx, rx) = DualQueue::<u32>::bounded(nz(1)).split();
            tx.try_put(0).unwrap();
            let sender = rt.spawn(async move { ready(&mut tx).await });
            while rx.stats().putters_waiting < 1 {
                yield_now().await;
            }
            drop(rx);
            assert!(sender.await.unwrap().is_err());
        });
    }
}

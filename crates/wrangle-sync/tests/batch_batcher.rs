//! Behaviour of `Batcher` and `ChunksTimeout` on every runtime; model-based properties on
//! virtual time.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use proptest::prelude::*;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, Runtime};
use wrangle_sync::stream::ChunksTimeout;
use wrangle_sync::{Batcher, InvalidBatchConfig};

const MS: Duration = Duration::from_millis(1);

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

type Log = Arc<Mutex<Vec<(Duration, Vec<u32>)>>>;

fn recording_batcher(
    rt: &DefaultRuntime,
    start: Instant,
    max: usize,
    wait: Duration,
) -> (Batcher<u32>, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let batcher = Batcher::with_runtime(rt.clone(), nz(max), wait, {
        let (log, rt) = (Arc::clone(&log), rt.clone());
        move |batch| {
            log.lock().unwrap().push((rt.now() - start, batch));
            async {}
        }
    })
    .unwrap();
    (batcher, log)
}

#[test]
fn seed_seven_items_two_immediate_batches_then_one_within_max_wait() {
    each_runtime(|rt| async move {
        let start = rt.now();
        let (batcher, log) = recording_batcher(&rt, start, 3, 100 * MS);
        for i in 0..7 {
            batcher.put(i).unwrap();
        }
        rt.sleep(50 * MS).await;
        batcher.put(7).unwrap();
        rt.sleep(300 * MS).await;
        batcher.put(8).unwrap();
        rt.sleep(200 * MS).await;
        let stats = batcher.shutdown().await;
        let log = log.lock().unwrap().clone();
        let batches: Vec<Vec<u32>> = log.iter().map(|(_, b)| b.clone()).collect();
        // Guaranteed everywhere: every item once, in order, in batches of at most 3, the two
        // full ones at once (they were put before any await).
        assert_eq!(batches.concat(), (0..9).collect::<Vec<u32>>());
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 3));
        assert_eq!(batches[..2], [vec![0, 1, 2], vec![3, 4, 5]]);
        assert_eq!(stats.submitted, 9);
        assert_eq!(stats.started, batches.len() as u64);
        assert_eq!(stats.completed, stats.started);
        if rt.is_virtual() {
            // Which batch 7 joins depends on the 50 ms sleep ending before the 100 ms max
            // wait: exact on virtual time, a timing margin on a loaded real runtime.
            assert_eq!(batches, [vec![0, 1, 2], vec![3, 4, 5], vec![6, 7], vec![8]]);
            let at: Vec<Duration> = log.iter().map(|(t, _)| *t).collect();
            assert_eq!(at, [Duration::ZERO, Duration::ZERO, 100 * MS, 450 * MS]);
        }
    });
}

#[test]
fn max_wait_is_a_deadline_from_the_first_item() {
    virtual_time(|vrt| async move {
        let rt = DefaultRuntime::Virtual(vrt);
        let start = rt.now();
        let (batcher, log) = recording_batcher(&rt, start, 100, 200 * MS);
        rt.sleep(150 * MS).await;
        batcher.put(1).unwrap();
        rt.sleep(100 * MS).await;
        batcher.put(2).unwrap();
        rt.sleep(500 * MS).await;
        // Upstream emits around 300 ms; the window opened at 150 ms and closes at 350 ms.
        assert_eq!(*log.lock().unwrap(), [(350 * MS, vec![1, 2])]);
        drop(batcher);
    });
}

#[test]
fn shutdown_flushes_in_chunks_and_put_after_close_is_an_error() {
    each_runtime(|rt| async move {
        let start = rt.now();
        let (batcher, log) = recording_batcher(&rt, start, 4, Duration::from_secs(3600));
        for i in 0..10 {
            batcher.put(i).unwrap();
        }
        let stats = batcher.shutdown().await;
        assert!(batcher.is_closed());
        assert_eq!(batcher.put(99).unwrap_err().0, 99);
        let sizes: Vec<usize> = log.lock().unwrap().iter().map(|(_, b)| b.len()).collect();
        assert_eq!(sizes, [4, 4, 2]);
        assert_eq!(stats.completed, 3);
        if rt.is_virtual() {
            assert_eq!(rt.now(), start);
        }
    });
}

#[test]
fn shutdown_waits_for_slow_callbacks() {
    each_runtime(|rt| async move {
        let done = Arc::new(AtomicUsize::new(0));
        let batcher = Batcher::with_runtime(rt.clone(), nz(1), MS, {
            let (rt, done) = (rt.clone(), Arc::clone(&done));
            move |_: Vec<u8>| {
                let (rt, done) = (rt.clone(), Arc::clone(&done));
                async move {
                    rt.sleep(20 * MS).await;
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
        .unwrap();
        for i in 0..3 {
            batcher.put(i).unwrap();
        }
        let stats = batcher.shutdown().await;
        assert_eq!(done.load(Ordering::SeqCst), 3);
        assert_eq!(stats.completed, 3);
    });
}

#[test]
fn finalize_deadline_cancels_what_is_left() {
    each_runtime(|rt| async move {
        let start = rt.now();
        let batcher = Batcher::with_runtime(rt.clone(), nz(1), MS, {
            let rt = rt.clone();
            move |batch: Vec<u64>| {
                let rt = rt.clone();
                async move { rt.sleep(Duration::from_millis(batch[0])).await }
            }
        })
        .unwrap();
        batcher.put(5).unwrap();
        batcher.put(10_000).unwrap();
        let stats = batcher.shutdown_timeout(50 * MS).await;
        // Every batch ends exactly once, and the 10 s callback cannot beat a 50 ms deadline.
        assert_eq!(stats.completed + stats.cancelled, 2);
        assert!(stats.cancelled >= 1, "{stats:?}");
        if rt.is_virtual() {
            // Exact on virtual time; on a loaded real runtime the 5 ms callback may not even
            // start before the deadline, so only the outcome's shape is guaranteed there.
            assert_eq!((stats.completed, stats.cancelled), (1, 1));
            assert_eq!(rt.now() - start, 50 * MS);
        }
    });
}

#[test]
fn panicking_callback_is_counted_and_batcher_keeps_working() {
    each_runtime(|rt| async move {
        let batcher = Batcher::with_runtime(rt.clone(), nz(1), MS, |b: Vec<u8>| async move {
            assert!(b[0] != 0, "zero is not allowed");
        })
        .unwrap();
        batcher.put(0).unwrap();
        batcher.put(1).unwrap();
        let stats = batcher.shutdown().await;
        assert_eq!((stats.failed, stats.completed), (1, 1));
    });
}

#[test]
fn dropping_the_batcher_cancels_callbacks() {
    each_runtime(|rt| async move {
        struct Guard(Arc<AtomicUsize>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let batcher = Batcher::with_runtime(rt.clone(), nz(1), MS, {
            let (rt, dropped, started) = (rt.clone(), Arc::clone(&dropped), Arc::clone(&started));
            move |_: Vec<u8>| {
                let (rt, guard, started) = (
                    rt.clone(),
                    Guard(Arc::clone(&dropped)),
                    Arc::clone(&started),
                );
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    rt.sleep(Duration::from_secs(3600)).await;
                    drop(guard);
                }
            }
        })
        .unwrap();
        batcher.put(1).unwrap();
        while started.load(Ordering::SeqCst) == 0 {
            rt.sleep(MS).await;
        }
        drop(batcher);
        for _ in 0..100 {
            if dropped.load(Ordering::SeqCst) == 1 {
                break;
            }
            rt.sleep(MS).await;
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn zero_max_wait_is_a_typed_error() {
    let rt = wrangle_rt::VirtualRuntime::new();
    let err = Batcher::with_runtime(rt, nz(1), Duration::ZERO, |_: Vec<u8>| async {}).unwrap_err();
    assert_eq!(err, InvalidBatchConfig::ZeroMaxWait);
}

#[test]
fn chunks_timeout_groups_a_stream() {
    each_runtime(|rt| async move {
        let (tx, rx) = async_channel::unbounded();
        let producer = rt.spawn({
            let rt = rt.clone();
            async move {
                for i in 0..5u32 {
                    tx.send(i).await.unwrap();
                }
                rt.sleep(10 * MS).await;
                tx.send(5).await.unwrap();
            }
        });
        let groups: Vec<Vec<u32>> = ChunksTimeout::with_runtime(rt.clone(), rx, nz(2), 3 * MS)
            .collect()
            .await;
        producer.await.unwrap();
        let flat: Vec<u32> = groups.iter().flatten().copied().collect();
        assert_eq!(flat, [0, 1, 2, 3, 4, 5]);
        assert!(groups.iter().all(|g| !g.is_empty() && g.len() <= 2));
        if rt.is_virtual() {
            assert_eq!(groups, [vec![0, 1], vec![2, 3], vec![4], vec![5]]);
        }
    });
}

/// The reference model: groups of (arrival ms) items; a window closes when full or at
/// `first + max_wait`; what is left when the stream ends is emitted at the end.
fn model(arrivals: &[u64], max: usize, wait_us: u64) -> Vec<(u64, Vec<usize>)> {
    let mut out = Vec::new();
    let mut buf: Vec<usize> = Vec::new();
    let mut deadline = 0;
    for (i, &t) in arrivals.iter().enumerate() {
        let t_us = t * 1000;
        if !buf.is_empty() && t_us > deadline {
            out.push((deadline, std::mem::take(&mut buf)));
        }
        if buf.is_empty() {
            deadline = t_us + wait_us;
        }
        buf.push(i);
        if buf.len() == max {
            out.push((t_us, std::mem::take(&mut buf)));
        }
    }
    if !buf.is_empty() {
        let end = arrivals.last().copied().unwrap_or(0) * 1000;
        out.push((end, buf));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chunks_timeout_matches_model(
        gaps in prop::collection::vec(0u64..20, 0..40),
        max in 1usize..6,
        wait_ms in 1u64..30,
    ) {
        // Half a millisecond more, so no deadline ties with an arrival (all at whole ms).
        let wait_us = wait_ms * 1000 + 500;
        let arrivals: Vec<u64> = gaps.iter().scan(0, |t, g| { *t += g; Some(*t) }).collect();
        let got = virtual_time(|rt| {
            let gaps = gaps.clone();
            async move {
                let start = rt.now();
                let (tx, rx) = async_channel::unbounded();
                let producer = rt.spawn({
                    let rt = rt.clone();
                    async move {
                        for (i, g) in gaps.into_iter().enumerate() {
                            rt.sleep(Duration::from_millis(g)).await;
                            tx.send(i).await.unwrap();
                        }
                    }
                });
                let mut chunks = std::pin::pin!(ChunksTimeout::with_runtime(rt.clone(), rx, nz(max), Duration::from_micros(wait_us)));
                let mut out = Vec::new();
                while let Some(group) = chunks.next().await {
                    out.push(((rt.now() - start).as_micros() as u64, group));
                }
                producer.await.unwrap();
                out
            }
        });
        prop_assert_eq!(got, model(&arrivals, max, wait_us));
    }
}

#[test]
fn batch_channel_streams_batches_and_ends_after_close() {
    each_runtime(|rt| async move {
        let start = rt.now();
        let (tx, batches) =
            wrangle_sync::stream::batch_channel_with_runtime(rt.clone(), nz(3), 100 * MS).unwrap();
        let reader = rt.spawn({
            let rt = rt.clone();
            async move {
                let mut out = Vec::new();
                let mut batches = std::pin::pin!(batches);
                while let Some(b) = batches.next().await {
                    out.push((rt.now() - start, b));
                }
                out
            }
        });
        let writer = rt.spawn_blocking({
            let tx = tx.clone();
            move || (0..4u32).for_each(|i| tx.put(i).unwrap())
        });
        writer.await.unwrap();
        rt.sleep(150 * MS).await;
        tx.put(9).unwrap();
        tx.close();
        assert_eq!(tx.put(10).unwrap_err().0, 10);
        let out = reader.await.unwrap();
        let groups: Vec<Vec<u32>> = out.iter().map(|(_, b)| b.clone()).collect();
        // Every item once, in order, at most 3 a batch; the exact boundaries depend on when the
        // 100 ms timer fires, so they are asserted on virtual time only (a loaded real runtime
        // can fire it between two puts, or late enough to group 3 with 9).
        assert_eq!(groups.concat(), [0, 1, 2, 3, 9]);
        assert!(
            groups.iter().all(|g| (1..=3).contains(&g.len())),
            "{groups:?}"
        );
        if rt.is_virtual() {
            assert_eq!(groups, [vec![0, 1, 2], vec![3], vec![9]]);
            let at: Vec<Duration> = out.iter().map(|(t, _)| *t).collect();
            assert_eq!(at, [Duration::ZERO, 100 * MS, 150 * MS]);
        }
    });
}

/// `BatcherStats`: `started == completed + failed + cancelled + running` while callbacks run
/// and after shutdown (then `running == 0`); every panic counted in `failed` reached the
/// batcher's error reporter.
#[test]
fn stats_invariant_holds_while_running_and_after_shutdown() {
    fn holds(s: wrangle_sync::BatcherStats) {
        assert_eq!(
            s.started,
            s.completed + s.failed + s.cancelled + s.running as u64,
            "{s:?}"
        );
    }
    each_runtime(|rt| async move {
        let reported = Arc::new(AtomicUsize::new(0));
        let reporter = wrangle_rt::ErrorReporter::new({
            let reported = Arc::clone(&reported);
            move |_| {
                reported.fetch_add(1, Ordering::SeqCst);
            }
        });
        let sleeper = rt.clone();
        let batcher = Batcher::with_runtime(rt.clone(), nz(2), Duration::from_secs(3600), {
            move |batch: Vec<u32>| {
                assert!(!batch.contains(&99), "poisoned batch");
                let rt = sleeper.clone();
                async move {
                    if batch.contains(&7) {
                        rt.sleep(Duration::from_secs(3600)).await;
                    }
                }
            }
        })
        .unwrap()
        .error_reporter(reporter);
        for i in [1, 2, 99, 3, 7, 8, 4] {
            batcher.put(i).unwrap();
        }
        // [1, 2] completes, [99, 3] panics, [7, 8] sleeps an hour; [4] waits for its window.
        loop {
            let s = batcher.stats();
            holds(s);
            if s.completed + s.failed == 2 && s.running == 1 {
                break;
            }
            wrangle_rt::yield_now().await;
        }
        let s = batcher.shutdown_timeout(Duration::from_secs(1)).await;
        holds(s);
        // [4] was sent at once by the shutdown and completed; [7, 8] was cancelled.
        assert_eq!(
            (
                s.submitted,
                s.started,
                s.completed,
                s.failed,
                s.cancelled,
                s.running
            ),
            (7, 4, 2, 1, 1, 0)
        );
        assert_eq!(reported.load(Ordering::SeqCst), 1);
    });
}

/// R5 for `Shutdown`: polled k times then dropped, the batcher stays closed (puts refused),
/// the rest is still delivered, and a later shutdown waits for the callbacks as usual.
#[test]
fn shutdown_polled_then_dropped_leaves_the_batcher_closed_and_delivering() {
    for k in 1..=3 {
        each_runtime(move |rt| async move {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let batcher = Batcher::with_runtime(rt.clone(), nz(10), Duration::from_secs(3600), {
                let (seen, rt) = (Arc::clone(&seen), rt.clone());
                move |batch: Vec<u32>| {
                    let (seen, rt) = (Arc::clone(&seen), rt.clone());
                    async move {
                        rt.sleep(MS).await;
                        seen.lock().unwrap().push(batch);
                    }
                }
            })
            .unwrap();
            batcher.put(1).unwrap();
            batcher.put(2).unwrap();
            {
                let mut shutdown = Box::pin(batcher.shutdown());
                for _ in 0..k {
                    // A completed future must not be polled again.
                    if futures_lite::future::poll_once(&mut shutdown)
                        .await
                        .is_some()
                    {
                        break;
                    }
                }
            }
            assert!(batcher.is_closed());
            assert_eq!(batcher.put(3).unwrap_err().0, 3);
            let stats = batcher.shutdown().await;
            assert_eq!((stats.submitted, stats.started, stats.completed), (2, 1, 1));
            assert_eq!(*seen.lock().unwrap(), [vec![1, 2]]);
        });
    }
}

/// `flush` sends the group being formed at once (in batches of at most `max_quantity`), the
/// batcher stays open, and it resolves at once when there is nothing to send or when closed.
#[test]
fn flush_sends_the_buffered_items_now_and_keeps_the_batcher_open() {
    each_runtime(|rt| async move {
        let start = rt.now();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let batcher = Batcher::with_runtime(rt.clone(), nz(2), Duration::from_secs(3600), {
            let seen = Arc::clone(&seen);
            move |batch: Vec<u32>| {
                seen.lock().unwrap().push(batch);
                async {}
            }
        })
        .unwrap();
        batcher.flush().await; // nothing buffered: resolves at once
        for i in 1..=5 {
            batcher.put(i).unwrap();
        }
        batcher.flush().await;
        // [1, 2] and [3, 4] were full; [5] left with the flush, not an hour later.
        assert_eq!(batcher.stats().started, 3);
        let mut got = seen.lock().unwrap().clone();
        got.sort();
        assert_eq!(got, [vec![1, 2], vec![3, 4], vec![5]]);
        assert!(!batcher.is_closed());
        batcher.put(6).unwrap();
        batcher.flush().await;
        assert_eq!(seen.lock().unwrap().last(), Some(&vec![6]));
        if rt.is_virtual() {
            assert_eq!(rt.now(), start);
        }
        assert!(batcher.close());
        batcher.flush().await; // closed: resolves at once
        let stats = batcher.shutdown().await;
        assert_eq!((stats.submitted, stats.started, stats.completed), (6, 4, 4));
    });
}

/// R5 for `Flush`: polled k times then dropped, the flush still happens (it is requested on
/// the first poll) and the batcher keeps working.
#[test]
fn flush_polled_then_dropped_still_flushes() {
    for k in 1..=3 {
        each_runtime(move |rt| async move {
            let start = rt.now();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let batcher = Batcher::with_runtime(rt.clone(), nz(10), Duration::from_secs(3600), {
                let seen = Arc::clone(&seen);
                move |batch: Vec<u32>| {
                    seen.lock().unwrap().push(batch);
                    async {}
                }
            })
            .unwrap();
            batcher.put(1).unwrap();
            {
                let mut flush = Box::pin(batcher.flush());
                for _ in 0..k {
                    // A completed future must not be polled again.
                    if futures_lite::future::poll_once(&mut flush).await.is_some() {
                        break;
                    }
                }
            }
            // `started` is counted just before the callback runs: wait for the callback.
            while seen.lock().unwrap().is_empty() {
                wrangle_rt::yield_now().await;
            }
            if rt.is_virtual() {
                assert_eq!(rt.now(), start, "flushed at once, not after max_wait");
            }
            assert_eq!(*seen.lock().unwrap(), [vec![1]]);
            batcher.put(2).unwrap();
            let stats = batcher.shutdown().await;
            assert_eq!((stats.submitted, stats.started, stats.completed), (2, 2, 2));
        });
    }
}

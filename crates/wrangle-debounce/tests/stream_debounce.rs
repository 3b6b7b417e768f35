//! The stream adaptors on every runtime: edges, maximum wait, throttle, the end of the input,
//! and one timer registration per window (never one per item).

mod common;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::ms;
use futures_lite::{StreamExt, stream};
use wrangle_debounce::{
    DebounceBuilder, DebounceStreamExt, InvalidDebounceConfig, ThrottleBuilder,
};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{DefaultRuntime, JoinHandle, Runtime, Sleep, VirtualRuntime};

/// Sends `items` with the given gaps (ms) before each, then ends; returns the receiver.
fn feed(
    rt: &DefaultRuntime,
    gaps_items: Vec<(u64, u32)>,
) -> (async_channel::Receiver<u32>, JoinHandle<()>) {
    let (tx, rx) = async_channel::unbounded();
    let rt2 = rt.clone();
    let producer = rt.spawn(async move {
        for (gap, item) in gaps_items {
            rt2.sleep(ms(gap)).await;
            tx.send(item).await.unwrap();
        }
    });
    (rx, producer)
}

/// What a ready burst of 0..1000 comes out as: exactly `expected` on virtual time. A real
/// runtime may leave the adaptor unpolled for longer than a window in the middle of the burst
/// (it takes at most 256 items per poll), which ends a window early; there only the order is
/// asserted: a subsequence of the input that keeps `expected`'s first and last item.
fn assert_burst(virtual_time: bool, out: &[u32], expected: &[u32]) {
    if virtual_time {
        assert_eq!(out, expected);
    } else {
        assert_eq!(out.first(), expected.first(), "{out:?}");
        assert_eq!(out.last(), expected.last(), "{out:?}");
        assert!(out.windows(2).all(|w| w[0] < w[1]), "{out:?}");
    }
}

#[test]
fn a_ready_burst_settles_on_its_last_item_on_every_runtime() {
    each_runtime(|rt| async move {
        let virtual_time = rt.is_virtual();
        let out: Vec<u32> = stream::iter(0..1000)
            .debounce(ms(5))
            .unwrap()
            .collect()
            .await;
        assert_burst(virtual_time, &out, &[999]);
        let out: Vec<u32> = stream::iter(0..1000)
            .throttle(ms(5))
            .unwrap()
            .collect()
            .await;
        assert_burst(virtual_time, &out, &[0, 999]);
        let both = DebounceBuilder::new(ms(5))
            .leading(true)
            .runtime(rt.clone())
            .build(stream::iter(0..1000))
            .unwrap();
        let mut both = pin!(both);
        let mut out = Vec::new();
        while let Some(x) = both.next().await {
            out.push(x);
        }
        assert_burst(virtual_time, &out, &[0, 999]);
        assert_eq!(both.next().await, None, "fused after the end");
        let s = both.stats();
        let emitted = out.len() as u64;
        assert_eq!(
            (s.submitted, s.completed, s.skipped, s.queued),
            (1000, emitted, 1000 - emitted, 0)
        );
    });
}

#[test]
fn trailing_waits_for_a_quiet_window_on_every_runtime() {
    each_runtime(|rt| async move {
        // Two bursts separated by a long gap (on real runtimes only the order is asserted).
        let (rx, producer) = feed(&rt, vec![(0, 1), (1, 2), (1, 3), (300, 4), (1, 5)]);
        let start = rt.now();
        let mut s = pin!(
            DebounceBuilder::new(ms(50))
                .runtime(rt.clone())
                .build(rx)
                .unwrap()
        );
        let mut seen = Vec::new();
        while let Some(x) = s.next().await {
            seen.push((x, rt.now() - start));
        }
        producer.await.unwrap();
        if rt.is_virtual() {
            // 3 once 50 ms passed after it; 5 when the input ended (at once, at 303 ms).
            assert_eq!(seen, [(3, ms(52)), (5, ms(303))]);
        } else {
            // A loaded machine may split a burst, never reorder or invent items.
            let items: Vec<u32> = seen.iter().map(|&(x, _)| x).collect();
            assert!(items.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(items.last(), Some(&5));
        }
    });
}

#[test]
fn max_wait_lets_a_steady_stream_through() {
    virtual_time(|rt| async move {
        let rt = DefaultRuntime::Virtual(rt);
        // An item every 4 ms for 100 ms never leaves a 10 ms gap.
        let (rx, producer) = feed(
            &rt,
            (0..25).map(|i| (if i == 0 { 0 } else { 4 }, i)).collect(),
        );
        let start = rt.now();
        let mut s = pin!(
            DebounceBuilder::new(ms(10))
                .max_wait(ms(20))
                .runtime(rt.clone())
                .build(rx)
                .unwrap()
        );
        let mut seen = Vec::new();
        while let Some(x) = s.next().await {
            seen.push((x, (rt.now() - start).as_millis()));
        }
        producer.await.unwrap();
        assert_eq!(seen, [(4, 20), (9, 40), (14, 60), (19, 80), (24, 96)]);
    });
}

#[test]
fn throttle_lets_one_item_per_window_through() {
    virtual_time(|rt| async move {
        let rt = DefaultRuntime::Virtual(rt);
        let (rx, producer) = feed(
            &rt,
            (0..10).map(|i| (if i == 0 { 0 } else { 4 }, i)).collect(),
        );
        let start = rt.now();
        let mut s = pin!(rx.throttle(ms(10)).unwrap());
        let mut seen = Vec::new();
        while let Some(x) = s.next().await {
            seen.push((x, (rt.now() - start).as_millis()));
        }
        producer.await.unwrap();
        assert_eq!(seen, [(0, 0), (2, 10), (5, 20), (7, 30), (9, 36)]);
        // Leading only: the first item of each burst.
        let (rx, producer) = feed(&rt, vec![(0, 1), (2, 2), (30, 3), (2, 4)]);
        let out: Vec<u32> = ThrottleBuilder::new(ms(10))
            .trailing(false)
            .build(rx)
            .unwrap()
            .collect()
            .await;
        producer.await.unwrap();
        assert_eq!(out, [1, 3]);
    });
}

#[test]
fn bad_configuration_is_a_typed_error() {
    let rt = VirtualRuntime::new();
    let b = || DebounceBuilder::new(ms(10)).runtime(rt.clone());
    fn err<T>(r: Result<T, InvalidDebounceConfig>) -> InvalidDebounceConfig {
        r.map(drop).unwrap_err()
    }
    assert_eq!(
        err(b()
            .leading(false)
            .trailing(false)
            .build(stream::empty::<u8>())),
        InvalidDebounceConfig::NoEdge
    );
    assert_eq!(
        err(b().max_wait(ms(9)).build(stream::empty::<u8>())),
        InvalidDebounceConfig::MaxWaitBelowWindow
    );
    assert_eq!(
        err(b().max_wait(Duration::MAX).build(stream::empty::<u8>())),
        InvalidDebounceConfig::OutOfRange
    );
    assert_eq!(
        err(DebounceBuilder::new(Duration::ZERO)
            .runtime(rt.clone())
            .build(stream::empty::<u8>())),
        InvalidDebounceConfig::ZeroWindow
    );
    assert_eq!(
        err(ThrottleBuilder::new(Duration::MAX)
            .runtime(rt.clone())
            .build(stream::empty::<u8>())),
        InvalidDebounceConfig::OutOfRange
    );
    assert_eq!(
        err(ThrottleBuilder::new(ms(1))
            .leading(false)
            .trailing(false)
            .runtime(rt.clone())
            .build(stream::empty::<u8>())),
        InvalidDebounceConfig::NoEdge
    );
}

/// A virtual runtime that counts timer registrations: sleeps made and resets.
#[derive(Clone, Debug)]
struct Counting {
    inner: VirtualRuntime,
    sleeps: Arc<AtomicUsize>,
    resets: Arc<AtomicUsize>,
}

#[derive(Debug)]
#[pin_project::pin_project]
struct CountingSleep {
    #[pin]
    inner: <VirtualRuntime as Runtime>::Sleep,
    resets: Arc<AtomicUsize>,
}

impl Future for CountingSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().inner.poll(cx)
    }
}

impl Sleep for CountingSleep {
    fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.project();
        this.resets.fetch_add(1, Ordering::SeqCst);
        this.inner.reset(deadline);
    }
    fn deadline(&self) -> Instant {
        self.inner.deadline()
    }
}

impl Runtime for Counting {
    type Sleep = CountingSleep;
    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn(future)
    }
    fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.inner.spawn_blocking(f)
    }
    fn now(&self) -> Instant {
        self.inner.now()
    }
    fn wall_now(&self) -> jiff::Timestamp {
        self.inner.wall_now()
    }
    fn sleep_until(&self, deadline: Instant) -> CountingSleep {
        self.sleeps.fetch_add(1, Ordering::SeqCst);
        CountingSleep {
            inner: self.inner.sleep_until(deadline),
            resets: Arc::clone(&self.resets),
        }
    }
}

#[test]
fn one_sleep_moved_at_most_once_per_window_never_one_per_item() {
    let vrt = VirtualRuntime::new();
    let rt = Counting {
        inner: vrt.clone(),
        sleeps: Arc::default(),
        resets: Arc::default(),
    };
    let out: Vec<u32> = vrt.block_on({
        let rt = rt.clone();
        async move {
            // 1,000 items, one per millisecond, through a 10 ms debounce.
            let (tx, rx) = async_channel::unbounded();
            let producer = rt.spawn({
                let rt = rt.clone();
                async move {
                    for i in 0..1000 {
                        tx.send(i).await.unwrap();
                        rt.sleep(ms(1)).await;
                    }
                }
            });
            let out = DebounceBuilder::new(ms(10))
                .runtime(rt.clone())
                .build(rx)
                .unwrap()
                .collect()
                .await;
            producer.await.unwrap();
            out
        }
    });
    assert_eq!(out, [999]);
    // The producer's own sleeps go through the runtime too: 1,000 of them, and one for the
    // stream. lodash's re-arming moves the stream's sleep once per 9 ms (the window less the
    // gap), about 111 times in a second: not 1,000.
    assert_eq!(rt.sleeps.load(Ordering::SeqCst), 1000 + 1);
    let resets = rt.resets.load(Ordering::SeqCst);
    assert!(resets <= 1000 / 9 + 2, "{resets} resets");
}

/// R5: a `next()` future of either adaptor polled k times then dropped loses nothing: the
/// waiting item still comes out at its edge.
#[test]
fn next_polled_k_times_then_dropped_loses_nothing() {
    virtual_time(|rt| async move {
        for k in 0..4 {
            let start = rt.now();
            let items = stream::iter([1, 2, 3]).chain(stream::once_future({
                let rt = rt.clone();
                async move {
                    rt.sleep(ms(100)).await;
                    4
                }
            }));
            let mut s = pin!(
                DebounceBuilder::new(ms(10))
                    .runtime(rt.clone())
                    .build(items)
                    .unwrap()
            );
            {
                let mut next = pin!(s.next());
                let mut cx = Context::from_waker(std::task::Waker::noop());
                for _ in 0..k {
                    assert!(next.as_mut().poll(&mut cx).is_pending());
                }
            }
            assert_eq!(s.next().await, Some(3));
            assert_eq!(rt.now() - start, ms(10));
            assert_eq!(s.next().await, Some(4));
            assert_eq!(s.next().await, None);
        }
    });
}

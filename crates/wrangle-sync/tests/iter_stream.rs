//! Behaviour of `IterStream` (the blocking-iterator bridge) on every runtime.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_lite::{FutureExt, StreamExt};
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;
use wrangle_sync::stream::IterStream;

/// An iterator that counts its `next` calls.
fn counted(n: usize, calls: &Arc<AtomicUsize>) -> impl Iterator<Item = usize> + Send + 'static {
    let calls = Arc::clone(calls);
    (0..n).inspect(move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
    })
}

/// Waits (on the runtime's clock) until `f` holds, for at most a second.
async fn eventually<R: Runtime>(rt: &R, f: impl Fn() -> bool) {
    for _ in 0..1000 {
        if f() {
            return;
        }
        rt.sleep(Duration::from_millis(1)).await;
    }
    panic!("condition never held");
}

#[test]
fn yields_every_item_in_order() {
    each_runtime(|rt| async move {
        let items: Vec<u32> =
            IterStream::with_runtime(rt.clone(), 0..500, NonZeroUsize::new(16).unwrap())
                .collect()
                .await;
        assert_eq!(items, (0..500).collect::<Vec<_>>());
    });
}

#[test]
fn producer_runs_at_most_one_item_ahead_by_default() {
    each_runtime(|rt| async move {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut s = IterStream::with_runtime(rt.clone(), counted(10, &calls), NonZeroUsize::MIN);
        assert_eq!(s.next().await, Some(0));
        eventually(&rt, || calls.load(Ordering::SeqCst) == 2).await;
        // Give it every chance to run further ahead; it must not.
        rt.sleep(Duration::from_millis(20)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(s.next().await, Some(1));
        eventually(&rt, || calls.load(Ordering::SeqCst) == 3).await;
    });
}

#[test]
fn producer_runs_at_most_n_items_ahead() {
    each_runtime(|rt| async move {
        let calls = Arc::new(AtomicUsize::new(0));
        let s = IterStream::with_runtime(
            rt.clone(),
            counted(100, &calls),
            NonZeroUsize::new(4).unwrap(),
        );
        eventually(&rt, || calls.load(Ordering::SeqCst) == 4).await;
        rt.sleep(Duration::from_millis(20)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        drop(s);
    });
}

#[test]
fn panic_comes_after_items_buffered_before_it() {
    each_runtime(|rt| async move {
        let iter = (1..=3).inspect(|&i| assert!(i < 3, "producer"));
        let mut s = IterStream::with_runtime(rt.clone(), iter, NonZeroUsize::new(8).unwrap());
        assert_eq!(s.next().await, Some(1));
        assert_eq!(s.next().await, Some(2));
        let err = std::panic::AssertUnwindSafe(s.next())
            .catch_unwind()
            .await
            .unwrap_err();
        let msg = err
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| err.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(msg.contains("producer"), "{msg}");
        // After the panic the stream is over.
        assert_eq!(s.next().await, None);
    });
}

#[test]
fn fallible_iterator_errors_keep_their_place() {
    each_runtime(|rt| async move {
        let iter = vec![Ok(1), Ok(2), Err("bad"), Ok(4)];
        let items: Vec<Result<i32, &str>> =
            IterStream::with_runtime(rt.clone(), iter, NonZeroUsize::MIN)
                .collect()
                .await;
        assert_eq!(items, [Ok(1), Ok(2), Err("bad"), Ok(4)]);
    });
}

#[test]
fn early_drop_stops_the_producer_quietly() {
    each_runtime(|rt| async move {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut s =
            IterStream::with_runtime(rt.clone(), counted(1_000_000, &calls), NonZeroUsize::MIN);
        assert_eq!(s.next().await, Some(0));
        drop(s);
        rt.sleep(Duration::from_millis(20)).await;
        let after = calls.load(Ordering::SeqCst);
        assert!(after <= 2, "{after}");
        rt.sleep(Duration::from_millis(20)).await;
        assert_eq!(calls.load(Ordering::SeqCst), after);
    });
}

//! `Debounce` and `Throttle` streams are `FusedStream`s: terminated exactly when the next poll
//! returns `None` (the inner stream ended and nothing is left waiting).

use std::time::Duration;

use futures_core::stream::FusedStream;
use futures_lite::{StreamExt, stream};
use wrangle_debounce::{DebounceBuilder, DebounceStreamExt, ThrottleBuilder};
use wrangle_rt::testing::{each_runtime, virtual_time};

#[test]
fn debounce_is_terminated_after_its_last_item() {
    each_runtime(|rt| async move {
        let mut s = DebounceBuilder::new(Duration::from_millis(5))
            .runtime(rt.clone())
            .build(stream::iter([1, 2, 3]))
            .unwrap();
        assert!(!s.is_terminated());
        // The burst collapses to its last item, yielded on the trailing edge at the end.
        assert_eq!(s.next().await, Some(3));
        assert!(s.is_terminated());
        assert_eq!(s.next().await, None);
        assert!(s.is_terminated());
        assert_eq!(s.next().await, None);
    });
}

#[test]
fn debounce_without_trailing_edge_is_terminated_when_the_input_ends() {
    virtual_time(|rt| async move {
        let mut s = DebounceBuilder::new(Duration::from_millis(5))
            .leading(true)
            .trailing(false)
            .runtime(rt.clone())
            .build(stream::iter([1, 2, 3]))
            .unwrap();
        assert_eq!(s.next().await, Some(1));
        // Not known yet: the input has not been seen to end.
        assert!(!s.is_terminated());
        assert_eq!(s.next().await, None);
        assert!(s.is_terminated());
    });
}

#[test]
fn debounce_of_a_pending_input_is_not_terminated() {
    virtual_time(|_rt| async move {
        let (tx, rx) = async_channel::unbounded::<u32>();
        let mut s = Box::pin(rx.debounce(Duration::from_millis(5)).unwrap());
        tx.send(7).await.unwrap();
        assert_eq!(s.next().await, Some(7));
        assert!(!s.is_terminated());
        drop(tx);
        assert_eq!(s.next().await, None);
        assert!(s.is_terminated());
    });
}

#[test]
fn throttle_is_terminated_after_its_last_item() {
    each_runtime(|rt| async move {
        let mut s = ThrottleBuilder::new(Duration::from_millis(5))
            .runtime(rt.clone())
            .build(stream::iter([1, 2, 3]))
            .unwrap();
        assert!(!s.is_terminated());
        let mut seen = Vec::new();
        while let Some(v) = s.next().await {
            seen.push(v);
            // Terminated only once the input ended and nothing is left waiting.
            if !s.is_terminated() {
                continue;
            }
            assert_eq!(v, 3, "the last item is the trailing edge");
        }
        assert_eq!(seen.first(), Some(&1));
        assert_eq!(seen.last(), Some(&3));
        assert!(s.is_terminated());
        assert_eq!(s.next().await, None);
    });
}

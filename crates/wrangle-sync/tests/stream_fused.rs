//! The streams of wrangle-sync are `FusedStream`s: `IterStream`, `ChunksTimeout` and
//! `Batches` are terminated exactly when their next poll returns `None`.

use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_core::stream::FusedStream;
use futures_lite::{FutureExt, StreamExt, stream};
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;
use wrangle_sync::stream::{ChunksTimeout, IterStream, batch_channel_with_runtime};

#[test]
fn iter_stream_is_terminated_after_its_last_item() {
    each_runtime(|rt| async move {
        let mut s = IterStream::with_runtime(rt.clone(), 0..2, NonZeroUsize::MIN);
        assert!(!s.is_terminated());
        assert_eq!(s.next().await, Some(0));
        assert_eq!(s.next().await, Some(1));
        assert_eq!(s.next().await, None);
        assert!(s.is_terminated());
        assert_eq!(s.next().await, None);
    });
}

#[test]
fn iter_stream_is_terminated_once_its_panic_was_raised() {
    each_runtime(|rt| async move {
        let iter = (0..3).map(|i| if i == 1 { panic!("iterator failed") } else { i });
        let mut s = IterStream::with_runtime(rt.clone(), iter, NonZeroUsize::MIN);
        assert_eq!(s.next().await, Some(0));
        // The panic is still to be raised: not terminated.
        assert!(!s.is_terminated());
        let raised = AssertUnwindSafe(s.next()).catch_unwind().await;
        assert!(raised.is_err());
        assert!(s.is_terminated());
        assert_eq!(s.next().await, None);
    });
}

#[test]
fn chunks_timeout_is_terminated_after_its_last_group() {
    each_runtime(|rt| async move {
        let mut s = Box::pin(ChunksTimeout::with_runtime(
            rt.clone(),
            stream::iter(0..5),
            NonZeroUsize::new(2).unwrap(),
            Duration::from_millis(10),
        ));
        assert!(!s.is_terminated());
        assert_eq!(s.next().await, Some(vec![0, 1]));
        assert_eq!(s.next().await, Some(vec![2, 3]));
        // The input's end is seen while the last, short group is formed.
        assert_eq!(s.next().await, Some(vec![4]));
        assert!(s.is_terminated());
        assert_eq!(s.next().await, None);
        assert!(s.is_terminated());
    });
}

#[test]
fn batches_are_terminated_once_closed_and_drained() {
    each_runtime(|rt| async move {
        let (tx, batches) =
            batch_channel_with_runtime(rt.clone(), NonZeroUsize::new(2).unwrap(), ms(10)).unwrap();
        let mut batches = Box::pin(batches);
        tx.put(1).unwrap();
        tx.put(2).unwrap();
        tx.put(3).unwrap();
        assert_eq!(batches.next().await, Some(vec![1, 2]));
        assert!(!batches.is_terminated());
        tx.close();
        // Closed, with one item still buffered: that comes first.
        assert!(!batches.is_terminated());
        assert_eq!(batches.next().await, Some(vec![3]));
        assert_eq!(batches.next().await, None);
        assert!(batches.is_terminated());
    });
}

#[test]
fn batches_stay_open_while_a_sender_lives() {
    each_runtime(|rt| async move {
        let (tx, batches) =
            batch_channel_with_runtime::<u32, _>(rt.clone(), NonZeroUsize::new(2).unwrap(), ms(10))
                .unwrap();
        let mut batches = Box::pin(batches);
        let timed_out = batches.next().or(async {
            rt.sleep(ms(50)).await;
            None
        });
        assert_eq!(timed_out.await, None);
        assert!(!batches.is_terminated());
        drop(tx);
        assert_eq!(batches.next().await, None);
        assert!(batches.is_terminated());
    });
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

//! `BatchSender` as a `futures_sink::Sink` (feature `sink`), driven through the trait's calls
//! by hand, as futures-util's `SinkExt` drives it.
#![cfg(feature = "sink")]

use std::future::poll_fn;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::time::Duration;

use futures_core::stream::FusedStream;
use futures_lite::{Stream, StreamExt, stream};
use futures_sink::Sink;
use wrangle_rt::Runtime;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_sync::stream::batch_channel_with_runtime;

/// `SinkExt::send`: ready, start, flush.
async fn send<S: Sink<T> + Unpin, T>(sink: &mut S, item: T) -> Result<(), S::Error> {
    poll_fn(|cx| Pin::new(&mut *sink).poll_ready(cx)).await?;
    Pin::new(&mut *sink).start_send(item)?;
    poll_fn(|cx| Pin::new(&mut *sink).poll_flush(cx)).await
}

/// `StreamExt::forward`: every item of `items` sent, then the sink closed.
async fn forward<S, T>(
    mut items: impl Stream<Item = T> + Unpin,
    sink: &mut S,
) -> Result<(), S::Error>
where
    S: Sink<T> + Unpin,
{
    while let Some(item) = items.next().await {
        send(sink, item).await?;
    }
    poll_fn(|cx| Pin::new(&mut *sink).poll_close(cx)).await
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_forwarded_stream_comes_out_in_batches_and_ends_the_channel() {
    each_runtime(|rt| async move {
        let (mut tx, batches) =
            batch_channel_with_runtime(rt.clone(), NonZeroUsize::new(3).unwrap(), ms(10)).unwrap();
        forward(stream::iter(0..7), &mut tx).await.unwrap();
        assert!(tx.is_closed());
        let mut batches = Box::pin(batches);
        let mut all = Vec::new();
        while let Some(b) = batches.next().await {
            all.push(b);
        }
        assert_eq!(all, [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        assert!(batches.is_terminated());
    });
}

#[test]
fn closing_one_sender_as_a_sink_closes_the_channel_for_every_clone() {
    each_runtime(|rt| async move {
        let (mut tx, batches) =
            batch_channel_with_runtime(rt.clone(), NonZeroUsize::new(2).unwrap(), ms(10)).unwrap();
        let other = tx.clone();
        send(&mut tx, 1).await.unwrap();
        poll_fn(|cx| Pin::new(&mut tx).poll_close(cx))
            .await
            .unwrap();
        assert!(other.is_closed());
        // Refused after the close, on every clone, with the item handed back.
        assert_eq!(send(&mut tx, 2).await.unwrap_err().0, 2);
        assert_eq!(other.put(3).unwrap_err().0, 3);
        let all: Vec<Vec<u32>> = batches.collect().await;
        assert_eq!(all, [vec![1]]);
    });
}

#[test]
fn a_sent_item_waits_at_most_max_wait_without_a_flush_of_its_own() {
    virtual_time(|rt| async move {
        let (mut tx, batches) =
            batch_channel_with_runtime(rt.clone(), NonZeroUsize::new(10).unwrap(), ms(10)).unwrap();
        let mut batches = Box::pin(batches);
        let start = rt.now();
        // `poll_flush` returns at once: the item is in the channel, batched by the timer.
        send(&mut tx, "a").await.unwrap();
        assert_eq!(rt.now(), start);
        assert_eq!(batches.next().await, Some(vec!["a"]));
        assert_eq!(rt.now() - start, ms(10));
    });
}

#[test]
fn the_sink_is_ready_even_with_nobody_reading() {
    each_runtime(|rt| async move {
        let (mut tx, batches) =
            batch_channel_with_runtime(rt.clone(), NonZeroUsize::MIN, ms(10)).unwrap();
        for i in 0..1000 {
            send(&mut tx, i).await.unwrap();
        }
        drop(batches);
        // The reading side is gone: the channel is closed and the item comes back.
        assert_eq!(send(&mut tx, 1000).await.unwrap_err().0, 1000);
    });
}

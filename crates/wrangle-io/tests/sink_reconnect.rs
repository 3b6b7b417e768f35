//! RobustSink: messages across reconnections, and the documented fate of a message whose
//! send failed mid-reconnect (dropped, counted, never resent).

mod common;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::poll_once;
use futures_lite::StreamExt;
use futures_sink::Sink;
use wrangle_io::pipe::{MessageEnd, message_pipe};
use wrangle_io::{Backoff, CloseReason, Closed, Event, RobustSink};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

type Server = async_channel::Receiver<MessageEnd<u32>>;

fn open(rt: &DefaultRuntime) -> (RobustSink<MessageEnd<u32>>, Server, Arc<AtomicUsize>) {
    let (tx, rx) = async_channel::unbounded();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let sink = RobustSink::builder(move || {
        c.fetch_add(1, Ordering::SeqCst);
        let (client, server) = message_pipe::<u32>(16);
        let tx = tx.clone();
        async move {
            tx.send(server)
                .await
                .map_err(|_| io::ErrorKind::ConnectionRefused)?;
            Ok::<_, io::Error>(client)
        }
    })
    .backoff(Backoff::constant(ms(1)))
    .build_with_runtime(rt.clone())
    .unwrap();
    (sink, rx, calls)
}

/// `SinkExt::send` without a futures dependency: ready, start_send, flush.
async fn send(sink: &mut RobustSink<MessageEnd<u32>>, item: u32) -> Result<(), Closed> {
    futures_lite::future::poll_fn(|cx| Sink::<u32>::poll_ready(std::pin::Pin::new(&mut *sink), cx))
        .await?;
    Sink::<u32>::start_send(std::pin::Pin::new(&mut *sink), item)?;
    futures_lite::future::poll_fn(|cx| Sink::<u32>::poll_flush(std::pin::Pin::new(&mut *sink), cx))
        .await
}

#[test]
fn messages_flow_both_ways_across_a_reconnect() {
    each_runtime(|rt| async move {
        let (mut sink, server, calls) = open(&rt);
        send(&mut sink, 1).await.unwrap();
        let mut first = server.recv().await.unwrap();
        assert_eq!(first.next().await.unwrap().unwrap(), 1);
        first.try_send(10).unwrap();
        assert_eq!(sink.next().await, Some(10));
        drop(first); // lost
        // The stream side waits for the reconnection instead of ending.
        let reader = rt.spawn({
            let server = server.clone();
            async move {
                let mut second = server.recv().await.unwrap();
                second.try_send(20).unwrap();
                second
            }
        });
        assert_eq!(sink.next().await, Some(20));
        let mut second = reader.await.unwrap();
        send(&mut sink, 2).await.unwrap();
        assert_eq!(second.next().await.unwrap().unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let s = sink.stats();
        assert_eq!(
            (
                s.items_sent,
                s.items_received,
                s.items_dropped,
                s.disconnects
            ),
            (2, 2, 0, 1)
        );
    });
}

#[test]
fn a_message_whose_send_fails_mid_reconnect_is_dropped_and_counted_never_resent() {
    each_runtime(|rt| async move {
        let (mut sink, server, _) = open(&rt);
        let mut events = sink.events();
        send(&mut sink, 1).await.unwrap();
        let first = server.recv().await.unwrap();
        // The peer goes away without reading: message 1 was handed to the connection and is
        // lost with it. The next send finds the connection broken and its message is dropped
        // as well.
        drop(first);
        futures_lite::future::poll_fn(|cx| {
            Sink::<u32>::poll_ready(std::pin::Pin::new(&mut sink), cx)
        })
        .await
        .unwrap();
        // `poll_ready` found the loss and waited for the next connection.
        let mut second = server.recv().await.unwrap();
        send(&mut sink, 3).await.unwrap();
        assert_eq!(
            second.next().await.unwrap().unwrap(),
            3,
            "never message 1 again"
        );
        let mut dropped_in_events = 0;
        loop {
            match events.next().await.unwrap() {
                Event::Disconnected { dropped, .. } => dropped_in_events += dropped,
                Event::Connected { connection: 2 } => break,
                _ => {}
            }
        }
        let s = sink.stats();
        // Message 1 was flushed into the pipe and lost with its peer: at most once means the
        // sink does not know, so it is not counted as dropped; nothing was unflushed.
        assert_eq!(
            (s.items_sent, s.items_dropped, dropped_in_events),
            (2, 0, 0)
        );

        // A send whose connection fails before the flush: the message is dropped and counted.
        drop(second);
        futures_lite::future::poll_fn(|cx| {
            Sink::<u32>::poll_ready(std::pin::Pin::new(&mut sink), cx)
        })
        .await
        .unwrap();
        let third = server.recv().await.unwrap();
        Sink::<u32>::start_send(std::pin::Pin::new(&mut sink), 4).unwrap(); // handed over
        drop(third); // the connection fails before any flush
        futures_lite::future::poll_fn(|cx| {
            Sink::<u32>::poll_flush(std::pin::Pin::new(&mut sink), cx)
        })
        .await
        .unwrap();
        let s = sink.stats();
        assert_eq!(s.items_dropped, 1, "{s:?}");
        let mut fourth = server.recv().await.unwrap();
        send(&mut sink, 5).await.unwrap();
        assert_eq!(
            fourth.next().await.unwrap().unwrap(),
            5,
            "message 4 is not resent"
        );
    });
}

#[test]
fn after_close_the_stream_ends_and_sends_are_closed_errors() {
    each_runtime(|rt| async move {
        let (mut sink, _server, _) = open(&rt);
        sink.connected().await.unwrap();
        assert!(!futures_core::stream::FusedStream::is_terminated(&sink));
        assert!(sink.close());
        assert!(futures_core::stream::FusedStream::is_terminated(&sink));
        assert_eq!(sink.next().await, None);
        assert_eq!(
            send(&mut sink, 1).await,
            Err(Closed::new(CloseReason::Closed))
        );
        assert!(sink.is_closed());
    });
}

#[test]
fn graceful_close_closes_the_connection_once() {
    each_runtime(|rt| async move {
        let (mut sink, server, calls) = open(&rt);
        send(&mut sink, 7).await.unwrap();
        futures_lite::future::poll_fn(|cx| {
            Sink::<u32>::poll_close(std::pin::Pin::new(&mut sink), cx)
        })
        .await
        .unwrap();
        let mut peer = server.recv().await.unwrap();
        assert_eq!(peer.next().await.unwrap().unwrap(), 7);
        assert!(peer.next().await.is_none());
        rt.sleep(ms(10)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    });
}

/// R5 for the sink's stream side: a `next()` polled then dropped takes no message.
#[test]
fn a_dropped_next_takes_no_message() {
    each_runtime(|rt| async move {
        let (mut sink, server, _) = open(&rt);
        sink.connected().await.unwrap();
        let mut peer = server.recv().await.unwrap();
        for k in 0..3 {
            let mut next = sink.next();
            for _ in 0..k {
                assert!(poll_once(&mut next).is_pending());
            }
        }
        peer.try_send(9).unwrap();
        assert_eq!(sink.next().await, Some(9));
    });
}

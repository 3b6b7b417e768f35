//! The seed library's cases for RobustStream, on every runtime.

mod common;

use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{count_polls, counting_backoff, pipe_connector};
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use wrangle_io::{CloseReason, Closed, RobustStream};
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn first_connect_calls_connector_and_backoff_once() {
    each_runtime(|rt| async move {
        let (connector, server) = pipe_connector(rt.clone());
        let (backoff, backoff_calls) = counting_backoff(ms(1));
        let mut stream = RobustStream::builder(connector)
            .backoff(backoff)
            .build_with_runtime(rt.clone())
            .unwrap();
        stream.write_all(b"a").await.unwrap();
        let mut peer = server.accept().await;
        let mut got = [0; 1];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"a");
        assert_eq!(server.calls(), 1);
        assert_eq!(backoff_calls.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn failed_first_attempt_is_retried_after_backoff() {
    each_runtime(|rt| async move {
        let (connector, server) = pipe_connector(rt.clone());
        server.refuse.store(1, Ordering::SeqCst);
        let (backoff, backoff_calls) = counting_backoff(ms(1));
        let mut stream = RobustStream::builder(connector)
            .backoff(backoff)
            .build_with_runtime(rt.clone())
            .unwrap();
        stream.write_all(b"a").await.unwrap();
        assert_eq!(server.calls(), 2);
        assert_eq!(backoff_calls.load(Ordering::SeqCst), 2);
        let stats = stream.stats();
        assert_eq!((stats.started, stats.failed, stats.completed), (2, 1, 1));
    });
}

#[test]
fn reconnects_after_a_loss_and_delivers_a_then_b() {
    for clean_close in [false, true] {
        each_runtime(|rt| async move {
            let (connector, server) = pipe_connector(rt.clone());
            let (backoff, _) = counting_backoff(ms(1));
            let mut stream = RobustStream::builder(connector)
                .backoff(backoff)
                .build_with_runtime(rt.clone())
                .unwrap();
            stream.write_all(b"a").await.unwrap();
            let mut first = server.accept().await;
            let mut got = [0; 1];
            first.read_exact(&mut got).await.unwrap();
            if clean_close {
                first.close().await.unwrap();
            }
            drop(first); // the connection is lost

            // The write finds the connection broken, waits for the next one and goes there.
            stream.write_all(b"b").await.unwrap();
            let mut second = server.accept().await;
            second.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"b");
            assert_eq!(server.calls(), 2);
            assert_eq!(stream.stats().disconnects, 1);
        });
    }
}

#[test]
fn read_buffer_survives_a_reconnect_cdz() {
    each_runtime(|rt| async move {
        let (connector, server) = pipe_connector(rt.clone());
        let (backoff, _) = counting_backoff(ms(1));
        let mut stream = RobustStream::builder(connector)
            .backoff(backoff)
            .build_with_runtime(rt.clone())
            .unwrap();
        let feeder = rt.spawn({
            let server = server.clone();
            async move {
                let mut first = server.accept().await;
                first.write_all(b"bz").await.unwrap();
                first.write_all(b"c").await.unwrap();
                first.close().await.unwrap(); // lost after "c"
                drop(first);
                let mut second = server.accept().await;
                second.write_all(b"dz").await.unwrap();
                second // kept open
            }
        });
        let mut line = Vec::new();
        stream.read_until(b'z', &mut line).await.unwrap();
        assert_eq!(line, b"bz");
        line.clear();
        stream.read_until(b'z', &mut line).await.unwrap();
        assert_eq!(line, b"cdz");
        let _second = feeder.await.unwrap();
        assert_eq!(stream.stats().completed, 2);
    });
}

#[test]
fn close_during_a_pending_read_ends_it_promptly() {
    // Connected but idle, and never connected: both end with EOF at once, without spinning.
    for connects in [true, false] {
        each_runtime(|rt| async move {
            let (connector, server) = pipe_connector(rt.clone());
            if !connects {
                server.refuse.store(usize::MAX, Ordering::SeqCst);
            }
            let (backoff, _) = counting_backoff(ms(5));
            let mut stream = RobustStream::builder(connector)
                .backoff(backoff)
                .build_with_runtime(rt.clone())
                .unwrap();
            let handle = stream.handle();
            let keep = if connects {
                stream.connected().await.unwrap();
                Some(server.accept().await)
            } else {
                None
            };
            let closer = rt.spawn({
                let rt = rt.clone();
                async move {
                    rt.sleep(ms(20)).await;
                    handle.close()
                }
            });
            let mut buf = [0; 8];
            let (read, polls) = count_polls(stream.read(&mut buf));
            assert_eq!(read.await.unwrap(), 0);
            assert!(closer.await.unwrap());
            // Polled when started and when woken by the close (and a few spurious wake-ups at
            // most), never in a loop.
            assert!(polls.load(Ordering::SeqCst) <= 4, "polled {polls:?} times");
            drop(keep);
        });
    }
}

#[test]
fn use_after_close_is_a_typed_error() {
    each_runtime(|rt| async move {
        let (connector, _server) = pipe_connector(rt.clone());
        let (backoff, _) = counting_backoff(ms(1));
        let mut stream = RobustStream::builder(connector)
            .backoff(backoff)
            .build_with_runtime(rt.clone())
            .unwrap();
        assert!(stream.close());
        assert!(!stream.close(), "close is idempotent");
        assert!(stream.is_closed());

        let err = stream.write_all(b"x").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        let closed = err.get_ref().unwrap().downcast_ref::<Closed>().unwrap();
        assert_eq!(closed.reason(), CloseReason::Closed);
        assert!(stream.flush().await.is_err());
        assert_eq!(
            stream.connected().await,
            Err(Closed::new(CloseReason::Closed))
        );
        let mut buf = [0; 4];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn graceful_close_flushes_and_closes_the_connection() {
    each_runtime(|rt| async move {
        let (connector, server) = pipe_connector(rt.clone());
        let (backoff, _) = counting_backoff(ms(1));
        let mut stream = RobustStream::builder(connector)
            .backoff(backoff)
            .build_with_runtime(rt.clone())
            .unwrap();
        stream.write_all(b"bye").await.unwrap();
        AsyncWriteExt::close(&mut stream).await.unwrap();
        let mut peer = server.accept().await;
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap(); // EOF: the peer saw the close
        assert_eq!(got, b"bye");
        assert!(stream.is_closed());
        rt.sleep(ms(20)).await;
        assert_eq!(server.calls(), 1, "no reconnect after a close on purpose");
    });
}

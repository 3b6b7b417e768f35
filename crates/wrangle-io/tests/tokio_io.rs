//! Feature `tokio`: Tokio's I/O traits on RobustStream, Tokio's sockets as connections, and
//! a restart of a Tokio server in between. On Tokio's runtimes only (Tokio's sockets need its
//! reactor).
#![cfg(feature = "tokio")]

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use wrangle_io::{Backoff, RobustStream, TokioIo, connect};
use wrangle_rt::testing::{RuntimeKind, run_on};
use wrangle_rt::{DefaultRuntime, JoinHandle, Runtime};

/// A line echo server on Tokio; cancelling the handle kills it and its connections.
async fn serve(rt: &DefaultRuntime, addr: SocketAddr) -> JoinHandle<()> {
    let listener = loop {
        match TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(_) => rt.sleep(Duration::from_millis(1)).await,
        }
    };
    let rt2 = rt.clone();
    rt.spawn(async move {
        let mut connections = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            connections.push(rt2.spawn(async move {
                let mut conn = BufReader::new(conn);
                let mut line = String::new();
                while conn.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                    if conn.get_mut().write_all(line.as_bytes()).await.is_err() {
                        break;
                    }
                    line.clear();
                }
            }));
        }
    })
}

/// Runs `body` on Tokio's current-thread and multi-thread runtimes.
fn tokio_runtimes(body: impl Fn(DefaultRuntime) -> Pin<Box<dyn Future<Output = ()>>>) {
    for kind in [
        RuntimeKind::TokioCurrentThread,
        RuntimeKind::TokioMultiThread,
    ] {
        run_on(kind, &body);
    }
}

#[test]
fn tokio_traits_and_sockets_across_a_server_restart() {
    tokio_runtimes(|rt| {
        Box::pin(async move {
            let addr = std::net::TcpListener::bind(("127.0.0.1", 0))
                .unwrap()
                .local_addr()
                .unwrap();
            let server = serve(&rt, addr).await;
            let stream = RobustStream::builder(connect::tokio_tcp(addr))
                .backoff(Backoff::constant(Duration::from_millis(2)))
                .build_with_runtime(rt.clone())
                .unwrap();
            let handle = stream.handle();
            let (mut rd, mut wr) = tokio::io::split(stream);

            wr.write_all(b"one\n").await.unwrap();
            let mut line = [0; 4];
            rd.read_exact(&mut line).await.unwrap();
            assert_eq!(&line, b"one\n");

            server.cancel().await.ok();
            // The pending read notices the loss and waits for the next server.
            let reader = rt.spawn(async move {
                let mut line = [0; 4];
                rd.read_exact(&mut line).await.unwrap();
                line
            });
            while handle.stats().disconnects == 0 {
                rt.sleep(Duration::from_millis(1)).await;
            }
            let _server = serve(&rt, addr).await;
            wr.write_all(b"two\n").await.unwrap();
            assert_eq!(&reader.await.unwrap(), b"two\n");
            let s = handle.stats();
            assert_eq!((s.completed, s.disconnects), (2, 1));

            // poll_shutdown is the close on purpose.
            wr.shutdown().await.unwrap();
            assert!(handle.is_closed());
        })
    });
}

#[test]
fn tokio_io_adapts_a_tokio_stream_as_a_connection() {
    tokio_runtimes(|rt| {
        Box::pin(async move {
            let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = rt.spawn(async move {
                let (mut conn, _) = listener.accept().await.unwrap();
                conn.write_all(b"greeting\n").await.unwrap();
                conn
            });
            let mut stream = RobustStream::with_runtime(rt.clone(), move || async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tcp))
            });
            // Tokio's AsyncBufRead over the stream's own buffer.
            let mut line = String::new();
            AsyncBufReadExt::read_line(&mut stream, &mut line)
                .await
                .unwrap();
            assert_eq!(line, "greeting\n");
            let _conn = server.await.unwrap();
        })
    });
}

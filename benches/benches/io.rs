//! `io_reconnect`: wrangle-io's `RobustStream` on loopback TCP.
//!
//! - `wrangle_raw_stream` vs `raw_stream`: the healthy path, 1e5 frames of 64 bytes echoed by
//!   a loopback server (in 1,000 batches of 100 frames: write the batch, read its echo), through
//!   a `RobustStream` and through the bare `Async<TcpStream>` it wraps, both on smol. Target:
//!   <= 1.02.
//! - `wrangle_stubborn_io` vs `stubborn_io`: time to recover after a server restart: from the
//!   instant the server drops the connection (and rebinds at once) until the client has read
//!   the greeting of the new connection. Both on a Tokio current-thread runtime over Tokio's
//!   sockets, both with a constant 1 ms backoff. Target: <= the configured backoff plus two
//!   connects; `hand_written_loop` is that floor measured: the same policy written by hand
//!   on the same runtime and sockets.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use async_io::Async;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_lite::io::AsyncReadExt;
use stubborn_io::{ReconnectOptions, StubbornTcpStream};
use wrangle_benches::echo;
use wrangle_io::{Backoff, RobustStream, connect};
use wrangle_rt::adapter::{SmolRuntime, TokioRuntime};

const BATCHES: usize = 1_000;
const BACKOFF: Duration = Duration::from_millis(1);

/// A blocking echo server on its own threads.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || echo::serve(listener));
    addr
}

async fn echo_frames<S: futures_lite::io::AsyncRead + futures_lite::io::AsyncWrite + Unpin>(
    stream: &mut S,
) {
    echo::frames(stream, BATCHES).await;
}

fn healthy(c: &mut Criterion) {
    let mut group = c.benchmark_group("io_reconnect");
    group.sample_size(10);
    let addr = echo_server();

    let mut robust = smol::block_on(async {
        let s = RobustStream::builder(connect::tcp(addr))
            .backoff(Backoff::constant(BACKOFF))
            .build_with_runtime(SmolRuntime::new())
            .unwrap();
        s.connected().await.unwrap();
        s
    });
    group.bench_function("wrangle_raw_stream", |b| {
        b.iter(|| smol::block_on(echo_frames(&mut robust)))
    });

    let mut raw = smol::block_on(async {
        let s = Async::<TcpStream>::connect(addr).await.unwrap();
        s.get_ref().set_nodelay(true).unwrap();
        s
    });
    group.bench_function("raw_stream", |b| {
        b.iter(|| smol::block_on(echo_frames(&mut raw)))
    });
    group.finish();
}

/// A server that, on command, drops its connection and listener, rebinds the same port at
/// once, and greets the next connection with one byte. Sends back the instant of each drop.
struct RestartingServer {
    addr: SocketAddr,
    kill: mpsc::Sender<()>,
    killed_at: mpsc::Receiver<Instant>,
}

fn restarting_server() -> RestartingServer {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let (kill, kills) = mpsc::channel::<()>();
    let (at_tx, killed_at) = mpsc::channel();
    std::thread::spawn(move || {
        let mut listener = Some(listener);
        loop {
            let (mut conn, _) = listener.as_ref().unwrap().accept().unwrap();
            conn.write_all(b"h").unwrap();
            if kills.recv().is_err() {
                return;
            }
            drop(conn);
            listener = None;
            let at = Instant::now();
            while listener.is_none() {
                listener = TcpListener::bind(addr).ok();
            }
            if at_tx.send(at).is_err() {
                return;
            }
        }
    });
    RestartingServer {
        addr,
        kill,
        killed_at,
    }
}

fn recovery(c: &mut Criterion) {
    let mut group = c.benchmark_group("io_reconnect");
    group.sample_size(20);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let server = restarting_server();
    let mut robust = rt.block_on(async {
        let mut s = RobustStream::builder(connect::tokio_tcp(server.addr))
            .backoff(Backoff::constant(BACKOFF))
            .build_with_runtime(TokioRuntime::new(tokio::runtime::Handle::current()))
            .unwrap();
        let mut hello = [0; 1];
        s.read_exact(&mut hello).await.unwrap();
        s
    });
    group.bench_function("wrangle_stubborn_io", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    server.kill.send(()).unwrap();
                    let mut hello = [0; 1];
                    robust.read_exact(&mut hello).await.unwrap();
                    let done = Instant::now();
                    total += done - server.killed_at.recv().unwrap();
                }
                total
            })
        })
    });
    drop(robust);
    drop(server);

    let server = restarting_server();
    let mut stubborn = rt.block_on(async {
        let options = ReconnectOptions::new().with_retries_generator(|| std::iter::repeat(BACKOFF));
        let mut s = StubbornTcpStream::connect_with_options(server.addr, options)
            .await
            .unwrap();
        let mut hello = [0; 1];
        tokio::io::AsyncReadExt::read_exact(&mut s, &mut hello)
            .await
            .unwrap();
        s
    });
    group.bench_function("stubborn_io", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    server.kill.send(()).unwrap();
                    let mut hello = [0; 1];
                    tokio::io::AsyncReadExt::read_exact(&mut stubborn, &mut hello)
                        .await
                        .unwrap();
                    let done = Instant::now();
                    total += done - server.killed_at.recv().unwrap();
                }
                total
            })
        })
    });
    drop(stubborn);
    drop(server);

    // The floor: the same policy written by hand on the same runtime and sockets (on end of
    // stream: wait the backoff, connect, retry on error), so the ratio to it is what the
    // libraries add on top of "the configured backoff plus the connects". Tokio's timer has
    // 1 ms granularity, so its part of the floor is 1-2 ms, not 1 ms.
    let server = restarting_server();
    let mut raw = rt.block_on(async {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let mut hello = [0; 1];
        tokio::io::AsyncReadExt::read_exact(&mut s, &mut hello)
            .await
            .unwrap();
        s
    });
    group.bench_function("hand_written_loop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    server.kill.send(()).unwrap();
                    let mut buf = [0; 1];
                    let n = tokio::io::AsyncReadExt::read(&mut raw, &mut buf)
                        .await
                        .unwrap_or(0);
                    assert_eq!(n, 0, "the server closed the connection");
                    raw = loop {
                        tokio::time::sleep(BACKOFF).await;
                        if let Ok(s) = tokio::net::TcpStream::connect(server.addr).await {
                            break s;
                        }
                    };
                    tokio::io::AsyncReadExt::read_exact(&mut raw, &mut buf)
                        .await
                        .unwrap();
                    let done = Instant::now();
                    total += done - server.killed_at.recv().unwrap();
                }
                total
            })
        })
    });
    drop(raw);
    drop(server);
    group.finish();
}

criterion_group!(benches, healthy, recovery);
criterion_main!(benches);

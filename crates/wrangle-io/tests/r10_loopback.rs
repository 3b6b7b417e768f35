//! R10 on real sockets: a loopback echo server that the test kills and restores 100 times.
//!
//! Checked on every real runtime (the virtual runtime's clock would race the kernel; the same
//! logic is checked exactly on virtual time over in-memory pipes): every frame is echoed once
//! and in order, a frame written while the server is down is delivered after it returns,
//! attempts while it is down never outrun the configured backoff, a pending read is not
//! polled in a loop meanwhile, and after the drop no file descriptor is left open.
//!
//! Nothing here asserts a duration: only order, counts, "at most" and "eventually".

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_io::Async;
use common::{count_polls, eventually};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use wrangle_io::{Backoff, RobustStream, connect};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, JoinHandle, Runtime};

const ROUNDS: u64 = 100;
const FRAMES_PER_ROUND: u64 = 5;
/// The client's backoff: a constant wait, so "attempts never outrun it" is exact.
const BACKOFF: Duration = Duration::from_millis(5);
/// "Eventually": 1 ms steps, up to a minute (never reached unless something is broken).
const STEP: Duration = Duration::from_millis(1);
const LIMIT: usize = 60_000;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// An echo server of 8-byte frames that records what it received. Dropping (cancelling) the
/// returned handle kills it: the listener and every connection close.
async fn serve(
    rt: &DefaultRuntime,
    addr: SocketAddr,
    received: Arc<Mutex<Vec<u64>>>,
) -> JoinHandle<()> {
    let listener = loop {
        match Async::<TcpListener>::bind(addr) {
            Ok(l) => break l,
            // The old listener's port may take a moment to be free again.
            Err(_) => rt.sleep(Duration::from_millis(1)).await,
        }
    };
    let rt2 = rt.clone();
    rt.spawn(async move {
        let mut connections = Vec::new();
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            let received = received.clone();
            connections.push(rt2.spawn(async move {
                let mut frame = [0; 8];
                while conn.read_exact(&mut frame).await.is_ok() {
                    received.lock().unwrap().push(u64::from_be_bytes(frame));
                    if conn.write_all(&frame).await.is_err() {
                        break;
                    }
                }
            }));
        }
    })
}

/// A free loopback address whose port is below Linux's ephemeral range (32768-60999): while
/// the server is down, no `bind(0)` or outgoing connection of another process (a second copy
/// of this suite under `xtask stress`) can take its port, which the restored server needs.
fn port_outside_the_ephemeral_range() -> SocketAddr {
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
    for attempt in 0..1_000_u64 {
        let port = 20_000 + (seed.wrapping_add(attempt.wrapping_mul(7_919)) % 12_000) as u16;
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            return l.local_addr().unwrap();
        }
    }
    panic!("no free loopback port in 20000..32000");
}

#[test]
fn a_server_killed_and_restored_100_times() {
    each_runtime(|rt| async move {
        if rt.is_virtual() {
            return;
        }
        // Warm the reactor (its own descriptors are created once) before counting.
        drop(Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap());
        let fds_before = open_fds();
        let addr = port_outside_the_ephemeral_range();
        let received = Arc::new(Mutex::new(Vec::new()));
        let echoed = Arc::new(Mutex::new(Vec::new()));

        let stream = RobustStream::builder(connect::tcp(addr))
            .backoff(Backoff::constant(BACKOFF))
            .build_with_runtime(rt.clone())
            .unwrap();
        let handle = stream.handle();
        let (mut rd, mut wr) = futures_lite::io::split(stream);
        let (reader, reader_polls) = count_polls({
            let echoed = echoed.clone();
            async move {
                let mut frame = [0; 8];
                while rd.read_exact(&mut frame).await.is_ok() {
                    echoed.lock().unwrap().push(u64::from_be_bytes(frame));
                }
            }
        });
        let reader = rt.spawn(reader);

        let mut next = 0_u64;
        let mut server = serve(&rt, addr, received.clone()).await;
        for round in 0..ROUNDS {
            for _ in 0..FRAMES_PER_ROUND {
                wr.write_all(&next.to_be_bytes()).await.unwrap();
                next += 1;
            }
            eventually(&rt, STEP, LIMIT, || {
                echoed.lock().unwrap().len() as u64 == next
            })
            .await;

            // Kill the server and wait until the client noticed.
            server.cancel().await.ok();
            eventually(&rt, STEP, LIMIT, || handle.stats().disconnects == round + 1).await;
            let (down_at, polls_at, started_at) = (
                Instant::now(),
                reader_polls.load(Ordering::SeqCst),
                handle.stats().started,
            );
            // A frame written while the server is down waits for the next connection.
            let pending_write = rt.spawn(async move {
                wr.write_all(&next.to_be_bytes()).await.unwrap();
                wr
            });
            next += 1;
            // Let it try (and fail) a few times while the server is down.
            eventually(&rt, STEP, LIMIT, || {
                handle.stats().started >= started_at + 2
            })
            .await;
            let attempts = handle.stats().started - started_at;
            let elapsed = down_at.elapsed();
            // Each attempt waits the backoff first: never more than elapsed / backoff + 1.
            let bound = (elapsed.as_nanos() / BACKOFF.as_nanos()) as u64 + 1;
            assert!(attempts <= bound, "{attempts} attempts in {elapsed:?}");
            // The reader waits for the reconnection; it is not polled in a loop.
            let polls = reader_polls.load(Ordering::SeqCst) - polls_at;
            assert!(
                polls <= 2,
                "reader polled {polls} times while the server was down"
            );

            server = serve(&rt, addr, received.clone()).await;
            wr = pending_write.await.unwrap();
        }
        eventually(&rt, STEP, LIMIT, || {
            echoed.lock().unwrap().len() as u64 == next
        })
        .await;

        // Every frame echoed exactly once, in order; the server saw the same.
        let expected: Vec<u64> = (0..next).collect();
        assert_eq!(*echoed.lock().unwrap(), expected);
        assert_eq!(*received.lock().unwrap(), expected);
        let s = handle.stats();
        assert_eq!((s.completed, s.disconnects), (ROUNDS + 1, ROUNDS));
        assert_eq!(s.bytes_written, next * 8);

        // Drop everything: no descriptor stays open.
        drop(wr);
        reader.cancel().await.ok();
        server.cancel().await.ok();
        assert!(handle.is_closed());
        eventually(&rt, STEP, LIMIT, || open_fds() <= fds_before).await;
    });
}

#[cfg(unix)]
#[test]
fn a_unix_socket_server_restarted() {
    use std::os::unix::net::UnixListener;

    each_runtime(|rt| async move {
        if rt.is_virtual() {
            return;
        }
        let dir =
            std::env::temp_dir().join(format!("wrangle-io-{}-{}", std::process::id(), rt.name()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("echo.sock");
        let mut stream = RobustStream::builder(connect::unix(&path))
            .backoff(Backoff::constant(BACKOFF))
            .build_with_runtime(rt.clone())
            .unwrap();
        for round in 0..5_u8 {
            let _ = std::fs::remove_file(&path);
            let listener = Async::<UnixListener>::bind(&path).unwrap();
            let server = rt.spawn(async move {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut byte = [0; 1];
                conn.read_exact(&mut byte).await.unwrap();
                conn.write_all(&byte).await.unwrap();
                // Dropping `conn` and the listener hangs up.
            });
            stream.write_all(&[round]).await.unwrap();
            let mut byte = [0; 1];
            stream.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], round);
            server.await.unwrap();
        }
        assert_eq!(stream.stats().completed, 5);
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[allow(dead_code)]
fn _assert_send(s: RobustStream<Async<TcpStream>>) -> impl Send {
    s
}

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use async_io::Async;
use futures_lite::StreamExt;
use futures_lite::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use wrangle::io::{Backoff, Event, RobustStream, connect};
use wrangle::rt::{DefaultRuntime, JoinHandle, Runtime};

/// A line echo server; cancelling its handle kills it (listener and connections).
fn echo_server(rt: &DefaultRuntime, listener: Async<TcpListener>) -> JoinHandle<()> {
    let rt2 = rt.clone();
    rt.spawn(async move {
        let mut connections = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            connections.push(rt2.spawn(async move {
                let mut conn = BufReader::new(conn);
                let mut line = String::new();
                while conn.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                    let reply = format!("echo: {line}");
                    if conn.get_mut().write_all(reply.as_bytes()).await.is_err() {
                        break;
                    }
                    line.clear();
                }
            }));
        }
    })
}

fn bind(addr: SocketAddr) -> Async<TcpListener> {
    Async::<TcpListener>::bind(addr).expect("bind a loopback port")
}

pub(crate) async fn tour(rt: DefaultRuntime) {
    let listener = bind(([127, 0, 0, 1], 0).into());
    let addr = listener.get_ref().local_addr().unwrap();
    let server = echo_server(&rt, listener);

    // Opening returns at once; the first connection is made in the background.
    let stream = RobustStream::builder(connect::tcp(addr))
        .backoff(Backoff::exponential(
            Duration::from_millis(10),
            Duration::from_millis(100),
        ))
        .build_with_runtime(rt.clone())
        .unwrap();
    let handle = stream.handle();
    let mut events = stream.events();
    let (rd, mut wr) = futures_lite::io::split(stream);
    let mut rd = BufReader::new(rd);
    wr.write_all(b"ping 1\n").await.unwrap();
    let mut line = String::new();
    rd.read_line(&mut line).await.unwrap();
    print!("server {addr} answered: {line}");

    // Kill the server. The client's pending read notices at once, and keeps waiting: it
    // will be answered by the next server.
    server.cancel().await.ok();
    println!("server killed");
    let reader = rt.spawn(async move {
        let mut line = String::new();
        rd.read_line(&mut line).await.unwrap();
        line
    });
    while let Some(event) = events.next().await {
        if let Event::Disconnected { cause, .. } = event {
            println!("client: connection lost ({cause}); reconnecting with backoff");
            break;
        }
    }

    // Restore it on the same port a little later; attempts meanwhile are refused.
    rt.sleep(Duration::from_millis(50)).await;
    let server = echo_server(&rt, bind(addr));
    println!("server restored");
    let mut refused = 0;
    while let Some(event) = events.next().await {
        match event {
            Event::AttemptFailed { .. } => refused += 1,
            Event::Connected { connection } => {
                println!("client: connection #{connection} up after {refused} refused attempt(s)");
                break;
            }
            _ => {}
        }
    }
    wr.write_all(b"ping 2\n").await.unwrap();
    print!(
        "the read pending across the outage got: {}",
        reader.await.unwrap()
    );
    let s = handle.stats();
    println!(
        "stats: {} attempts, {} connections, {} lost, {} bytes written",
        s.started, s.completed, s.disconnects, s.bytes_written
    );
    drop(server);
}

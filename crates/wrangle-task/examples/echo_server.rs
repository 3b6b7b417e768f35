//! A multi-worker echo server on loopback: each worker thread runs its own runtime and its own
//! listener, all bound to one port with `SO_REUSEPORT`, so the kernel spreads connections.
//!
//! ```sh
//! cargo run -p wrangle-task --features signal --example echo_server -- [port] [workers]
//! ```
//!
//! It prints `listening on 127.0.0.1:<port>`, echoes every line it receives, stops gracefully
//! on the first SIGINT/SIGTERM (in-flight connections are served to their end, no new ones are
//! accepted) and exits at once with code 130 on a second one.

// An example program reports on stdout.
#![allow(clippy::print_stdout)]

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use async_io::Async;
use futures_lite::{AsyncBufReadExt, AsyncWriteExt, future, io::BufReader};
use wrangle_rt::Runtime;
use wrangle_task::Server;
use wrangle_task::supervisor::WorkerContext;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let workers = args
        .next()
        .and_then(|a| a.parse().ok())
        .and_then(NonZeroUsize::new)
        .unwrap_or(NonZeroUsize::MIN);

    let listeners = match bind_all(port, workers.get()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listeners[0]
        .local_addr()
        .expect("a bound listener has an address");
    println!("listening on {addr}");
    let listeners = Arc::new(Mutex::new(
        listeners.into_iter().map(Some).collect::<Vec<_>>(),
    ));

    let server = Server::new(workers).name("echo").signals();
    let result = wrangle_rt::block_on(server.serve(move |ctx| {
        let listener = listeners.lock().unwrap()[ctx.index()].take();
        async move {
            let listener = listener.ok_or_else(|| io::Error::other("listener already taken"))?;
            serve(ctx, listener).await
        }
    }));
    match result {
        Ok(()) => {
            println!("stopped gracefully");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One listener per worker, all on the same port, with `SO_REUSEPORT`.
fn bind_all(port: u16, n: usize) -> io::Result<Vec<TcpListener>> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let l = reuseport_listener(addr)?;
        addr = l.local_addr()?;
        out.push(l);
    }
    Ok(out)
}

#[cfg(unix)]
fn reuseport_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    use rustix::net::{AddressFamily, SocketType, bind, listen, socket, sockopt};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None)?;
    sockopt::set_socket_reuseport(&fd, true)?;
    bind(&fd, &addr)?;
    listen(&fd, 128)?;
    Ok(TcpListener::from(fd))
}

#[cfg(not(unix))]
fn reuseport_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    // No SO_REUSEPORT: one listener only (run with one worker).
    TcpListener::bind(addr)
}

/// Accepts until the graceful stop begins, then waits for its open connections to end.
async fn serve(ctx: WorkerContext, listener: TcpListener) -> io::Result<()> {
    let listener = Async::new(listener)?;
    let mut connections = Vec::new();
    loop {
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            ctx.token().cancelled().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { break };
        let (stream, _) = accepted?;
        connections.push(ctx.runtime().spawn(echo(stream)));
    }
    println!(
        "worker {} draining {} connection(s)",
        ctx.index(),
        connections.len()
    );
    for c in connections {
        // A connection that failed only affects its client.
        let _ = c.await;
    }
    Ok(())
}

async fn echo(stream: Async<std::net::TcpStream>) -> io::Result<()> {
    let mut writer = Async::new(stream.get_ref().try_clone()?)?;
    let mut lines = BufReader::new(stream).lines();
    while let Some(line) = futures_lite::StreamExt::next(&mut lines).await {
        let line = line?;
        writer.write_all(format!("{line}\n").as_bytes()).await?;
    }
    Ok(())
}

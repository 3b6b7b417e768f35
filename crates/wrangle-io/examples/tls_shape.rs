//! The shape of a TLS connection that reconnects: TCP connect, then a handshake, inside the
//! connector, on every attempt. `cargo run -p wrangle-io --example tls_shape`
//!
//! A real program uses a TLS crate's connector (futures-rustls, async-native-tls, or
//! tokio-rustls with `TokioIo`); this example stands one in with a toy "handshake" (the
//! server must answer `HELLO` with `WELCOME`), so it runs without certificates. What carries
//! over is the structure: a failed handshake is a failed attempt, retried with backoff, and the
//! stream the handshake returns is the connection.

// An example's job is to print.
#![allow(clippy::print_stdout)]

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use async_io::Async;
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use wrangle_io::{Backoff, RobustStream};
use wrangle_rt::{DefaultRuntime, Runtime};

/// Stands in for a TLS connector: wraps a connected TCP stream after a handshake.
#[derive(Clone)]
struct Handshake {
    server_name: &'static str,
}

impl Handshake {
    async fn connect(&self, mut tcp: Async<TcpStream>) -> io::Result<Async<TcpStream>> {
        tcp.write_all(format!("HELLO {}\n", self.server_name).as_bytes())
            .await?;
        let mut answer = [0; 8];
        tcp.read_exact(&mut answer).await?;
        if &answer != b"WELCOME\n" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "handshake refused",
            ));
        }
        Ok(tcp) // a TLS crate returns its encrypted stream here
    }
}

fn main() {
    wrangle_rt::block_on(async {
        let rt = DefaultRuntime::current();
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr: SocketAddr = listener.get_ref().local_addr().unwrap();

        // A server that completes the handshake and then greets.
        let server = rt.spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut conn = futures_lite::io::BufReader::new(conn);
            let mut hello = String::new();
            conn.read_line(&mut hello).await.unwrap();
            println!("server got: {}", hello.trim());
            conn.get_mut()
                .write_all(b"WELCOME\ngreetings\n")
                .await
                .unwrap();
            conn
        });

        let tls = Handshake {
            server_name: "example.com",
        };
        let mut stream = RobustStream::builder(move || {
            let tls = tls.clone();
            async move {
                let tcp = Async::<TcpStream>::connect(addr).await?;
                tls.connect(tcp).await
            }
        })
        .backoff(Backoff::exponential(
            Duration::from_millis(50),
            Duration::from_secs(2),
        ))
        .connect_timeout(Duration::from_secs(5))
        .build_with_runtime(rt.clone())
        .unwrap();

        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        println!("client read after the handshake: {}", line.trim());
        let _conn = server.await.unwrap();
    });
}

//! The healthy path of `benches/io.rs` (`io_reconnect`: 64-byte frames in batches of 100,
//! written and read back from a loopback echo server), through a `RobustStream` and through
//! the bare `Async<TcpStream>`, for an instruction count that the machine's load does not
//! disturb (the echo server is a child process, outside the count):
//!
//! ```text
//! cargo build --release -p wrangle-benches --example io_echo_cg
//! for f in robust raw; do
//!   valgrind --tool=callgrind --toggle-collect="*loop_$f*" target/release/examples/io_echo_cg
//! done
//! ```
//!
//! Each collected function echoes 200 batches: divide "Collected" by 200 for the user-space
//! instructions per batch (one write of 6,400 bytes, reads until 6,400 came back).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use async_io::Async;
use wrangle_benches::echo;
use wrangle_io::{Backoff, RobustStream, connect};
use wrangle_rt::adapter::SmolRuntime;

const BATCHES: usize = 200;

fn serve() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    println!("{}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    echo::serve(listener);
}

async fn echo_frames<S: futures_lite::io::AsyncRead + futures_lite::io::AsyncWrite + Unpin>(
    stream: &mut S,
) {
    echo::frames(stream, BATCHES).await;
}

#[inline(never)]
fn loop_robust(stream: &mut RobustStream<Async<TcpStream>>) {
    smol::block_on(echo_frames(stream));
}

#[inline(never)]
fn loop_raw(stream: &mut Async<TcpStream>) {
    smol::block_on(echo_frames(stream));
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("serve") {
        return serve();
    }
    let mut server = Command::new(std::env::current_exe().unwrap())
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line.trim().parse().unwrap();
    let mut robust = smol::block_on(async {
        let s = RobustStream::builder(connect::tcp(addr))
            .backoff(Backoff::constant(Duration::from_millis(1)))
            .build_with_runtime(SmolRuntime::new())
            .unwrap();
        s.connected().await.unwrap();
        s
    });
    let mut raw = smol::block_on(async {
        let s = Async::<TcpStream>::connect(addr).await.unwrap();
        s.get_ref().set_nodelay(true).unwrap();
        s
    });
    // `io_echo_cg robust` or `io_echo_cg raw` runs one of them (for `strace -c`).
    let only = std::env::args().nth(1);
    if only.as_deref() != Some("raw") {
        loop_robust(&mut robust);
    }
    if only.as_deref() != Some("robust") {
        loop_raw(&mut raw);
    }
    let _ = server.kill();
    let _ = server.wait();
}

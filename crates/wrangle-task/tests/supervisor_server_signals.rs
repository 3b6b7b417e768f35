//! The echo-server example, driven over loopback and stopped with real signals.
//!
//! Each test starts the example as a child process (never signalling the test runner), talks
//! to it over TCP on 127.0.0.1, and sends SIGTERM with `kill`.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn example() -> PathBuf {
    // target/<profile>/deps/<test> -> target/<profile>/examples/echo_server
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/echo_server");
    assert!(
        path.exists(),
        "{} not built: run with --features signal",
        path.display()
    );
    path
}

struct EchoServer {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    port: u16,
}

impl EchoServer {
    fn start(workers: usize) -> Self {
        let mut child = Command::new(example())
            .args(["0", &workers.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("server did not start");
        let port = first.rsplit(':').next().unwrap().parse().unwrap();
        EchoServer { child, lines, port }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn wait_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no line starting with {prefix:?}"));
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    fn wait_exit(mut self) -> (Option<i32>, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread may still be forwarding the last lines: read to the end of
                // the pipe (the sender goes away at EOF).
                let mut rest = Vec::new();
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
                    rest.push(line);
                }
                return (status.code(), rest);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server did not exit");
            }
            std::thread::yield_now();
        }
    }
}

fn roundtrip(stream: &mut TcpStream, msg: &str) -> String {
    stream.write_all(format!("{msg}\n").as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8];
    loop {
        match stream.read(&mut byte) {
            Ok(1) if byte[0] != b'\n' => buf.push(byte[0]),
            Ok(_) => break,
            // A read on a socket with a timeout is not restarted after this process was
            // stopped and continued (signal(7)), which a loaded machine may do: read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read failed: {e}"),
        }
    }
    String::from_utf8(buf).unwrap()
}

#[test]
fn sigterm_stops_the_echo_server_gracefully() {
    let server = EchoServer::start(3);
    let mut clients: Vec<_> = (0..6).map(|_| server.connect()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(roundtrip(c, &format!("hello {i}")), format!("hello {i}"));
    }
    drop(clients);
    server.signal("-TERM");
    let (code, rest) = server.wait_exit();
    assert_eq!(
        code,
        Some(0),
        "graceful stop should exit 0; output: {rest:?}"
    );
    assert!(rest.iter().any(|l| l == "stopped gracefully"), "{rest:?}");
}

#[test]
fn a_connection_open_during_the_stop_is_served_then_a_second_signal_forces_exit() {
    let server = EchoServer::start(2);
    let mut client = server.connect();
    assert_eq!(roundtrip(&mut client, "before"), "before");
    server.signal("-TERM");
    server.wait_line("worker");
    // The graceful stop waits for this open connection, which is still served.
    assert_eq!(roundtrip(&mut client, "during"), "during");
    server.signal("-TERM");
    let (code, _) = server.wait_exit();
    assert_eq!(code, Some(130), "a second signal should force the exit");
}

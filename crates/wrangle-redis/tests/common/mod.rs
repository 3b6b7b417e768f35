//! A real Redis for the tests: `redis-server` started on a free loopback port (no
//! persistence), or the server at `WRANGLE_REDIS_URL` when that is set. No mock.
//!
//! Child processes (multi-process tests) are this test binary re-run in a child role.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Set to use an existing server instead of starting one.
pub const URL_VAR: &str = "WRANGLE_REDIS_URL";

/// A `redis-server` process of our own, or an external server; killed on drop if ours.
pub struct Server {
    url: String,
    port: u16,
    child: Option<Child>,
    own: bool,
}

fn install_hint() -> String {
    "redis-server is not installed: the wrangle-redis tests need a real Redis. \
     Install it (`apt-get install redis-server`), or point WRANGLE_REDIS_URL at a server."
        .to_owned()
}

impl Server {
    /// The external server if `WRANGLE_REDIS_URL` is set, else a new `redis-server`.
    pub fn start() -> Server {
        if let Ok(url) = std::env::var(URL_VAR) {
            return Server {
                url,
                port: 0,
                child: None,
                own: false,
            };
        }
        Server::start_own()
    }

    /// Always a `redis-server` of our own (for tests that stop and restart it).
    pub fn start_own() -> Server {
        let port = free_port();
        let mut server = Server {
            url: format!("redis://127.0.0.1:{port}/"),
            port,
            child: None,
            own: true,
        };
        server.restart();
        server
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills our server (SIGKILL: its data is gone, as with a crash).
    pub fn stop(&mut self) {
        assert!(self.own, "cannot stop an external server");
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts our server again on the same port and waits until it answers PING.
    pub fn restart(&mut self) {
        assert!(self.own, "cannot restart an external server");
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{}", install_hint()),
            Err(e) => panic!("could not start redis-server: {e}"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ping(self.port) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "redis-server exited at start ({status}); port {} taken?",
                    self.port
                );
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            // A plain thread in the test harness, outside any runtime.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A loopback port that was free a moment ago (`redis-server --port 0` does not choose one).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

/// A key prefix no other test (or test run, on a shared server) uses.
pub fn unique(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("test:{name}:{}:{nanos}:{n}:", std::process::id())
}

/// Microseconds since the Unix epoch on this machine's clock (the clock a local
/// `redis-server` answers `TIME` with).
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// Child processes: this test binary re-run with `test` as the only test, with `role` in
/// `ROLE_VAR` and the server's URL in `URL_VAR`; their `CHILD ` lines arrive on the channel.
pub const ROLE_VAR: &str = "WRANGLE_REDIS_CHILD";

pub fn start_child(
    test: &str,
    role: &str,
    url: &str,
    env: &[(&str, &str)],
) -> (Kill, mpsc::Receiver<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
        .env(URL_VAR, url)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The harness may print "test name ... " on the same line.
            if let Some(at) = line.find("CHILD ")
                && tx.send(line[at + 6..].to_owned()).is_err()
            {
                break;
            }
        }
    });
    (Kill(child), rx)
}

/// A child process, killed (SIGKILL) and reaped on drop.
pub struct Kill(pub Child);

impl Kill {
    /// SIGKILL now.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Kill {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A line for the parent, from a child.
pub fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "CHILD {line}").unwrap();
    out.flush().unwrap();
}

/// `count` fire times `period` apart from `first`, which may lie in the past: a replica
/// that starts late catches up on them through its misfire policy.
pub struct Window {
    pub first: wrangle_timer::jiff::Timestamp,
    pub period: wrangle_timer::jiff::SignedDuration,
    pub count: i64,
}

impl Window {
    /// Every fire time, in order.
    pub fn fire_times(&self) -> Vec<wrangle_timer::jiff::Timestamp> {
        (0..self.count)
            .map(|i| self.first + self.period * i as i32)
            .collect()
    }
}

impl wrangle_timer::Schedule for Window {
    fn next_fire(
        &self,
        after: wrangle_timer::jiff::Timestamp,
    ) -> Option<wrangle_timer::jiff::Timestamp> {
        if after < self.first {
            return Some(self.first);
        }
        let steps = after.duration_since(self.first).as_nanos() / self.period.as_nanos() + 1;
        let steps = i64::try_from(steps).ok()?;
        (steps < self.count).then(|| self.first + self.period * steps as i32)
    }

    fn first_fire(
        &self,
        _now: wrangle_timer::jiff::Timestamp,
    ) -> Option<wrangle_timer::jiff::Timestamp> {
        Some(self.first)
    }
}

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
        let child = spawn_redis(&["--port", &self.port.to_string(), "--daemonize", "no"]);
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

/// `redis-server` with `args`, on loopback only and without persistence (every server the
/// tests start), its output discarded; a missing binary says how to install it.
fn spawn_redis(args: &[&str]) -> Child {
    match Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{}", install_hint()),
        Err(e) => panic!("could not start redis-server: {e}"),
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

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "wrangle-redis-{name}-{}-{n}-{}",
            std::process::id(),
            now_us()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(program: &str, args: &[&str], dir: &std::path::Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "{program} is not installed: the TLS and cluster tests need it (apt-get install {})",
                if program == "openssl" {
                    "openssl"
                } else {
                    "redis-server"
                }
            )
        }
        Err(e) => panic!("could not run {program}: {e}"),
    };
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Certificates made with `openssl` for one test: a CA, a server certificate for
/// 127.0.0.1 and localhost, and a client certificate, all signed by the CA; PEM files in
/// `dir`.
pub struct Certificates {
    pub dir: TempDir,
}

impl Certificates {
    pub fn new() -> Certificates {
        let dir = TempDir::new("tls");
        let d = dir.0.as_path();
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=wrangle test CA",
            ],
            d,
        );
        for who in ["server", "client"] {
            let (key, csr, crt, ext) = (
                format!("{who}.key"),
                format!("{who}.csr"),
                format!("{who}.crt"),
                format!("{who}.ext"),
            );
            let subject = format!(
                "/CN={}",
                if who == "server" {
                    "localhost"
                } else {
                    "wrangle test client"
                }
            );
            run(
                "openssl",
                &[
                    "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                    &subject,
                ],
                d,
            );
            run(
                "openssl",
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &crt,
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                ],
                d,
            );
        }
        Certificates { dir }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.0.join(file).to_str().unwrap().to_owned()
    }

    pub fn pem(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.dir.0.join(file)).unwrap()
    }
}

/// Waits until something listens on the loopback `port` (a TLS server cannot be pinged in
/// plain text), failing if `child` exits.
fn wait_listening(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("redis-server exited at start ({status}); port {port} taken?");
        }
        assert!(
            Instant::now() < deadline,
            "redis-server did not listen on {port}"
        );
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A `redis-server` that speaks only TLS, with `certs`' server certificate; it asks
/// clients for a certificate signed by the CA when `client_certificates` is true.
pub struct TlsServer {
    pub port: u16,
    child: Kill,
}

impl TlsServer {
    pub fn start(certs: &Certificates, client_certificates: bool) -> TlsServer {
        let port = free_port();
        let mut child = spawn_redis(&[
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &certs.path("server.crt"),
            "--tls-key-file",
            &certs.path("server.key"),
            "--tls-ca-cert-file",
            &certs.path("ca.crt"),
            "--tls-auth-clients",
            if client_certificates { "yes" } else { "no" },
        ]);
        wait_listening(port, &mut child);
        TlsServer {
            port,
            child: Kill(child),
        }
    }

    /// `rediss://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.port)
    }

    /// The same port in plain text (which the server refuses to speak).
    pub fn plain_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn stop(&mut self) {
        self.child.kill();
    }
}

/// A Redis Cluster of three primaries (no replicas) on loopback ports, made with
/// `redis-cli --cluster create`; every node killed on drop.
pub struct Cluster {
    pub ports: Vec<u16>,
    nodes: Vec<Kill>,
    _dir: TempDir,
}

/// A loopback port that is free, and whose cluster bus port (+10000) is too.
fn free_cluster_port(taken: &[u16]) -> u16 {
    loop {
        let port = free_port();
        if port < 50_000
            && !taken.contains(&port)
            && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
        {
            return port;
        }
    }
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = TempDir::new("cluster");
        let mut ports = Vec::new();
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = free_cluster_port(&ports);
            let mut child = spawn_redis(&[
                "--port",
                &port.to_string(),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &format!("nodes-{port}.conf"),
                // Long enough that a starved node (a loaded test machine) is not
                // declared failed while the test runs.
                "--cluster-node-timeout",
                "30000",
                // A dead node's slots go unserved; the others' keep being served.
                "--cluster-require-full-coverage",
                "no",
                "--dir",
                dir.0.to_str().unwrap(),
            ]);
            wait_listening(port, &mut child);
            let deadline = Instant::now() + Duration::from_secs(20);
            while !ping(port) {
                assert!(
                    Instant::now() < deadline,
                    "cluster node {port} did not answer PING"
                );
                #[allow(clippy::disallowed_methods)]
                std::thread::sleep(Duration::from_millis(10));
            }
            ports.push(port);
            nodes.push(Kill(child));
        }
        let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        run("redis-cli", &args, &dir.0);
        // Every node must see every slot served before the cluster answers everywhere.
        let deadline = Instant::now() + Duration::from_secs(30);
        for &port in &ports {
            loop {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
                let info: Option<String> = client
                    .get_connection()
                    .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query(&mut c))
                    .ok();
                // `cluster_state:ok`, and this node's slot map names all three primaries.
                let slots = || -> Option<usize> {
                    let mut c = client.get_connection().ok()?;
                    let ranges: Vec<redis::Value> =
                        redis::cmd("CLUSTER").arg("SLOTS").query(&mut c).ok()?;
                    Some(ranges.len())
                };
                if info.is_some_and(|i| i.contains("cluster_state:ok")) && slots() == Some(3) {
                    break;
                }
                assert!(Instant::now() < deadline, "the cluster did not come up");
                #[allow(clippy::disallowed_methods)]
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Cluster {
            ports,
            nodes,
            _dir: dir,
        }
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect()
    }

    /// How many keys each node holds (`DBSIZE`), in node order.
    pub fn key_counts(&self) -> Vec<i64> {
        self.ports
            .iter()
            .map(|p| {
                let client = redis::Client::open(format!("redis://127.0.0.1:{p}/")).unwrap();
                let mut c = client.get_connection().unwrap();
                redis::cmd("DBSIZE").query(&mut c).unwrap()
            })
            .collect()
    }

    /// Kills one node (SIGKILL).
    pub fn kill(&mut self, node: usize) {
        self.nodes[node].kill();
    }
}

impl Cluster {
    /// The port of the primary that owns `key`'s slot (`CLUSTER KEYSLOT`, `CLUSTER SLOTS`).
    pub fn port_of(&self, key: &str) -> u16 {
        let client = redis::Client::open(self.urls()[0].as_str()).unwrap();
        let mut c = client.get_connection().unwrap();
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut c)
            .unwrap();
        let ranges: Vec<redis::Value> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c).unwrap();
        for range in ranges {
            let redis::Value::Array(range) = range else {
                continue;
            };
            let int = |v: &redis::Value| match v {
                redis::Value::Int(i) => *i,
                other => panic!("unexpected CLUSTER SLOTS entry {other:?}"),
            };
            let (start, end) = (int(&range[0]), int(&range[1]));
            let redis::Value::Array(primary) = &range[2] else {
                panic!("no primary")
            };
            if (start..=end).contains(&slot) {
                return u16::try_from(int(&primary[1])).unwrap();
            }
        }
        panic!("slot {slot} is not served");
    }
}

/// A shared cache of strings under `prefix`, one minute's time to live: what the tests of
/// each way to reach a server (TLS, cluster) read back through a second handle.
pub fn string_cache(
    redis: wrangle_redis::Redis<wrangle_rt::DefaultRuntime>,
    prefix: &str,
) -> wrangle_redis::RedisCache<String, String, wrangle_redis::Utf8Codec> {
    wrangle_redis::RedisCache::builder(redis, wrangle_redis::Utf8Codec, Duration::from_secs(60))
        .prefix(prefix)
        .build()
        .unwrap()
}

/// One holder at a time on `key`, and a larger fencing token for the next holder: the lease's
/// round trip, shared by the tests of each way to reach a server (TLS, cluster).
pub async fn lease_round_trip(redis: &wrangle_redis::Redis<wrangle_rt::DefaultRuntime>, key: &str) {
    use wrangle_redis::RedisLease;
    let ttl = Duration::from_secs(30);
    let lease = RedisLease::try_acquire(redis, key, ttl)
        .await
        .unwrap()
        .unwrap();
    assert!(
        RedisLease::try_acquire(redis, key, ttl)
            .await
            .unwrap()
            .is_none()
    );
    let token = lease.token();
    assert!(lease.release().await.unwrap());
    let again = RedisLease::try_acquire(redis, key, ttl)
        .await
        .unwrap()
        .unwrap();
    assert!(again.token() > token);
    assert!(again.release().await.unwrap());
}

//! Four OS processes contend for one lease. Every holder appends its fencing token to a
//! shared log (a Redis list) while it holds the lease; the log's tokens never go down, and
//! each token belongs to one process: never two holders at once. Mid-run, the holder is
//! killed with SIGKILL and another process takes over, eventually (the lease time plus one
//! renewal interval, measured and printed, not asserted: the machine may be loaded).
//!
//! The processes contend for 60 seconds (the length) with a 2 s lease. The
//! properties checked do not depend on the length, so `WRANGLE_REDIS_LEASE_RUN_SECS` may
//! shorten it (`cargo xtask stress` sets 8, to keep its many runs short).

mod common;

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, now_us, say, start_child};
use wrangle_redis::{Redis, RedisLease};

const ROLE: &str = "lease";
const KEY_VAR: &str = "WRANGLE_REDIS_TEST_KEY";
const END_VAR: &str = "WRANGLE_REDIS_TEST_END";
const TTL: Duration = Duration::from_secs(2);
/// How long the processes contend, unless `WRANGLE_REDIS_LEASE_RUN_SECS` says otherwise.
const DEFAULT_RUN: Duration = Duration::from_secs(60);
const PROCESSES: usize = 4;

/// The child's side; does nothing unless started by the test below.
#[test]
fn lease_child() {
    if std::env::var(common::ROLE_VAR).as_deref() != Ok(ROLE) {
        return;
    }
    let server = Server::start();
    let key = std::env::var(KEY_VAR).unwrap();
    let end: u64 = std::env::var(END_VAR).unwrap().parse().unwrap();
    let log = format!("{key}:log");
    let pid = std::process::id();
    futures_lite::future::block_on(async {
        let rt = wrangle_rt::DefaultRuntime::current();
        let redis = Redis::builder(server.url())
            .call_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        while now_us() < end {
            let lease = RedisLease::acquire(&redis, &key, TTL).await.unwrap();
            let token = lease.token();
            say(&format!("hold {token}"));
            for _ in 0..15 {
                if !lease.is_held() {
                    break;
                }
                let entry = format!("{token} {pid}");
                let log = log.clone();
                let client = redis::Client::open(server.url()).unwrap();
                let mut conn = client.get_connection().unwrap();
                let _: i64 = redis::cmd("RPUSH")
                    .arg(&log)
                    .arg(entry)
                    .query(&mut conn)
                    .unwrap();
                wrangle_rt::Runtime::sleep(&rt, Duration::from_millis(20)).await;
            }
            lease.release().await.unwrap();
        }
        say("done");
    });
}

#[test]
fn lease_four_processes_never_two_holders() {
    let server = Server::start();
    let key = common::unique("lease-processes");
    let run = std::env::var("WRANGLE_REDIS_LEASE_RUN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(DEFAULT_RUN, Duration::from_secs);
    say(&format!("contending for {run:?}"));
    let end = (now_us() + run.as_micros() as u64).to_string();
    let (tx, rx) = mpsc::channel::<(usize, String)>();
    let mut children = Vec::new();
    for i in 0..PROCESSES {
        let (child, lines) = start_child(
            "lease_child",
            ROLE,
            server.url(),
            &[(KEY_VAR, &key), (END_VAR, &end)],
        );
        children.push(child);
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in lines {
                if tx.send((i, line)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);

    let start = Instant::now();
    let mut killed: Option<(usize, u64, Instant)> = None;
    let mut takeover: Option<Duration> = None;
    let mut done = 0;
    while done < PROCESSES - 1 || killed.is_none() {
        let Ok((i, line)) = rx.recv_timeout(Duration::from_secs(30)) else {
            panic!("children stopped talking (done: {done}, killed: {killed:?})");
        };
        if line == "done" {
            done += 1;
            continue;
        }
        let token: u64 = line.strip_prefix("hold ").unwrap().parse().unwrap();
        match killed {
            // A third of the way in, kill the process that has just taken the lease.
            None if start.elapsed() > run / 3 => {
                children[i].kill();
                killed = Some((i, token, Instant::now()));
            }
            Some((k, dead_token, at)) if takeover.is_none() => {
                assert_ne!(i, k, "a killed process took the lease");
                assert!(token > dead_token);
                takeover = Some(at.elapsed());
            }
            _ => {}
        }
    }
    let takeover = takeover.expect("nobody took the lease over from the killed holder");
    eprintln!(
        "takeover after SIGKILL: {takeover:?} (lease {TTL:?}, renewal every {:?})",
        TTL / 3
    );

    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let log: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{key}:log"))
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    assert!(!log.is_empty());
    let mut owner: HashMap<u64, u32> = HashMap::new();
    let mut last = 0;
    for entry in &log {
        let (token, pid) = entry.split_once(' ').unwrap();
        let (token, pid): (u64, u32) = (token.parse().unwrap(), pid.parse().unwrap());
        assert!(
            token >= last,
            "token {token} after {last}: two holders at once"
        );
        last = token;
        assert_eq!(
            *owner.entry(token).or_insert(pid),
            pid,
            "one token, two processes"
        );
    }
    let processes: std::collections::HashSet<_> = owner.values().collect();
    assert!(processes.len() >= 2, "the lease never changed hands");
}

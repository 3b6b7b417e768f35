//! Three OS processes run the same singleton; its body appends "token pid" to a shared log
//! (a Redis list) every 20 ms. The leader is killed with SIGKILL; another process takes
//! over, eventually (lease time plus one renewal interval: measured and printed, not
//! asserted). The log's tokens never go down and each belongs to one process.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::{Server, say, start_child};
use wrangle_redis::{Redis, RedisSingleton};

const ROLE: &str = "singleton";
const KEY_VAR: &str = "WRANGLE_REDIS_TEST_KEY";
const TTL: Duration = Duration::from_secs(1);

/// The child's side; does nothing unless started by the test below.
#[test]
fn singleton_child() {
    if std::env::var(common::ROLE_VAR).as_deref() != Ok(ROLE) {
        return;
    }
    let server = Server::start();
    let key = std::env::var(KEY_VAR).unwrap();
    let url = server.url().to_owned();
    futures_lite::future::block_on(async {
        let rt = wrangle_rt::DefaultRuntime::current();
        let redis = Redis::builder(&url)
            .call_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let log = format!("{key}:log");
        let _singleton = RedisSingleton::spawn(&redis, &key, TTL, move |token| {
            let (rt, log, url) = (rt.clone(), log.clone(), url.clone());
            async move {
                let client = redis::Client::open(url.as_str()).unwrap();
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                loop {
                    let entry = format!("{token} {}", std::process::id());
                    let _: i64 = redis::cmd("RPUSH")
                        .arg(&log)
                        .arg(entry)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    wrangle_rt::Runtime::sleep(&rt, Duration::from_millis(20)).await;
                }
            }
        })
        .unwrap();
        say("ready");
        // Runs until the parent kills this process.
        std::future::pending::<()>().await;
    });
}

/// A condition on the log, "eventually" true.
type Pred<'a> = &'a dyn Fn(&[(u64, u32)]) -> bool;

fn read_log(url: &str, key: &str) -> Vec<(u64, u32)> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_connection().unwrap();
    let log: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{key}:log"))
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    log.iter()
        .map(|e| {
            let (t, p) = e.split_once(' ').unwrap();
            (t.parse().unwrap(), p.parse().unwrap())
        })
        .collect()
}

#[test]
fn singleton_three_processes_takeover_after_sigkill() {
    let server = Server::start();
    let key = common::unique("singleton-processes");
    let mut children: Vec<_> = (0..3)
        .map(|_| start_child("singleton_child", ROLE, server.url(), &[(KEY_VAR, &key)]))
        .collect();
    for (_, rx) in &children {
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), "ready");
    }
    let limit = Instant::now() + Duration::from_secs(60);
    let wait_for = |pred: Pred<'_>| loop {
        let log = read_log(server.url(), &key);
        if pred(&log) {
            return log;
        }
        assert!(
            Instant::now() < limit,
            "gave up waiting; log: {:?}",
            log.last()
        );
        #[allow(clippy::disallowed_methods)] // the test's thread, outside any runtime
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = wait_for(&|log| log.len() >= 5);
    let (token, pid) = *log.last().unwrap();
    let leader = children.iter().position(|(c, _)| c.0.id() == pid).unwrap();
    children[leader].0.kill();
    let killed_at = Instant::now();
    let log = wait_for(&|log| log.last().is_some_and(|&(t, p)| p != pid && t > token));
    eprintln!(
        "takeover after SIGKILL: {:?} (lease {TTL:?}, renewal every {:?})",
        killed_at.elapsed(),
        TTL / 3
    );
    drop(children);

    let mut owner: HashMap<u64, u32> = HashMap::new();
    let mut last = 0;
    for &(token, pid) in &log {
        assert!(
            token >= last,
            "token {token} after {last}: two leaders at once"
        );
        last = token;
        assert_eq!(
            *owner.entry(token).or_insert(pid),
            pid,
            "one token, two processes"
        );
    }
    assert!(owner.values().collect::<HashSet<_>>().len() >= 2);
}

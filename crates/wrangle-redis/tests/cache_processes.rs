//! Three OS processes ask for the same missing key at the same moment: one loads it (the
//! loader counts its calls in Redis and takes 300 ms), the other two wait for its value;
//! all three get the same value.

mod common;

use std::time::Duration;

use common::{Server, now_us, say, start_child};
use wrangle_redis::{Redis, RedisCache, Utf8Codec};
use wrangle_rt::Runtime;

const ROLE: &str = "cache";
const KEY_VAR: &str = "WRANGLE_REDIS_TEST_KEY";
const AT_VAR: &str = "WRANGLE_REDIS_TEST_AT";

/// The child's side; does nothing unless started by the test below.
#[test]
fn cache_child() {
    if std::env::var(common::ROLE_VAR).as_deref() != Ok(ROLE) {
        return;
    }
    let server = Server::start();
    let prefix = std::env::var(KEY_VAR).unwrap();
    let at: u64 = std::env::var(AT_VAR).unwrap().parse().unwrap();
    let url = server.url().to_owned();
    futures_lite::future::block_on(async {
        let rt = wrangle_rt::DefaultRuntime::current();
        let redis = Redis::builder(&url)
            .call_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let cache: RedisCache<&str, String, Utf8Codec> =
            RedisCache::builder(redis, Utf8Codec, Duration::from_secs(60))
                .prefix(&prefix)
                .build()
                .unwrap();
        say("ready");
        // All three ask at the same moment (the machine's clock, shared).
        let now = now_us();
        if at > now {
            rt.sleep(Duration::from_micros(at - now)).await;
        }
        let loads = format!("{prefix}loads");
        let loader = {
            let (url, rt) = (url.clone(), rt.clone());
            move || async move {
                let client = redis::Client::open(url.as_str()).unwrap();
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                let n: i64 = redis::cmd("INCR")
                    .arg(&loads)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                rt.sleep(Duration::from_millis(300)).await;
                Ok::<_, String>(format!("loaded by {} as load {n}", std::process::id()))
            }
        };
        let value = cache.get("report", loader).await.unwrap();
        let s = cache.stats();
        say(&format!(
            "got {} {} {}|{value}",
            s.started, s.waited, s.remote_hits
        ));
    });
}

#[test]
fn cache_three_processes_load_a_missing_key_once() {
    let server = Server::start();
    let prefix = common::unique("cache-processes");
    let at = (now_us() + 1_500_000).to_string();
    let children: Vec<_> = (0..3)
        .map(|_| {
            start_child(
                "cache_child",
                ROLE,
                server.url(),
                &[(KEY_VAR, &prefix), (AT_VAR, &at)],
            )
        })
        .collect();
    let mut values = Vec::new();
    let (mut started, mut shared) = (0, 0);
    for (_, rx) in &children {
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), "ready");
    }
    for (_, rx) in &children {
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        let (counts, value) = line.strip_prefix("got ").unwrap().split_once('|').unwrap();
        let n: Vec<u64> = counts.split(' ').map(|n| n.parse().unwrap()).collect();
        started += n[0];
        shared += n[1] + n[2];
        values.push(value.to_owned());
    }
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let loads: i64 = redis::cmd("GET")
        .arg(format!("{prefix}loads"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(loads, 1, "{values:?}");
    assert_eq!((started, shared), (1, 2));
    assert!(values.iter().all(|v| *v == values[0]), "{values:?}");
    assert!(values[0].ends_with("as load 1"));
}

//! A real Redis Cluster (three primaries made with `redis-cli --cluster create`), on every
//! runtime: every primitive with keys spread over all nodes, the lease's hash-tag rule, and
//! a dead node's keys answered with a typed error, not a hang.
#![cfg(feature = "cluster")]

mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use common::{Cluster, lease_round_trip, string_cache, unique};
use wrangle_redis::{
    Redis, RedisErrorKind, RedisLease, RedisLimitError, RedisLimiter, RedisLockout,
};
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{DefaultRuntime, Runtime};

fn cluster(rt: DefaultRuntime, urls: &[String], call_timeout: Duration) -> Redis<DefaultRuntime> {
    Redis::cluster_builder(urls)
        .runtime(rt)
        .call_timeout(call_timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The handle's first call connects: it discovers the slot map and opens a connection per
/// primary. On a loaded machine that can exceed a call timeout, so the tests wait until the
/// cluster answers (eventually) before they check behaviour; a call timeout ends each try.
async fn until_connected(redis: &Redis<DefaultRuntime>) {
    let probe = RedisLockout::new(redis.clone(), unique("cluster-probe"));
    let mut tries = 0;
    while let Err(e) = probe.remaining("k").await {
        tries += 1;
        assert!(tries < 100, "the cluster never answered: {e}");
        redis.runtime().sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn cluster_serves_every_primitive_across_nodes() {
    let nodes = Cluster::start();
    let before = nodes.key_counts();
    assert_eq!(before, [0, 0, 0]);
    each_runtime(|rt| {
        let urls = nodes.urls();
        async move {
            let redis = cluster(rt.clone(), &urls, Duration::from_secs(10));
            until_connected(&redis).await;
            // Limiter: 30 keys land on every node; each key's burst of 2 holds.
            let limiter = RedisLimiter::builder(
                redis.clone(),
                NonZeroU32::new(1).unwrap(),
                Duration::from_secs(3600),
            )
            .burst(NonZeroU32::new(2).unwrap())
            .prefix(unique("cluster-limiter"))
            .build()
            .unwrap();
            for k in 0..30 {
                let key = format!("k{k}");
                limiter.check(&key).await.unwrap();
                limiter.check(&key).await.unwrap();
                assert!(matches!(
                    limiter.check(&key).await,
                    Err(RedisLimitError::Limited { .. })
                ));
            }
            // Lockouts on keys across the nodes.
            let lockout = RedisLockout::new(redis.clone(), unique("cluster-lockout"));
            for k in 0..10 {
                lockout
                    .lockout_for(format!("k{k}"), Duration::from_secs(60))
                    .await
                    .unwrap();
                assert!(lockout.remaining(format!("k{k}")).await.unwrap().is_some());
            }
            // Shared cache: a second handle reads the first one's values.
            let prefix = unique("cluster-cache");
            let cache = |redis: Redis<DefaultRuntime>| string_cache(redis, &prefix);
            let other = cluster(rt.clone(), &urls, Duration::from_secs(10));
            until_connected(&other).await;
            let (first, second) = (cache(redis.clone()), cache(other));
            for k in 0..10 {
                let key = format!("k{k}");
                let v = first
                    .get(key.clone(), || async { Ok::<_, String>("v".to_owned()) })
                    .await
                    .unwrap();
                assert_eq!(v, "v");
                let v = second
                    .get(key, || async {
                        Err::<String, _>("loaded twice".to_owned())
                    })
                    .await
                    .unwrap();
                assert_eq!(v, "v");
            }
            assert_eq!(second.stats().remote_hits, 10);
            // A lease key with a hash tag: the key and its fence counter share a slot.
            let key = format!("{{{}}}:leader", unique("cluster-lease"));
            lease_round_trip(&redis, &key).await;
            // Without one: refused before anything is sent.
            let started = redis.stats().started;
            let err = RedisLease::try_acquire(&redis, "plain:leader", Duration::from_secs(30))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), RedisErrorKind::InvalidKey);
            assert!(err.to_string().contains("hash tag"), "{err}");
            assert_eq!(redis.stats().started, started);
            // Every call ended; each connection after the first replaced one that a
            // failure dropped (the first calls may have failed on a loaded machine).
            let stats = redis.stats();
            assert_eq!(
                stats.completed + stats.failed + stats.timed_out,
                stats.started,
                "{stats:?}"
            );
            assert!(stats.connects >= 1, "{stats:?}");
            assert!(
                stats.connects <= 1 + stats.failed + stats.timed_out,
                "{stats:?}"
            );
        }
    });
    // Every node got some of the keys: the calls were routed by slot.
    let after = nodes.key_counts();
    assert!(after.iter().all(|&n| n > 0), "keys per node: {after:?}");
}

#[test]
fn cluster_dead_node_is_a_typed_error() {
    each_runtime(|rt| {
        async move {
            let mut nodes = Cluster::start();
            let urls = nodes.urls();
            let prefix = unique("cluster-dead");
            // One key on the node that will die, one on a node that stays.
            let (victim, keep) = (nodes.ports[2], nodes.ports[0]);
            let key_on = |port: u16| {
                (0..)
                    .map(|i| format!("{prefix}k{i}"))
                    .find(|k| nodes.port_of(k) == port)
                    .unwrap()
            };
            let (doomed, alive) = (key_on(victim), key_on(keep));
            // A short call timeout: the dead node's call below takes all of it (redis-rs
            // retries a refused connection until then).
            let redis = cluster(rt.clone(), &urls, Duration::from_secs(2));
            until_connected(&redis).await;
            let lockout = RedisLockout::new(redis.clone(), "");
            lockout
                .lockout_for(&doomed, Duration::from_secs(60))
                .await
                .unwrap();
            lockout
                .lockout_for(&alive, Duration::from_secs(60))
                .await
                .unwrap();
            nodes.kill(2);
            // The dead node's key: a typed error, within the call timeout (no hang).
            let err = lockout.remaining(&doomed).await.unwrap_err();
            assert!(
                matches!(
                    err.kind(),
                    RedisErrorKind::Unavailable | RedisErrorKind::TimedOut
                ),
                "{err}"
            );
        }
    });
}

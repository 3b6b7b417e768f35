//! Four OS processes share one key at 100 per second for 5 seconds. Checked from the
//! processes' logs, soundly despite scheduling delays: each admission or refusal happened on
//! the server at some instant between the request's send and its reply (the same machine's
//! clock as the server's `TIME`), and only what those intervals prove is asserted:
//!
//! - in every window of length `T`, the admissions that surely fell inside it are at most
//!   `burst + rate * T`;
//! - every refusal is explained: some earlier admission `a0` starts a run of admissions that
//!   could precede the refusal and is longer than the capacity recovered since `a0`.

mod common;

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use common::{Server, now_us, say, start_child};
use wrangle_redis::{OnUnavailable, Redis, RedisLimitError, RedisLimiter};

const ROLE: &str = "limiter";
const RATE: u32 = 100;
const BURST: u32 = 10;
const INTERVAL_US: u64 = 1_000_000 / RATE as u64;
const RUN: Duration = Duration::from_secs(5);
const PROCESSES: usize = 4;
const KEY_VAR: &str = "WRANGLE_REDIS_TEST_KEY";

/// The child's side; does nothing unless started by the test below.
#[test]
fn limiter_child() {
    if std::env::var(common::ROLE_VAR).as_deref() != Ok(ROLE) {
        return;
    }
    let server = Server::start();
    let key = std::env::var(KEY_VAR).unwrap();
    // Outside any runtime, DefaultRuntime is smol.
    futures_lite::future::block_on(async {
        let redis = Redis::builder(server.url())
            .call_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let limiter = RedisLimiter::builder(
            redis,
            NonZeroU32::new(RATE).unwrap(),
            Duration::from_secs(1),
        )
        .burst(NonZeroU32::new(BURST).unwrap())
        .prefix("test:processes:")
        .on_unavailable(OnUnavailable::FailClosed)
        .build()
        .unwrap();
        let rt = wrangle_rt::DefaultRuntime::current();
        let start = Instant::now();
        // About 50 attempts per second per process: twice the shared capacity.
        while start.elapsed() < RUN {
            let sent = now_us();
            let out = limiter.check(&key).await;
            let received = now_us();
            match out {
                Ok(()) => say(&format!("A {sent} {received}")),
                Err(RedisLimitError::Limited { .. }) => say(&format!("R {sent} {received}")),
                Err(e) => panic!("limiter failed: {e}"),
            }
            wrangle_rt::Runtime::sleep(&rt, Duration::from_millis(20)).await;
        }
        say("done");
    });
}

#[test]
fn limiter_four_processes_share_one_key() {
    let server = Server::start();
    let key = common::unique("processes");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| start_child("limiter_child", ROLE, server.url(), &[(KEY_VAR, &key)]))
        .collect();
    let mut admitted: Vec<(u64, u64)> = Vec::new();
    let mut refused: Vec<(u64, u64)> = Vec::new();
    for (_child, rx) in &children {
        let mut done = false;
        for line in rx.iter() {
            let mut parts = line.split(' ');
            match parts.next() {
                Some("done") => {
                    done = true;
                    break;
                }
                Some(kind) => {
                    let sent: u64 = parts.next().unwrap().parse().unwrap();
                    let received: u64 = parts.next().unwrap().parse().unwrap();
                    if kind == "A" {
                        &mut admitted
                    } else {
                        &mut refused
                    }
                    .push((sent, received));
                }
                None => {}
            }
        }
        assert!(
            done,
            "a child process did not finish (see its output above)"
        );
    }
    assert!(!admitted.is_empty());
    assert!(
        !refused.is_empty(),
        "demand was twice the capacity: some checks must be refused"
    );
    admitted.sort_unstable();
    eprintln!("{} admitted, {} refused", admitted.len(), refused.len());

    // At most burst + rate * T in every window [a, a + T] (a = a send time), counting only
    // admissions whose whole interval lies inside.
    for window_us in [10_000u64, 100_000, 500_000, 1_000_000, 5_000_000] {
        let bound = u64::from(BURST) + window_us / INTERVAL_US;
        for &(a, _) in &admitted {
            let inside = admitted
                .iter()
                .filter(|&&(s, r)| s >= a && r <= a + window_us)
                .count() as u64;
            assert!(
                inside <= bound,
                "{inside} admissions within {window_us} us, bound {bound}"
            );
        }
    }

    // No refusal while capacity remained: a refusal at server time t needs an admission a0
    // (at u <= t) after which more than (t - u) / interval + burst - 1 admissions happened
    // by t. Sound bounds: count admissions that could be in [u, t] (reply after a0's send,
    // sent before the refusal's reply); take t >= the refusal's send, u <= a0's reply.
    for &(rs, rr) in &refused {
        let explained = admitted
            .iter()
            .filter(|&&(s0, _)| s0 <= rr)
            .any(|&(s0, r0)| {
                let possible = admitted
                    .iter()
                    .filter(|&&(s, r)| r >= s0 && s <= rr)
                    .count() as f64;
                let recovered = rs.saturating_sub(r0) as f64 / INTERVAL_US as f64;
                possible > recovered + f64::from(BURST) - 1.0
            });
        assert!(explained, "refusal at [{rs}, {rr}] us with capacity left");
    }
}

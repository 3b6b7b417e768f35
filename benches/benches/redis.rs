//! wrangle-redis against loopback Redis: `redis_limiter` (criterion: one check per
//! iteration, sequential, so the time is the round trip) and `redis_limiter_latency`
//! (printed, not timed by criterion: p50/p90/p99 over 20,000 sequential calls). Each compares
//! `RedisLimiter::check` with the bare `EVALSHA` of the same script through redis-rs and with a
//! naive fixed window (`INCR` + `EXPIRE`, pipelined in one round trip); the latency run also
//! measures the steps in between (redis-rs's `Script`, the runtime's timeout). See
//! `docs/benchmarks.md`.
//!
//! Starts its own `redis-server` on a free loopback port (or uses `WRANGLE_REDIS_URL`); without
//! one it prints why and measures nothing.

use std::hint::black_box;
use std::net::TcpListener;
use std::num::NonZeroU32;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use redis::aio::MultiplexedConnection;
use wrangle_redis::{Redis, RedisLimiter};
use wrangle_rt::Runtime;
use wrangle_rt::adapter::TokioRuntime;

const SCRIPT: &str = include_str!("../../crates/wrangle-redis/src/limiter/gcra.lua");
/// A quota no benchmark reaches: every check is admitted, as on a healthy service.
const RATE: u32 = 1_000_000;
const BURST: u32 = 1_000_000;
const INTERVAL_US: u64 = 1;

struct Server {
    url: String,
    child: Option<Child>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn server() -> Option<Server> {
    if let Ok(url) = std::env::var("WRANGLE_REDIS_URL") {
        return Some(Server { url, child: None });
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) => {
            println!(
                "redis benchmarks skipped: cannot start redis-server ({e}); `apt-get install redis-server`"
            );
            return None;
        }
    };
    let server = Server {
        url: format!("redis://127.0.0.1:{port}/"),
        child: Some(child),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            println!("redis benchmarks skipped: redis-server did not start");
            return None;
        }
        #[allow(clippy::disallowed_methods)] // the bench's main thread, outside any runtime
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(server)
}

fn tokio_ct() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The three contenders, each one call = one admission decision.
struct Contenders {
    limiter: RedisLimiter<TokioRuntime>,
    conn: MultiplexedConnection,
    sha: String,
    script: redis::Script,
    rt: TokioRuntime,
}

impl Contenders {
    async fn new(url: &str, rt: TokioRuntime) -> Contenders {
        let redis = Redis::builder(url).runtime(rt.clone()).build().unwrap();
        let limiter = RedisLimiter::builder(
            redis,
            NonZeroU32::new(RATE).unwrap(),
            Duration::from_secs(1),
        )
        .burst(NonZeroU32::new(BURST).unwrap())
        .prefix("bench:ours:")
        .build()
        .unwrap();
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(SCRIPT)
            .query_async(&mut conn)
            .await
            .unwrap();
        // Connect and load once before measuring.
        limiter.check("k").await.unwrap();
        Contenders {
            limiter,
            conn,
            sha,
            script: redis::Script::new(SCRIPT),
            rt,
        }
    }

    async fn ours(&self) {
        black_box(self.limiter.check("k").await).unwrap();
    }

    async fn bare(&mut self) {
        let reply: (i64, i64) = redis::cmd("EVALSHA")
            .arg(&self.sha)
            .arg(1)
            .arg("bench:bare:k")
            .arg(INTERVAL_US)
            .arg(INTERVAL_US * u64::from(BURST))
            .arg(1)
            .arg("c")
            .query_async(&mut self.conn)
            .await
            .unwrap();
        black_box(reply);
    }

    /// The bare call through redis-rs's `Script` (what the limiter uses), no timeout.
    async fn script(&mut self) {
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key("bench:script:k")
            .arg(INTERVAL_US)
            .arg(INTERVAL_US * u64::from(BURST))
            .arg(1)
            .arg("c");
        let reply: (i64, i64) = invocation.invoke_async(&mut self.conn).await.unwrap();
        black_box(reply);
    }

    /// The bare call under the runtime's timeout (as every call of ours is).
    async fn timed(&mut self) {
        let rt = self.rt.clone();
        rt.timeout(Duration::from_secs(1), self.bare())
            .await
            .unwrap();
    }

    async fn naive(&mut self) {
        let (count, _): (i64, i64) = redis::pipe()
            .incr("bench:naive:k", 1)
            .expire("bench:naive:k", 1)
            .query_async(&mut self.conn)
            .await
            .unwrap();
        black_box(count <= i64::from(RATE));
    }
}

fn redis_limiter(c: &mut Criterion) {
    let Some(server) = server() else { return };
    let tokio = tokio_ct();
    let rt = TokioRuntime::new(tokio.handle().clone());
    let mut contenders = tokio.block_on(Contenders::new(&server.url, rt));
    let mut group = c.benchmark_group("redis_limiter");
    group.bench_function("wrangle_check", |b| {
        b.iter_custom(|iters| {
            tokio.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    contenders.ours().await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("bare_evalsha", |b| {
        b.iter_custom(|iters| {
            tokio.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    contenders.bare().await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("naive_incr_expire", |b| {
        b.iter_custom(|iters| {
            tokio.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    contenders.naive().await;
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

/// p50/p99 of 20,000 sequential calls of each contender, interleaved in rounds of 100
/// (each round started by the next contender) so that the machine's load falls on all of
/// them alike. Besides the three contenders, two
/// steps between the bare call and ours locate our overhead: the same script through
/// redis-rs's `Script` (`EVALSHA` with its `NOSCRIPT` fallback, what the limiter uses), and
/// the bare call under the runtime's timeout (a timer per call, as every call of ours).
fn redis_limiter_latency(_: &mut Criterion) {
    let Some(server) = server() else { return };
    let tokio = tokio_ct();
    let rt = TokioRuntime::new(tokio.handle().clone());
    let mut contenders = tokio.block_on(Contenders::new(&server.url, rt));
    let names = [
        "wrangle_check",
        "bare_evalsha",
        "bare_script_invoke",
        "bare_evalsha_timeout",
        "naive_incr_expire",
    ];
    let mut samples: [Vec<Duration>; 5] = Default::default();
    tokio.block_on(async {
        for round in 0..200 {
            // Each round starts with another contender: none is always first after a switch.
            for k in 0..samples.len() {
                let i = (round + k) % samples.len();
                let s = &mut samples[i];
                for _ in 0..100 {
                    let start = Instant::now();
                    match i {
                        0 => contenders.ours().await,
                        1 => contenders.bare().await,
                        2 => contenders.script().await,
                        3 => contenders.timed().await,
                        _ => contenders.naive().await,
                    }
                    s.push(start.elapsed());
                }
            }
        }
    });
    for (name, s) in names.iter().zip(&mut samples) {
        s.sort_unstable();
        let p = |q: f64| s[((s.len() as f64 * q) as usize).min(s.len() - 1)];
        let total: Duration = s.iter().sum();
        println!(
            "redis_limiter_latency/{name}: p50 {:?}, p90 {:?}, p99 {:?}, {:.0} calls/s sequential",
            p(0.50),
            p(0.90),
            p(0.99),
            s.len() as f64 / total.as_secs_f64()
        );
    }
}

criterion_group!(benches, redis_limiter);
criterion_group!(latency, redis_limiter_latency);
criterion_main!(benches, latency);

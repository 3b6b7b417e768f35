//! Three OS processes run the same replicated schedule: 100 fire times, 50 ms apart. Each
//! run appends "fire time, pid" to a shared log (a Redis list). Halfway, one replica is
//! killed with SIGKILL. Every fire time ran exactly once, and on the replica that claimed it.
//!
//! A replica killed while it runs a fire time has claimed it, and nobody runs it again (the
//! documented at-most-once under crashes). To assert exactly once, the victim is killed
//! between two runs: it is stopped (SIGSTOP), its claims are compared with its log entries
//! once the server has had time to answer anything already sent, and it is killed (SIGKILL)
//! when they match, or resumed (SIGCONT) and stopped again a moment later when it was
//! caught mid-run.
//!
//! The replicas queue late fire times and catch up on them (`Overlap::Queue`,
//! `Misfire::RunAll`), so each comes to every fire time however loaded the machine is: a
//! fire time runs wherever its claim is won.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, Window, say, start_child};
use wrangle_redis::{Redis, RedisSchedule};
use wrangle_timer::jiff::{SignedDuration, Timestamp};
use wrangle_timer::{Misfire, Overlap};

const ROLE: &str = "schedule";
const KEY_VAR: &str = "WRANGLE_REDIS_TEST_KEY";
const FIRST_VAR: &str = "WRANGLE_REDIS_TEST_FIRST";
const FIRE_TIMES: i64 = 100;
const PERIOD_MS: i64 = 50;

fn window(first_ms: i64) -> Window {
    Window {
        first: Timestamp::from_millisecond(first_ms).unwrap(),
        period: SignedDuration::from_millis(PERIOD_MS),
        count: FIRE_TIMES,
    }
}

/// The child's side; does nothing unless started by the test below.
#[test]
fn schedule_child() {
    if std::env::var(common::ROLE_VAR).as_deref() != Ok(ROLE) {
        return;
    }
    let server = Server::start();
    let key = std::env::var(KEY_VAR).unwrap();
    let first: i64 = std::env::var(FIRST_VAR).unwrap().parse().unwrap();
    let url = server.url().to_owned();
    let pid = std::process::id();
    futures_lite::future::block_on(async {
        let rt = wrangle_rt::DefaultRuntime::current();
        let redis = Redis::builder(&url)
            .call_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let client = redis::Client::open(url.as_str()).unwrap();
        let conn = client.get_multiplexed_async_connection().await.unwrap();
        let log = format!("{key}:log");
        let schedule = RedisSchedule::builder(redis, &key, window(first))
            .overlap(Overlap::Queue)
            .misfire(Misfire::RunAll)
            .claim_ttl(Duration::from_secs(120))
            .replica_id(pid.to_string())
            .spawn(move |at: Timestamp| {
                let (mut conn, log) = (conn.clone(), log.clone());
                async move {
                    let entry = format!("{} {pid}", at.as_millisecond());
                    redis::cmd("RPUSH")
                        .arg(&log)
                        .arg(entry)
                        .query_async::<i64>(&mut conn)
                        .await
                        .map(drop)
                }
            })
            .unwrap();
        say("ready");
        while !schedule.is_finished() {
            wrangle_rt::Runtime::sleep(&rt, Duration::from_millis(20)).await;
        }
        let s = schedule.stats();
        say(&format!(
            "done {} {} {} {} {}",
            s.claimed, s.lost, s.skipped, s.claim_errors, s.failed
        ));
    });
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

#[test]
fn schedule_three_processes_every_fire_time_once_across_sigkill() {
    let server = Server::start();
    let key = common::unique("schedule-processes");
    let log_key = format!("{key}:log");
    let now_ms = i64::try_from(common::now_us() / 1000).unwrap();
    // Time for the children to start; a late one catches up (and loses those claims).
    let first = now_ms + 1500;
    let fire_times: Vec<i64> = window(first)
        .fire_times()
        .iter()
        .map(|t| t.as_millisecond())
        .collect();
    let first_var = first.to_string();
    let mut children: Vec<_> = (0..3)
        .map(|_| {
            start_child(
                "schedule_child",
                ROLE,
                server.url(),
                &[(KEY_VAR, &key), (FIRST_VAR, &first_var)],
            )
        })
        .collect();
    for (_, rx) in &children {
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), "ready");
    }

    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let mut read_log = || -> Vec<(i64, u32)> {
        let log: Vec<String> = redis::cmd("LRANGE")
            .arg(&log_key)
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
    };
    let limit = Instant::now() + Duration::from_secs(60);
    #[allow(clippy::disallowed_methods)] // the test's thread, outside any runtime
    let pause = |ms| std::thread::sleep(Duration::from_millis(ms));

    // Halfway: kill the replica that ran the latest fire time, between two of its runs.
    let victim = loop {
        let log = read_log();
        if log.len() >= FIRE_TIMES as usize / 2 {
            break log.last().unwrap().1;
        }
        assert!(Instant::now() < limit, "only {} runs logged", log.len());
        pause(20);
    };
    let claim_keys: Vec<String> = fire_times.iter().map(|t| format!("{key}:{t}")).collect();
    let mut claim_conn = client.get_connection().unwrap();
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts <= 50, "never caught the victim between two runs");
        signal(victim, "-STOP");
        // Anything the victim sent before it stopped has been answered by then.
        pause(200);
        let owners: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&claim_keys)
            .query(&mut claim_conn)
            .unwrap();
        let claimed: HashSet<i64> = fire_times
            .iter()
            .zip(&owners)
            .filter(|(_, o)| o.as_deref() == Some(victim.to_string().as_str()))
            .map(|(t, _)| *t)
            .collect();
        let ran: HashSet<i64> = read_log()
            .iter()
            .filter(|(_, p)| *p == victim)
            .map(|(t, _)| *t)
            .collect();
        if claimed == ran {
            let (child, _) = children
                .iter_mut()
                .find(|(c, _)| c.0.id() == victim)
                .unwrap();
            child.kill();
            break;
        }
        signal(victim, "-CONT");
        pause(7 + attempts * 3);
    }
    eprintln!("victim {victim} killed after {attempts} stop(s)");

    // The two others run the rest, and report their counters.
    let (tx, rx) = mpsc::channel();
    for (child, lines) in children.drain(..) {
        if child.0.id() == victim {
            continue;
        }
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _child = child;
            if let Ok(line) = lines.recv_timeout(Duration::from_secs(60)) {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let mut survivors_claimed = 0;
    for _ in 0..2 {
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        let n: Vec<u64> = line
            .strip_prefix("done ")
            .unwrap()
            .split(' ')
            .map(|n| n.parse().unwrap())
            .collect();
        let [claimed, lost, skipped, claim_errors, failed] = n[..] else {
            panic!("{line}")
        };
        // Each survivor came to every fire time, and ran only those it claimed.
        assert_eq!(claimed + lost, FIRE_TIMES as u64, "{line}");
        assert_eq!((skipped, claim_errors, failed), (0, 0, 0), "{line}");
        survivors_claimed += claimed;
    }

    // Every fire time ran exactly once, where it was claimed.
    let log = read_log();
    let mut ran: HashMap<i64, u32> = HashMap::new();
    for &(at, pid) in &log {
        if let Some(other) = ran.insert(at, pid) {
            panic!("fire time {at} ran on {other} and {pid}");
        }
    }
    let mut times: Vec<i64> = ran.keys().copied().collect();
    times.sort_unstable();
    assert_eq!(times, fire_times, "every fire time once, and no other");
    let owners: Vec<String> = redis::cmd("MGET")
        .arg(&claim_keys)
        .query(&mut claim_conn)
        .unwrap();
    for (t, owner) in fire_times.iter().zip(&owners) {
        assert_eq!(owner, &ran[t].to_string(), "fire time {t}");
    }
    let by_victim = log.iter().filter(|(_, p)| *p == victim).count() as u64;
    assert!(by_victim > 0);
    assert_eq!(survivors_claimed + by_victim, FIRE_TIMES as u64);
    let pids: HashSet<u32> = ran.values().copied().collect();
    assert!(pids.len() >= 2, "one replica ran everything: {pids:?}");
}

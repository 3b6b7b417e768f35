//! R10: 1,000 clients lose their server at the same instant. Their first reconnect attempts
//! are spread by the backoff's jitter (no 100 ms window holds more than 5% of them), and
//! nothing spins while they wait. On virtual time, so the instants are exact.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::io::AsyncReadExt;
use wrangle_io::pipe::{DuplexStream, duplex};
use wrangle_io::{Backoff, RobustStream};
use wrangle_rt::Runtime;
use wrangle_rt::testing::virtual_time;

const CLIENTS: usize = 1000;

#[test]
fn a_thousand_clients_disconnected_at_once_come_back_spread_out() {
    virtual_time(|rt| async move {
        let server_ends: Arc<Mutex<Vec<DuplexStream>>> = Arc::new(Mutex::new(Vec::new()));
        let killed_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
        let first_retries: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        let mut readers = Vec::new();
        for i in 0..CLIENTS {
            let (ends, killed, firsts, clock) = (
                server_ends.clone(),
                killed_at.clone(),
                first_retries.clone(),
                rt.clone(),
            );
            let mut recorded = false;
            let connector = move || {
                if let Some(at) = *killed.lock().unwrap()
                    && !recorded
                {
                    recorded = true;
                    firsts.lock().unwrap().push(clock.now() - at);
                }
                let (client, server) = duplex(64);
                ends.lock().unwrap().push(server);
                async move { Ok::<_, io::Error>(client) }
            };
            let mut stream = RobustStream::builder(connector)
                .backoff(
                    Backoff::exponential(Duration::from_secs(4), Duration::from_secs(30))
                        .seed(i as u64),
                )
                .build_with_runtime(rt.clone())
                .unwrap();
            handles.push(stream.handle());
            // Every client keeps a read pending, which is how it notices the loss.
            readers.push(rt.spawn(async move {
                let mut buf = [0; 16];
                while stream.read(&mut buf).await.unwrap() > 0 {}
            }));
        }
        while !handles.iter().all(|h| h.is_connected()) {
            rt.sleep(Duration::from_millis(100)).await;
        }

        // The server dies: every connection is lost at the same instant.
        let polls_before = rt.task_polls();
        *killed_at.lock().unwrap() = Some(rt.now());
        server_ends.lock().unwrap().clear();
        while first_retries.lock().unwrap().len() < CLIENTS {
            rt.sleep(Duration::from_millis(100)).await;
        }
        let polls = rt.task_polls() - polls_before;

        let mut at = first_retries.lock().unwrap().clone();
        at.sort();
        // Full jitter over [0, 4 s]: every first retry within the ceiling...
        assert!(*at.last().unwrap() <= Duration::from_secs(4));
        // ...and no 100 ms window holds more than 5% of them.
        let mut worst = 0;
        for (i, start) in at.iter().enumerate() {
            let n = at[i..]
                .iter()
                .take_while(|t| **t < *start + Duration::from_millis(100))
                .count();
            worst = worst.max(n);
        }
        assert!(
            worst * 20 <= CLIENTS,
            "{worst} of {CLIENTS} first retries in one 100 ms window"
        );
        // No busy loop while waiting: each client's reader, connect loop and the test's own
        // task are polled a handful of times per client, not per instant.
        assert!(
            polls <= (CLIENTS * 8) as u64,
            "{polls} task polls for {CLIENTS} clients"
        );
        for h in &handles {
            assert_eq!(h.stats().disconnects, 1);
        }
        drop(readers);
    });
}

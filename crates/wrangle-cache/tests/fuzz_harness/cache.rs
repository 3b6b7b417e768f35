//! `Cache` against reference models on virtual time: gets, inserts, loads (successful,
//! failing, panicking), invalidations, clears and time steps.
//!
//! - With [`Policy::Lru`] the model is exact: a deque in recency order whose entries carry
//!   their expiry; a read of an expired entry removes it; a full cache drops its tail.
//! - With [`Policy::S3Fifo`] the eviction order is quick_cache's, so the model only knows
//!   the latest value of each key and its expiry: a read returns that value or nothing
//!   (evicted), never an older or an expired one, and a load runs exactly when the read
//!   would miss.
//!
//! In both, the statistics must match the model's counts and their invariant.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use wrangle_cache::{Cache, LoadError, Policy};
use wrangle_rt::{Runtime, VirtualRuntime};

use super::{Bytes, MAX_OPS};

const KEYS: u8 = 8;

#[derive(Debug, Default)]
struct Counts {
    hits: u64,
    misses: u64,
    loads: u64,
    failed: u64,
    panicked: u64,
}

/// The exact LRU model: most recent first, `(key, value, expires_at in µs)`.
#[derive(Debug)]
struct Lru {
    cap: usize,
    order: VecDeque<(u8, u32, u64)>,
}

impl Lru {
    fn read(&mut self, key: u8, now: u64) -> Option<u32> {
        let i = self.order.iter().position(|e| e.0 == key)?;
        let entry = self.order.remove(i).expect("found");
        if now >= entry.2 {
            return None;
        }
        self.order.push_front(entry);
        Some(entry.1)
    }

    fn put(&mut self, key: u8, value: u32, expires: u64) {
        self.order.retain(|e| e.0 != key);
        if self.cap == 0 {
            return;
        }
        if self.order.len() == self.cap {
            self.order.pop_back();
        }
        self.order.push_front((key, value, expires));
    }
}

/// The S3-FIFO model: the latest value of each key and its expiry, possibly evicted.
#[derive(Debug, Default)]
struct Latest {
    latest: HashMap<u8, (u32, u64)>,
}

fn check_read(latest: &Latest, key: u8, now: u64, got: Option<u32>) {
    match (got, latest.latest.get(&key)) {
        (None, _) => {}
        (Some(v), Some(&(want, expires))) => {
            assert_eq!(v, want, "key {key}: an older value came back");
            assert!(
                now < expires,
                "key {key}: an expired value came back at {now} µs"
            );
        }
        (Some(v), None) => panic!("key {key}: value {v} that was never stored or was removed"),
    }
}

/// Runs one input: byte 0 picks the policy and capacity, byte 1 the time to live.
pub(crate) fn run(data: &[u8]) {
    let mut bytes = Bytes::new(data);
    let config = bytes.byte();
    let lru = config & 1 == 1;
    let cap = usize::from((config >> 1) % 6);
    let ttl_ms = u64::from(bytes.byte() % 16); // 0: no time to live
    let rt = VirtualRuntime::new();
    let mut builder =
        Cache::builder()
            .max_entries(cap)
            .policy(if lru { Policy::Lru } else { Policy::S3Fifo });
    if ttl_ms > 0 {
        builder = builder.time_to_live(Duration::from_millis(ttl_ms));
    }
    let cache: Cache<u8, u32, _> = builder.runtime(rt.clone()).build().expect("valid config");
    let start = rt.now();
    let now_us = |rt: &VirtualRuntime| (rt.now() - start).as_micros() as u64;
    let expiry = |now: u64| {
        if ttl_ms == 0 {
            u64::MAX
        } else {
            now + ttl_ms * 1000
        }
    };

    let mut model_lru = Lru {
        cap,
        order: VecDeque::new(),
    };
    let mut model_latest = Latest::default();
    let mut counts = Counts::default();
    // Every operation's value is new (its step number, from 1), so a read tells which
    // write it saw.
    for step in 1..=MAX_OPS as u32 {
        let Some(op) = bytes.next() else { break };
        let key = bytes.byte() % KEYS;
        let now = now_us(&rt);
        let value = step;
        // libFuzzer's panic hook aborts even on a panic that is caught, so the fuzzer runs
        // the panicking load as a failing one; the stable replay runs both.
        #[allow(unexpected_cfgs)]
        let op = if cfg!(fuzzing) && op % 8 == 5 { 4 } else { op };
        match op % 8 {
            0 | 1 => {
                let got = cache.get(&key);
                if lru {
                    assert_eq!(got, model_lru.read(key, now), "get {key} at {now} µs");
                } else {
                    check_read(&model_latest, key, now, got);
                }
                if got.is_some() {
                    counts.hits += 1
                } else {
                    counts.misses += 1
                }
            }
            2 => {
                cache.insert(key, value);
                model_lru.put(key, value, expiry(now));
                model_latest.latest.insert(key, (value, expiry(now)));
            }
            3 => {
                let got = rt
                    .block_on(cache.get_or_insert_with(key, || async move { value }))
                    .expect("no panic");
                let hit = if lru {
                    match model_lru.read(key, now) {
                        Some(old) => {
                            assert_eq!(got, old, "load {key} hit");
                            true
                        }
                        None => {
                            model_lru.put(key, value, expiry(now));
                            false
                        }
                    }
                } else if got == value {
                    false
                } else {
                    check_read(&model_latest, key, now, Some(got));
                    true
                };
                if hit {
                    counts.hits += 1;
                } else {
                    counts.misses += 1;
                    counts.loads += 1;
                    model_latest.latest.insert(key, (value, expiry(now)));
                }
            }
            4 => {
                // A failing load: shared with nobody, never cached.
                let got = rt.block_on(
                    cache.try_get_or_insert_with(key, || async move { Err::<u32, _>(value) }),
                );
                let cached = if lru { model_lru.read(key, now) } else { None };
                match got {
                    Ok(v) => {
                        if lru {
                            assert_eq!(Some(v), cached);
                        } else {
                            check_read(&model_latest, key, now, Some(v));
                        }
                        counts.hits += 1;
                    }
                    Err(LoadError::Failed(e)) => {
                        assert_eq!(e, value);
                        assert_eq!(cached, None, "failed although {key} was cached");
                        counts.misses += 1;
                        counts.loads += 1;
                        counts.failed += 1;
                    }
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
            5 => {
                // A panicking load is an error, and caches nothing.
                let fut = cache.get_or_insert_with(key, || async move {
                    if value > 0 {
                        panic!("fuzz panic");
                    }
                    value
                });
                let got = std::panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(fut)))
                    .expect("the cache catches the loader's panic");
                let cached = if lru { model_lru.read(key, now) } else { None };
                match got {
                    Ok(v) => {
                        if lru {
                            assert_eq!(Some(v), cached);
                        } else {
                            check_read(&model_latest, key, now, Some(v));
                        }
                        counts.hits += 1;
                    }
                    Err(p) => {
                        assert_eq!(p.message(), Some("fuzz panic"));
                        assert_eq!(cached, None);
                        counts.misses += 1;
                        counts.loads += 1;
                        counts.failed += 1;
                        counts.panicked += 1;
                    }
                }
            }
            6 => {
                let had = cache.invalidate(&key);
                if lru {
                    let want = model_lru.order.iter().any(|e| e.0 == key);
                    assert_eq!(had, want, "invalidate {key}");
                    model_lru.order.retain(|e| e.0 != key);
                }
                model_latest.latest.remove(&key);
            }
            _ => {
                let step = bytes.byte();
                if step == 0xff {
                    cache.clear();
                    model_lru.order.clear();
                    model_latest.latest.clear();
                } else {
                    // Steps of 0.5 ms land on, before and after the expiries.
                    let d = Duration::from_micros(u64::from(step % 40) * 500);
                    rt.block_on(rt.sleep(d));
                }
            }
        }
        let s = cache.stats();
        assert!(
            cache.len() <= cap,
            "len {} over capacity {cap}",
            cache.len()
        );
        if lru {
            assert_eq!(cache.len(), model_lru.order.len());
        }
        assert_eq!(
            (s.hits, s.misses, s.started, s.failed, s.panicked),
            (
                counts.hits,
                counts.misses,
                counts.loads,
                counts.failed,
                counts.panicked
            ),
            "{s:?}"
        );
        assert_eq!(s.running, 0);
        assert_eq!(s.started, s.completed + s.failed + s.cancelled);
    }
}

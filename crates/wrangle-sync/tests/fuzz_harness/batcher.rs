//! `Batcher` (and the `ChunksTimeout` inside it) against a reference model, on virtual time:
//! a batch is sent when full or `max_wait` after its first item, `shutdown` flushes and waits,
//! `shutdown_timeout` cancels the callbacks still running at its deadline, a dropped batcher
//! runs no more callbacks, and every counter matches.
//!
//! Times are chosen so that no two events can tie: the harness moves in whole milliseconds,
//! batch windows end on half milliseconds and callbacks take a whole number of milliseconds
//! plus a quarter.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wrangle_rt::{Runtime, VirtualRuntime, yield_now};
use wrangle_sync::{Batcher, BatcherStats};

use super::{Bytes, MAX_OPS};

/// A batch as the callback saw it: (µs since start, items).
type Log = Arc<Mutex<Vec<(u64, Vec<u32>)>>>;

/// How long the callback of a batch runs, from its first item's low 4 bits.
fn callback_us(first: u32) -> u64 {
    u64::from(first & 0xf) * 1000 + 250
}

#[derive(Debug)]
struct Sent {
    at: u64,
    items: Vec<u32>,
    /// When its callback finishes; `None` once cancelled.
    done_at: Option<u64>,
}

/// The reference model.
#[derive(Debug)]
struct Model {
    max: usize,
    wait_us: u64,
    now: u64,
    buf: Vec<u32>,
    deadline: u64,
    sent: Vec<Sent>,
    put: u64,
    cancelled: u64,
    closed: bool,
}

impl Model {
    fn send(&mut self, at: u64) {
        let items = std::mem::take(&mut self.buf);
        let done_at = Some(at + callback_us(items[0]));
        self.sent.push(Sent { at, items, done_at });
    }

    fn put(&mut self, item: u32) {
        if self.buf.is_empty() {
            self.deadline = self.now + self.wait_us;
        }
        self.buf.push(item);
        self.put += 1;
        if self.buf.len() == self.max {
            self.send(self.now);
        }
    }

    fn advance(&mut self, us: u64) {
        let to = self.now + us;
        if !self.buf.is_empty() && self.deadline <= to {
            self.send(self.deadline);
        }
        self.now = to;
    }

    /// `shutdown` (with an optional timeout): flush, wait, cancel the rest.
    fn shutdown(&mut self, finalize_us: Option<u64>) {
        self.closed = true;
        if !self.buf.is_empty() {
            self.send(self.now);
        }
        let last = self.sent.iter().filter_map(|s| s.done_at).max();
        let end = last.map_or(self.now, |l| l.max(self.now));
        match finalize_us.map(|f| self.now + f) {
            Some(limit) if end > limit => {
                for s in &mut self.sent {
                    if s.done_at.is_some_and(|d| d > limit) {
                        s.done_at = None;
                        self.cancelled += 1;
                    }
                }
                self.now = limit;
            }
            _ => self.now = end,
        }
    }

    fn completed(&self) -> u64 {
        let done = self.sent.iter().filter_map(|s| s.done_at);
        done.filter(|&d| d <= self.now).count() as u64
    }
}

/// Runs one op sequence; panics on the first divergence from the model.
pub(crate) fn run(data: &[u8]) {
    let mut input = Bytes::new(data);
    let max = 1 + usize::from(input.byte() % 6);
    let wait_us = (1 + u64::from(input.byte() % 24)) * 1000 + 500;
    let rt = VirtualRuntime::builder()
        .stall_grace(Duration::ZERO)
        .build();
    rt.block_on(drive(rt.clone(), input, max, wait_us));
    rt.abort();
}

async fn drive(rt: VirtualRuntime, mut input: Bytes<'_>, max: usize, wait_us: u64) {
    let start = rt.now();
    let now_us = |rt: &VirtualRuntime| (rt.now() - start).as_micros() as u64;
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let finished = Arc::new(AtomicU64::new(0));
    let max_quantity = NonZeroUsize::new(max).expect("max is at least 1");
    let batcher =
        Batcher::with_runtime(rt.clone(), max_quantity, Duration::from_micros(wait_us), {
            let (rt, log, finished) = (rt.clone(), Arc::clone(&log), Arc::clone(&finished));
            move |batch: Vec<u32>| {
                let took = Duration::from_micros(callback_us(batch[0]));
                log.lock()
                    .unwrap()
                    .push(((rt.now() - start).as_micros() as u64, batch));
                let (rt, finished) = (rt.clone(), Arc::clone(&finished));
                async move {
                    rt.sleep(took).await;
                    finished.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
        .expect("max_wait is not zero");
    let mut model = Model {
        max,
        wait_us,
        now: 0,
        buf: Vec::new(),
        deadline: 0,
        sent: Vec::new(),
        put: 0,
        cancelled: 0,
        closed: false,
    };
    let mut next_item = 0u32;

    for step in 0..MAX_OPS {
        let Some(op) = input.next() else { break };
        let arg = input.byte();
        match op % 8 {
            // Put 1..=4 items; each carries its callback's duration in its low bits.
            0..=3 => {
                for _ in 0..=(arg % 4) {
                    let item = (next_item << 4) | u32::from(input.byte() & 0xf);
                    next_item += 1;
                    match batcher.put(item) {
                        Ok(()) => {
                            assert!(!model.closed, "step {step}: put accepted after shutdown");
                            model.put(item);
                        }
                        Err(e) => {
                            assert!(model.closed, "step {step}: put refused before shutdown");
                            assert_eq!(e.0, item, "step {step}: put error lost the item");
                        }
                    }
                }
                settle(&rt).await;
            }
            4 | 5 => {
                let ms = 1 + u64::from(arg % 40);
                rt.sleep(Duration::from_millis(ms)).await;
                model.advance(ms * 1000);
            }
            6 => {
                let finalize = (op & 0x80 != 0).then(|| 1 + u64::from(arg % 20));
                let stats = match finalize {
                    None => batcher.shutdown().await,
                    Some(ms) => batcher.shutdown_timeout(Duration::from_millis(ms)).await,
                };
                model.shutdown(finalize.map(|ms| ms * 1000));
                assert_eq!(now_us(&rt), model.now, "step {step}: shutdown returned at");
                check_stats(step, stats, &model);
                // Back onto whole milliseconds, so later events cannot tie.
                let rest = (1000 - model.now % 1000) % 1000;
                rt.sleep(Duration::from_micros(rest)).await;
                model.now += rest;
            }
            7 if arg < 32 => {
                // Drop the batcher: nothing more is sent, running callbacks never finish.
                let finished_before = model.completed();
                drop(batcher);
                let sent = log.lock().unwrap().len();
                rt.sleep(Duration::from_millis(100)).await;
                assert_eq!(log.lock().unwrap().len(), sent, "a callback ran after drop");
                assert_eq!(finished.load(Ordering::SeqCst), finished_before);
                return;
            }
            _ => {}
        }
        check(step, &rt, &batcher, &model, &log, &finished, start);
    }

    if !model.closed {
        let stats = batcher.shutdown().await;
        model.shutdown(None);
        assert_eq!(now_us(&rt), model.now, "final shutdown returned at");
        check_stats(MAX_OPS, stats, &model);
    }
    check(MAX_OPS, &rt, &batcher, &model, &log, &finished, start);
}

/// Yields until no other task is runnable: the virtual runtime runs one task per yield of
/// the main future, so a yield during which no task ran means everything has settled.
async fn settle(rt: &VirtualRuntime) {
    loop {
        let polls = rt.task_polls();
        yield_now().await;
        if rt.task_polls() == polls {
            return;
        }
    }
}

fn check(
    step: usize,
    rt: &VirtualRuntime,
    batcher: &Batcher<u32, VirtualRuntime>,
    model: &Model,
    log: &Log,
    finished: &AtomicU64,
    start: std::time::Instant,
) {
    assert_eq!(
        (rt.now() - start).as_micros() as u64,
        model.now,
        "step {step}: clock"
    );
    {
        let log = log.lock().unwrap();
        assert_eq!(
            log.len(),
            model.sent.len(),
            "step {step}: batches sent {log:?} model {:?}",
            model.sent
        );
        for (got, want) in log.iter().zip(&model.sent) {
            assert_eq!(got.0, want.at, "step {step}: batch sent at");
            assert_eq!(got.1, want.items, "step {step}: batch items");
        }
    }
    check_stats(step, batcher.stats(), model);
    assert_eq!(
        finished.load(Ordering::SeqCst),
        model.completed(),
        "step {step}"
    );
    assert_eq!(batcher.is_closed(), model.closed, "step {step}: closed");
}

fn check_stats(step: usize, stats: BatcherStats, model: &Model) {
    assert_eq!(stats.submitted, model.put, "step {step}: put");
    assert_eq!(
        stats.started,
        model.sent.len() as u64,
        "step {step}: batches"
    );
    assert_eq!(stats.completed, model.completed(), "step {step}: completed");
    assert_eq!(stats.failed, 0, "step {step}: failed");
    assert_eq!(stats.cancelled, model.cancelled, "step {step}: cancelled");
}

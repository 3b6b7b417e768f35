//! `Concurrent` under `ErrorPolicy::Stop` (issue 11, defect 10): a job's output that was
//! complete before the error was observed is delivered (before the error), whatever order the
//! runtime ran the tasks in. Checked on every runtime and across virtual-time seeds.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::ms;
use futures_lite::StreamExt;
use futures_lite::future::Boxed;
use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Runtime, VirtualRuntime};
use wrangle_task::{Concurrent, ConcurrentError};

/// Three jobs that end at the same instant: two succeed (and say so just before they return),
/// one fails. Returns what the stream yielded and which successes had completed.
async fn same_instant<R: Runtime>(rt: R, delay: Duration) -> (Vec<Result<u32, String>>, [bool; 2]) {
    let done = [
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    ];
    let ok = |i: usize| -> Boxed<Result<u32, &'static str>> {
        let (rt, done) = (rt.clone(), done[i].clone());
        Box::pin(async move {
            rt.sleep(delay).await;
            done.store(true, Ordering::SeqCst);
            Ok(i as u32)
        })
    };
    let fail: Boxed<Result<u32, &'static str>> = {
        let rt = rt.clone();
        Box::pin(async move {
            rt.sleep(delay).await;
            Err("boom")
        })
    };
    let jobs = vec![ok(0), fail, ok(1)];
    let out: Vec<_> = Concurrent::with_runtime(rt.clone(), jobs)
        .map(|r| {
            r.map_err(|e| match e {
                ConcurrentError::Failed(e) => e.to_owned(),
                other => format!("{other:?}"),
            })
        })
        .collect()
        .await;
    // Whatever ran to its end did so before the stream ended: the stream waited for the
    // cancellations.
    let done = [
        done[0].load(Ordering::SeqCst),
        done[1].load(Ordering::SeqCst),
    ];
    (out, done)
}

fn check(out: &[Result<u32, String>], done: [bool; 2]) {
    assert_eq!(out.last(), Some(&Err("boom".to_owned())), "{out:?}");
    let delivered: Vec<u32> = out
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    for i in 0..2u32 {
        assert_eq!(
            delivered.contains(&i),
            done[i as usize],
            "job {i}: completed {} but delivered {delivered:?}",
            done[i as usize]
        );
    }
    assert_eq!(out.len(), delivered.len() + 1, "{out:?}");
}

#[test]
fn a_complete_result_is_never_thrown_away_on_every_runtime() {
    each_runtime(|rt| async move {
        for delay in [Duration::ZERO, ms(1)] {
            let (out, done) = same_instant(rt.clone(), delay).await;
            check(&out, done);
        }
    });
}

#[test]
fn a_complete_result_is_never_thrown_away_across_virtual_seeds() {
    let mut delivered_before_error = 0;
    for seed in 0..64 {
        for delay in [Duration::ZERO, ms(10)] {
            let rt = VirtualRuntime::builder().seed(seed).build();
            let (out, done) = rt.block_on(same_instant(rt.clone(), delay));
            check(&out, done);
            delivered_before_error += out.len() - 1;
        }
    }
    // The seeds do reorder the tasks: some runs complete jobs before the error is seen.
    assert!(delivered_before_error > 0);
}

#[test]
fn the_inline_runner_keeps_complete_results_too() {
    each_runtime(|rt| async move {
        for delay in [Duration::ZERO, ms(1)] {
            let done = Arc::new(AtomicBool::new(false));
            let ok = |d: Arc<AtomicBool>,
                      rt: wrangle_rt::DefaultRuntime|
             -> Boxed<Result<u32, &'static str>> {
                Box::pin(async move {
                    rt.sleep(delay).await;
                    d.store(true, Ordering::SeqCst);
                    Ok(1)
                })
            };
            let fail: Boxed<Result<u32, &'static str>> = {
                let rt = rt.clone();
                Box::pin(async move {
                    rt.sleep(delay).await;
                    Err("boom")
                })
            };
            // The failing future is polled first in each pass: the success completes in the
            // same pass, after it.
            let jobs = vec![fail, ok(done.clone(), rt.clone())];
            let out: Vec<_> = wrangle_task::ConcurrentInline::new(jobs).collect().await;
            assert!(matches!(
                out.last(),
                Some(Err(ConcurrentError::Failed("boom")))
            ));
            let delivered = out.iter().filter(|r| r.is_ok()).count();
            assert_eq!(delivered == 1, done.load(Ordering::SeqCst), "{delivered}");
        }
    });
}

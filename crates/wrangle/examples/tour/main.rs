//! A guided tour of wrangle: `cargo run -p wrangle --example tour`.
//!
//! It runs on smol by default and picks Tokio by itself when built with
//! `--features runtime-tokio`. Each section prints what it demonstrates.

// The tour's job is to print.
#![allow(clippy::print_stdout)]

#[cfg(feature = "cache")]
mod cache;
#[cfg(feature = "debounce")]
mod debounce;
#[cfg(feature = "io")]
mod io;
#[cfg(feature = "pool")]
mod pool;
mod rt;
#[cfg(feature = "sync")]
mod sync;
#[cfg(feature = "task")]
mod task;
#[cfg(feature = "timer")]
mod timer;

use wrangle::{DefaultRuntime, Runtime};

fn main() {
    let started = std::time::Instant::now();
    wrangle::rt::block_on(async {
        let rt = DefaultRuntime::current();
        println!("wrangle tour, running on `{}`", rt.name());
        section("wrangle-rt: one runtime abstraction");
        rt::tour(rt.clone()).await;
        #[cfg(feature = "task")]
        {
            section("wrangle-task: runners, scopes, race, exit stack, supervisor, server");
            task::tour(rt.clone()).await;
        }
        #[cfg(feature = "timer")]
        {
            section("wrangle-timer: intervals, periodic tasks, cron, scheduler");
            timer::tour(rt.clone()).await;
        }
        #[cfg(feature = "pool")]
        {
            section("wrangle-pool: bounded pools with per-task timeouts");
            pool::tour(rt.clone()).await;
        }
        #[cfg(feature = "sync")]
        {
            section("wrangle-sync: semaphores, limiters, lockouts, queues, batching");
            sync::tour(rt.clone()).await;
        }
        #[cfg(feature = "cache")]
        {
            section("wrangle-cache: single-flight loads, TTL, LRU, memoized functions");
            cache::tour(rt.clone()).await;
        }
        #[cfg(feature = "io")]
        {
            section("wrangle-io: a stream that reconnects by itself");
            io::tour(rt.clone()).await;
        }
        #[cfg(feature = "debounce")]
        {
            section("wrangle-debounce: debouncers and debounce/throttle streams");
            debounce::tour(rt.clone()).await;
        }
    });
    println!("\ntour finished in {:?}", started.elapsed());
}

fn section(title: &str) {
    println!("\n== {title} ==");
}

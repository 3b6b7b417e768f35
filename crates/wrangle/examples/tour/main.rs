//! A guided tour of wrangle: `cargo run -p wrangle --example tour`.
//!
//! It runs on smol by default and picks Tokio by itself when built with
//! `--features runtime-tokio`. Each section prints what it demonstrates.

// The tour's job is to print.
#![allow(clippy::print_stdout)]

mod rt;

use wrangle::{DefaultRuntime, Runtime};

fn main() {
    let started = std::time::Instant::now();
    wrangle::rt::block_on(async {
        let rt = DefaultRuntime::current();
        println!("wrangle tour, running on `{}`", rt.name());
        section("wrangle-rt: one runtime abstraction");
        rt::tour(rt.clone()).await;
    });
    println!("\ntour finished in {:?}", started.elapsed());
}

fn section(title: &str) {
    println!("\n== {title} ==");
}

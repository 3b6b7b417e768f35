//! `cargo xtask asan [crate]`: every crate's test binaries under AddressSanitizer and
//! LeakSanitizer (reliability plan R13).
//!
//! Needs the nightly toolchain (`-Zsanitizer` is unstable). The standard library is the
//! prebuilt one (no `-Zbuild-std`, so no `rust-src` is needed): ASan still sees every
//! allocation, since it replaces `malloc`, and instruments the workspace and every
//! dependency, which is where the unsafe code is (the wrangle crates forbid it). The build
//! goes to its own target directory, `<target>/asan`, so it never invalidates the normal one.
//!
//! Unit tests and integration tests run (`--lib --tests`; examples are built first, for the
//! tests that start them); doctests and benches do not (a
//! doctest is a separate binary per example, and rustdoc would need the same flags: slow, and
//! they exercise nothing the tests do not).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::{Result, root, run};

/// The host triple: `--target` keeps build scripts and proc macros uninstrumented (they run
/// at build time, where a sanitizer runtime is not wanted).
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// `detect_leaks=1`: LeakSanitizer at exit (on by default on x86_64 Linux, explicit here).
/// `quarantine_size_mb=0`: freed memory is reused at once instead of being held back
/// (256 MiB by default). Several tests assert a bound on resident memory after a million
/// allocations come and go (pool R1, token chains, keyed tables); a quarantine makes every
/// free look like a leak to them. Outside our own `unsafe` code (run a second time with the
/// quarantine, [`ASAN_OPTIONS_QUARANTINE`]), the use-after-free reports a quarantine
/// sharpens could only come from dependencies, whose overflows and leaks are still caught.
const ASAN_OPTIONS: &str = "detect_leaks=1:quarantine_size_mb=0:abort_on_error=0";

/// The second run of a crate with `unsafe` code of its own (see [`has_unsafe`]): ASan's
/// default quarantine, so a use after free in that code is reported.
const ASAN_OPTIONS_QUARANTINE: &str = "detect_leaks=1:abort_on_error=0";

/// Whether crate `name` has `unsafe` code of its own: a module of its `src` allows it (every
/// crate denies or forbids it at its root; wrangle-pool's task cell, ADR 0104, allows it).
fn has_unsafe(name: &str) -> Result<bool> {
    fn scan(dir: &Path) -> std::io::Result<bool> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                if scan(&path)? {
                    return Ok(true);
                }
            } else if path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path)?.contains("#![allow(unsafe_code)]")
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
    scan(&root().join("crates").join(name).join("src")).map_err(|e| e.to_string())
}

pub(crate) fn asan(krate: Option<&str>) -> Result {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.path().join("Cargo.toml").exists() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    if let Some(k) = krate {
        names.retain(|n| n == k);
    }
    if names.is_empty() {
        return Err("no crate matched".into());
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("asan");
    let start = Instant::now();
    for name in &names {
        let crate_start = Instant::now();
        // Examples first, as plain binaries: tests start them as child processes (the pool's
        // echo server), and `cargo test --examples` would build them as test harnesses.
        run(nightly(
            &target_dir,
            &["build", "-p", name, "--all-features", "--examples"],
        ))?;
        run(nightly(
            &target_dir,
            &["test", "-p", name, "--all-features", "--lib", "--tests"],
        ))
        .map_err(|e| format!("{e}\n(needs `rustup toolchain install nightly`)"))?;
        if has_unsafe(name)? {
            // Our own `unsafe` code: once more with ASan's default quarantine, which keeps
            // freed memory poisoned long enough to catch a late use of it. The tests that
            // bound resident memory skip the bound (`WRANGLE_ASAN_QUARANTINE`).
            let mut c = nightly(
                &target_dir,
                &["test", "-p", name, "--all-features", "--lib", "--tests"],
            );
            c.env("ASAN_OPTIONS", ASAN_OPTIONS_QUARANTINE);
            c.env("WRANGLE_ASAN_QUARANTINE", "1");
            run(c)?;
        }
        eprintln!("xtask: asan: {name} clean in {:.0?}", crate_start.elapsed());
    }
    eprintln!(
        "xtask: asan: {} crate(s) clean in {:.0?}",
        names.len(),
        start.elapsed()
    );
    Ok(())
}

/// `cargo +nightly <args> --target <host>` with the sanitizer flags.
fn nightly(target_dir: &Path, args: &[&str]) -> Command {
    // `cargo +nightly` only works through rustup's proxy: call it by name, not through
    // `$CARGO` (the stable toolchain's binary).
    let mut c = Command::new("cargo");
    c.current_dir(root())
        .env_remove("RUSTC")
        .env_remove("RUSTDOC");
    c.arg("+nightly").args(args).args(["--target", TARGET]);
    // The prebuilt standard library was built without the sanitizer: allow the mix (a target
    // modifier since nightly 2025; nothing in std's ABI changes under ASan).
    c.env(
        "RUSTFLAGS",
        "-Zsanitizer=address -Cunsafe-allow-abi-mismatch=sanitizer -Cforce-frame-pointers=yes",
    );
    c.env("CARGO_TARGET_DIR", target_dir);
    c.env("ASAN_OPTIONS", ASAN_OPTIONS);
    // Tests that bound resident memory read this: under ASan, shadow memory (an eighth of
    // every region ever allocated) and the allocator's size-class regions stay resident
    // after a free, whatever the code under test gives back.
    c.env("WRANGLE_SANITIZER", "address");
    c.env("RUST_BACKTRACE", "0");
    c
}

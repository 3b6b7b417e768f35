//! `cargo xtask stress [runs]`: the whole test suite, again and again, on a loaded machine.
//!
//! A flaky test is one whose assertion holds only when the machine is idle. This command
//! makes the machine busy and changes the virtual runtime's scheduling, so that such a test
//! fails here before it fails in CI:
//!
//! - every test binary of the workspace (`cargo test --workspace --all-features --no-run`:
//!   unit and integration tests; doctests are not run) is run `runs` times (default 30);
//! - each run executes two copies of the suite at once, each binary with its own
//!   `WRANGLE_VIRTUAL_SEED` (the seed changes with every run and every copy);
//! - busy-loop threads, one per core, compete with them for the CPU the whole time;
//! - wrangle-redis's four-process lease test runs 8 s instead of its 60
//!   (`WRANGLE_REDIS_LEASE_RUN_SECS`): the same checks, a shorter run.
//!
//! A failure is reported with its binary, the failed tests' names and the seed, and the
//! binary's output is kept under `target/stress/` (of `CARGO_TARGET_DIR` when set). A binary that runs longer than
//! [`HANG`] is killed and reported as a hang. Run it under `nice -n 10` on a shared machine.

use std::fmt::Write as _;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::{Result, cargo, root};

/// How long one test binary may run before it counts as hung.
const HANG: Duration = Duration::from_secs(600);

/// The default seed of the first run; run `r`, copy `c` uses `first + 2 * r + c`
/// (`--seed <first>` to explore others).
const FIRST_SEED: u64 = 0x5EED;

/// One test binary: where it is and which package it tests (its working directory).
#[derive(Debug, Clone)]
struct Binary {
    name: String,
    path: PathBuf,
    dir: PathBuf,
}

/// One failed execution of a binary.
#[derive(Debug)]
struct Failure {
    run: usize,
    copy: usize,
    seed: u64,
    binary: String,
    tests: Vec<String>,
    log: PathBuf,
}

pub(crate) fn stress(args: &[String]) -> Result {
    let mut runs = 30usize;
    let mut packages = Vec::new();
    let mut first_seed = FIRST_SEED;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => {
                first_seed = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seed needs a number")?;
            }
            "-p" | "--package" => {
                packages.push(it.next().ok_or("-p needs a package name")?.to_owned())
            }
            n => {
                runs = n.parse().map_err(|_| {
                    format!("`{n}` is not a number of runs (usage: stress [runs] [-p crate].. [--seed first])")
                })?;
            }
        }
    }
    let binaries = build(&packages)?;
    if binaries.is_empty() {
        return Err("no test binary was built".into());
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let logs = target.join("stress");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    eprintln!(
        "xtask stress: {runs} runs of {} test binaries, two copies at a time, with busy-loop load",
        binaries.len()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..thread::available_parallelism().map_or(2, |n| n.get()))
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..10_000 {
                        x = std::hint::black_box(
                            x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                        );
                    }
                }
            })
        })
        .collect();

    let started = Instant::now();
    let mut failures = Vec::new();
    for run in 0..runs {
        let copies: Vec<_> = (0..2)
            .map(|copy| {
                let seed = first_seed + 2 * run as u64 + copy as u64;
                let (binaries, logs) = (binaries.clone(), logs.clone());
                thread::spawn(move || suite(run, copy, seed, &binaries, &logs))
            })
            .collect();
        for c in copies {
            failures.extend(c.join().map_err(|_| "a stress thread panicked")?);
        }
        eprintln!(
            "xtask stress: run {}/{runs} done after {:.0?}, {} failure(s) so far",
            run + 1,
            started.elapsed(),
            failures.len()
        );
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        let _ = t.join();
    }

    if failures.is_empty() {
        eprintln!(
            "xtask stress: no failure in {runs} runs ({} executions of {} binaries) in {:.0?}",
            2 * runs * binaries.len(),
            binaries.len(),
            started.elapsed()
        );
        return Ok(());
    }
    let mut report = String::new();
    for f in &failures {
        let _ = writeln!(
            report,
            "  run {} copy {} WRANGLE_VIRTUAL_SEED={} {}: {} (log: {})",
            f.run,
            f.copy,
            f.seed,
            f.binary,
            if f.tests.is_empty() {
                "no test name found".to_owned()
            } else {
                f.tests.join(", ")
            },
            f.log.display()
        );
    }
    Err(format!(
        "{} failure(s) in {runs} runs:\n{report}",
        failures.len()
    ))
}

/// Builds the test binaries and lists them (cargo's JSON messages, read without a parser).
fn build(packages: &[String]) -> Result<Vec<Binary>> {
    let mut c = cargo();
    c.args([
        "test",
        "--all-features",
        "--no-run",
        "--message-format=json",
    ]);
    if packages.is_empty() {
        c.arg("--workspace");
    }
    for p in packages {
        c.args(["-p", p]);
    }
    eprintln!("$ {c:?}");
    let out = c
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("building the tests failed: {}", out.status));
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if !line.contains("\"reason\":\"compiler-artifact\"") || !line.contains("\"test\":true") {
            continue;
        }
        let (Some(exe), Some(manifest), Some(name)) = (
            field(line, "executable"),
            field(line, "manifest_path"),
            field(line, "name"),
        ) else {
            continue;
        };
        let dir = PathBuf::from(manifest)
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(root);
        let package = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        binaries.push(Binary {
            name: format!("{package}::{name}"),
            path: PathBuf::from(exe),
            dir,
        });
    }
    Ok(binaries)
}

/// The string value of `"key":"…"` in a JSON line (no escapes in the values read here).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":\"");
    let start = line.find(&pat)? + pat.len();
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// One copy of the suite: every binary once, in an order that differs between the copies so
/// that different binaries overlap.
fn suite(
    run: usize,
    copy: usize,
    seed: u64,
    binaries: &[Binary],
    logs: &std::path::Path,
) -> Vec<Failure> {
    let mut failures = Vec::new();
    let n = binaries.len();
    for i in 0..n {
        let b = &binaries[(i + copy * n / 2) % n];
        let log = logs.join(format!(
            "run{run}-copy{copy}-{}.log",
            b.name.replace("::", "-")
        ));
        let ok = match execute(b, seed, &log) {
            Ok(ok) => ok,
            Err(e) => {
                let _ = std::fs::write(&log, e);
                false
            }
        };
        if ok {
            let _ = std::fs::remove_file(&log);
        } else {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!(
                "xtask stress: FAILED {} (run {run}, copy {copy}, WRANGLE_VIRTUAL_SEED={seed})",
                b.name
            );
            failures.push(Failure {
                run,
                copy,
                seed,
                binary: b.name.clone(),
                tests: failed_tests(&text),
                log,
            });
        }
    }
    failures
}

/// Runs one binary with its output in `log`; `Ok(false)` if it failed or hung.
fn execute(b: &Binary, seed: u64, log: &std::path::Path) -> std::result::Result<bool, String> {
    let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child: Child = Command::new(&b.path)
        .current_dir(&b.dir)
        .env("WRANGLE_VIRTUAL_SEED", seed.to_string())
        // The lease contention test's 60 s would be most of a run; 8 s checks the same.
        .env("WRANGLE_REDIS_LEASE_RUN_SECS", "8")
        .env("RUST_BACKTRACE", "1")
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", b.path.display()))?;
    let began = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status.success());
        }
        if began.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(log)
                .map_err(|e| e.to_string())?;
            let _ = std::io::Write::write_all(
                &mut f,
                format!("\nxtask stress: killed after {HANG:?} (hang)\n").as_bytes(),
            );
            return Ok(false);
        }
        // A plain command-line program: no executor to block.
        #[allow(clippy::disallowed_methods)]
        thread::sleep(Duration::from_millis(50));
    }
}

/// The names of the failed tests in a libtest output.
fn failed_tests(output: &str) -> Vec<String> {
    let mut names: Vec<String> = output
        .lines()
        .filter_map(|l| {
            l.strip_prefix("---- ")
                .and_then(|r| r.strip_suffix(" stdout ----"))
                .map(str::to_owned)
        })
        .collect();
    if output.contains("(hang)") {
        names.push("(hang: killed)".to_owned());
    }
    names
}

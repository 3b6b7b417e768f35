//! Workspace automation, run as `cargo xtask <command>` (an alias in `.cargo/config.toml`).
//!
//! Every CI step is one of these commands, so a local run and CI do the same thing. It has no
//! one dependency, serde_json, to read rustdoc's JSON output (`names`); criterion's estimates
//! are read without it.

// A command-line tool reports on stdout/stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod asan;
mod bench;
mod names;
mod powerset;
mod stress;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci             fmt --check, lint, test, docs, names, powerset, loom, deny (if installed)
  test           cargo test --workspace --all-features (doctests included)
  lint           cargo clippy --workspace --all-targets --all-features -D warnings
  fmt [--check]  cargo fmt --all
  docs           cargo doc --workspace --no-deps, all features and default ones, warnings denied
  deny           cargo deny check (needs `cargo install --locked cargo-deny`)
  deny-if-installed  bans, licenses, sources; skipped when cargo-deny is missing (CI)
  names          each crate's public root names (rustdoc JSON, nightly): no name is a
                 different item in two crates, and no crate shows more than its limit
  powerset       every crate with features: each alone, all, and none; the library
                 checked, the tests built (wrangle-rt's run)
  bench [--quick] [-- <criterion args>]
                 criterion benches, then the ratio table (--quick: short runs)
  bench-table    print the ratio table of the last bench run
  bench-pair <bench> <group> <ours> <peer> [rounds]
                 paired runs: ours and one peer measured back to back, the order
                 alternating (AB BA AB ...), default 8 rounds; prints each round's ratio
                 and the median (for scenarios whose speed drifts between runs)
  stress [runs] [-p crate].. [--seed first]
                 the test binaries `runs` times (default 30), two copies at once plus
                 busy-loop load, a new WRANGLE_VIRTUAL_SEED per run and copy; reports
                 each failure with its test names and seed (run it under nice -n 10)
  loom [crate]   loom models (crates with tests/loom.rs), LOOM_MAX_PREEMPTIONS=2
  fuzz [target] [seconds]
                 cargo-fuzz targets of fuzz/ (default: all, 60 s each), nightly; needs
                 `cargo install cargo-fuzz`. CI replays the kept corpora on stable instead
                 (crates/wrangle-sync/tests/fuzz_corpus.rs)
  asan [crate]   every crate's unit and integration tests under AddressSanitizer and
                 LeakSanitizer (nightly; slow: see the README for the last run's time)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "ci" => ci(),
        "test" => test(),
        "lint" => lint(),
        "fmt" => fmt(rest.iter().any(|a| a == "--check")),
        "docs" => docs(),
        "deny" => deny(true),
        "deny-if-installed" => deny(false),
        "powerset" => powerset::powerset(),
        "names" => names::names(),
        "bench" => bench::bench(rest),
        "bench-table" => bench::table(&bench::criterion_dir()),
        "bench-pair" => bench::pair(rest),
        "loom" => loom(rest.first().map(String::as_str)),
        "stress" => stress::stress(rest),
        "fuzz" => fuzz(rest),
        "asan" => asan::asan(rest.first().map(String::as_str)),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(mut cmd: Command) -> Result {
    eprintln!("$ {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

fn cargo_args(args: &[&str]) -> Command {
    let mut c = cargo();
    c.args(args);
    c
}

fn ci() -> Result {
    fmt(true)?;
    lint()?;
    test()?;
    docs()?;
    names::names()?;
    powerset::powerset()?;
    loom(None)?;
    deny(false)
}

fn test() -> Result {
    run(cargo_args(&["test", "--workspace", "--all-features"]))
}

fn lint() -> Result {
    run(cargo_args(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))
}

fn fmt(check: bool) -> Result {
    let mut args = vec!["fmt", "--all"];
    if check {
        args.extend(["--", "--check"]);
    }
    run(cargo_args(&args))
}

fn docs() -> Result {
    // With every feature (as published), and with the default ones (as a crate is built
    // without asking for more), so that no link depends on a feature being on.
    for features in [&["--all-features"][..], &[]] {
        let mut c = cargo_args(&["doc", "--workspace", "--no-deps"]);
        c.args(features);
        c.env("RUSTDOCFLAGS", "-D warnings");
        run(c)?;
    }
    Ok(())
}

fn deny(required: bool) -> Result {
    let installed = Command::new("cargo-deny")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        let msg = "cargo-deny is not installed (cargo install --locked cargo-deny)";
        if required {
            return Err(msg.into());
        }
        eprintln!("xtask: skipping deny: {msg}");
        return Ok(());
    }
    // The advisory database is fetched over the network; CI machines may not reach it, so the
    // CI form checks only what the lock file decides.
    let checks: &[&str] = if required {
        &["advisories", "bans", "licenses", "sources"]
    } else {
        &["bans", "licenses", "sources"]
    };
    let mut c = cargo_args(&["deny", "check"]);
    c.args(checks);
    run(c)
}

/// The cargo-fuzz targets of `fuzz/` (R14; docs/adr/0021-sync-fuzzing.md), each with the crate
/// whose `tests/fuzz_corpus/<target>/` keeps its corpus (inside the package, so the published
/// crate's replay test finds it).
const FUZZ_TARGETS: [(&str, &str); 4] = [
    ("semaphore_ops", "wrangle-sync"),
    ("batcher_ops", "wrangle-sync"),
    ("cache_ops", "wrangle-cache"),
    ("debounce_ops", "wrangle-debounce"),
];

fn fuzz(args: &[String]) -> Result {
    let all: Vec<&str> = FUZZ_TARGETS.iter().map(|(t, _)| *t).collect();
    let (targets, seconds): (Vec<&str>, &str) = match args {
        [] => (all.clone(), "60"),
        [t] if t.parse::<u32>().is_ok() => (all.clone(), t.as_str()),
        [t] => (vec![t.as_str()], "60"),
        [t, s, ..] => (vec![t.as_str()], s.as_str()),
    };
    if let Some(bad) = targets.iter().find(|t| !all.contains(t)) {
        return Err(format!("unknown fuzz target `{bad}` (known: {all:?})"));
    }
    let max_time = format!("-max_total_time={seconds}");
    for target in targets {
        let krate = FUZZ_TARGETS
            .iter()
            .find(|(t, _)| *t == target)
            .map(|(_, k)| *k)
            .expect("checked above");
        let corpus = root()
            .join("crates")
            .join(krate)
            .join("tests/fuzz_corpus")
            .join(target);
        let corpus = corpus.to_string_lossy().into_owned();
        let mut c = Command::new("cargo");
        c.current_dir(root()).args([
            "+nightly", "fuzz", "run", target, &corpus, "--", &max_time, "-jobs=1",
        ]);
        run(c).map_err(|e| {
            format!("{e}\n(needs a nightly toolchain and `cargo install cargo-fuzz`)")
        })?;
    }
    Ok(())
}

fn loom(krate: Option<&str>) -> Result {
    let crates_dir = root().join("crates");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&crates_dir).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.path().join("tests/loom.rs").exists() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    if let Some(k) = krate {
        names.retain(|n| n == k);
    }
    if names.is_empty() {
        return Err("no crate with tests/loom.rs matched".into());
    }
    for name in names {
        let mut c = cargo_args(&["test", "--release", "-p", &name, "--test", "loom"]);
        c.env("RUSTFLAGS", "--cfg loom");
        c.env("LOOM_MAX_PREEMPTIONS", "2");
        c.env("CARGO_TARGET_DIR", root().join("target/loom"));
        run(c)?;
    }
    Ok(())
}

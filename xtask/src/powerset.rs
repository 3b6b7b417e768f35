//! `cargo xtask powerset`: every crate's features, alone and together, build and test
//! (reliability plan R15).
//!
//! The features are read from each crate's `Cargo.toml` (`[features]`, `default` aside), so
//! a new feature is covered without touching this file. For every crate that has features,
//! each set (none, each feature alone, all of them) is checked on its own, the library
//! without dev-dependencies (which would switch features on through feature unification);
//! then:
//!
//! - `wrangle-rt`, which every other crate tests through, runs its tests with each set;
//! - the other crates build their tests with each set (`cargo test --no-run`): every test
//!   binary compiles whatever the features; `cargo xtask test` runs them with all features.
//!   A set that is one forwarded `runtime-*` feature is only checked: the tests' dev-dependencies
//!   switch every runtime on anyway.
//!
//! No `cargo hack`: the sets are few (a crate's features are independent switches, so "each
//! alone" and "all" cover what can break: a missing `cfg` or a missing dependency feature).

use std::path::Path;
use std::time::Instant;

use crate::{Result, cargo_args, root, run};

/// The crate whose tests run with every set, not only build.
const TESTED: &str = "wrangle-rt";

pub(crate) fn powerset() -> Result {
    let start = Instant::now();
    let mut crates = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let features = features(&entry.path().join("Cargo.toml"))?;
        if !features.is_empty() {
            crates.push((name, features));
        }
    }
    crates.sort();
    for (name, features) in &crates {
        for set in sets(features) {
            let mut check = cargo_args(&["check", "-p", name, "--lib", "--no-default-features"]);
            check.args(&set);
            run(check)?;
            // Every crate's dev-dependencies switch on all of wrangle-rt's runtimes, so a set of
            // forwarded runtime features changes nothing a test build would see: the check
            // above is what covers them.
            if name != TESTED && set.len() == 2 && set[1].starts_with("runtime-") {
                continue;
            }
            let mut test = if name == TESTED {
                cargo_args(&["test", "-p", name, "--tests", "--no-default-features"])
            } else {
                cargo_args(&["test", "-p", name, "--no-run", "--no-default-features"])
            };
            test.args(&set);
            run(test)?;
        }
    }
    eprintln!(
        "xtask: powerset: {} crate(s) with features, every set green in {:.0?}",
        crates.len(),
        start.elapsed()
    );
    Ok(())
}

/// None, each feature alone, and all of them, as `--features` arguments.
fn sets(features: &[String]) -> Vec<Vec<String>> {
    let mut sets = vec![Vec::new()];
    for f in features {
        sets.push(vec!["--features".to_owned(), f.clone()]);
    }
    if features.len() > 1 {
        sets.push(vec!["--features".to_owned(), features.join(",")]);
    }
    sets
}

/// The features a manifest declares, `default` aside, in their order.
fn features(manifest: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let mut in_features = false;
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_features = line == "[features]";
            continue;
        }
        if !in_features || line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if name != "default" {
                found.push(name.to_owned());
            }
        }
    }
    Ok(found)
}

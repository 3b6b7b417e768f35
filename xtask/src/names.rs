//! `cargo xtask names`: the public names at each library crate's root, read from rustdoc's JSON
//! output (nightly), checked for clashes across crates and against each crate's limit.
//!
//! `use wrangle::{rt::*, task::*, sync::*, ..};` must work for every public name, and a glob
//! import compiles even with clashes until a clashing name is used, so compiling proves
//! nothing: this compares the names themselves. Modules (`future`, `testing`, ...) are
//! expected in several crates and are not counted. A name re-exported from another crate is
//! the same item, not a clash.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::{Result, root};

/// The most root names (items, not modules) each crate may show (issue 12 and api.md: a root
/// page is read in one sitting). Crates not listed have the default.
const LIMITS: &[(&str, usize)] = &[
    ("wrangle-rt", 25),
    ("wrangle-task", 45),
    // 36: issue 18 added `Quota` and `InsufficientCapacity` (governor's names, errors beside
    // their primitive); the split queue's halves went to `wrangle_sync::stream` instead.
    ("wrangle-sync", 35),
];
const DEFAULT_LIMIT: usize = 35;

pub(crate) fn names() -> Result {
    let nightly = nightly_cargo()
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !nightly {
        eprintln!("xtask: skipping names: rustdoc's JSON output needs a nightly toolchain");
        return Ok(());
    }
    let target = root().join("target/names");
    let mut crates: Vec<String> = std::fs::read_dir(root().join("crates"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("wrangle-"))
        .collect();
    crates.sort();

    // name -> [(crate, canonical path)]
    let mut seen: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut failures = Vec::new();
    for krate in &crates {
        let mut c = nightly_cargo();
        c.args(["rustdoc", "-q", "-p", krate, "--lib"]);
        c.args(["--all-features", "--", "-Z", "unstable-options"]);
        c.args(["--output-format", "json"]);
        c.env("CARGO_TARGET_DIR", &target);
        if let Err(first) = crate::run(c) {
            // Once seen: a nightly rustc crash building a dependency, gone on the next run.
            eprintln!("xtask: names: retrying {krate} once after: {first}");
            let mut again = nightly_cargo();
            again.args([
                "rustdoc",
                "-q",
                "-p",
                krate,
                "--lib",
                "--all-features",
                "--",
            ]);
            again.args(["-Z", "unstable-options", "--output-format", "json"]);
            again.env("CARGO_TARGET_DIR", &target);
            crate::run(again)?;
        }
        let file = target
            .join("doc")
            .join(format!("{}.json", krate.replace('-', "_")));
        let json =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let doc: Value =
            serde_json::from_str(&json).map_err(|e| format!("{}: {e}", file.display()))?;
        let names = root_names(&doc, krate)?;
        let limit = LIMITS
            .iter()
            .find(|(k, _)| k == krate)
            .map_or(DEFAULT_LIMIT, |(_, l)| *l);
        println!("{krate}: {} root names (limit {limit})", names.len());
        if names.len() > limit {
            failures.push(format!(
                "{krate} shows {} root names, more than {limit}",
                names.len()
            ));
        }
        for (name, path) in names {
            seen.entry(name).or_default().push((krate.clone(), path));
        }
    }
    for (name, owners) in &seen {
        let mut paths: Vec<&str> = owners.iter().map(|(_, p)| p.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        if paths.len() > 1 {
            let list: Vec<String> = owners.iter().map(|(k, p)| format!("{k} ({p})")).collect();
            failures.push(format!(
                "`{name}` is a different item in {}",
                list.join(", ")
            ));
        }
    }
    if failures.is_empty() {
        println!("xtask: names: no clashes across {} crates", crates.len());
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// `cargo +nightly`, through rustup's proxy (the `CARGO` this runs under is a toolchain's own).
fn nightly_cargo() -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(root())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .arg("+nightly");
    c
}

/// The root module's public items other than modules, each with its canonical path.
fn root_names(doc: &Value, krate: &str) -> Result<Vec<(String, String)>> {
    let index = &doc["index"];
    let paths = &doc["paths"];
    let root_id = doc["root"].to_string();
    let items = index[&root_id]["inner"]["module"]["items"]
        .as_array()
        .ok_or("rustdoc JSON: the root module has no items (format changed?)")?;
    let kind_of = |id: &Value| -> Option<String> {
        let id = id.to_string();
        paths[&id]["kind"].as_str().map(str::to_owned).or_else(|| {
            index[&id]["inner"]
                .as_object()
                .and_then(|o| o.keys().next().cloned())
        })
    };
    let mut out = Vec::new();
    for id in items {
        let item = &index[&id.to_string()];
        let inner = item["inner"]
            .as_object()
            .ok_or("rustdoc JSON: item without inner")?;
        let (kind, name, target) = match inner.iter().next() {
            Some((k, v)) if k == "use" => {
                if v["is_glob"].as_bool() == Some(true) {
                    return Err(format!(
                        "{krate}: a glob re-export at the root hides its names"
                    ));
                }
                let name = v["name"].as_str().unwrap_or_default().to_owned();
                (kind_of(&v["id"]).unwrap_or_default(), name, v["id"].clone())
            }
            Some((k, _)) => (
                k.clone(),
                item["name"].as_str().unwrap_or_default().to_owned(),
                id.clone(),
            ),
            None => continue,
        };
        if kind == "module" || name.is_empty() {
            continue;
        }
        let path = paths[&target.to_string()]["path"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("::")
            })
            .unwrap_or_else(|| format!("{}::{name}", krate.replace('-', "_")));
        out.push((name, path));
    }
    out.sort();
    Ok(out)
}

//! `cargo xtask bench` and the ratio table of `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Result, cargo, root, run};

/// Runs the criterion benches, then prints the ratio table.
pub(crate) fn bench(args: &[String]) -> Result {
    let quick = args.iter().any(|a| a == "--quick");
    let passthrough: Vec<&str> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].iter().map(String::as_str).collect(),
        None => Vec::new(),
    };
    let mut c = cargo();
    c.args(["bench", "-p", "wrangle-benches", "--"]);
    if quick {
        c.args([
            "--warm-up-time",
            "1",
            "--measurement-time",
            "2",
            "--sample-size",
            "10",
        ]);
    }
    c.args(passthrough);
    run(c)?;
    println!("{}", stamp());
    table(&criterion_dir())
}

/// Where criterion writes its results: `CRITERION_HOME`, else `<target dir>/criterion`.
pub(crate) fn criterion_dir() -> std::path::PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), Into::into)
        .join("criterion")
}

/// `measured on <UTC date> at <commit>` (with "+ local changes" when the tree is dirty), so a
/// table pasted into `docs/benchmarks.md` says what it measured.
fn stamp() -> String {
    let out = |cmd: &mut std::process::Command| {
        cmd.output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    let date = out(std::process::Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
    let commit = out(std::process::Command::new("git").current_dir(root()).args([
        "rev-parse",
        "--short=9",
        "HEAD",
    ]));
    let dirty = out(std::process::Command::new("git").current_dir(root()).args([
        "status",
        "--porcelain",
        "--untracked-files=no",
    ]));
    let dirty = if dirty.is_empty() || dirty == "?" {
        ""
    } else {
        " + local changes"
    };
    format!("measured on {date} at {commit}{dirty}")
}

/// `bench-pair <bench> <group> <ours> <peer> [rounds]`: measures `ours` and `peer` back to
/// back, `rounds` times, alternating which goes first (AB BA AB ...), so that a drift of the
/// machine's speed hits both alike; prints each round's ratio (ours / peer) and the median.
pub(crate) fn pair(args: &[String]) -> Result {
    let [bench, group, ours, peer, rest @ ..] = args else {
        return Err("usage: cargo xtask bench-pair <bench> <group> <ours> <peer> [rounds]".into());
    };
    let rounds: usize = match rest.first() {
        Some(r) => r
            .parse()
            .map_err(|_| format!("rounds: not a number: {r}"))?,
        None => 8,
    };
    if rounds == 0 {
        return Err("rounds must be at least 1".into());
    }
    let dir = criterion_dir().join(group);
    let measure = |func: &str| -> Result<f64> {
        let mut c = cargo();
        c.args([
            "bench",
            "-q",
            "-p",
            "wrangle-benches",
            "--bench",
            bench,
            "--",
        ]);
        c.args(["--exact", &format!("{group}/{func}")]);
        c.args(["--warm-up-time", "1", "--measurement-time", "2"]);
        // Criterion's progress goes to stderr: kept quiet, shown if the run fails.
        eprintln!("$ {c:?}");
        let out = c
            .output()
            .map_err(|e| format!("could not start cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{func} failed: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let est = dir.join(func).join("new/estimates.json");
        std::fs::read_to_string(&est)
            .ok()
            .and_then(|s| mean_of(&s))
            .ok_or_else(|| format!("no result in {}", est.display()))
    };
    let mut ratios = Vec::with_capacity(rounds);
    println!("| round | {ours} | {peer} | ratio |");
    println!("|---|---|---|---|");
    for round in 1..=rounds {
        let (a, b) = if round % 2 == 1 {
            (measure(ours)?, measure(peer)?)
        } else {
            let b = measure(peer)?;
            (measure(ours)?, b)
        };
        ratios.push(a / b);
        println!("| {round} | {} | {} | {:.2} |", human(a), human(b), a / b);
    }
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let median = if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    };
    println!(
        "median ratio {median:.2} (min {:.2}, max {:.2}, {n} rounds)",
        ratios[0],
        ratios[n - 1]
    );
    Ok(())
}

/// Prints, for each group, every `wrangle*` function against its peers.
///
/// `wrangle` is compared with the fastest peer of its group; `wrangle_<peer>` with the function
/// named `<peer>` (one group can hold several adapters that way).
pub(crate) fn table(dir: &Path) -> Result {
    let groups = read_groups(dir)?;
    if groups.is_empty() {
        return Err(format!(
            "no criterion results under {}: run `cargo xtask bench` first",
            dir.display()
        ));
    }
    println!("| group | ours | peer | ours (mean) | peer (mean) | ratio |");
    println!("|---|---|---|---|---|---|");
    for (group, funcs) in &groups {
        for (name, ours) in funcs.iter().filter(|(n, _)| n.starts_with("wrangle")) {
            let peer = match name.strip_prefix("wrangle_") {
                Some(p) => funcs.get_key_value(p).map(|(k, v)| (k.clone(), *v)),
                None => funcs
                    .iter()
                    .filter(|(n, _)| !n.starts_with("wrangle"))
                    .min_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(k, v)| (k.clone(), *v)),
            };
            match peer {
                Some((pname, ptime)) => println!(
                    "| {group} | {name} | {pname} | {} | {} | {:.2} |",
                    human(*ours),
                    human(ptime),
                    ours / ptime
                ),
                None => println!("| {group} | {name} | - | {} | - | - |", human(*ours)),
            }
        }
    }
    Ok(())
}

fn human(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// group -> function -> mean point estimate in ns. Handles criterion's nesting of
/// `group/function/new/estimates.json` and of parameterised `group/function/param/new/...`.
fn read_groups(dir: &Path) -> Result<BTreeMap<String, BTreeMap<String, f64>>> {
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let Ok(groups) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for group in groups.flatten() {
        let gname = group.file_name().to_string_lossy().into_owned();
        if gname == "report" || !group.path().is_dir() {
            continue;
        }
        for func in std::fs::read_dir(group.path())
            .map_err(|e| e.to_string())?
            .flatten()
        {
            let fname = func.file_name().to_string_lossy().into_owned();
            if fname == "report" {
                continue;
            }
            let est = func.path().join("new/estimates.json");
            if let Some(mean) = std::fs::read_to_string(&est).ok().and_then(|s| mean_of(&s)) {
                out.entry(gname.clone()).or_default().insert(fname, mean);
                continue;
            }
            // Parameterised benchmarks: one more level.
            if let Ok(params) = std::fs::read_dir(func.path()) {
                for p in params.flatten() {
                    let pname = p.file_name().to_string_lossy().into_owned();
                    let est = p.path().join("new/estimates.json");
                    if let Some(mean) = std::fs::read_to_string(&est).ok().and_then(|s| mean_of(&s))
                    {
                        out.entry(format!("{gname}/{pname}"))
                            .or_default()
                            .insert(fname.clone(), mean);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Extracts `mean.point_estimate` from criterion's estimates.json without a JSON dependency.
fn mean_of(json: &str) -> Option<f64> {
    let mean = json.find("\"mean\"")?;
    let rest = &json[mean..];
    let pe = rest.find("\"point_estimate\"")?;
    let rest = &rest[pe + "\"point_estimate\"".len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end =
        rest.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+')))?;
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::mean_of;

    #[test]
    fn reads_the_mean_point_estimate() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":2.5e3,"standard_error":0.1},"median":{"point_estimate":9.0}}"#;
        assert_eq!(mean_of(json), Some(2500.0));
    }
}

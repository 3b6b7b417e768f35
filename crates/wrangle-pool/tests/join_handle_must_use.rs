//! The `#[must_use]` messages of task handles say what dropping does and what to do instead
//! (issue 17: `let _ = pool.spawn(..)` is a Tokio habit that silently cancels here). The
//! messages are compiler diagnostics, so this test compiles a small crate with rustc and reads
//! what it prints.
#![cfg(not(loom))]

use std::path::PathBuf;
use std::process::Command;

fn deps_dir() -> PathBuf {
    // target/<profile>/deps, where this test binary lives next to the libraries it links.
    std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rlib(deps: &std::path::Path, name: &str) -> PathBuf {
    let prefix = format!("lib{name}-");
    std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let f = p.file_name().unwrap().to_string_lossy().into_owned();
            f.starts_with(&prefix) && f.ends_with(".rlib")
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("no {name} rlib in {}", deps.display()))
}

#[test]
fn dropping_a_handle_unused_warns_with_what_to_do_instead() {
    // Under `cargo xtask asan` the libraries are built by nightly with a sanitizer: the plain
    // `rustc` this test starts cannot read them. What it checks (a compiler diagnostic) is the
    // same in the ordinary build, where it runs.
    if std::env::var_os("WRANGLE_SANITIZER").is_some() {
        eprintln!("skipped under a sanitizer build: the rlibs are nightly's, with -Zsanitizer");
        return;
    }
    let deps = deps_dir();
    let dir = std::env::temp_dir().join(format!("wrangle-must-use-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("user.rs");
    std::fs::write(
        &src,
        r#"
        use wrangle_rt::Runtime;
        pub fn user(pool: &wrangle_pool::TaskPool, rt: &wrangle_rt::VirtualRuntime) {
            pool.spawn(async {}).unwrap();
            rt.spawn(async {});
        }
        "#,
    )
    .unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args([
            "--edition",
            "2024",
            "--crate-type",
            "lib",
            "--emit",
            "metadata",
        ])
        .arg("-o")
        .arg(dir.join("libuser.rmeta"))
        .arg("-L")
        .arg(&deps)
        .arg("--extern")
        .arg(format!(
            "wrangle_pool={}",
            rlib(&deps, "wrangle_pool").display()
        ))
        .arg("--extern")
        .arg(format!(
            "wrangle_rt={}",
            rlib(&deps, "wrangle_rt").display()
        ))
        .arg(&src)
        .output()
        .expect("rustc runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("dropping a PoolJoinHandle cancels the task at once")
            && stderr.contains("spawn_detached"),
        "{stderr}"
    );
    assert!(
        stderr.contains("dropping a JoinHandle cancels the task at once")
            && stderr.contains(".detach()"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

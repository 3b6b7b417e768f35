//! The supervisor and real signals: SIGTERM starts the graceful stop, a second signal forces
//! the exit. Signals are sent to a child process (this test binary, re-run in a child mode),
//! never to the test runner.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use wrangle_rt::testing::{RuntimeKind, run_on};
use wrangle_task::Supervisor;
use wrangle_task::supervisor::ForceExit;

const MODE: &str = "WRANGLE_TASK_SIGNAL_CHILD";
const RUNTIME: &str = "WRANGLE_TASK_SIGNAL_RUNTIME";

/// The child's side; does nothing unless started by one of the tests below.
#[test]
fn signal_child() {
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
    let kind = std::env::var(RUNTIME).unwrap();
    let kind = RuntimeKind::ALL
        .into_iter()
        .find(|k| k.name() == kind)
        .unwrap();
    let result = run_on(kind, |rt| async move {
        let hang = mode == "force";
        Supervisor::with_runtime(rt)
            .signals()
            .force_exit(ForceExit::Exit(130))
            .on_stop(move |reason| async move {
                say(&format!("stop {reason}"));
                if hang {
                    std::future::pending::<()>().await;
                }
            })
            .run(|sup| async move {
                say("ready");
                sup.token().cancelled().await;
                say("body finished");
                Ok::<_, std::io::Error>(())
            })
            .await
    });
    say(&format!("result ok={}", result.is_ok()));
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "CHILD {line}").unwrap();
    out.flush().unwrap();
}

/// Runs this binary's `signal_child` test in a child process; its `CHILD` lines arrive on the
/// returned channel.
fn start_child(mode: &str, kind: RuntimeKind) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["signal_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(MODE, mode)
        .env(RUNTIME, kind.name())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The harness may print "test signal_child ... " on the same line.
            if let Some(at) = line.find("CHILD ")
                && tx.send(line[at + 6..].to_owned()).is_err()
            {
                break;
            }
        }
    });
    (child, rx)
}

fn kill(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the next line; a generous limit only catches a child that hangs.
fn next_line(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the child said nothing")
}

fn real_runtimes() -> Vec<RuntimeKind> {
    RuntimeKind::enabled()
        .into_iter()
        .filter(|k| *k != RuntimeKind::Virtual)
        .collect()
}

#[test]
fn sigterm_starts_the_graceful_stop_and_the_process_exits_cleanly() {
    for kind in real_runtimes() {
        let (mut child, rx) = start_child("graceful", kind);
        assert_eq!(next_line(&rx), "ready", "[{kind}]");
        kill(&child, "-TERM");
        assert_eq!(next_line(&rx), "stop SIGTERM", "[{kind}]");
        assert_eq!(next_line(&rx), "body finished", "[{kind}]");
        assert_eq!(next_line(&rx), "result ok=true", "[{kind}]");
        assert!(child.wait().unwrap().success(), "[{kind}]");
    }
}

#[test]
fn a_second_signal_while_stopping_forces_the_exit() {
    for kind in real_runtimes() {
        let (mut child, rx) = start_child("force", kind);
        assert_eq!(next_line(&rx), "ready", "[{kind}]");
        kill(&child, "-INT");
        assert_eq!(next_line(&rx), "stop SIGINT", "[{kind}]");
        kill(&child, "-TERM");
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "[{kind}]");
        // The body ended (its token was cancelled) but the stop hung: `run` never returned,
        // the second signal ended the process.
        let rest: Vec<String> = rx.iter().collect();
        assert!(
            !rest.iter().any(|l| l.starts_with("result")),
            "[{kind}] {rest:?}"
        );
    }
}

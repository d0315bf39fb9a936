//! The command line: help, clear errors for bad configs, and a clean
//! shutdown on SIGTERM.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn node() -> Command {
    Command::new(env!("CARGO_BIN_EXE_merit-node"))
}

fn run(args: &[&str]) -> Output {
    node().args(args).output().expect("merit-node runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Ports of this test process, apart from the cluster tests' range.
fn base_port() -> u16 {
    53_000 + (std::process::id() % 100) as u16 * 10
}

#[test]
fn help_shows_both_commands_with_examples() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for want in ["start", "devnet", "Examples:", "merit-node devnet"] {
        assert!(out.contains(want), "{want} missing from:\n{out}");
    }
    let o = run(&["start", "--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("--config") && out.contains("docs/operations.md"),
        "{out}"
    );
    let o = run(&["devnet", "--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("--reset") && out.contains("Ports:"), "{out}");
}

#[test]
fn bad_invocations_fail_with_a_clear_message_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["start".into()], "give --config FILE"),
        (
            vec![
                "start".into(),
                "--config".into(),
                missing.display().to_string(),
            ],
            "cannot read the config file",
        ),
        (
            vec![
                "devnet".into(),
                "--validators".into(),
                "0".into(),
                "--dir".into(),
                dir.path().join("d0").display().to_string(),
            ],
            "merchants",
        ),
        (vec!["frobnicate".into()], "unrecognized subcommand"),
    ];
    for (args, want) in cases {
        let o = node().args(&args).output().unwrap();
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = stderr(&o);
        assert!(err.contains(want), "{args:?}: expected `{want}` in:\n{err}");
        assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    }

    // A config with a key the file format does not know.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "genesis = \"g.json\"\ndata_dir = \"d\"\nfavourite_colour = \"red\"\n",
    )
    .unwrap();
    let o = run(&["start", "--config", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("is not valid") && err.contains("favourite_colour"),
        "{err}"
    );

    // A genesis file that does not exist.
    let o = run(&[
        "start",
        "--genesis",
        dir.path().join("missing.json").to_str().unwrap(),
        "--data-dir",
        dir.path().join("data").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot load genesis"), "{}", stderr(&o));
}

fn wait_for(path: &Path, what: &str, timeout: Duration) -> String {
    let end = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(what) || Instant::now() > end {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_devnet_stops_cleanly_on_sigterm_and_continues_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_port();
    let start = |log: &Path| {
        let f = std::fs::File::create(log).unwrap();
        node()
            .args(["devnet", "--validators", "1", "--dir"])
            .arg(dir.path().join("net"))
            .args(["--p2p-base-port", &base.to_string()])
            .args(["--rpc-base-port", &(base + 3).to_string()])
            .args(["--metrics-base-port", &(base + 6).to_string()])
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap()
    };
    let log = dir.path().join("first.log");
    let mut child = start(&log);
    let text = wait_for(&log, "is running", Duration::from_secs(60));
    assert!(
        text.contains("Merit devnet `merit-devnet` is running"),
        "{text}"
    );
    assert!(text.contains("alice") && text.contains("BEAN"), "{text}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("its state stays in"), "{text}");

    // The same directory starts again from its stored chain.
    let log = dir.path().join("second.log");
    let mut child = start(&log);
    let text = wait_for(&log, "is running", Duration::from_secs(60));
    assert!(text.contains("is running"), "{text}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

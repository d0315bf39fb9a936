//! The command line: help, clear errors for bad configs, and a clean
//! shutdown on SIGTERM and SIGINT that keeps the chain for the next start.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use merit_chain::encoding::BoundedString;
use merit_chain::{Symbol, Transaction, TxBody, TxKind};
use merit_genesis::DevnetLayout;
use serde_json::{Value, json};

fn node() -> Command {
    Command::new(env!("CARGO_BIN_EXE_merit-node"))
}

fn run(args: &[&str]) -> Output {
    node().args(args).output().expect("merit-node runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Ports of this test process, apart from the cluster tests' range: 20
/// per process, 10 for each test that starts nodes.
fn base_port() -> u16 {
    53_000 + (std::process::id() % 100) as u16 * 20
}

const LONG: Duration = Duration::from_secs(60);

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

/// One JSON-RPC call over HTTP: the result, or the error object (or the
/// I/O failure) as text.
fn rpc(addr: SocketAddr, method: &str, params: Value) -> Result<Value, String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(body.as_bytes()).map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| e.to_string())?;
    let (_, body) = text.split_once("\r\n\r\n").ok_or("no HTTP body")?;
    let v: Value = serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))?;
    match v.get("error") {
        Some(e) => Err(e.to_string()),
        None => Ok(v["result"].clone()),
    }
}

fn height(addr: SocketAddr) -> Option<u64> {
    rpc(addr, "merit_status", json!([])).ok()?["height"].as_u64()
}

/// Waits until the node answers JSON-RPC; returns its height.
fn wait_height(addr: SocketAddr) -> u64 {
    let end = Instant::now() + LONG;
    loop {
        if let Some(h) = height(addr) {
            return h;
        }
        assert!(Instant::now() < end, "{addr} never answered JSON-RPC");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tx_status(addr: SocketAddr, hash: &str) -> String {
    rpc(addr, "merit_getTransaction", json!([hash])).unwrap()["status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// A 0.01 BEAN transfer from the demo shopper alice to bob.
fn transfer(layout: &DevnetLayout, nonce: u64, expires_at_height: u64) -> Transaction {
    let alice = layout.shopper("alice").unwrap();
    TxBody {
        chain_id: BoundedString::new(layout.genesis.chain_id.clone()).unwrap(),
        sender: alice.public(),
        sub: 0,
        nonce,
        expires_at_height,
        kind: TxKind::Transfer {
            token: Symbol::new("BEAN").unwrap(),
            to: (layout.shopper("bob").unwrap().public()).into(),
            amount: 1,
            memo: None,
        },
    }
    .sign(alice)
}

/// Submits a transfer and waits until it is committed; returns its hash.
fn commit_a_transfer(addr: SocketAddr, layout: &DevnetLayout) -> String {
    let tx = transfer(layout, 1, wait_height(addr) + 100);
    let hash = rpc(
        addr,
        "merit_sendTransaction",
        json!([hex::encode(tx.to_bytes())]),
    )
    .unwrap();
    let hash = hash.as_str().unwrap().to_string();
    let end = Instant::now() + LONG;
    while tx_status(addr, &hash) != "committed" {
        assert!(Instant::now() < end, "{hash} was not committed");
        std::thread::sleep(Duration::from_millis(50));
    }
    hash
}

/// Sends `signal` (`TERM`, `INT`) and waits for the process to exit.
fn stop(child: &mut Child, signal: &str, log: &Path) -> ExitStatus {
    Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    let end = Instant::now() + LONG;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "no exit within {LONG:?} of SIG{signal}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_devnet_stops_cleanly_on_sigterm_continues_after_a_restart_and_reset_wipes_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_port();
    let (p2p, rpc_port) = (base, base + 3);
    let layout = merit_genesis::try_devnet(1, p2p, rpc_port).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], rpc_port));
    let start = |log: &Path, reset: bool| {
        let f = std::fs::File::create(log).unwrap();
        let mut cmd = node();
        cmd.args(["devnet", "--validators", "1", "--dir"])
            .arg(dir.path().join("net"))
            .args(["--p2p-base-port", &p2p.to_string()])
            .args(["--rpc-base-port", &rpc_port.to_string()])
            .args(["--metrics-base-port", &(base + 6).to_string()]);
        if reset {
            cmd.arg("--reset");
        }
        cmd.stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap()
    };
    let log = dir.path().join("first.log");
    let mut child = start(&log, false);
    let text = wait_for(&log, "is running", LONG);
    assert!(
        text.contains("Merit devnet `merit-devnet` is running"),
        "{text}"
    );
    assert!(text.contains("alice") && text.contains("BEAN"), "{text}");
    assert!(
        text.contains(&format!("Block explorer: http://{addr}/explorer")),
        "{text}"
    );
    let hash = commit_a_transfer(addr, &layout);
    let before = height(addr).unwrap();
    assert!(before > 0, "a committed transaction makes a block");
    let status = stop(&mut child, "TERM", &log);
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("its state stays in"), "{text}");

    // The same directory starts again from its stored chain.
    let log = dir.path().join("second.log");
    let mut child = start(&log, false);
    let text = wait_for(&log, "is running", LONG);
    assert!(text.contains("is running"), "{text}");
    let after = height(addr).unwrap();
    assert!(
        after >= before,
        "height {after} after the restart, {before} before"
    );
    assert_eq!(tx_status(addr, &hash), "committed", "{hash} lost");
    assert!(stop(&mut child, "TERM", &log).success());

    // --reset wipes it: back at genesis, the transaction unknown.
    let log = dir.path().join("third.log");
    let mut child = start(&log, true);
    let text = wait_for(&log, "is running", LONG);
    assert!(text.contains("is running"), "{text}");
    assert_eq!(height(addr), Some(0), "--reset starts from genesis");
    assert_eq!(tx_status(addr, &hash), "unknown");
    assert!(stop(&mut child, "TERM", &log).success());
}

#[test]
fn a_node_stops_cleanly_on_sigint_and_restarts_on_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_port() + 10;
    let opts = merit_node::devnet::DevnetOptions {
        dir: dir.path().join("net"),
        validators: 1,
        reset: false,
        p2p_base_port: base,
        rpc_base_port: base + 3,
        metrics_base_port: base + 6,
        log: "warn,merit_node=info".into(),
    };
    let (layout, configs) = merit_node::devnet::prepare(&opts).unwrap();
    let addr = configs[0].rpc.listen;
    let config = opts.dir.join("node-0.toml");
    let start = |log: &Path| {
        let f = std::fs::File::create(log).unwrap();
        node()
            .arg("start")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap()
    };
    let log = dir.path().join("first.log");
    let mut child = start(&log);
    let hash = commit_a_transfer(addr, &layout);
    let before = height(addr).unwrap();
    assert!(before > 0);
    let status = stop(&mut child, "INT", &log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {text}");
    assert!(text.contains("shutting down"), "{text}");
    assert!(!text.contains("panicked"), "{text}");

    let log = dir.path().join("second.log");
    let mut child = start(&log);
    let after = wait_height(addr);
    assert!(
        after >= before,
        "height {after} after the restart, {before} before"
    );
    assert_eq!(tx_status(addr, &hash), "committed", "{hash} lost");
    let status = stop(&mut child, "INT", &log);
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(&log).unwrap()
    );
}

/// The validator key is encrypted at rest: a node starts only with its
/// password, from `MERIT_NODE_PASSWORD` or a password file, and only with
/// the p2p key its genesis record names. It logs the genesis hash.
#[test]
fn a_validator_starts_only_with_its_password_and_its_own_p2p_key() {
    let dir = tempfile::tempdir().unwrap();
    // Apart from the other tests' ports.
    let base = 56_000 + (std::process::id() % 100) as u16 * 10;
    let opts = merit_node::devnet::DevnetOptions {
        dir: dir.path().join("net"),
        validators: 1,
        reset: false,
        p2p_base_port: base,
        rpc_base_port: base + 3,
        metrics_base_port: base + 6,
        log: "warn,merit_node=info".into(),
    };
    let (layout, configs) = merit_node::devnet::prepare(&opts).unwrap();
    let genesis = layout.validate().unwrap();
    let addr = configs[0].rpc.listen;
    // The devnet's config without its password file.
    let mut bare = configs[0].clone();
    bare.password_file = None;
    let config = dir.path().join("bare.toml");
    std::fs::write(&config, bare.to_toml()).unwrap();
    let config = config.to_str().unwrap().to_string();
    let right = merit_genesis::devnet::DEVNET_NODE_PASSWORD;

    let refused = |extra: &[&str], env: Option<&str>, want: &str| {
        let mut cmd = node();
        cmd.args(["start", "--config", &config])
            .args(extra)
            .env_remove("MERIT_NODE_PASSWORD")
            .stdin(Stdio::null());
        if let Some(pw) = env {
            cmd.env("MERIT_NODE_PASSWORD", pw);
        }
        let o = cmd.output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(want), "`{err}` lacks `{want}`");
        assert!(!err.contains("panicked"), "{err}");
        assert!(height(addr).is_none(), "a refused node serves nothing");
    };
    refused(&[], None, "is encrypted: set MERIT_NODE_PASSWORD");
    refused(
        &[],
        Some("not the password"),
        "wrong password for the validator key",
    );
    let wrong_file = dir.path().join("wrong-password");
    std::fs::write(&wrong_file, "not the password\n").unwrap();
    refused(
        &["--password-file", wrong_file.to_str().unwrap()],
        Some(right),
        "wrong password for the validator key",
    );
    // Another node's p2p key is not this validator's identity.
    let other = dir.path().join("other_p2p_key.json");
    merit_genesis::p2p_key::write_p2p_key(
        &other,
        &merit_chain::Keypair::insecure_from_label("node-it/other-p2p"),
        false,
    )
    .unwrap();
    refused(
        &["--p2p-key-file", other.to_str().unwrap()],
        Some(right),
        "is not the p2p key",
    );

    // The right password from the environment, then from a file.
    let right_file = dir.path().join("right-password");
    std::fs::write(&right_file, format!("{right}\n")).unwrap();
    let runs: [(&[&str], Option<&str>); 2] = [
        (&[], Some(right)),
        (&["--password-file", right_file.to_str().unwrap()], None),
    ];
    for (i, (extra, env)) in runs.into_iter().enumerate() {
        let log = dir.path().join(format!("run-{i}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let mut cmd = node();
        cmd.args(["start", "--config", &config])
            .args(extra)
            .env_remove("MERIT_NODE_PASSWORD")
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f);
        if let Some(pw) = env {
            cmd.env("MERIT_NODE_PASSWORD", pw);
        }
        let mut child = cmd.spawn().unwrap();
        wait_height(addr);
        let status = rpc(addr, "merit_status", json!([])).unwrap();
        assert_eq!(
            status["validator_index"],
            json!(0),
            "it runs as the validator"
        );
        assert_eq!(status["genesis_hash"], json!(genesis.hash().to_hex()));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains(&format!("genesis_hash={}", genesis.hash())),
            "the start-up log names the genesis hash: {text}"
        );
        assert!(stop(&mut child, "TERM", &log).success());
    }
}

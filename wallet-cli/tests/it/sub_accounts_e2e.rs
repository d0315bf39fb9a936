//! Sub-accounts end to end: the `merit` binary against a `merit-node
//! devnet` of its own. A merchant opens two sub-accounts and a shopper one;
//! points are sent into a sub-account, paid out of it, split into a
//! merchant's sub-account and refunded back to the paying sub-account; a
//! receiver never opened is refused; `balance --all` adds up; and a node
//! that hides a sub-account from its proven count is caught.
//!
//! It needs the node binary beside the wallet's: `cargo test --workspace`
//! builds both; alone, `cargo build -p merit-node --bin merit-node` first.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use merit_chain::amount::parse_amount;
use merit_chain::proof::EntriesProof;
use merit_chain::state::StateValue;
use serde_json::{Value, json};

const PASSWORD: &str = "sub-accounts-e2e";
/// How long the devnet may take to certify its first block.
const START: Duration = Duration::from_secs(60);
/// Largest HTTP message the lying proxy reads.
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// A binary in the test's target directory.
fn binary(name: &str) -> PathBuf {
    let wallet = PathBuf::from(env!("CARGO_BIN_EXE_merit"));
    let path = wallet.with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p merit-node --bin merit-node` first",
        path.display()
    );
    path
}

/// The devnet's process; killed when dropped.
struct Devnet {
    child: Child,
    rpc: String,
    _dir: tempfile::TempDir,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `count` ports from `base` are free on 127.0.0.1.
fn free(base: u16, count: u16) -> bool {
    (base..base + count).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
}

/// Starts a 4-validator devnet on free ports and waits for its first block.
fn devnet() -> Devnet {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = u16::try_from(std::process::id() % 500).unwrap_or(0);
    let base = (0..500)
        .map(|i| 21_000 + ((seed + i) % 500) * 16)
        .find(|b| free(*b, 12))
        .expect("free ports");
    let log = std::fs::File::create(dir.path().join("devnet.log")).expect("log");
    let child = Command::new(binary("merit-node"))
        .args(["devnet", "--reset", "--dir"])
        .arg(dir.path().join("devnet"))
        .args(["--p2p-base-port", &base.to_string()])
        .args(["--rpc-base-port", &(base + 4).to_string()])
        .args(["--metrics-base-port", &(base + 8).to_string()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start merit-node devnet");
    let devnet = Devnet {
        child,
        rpc: format!("http://127.0.0.1:{}", base + 4),
        _dir: dir,
    };
    let started = Instant::now();
    let config = ureq::Agent::config_builder()
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(5)))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    loop {
        let height = agent
            .post(&devnet.rpc)
            .header("content-type", "application/json")
            .send(
                json!({"jsonrpc": "2.0", "id": 1, "method": "merit_status", "params": []})
                    .to_string(),
            )
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["result"]["height"].as_u64());
        if height.is_some_and(|h| h > 0) {
            return devnet;
        }
        if started.elapsed() > START {
            let log = std::fs::read_to_string(devnet._dir.path().join("devnet.log"));
            panic!("the devnet made no block in {START:?}: {log:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One finished run of `merit`.
#[derive(Debug)]
struct Run {
    line: String,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }
}

/// A wallet home with the devnet's demo keys.
struct Wallet {
    home: tempfile::TempDir,
    rpc: String,
}

impl Wallet {
    fn new(rpc: &str) -> Wallet {
        let w = Wallet {
            home: tempfile::tempdir().expect("temp dir"),
            rpc: rpc.to_string(),
        };
        w.ok(&["keys", "import-devnet"]);
        w
    }

    fn run_at(&self, rpc: &str, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_merit"))
            .arg("--rpc")
            .arg(rpc)
            .args(args)
            .env("MERIT_HOME", self.home.path())
            .env("MERIT_PASSWORD", PASSWORD)
            .env_remove("MERIT_FROM")
            .env_remove("MERIT_RPC")
            .stdin(Stdio::null())
            .output()
            .expect("run merit");
        let run = Run {
            line: args.join(" "),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!run.stderr.contains("panicked"), "{run:#?}");
        run
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_at(&self.rpc, args)
    }

    fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, 0, "merit {}: {run:#?}", run.line);
        run
    }

    /// Runs a submitting command with `--json` and expects it committed.
    fn commit(&self, line: &str) -> Value {
        let mut args: Vec<&str> = line.split_whitespace().collect();
        args.push("--json");
        let doc = self.ok(&args).json();
        assert_eq!(doc["status"], "committed", "{doc:#}");
        doc
    }

    fn address(&self, name: &str) -> String {
        self.ok(&["keys", "show", name, "--json"]).json()["address"]
            .as_str()
            .expect("an address")
            .to_string()
    }

    /// An account's spendable balance of `token`, in base units (2 decimals).
    fn units(&self, who: &str, token: &str) -> u64 {
        let doc = self.ok(&["balance", who, "--json"]).json();
        doc["balances"][token]
            .as_str()
            .map_or(0, |a| parse_amount(a, 2).expect("an amount"))
    }
}

fn read_body(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    crate::http::read_body(reader, MAX_MESSAGE_BYTES)
}

/// A JSON-RPC proxy in front of an honest node that hides the last
/// sub-account: it lowers the count in every proof of `SubAccounts` it
/// forwards, and drops the last entry of `merit_getSubAccounts`. Runs
/// until the test ends.
fn hiding_proxy(upstream: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let upstream = upstream.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("clone the stream");
                let mut reader = BufReader::new(stream);
                while let Some(body) = read_body(&mut reader) {
                    let request: Value = serde_json::from_slice(&body).expect("a JSON request");
                    let agent = ureq::Agent::new_with_config(
                        ureq::Agent::config_builder().proxy(None).build(),
                    );
                    let text = agent
                        .post(&upstream)
                        .header("content-type", "application/json")
                        .send(request.to_string())
                        .expect("the node answers")
                        .body_mut()
                        .with_config()
                        .limit(MAX_MESSAGE_BYTES as u64)
                        .read_to_string()
                        .expect("the node's answer");
                    let mut answer: Value = serde_json::from_str(&text).expect("JSON");
                    lie(&request, &mut answer["result"]);
                    let body = answer.to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    if writer.write_all(head.as_bytes()).is_err()
                        || writer.write_all(body.as_bytes()).is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// Rewrites an honest `result` to hide the last sub-account.
fn lie(request: &Value, result: &mut Value) {
    match request["method"].as_str() {
        Some("merit_getSubAccounts") => {
            if let Some(list) = result.as_array_mut() {
                list.pop();
            }
        }
        Some("merit_getProof") if request["params"][1]["sub_accounts"] == json!(true) => {
            let Some(hex_text) = result["proof"].as_str() else {
                return;
            };
            let bytes = hex::decode(hex_text).expect("hex");
            let mut proof = EntriesProof::from_bytes(&bytes).expect("a proof");
            let mut entries = proof.entries.as_slice().to_vec();
            for e in &mut entries {
                if let Some(StateValue::SubAccounts(n)) = &e.value {
                    e.value = Some(StateValue::SubAccounts(n.saturating_sub(1)));
                }
            }
            proof.entries = merit_chain::encoding::BoundedVec::new(entries).expect("entries");
            result["proof"] = json!(hex::encode(proof.to_bytes()));
        }
        _ => {}
    }
}

#[test]
fn sub_accounts_end_to_end() {
    let devnet = devnet();
    let w = Wallet::new(&devnet.rpc);
    let (merchant, alice) = (w.address("merchant-1"), w.address("alice"));

    // Opening: each prints its ADDRESS/N, numbered from 1 per address.
    let opened = w.ok(&[
        "--from",
        "merchant-1",
        "sub-account",
        "open",
        "Harbour St",
        "--json",
    ]);
    assert_eq!(opened.json()["sub_account"], format!("{merchant}/1"));
    let opened = w.ok(&["--from", "merchant-1", "sub-account", "open", "Kiosk"]);
    assert!(
        opened
            .stdout
            .contains(&format!("{merchant}/2 (merchant-1/2)")),
        "{opened:#?}"
    );
    let doc = w.commit("--from alice sub-account open savings");
    assert_eq!(doc["sub_account"], format!("{alice}/1"));
    let list = w
        .ok(&["sub-account", "list", "merchant-1", "--json"])
        .json();
    assert_eq!(list["count"], 2, "{list:#}");
    assert_eq!(list["sub_accounts"][0]["label"], "Harbour St");
    assert_eq!(list["sub_accounts"][1]["account"], format!("{merchant}/2"));

    // Into a sub-account, then out of it.
    w.commit("--from bob send BEAN 10 alice/1");
    assert_eq!(w.units("alice/1", "BEAN"), 1000);
    let alice_main = w.units("alice", "BEAN");
    let pay = w.commit("--from alice/1 pay BEAN --order SUB-1 --split merchant-1/1=4,carol=1");
    assert_eq!(w.units("alice/1", "BEAN"), 500);
    assert_eq!(
        w.units("alice", "BEAN"),
        alice_main,
        "the main account did not pay"
    );
    assert_eq!(w.units("merchant-1/1", "BEAN"), 400);

    // A refund goes back to the sub-account that paid.
    let hash = pay["hash"].as_str().expect("a hash");
    w.commit(&format!("--from merchant-1/1 refund {hash} 1.50"));
    assert_eq!(w.units("alice/1", "BEAN"), 650);
    assert_eq!(w.units("merchant-1/1", "BEAN"), 250);
    assert_eq!(w.units("alice", "BEAN"), alice_main);

    // A receiver never opened is refused before anything moves.
    let refused = w.run(&["--from", "alice", "send", "BEAN", "1", "bob/9", "--json"]);
    assert_eq!(refused.code, 1, "{refused:#?}");
    assert_eq!(refused.json()["code"], "UnknownSubAccount", "{refused:#?}");

    // Points in the second sub-account too, then the roll-up.
    w.commit("--from carol send BEAN 2 merchant-1/2");
    let all = w.ok(&["balance", "merchant-1", "--all", "--json"]).json();
    assert_eq!(all["verified"], true, "{all:#}");
    assert_eq!(all["sub_accounts"], 2, "{all:#}");
    let accounts = all["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 3, "{all:#}");
    let mut sums: BTreeMap<String, u64> = BTreeMap::new();
    for (k, account) in accounts.iter().enumerate() {
        let name = if k == 0 {
            "merchant-1".to_string()
        } else {
            format!("merchant-1/{k}")
        };
        let shown = w.ok(&["balance", &name, "--json"]).json();
        for (token, amount) in shown["balances"].as_object().expect("balances") {
            let units = parse_amount(amount.as_str().expect("an amount"), 2).expect("units");
            *sums.entry(token.clone()).or_default() += units;
            assert_eq!(
                account["balances"][token], *amount,
                "{name} {token}: {all:#}"
            );
        }
    }
    for (token, sum) in &sums {
        let total = all["total"]["balances"][token].as_str().expect("a total");
        assert_eq!(
            parse_amount(total, 2).expect("units"),
            *sum,
            "{token}: {all:#}"
        );
    }
    let totalled: Vec<&String> = all["total"]["balances"]
        .as_object()
        .expect("totals")
        .keys()
        .collect();
    assert_eq!(totalled, sums.keys().collect::<Vec<_>>(), "{all:#}");
    assert!(
        sums["BEAN"] >= 450,
        "merchant-1/1 and /2 hold 4.50 BEAN: {all:#}"
    );
    let text = w.ok(&["balance", "merchant-1", "--all"]);
    assert!(text.stdout.contains("proven complete"), "{text:#?}");
    let usage = w.run(&["balance", "merchant-1/1", "--all"]);
    assert_eq!(usage.code, 2, "{usage:#?}");

    // A node that hides the second sub-account is caught.
    let proxy = hiding_proxy(&devnet.rpc);
    let caught = w.run_at(&proxy, &["balance", "merchant-1", "--all"]);
    assert_eq!(caught.code, 5, "{caught:#?}");
    assert!(caught.stderr.contains("cannot be trusted"), "{caught:#?}");
    let caught = w.run_at(&proxy, &["sub-account", "list", "merchant-1"]);
    assert_eq!(caught.code, 5, "{caught:#?}");
    // Believing it, the total is short: what --trust-node gives up.
    let believed = w.run_at(
        &proxy,
        &["--trust-node", "balance", "merchant-1", "--all", "--json"],
    );
    assert_eq!(believed.code, 0, "{believed:#?}");
    assert_eq!(believed.json()["sub_accounts"], 1, "{believed:#?}");
}

//! What the `merit` binary prints, text and `--json`, for the answers the
//! node is pinned to give (`node/src/rpc/golden.txt`), pinned in turn in
//! `documents.golden`.
//!
//! A stand-in node on 127.0.0.1 answers every call with the node's pinned
//! answer to that exact call; the few calls that have none (submitting
//! transactions the wallet signs here) get answers of the same shapes. A
//! change to what the wallet prints fails here. When it is meant, run the
//! test with `MERIT_UPDATE_GOLDEN=1` and review the file's diff.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use merit_chain::Transaction;
use serde_json::{Value, json};

const PASSWORD: &str = "documents-password";
/// The node's pinned answers.
const NODE_GOLDEN: &str = "../node/src/rpc/golden.txt";
/// What the wallet printed for them.
const WALLET_GOLDEN: &str = "tests/it/documents.golden";
/// Set to rewrite [`WALLET_GOLDEN`] from what the wallet prints now.
const UPDATE_ENV: &str = "MERIT_UPDATE_GOLDEN";
/// The chain the stand-in node serves.
const CHAIN_ID: &str = "merit-devnet";
/// Stands for the stand-in node's URL in the transcript.
const RPC_PLACEHOLDER: &str = "http://NODE";
/// Largest request the stand-in node reads.
const MAX_REQUEST_BYTES: usize = 1 << 20;

/// One pinned call: method, params and the node's whole answer.
struct Pinned {
    method: String,
    params: Value,
    answer: String,
}

fn manifest_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The node's pinned requests and answers, in file order.
fn pinned() -> Vec<Pinned> {
    let path = manifest_path(NODE_GOLDEN);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(request) = line.strip_prefix("> ") else {
            continue;
        };
        let answer = lines
            .next()
            .and_then(|l| l.strip_prefix("< "))
            .expect("an answer after each request");
        // Notifications are pinned too; only calls matter here.
        let Ok(request) = serde_json::from_str::<Value>(request) else {
            continue;
        };
        out.push(Pinned {
            method: request["method"].as_str().expect("a method").to_string(),
            params: request["params"].clone(),
            answer: answer.to_string(),
        });
    }
    out
}

/// The stand-in node's answer to one call; `None` for a call the node's
/// answers do not pin.
fn answer(pinned: &[Pinned], request: &Value) -> Option<String> {
    let method = request["method"].as_str().unwrap_or_default();
    let params = &request["params"];
    if let Some(p) = pinned
        .iter()
        .find(|p| p.method == method && p.params == *params)
    {
        return Some(p.answer.clone());
    }
    let answer = match method {
        // A transaction signed here: admitted, unless it is for another
        // chain, as the node does.
        "merit_sendTransaction" => {
            let hex_tx = params[0].as_str().unwrap_or_default();
            let tx = Transaction::from_bytes(&hex::decode(hex_tx).expect("hex")).expect("a tx");
            if tx.body.chain_id.as_str() == CHAIN_ID {
                json!({"jsonrpc": "2.0", "id": 1, "result": tx.hash().to_hex()}).to_string()
            } else {
                let message = "The transaction was signed for another chain.";
                let reason = format!(
                    "chain_id is `{}`, this chain is `{CHAIN_ID}`",
                    tx.body.chain_id
                );
                json!({"jsonrpc": "2.0", "id": 1, "error": {
                    "code": -32003,
                    "message": format!("Transaction rejected: {message} ({reason})"),
                    "data": {"code": "WrongChainId", "message": message, "reason": reason},
                }})
                .to_string()
            }
        }
        // Of a transaction signed here: never seen.
        "merit_getTransaction" => json!({"jsonrpc": "2.0", "id": 1, "result": {
            "code": null, "events": [], "hash": params[0], "height": null, "index": null,
            "kind": null, "message": null, "original": null, "sender": null, "status": "unknown",
        }})
        .to_string(),
        _ => return None,
    };
    Some(answer)
}

fn read_body(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    crate::http::read_body(reader, MAX_REQUEST_BYTES)
}

/// Calls the stand-in node could not answer.
type Misses = Arc<Mutex<Vec<String>>>;

/// Serves one connection until the client closes it. A call without an
/// answer is recorded in `misses` and ends the connection.
fn serve_connection(stream: TcpStream, pinned: &[Pinned], misses: &Misses) {
    let mut writer = stream.try_clone().expect("clone the stream");
    let mut reader = BufReader::new(stream);
    while let Some(body) = read_body(&mut reader) {
        let request: Value = serde_json::from_slice(&body).expect("a JSON request");
        let Some(body) = answer(pinned, &request) else {
            misses.lock().expect("the misses").push(request.to_string());
            return;
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(body.as_bytes()).is_err()
        {
            return;
        }
    }
}

/// Starts the stand-in node; returns its URL and the calls it could not
/// answer. It runs until the test ends.
fn stand_in_node() -> (String, Misses) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let pinned = Arc::new(pinned());
    let misses = Misses::default();
    let recorded = Arc::clone(&misses);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let pinned = Arc::clone(&pinned);
            let misses = Arc::clone(&recorded);
            std::thread::spawn(move || serve_connection(stream, &pinned, &misses));
        }
    });
    (url, misses)
}

/// Runs the binary with `home`, the node at `rpc`, and appends the
/// command, its exit code, stdout and stderr to `transcript`.
///
/// Every command runs with `--trust-node`: the stand-in replays answers
/// pinned once, whose proofs a verifying wallet would refuse as stale by
/// now. What the wallet checks is tested against live nodes
/// (`tests/tests/it/wallet_e2e.rs`, with a lying proxy).
fn run(transcript: &Mutex<String>, home: &Path, rpc: &str, line: &str) {
    let line = &format!("--trust-node {line}");
    let out = Command::new(env!("CARGO_BIN_EXE_merit"))
        .args(line.split_whitespace())
        .env("MERIT_HOME", home)
        .env("MERIT_RPC", rpc)
        .env("MERIT_PASSWORD", PASSWORD)
        .env_remove("MERIT_FROM")
        .stdin(Stdio::null())
        .output()
        .expect("the merit binary runs");
    // The node's port changes from run to run.
    let stdout = String::from_utf8_lossy(&out.stdout).replace(rpc, RPC_PLACEHOLDER);
    let stderr = String::from_utf8_lossy(&out.stderr).replace(rpc, RPC_PLACEHOLDER);
    assert!(!stderr.contains("panicked"), "merit {line}: {stderr}");
    let mut t = transcript.lock().expect("the transcript");
    t.push_str(&format!(
        "$ merit {line}\nexit {}\n--- stdout\n{stdout}--- stderr\n{stderr}\n",
        out.status.code().unwrap_or(-1)
    ));
}

/// The transactions whose submission the node refused, pinned with the
/// refusal: each names what was wrong.
fn refused_submissions(pinned: &[Pinned]) -> Vec<String> {
    pinned
        .iter()
        .filter(|p| p.method == "merit_sendTransaction" && p.answer.contains("\"reason\""))
        .filter_map(|p| p.params[0].as_str().map(str::to_string))
        // Hex over the limit is refused before any call, and too long for a
        // command line.
        .filter(|hex| hex.len() <= 2 * merit_chain::limits::MAX_TX_BYTES)
        .collect()
}

/// The first parameter of every pinned call of `method` that is a hash.
fn hashes_of(pinned: &[Pinned], method: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in pinned.iter().filter(|p| p.method == method) {
        if let Some(h) = p.params[0].as_str()
            && h.len() == 64
            && !out.iter().any(|o| o == h)
        {
            out.push(h.to_string());
        }
    }
    out
}

#[test]
fn what_the_wallet_prints_is_pinned() {
    let (rpc, misses) = stand_in_node();
    let home = tempfile::tempdir().expect("a home");
    let home = home.path();
    let setup = Command::new(env!("CARGO_BIN_EXE_merit"))
        .args(["keys", "import-devnet"])
        .env("MERIT_HOME", home)
        .env("MERIT_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .expect("import the devnet keys");
    assert!(setup.status.success(), "{setup:?}");

    let pinned = pinned();
    let mut lines: Vec<String> = Vec::new();
    for json in ["", " --json"] {
        for l in [
            "status",
            "token list",
            "token info BEAN",
            "token info CUPS",
            "token info NOPE",
            "balance alice",
            "balance bob",
            "balance carol",
            "balance merchant-2",
            "offer list alice",
            "offer list carol",
            "book BOOK FUEL --limit 1",
            "book BOOK FUEL --limit 100",
            "history alice --limit 3",
            "history alice --limit 3 --cursor 3:0",
            "history alice --limit 3 --cursor 1:0",
            "gov list",
            "gov list --status open",
            "gov list --status passed",
            "gov list --status expired",
            "gov show 1",
            "gov show 2",
            "gov show 3",
        ] {
            lines.push(format!("{l}{json}"));
        }
        for h in hashes_of(&pinned, "merit_getEscrow") {
            lines.push(format!("escrow show {h}{json}"));
        }
        for h in hashes_of(&pinned, "merit_getTransaction") {
            lines.push(format!("tx {h}{json}"));
        }
        // Refused with a reason: by the wallet itself when the bytes do not
        // decode (a field over its bound), else by the node.
        for hex in refused_submissions(&pinned) {
            lines.push(format!("tx send {hex}{json}"));
        }
        let offline = format!("--chain-id {CHAIN_ID} --expires-at-height 104 --token-decimals 2");
        for l in [
            format!("--from alice send BEAN 0.25 carol --no-wait --nonce 7 {offline}"),
            format!(
                "--from alice escrow create BEAN 1 bob --deadline-ms 1830470400000 --order o-1 --no-wait --nonce 8 {offline}"
            ),
            "--from alice send BEAN 0.25 carol --nonce 9 --chain-id another-chain --expires-at-height 104 --token-decimals 2".to_string(),
            format!(
                "--from merchant-1 gov propose upgrade 2 300 --voting-ends-height 200 --no-wait --nonce 10 {offline}"
            ),
            format!("--from merchant-3 gov vote 2 no --no-wait --nonce 11 {offline}"),
        ] {
            lines.push(format!("{l}{json}"));
        }
    }
    let transcript = Mutex::new(String::new());
    for l in &lines {
        run(&transcript, home, &rpc, l);
    }
    let got = transcript.into_inner().expect("the transcript");
    let misses = misses.lock().expect("the misses");
    assert!(
        misses.is_empty(),
        "calls the node's answers do not pin: {misses:#?}"
    );

    let path = manifest_path(WALLET_GOLDEN);
    if std::env::var_os(UPDATE_ENV).is_some() {
        std::fs::write(&path, &got).expect("write the golden file");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with {UPDATE_ENV}=1", path.display()));
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        assert_eq!(w, g, "line {} of {} differs", i + 1, path.display());
    }
    assert_eq!(
        want.lines().count(),
        got.lines().count(),
        "{} has another number of lines",
        path.display()
    );
}

//! Hostile input against a running 4-validator cluster, over JSON-RPC.
//!
//! Every kind of bad input is refused with a clear error: at submission
//! (-32602 for bad params, -32003 with the rejection code in `data.code`)
//! or, when only the ledger can tell, in a block, where
//! `merit_getTransaction` reports `status: "rejected"` and the code. None of
//! it changes a balance, a lock, a supply, the order book or the audit; the
//! nodes keep serving and agree on every block and `state_root`.
//!
//! Each rule is a test of its own. They share one cluster of real
//! `merit-node` processes, started (and set up) by whichever test runs
//! first, and take turns on it, one test at a time, so that each compares
//! node 0's state before and after its own input exactly. After each test
//! the cluster must still be whole: every node running and serving, one
//! chain with no transaction in two blocks, empty mempools, the audit
//! holding everywhere, and nothing refused at submission known to any node.
//! A test that fails stops the cluster, so the next one starts on a fresh
//! one; the last test out stops it too.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use merit_chain::amount::parse_amount;
use merit_chain::crypto::sha256;
use merit_chain::encoding::{self, BoundedString, BoundedVec};
use merit_chain::limits::{
    MAX_MEMO_BYTES, MAX_ORDER_ID_BYTES, MAX_PAY_LEGS, MAX_SUB_ACCOUNTS, MAX_TOKEN_NAME_BYTES,
    MAX_TX_BYTES, MAX_TX_TTL_BLOCKS,
};
use merit_chain::tx::{AccountRef, PAY_LEGS_DECODE_BOUND, PayLeg, Price};
use merit_chain::{Hash32, Keypair, RejectCode, Symbol, Transaction, TxBody, TxKind};
use merit_node::rpc::MAX_SUBSCRIPTIONS_PER_CONNECTION;
use merit_tests::bench::ws;
use merit_tests::cluster::{Cluster, Rpc, RpcError};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);
/// The small-cap token the setup creates: 0 decimals, at most 1000 points.
const CAPPED: &str = "TINYCAP";
const CAPPED_MAX: u64 = 1_000;
/// The order L of the ed25519 group, little-endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn transfer(token: &str, to: &Keypair, amount: u64) -> TxKind {
    TxKind::Transfer {
        token: sym(token),
        to: to.public().into(),
        amount,
        memo: None,
    }
}

fn mint(token: &str, to: &Keypair, amount: u64) -> TxKind {
    TxKind::Mint {
        token: sym(token),
        to: to.public().into(),
        amount,
    }
}

/// A payment in one token.
fn pay(token: &str, order_id: &str, legs: &[(&Keypair, u64)]) -> TxKind {
    let legs: Vec<_> = legs
        .iter()
        .map(|(k, amount)| (*k, token, *amount))
        .collect();
    combined(order_id, &legs)
}

/// A payment whose legs are `(receiver, token, amount)`.
fn combined(order_id: &str, legs: &[(&Keypair, &str, u64)]) -> TxKind {
    let legs = legs
        .iter()
        .map(|(k, token, amount)| PayLeg {
            to: k.public().into(),
            token: sym(token),
            amount: *amount,
        })
        .collect();
    TxKind::Pay {
        order_id: BoundedString::new(order_id).unwrap(),
        legs: BoundedVec::new(legs).unwrap(),
        memo: None,
    }
}

/// `to` gets `dest_amount` of `dest`, paid in `send` through `path`.
fn pay_path(
    send: &str,
    send_max: u64,
    dest: &str,
    dest_amount: u64,
    to: &Keypair,
    path: &[&str],
) -> TxKind {
    TxKind::PayPath {
        send_token: sym(send),
        send_max,
        dest_token: sym(dest),
        dest_amount,
        to: to.public().into(),
        path: BoundedVec::new(path.iter().map(|t| sym(t)).collect()).unwrap(),
        order_id: None,
        memo: None,
    }
}

fn refund(payment: &str, token: &str, amount: u64) -> TxKind {
    TxKind::Refund {
        payment: Hash32::from_hex(payment).unwrap(),
        token: sym(token),
        amount,
    }
}

fn offer(sell: &str, buy: &str, amount: u64, n: u64, d: u64) -> TxKind {
    TxKind::PlaceOffer {
        sell: sym(sell),
        buy: sym(buy),
        amount,
        price: Price::new(n, d),
    }
}

fn escrow(token: &str, to: &Keypair, amount: u64, deadline_ms: u64, order: Option<&str>) -> TxKind {
    TxKind::EscrowCreate {
        token: sym(token),
        to: to.public().into(),
        amount,
        deadline_ms,
        order_id: order.map(|o| BoundedString::new(o).unwrap()),
    }
}

fn create_token(symbol: &str, decimals: u8, max_supply: u64, expiry_days: Option<u32>) -> TxKind {
    TxKind::CreateToken {
        symbol: sym(symbol),
        name: BoundedString::new("Adversarial Points").unwrap(),
        decimals,
        max_supply,
        expiry_days,
        freezable: false,
        clawback: false,
    }
}

/// Base units of a decimal amount string of a 2-decimal demo token.
fn units(s: &str) -> u64 {
    parse_amount(s, 2).unwrap_or_else(|e| panic!("`{s}` is not an amount: {e}"))
}

/// Spendable BEAN base units of a watched account in a snapshot.
fn bean(snapshot: &Value, who: &str) -> u64 {
    units(
        snapshot["accounts"][who]["balances"]["BEAN"]
            .as_str()
            .unwrap_or("0"),
    )
}

/// The JSON paths at which `a` and `b` differ.
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (p, q) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                diff(&format!("{path}.{k}"), p, q, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), p, q, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} -> {b}")),
        _ => {}
    }
}

/// Posts a body the server may refuse before reading all of it: stops
/// writing once the server closes, then reads what it answered. Returns the
/// HTTP status and the body.
fn post_large(addr: SocketAddr, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    for chunk in body.chunks(16 * 1024) {
        if s.write_all(chunk).is_err() {
            break;
        }
    }
    let mut buf = Vec::new();
    let read = s.read_to_end(&mut buf);
    if buf.is_empty() {
        read?;
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_string()))
}

/// `bytes` with the sequence `content` (after its `u64` length) one byte
/// longer: a field one byte over its bound, which no encoder writes.
fn grown(bytes: &[u8], content: &[u8]) -> Vec<u8> {
    let mut prefixed = (content.len() as u64).to_le_bytes().to_vec();
    prefixed.extend_from_slice(content);
    let at = bytes
        .windows(prefixed.len())
        .position(|w| w == prefixed.as_slice())
        .expect("the sequence is in the bytes");
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&(content.len() as u64 + 1).to_le_bytes());
    out.extend_from_slice(content);
    out.push(content[0]);
    out.extend_from_slice(&bytes[at + prefixed.len()..]);
    out
}

/// Posts `body` with no declared length, in chunks. With `complete`
/// false the last chunk's closing CRLF and the final empty chunk are left
/// out: a server that refuses the body once it is over a bound has then
/// read every byte sent, and closes without a reset that could lose its
/// answer. Returns the HTTP status and the body.
fn post_chunked(addr: SocketAddr, body: &[u8], complete: bool) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes())?;
    let chunks: Vec<&[u8]> = body.chunks(64 * 1024).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
        s.write_all(chunk)?;
        if complete || i + 1 < chunks.len() {
            s.write_all(b"\r\n")?;
        }
    }
    if complete {
        s.write_all(b"0\r\n\r\n")?;
    }
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // A chunked answer: the JSON lies between the chunk sizes.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if a <= b => &body[a..=b],
        _ => body,
    };
    Ok((status, body.to_string()))
}

/// A small deterministic generator for the random-bytes case.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The cluster the tests share, with what the setup made; `None` until a
/// test starts it, and again once it is stopped.
static SHARED: Mutex<Option<Probe>> = Mutex::new(None);
/// Tests running or waiting for their turn on [`SHARED`].
static USERS: Mutex<usize> = Mutex::new(0);

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One test's turn on the shared cluster. The last test out, and a test
/// that fails, stop the cluster.
struct Turn {
    shared: MutexGuard<'static, Option<Probe>>,
}

impl Turn {
    fn take() -> Turn {
        // Counted before waiting, so that the test leaving knows one is
        // coming and keeps the cluster running.
        *lock(&USERS) += 1;
        Turn {
            shared: lock(&SHARED),
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut users = lock(&USERS);
        *users = users.saturating_sub(1);
        if *users == 0 || std::thread::panicking() {
            // Kills the nodes and releases the cluster's turn, so the
            // other cluster tests of this binary can run.
            self.shared.take();
        }
    }
}

/// Runs `scenario` on the shared cluster (starting it if need be), then
/// checks that the cluster is still whole.
fn rule(name: &str, scenario: impl FnOnce(&Probe)) {
    let started = Instant::now();
    let mut turn = Turn::take();
    let p = turn.shared.get_or_insert_with(Probe::start);
    p.refused.borrow_mut().clear();
    scenario(p);
    p.assert_whole(name);
    eprintln!(
        "{name}: {} refusals at submission, {:.1?}",
        p.refused.borrow().len(),
        started.elapsed()
    );
}

/// What the setup made for the tests to use.
struct Fixture {
    /// alice's payment `adv-order-1`: 10.00 BEAN to merchant 0 and 2.00 to
    /// merchant 1.
    payment: String,
    /// alice's resting offer: 10.00 BEAN for BOOK at 1/1.
    offer_id: u64,
}

/// The tests' view of the cluster: node 0's RPC, the accounts they watch,
/// fresh nonces, what the setup made, every hash the running test had
/// refused at submission, and how far the cluster was found whole.
struct Probe {
    c: Cluster,
    rpc: Rpc,
    nonce: Cell<u64>,
    /// `(name, address)` of every account whose state is compared.
    accounts: Vec<(String, String)>,
    fx: Fixture,
    /// `(case, hash)` of every well-formed transaction refused at
    /// submission by the running test.
    refused: RefCell<Vec<(String, String)>>,
    /// The height up to which the nodes were found to agree.
    checked: u64,
    /// Every transaction in blocks 1 to `checked`.
    in_blocks: BTreeSet<String>,
}

impl Probe {
    /// Starts a 4-validator cluster and sets it up.
    fn start() -> Probe {
        let c = Cluster::start(4);
        assert!(
            c.wait_rpc(&[0, 1, 2, 3], LONG),
            "the cluster did not start\n{}",
            c.log_tail(0)
        );
        let mut accounts: Vec<(String, String)> = ["alice", "bob", "carol"]
            .iter()
            .map(|n| (n.to_string(), c.shopper(n).public().to_bech32()))
            .collect();
        for (i, m) in c.layout.merchants.iter().enumerate() {
            accounts.push((format!("merchant-{i}"), m.account.public().to_bech32()));
        }
        let mut p = Probe {
            rpc: c.rpc(0),
            c,
            nonce: Cell::new(1),
            accounts,
            fx: Fixture {
                payment: String::new(),
                offer_id: 0,
            },
            refused: RefCell::new(Vec::new()),
            checked: 0,
            in_blocks: BTreeSet::new(),
        };
        p.fx = setup(&p);
        p
    }

    /// Fails, naming `case`, unless the cluster is whole: every node runs
    /// and serves, they hold the same blocks, no transaction is in two
    /// blocks, every mempool drains, the audit holds everywhere, no node is
    /// stuck syncing, nothing the test had refused reached any node, and no
    /// node panicked.
    fn assert_whole(&mut self, case: &str) {
        let all = [0, 1, 2, 3];
        for i in all {
            assert!(
                self.c.is_running(i),
                "{case}: node {i} exited\n{}",
                self.c.log_tail(i)
            );
            let (status, body) = Rpc::get(self.c.nodes[i].config.rpc.listen, "/health")
                .unwrap_or_else(|e| panic!("{case}: node {i} health: {e}"));
            assert_eq!(status, 200, "{case}: node {i} health: {body}");
        }
        let c = &self.c;
        let height = c.rpc(0).height().expect("node 0 serves merit_status");
        assert!(
            c.wait_height(&all, height, LONG),
            "{case}: the nodes did not reach height {height}"
        );
        c.assert_same_blocks(&all, self.checked + 1..=height);
        // No transaction is in two blocks.
        for h in self.checked + 1..=height {
            let b = c
                .rpc(0)
                .call("merit_getBlock", json!([h]))
                .unwrap_or_else(|e| panic!("{case}: block {h}: {e:?}"));
            for t in b["txs"].as_array().expect("txs") {
                let t = t.as_str().unwrap_or("").to_string();
                assert!(
                    self.in_blocks.insert(t.clone()),
                    "{case}: {t} is in two blocks (again at {h})"
                );
            }
        }
        self.checked = height;
        for i in all {
            let audit = c
                .rpc(i)
                .call("merit_audit", json!([]))
                .unwrap_or_else(|e| panic!("{case}: node {i} merit_audit: {e:?}"));
            assert!(
                audit
                    .as_array()
                    .expect("an array")
                    .iter()
                    .all(|t| t["holds"] == true),
                "{case}: node {i}: {audit}"
            );
            // A validator on an idle chain polls its peers for blocks about
            // once a second and says `syncing` while it asks: wait for a
            // moment between polls rather than read once.
            let settled = |key: &str, want: Value| {
                let end = Instant::now() + LONG;
                loop {
                    let status = c.rpc(i).status().expect("merit_status");
                    if status[key] == want || Instant::now() >= end {
                        return status;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            };
            let status = settled("syncing", json!(false));
            assert_eq!(status["syncing"], false, "{case}: node {i}: {status}");
            let status = settled("mempool_size", json!(0));
            assert_eq!(
                status["mempool_size"], 0,
                "{case}: node {i} still holds transactions"
            );
        }
        // Nothing refused at submission reached any node.
        for (what, hash) in self.refused.borrow().iter() {
            for i in all {
                let v = c
                    .rpc(i)
                    .call("merit_getTransaction", json!([hash]))
                    .unwrap_or_else(|e| panic!("{what}: node {i}: {e:?}"));
                assert_eq!(v["status"], "unknown", "{what}: node {i} knows {hash}: {v}");
            }
        }
        for i in all {
            let log = std::fs::read_to_string(&c.nodes[i].log_path).unwrap_or_default();
            assert!(
                !log.contains("panicked"),
                "{case}: node {i} panicked\n{}",
                c.log_tail(i)
            );
        }
    }

    fn merchant(&self, i: usize) -> Keypair {
        self.c.layout.merchants[i].account.clone()
    }

    fn next_nonce(&self) -> u64 {
        let n = self.nonce.get();
        self.nonce.set(n + 1);
        n
    }

    fn height(&self) -> u64 {
        self.rpc.height().expect("node 0 answers merit_status")
    }

    /// The block time of node 0's latest block.
    fn block_time_ms(&self) -> u64 {
        self.rpc.status().expect("node 0 answers merit_status")["block_time_ms"]
            .as_u64()
            .expect("block_time_ms")
    }

    /// A transaction of this chain from `key`, valid for the next 500 blocks.
    fn tx(&self, key: &Keypair, kind: TxKind) -> Transaction {
        self.c.tx(key, self.next_nonce(), self.height() + 500, kind)
    }

    fn account(&self, case: &str, key: &Keypair) -> Value {
        self.rpc
            .call("merit_getAccount", json!([key.public().to_bech32()]))
            .unwrap_or_else(|e| panic!("{case}: merit_getAccount: {e:?}"))
    }

    /// Spendable base units of a 2-decimal demo token.
    fn spendable(&self, case: &str, key: &Keypair, token: &str) -> u64 {
        units(
            self.account(case, key)["balances"][token]
                .as_str()
                .unwrap_or("0"),
        )
    }

    /// Every watched account, every token, the audit and the BEAN/BOOK book,
    /// as node 0 sees them. Fails if the audit does not hold.
    fn snapshot(&self, case: &str) -> Value {
        let call = |method: &str, params: Value| {
            self.rpc
                .call(method, params)
                .unwrap_or_else(|e| panic!("{case}: {method}: {e:?}"))
        };
        let mut accounts = serde_json::Map::new();
        for (name, address) in &self.accounts {
            accounts.insert(name.clone(), call("merit_getAccount", json!([address])));
        }
        let audit = call("merit_audit", json!([]));
        for entry in audit.as_array().expect("merit_audit returns an array") {
            assert_eq!(
                entry["holds"], true,
                "{case}: the supply audit fails: {entry}"
            );
        }
        json!({
            "accounts": accounts,
            "tokens": call("merit_listTokens", json!([])),
            "audit": audit,
            "book": call("merit_getOrderBook", json!(["BEAN", "BOOK"])),
        })
    }

    /// Fails, naming `case` and every difference, unless node 0's state is
    /// what `before` recorded.
    fn assert_unchanged(&self, case: &str, before: &Value) {
        let after = self.snapshot(case);
        let mut diffs = Vec::new();
        diff("", before, &after, &mut diffs);
        assert!(
            diffs.is_empty(),
            "{case}: the state changed:\n{}",
            diffs.join("\n")
        );
    }

    /// Submits `hex` and expects a -32003 refusal with `code`.
    fn refused_hex(&self, case: &str, hex: &str, code: RejectCode) -> RpcError {
        let e = match self.rpc.call("merit_sendTransaction", json!([hex])) {
            Ok(v) => panic!("{case}: admitted as {v}, expected a {code} refusal"),
            Err(e) => e,
        };
        assert_eq!(
            (e.code, e.data["code"].as_str()),
            (-32003, Some(code.name())),
            "{case}: {e:?}"
        );
        assert_eq!(e.data["message"], code.describe(), "{case}: {e:?}");
        assert!(e.message.contains(code.describe()), "{case}: {e:?}");
        // Bytes that do not decode, or are too many, are refused with words
        // that say why.
        if matches!(code, RejectCode::Malformed | RejectCode::TooLarge) {
            let reason = e.data["reason"].as_str().unwrap_or("");
            assert!(!reason.is_empty(), "{case}: no data.reason: {e:?}");
        }
        e
    }

    /// Submits raw bytes, expects a -32003 refusal with `code`, and that
    /// node 0 kept nothing of them.
    fn refused_bytes(&self, case: &str, bytes: &[u8], code: RejectCode) -> RpcError {
        let e = self.refused_hex(case, &hex::encode(bytes), code);
        let hash = sha256(bytes).to_hex();
        let v = self
            .rpc
            .call("merit_getTransaction", json!([hash]))
            .unwrap_or_else(|e| panic!("{case}: merit_getTransaction: {e:?}"));
        assert_eq!(v["status"], "unknown", "{case}: a refused tx was kept: {v}");
        self.refused.borrow_mut().push((case.to_string(), hash));
        e
    }

    fn refused(&self, case: &str, tx: &Transaction, code: RejectCode) -> RpcError {
        self.refused_bytes(case, &tx.to_bytes(), code)
    }

    /// Calls `method` and expects -32602 with a reason.
    fn bad_params(&self, case: &str, method: &str, params: Value) -> RpcError {
        let e = match self.rpc.call(method, params) {
            Ok(v) => panic!("{case}: {method} answered {v}, expected -32602"),
            Err(e) => e,
        };
        assert_eq!(e.code, -32602, "{case}: {e:?}");
        let reason = e.data["reason"].as_str().unwrap_or("");
        assert!(!reason.is_empty(), "{case}: no data.reason: {e:?}");
        assert_eq!(
            e.message,
            format!("Invalid params: {reason}"),
            "{case}: unclear message: {e:?}"
        );
        e
    }

    /// [`Probe::bad_params`], whose reason must be `reason`.
    fn bad_params_because(&self, case: &str, method: &str, params: Value, reason: &str) {
        let e = self.bad_params(case, method, params);
        assert_eq!(e.data["reason"], reason, "{case}: {e:?}");
    }

    /// [`Probe::refused_bytes`], whose reason must be `reason`: over a
    /// bound, it names the field and the bound.
    fn refused_because(&self, case: &str, bytes: &[u8], code: RejectCode, reason: &str) {
        let e = self.refused_bytes(case, bytes, code);
        assert_eq!(e.data["reason"], reason, "{case}: {e:?}");
        assert!(e.message.ends_with(&format!("({reason})")), "{case}: {e:?}");
    }

    /// Submits `tx` through validator `via`, which must admit it.
    fn submit_via(&self, case: &str, via: usize, tx: &Transaction) -> String {
        self.c
            .rpc(via)
            .send(tx)
            .unwrap_or_else(|e| panic!("{case}: node {via} refused {}: {e:?}", tx.body.kind.name()))
    }

    fn submit(&self, case: &str, tx: &Transaction) -> String {
        self.submit_via(case, 0, tx)
    }

    /// Waits until node `i` has `hash` in a block.
    fn final_on(&self, case: &str, i: usize, hash: &str) -> Value {
        self.c
            .rpc(i)
            .wait_final(hash, LONG)
            .unwrap_or_else(|| panic!("{case}: {hash} was not final on node {i}"))
    }

    /// Submits every transaction, then waits until each is committed.
    fn commit_all(&self, case: &str, txs: &[Transaction]) -> Vec<String> {
        let hashes: Vec<String> = txs.iter().map(|t| self.submit(case, t)).collect();
        for (h, t) in hashes.iter().zip(txs) {
            let v = self.final_on(case, 0, h);
            assert_eq!(
                v["status"],
                "committed",
                "{case}: setup {} failed: {v}",
                t.body.kind.name()
            );
        }
        hashes
    }

    fn commit(&self, case: &str, tx: &Transaction) -> String {
        self.commit_all(case, std::slice::from_ref(tx)).remove(0)
    }

    /// Submits every transaction (each must be admitted), then checks that
    /// each is recorded in a block as rejected with its code, on node 0 and
    /// on node 3. Returns their `merit_getTransaction` answers.
    fn rejected_in_block(&self, case: &str, txs: &[(Transaction, RejectCode)]) -> Vec<Value> {
        let hashes: Vec<String> = txs.iter().map(|(t, _)| self.submit(case, t)).collect();
        hashes
            .iter()
            .zip(txs)
            .map(|(h, (t, code))| {
                let what = format!("{case} ({} expecting {code})", t.body.kind.name());
                let v = self.final_on(&what, 0, h);
                assert_eq!(v["status"], "rejected", "{what}: {v}");
                assert_eq!(v["code"], code.name(), "{what}: {v}");
                assert_eq!(v["message"], code.describe(), "{what}: {v}");
                assert_eq!(v["events"], json!([]), "{what}: {v}");
                let elsewhere = self.final_on(&what, 3, h);
                assert_eq!(
                    (&elsewhere["status"], &elsewhere["code"]),
                    (&v["status"], &v["code"]),
                    "{what}: node 3 disagrees"
                );
                v
            })
            .collect()
    }
}

/// A token with a small cap, a mint of it to alice, her payment
/// `adv-order-1` and her resting BEAN/BOOK offer.
fn setup(p: &Probe) -> Fixture {
    let case = "setup";
    let (alice, m0, m1) = (p.c.shopper("alice"), p.merchant(0), p.merchant(1));
    p.commit(case, &p.tx(&m0, create_token(CAPPED, 0, CAPPED_MAX, None)));
    let hashes = p.commit_all(
        case,
        &[
            p.tx(&m0, mint(CAPPED, &alice, 600)),
            p.tx(
                &alice,
                pay("BEAN", "adv-order-1", &[(&m0, 1_000), (&m1, 200)]),
            ),
            p.tx(&alice, offer("BEAN", "BOOK", 1_000, 1, 1)),
        ],
    );
    let account = p.account(case, &alice);
    let offers = account["offers"].as_array().expect("offers");
    assert_eq!(offers.len(), 1, "{case}: {account}");
    Fixture {
        payment: hashes[1].clone(),
        offer_id: offers[0]["id"].as_u64().expect("offer id"),
    }
}

#[test]
fn replaying_the_same_bytes_through_every_node_has_one_effect_and_one_hash() {
    rule("replay", |p| {
        let case = "replay";
        let (alice, bob) = (p.c.shopper("alice"), p.c.shopper("bob"));
        let before = p.snapshot(case);
        let tx = p.tx(&alice, transfer("BEAN", &bob, 100));
        let hash = p.submit(case, &tx);
        for via in [1, 2, 3, 0] {
            let again = p.c.rpc(via).send(&tx);
            assert_eq!(again, Ok(hash.clone()), "{case}: pending, via node {via}");
        }
        let first = p.final_on(case, 0, &hash);
        assert_eq!(first["status"], "committed", "{case}: {first}");
        for via in 0..4 {
            p.final_on(case, via, &hash);
            let again = p.c.rpc(via).send(&tx);
            assert_eq!(again, Ok(hash.clone()), "{case}: committed, via node {via}");
        }
        let later = p.rpc.call("merit_getTransaction", json!([hash])).unwrap();
        assert_eq!(
            (&later["height"], &later["index"]),
            (&first["height"], &first["index"]),
            "{case}: the transaction moved"
        );
        // The same nonce with other contents is refused outright.
        let reuse = p.c.tx(
            &alice,
            tx.body.nonce,
            tx.body.expires_at_height,
            transfer("BEAN", &bob, 200),
        );
        p.refused(
            &format!("{case}: same nonce, other contents"),
            &reuse,
            RejectCode::NonceReused,
        );

        let after = p.snapshot(case);
        assert_eq!(
            bean(&after, "alice"),
            bean(&before, "alice") - 100,
            "{case}: alice paid once"
        );
        assert_eq!(
            bean(&after, "bob"),
            bean(&before, "bob") + 100,
            "{case}: bob got it once"
        );
        for (name, key) in [("alice", &alice), ("bob", &bob)] {
            let history = p
                .rpc
                .call(
                    "merit_getHistory",
                    json!([key.public().to_bech32(), null, 1000]),
                )
                .unwrap();
            let seen = history["entries"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["hash"] == hash.as_str())
                .count();
            assert_eq!(seen, 1, "{case}: {name}'s history holds it {seen} times");
        }
    });
}

/// Sends `sig` (`-STOP`, `-CONT`) to a node process this test started.
fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// A node process paused with SIGSTOP until this is dropped.
struct Paused(u32);

impl Paused {
    fn new(pid: u32) -> Self {
        assert!(signal(pid, "-STOP"), "cannot pause node process {pid}");
        Paused(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

/// The same bytes replayed to a node that has not yet seen the block that
/// committed them: it queues the replay, the gossip and the block together.
/// Still one effect, the same hash, and no second copy in a later block.
#[test]
fn replaying_to_a_node_that_has_not_seen_the_commit_has_one_effect() {
    rule("replay to a lagging node", |p| {
        let case = "replay to a lagging node";
        let (alice, bob) = (p.c.shopper("alice"), p.c.shopper("bob"));
        let pid = p.c.nodes[3].child.as_ref().expect("node 3 runs").id();
        let before = p.snapshot(case);
        let rounds = 5;
        for k in 0..rounds {
            let tx = p.tx(&alice, transfer("BEAN", &bob, 1));
            let (hash, replayed) = std::thread::scope(|s| {
                let paused = Paused::new(pid);
                let hash = p.commit(case, &tx);
                let (node3, copy) = (p.c.rpc(3), tx.clone());
                let replay = s.spawn(move || node3.send(&copy));
                std::thread::sleep(Duration::from_millis(50));
                drop(paused);
                (hash, replay.join().expect("the replaying thread"))
            });
            assert_eq!(replayed, Ok(hash.clone()), "{case} #{k}: the same hash");
            let v = p.final_on(case, 3, &hash);
            assert_eq!(v["status"], "committed", "{case} #{k}: {v}");
        }
        let after = p.snapshot(case);
        assert_eq!(
            bean(&after, "alice"),
            bean(&before, "alice") - rounds,
            "{case}"
        );
        assert_eq!(bean(&after, "bob"), bean(&before, "bob") + rounds, "{case}");
    });
}

/// A signed transfer whose amount is changed by one byte afterwards, or
/// whose signature is malleated; the honest bytes still commit.
#[test]
fn a_tampered_amount_or_malleated_signature_is_refused_and_spends_no_nonce() {
    rule("tampered amount", |p| {
        let case = "tampered amount";
        let (alice, bob) = (p.c.shopper("alice"), p.c.shopper("bob"));
        let before = p.snapshot(case);
        let amount: u64 = 4_321;
        let tx = p.tx(&alice, transfer("BEAN", &bob, amount));
        let mut bytes = tx.to_bytes();
        let at: Vec<usize> = bytes
            .windows(8)
            .enumerate()
            .filter(|(_, w)| *w == amount.to_le_bytes())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(at.len(), 1, "{case}: the amount's bytes are not unique");
        bytes[at[0]] += 1;
        let decoded = Transaction::from_bytes(&bytes).expect("the tampered bytes still decode");
        assert!(
            matches!(decoded.body.kind, TxKind::Transfer { amount: 4_322, .. }),
            "{case}: {decoded:?}"
        );
        p.refused_bytes(case, &bytes, RejectCode::BadSignature);
        // Flipped into the top byte: a huge amount, equally refused.
        let mut huge = tx.to_bytes();
        huge[at[0] + 7] = 0x80;
        p.refused_bytes(case, &huge, RejectCode::BadSignature);
        // The signature's scalar plus the group order: the same value modulo
        // the order, but not canonical.
        let mut mauled = tx.to_bytes();
        let n = mauled.len();
        let mut carry = 0u16;
        for (b, l) in mauled[n - 32..].iter_mut().zip(GROUP_ORDER) {
            let sum = u16::from(*b) + u16::from(l) + carry;
            *b = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        p.refused_bytes(
            "malleated signature (s + L)",
            &mauled,
            RejectCode::BadSignature,
        );
        p.assert_unchanged(case, &before);
        // The refusal spent nothing: the honest bytes, same nonce, commit.
        let hash = p.commit(case, &tx);
        let v = p.rpc.call("merit_getTransaction", json!([hash])).unwrap();
        assert_eq!(v["events"][0]["amount"], "43.21", "{case}: {v}");
    });
}

/// Signed for another chain; and signed for another chain, then relabelled.
#[test]
fn a_transaction_signed_for_another_chain_is_refused() {
    rule("wrong chain id", |p| {
        let case = "wrong chain id";
        let (alice, bob) = (p.c.shopper("alice"), p.c.shopper("bob"));
        let before = p.snapshot(case);
        let body = |chain: &str| TxBody {
            chain_id: BoundedString::new(chain).unwrap(),
            sender: alice.public(),
            sub: 0,
            nonce: p.next_nonce(),
            expires_at_height: p.height() + 500,
            kind: transfer("BEAN", &bob, 100),
        };
        let longest = "x".repeat(32);
        for chain in [
            "merit-mainnet",
            "",
            "MERIT-DEVNET",
            "merit-devnet ",
            &longest,
        ] {
            let tx = body(chain).sign(&alice);
            p.refused(&format!("{case} `{chain}`"), &tx, RejectCode::WrongChainId);
        }
        let mut relabelled = body("merit-other").sign(&alice);
        relabelled.body.chain_id = BoundedString::new(p.c.layout.genesis.chain_id.clone()).unwrap();
        p.refused(
            &format!("{case}: signed elsewhere, relabelled"),
            &relabelled,
            RejectCode::BadSignature,
        );
        p.assert_unchanged(case, &before);
    });
}

/// `expires_at_height` at or below the next block, and beyond the TTL; the
/// edge of the window is admitted and commits.
#[test]
fn an_expiry_outside_the_window_is_refused_and_its_edge_commits() {
    rule("expiry", |p| {
        let case = "expired";
        let (alice, bob) = (p.c.shopper("alice"), p.c.shopper("bob"));
        let before = p.snapshot(case);
        let h = p.height();
        let with_expiry = |e: u64| {
            p.c.tx(&alice, p.next_nonce(), e, transfer("BEAN", &bob, 100))
        };
        for e in [0, 1, h, h + 1] {
            p.refused(
                &format!("{case} at {e} (height {h})"),
                &with_expiry(e),
                RejectCode::Expired,
            );
        }
        let case = "too far in the future";
        // A margin of a few blocks, in case the chain moves meanwhile.
        for e in [
            h + 1 + MAX_TX_TTL_BLOCKS + 5,
            h + 10 * MAX_TX_TTL_BLOCKS,
            u64::MAX,
        ] {
            let what = format!("{case} at {e} (height {h})");
            let refused = p.refused(&what, &with_expiry(e), RejectCode::ExpiryTooFar);
            // The bound is the next block plus the TTL, at the node's height.
            let reason = refused.data["reason"].as_str().unwrap_or("");
            let bound = reason
                .strip_prefix(&format!("expires_at_height is {e}, at most "))
                .and_then(|r| r.split(':').next())
                .and_then(|b| b.parse::<u64>().ok());
            assert!(
                bound.is_some_and(|b| b >= h + 1 + MAX_TX_TTL_BLOCKS && b < e)
                    && reason.ends_with(&format!("plus {MAX_TX_TTL_BLOCKS}")),
                "{what}: {refused:?}"
            );
        }
        p.assert_unchanged(case, &before);
        // The edge of the window is admitted and commits.
        let edge = with_expiry(p.height() + 1 + MAX_TX_TTL_BLOCKS);
        p.commit("expiry at the edge of the window", &edge);
    });
}

/// More than the sender holds, in every kind that spends; and the replay of
/// such a rejected transaction.
#[test]
fn an_overspend_is_rejected_and_changes_nothing() {
    rule("overspend", |p| {
        let case = "overspend";
        let (alice, bob, carol) = (
            p.c.shopper("alice"),
            p.c.shopper("bob"),
            p.c.shopper("carol"),
        );
        let before = p.snapshot(case);
        let spendable = p.spendable(case, &alice, "BEAN");
        let over = spendable + 1;
        let deadline = p.block_time_ms() + 86_400_000;
        let txs = [
            (
                p.tx(&alice, transfer("BEAN", &bob, over)),
                RejectCode::InsufficientBalance,
            ),
            (
                p.tx(&alice, transfer("BEAN", &bob, u64::MAX)),
                RejectCode::InsufficientBalance,
            ),
            (
                p.tx(
                    &alice,
                    pay("BEAN", "adv-overspend", &[(&bob, spendable), (&carol, 1)]),
                ),
                RejectCode::InsufficientBalance,
            ),
            (
                p.tx(
                    &alice,
                    TxKind::Redeem {
                        token: sym("BEAN"),
                        amount: over,
                        memo: None,
                    },
                ),
                RejectCode::InsufficientBalance,
            ),
            (
                p.tx(&alice, offer("BEAN", "FUEL", over, 1, 1)),
                RejectCode::InsufficientBalance,
            ),
            (
                p.tx(&alice, escrow("BEAN", &bob, over, deadline, None)),
                RejectCode::InsufficientBalance,
            ),
            (
                p.tx(&bob, transfer(CAPPED, &alice, 1)),
                RejectCode::InsufficientBalance,
            ),
        ];
        let rejected = p.rejected_in_block(case, &txs);
        p.assert_unchanged(case, &before);
        // Replaying a rejected transaction: the same hash, still rejected once.
        let hash = rejected[0]["hash"].as_str().unwrap().to_string();
        assert_eq!(
            p.rpc.send(&txs[0].0),
            Ok(hash.clone()),
            "{case}: replay of a rejection"
        );
        let v = p.rpc.call("merit_getTransaction", json!([hash])).unwrap();
        assert_eq!(
            (&v["status"], &v["height"]),
            (&rejected[0]["status"], &rejected[0]["height"]),
            "{case}"
        );
        p.assert_unchanged(case, &before);
    });
}

/// carol sends more than half of what she holds twice, through two nodes at
/// once: one commits, the other is rejected.
#[test]
fn a_double_spend_through_two_nodes_pays_once() {
    rule("double spend", |p| {
        let case = "double spend";
        let (bob, carol, m2) = (p.c.shopper("bob"), p.c.shopper("carol"), p.merchant(2));
        let before = p.snapshot(case);
        let carol_bean = p.spendable(case, &carol, "BEAN");
        let amount = carol_bean / 2 + 1;
        let a = p.tx(&carol, transfer("BEAN", &bob, amount));
        let b = p.tx(&carol, transfer("BEAN", &m2, amount));
        let ha = p.submit_via(case, 0, &a);
        let hb = p.submit_via(case, 2, &b);
        let va = p.final_on(case, 0, &ha);
        let vb = p.final_on(case, 0, &hb);
        let statuses: BTreeSet<(String, String)> = [&va, &vb]
            .iter()
            .map(|v| {
                (
                    v["status"].as_str().unwrap_or("").to_string(),
                    v["code"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let expected: BTreeSet<(String, String)> = [
            ("committed".to_string(), String::new()),
            ("rejected".to_string(), "InsufficientBalance".to_string()),
        ]
        .into();
        assert_eq!(statuses, expected, "{case}: {va}\n{vb}");
        assert_eq!(
            p.spendable(case, &carol, "BEAN"),
            carol_bean - amount,
            "{case}: carol paid once"
        );
        let after = p.snapshot(case);
        assert_eq!(after["audit"], before["audit"], "{case}: supplies moved");
    });
}

/// The same nonce on two different transactions, through two nodes at
/// once: only one takes effect.
#[test]
fn one_nonce_on_two_transactions_takes_effect_once() {
    rule("same nonce twice", |p| {
        let case = "same nonce twice";
        let (bob, carol, m2) = (p.c.shopper("bob"), p.c.shopper("carol"), p.merchant(2));
        let nonce = p.next_nonce();
        let expires = p.height() + 500;
        let carol_bean = p.spendable(case, &carol, "BEAN");
        let a = p.c.tx(&carol, nonce, expires, transfer("BEAN", &bob, 100));
        let b = p.c.tx(&carol, nonce, expires, transfer("BEAN", &m2, 300));
        let ha = p.submit_via(case, 1, &a);
        let vb = match p.c.rpc(3).send(&b) {
            // Already committed when it arrived.
            Err(e) => {
                assert_eq!(e.data["code"], "NonceReused", "{case}: {e:?}");
                None
            }
            Ok(hb) => Some(p.final_on(case, 0, &hb)),
        };
        let va = p.final_on(case, 0, &ha);
        let paid: u64 = [(Some(va), 100u64), (vb, 300)]
            .into_iter()
            .map(|(v, amount)| match v {
                Some(v) if v["status"] == "committed" => amount,
                Some(v) => {
                    assert_eq!(v["code"], "NonceReused", "{case}: {v}");
                    0
                }
                None => 0,
            })
            .sum();
        assert!(paid == 100 || paid == 300, "{case}: paid {paid}");
        assert_eq!(
            p.spendable(case, &carol, "BEAN"),
            carol_bean - paid,
            "{case}"
        );
    });
}

/// Mints over the cap, by a non-issuer, of an unknown token; then the cap
/// exactly, and one more.
#[test]
fn a_mint_over_the_cap_or_by_a_non_issuer_is_rejected_and_the_cap_is_exact() {
    rule("mint rules", |p| {
        let case = "mint over the cap / by a non-issuer";
        let (alice, m0, m1) = (p.c.shopper("alice"), p.merchant(0), p.merchant(1));
        let before = p.snapshot(case);
        let capped = p.rpc.call("merit_getToken", json!([CAPPED])).unwrap();
        let minted: u64 = capped["minted"].as_str().unwrap().parse().unwrap();
        let bean = p.rpc.call("merit_getToken", json!(["BEAN"])).unwrap();
        let bean_room =
            units(bean["max_supply"].as_str().unwrap()) - units(bean["minted"].as_str().unwrap());
        let txs = [
            (
                p.tx(&m0, mint(CAPPED, &alice, CAPPED_MAX - minted + 1)),
                RejectCode::SupplyCapExceeded,
            ),
            (
                p.tx(&m0, mint(CAPPED, &alice, u64::MAX)),
                RejectCode::SupplyCapExceeded,
            ),
            (
                p.tx(&m0, mint("BEAN", &alice, bean_room + 1)),
                RejectCode::SupplyCapExceeded,
            ),
            (p.tx(&m1, mint(CAPPED, &m1, 1)), RejectCode::NotIssuer),
            (p.tx(&alice, mint("BEAN", &alice, 1)), RejectCode::NotIssuer),
            (p.tx(&m1, mint("BEAN", &m1, 100)), RejectCode::NotIssuer),
            (
                p.tx(&m0, mint("NOSUCH", &alice, 1)),
                RejectCode::UnknownToken,
            ),
        ];
        p.rejected_in_block(case, &txs);
        p.assert_unchanged(case, &before);
        // Up to the cap exactly, then one more.
        p.commit(case, &p.tx(&m0, mint(CAPPED, &alice, CAPPED_MAX - minted)));
        let before = p.snapshot(case);
        p.rejected_in_block(
            case,
            &[(
                p.tx(&m0, mint(CAPPED, &alice, 1)),
                RejectCode::SupplyCapExceeded,
            )],
        );
        p.assert_unchanged(case, &before);
        let capped = p.rpc.call("merit_getToken", json!([CAPPED])).unwrap();
        assert_eq!(capped["minted"], capped["max_supply"], "{case}: {capped}");
    });
}

/// An order id used again, by Pay and by EscrowCreate.
#[test]
fn a_reused_order_id_is_rejected_and_names_the_original() {
    rule("duplicate order id", |p| {
        let case = "duplicate order id";
        let (alice, bob, m0) = (p.c.shopper("alice"), p.c.shopper("bob"), p.merchant(0));
        let before = p.snapshot(case);
        let deadline = p.block_time_ms() + 86_400_000;
        let txs = [
            (
                p.tx(
                    &alice,
                    pay("BEAN", "adv-order-1", &[(&m0, 1_000), (&m0, 200)]),
                ),
                RejectCode::DuplicateOrderId,
            ),
            (
                p.tx(&alice, pay("BEAN", "adv-order-1", &[(&bob, 1)])),
                RejectCode::DuplicateOrderId,
            ),
            (
                p.tx(
                    &alice,
                    escrow("BEAN", &m0, 100, deadline, Some("adv-order-1")),
                ),
                RejectCode::DuplicateOrderId,
            ),
        ];
        for v in p.rejected_in_block(case, &txs) {
            assert_eq!(
                v["original"],
                p.fx.payment.as_str(),
                "{case}: names the original: {v}"
            );
        }
        p.assert_unchanged(case, &before);
    });
}

/// The same new order id twice at once, through two nodes: one pays, the
/// other is rejected naming it.
#[test]
fn two_payments_racing_for_one_order_id_pay_once() {
    rule("duplicate order id, racing", |p| {
        let case = "duplicate order id, racing";
        let (alice, bob, m0) = (p.c.shopper("alice"), p.c.shopper("bob"), p.merchant(0));
        let a = p.tx(&alice, pay("BEAN", "adv-order-2", &[(&m0, 100)]));
        let b = p.tx(&alice, pay("BEAN", "adv-order-2", &[(&m0, 100), (&bob, 1)]));
        let (ha, hb) = (p.submit_via(case, 0, &a), p.submit_via(case, 1, &b));
        let (va, vb) = (p.final_on(case, 0, &ha), p.final_on(case, 0, &hb));
        let (won, lost) = if va["status"] == "committed" {
            (&va, &vb)
        } else {
            (&vb, &va)
        };
        assert_eq!(won["status"], "committed", "{case}: {va}\n{vb}");
        assert_eq!(
            (&lost["status"], &lost["code"], &lost["original"]),
            (&json!("rejected"), &json!("DuplicateOrderId"), &won["hash"]),
            "{case}: {lost}"
        );
    });
}

/// A payment rejected for its balance leaves its order id free: the same
/// order id then pays.
#[test]
fn a_rejected_payment_does_not_use_up_its_order_id() {
    rule("rejected payment's order id", |p| {
        let case = "a rejected payment's order id";
        let (alice, m0) = (p.c.shopper("alice"), p.merchant(0));
        let before = p.snapshot(case);
        let spendable = p.spendable(case, &alice, "BEAN");
        let too_much = p.tx(
            &alice,
            pay("BEAN", "adv-unused", &[(&m0, spendable), (&m0, 1)]),
        );
        p.rejected_in_block(case, &[(too_much, RejectCode::InsufficientBalance)]);
        p.assert_unchanged(case, &before);
        let hash = p.commit(case, &p.tx(&alice, pay("BEAN", "adv-unused", &[(&m0, 1)])));
        let v = p.rpc.call("merit_getTransaction", json!([hash])).unwrap();
        let paid = v["events"].as_array().is_some_and(|es| {
            es.iter()
                .any(|e| e["type"] == "Paid" && e["order_id"] == "adv-unused")
        });
        assert!(paid, "{case}: {v}");
    });
}

/// Refunds beyond what a receiver got, by non-receivers, of no payment;
/// then beyond what is left after a partial refund.
#[test]
fn a_refund_beyond_what_the_receiver_got_is_rejected() {
    rule("over-refund", |p| {
        let case = "over-refund";
        let (alice, bob, m0, m1) = (
            p.c.shopper("alice"),
            p.c.shopper("bob"),
            p.merchant(0),
            p.merchant(1),
        );
        let payment = &p.fx.payment;
        let before = p.snapshot(case);
        let nothing = Hash32([7; 32]).to_hex();
        let txs = [
            (
                p.tx(&m0, refund(payment, "BEAN", 1_001)),
                RejectCode::RefundExceedsPayment,
            ),
            (
                p.tx(&m1, refund(payment, "BEAN", 201)),
                RejectCode::RefundExceedsPayment,
            ),
            (
                p.tx(&m0, refund(payment, "BEAN", u64::MAX)),
                RejectCode::RefundExceedsPayment,
            ),
            (
                p.tx(&bob, refund(payment, "BEAN", 1)),
                RejectCode::NotPaymentReceiver,
            ),
            (
                p.tx(&alice, refund(payment, "BEAN", 1)),
                RejectCode::NotPaymentReceiver,
            ),
            (
                p.tx(&m0, refund(&nothing, "BEAN", 1)),
                RejectCode::UnknownPayment,
            ),
            // The payment paid m0 in BEAN only: no BOOK share to refund.
            (
                p.tx(&m0, refund(payment, "BOOK", 1)),
                RejectCode::NotPaymentReceiver,
            ),
        ];
        p.rejected_in_block(case, &txs);
        p.assert_unchanged(case, &before);
        // A partial refund, then more than what is left.
        p.commit(case, &p.tx(&m0, refund(payment, "BEAN", 400)));
        let case = "over-refund after a partial refund";
        let before = p.snapshot(case);
        p.rejected_in_block(
            case,
            &[(
                p.tx(&m0, refund(payment, "BEAN", 601)),
                RejectCode::RefundExceedsPayment,
            )],
        );
        p.assert_unchanged(case, &before);
    });
}

/// Offers that would trade with the sender's own resting offer.
#[test]
fn an_offer_that_would_cross_the_senders_own_offer_is_rejected() {
    rule("self-cross", |p| {
        let case = "self-cross";
        let alice = p.c.shopper("alice");
        let before = p.snapshot(case);
        let resting = &before["book"]["offers"];
        assert_eq!(
            resting[0]["id"], p.fx.offer_id,
            "{case}: alice's offer rests: {resting}"
        );
        let txs = [
            (
                p.tx(&alice, offer("BOOK", "BEAN", 500, 1, 1)),
                RejectCode::SelfCross,
            ),
            (
                p.tx(&alice, offer("BOOK", "BEAN", 2_000, 1, 2)),
                RejectCode::SelfCross,
            ),
        ];
        p.rejected_in_block(case, &txs);
        p.assert_unchanged(case, &before);
    });
}

/// Tokens only from merchants and under new symbols, offers cancelled only
/// by their owners, no unknown offer, escrow or token, and an escrow
/// deadline after the block time: each rejected in a block.
#[test]
fn ownership_existence_and_deadline_rules_reject_in_a_block() {
    rule("ledger rules", |p| {
        let case = "ledger rules";
        let (alice, bob, m1) = (p.c.shopper("alice"), p.c.shopper("bob"), p.merchant(1));
        let before = p.snapshot(case);
        let txs = [
            (
                p.tx(&alice, create_token("ALICE", 2, 1_000, None)),
                RejectCode::NotMerchant,
            ),
            (
                p.tx(&m1, create_token(CAPPED, 2, 1_000, None)),
                RejectCode::TokenExists,
            ),
            (
                p.tx(
                    &bob,
                    TxKind::CancelOffer {
                        offer_id: p.fx.offer_id,
                    },
                ),
                RejectCode::NotOfferOwner,
            ),
            (
                p.tx(&alice, TxKind::CancelOffer { offer_id: 999_999 }),
                RejectCode::UnknownOffer,
            ),
            (
                p.tx(
                    &alice,
                    TxKind::EscrowRelease {
                        id: Hash32([9; 32]),
                    },
                ),
                RejectCode::UnknownEscrow,
            ),
            (
                p.tx(&alice, transfer("NOSUCH", &bob, 1)),
                RejectCode::UnknownToken,
            ),
            (
                p.tx(&alice, escrow("BEAN", &bob, 100, 1, None)),
                RejectCode::InvalidDeadline,
            ),
        ];
        p.rejected_in_block(case, &txs);
        p.assert_unchanged(case, &before);
    });
}

/// Freeze, unfreeze and clawback belong to the token's issuer, on a token
/// created to allow them (the devnet's BEAN allows both, BOOK neither), and
/// never reach past what is there; frozen points cannot be spent. Each
/// breach is rejected in a block and changes nothing.
/// Combined payments are atomic; path payments cost at most `send_max`,
/// deliver exactly or not at all, and never cross the payer's own offer.
/// alice's resting offer sells 10.00 BEAN for BOOK at 1/1.
#[test]
fn combined_and_path_payment_rules_reject_in_a_block_and_change_nothing() {
    rule("paths", |p| {
        let case = "paths";
        let (alice, bob, m0, m1) = (
            p.c.shopper("alice"),
            p.c.shopper("bob"),
            p.merchant(0),
            p.merchant(1),
        );
        let empty = Keypair::insecure_from_label("adversarial/empty-handed");
        let before = p.snapshot(case);
        let bob_book = p.spendable(case, &bob, "BOOK");
        let txs = [
            // One BOOK leg more than bob holds: the BEAN leg is not paid.
            (
                p.tx(
                    &bob,
                    combined(
                        "adv-combined-short",
                        &[(&m0, "BEAN", 100), (&m1, "BOOK", bob_book + 1)],
                    ),
                ),
                RejectCode::InsufficientBalance,
            ),
            (
                p.tx(
                    &bob,
                    combined(
                        "adv-combined-unknown",
                        &[(&m0, "BEAN", 100), (&m1, "NOPE", 1)],
                    ),
                ),
                RejectCode::UnknownToken,
            ),
            // 10.00 BEAN cost 10.00 BOOK: a unit less is not enough.
            (
                p.tx(&bob, pay_path("BOOK", 999, "BEAN", 1_000, &m0, &[])),
                RejectCode::SendMaxExceeded,
            ),
            // The book holds 10.00 BEAN, not a unit more.
            (
                p.tx(&bob, pay_path("BOOK", 10_000, "BEAN", 1_001, &m0, &[])),
                RejectCode::NoPath,
            ),
            // No book sells FUEL for BOOK.
            (
                p.tx(&bob, pay_path("BOOK", 10_000, "BEAN", 1, &m0, &["FUEL"])),
                RejectCode::NoPath,
            ),
            // alice would cross her own offer.
            (
                p.tx(&alice, pay_path("BOOK", 10_000, "BEAN", 1, &m0, &[])),
                RejectCode::SelfCross,
            ),
            // The book could deliver, but the payer holds no BOOK.
            (
                p.tx(&empty, pay_path("BOOK", 10_000, "BEAN", 1, &m0, &[])),
                RejectCode::InsufficientBalance,
            ),
        ];
        p.rejected_in_block(case, &txs);
        p.assert_unchanged(case, &before);
        // At exactly its cost, bob's path payment goes through (and leaves
        // 9.00 BEAN in alice's offer for the other tests).
        let hash = p.commit(
            case,
            &p.tx(&bob, pay_path("BOOK", 100, "BEAN", 100, &m0, &[])),
        );
        let v = p.rpc.call("merit_getTransaction", json!([hash])).unwrap();
        let paid = v["events"].as_array().is_some_and(|es| {
            es.iter()
                .any(|e| e["type"] == "PathPaid" && e["sent"] == "1.00" && e["received"] == "1.00")
        });
        assert!(paid, "{case}: {v}");
    });
}

/// Opens the sender's next sub-account.
fn open_sub_account(label: &str) -> TxKind {
    TxKind::OpenSubAccount {
        label: BoundedString::new(label).unwrap(),
    }
}

/// `ADDRESS/N` as the node writes an account in JSON: a string, or an
/// object of `address` and `sub`.
fn account_text(v: &Value) -> String {
    match (v.as_str(), v["address"].as_str(), v["sub"].as_u64()) {
        (Some(s), _, _) => s.to_string(),
        (None, Some(a), Some(0)) => a.to_string(),
        (None, Some(a), Some(n)) => format!("{a}/{n}"),
        _ => panic!("not an account: {v}"),
    }
}

/// Sub-accounts (ADR 020). Every receiver must be the address itself or
/// one of its opened sub-accounts, and so must the envelope's paying
/// account: a transfer, a payment leg, a path payment, an escrow and a mint
/// to bob's unopened `ADDRESS/3`, and payments from an unopened `sub`, are
/// each rejected in a block with `UnknownSubAccount` and change nothing.
/// The envelope's `sub` is always the sender's own account, and the
/// signature is the address's key's: bob's sub-account cannot be spent with
/// alice's key, whatever `sub` says, and `sub` cannot be changed after
/// signing. An address opens at most `MAX_SUB_ACCOUNTS`.
#[test]
fn sub_account_rules_reject_in_a_block_and_change_nothing() {
    rule("sub-accounts", |p| {
        let case = "sub-accounts";
        let (alice, bob, m0) = (p.c.shopper("alice"), p.c.shopper("bob"), p.merchant(0));
        let bob_sub = |n: u32| AccountRef::new(bob.public(), n);
        let tx_from = |key: &Keypair, sub: u32, kind: TxKind| {
            p.c.tx_from(key, sub, p.next_nonce(), p.height() + 500, kind)
        };
        let opened_by = |hash: &str| {
            let v = p.rpc.call("merit_getTransaction", json!([hash])).unwrap();
            let event = v["events"]
                .as_array()
                .and_then(|es| es.iter().find(|e| e["type"] == "SubAccountOpened"))
                .unwrap_or_else(|| panic!("{case}: no SubAccountOpened: {v}"))
                .clone();
            (account_text(&event["account"]), event["label"].clone())
        };
        // bob opens ADDRESS/1 and ADDRESS/2, one after the other; ADDRESS/3
        // stays unopened.
        for (n, label) in [(1, "till 1"), (2, "till 2")] {
            let hash = p.commit(case, &p.tx(&bob, open_sub_account(label)));
            assert_eq!(
                opened_by(&hash),
                (bob_sub(n).to_string(), json!(label)),
                "{case}"
            );
        }
        // alice pays 5.00 BEAN into bob/1; bob pays 1.00 of it out.
        p.commit(
            case,
            &p.tx(
                &alice,
                TxKind::Transfer {
                    token: sym("BEAN"),
                    to: bob_sub(1),
                    amount: 500,
                    memo: None,
                },
            ),
        );
        p.commit(case, &tx_from(&bob, 1, transfer("BEAN", &m0, 100)));
        let sub_accounts = || {
            let call = |params: Value| {
                p.rpc
                    .call("merit_getAccount", params)
                    .unwrap_or_else(|e| panic!("{case}: merit_getAccount: {e:?}"))
            };
            json!({
                "bob/1": call(json!([bob_sub(1).to_string()])),
                "bob/2": call(json!([bob_sub(2).to_string()])),
                "list": p.rpc
                    .call("merit_getSubAccounts", json!([bob.public().to_bech32()]))
                    .unwrap_or_else(|e| panic!("{case}: merit_getSubAccounts: {e:?}")),
            })
        };
        let subs_before = sub_accounts();
        assert_eq!(
            subs_before["bob/1"]["balances"]["BEAN"], "4.00",
            "{case}: {subs_before}"
        );

        let before = p.snapshot(case);
        let unopened = bob_sub(3);
        let deadline = p.block_time_ms() + 86_400_000;
        let to_unopened = |kind: TxKind| -> TxKind {
            match kind {
                TxKind::Transfer {
                    token,
                    amount,
                    memo,
                    ..
                } => TxKind::Transfer {
                    token,
                    to: unopened,
                    amount,
                    memo,
                },
                TxKind::EscrowCreate {
                    token,
                    amount,
                    deadline_ms,
                    order_id,
                    ..
                } => TxKind::EscrowCreate {
                    token,
                    to: unopened,
                    amount,
                    deadline_ms,
                    order_id,
                },
                TxKind::Mint { token, amount, .. } => TxKind::Mint {
                    token,
                    to: unopened,
                    amount,
                },
                TxKind::PayPath {
                    send_token,
                    send_max,
                    dest_token,
                    dest_amount,
                    path,
                    order_id,
                    memo,
                    ..
                } => TxKind::PayPath {
                    send_token,
                    send_max,
                    dest_token,
                    dest_amount,
                    to: unopened,
                    path,
                    order_id,
                    memo,
                },
                other => panic!("{case}: no receiver in {other:?}"),
            }
        };
        let pay_unopened_leg = TxKind::Pay {
            order_id: BoundedString::new("adv-sub-leg").unwrap(),
            legs: BoundedVec::new(vec![
                PayLeg {
                    to: m0.public().into(),
                    token: sym("BEAN"),
                    amount: 100,
                },
                PayLeg {
                    to: unopened,
                    token: sym("BEAN"),
                    amount: 100,
                },
            ])
            .unwrap(),
            memo: None,
        };
        let txs = [
            (
                p.tx(&alice, to_unopened(transfer("BEAN", &bob, 100))),
                RejectCode::UnknownSubAccount,
            ),
            (
                p.tx(&alice, pay_unopened_leg),
                RejectCode::UnknownSubAccount,
            ),
            // The book could deliver (alice's offer sells BEAN for BOOK).
            (
                p.tx(
                    &bob,
                    to_unopened(pay_path("BOOK", 10_000, "BEAN", 1, &bob, &[])),
                ),
                RejectCode::UnknownSubAccount,
            ),
            (
                p.tx(
                    &alice,
                    to_unopened(escrow("BEAN", &bob, 100, deadline, None)),
                ),
                RejectCode::UnknownSubAccount,
            ),
            (
                p.tx(&m0, to_unopened(mint("BEAN", &bob, 100))),
                RejectCode::UnknownSubAccount,
            ),
            // Paying from an unopened account of the sender's: bob's third,
            // and alice's first (alice has none; bob's first is not hers).
            (
                tx_from(&bob, 3, transfer("BEAN", &alice, 1)),
                RejectCode::UnknownSubAccount,
            ),
            (
                tx_from(&alice, 1, transfer("BEAN", &bob, 1)),
                RejectCode::UnknownSubAccount,
            ),
            (
                tx_from(&alice, u32::MAX, pay("BEAN", "adv-sub-from", &[(&m0, 1)])),
                RejectCode::UnknownSubAccount,
            ),
            (
                tx_from(&bob, 3, open_sub_account("till 3")),
                RejectCode::UnknownSubAccount,
            ),
        ];
        p.rejected_in_block(case, &txs);
        p.assert_unchanged(case, &before);
        let mut diffs = Vec::new();
        diff("", &subs_before, &sub_accounts(), &mut diffs);
        assert!(
            diffs.is_empty(),
            "{case}: a sub-account changed:\n{}",
            diffs.join("\n")
        );

        // Only bob's key spends bob/1: signed by alice it is refused, with
        // `sub` 1 as with `sub` 0, and a signed `sub` cannot be changed.
        let nonce = p.next_nonce();
        let body = |sub: u32| TxBody {
            chain_id: BoundedString::new(p.c.layout.genesis.chain_id.clone()).unwrap(),
            sender: bob.public(),
            sub,
            nonce,
            expires_at_height: p.height() + 500,
            kind: transfer("BEAN", &alice, 100),
        };
        for sub in [1, 0, 2] {
            p.refused(
                &format!("{case}: bob's sub {sub} signed by alice"),
                &body(sub).sign(&alice),
                RejectCode::BadSignature,
            );
        }
        let honest = body(1).sign(&bob);
        let mut moved = honest.clone();
        moved.body.sub = 2;
        p.refused(
            &format!("{case}: signed for bob/1, sent from bob/2"),
            &moved,
            RejectCode::BadSignature,
        );
        p.assert_unchanged(case, &before);
        // The refusals spent nothing: bob's own bytes, same nonce, commit.
        p.commit(case, &honest);
        assert_eq!(
            p.rpc
                .call("merit_getAccount", json!([bob_sub(1).to_string()]))
                .unwrap()["balances"]["BEAN"],
            "3.00",
            "{case}"
        );

        // One address opens at most MAX_SUB_ACCOUNTS, then no more.
        let stores = Keypair::insecure_from_label("adversarial/many-stores");
        let expires = p.height() + 500;
        let opens: Vec<Transaction> = (1..=MAX_SUB_ACCOUNTS)
            .map(|n| {
                let label = open_sub_account(&format!("store {n}"));
                p.c.tx(&stores, p.next_nonce(), expires, label)
            })
            .collect();
        p.commit_all(case, &opens);
        let list = p
            .rpc
            .call("merit_getSubAccounts", json!([stores.public().to_bech32()]))
            .unwrap_or_else(|e| panic!("{case}: merit_getSubAccounts: {e:?}"));
        let before = p.snapshot(case);
        p.rejected_in_block(
            case,
            &[(
                p.tx(&stores, open_sub_account("one too many")),
                RejectCode::TooManySubAccounts,
            )],
        );
        p.assert_unchanged(case, &before);
        assert_eq!(
            p.rpc
                .call("merit_getSubAccounts", json!([stores.public().to_bech32()]))
                .unwrap(),
            list,
            "{case}"
        );
    });
}

#[test]
fn freeze_and_clawback_rules_reject_in_a_block_and_change_nothing() {
    rule("freeze", |p| {
        let case = "freeze";
        let (alice, bob, m0, m1) = (
            p.c.shopper("alice"),
            p.c.shopper("bob"),
            p.merchant(0),
            p.merchant(1),
        );
        let of = |who: &Keypair| AccountRef::main(who.public());
        let freeze = |token: &str, who: &Keypair, amount: u64| TxKind::Freeze {
            token: sym(token),
            account: of(who),
            amount,
        };
        let clawback = |token: &str, who: &Keypair, amount: u64| TxKind::Clawback {
            token: sym(token),
            from: of(who),
            amount,
            memo: None,
        };
        let spendable = p.spendable(case, &alice, "BEAN");
        let before = p.snapshot(case);
        let txs = [
            (p.tx(&bob, freeze("BEAN", &alice, 1)), RejectCode::NotIssuer),
            (
                p.tx(&m1, clawback("BEAN", &alice, 1)),
                RejectCode::NotIssuer,
            ),
            (
                p.tx(&m1, freeze("BOOK", &alice, 1)),
                RejectCode::NotFreezable,
            ),
            (
                p.tx(&m1, clawback("BOOK", &alice, 1)),
                RejectCode::ClawbackDisabled,
            ),
            (
                p.tx(
                    &m0,
                    TxKind::Unfreeze {
                        token: sym("BEAN"),
                        account: of(&alice),
                        amount: 1,
                    },
                ),
                RejectCode::InsufficientFrozen,
            ),
            (
                p.tx(&m0, freeze("BEAN", &alice, spendable + 1)),
                RejectCode::InsufficientBalance,
            ),
            (
                p.tx(&m0, clawback("BEAN", &alice, spendable + 1)),
                RejectCode::InsufficientBalance,
            ),
        ];
        p.rejected_in_block(case, &txs);
        p.assert_unchanged(case, &before);

        // Frozen points stay alice's but cannot move.
        p.commit(case, &p.tx(&m0, freeze("BEAN", &alice, spendable)));
        let frozen = p.snapshot(case);
        assert_eq!(
            frozen["accounts"]["alice"]["frozen"]["BEAN"],
            before["accounts"]["alice"]["balances"]["BEAN"],
            "{case}: {frozen}"
        );
        p.rejected_in_block(
            case,
            &[(
                p.tx(&alice, transfer("BEAN", &bob, 1)),
                RejectCode::InsufficientBalance,
            )],
        );
        p.assert_unchanged(case, &frozen);
        p.commit(
            case,
            &p.tx(
                &m0,
                TxKind::Unfreeze {
                    token: sym("BEAN"),
                    account: of(&alice),
                    amount: spendable,
                },
            ),
        );
        p.assert_unchanged(case, &before);
    });
}

/// Kinds that fail their stateless checks are refused at submission.
#[test]
fn kinds_that_fail_their_stateless_checks_are_refused_at_submission() {
    rule("stateless checks", |p| {
        let case = "stateless checks";
        let (alice, bob, m0) = (p.c.shopper("alice"), p.c.shopper("bob"), p.merchant(0));
        let before = p.snapshot(case);
        let fifty_one: Vec<(&Keypair, u64)> = (0..=MAX_PAY_LEGS).map(|_| (&bob, 1)).collect();
        let cases: Vec<(&str, Transaction, RejectCode)> = vec![
            (
                "zero transfer",
                p.tx(&alice, transfer("BEAN", &bob, 0)),
                RejectCode::ZeroAmount,
            ),
            (
                "zero mint",
                p.tx(&m0, mint("BEAN", &bob, 0)),
                RejectCode::ZeroAmount,
            ),
            (
                "zero redeem",
                p.tx(
                    &alice,
                    TxKind::Redeem {
                        token: sym("BEAN"),
                        amount: 0,
                        memo: None,
                    },
                ),
                RejectCode::ZeroAmount,
            ),
            (
                "zero refund",
                p.tx(&m0, refund(&Hash32([1; 32]).to_hex(), "BEAN", 0)),
                RejectCode::ZeroAmount,
            ),
            (
                "zero offer",
                p.tx(&alice, offer("BEAN", "BOOK", 0, 1, 1)),
                RejectCode::ZeroAmount,
            ),
            (
                "zero escrow",
                p.tx(&alice, escrow("BEAN", &bob, 0, u64::MAX, None)),
                RejectCode::ZeroAmount,
            ),
            (
                "zero leg",
                p.tx(&alice, pay("BEAN", "adv-zero", &[(&bob, 1), (&bob, 0)])),
                RejectCode::ZeroAmount,
            ),
            (
                "zero freeze",
                p.tx(
                    &m0,
                    TxKind::Freeze {
                        token: sym("BEAN"),
                        account: AccountRef::main(alice.public()),
                        amount: 0,
                    },
                ),
                RejectCode::ZeroAmount,
            ),
            (
                "zero clawback",
                p.tx(
                    &m0,
                    TxKind::Clawback {
                        token: sym("BEAN"),
                        from: AccountRef::main(alice.public()),
                        amount: 0,
                        memo: None,
                    },
                ),
                RejectCode::ZeroAmount,
            ),
            (
                "price 0/1",
                p.tx(&alice, offer("BEAN", "BOOK", 1, 0, 1)),
                RejectCode::InvalidPrice,
            ),
            (
                "price 1/0",
                p.tx(&alice, offer("BEAN", "BOOK", 1, 1, 0)),
                RejectCode::InvalidPrice,
            ),
            (
                "same token",
                p.tx(&alice, offer("BEAN", "BEAN", 1, 1, 1)),
                RejectCode::SameToken,
            ),
            (
                "empty order id",
                p.tx(&alice, pay("BEAN", "", &[(&bob, 1)])),
                RejectCode::InvalidOrderId,
            ),
            (
                "empty escrow order id",
                p.tx(&alice, escrow("BEAN", &bob, 1, u64::MAX, Some(""))),
                RejectCode::InvalidOrderId,
            ),
            (
                "no legs",
                p.tx(&alice, pay("BEAN", "adv-none", &[])),
                RejectCode::NoLegs,
            ),
            (
                "51 legs",
                p.tx(&alice, pay("BEAN", "adv-51", &fifty_one)),
                RejectCode::TooManyLegs,
            ),
            (
                "six tokens",
                p.tx(
                    &alice,
                    combined(
                        "adv-six",
                        &[
                            (&bob, "BEAN", 1),
                            (&bob, "BOOK", 1),
                            (&bob, "FUEL", 1),
                            (&bob, "MILES", 1),
                            (&bob, "CUPS", 1),
                            (&bob, "NOPE", 1),
                        ],
                    ),
                ),
                RejectCode::TooManyTokens,
            ),
            (
                "path of four",
                p.tx(
                    &alice,
                    pay_path(
                        "BOOK",
                        1,
                        "BEAN",
                        1,
                        &bob,
                        &["FUEL", "MILES", "CUPS", "NOPE"],
                    ),
                ),
                RejectCode::PathTooLong,
            ),
            (
                "route twice through a token",
                p.tx(&alice, pay_path("BOOK", 1, "BEAN", 1, &bob, &["BOOK"])),
                RejectCode::SameToken,
            ),
            (
                "zero dest_amount",
                p.tx(&alice, pay_path("BOOK", 1, "BEAN", 0, &bob, &[])),
                RejectCode::ZeroAmount,
            ),
            (
                "zero send_max",
                p.tx(&alice, pay_path("BOOK", 0, "BEAN", 1, &bob, &[])),
                RejectCode::ZeroAmount,
            ),
            (
                "legs overflow",
                p.tx(
                    &alice,
                    pay("BEAN", "adv-ovf", &[(&bob, u64::MAX), (&bob, 1)]),
                ),
                RejectCode::Overflow,
            ),
            (
                "10 decimals",
                p.tx(&m0, create_token("DEC", 10, 1, None)),
                RejectCode::InvalidDecimals,
            ),
            (
                "zero max supply",
                p.tx(&m0, create_token("NONE", 2, 0, None)),
                RejectCode::InvalidMaxSupply,
            ),
            (
                "0 expiry days",
                p.tx(&m0, create_token("EXP", 2, 1, Some(0))),
                RejectCode::InvalidExpiryDays,
            ),
            (
                "36501 expiry days",
                p.tx(&m0, create_token("EXP", 2, 1, Some(36_501))),
                RejectCode::InvalidExpiryDays,
            ),
        ];
        // Over a bound, the reason names the field and the bound.
        let bounds = [
            ("51 legs", "legs has 51 entries, at most 50"),
            ("10 decimals", "decimals is 10, at most 9"),
            ("0 expiry days", "expiry_days is 0, at least 1"),
            ("36501 expiry days", "expiry_days is 36501, at most 36500"),
            ("zero max supply", "max_supply is 0, at least 1"),
            ("no legs", "legs has no entries, at least 1"),
        ];
        for (what, tx, code) in &cases {
            let e = p.refused(&format!("{case}: {what}"), tx, *code);
            let reason = e.data["reason"].as_str().unwrap_or("");
            assert!(!reason.is_empty(), "{case}: {what}: no reason: {e:?}");
            if let Some((_, want)) = bounds.iter().find(|(w, _)| w == what) {
                assert_eq!(reason, *want, "{case}: {what}");
            }
        }
        let blank = p.tx(
            &m0,
            TxKind::CreateToken {
                symbol: sym("BLANK"),
                name: BoundedString::new("   ").unwrap(),
                decimals: 2,
                max_supply: 1,
                expiry_days: None,
                freezable: false,
                clawback: false,
            },
        );
        p.refused(
            &format!("{case}: blank token name"),
            &blank,
            RejectCode::InvalidTokenName,
        );
        p.assert_unchanged(case, &before);
    });
}

/// Transactions over 64 KiB, hex over twice that, and payments with more
/// legs than the decoder takes.
#[test]
fn a_transaction_over_a_size_bound_is_refused() {
    rule("oversized transactions", |p| {
        let case = "oversized";
        let (alice, bob) = (p.c.shopper("alice"), p.c.shopper("bob"));
        let before = p.snapshot(case);
        let valid = p.tx(&alice, transfer("BEAN", &bob, 1)).to_bytes();
        let mut padded = valid.clone();
        padded.resize(MAX_TX_BYTES + 1, 0);
        p.refused_because(
            &format!("{case}: tx of {} bytes", padded.len()),
            &padded,
            RejectCode::TooLarge,
            "the transaction is 65537 bytes, at most 65536",
        );
        let e = p.refused_hex(
            &format!("{case}: 1 MB of hex"),
            &"00".repeat(500_000),
            RejectCode::TooLarge,
        );
        assert_eq!(
            e.data["reason"], "the transaction is 500000 bytes, at most 65536",
            "{case}: {e:?}"
        );
        // Each bounded field one byte over its bound: the bytes do not
        // decode, and the reason names the field and the bound.
        let (m0, m1) = (p.merchant(0), p.merchant(1));
        let memo = "m".repeat(MAX_MEMO_BYTES);
        let order = "o".repeat(MAX_ORDER_ID_BYTES);
        let name = "n".repeat(MAX_TOKEN_NAME_BYTES);
        let memo_kinds = [
            TxKind::Transfer {
                token: sym("BEAN"),
                to: bob.public().into(),
                amount: 1,
                memo: Some(BoundedString::new(memo.clone()).unwrap()),
            },
            TxKind::Redeem {
                token: sym("BEAN"),
                amount: 1,
                memo: Some(BoundedString::new(memo.clone()).unwrap()),
            },
            TxKind::Pay {
                order_id: BoundedString::new("adv-memo").unwrap(),
                legs: BoundedVec::new(vec![PayLeg {
                    to: bob.public().into(),
                    token: sym("BEAN"),
                    amount: 1,
                }])
                .unwrap(),
                memo: Some(BoundedString::new(memo.clone()).unwrap()),
            },
        ];
        for kind in memo_kinds {
            let what = format!("{case}: {} with a memo of 257 bytes", kind.name());
            let at_bound = p.tx(&alice, kind);
            p.refused_because(
                &what,
                &grown(&at_bound.to_bytes(), memo.as_bytes()),
                RejectCode::Malformed,
                "memo is 257 bytes, at most 256",
            );
        }
        let deadline = p.block_time_ms() + 86_400_000;
        for (what, at_bound) in [
            ("Pay", p.tx(&alice, pay("BEAN", &order, &[(&m0, 1)]))),
            (
                "EscrowCreate",
                p.tx(&alice, escrow("BEAN", &m1, 1, deadline, Some(&order))),
            ),
        ] {
            p.refused_because(
                &format!("{case}: {what} with an order id of 65 bytes"),
                &grown(&at_bound.to_bytes(), order.as_bytes()),
                RejectCode::Malformed,
                "order_id is 65 bytes, at most 64",
            );
        }
        let named = p.tx(
            &m0,
            TxKind::CreateToken {
                symbol: sym("LONGNAME"),
                name: BoundedString::new(name.clone()).unwrap(),
                decimals: 2,
                max_supply: 1,
                expiry_days: None,
                freezable: false,
                clawback: false,
            },
        );
        p.refused_because(
            &format!("{case}: a token name of 65 bytes"),
            &grown(&named.to_bytes(), name.as_bytes()),
            RejectCode::Malformed,
            "name is 65 bytes, at most 64",
        );
        // The largest payment that decodes (1,024 legs, about 40 KiB): refused
        // for its legs, not its size.
        let legs: Vec<(&Keypair, u64)> = (0..PAY_LEGS_DECODE_BOUND).map(|_| (&bob, 1)).collect();
        let widest = p.tx(&alice, pay("BEAN", "adv-wide", &legs));
        assert!(widest.to_bytes().len() <= MAX_TX_BYTES);
        p.refused_because(
            &format!("{case}: {PAY_LEGS_DECODE_BOUND} legs"),
            &widest.to_bytes(),
            RejectCode::TooManyLegs,
            "legs has 1024 entries, at most 50",
        );
        // One leg more than the decoder takes.
        let wide = widest.to_bytes();
        let at = 8 + wide
            .windows(8)
            .position(|w| w == b"adv-wide")
            .expect("the order id");
        assert_eq!(
            wide[at..at + 8],
            (PAY_LEGS_DECODE_BOUND as u64).to_le_bytes()
        );
        let mut bytes = wide[..at].to_vec();
        bytes.extend_from_slice(&(PAY_LEGS_DECODE_BOUND as u64 + 1).to_le_bytes());
        bytes.extend_from_slice(&wide[at + 8..at + 48]);
        bytes.extend_from_slice(&wide[at + 8..]);
        p.refused_because(
            &format!("{case}: {} legs", PAY_LEGS_DECODE_BOUND + 1),
            &bytes,
            RejectCode::Malformed,
            "legs has 1025 entries, at most 50",
        );
        p.assert_unchanged(case, &before);
    });
}

/// Request bodies over the RPC limit, batches over the limit, and huge
/// params.
#[test]
fn rpc_requests_over_a_bound_are_refused() {
    rule("oversized requests", |p| {
        let case = "oversized requests";
        let before = p.snapshot(case);
        // HTTP bodies over 1 MiB are refused before any parsing; one at the
        // limit is served.
        let limit = 1 << 20;
        let status_call = |len: usize| {
            let head = r#"{"jsonrpc":"2.0","id":1,"method":"merit_status","params":[],"pad":""#;
            let pad = len - head.len() - 2;
            format!("{head}{}\"}}", " ".repeat(pad))
        };
        let at_limit = status_call(limit);
        assert_eq!(at_limit.len(), limit);
        let (status, body) = post_large(p.rpc.addr, at_limit.as_bytes()).expect("an answer");
        assert_eq!(status, 200, "{case}: a body of exactly 1 MiB: {body}");
        // Over the limit, only the head is sent: the node refuses the body by
        // its declared length, and closes; a client still sending the body
        // would turn the unread bytes into a reset that can lose the answer.
        let refused_body = |len: usize| {
            let (status, body) = p
                .rpc
                .post_declared(len)
                .unwrap_or_else(|e| panic!("{case}: no answer to a body of {len} bytes: {e}"));
            assert_eq!(status, 413, "{case}: a body of {len} bytes: {body}");
            let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            assert_eq!(answer["error"]["code"], -32007, "{case}: {body}");
            assert_eq!(
                answer["error"]["data"]["reason"],
                format!("the request body is {len} bytes, at most {limit}"),
                "{case}: a body of {len} bytes names the bound: {body}"
            );
        };
        for len in [limit + 1, limit + 100_000, 4 * limit] {
            refused_body(len);
        }
        let huge = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"merit_sendTransaction","params":["{}"]}}"#,
            "ab".repeat(600_000)
        );
        refused_body(huge.len());
        // With no declared length (chunked), the body is read up to the
        // limit: one within it is served, one over it refused, naming the
        // bound.
        let (status, body) =
            post_chunked(p.rpc.addr, status_call(1_000).as_bytes(), true).expect("an answer");
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert!(
            status == 200 && answer["result"]["height"].is_u64(),
            "{case}: a chunked body of 1000 bytes: {status} {body}"
        );
        let (status, body) =
            post_chunked(p.rpc.addr, status_call(limit + 1).as_bytes(), false).expect("an answer");
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_eq!(
            (status, &answer["error"]["code"]),
            (413, &json!(-32007)),
            "{case}: a chunked body over the limit: {body}"
        );
        assert_eq!(
            answer["error"]["data"]["reason"],
            format!("the request body is over {limit} bytes, at most {limit}"),
            "{case}: {body}"
        );
        // A batch of 100 calls is served; one of 101 is refused whole, with an
        // error that names the bound.
        let batch = |n: usize| -> String {
            let calls: Vec<Value> = (0..n)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "merit_status", "params": []}))
                .collect();
            Value::Array(calls).to_string()
        };
        let (status, body) = p.rpc.post_raw(batch(100).as_bytes()).expect("an answer");
        let answers: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_eq!(
            (status, answers.as_array().map(Vec::len)),
            (200, Some(100)),
            "{case}: a batch of 100: {body}"
        );
        let (status, body) = p.rpc.post_raw(batch(101).as_bytes()).expect("an answer");
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_eq!(
            (status, answer["error"]["code"].as_i64()),
            (200, Some(-32010)),
            "{case}: a batch of 101: {body}"
        );
        assert_eq!(
            answer["error"]["data"]["reason"], "the batch has 101 calls, at most 100",
            "{case}: a batch of 101 names the bound: {body}"
        );
        // Pages over their bounds.
        let alice = p.c.shopper("alice").public().to_bech32();
        p.bad_params_because(
            &format!("{case}: a history page of 1001"),
            "merit_getHistory",
            json!([alice, null, 1001]),
            "limit is 1001, at most 1000",
        );
        p.bad_params_because(
            &format!("{case}: a book page of 101"),
            "merit_getOrderBook",
            json!(["BEAN", "BOOK", 101]),
            "limit is 101, at most 100",
        );
        // Huge params are bad params, not a crash.
        let long = "m".repeat(200_000);
        p.bad_params(
            &format!("{case}: long address"),
            "merit_getAccount",
            json!([long]),
        );
        p.bad_params(
            &format!("{case}: long symbol"),
            "merit_getToken",
            json!([long]),
        );
        p.bad_params(
            &format!("{case}: long hash"),
            "merit_getTransaction",
            json!([long]),
        );
        p.assert_unchanged(case, &before);
    });
}

/// A signed transfer with a memo, for the malformation cases.
fn memo_transfer(p: &Probe) -> Transaction {
    let (alice, bob) = (p.c.shopper("alice"), p.c.shopper("bob"));
    p.tx(
        &alice,
        TxKind::Transfer {
            token: sym("BEAN"),
            to: bob.public().into(),
            amount: 1,
            memo: Some(BoundedString::new("hello").unwrap()),
        },
    )
}

/// Bad hex, params of the wrong shape, truncations, trailing bytes, random
/// bytes, and fields that break the format.
#[test]
fn malformed_transaction_bytes_are_refused_at_submission() {
    rule("malformed", |p| {
        let case = "malformed";
        let alice = p.c.shopper("alice");
        let before = p.snapshot(case);
        let tx = memo_transfer(p);
        let valid = tx.to_bytes();

        for bad in ["zz", "abc", "0xzz", "0x0x00", "12 34", "ééé", "\u{0}\u{0}"] {
            p.bad_params(
                &format!("{case}: hex `{bad}`"),
                "merit_sendTransaction",
                json!([bad]),
            );
        }
        for params in [
            json!([]),
            json!([42]),
            json!([null]),
            json!([["00"]]),
            json!([{}]),
            json!(["00", "00"]),
            json!({"tx": "00"}),
        ] {
            p.bad_params(
                &format!("{case}: params {params}"),
                "merit_sendTransaction",
                params,
            );
        }
        p.refused_hex(&format!("{case}: empty"), "", RejectCode::Malformed);
        p.refused_hex(&format!("{case}: 0x"), "0x", RejectCode::Malformed);
        for len in 0..valid.len() {
            p.refused_bytes(
                &format!("{case}: truncated to {len}"),
                &valid[..len],
                RejectCode::Malformed,
            );
        }
        for tail in [&[0u8][..], &[0xff; 7], &valid[..]] {
            let mut longer = valid.clone();
            longer.extend_from_slice(tail);
            p.refused_bytes(
                &format!("{case}: {} trailing bytes", tail.len()),
                &longer,
                RejectCode::Malformed,
            );
        }
        let mut rng = XorShift(0x5eed_1234_abcd_9876);
        for k in 0..64 {
            let len = 1 + (rng.next() % 400) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            p.refused_bytes(
                &format!("{case}: random bytes #{k}"),
                &bytes,
                RejectCode::Malformed,
            );
        }

        // Fields that break the format.
        let body_len = encoding::encode(&tx.body).len();
        let kind_at = body_len - encoding::encode(&tx.body.kind).len();
        let broken = |what: &str, edit: &dyn Fn(&mut Vec<u8>)| {
            let mut b = valid.clone();
            edit(&mut b);
            p.refused_bytes(&format!("{case}: {what}"), &b, RejectCode::Malformed);
        };
        broken("chain id length u64::MAX", &|b| {
            b[..8].copy_from_slice(&u64::MAX.to_le_bytes())
        });
        let mut long_chain = valid.clone();
        let n = u64::from_le_bytes(long_chain[..8].try_into().unwrap());
        long_chain[..8].copy_from_slice(&33u64.to_le_bytes());
        long_chain.splice(8..8, vec![b'x'; 33 - n as usize]);
        p.refused_because(
            &format!("{case}: chain id of 33 bytes"),
            &long_chain,
            RejectCode::Malformed,
            "chain_id is 33 bytes, at most 32",
        );
        broken("unknown kind", &|b| b[kind_at] = 99);
        let find =
            |b: &[u8], needle: &[u8]| b.windows(needle.len()).position(|w| w == needle).unwrap();
        broken("lowercase symbol", &|b| {
            let at = find(b, b"BEAN");
            b[at..at + 4].copy_from_slice(b"bean");
        });
        broken("memo not UTF-8", &|b| {
            let at = find(b, b"hello");
            b[at..at + 5].copy_from_slice(&[0xff, 0xfe, 0xfd, 0xfc, 0xfb]);
        });
        broken("memo option tag 2", &|b| {
            let at = find(b, b"hello") - 9;
            b[at] = 2;
        });
        // A sender that is no curve point decodes, and fails its signature.
        let mut off_curve = valid.clone();
        let sender_at = find(&valid, &alice.public().0);
        off_curve[sender_at..sender_at + 32].copy_from_slice(&[0xff; 32]);
        p.refused_bytes(
            &format!("{case}: sender off the curve"),
            &off_curve,
            RejectCode::BadSignature,
        );
        let mut zero_sig = valid.clone();
        let n = zero_sig.len();
        zero_sig[n - 64..].fill(0);
        p.refused_bytes(
            &format!("{case}: zero signature"),
            &zero_sig,
            RejectCode::BadSignature,
        );
        p.assert_unchanged(case, &before);
    });
}

/// Every one-byte corruption of a signed transaction is refused, each with
/// a known rejection code.
#[test]
fn every_one_byte_corruption_of_a_signed_transaction_is_refused() {
    rule("one-byte corruptions", |p| {
        let case = "one-byte corruptions";
        let before = p.snapshot(case);
        let valid = memo_transfer(p).to_bytes();
        for i in 0..valid.len() {
            let mut b = valid.clone();
            b[i] ^= 0x01;
            let what = format!("{case}: byte {i} of {} flipped", valid.len());
            match p
                .rpc
                .call("merit_sendTransaction", json!([hex::encode(&b)]))
            {
                Ok(v) => panic!("{what}: admitted as {v}"),
                Err(e) => {
                    assert_eq!(e.code, -32003, "{what}: {e:?}");
                    let code = e.data["code"].as_str().unwrap_or("");
                    assert!(RejectCode::from_name(code).is_some(), "{what}: {e:?}");
                }
            }
        }
        p.assert_unchanged(case, &before);
    });
}

/// Bad params of the read methods (-32602), bodies that are not JSON
/// (-32700) or not a request (-32600), unknown methods (-32601), and
/// nesting far deeper than any parser should recurse.
#[test]
fn bad_params_and_bad_json_are_refused_with_their_json_rpc_codes() {
    rule("bad params", |p| {
        let case = "bad params";
        let alice = p.c.shopper("alice");
        let before = p.snapshot(case);
        p.bad_params(
            &format!("{case}: address"),
            "merit_getAccount",
            json!(["mrt1qqqq"]),
        );
        p.bad_params(
            &format!("{case}: address type"),
            "merit_getAccount",
            json!([7]),
        );
        p.bad_params(
            &format!("{case}: hash"),
            "merit_getTransaction",
            json!(["00ff"]),
        );
        p.bad_params(
            &format!("{case}: symbol"),
            "merit_getToken",
            json!(["bean"]),
        );
        p.bad_params(&format!("{case}: block"), "merit_getBlock", json!([-1]));
        p.bad_params(
            &format!("{case}: block"),
            "merit_getBlock",
            json!(["earliest"]),
        );
        p.bad_params(
            &format!("{case}: book"),
            "merit_getOrderBook",
            json!(["BEAN", "BEAN"]),
        );
        p.bad_params(
            &format!("{case}: book limit"),
            "merit_getOrderBook",
            json!(["BEAN", "BOOK", 0]),
        );
        p.bad_params(
            &format!("{case}: cursor"),
            "merit_getHistory",
            json!([alice.public().to_bech32(), "x:y"]),
        );
        p.bad_params(&format!("{case}: escrow"), "merit_getEscrow", json!(["zz"]));
        p.bad_params(&format!("{case}: audit"), "merit_audit", json!(["NOSUCH"]));
        let (_, body) = p.rpc.post_raw(b"{not json").expect("an answer");
        assert!(body.contains("-32700"), "{case}: not JSON: {body}");
        let (_, body) = p
            .rpc
            .post_raw(br#"{"id":1,"method":42}"#)
            .expect("an answer");
        assert!(body.contains("-32600"), "{case}: not a request: {body}");
        let e = p.rpc.call("merit_nope", json!([])).unwrap_err();
        assert_eq!(e.code, -32601, "{case}: unknown method");
        let (_, body) = p.rpc.post_raw(b"\xff\xfe{}").expect("an answer");
        assert!(body.contains("-32700"), "{case}: not UTF-8: {body}");
        // Nesting far deeper than any parser should recurse.
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"merit_getAccount","params":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let (status, body) = post_large(p.rpc.addr, deep.as_bytes()).expect("an answer");
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert!(
            matches!(
                answer["error"]["code"].as_i64(),
                Some(-32700 | -32600 | -32602)
            ),
            "{case}: 100,000 nested arrays: {status} {body}"
        );
        p.assert_unchanged(case, &before);
    });
}

/// Subscriptions to unknown topics or bad addresses are refused over
/// WebSocket with -32602.
#[test]
fn bad_subscriptions_are_refused_over_websocket() {
    rule("malformed subscription", |p| {
        let case = "malformed subscription";
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (mut tx, mut rx) = rt
            .block_on(ws::connect(p.rpc.addr))
            .unwrap_or_else(|e| panic!("{case}: WebSocket: {e}"));
        let bad = [
            json!(["nope"]),
            json!(["account"]),
            json!(["account", "mrt1nope"]),
            json!(["account", 42]),
            json!([]),
            json!([7]),
        ];
        for (id, params) in bad.iter().enumerate() {
            let call =
                json!({"jsonrpc": "2.0", "id": id, "method": "merit_subscribe", "params": params});
            let mut buf = Vec::new();
            let answer: Value = rt
                .block_on(async {
                    ws::send(&mut tx, &call.to_string()).await?;
                    tokio::time::timeout(LONG, ws::receive(&mut rx, &mut buf))
                        .await
                        .map_err(|_| "no answer".to_string())??;
                    serde_json::from_slice(&buf).map_err(|e| e.to_string())
                })
                .unwrap_or_else(|e| panic!("{case} {params}: {e}"));
            assert_eq!(answer["id"], id, "{case} {params}: {answer}");
            assert_eq!(answer["error"]["code"], -32602, "{case} {params}: {answer}");
            let reason = answer["error"]["data"]["reason"].as_str().unwrap_or("");
            assert!(!reason.is_empty(), "{case} {params}: {answer}");
        }
        // A connection holds at most MAX_SUBSCRIPTIONS_PER_CONNECTION
        // subscriptions; one more is refused, naming the bound.
        let max = MAX_SUBSCRIPTIONS_PER_CONNECTION as usize;
        for k in 0..=max {
            let id = 1_000 + k;
            let call = json!({"jsonrpc": "2.0", "id": id, "method": "merit_subscribe", "params": ["newBlocks"]});
            let answer: Value = rt
                .block_on(async {
                    ws::send(&mut tx, &call.to_string()).await?;
                    // Skip notifications of blocks made meanwhile.
                    loop {
                        let mut buf = Vec::new();
                        tokio::time::timeout(LONG, ws::receive(&mut rx, &mut buf))
                            .await
                            .map_err(|_| "no answer".to_string())??;
                        let msg: Value = serde_json::from_slice(&buf).map_err(|e| e.to_string())?;
                        if msg["id"] == id {
                            return Ok::<Value, String>(msg);
                        }
                    }
                })
                .unwrap_or_else(|e| panic!("{case}: subscription {k}: {e}"));
            if k < max {
                assert!(
                    answer["result"].is_string() || answer["result"].is_number(),
                    "{case}: subscription {k}: {answer}"
                );
            } else {
                assert_eq!(
                    answer["error"]["code"], -32006,
                    "{case}: subscription {k}: {answer}"
                );
                assert_eq!(
                    answer["error"]["data"]["reason"],
                    format!("a connection holds at most {max} subscriptions"),
                    "{case}: {answer}"
                );
            }
        }
    });
}

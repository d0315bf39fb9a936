//! A JSON-RPC proxy that lies: it stands between a wallet and an honest
//! node, forwards every call, and rewrites the answers as its [`Lie`] says
//! (balances, decimals, receipts, status, an old state replayed, a forged
//! certificate, a second certified block at one height). The verifying
//! wallet must refuse each lie; `--trust-node` must believe it.
//!
//! Plain HTTP/1.1 on std threads, one request per connection
//! (`Connection: close`), which is all the wallet's client needs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use merit_chain::block::{
    self, BlockHeader, CommitCertificate, Event, Receipt, TxOutcome, ValidatorSignature,
};
use merit_chain::consensus::{Statement, Vote, signing_bytes};
use merit_chain::encoding::{self, BoundedVec};
use merit_chain::light::TxProof;
use merit_chain::proof::EntriesProof;
use merit_chain::state::StateValue;
use merit_chain::{Keypair, RejectCode};
use serde_json::Value;

/// What the proxy lies about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// Forwards every answer unchanged (and remembers the proofs).
    Honest,
    /// Raises every balance, in `merit_getAccount` and in the holdings of
    /// `merit_getProof` (its proof bytes included).
    Balances,
    /// Says every token has 4 decimals, in the plain answers and in the
    /// token entries of `merit_getTokenProof`.
    Decimals,
    /// Turns every receipt into a rejection, in `merit_getTransaction` and
    /// in the receipt inside `merit_getTxProof`.
    Receipts,
    /// Calls a committed transaction rejected in `merit_getTransaction`
    /// only, leaving its (honest) proof alone.
    Status,
    /// Answers `merit_getProof` with the first answer it saw for the same
    /// params: an old state.
    ReplayOldState,
    /// Replaces every proof's certificate with one that keys of no
    /// validator signed.
    ForgedCertificate,
    /// Says it took every submitted transaction, and forwards none: they
    /// never commit.
    DropSubmissions,
    /// Forwards submissions, then says it does not know any transaction.
    HideTransactions,
    /// Answers `merit_getProof` with the last answer it saw for the same
    /// params, its header moved to another round and certified again by
    /// `signers`: a second certified block at that height.
    Fork,
    /// Changes the amount of the first posting of `merit_getStatement`.
    StatementAltered,
    /// Drops the first posting of `merit_getStatement`.
    StatementDropped,
    /// Turns a block's first committed receipt into a rejection in the
    /// canonical bytes of `merit_getBlock {full}`, header untouched.
    BlockReceipt,
    /// As [`Lie::BlockReceipt`], with the header's `receipts_root` made to
    /// match and the block certified by keys of no validator.
    BlockForged,
    /// Gives every block of `merit_getBlock {full}` another parent, and
    /// certifies it again by `signers`: a fork signed by a quorum.
    BlockForked,
}

/// The proxy; it stops when dropped.
#[derive(Debug)]
pub struct LyingProxy {
    pub addr: SocketAddr,
    lie: Arc<Mutex<Lie>>,
    stop: Arc<AtomicBool>,
}

/// What the proxy shares with its connections.
#[derive(Debug)]
struct State {
    upstream: SocketAddr,
    lie: Arc<Mutex<Lie>>,
    /// `merit_getProof` answers by their params, oldest first.
    seen: Mutex<BTreeMap<String, Vec<Value>>>,
    /// The validator keys that certify a forked block.
    signers: Vec<Keypair>,
}

impl LyingProxy {
    /// A proxy in front of the node at `upstream`; `signers` are keys of a
    /// quorum of validators, for [`Lie::Fork`].
    pub fn start(upstream: SocketAddr, signers: Vec<Keypair>) -> LyingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let lie = Arc::new(Mutex::new(Lie::Honest));
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(State {
            upstream,
            lie: lie.clone(),
            seen: Mutex::new(BTreeMap::new()),
            signers,
        });
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let state = state.clone();
                std::thread::spawn(move || {
                    let _ = serve(&state, conn);
                });
            }
        });
        LyingProxy { addr, lie, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn lie(&self, lie: Lie) {
        *self.lie.lock().expect("the lie") = lie;
    }
}

impl Drop for LyingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads one HTTP request's body.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// Sends `body` to the node and returns the body of its answer.
fn forward(upstream: SocketAddr, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(upstream)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {upstream}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut reader = BufReader::new(s);
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            }
            if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut out = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            out.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = length {
        out.resize(n, 0);
        reader.read_exact(&mut out)?;
    } else {
        reader.read_to_end(&mut out)?;
    }
    Ok(out)
}

fn serve(state: &State, conn: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let body = read_request(&mut reader)?;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let method = request["method"].as_str().unwrap_or("").to_string();
    let params = request["params"].to_string();
    let lie = *state.lie.lock().expect("the lie");
    let mut answer: Value = if lie == Lie::DropSubmissions && method == "merit_sendTransaction" {
        let hash = request["params"][0]
            .as_str()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| merit_chain::Transaction::from_bytes(&b).ok())
            .map(|t| t.hash().to_hex());
        serde_json::json!({"jsonrpc": "2.0", "id": request["id"], "result": hash})
    } else {
        let answer = forward(state.upstream, &body)?;
        serde_json::from_slice(&answer).unwrap_or(Value::Null)
    };
    if method == "merit_getProof" && answer["result"].is_object() {
        let mut seen = state.seen.lock().expect("the answers seen");
        let list = seen.entry(params.clone()).or_default();
        match lie {
            Lie::ReplayOldState => {
                if let Some(first) = list.first() {
                    answer = first.clone();
                }
            }
            Lie::Fork => {
                if let Some(last) = list.last() {
                    answer = last.clone();
                    fork(&mut answer["result"], &state.signers);
                }
            }
            _ => list.push(answer.clone()),
        }
    }
    if method == "merit_getBlock" {
        lie_about_block(lie, &mut answer["result"], &state.signers);
    }
    rewrite(lie, &method, &mut answer["result"]);
    let out = serde_json::to_vec(&answer).unwrap_or_default();
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        out.len()
    )?;
    conn.write_all(&out)?;
    conn.flush()
}

/// A certificate of `header`'s block at `round`, signed by `keys`.
fn certificate(
    chain_id: &merit_chain::tx::ChainId,
    height: u64,
    round: u32,
    block_hash: merit_chain::Hash32,
    keys: &[Keypair],
) -> CommitCertificate {
    let vote = Vote {
        height,
        round,
        block_hash,
    };
    let bytes = signing_bytes(chain_id, &Statement::Commit(vote));
    let signatures = keys
        .iter()
        .map(|k| ValidatorSignature {
            validator: k.public(),
            signature: k.sign(&bytes),
        })
        .collect();
    CommitCertificate {
        height,
        round,
        block_hash,
        signatures: BoundedVec::new(signatures).expect("few signers"),
    }
}

fn decode_proof(result: &Value) -> Option<EntriesProof> {
    let bytes = hex::decode(result["proof"].as_str()?).ok()?;
    EntriesProof::from_bytes(&bytes).ok()
}

fn set_proof(result: &mut Value, proof: &EntriesProof) {
    result["proof"] = Value::String(hex::encode(proof.to_bytes()));
}

/// Moves a state proof's header to another round and certifies it with
/// `signers`: the same state, a second certified block at its height.
fn fork(result: &mut Value, signers: &[Keypair]) {
    let Some(mut proof) = decode_proof(result) else {
        return;
    };
    proof.header.round += 1;
    proof.certificate = certificate(
        &proof.header.chain_id,
        proof.header.height,
        proof.header.round,
        proof.header.hash(),
        signers,
    );
    set_proof(result, &proof);
}

/// Applies a block lie to the canonical bytes of a `merit_getBlock`
/// answer.
fn lie_about_block(lie: Lie, result: &mut Value, signers: &[Keypair]) {
    if !matches!(lie, Lie::BlockReceipt | Lie::BlockForged | Lie::BlockForked) {
        return;
    }
    let bytes = &mut result["bytes"];
    let Some(mut header) = hex_decode::<BlockHeader>(&bytes["header"]) else {
        return;
    };
    let mut receipts: Vec<Receipt> = bytes["receipts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(hex_decode)
        .collect();
    let events: Vec<Event> = bytes["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(hex_decode)
        .collect();
    let signers: Vec<Keypair> = match lie {
        Lie::BlockReceipt | Lie::BlockForged => {
            let Some(k) = receipts.iter().position(|r| r.code().is_none()) else {
                return;
            };
            receipts[k].outcome = TxOutcome::Rejected {
                code: RejectCode::InsufficientBalance,
                original: None,
            };
            bytes["receipts"] = receipts
                .iter()
                .map(|r| Value::String(hex::encode(encoding::encode(r))))
                .collect();
            if lie == Lie::BlockReceipt {
                return;
            }
            header.receipts_root = block::receipts_root(&receipts, &events);
            (0..4)
                .map(|i| Keypair::insecure_from_label(&format!("lying-proxy/forger-{i}")))
                .collect()
        }
        _ => {
            header.parent_hash = merit_chain::crypto::sha256(b"lying-proxy/another parent");
            signers.to_vec()
        }
    };
    let cert = certificate(
        &header.chain_id,
        header.height,
        header.round,
        header.hash(),
        &signers,
    );
    bytes["header"] = Value::String(hex::encode(encoding::encode(&header)));
    bytes["certificate"] = Value::String(hex::encode(encoding::encode(&cert)));
}

fn hex_decode<T: encoding::Decode<()>>(v: &Value) -> Option<T> {
    let raw = hex::decode(v.as_str()?).ok()?;
    encoding::decode(&raw, merit_chain::limits::MAX_BLOCK_BYTES).ok()
}

/// Applies `lie` to the result of `method`.
fn rewrite(lie: Lie, method: &str, result: &mut Value) {
    match (lie, method) {
        (Lie::Balances, "merit_getAccount") => {
            if let Some(balances) = result["balances"].as_object_mut() {
                for v in balances.values_mut() {
                    *v = Value::String("999999.00".to_string());
                }
            }
        }
        (Lie::Balances, "merit_getProof") => {
            if let Some(mut proof) = decode_proof(result) {
                let mut entries = proof.entries.to_vec();
                for e in &mut entries {
                    if let Some(StateValue::Holding(h)) = &mut e.value {
                        h.balance += 100;
                    }
                }
                proof.entries = BoundedVec::new(entries).expect("as many entries");
                set_proof(result, &proof);
            }
        }
        (Lie::Decimals, "merit_getToken") => result["decimals"] = Value::from(4),
        (Lie::Decimals, "merit_listTokens") => {
            if let Some(tokens) = result.as_array_mut() {
                for t in tokens {
                    t["decimals"] = Value::from(4);
                }
            }
        }
        (Lie::Decimals, "merit_getTokenProof") => {
            result["token"]["decimals"] = Value::from(4);
            if let Some(mut proof) = decode_proof(result) {
                let mut entries = proof.entries.to_vec();
                for e in &mut entries {
                    if let Some(StateValue::Token(t)) = &mut e.value {
                        t.decimals = 4;
                    }
                }
                proof.entries = BoundedVec::new(entries).expect("as many entries");
                set_proof(result, &proof);
            }
        }
        (Lie::HideTransactions, "merit_getTransaction") => {
            for field in [
                "height", "index", "kind", "sender", "code", "message", "original",
            ] {
                result[field] = Value::Null;
            }
            result["status"] = Value::from("unknown");
            result["events"] = Value::Array(Vec::new());
        }
        (Lie::Receipts | Lie::Status, "merit_getTransaction")
            if result["status"] == "committed" =>
        {
            result["status"] = Value::from("rejected");
            result["code"] = Value::from("InsufficientBalance");
        }
        (Lie::Receipts, "merit_getTxProof") => {
            let proof = result["proof"]
                .as_str()
                .and_then(|p| hex::decode(p).ok())
                .and_then(|b| TxProof::from_bytes(&b).ok());
            if let Some(mut proof) = proof {
                proof.receipt.outcome = merit_chain::block::TxOutcome::Rejected {
                    code: RejectCode::InsufficientBalance,
                    original: None,
                };
                result["proof"] = Value::String(hex::encode(proof.to_bytes()));
                result["status"] = Value::from("rejected");
                result["code"] = Value::from("InsufficientBalance");
            }
        }
        (Lie::StatementAltered | Lie::StatementDropped, "merit_getStatement") => {
            let tokens = result["tokens"].as_array_mut().into_iter().flatten();
            if let Some(lines) = tokens
                .filter_map(|t| t["postings"].as_array_mut())
                .find(|l| !l.is_empty())
            {
                if lie == Lie::StatementDropped {
                    lines.remove(0);
                } else {
                    lines[0]["amount"] = Value::from("0.07");
                }
            }
        }
        (Lie::ForgedCertificate, "merit_getProof" | "merit_getTokenProof") => {
            if let Some(mut proof) = decode_proof(result) {
                let forgers: Vec<Keypair> = (0..4)
                    .map(|i| Keypair::insecure_from_label(&format!("lying-proxy/forger-{i}")))
                    .collect();
                proof.certificate = certificate(
                    &proof.header.chain_id,
                    proof.header.height,
                    proof.header.round,
                    proof.header.hash(),
                    &forgers,
                );
                set_proof(result, &proof);
            }
        }
        _ => {}
    }
}

//! The load generator: funded accounts, pre-signed transactions, paced
//! submission over WebSocket JSON-RPC, and commit tracking from a
//! `newBlocks` subscription.
//!
//! Latency is measured per transaction from the moment its batch is
//! written to the socket to the moment the `newBlocks` notification of the
//! block carrying it arrives. Every acknowledged transaction must show up
//! in exactly one block; one that never does is `lost`, one that shows up
//! twice is `duplicated`, and either fails the run.

// Looked up by key only, never iterated.
#![allow(clippy::disallowed_types)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::limits::{MAX_PAY_LEGS, MAX_TX_TTL_BLOCKS};
use merit_chain::tx::{OrderId, PayLeg};
use merit_chain::{Hash32, Keypair, Symbol, Transaction, TxBody, TxKind};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

use super::ws;
use crate::cluster::Rpc;

/// Transactions in one JSON-RPC batch request (the node's limit is 100).
pub const DEFAULT_BATCH: usize = 100;
/// Batches one connection may have unanswered at once.
pub const DEFAULT_WINDOW: usize = 16;
/// WebSocket connections per node.
pub const DEFAULT_CONNECTIONS_PER_NODE: usize = 2;
/// Funded accounts the load is spread over.
pub const DEFAULT_ACCOUNTS: usize = 4_000;
/// Base units of each token minted to every bench account per preparation,
/// at most: a state of very many accounts gets less each (see
/// [`funding_units`]).
pub const FUNDING_UNITS: u64 = 5_000;
/// Base units of each token the funding of one preparation may mint in all,
/// well within the devnet tokens' caps (10,000,000.00 and 5,000,000.00).
pub const FUNDING_BUDGET: u64 = 100_000_000;
/// Legs of each payment in the `pay` mix.
pub const PAY_LEGS: usize = 3;
/// Legs of each split payment in the `mixed` mix.
pub const MIXED_PAY_LEGS: usize = 5;
/// Funding payments sent before waiting for them to commit, within the
/// node's per-sender mempool quota.
const FUNDING_WAVE: usize = 1_000;

/// Base units of each token every one of `accounts` bench accounts gets.
pub fn funding_units(accounts: usize) -> u64 {
    (FUNDING_BUDGET / accounts.max(1) as u64).clamp(1, FUNDING_UNITS)
}
/// How long a run waits after the last submission for commits to arrive.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);
/// Pacing tick of a fixed-rate run.
const TICK: Duration = Duration::from_millis(2);

/// What the load is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mix {
    /// Single transfers of one base unit.
    Transfer,
    /// Split payments of one base unit to each of [`PAY_LEGS`] receivers.
    Pay,
    /// Of every ten transactions: four transfers of the first token, one
    /// of the second, two split payments of [`MIXED_PAY_LEGS`] legs, one
    /// combined payment in both tokens, and two offers on the book between
    /// them, placed on both sides at one price so that they cross.
    Mixed,
}

/// What transaction `i` of a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Transfer { second_token: bool },
    Split { legs: usize },
    Combined,
    Offer { sell_second: bool },
}

impl Mix {
    fn shape(self, i: usize) -> Shape {
        match self {
            Mix::Transfer => Shape::Transfer {
                second_token: false,
            },
            Mix::Pay => Shape::Split { legs: PAY_LEGS },
            Mix::Mixed => match i % 10 {
                0..=3 => Shape::Transfer {
                    second_token: false,
                },
                4 => Shape::Transfer { second_token: true },
                5 | 6 => Shape::Split {
                    legs: MIXED_PAY_LEGS,
                },
                7 => Shape::Combined,
                // Alternate sides from one ten to the next.
                _ => Shape::Offer {
                    sell_second: (i / 10 + i).is_multiple_of(2),
                },
            },
        }
    }

    /// Whether the load needs the accounts to hold a second token.
    fn needs_second_token(self) -> bool {
        self == Mix::Mixed
    }
}

impl std::str::FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "transfer" => Ok(Mix::Transfer),
            "pay" => Ok(Mix::Pay),
            "mixed" => Ok(Mix::Mixed),
            _ => Err(format!("unknown mix `{s}`: transfer, pay or mixed")),
        }
    }
}

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Transactions per second offered; `None` submits as fast as the nodes
    /// answer, within the window.
    pub rate: Option<u64>,
    pub duration: Duration,
    pub mix: Mix,
    /// Transactions signed for an unpaced run (a paced one signs
    /// `rate * duration`).
    pub max_txs: usize,
    pub batch: usize,
    pub window: usize,
    pub connections_per_node: usize,
    pub drain: Duration,
}

impl Default for LoadSpec {
    fn default() -> Self {
        LoadSpec {
            rate: Some(5_000),
            duration: Duration::from_secs(10),
            mix: Mix::Transfer,
            max_txs: 600_000,
            batch: DEFAULT_BATCH,
            window: DEFAULT_WINDOW,
            connections_per_node: DEFAULT_CONNECTIONS_PER_NODE,
            drain: DEFAULT_DRAIN,
        }
    }
}

/// A chain ready for load: its nodes, the funded accounts and the token.
#[derive(Debug)]
pub struct Bench {
    pub nodes: Vec<SocketAddr>,
    pub chain_id: String,
    pub validators: usize,
    pub token: Symbol,
    /// Held too when the accounts were funded for the `mixed` mix.
    pub second_token: Option<Symbol>,
    pub accounts: Arc<Vec<Keypair>>,
    run: AtomicU64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub validators: usize,
    pub mix: Mix,
    /// Offered rate, or `null` for an unpaced run.
    pub offered_tps: Option<u64>,
    /// Seconds from the first to the last submission.
    pub submit_secs: f64,
    /// Transactions sent to the nodes.
    pub submitted: u64,
    /// Accepted by a node (the RPC answered a hash).
    pub acked: u64,
    /// Refused by a node, by reason.
    pub refused: u64,
    pub refusals: BTreeMap<String, u64>,
    pub submitted_tps: f64,
    /// Acknowledged transactions committed with success.
    pub committed: u64,
    /// Acknowledged transactions committed with a rejection code.
    pub rejected: u64,
    /// Acknowledged but never seen in a block.
    pub lost: u64,
    /// Seen in more than one block.
    pub duplicated: u64,
    /// Committed transactions per second, from the first commit to the last.
    pub committed_tps: f64,
    pub latency_ms: Latency,
    pub blocks: u64,
    pub blocks_per_sec: f64,
    pub txs_per_block: f64,
    pub tx_bytes_avg: f64,
    /// Problems that fail the run: lost or duplicated transactions.
    pub failures: Vec<String>,
    /// What the node processes used, when the benchmark started them.
    pub usage: Option<super::procs::Usage>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// One JSON-RPC batch request of `Plan::batch` consecutive transactions,
/// signed ahead of its turn.
struct SignedBatch {
    request: String,
    /// Encoded size of its transactions, in bytes.
    bytes: usize,
}

/// The transactions of a run. Their expiry is counted in blocks from the
/// height at which they are signed, and a long run at a high block rate
/// outlives any one signing height: so the first batches are signed before
/// the run starts and the rest a few seconds ahead of their turn
/// ([`SIGN_AHEAD`]), each at the latest height seen.
struct Plan {
    signer: Signer,
    count: usize,
    batch: usize,
    batches: Vec<std::sync::OnceLock<SignedBatch>>,
    /// Transaction hash to its index in the run.
    index: std::sync::RwLock<HashMap<Hash32, u32>>,
    /// The next batch the sender will send.
    next_batch: AtomicUsize,
    /// The highest block height seen by the run.
    height: AtomicU64,
}

/// How far ahead of the sender batches are signed during a paced run.
const SIGN_AHEAD: Duration = Duration::from_secs(3);

/// What signing the run's transactions needs, apart from the bench.
#[derive(Clone)]
struct Signer {
    chain_id: String,
    token: Symbol,
    second_token: Symbol,
    accounts: Arc<Vec<Keypair>>,
    run: u64,
    mix: Mix,
}

const ACK_NONE: u8 = 0;
const ACK_OK: u8 = 1;
const ACK_REFUSED: u8 = 2;

/// Per-transaction progress, shared by the tasks of a run.
struct Track {
    start: Instant,
    sent_us: Vec<AtomicU64>,
    ack: Vec<AtomicU8>,
    commit_us: Vec<AtomicU64>,
    commits: Vec<AtomicU8>,
    rejected: Vec<AtomicBool>,
    refusals: std::sync::Mutex<BTreeMap<String, u64>>,
    acked: AtomicUsize,
    settled: AtomicUsize,
    blocks: AtomicU64,
    block_txs: AtomicU64,
    first_block_us: AtomicU64,
    last_block_us: AtomicU64,
}

impl Track {
    fn new(n: usize) -> Track {
        let zeros = || (0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Track {
            start: Instant::now(),
            sent_us: zeros(),
            ack: (0..n).map(|_| AtomicU8::new(ACK_NONE)).collect(),
            commit_us: zeros(),
            commits: (0..n).map(|_| AtomicU8::new(0)).collect(),
            rejected: (0..n).map(|_| AtomicBool::new(false)).collect(),
            refusals: std::sync::Mutex::new(BTreeMap::new()),
            acked: AtomicUsize::new(0),
            settled: AtomicUsize::new(0),
            blocks: AtomicU64::new(0),
            block_txs: AtomicU64::new(0),
            first_block_us: AtomicU64::new(0),
            last_block_us: AtomicU64::new(0),
        }
    }

    fn now_us(&self) -> u64 {
        // Never 0, which means "not yet".
        (self.start.elapsed().as_micros() as u64).max(1)
    }

    fn refuse(&self, idx: usize, reason: String) {
        if self.ack[idx].swap(ACK_REFUSED, Ordering::Relaxed) == ACK_NONE {
            self.settled.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut r) = self.refusals.lock() {
                *r.entry(reason).or_insert(0) += 1;
            }
        }
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The bench accounts' keys, derived on every core: a million take seconds.
fn derive_accounts(n: usize) -> Vec<Keypair> {
    let key = |i: usize| Keypair::insecure_from_label(&format!("merit-bench/account/{i}"));
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let per = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = (0..n)
            .step_by(per)
            .map(|from| s.spawn(move || (from..(from + per).min(n)).map(key).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_default())
            .collect()
    })
}

fn seed_from_clock() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let h = merit_chain::crypto::sha256(&nanos.to_le_bytes());
    u64::from_le_bytes([
        h.0[0], h.0[1], h.0[2], h.0[3], h.0[4], h.0[5], h.0[6], h.0[7],
    ])
}

impl Signer {
    /// Transaction `i` of the run: a transfer or a split payment from
    /// account `i mod n` to others spread by a cheap hash of `i`.
    fn transaction(&self, i: usize, expires: u64) -> Transaction {
        let n = self.accounts.len();
        let sender = &self.accounts[i % n];
        let pick = |k: usize| {
            let r = (i.wrapping_mul(2_654_435_761) + k * 7_919) % n;
            if r == i % n { (r + 1) % n } else { r }
        };
        let order_id = || OrderId::new(format!("b{:x}-{i}", self.run)).unwrap_or_default();
        let leg = |k: usize, token: Symbol| PayLeg {
            to: self.accounts[pick(k)].public().into(),
            token,
            amount: 1,
        };
        let pay = |legs: Vec<PayLeg>| TxKind::Pay {
            order_id: order_id(),
            legs: BoundedVec::new(legs).unwrap_or_default(),
            memo: None,
        };
        let kind = match self.mix.shape(i) {
            Shape::Transfer { second_token } => TxKind::Transfer {
                token: if second_token {
                    self.second_token
                } else {
                    self.token
                },
                to: self.accounts[pick(0)].public().into(),
                amount: 1,
                memo: None,
            },
            Shape::Split { legs } => pay((0..legs).map(|k| leg(k, self.token)).collect()),
            Shape::Combined => pay(vec![
                leg(0, self.token),
                leg(1, self.token),
                leg(2, self.second_token),
            ]),
            Shape::Offer { sell_second } => {
                let (sell, buy) = if sell_second {
                    (self.second_token, self.token)
                } else {
                    (self.token, self.second_token)
                };
                TxKind::PlaceOffer {
                    sell,
                    buy,
                    amount: 1,
                    price: merit_chain::tx::Price::new(1, 1),
                }
            }
        };
        TxBody {
            chain_id: BoundedString::new(self.chain_id.clone()).unwrap_or_default(),
            sender: sender.public(),
            sub: 0,
            nonce: self.run.wrapping_add(i as u64),
            expires_at_height: expires,
            kind,
        }
        .sign(sender)
    }
}

impl Plan {
    /// Signs batch `b` at the latest height seen, once.
    fn sign(&self, b: usize) {
        if self.batches[b].get().is_some() {
            return;
        }
        let expires = self.height.load(Ordering::Relaxed) + MAX_TX_TTL_BLOCKS;
        let from = b * self.batch;
        let to = (from + self.batch).min(self.count);
        let mut calls = Vec::with_capacity(to - from);
        let mut hashes = Vec::with_capacity(to - from);
        let mut bytes = 0;
        for i in from..to {
            let encoded = self.signer.transaction(i, expires).to_bytes();
            bytes += encoded.len();
            hashes.push((merit_chain::crypto::sha256(&encoded), i as u32));
            calls.push(format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"merit_sendTransaction\",\"params\":[\"{}\"]}}",
                hex::encode(encoded)
            ));
        }
        // Indexed before it can be sent, so no commit goes unrecognised.
        self.index
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .extend(hashes);
        let _ = self.batches[b].set(SignedBatch {
            request: format!("[{}]", calls.join(",")),
            bytes,
        });
    }

    /// Signs the remaining batches, staying `ahead` batches in front of the
    /// sender, until all are signed or `stop` is set.
    fn sign_ahead(&self, ahead: usize, stop: &AtomicBool) {
        for b in 0..self.batches.len() {
            while b > self
                .next_batch
                .load(Ordering::Relaxed)
                .saturating_add(ahead)
            {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(TICK);
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
            self.sign(b);
        }
    }

    fn index_of(&self, hash: &str) -> Option<usize> {
        let h = Hash32::from_hex(hash).ok()?;
        self.index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&h)
            .map(|&i| i as usize)
    }

    /// Transactions signed, and their average encoded size.
    fn signed_bytes_avg(&self) -> f64 {
        let (mut txs, mut bytes) = (0usize, 0usize);
        for (b, slot) in self.batches.iter().enumerate() {
            if let Some(s) = slot.get() {
                txs += (self.count - b * self.batch).min(self.batch);
                bytes += s.bytes;
            }
        }
        bytes as f64 / txs.max(1) as f64
    }
}

impl Bench {
    /// Connects to a devnet-keyed chain and funds `accounts` bench accounts
    /// from the first merchant, who issues the first demo token: one mint
    /// to itself, then payments of 50 legs. A `mixed` load needs a second
    /// token too, which the second merchant funds the same way.
    pub fn prepare(nodes: Vec<SocketAddr>, accounts: usize, mix: Mix) -> Result<Bench, String> {
        let first = *nodes.first().ok_or("no node to load")?;
        let rpc = Rpc::new(first);
        let status = rpc
            .status()
            .ok_or_else(|| format!("no Merit node answers at {first}"))?;
        let chain_id = status["chain_id"].as_str().unwrap_or_default().to_string();
        let validators = status["validators"].as_u64().unwrap_or(0) as usize;
        let layout = merit_genesis::devnet(validators.max(1), 1, 2);
        let issuers: Vec<(Keypair, Symbol)> = layout
            .merchants
            .iter()
            .take(if mix.needs_second_token() { 2 } else { 1 })
            .map(|m| (m.account.clone(), m.token))
            .collect();
        if issuers.len() < 1 + usize::from(mix.needs_second_token()) {
            return Err("the mixed load needs a devnet of at least 2 validators".into());
        }
        let keys = derive_accounts(accounts);
        if keys.len() != accounts {
            return Err("deriving the bench accounts' keys failed".into());
        }
        let bench = Bench {
            nodes,
            chain_id,
            validators,
            token: issuers[0].1,
            second_token: issuers.get(1).map(|i| i.1),
            accounts: Arc::new(keys),
            run: AtomicU64::new(seed_from_clock()),
        };
        for (funder, token) in &issuers {
            bench.fund(&rpc, funder, *token)?;
        }
        Ok(bench)
    }

    fn body(&self, key: &Keypair, nonce: u64, expires: u64, kind: TxKind) -> Transaction {
        TxBody {
            chain_id: BoundedString::new(self.chain_id.clone()).unwrap_or_default(),
            sender: key.public(),
            sub: 0,
            nonce,
            expires_at_height: expires,
            kind,
        }
        .sign(key)
    }

    /// Mints `token` to its issuer and pays every account its share, in
    /// waves that stay within the per-sender mempool quota.
    fn fund(&self, rpc: &Rpc, funder: &Keypair, token: Symbol) -> Result<(), String> {
        let units = funding_units(self.accounts.len());
        let total = units
            .checked_mul(self.accounts.len() as u64)
            .ok_or("too many accounts")?;
        let height = rpc.height().ok_or("the node stopped answering")?;
        let expires = height + MAX_TX_TTL_BLOCKS / 2;
        let seed = self.run.fetch_add(1, Ordering::Relaxed);
        let mint = self.body(
            funder,
            seed,
            expires,
            TxKind::Mint {
                token,
                to: funder.public().into(),
                amount: total,
            },
        );
        let hash = rpc.send(&mint).map_err(|e| format!("mint: {e:?}"))?;
        expect_committed(rpc, &hash)?;
        let chunks: Vec<&[Keypair]> = self.accounts.chunks(MAX_PAY_LEGS).collect();
        for (w, wave) in chunks.chunks(FUNDING_WAVE).enumerate() {
            // Signed at the height of its wave, so no wave outlives its expiry.
            let height = rpc.height().ok_or("the node stopped answering")?;
            let expires = height + MAX_TX_TTL_BLOCKS / 2;
            let mut hashes = Vec::with_capacity(wave.len());
            for (j, chunk) in wave.iter().enumerate() {
                let k = w * FUNDING_WAVE + j;
                let legs: Vec<PayLeg> = chunk
                    .iter()
                    .map(|a| PayLeg {
                        to: a.public().into(),
                        token,
                        amount: units,
                    })
                    .collect();
                let kind = TxKind::Pay {
                    order_id: OrderId::new(format!("bench-fund-{seed:x}-{k}"))
                        .map_err(|_| "order id")?,
                    legs: BoundedVec::new(legs).map_err(|_| "legs")?,
                    memo: None,
                };
                let tx = self.body(funder, seed.wrapping_add(1 + k as u64), expires, kind);
                hashes.push(
                    rpc.send(&tx)
                        .map_err(|e| format!("funding payment: {e:?}"))?,
                );
            }
            for h in &hashes {
                expect_committed(rpc, h)?;
            }
        }
        Ok(())
    }

    /// Plans `count` transactions of `mix` in batches of `batch`, and signs
    /// the first `upfront` batches on every core.
    fn plan(&self, count: usize, mix: Mix, batch: usize, upfront: usize) -> Result<Plan, String> {
        let rpc = Rpc::new(self.nodes[0]);
        let height = rpc.height().ok_or("the node stopped answering")?;
        let plan = Plan {
            signer: Signer {
                chain_id: self.chain_id.clone(),
                token: self.token,
                second_token: self.second_token.unwrap_or(self.token),
                accounts: self.accounts.clone(),
                run: self.run.fetch_add(1, Ordering::Relaxed),
                mix,
            },
            count,
            batch,
            batches: (0..count.div_ceil(batch))
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            index: std::sync::RwLock::new(HashMap::with_capacity(count)),
            next_batch: AtomicUsize::new(0),
            height: AtomicU64::new(height),
        };
        let upfront = upfront.min(plan.batches.len());
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let per_thread = upfront.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for from in (0..upfront).step_by(per_thread) {
                let plan = &plan;
                s.spawn(move || {
                    for b in from..(from + per_thread).min(upfront) {
                        plan.sign(b);
                    }
                });
            }
        });
        if plan.batches[..upfront].iter().any(|b| b.get().is_none()) {
            return Err("a signing thread failed".into());
        }
        Ok(plan)
    }

    /// Runs one load and reports what it measured.
    pub async fn run(&self, spec: &LoadSpec) -> Result<Report, String> {
        let count = match spec.rate {
            Some(rate) => (rate as f64 * spec.duration.as_secs_f64()).ceil() as usize,
            None => spec.max_txs,
        }
        .max(1);
        let batch = spec.batch.clamp(1, DEFAULT_BATCH);
        // A paced run signs its first seconds now and the rest as it goes;
        // an unpaced one signs everything first.
        let (upfront, ahead) = match spec.rate {
            Some(rate) => {
                let ahead = ((rate as f64 * SIGN_AHEAD.as_secs_f64()) as usize).div_ceil(batch);
                (2 * ahead.max(1), ahead.max(1))
            }
            None => (usize::MAX, usize::MAX),
        };
        let plan = Arc::new(tokio::task::block_in_place(|| {
            self.plan(count, spec.mix, batch, upfront)
        })?);
        let stop_signing = Arc::new(AtomicBool::new(false));
        let signer = {
            let (plan, stop) = (plan.clone(), stop_signing.clone());
            std::thread::spawn(move || plan.sign_ahead(ahead, &stop))
        };
        let track = Arc::new(Track::new(count));

        // Subscribe first, so that no block is missed.
        let (mut sub_tx, mut sub_rx) = ws::connect(self.nodes[0]).await?;
        ws::send(
            &mut sub_tx,
            r#"{"jsonrpc":"2.0","id":0,"method":"merit_subscribe","params":["newBlocks"]}"#,
        )
        .await?;
        let mut buf = Vec::new();
        ws::receive(&mut sub_rx, &mut buf).await?;
        let answer: Value = serde_json::from_slice(&buf).map_err(err)?;
        if answer.get("result").is_none() {
            return Err(format!("merit_subscribe refused: {answer}"));
        }
        let listener = {
            let (plan, track) = (plan.clone(), track.clone());
            tokio::spawn(async move {
                let _keep = sub_tx;
                listen_blocks(sub_rx, &plan, &track).await
            })
        };

        // Submission connections, round-robin over the nodes.
        let mut conns = Vec::new();
        for k in 0..spec.connections_per_node.max(1) {
            for &addr in &self.nodes {
                let (tx, rx) = ws::connect(addr).await?;
                let inflight = Arc::new(AtomicUsize::new(0));
                let reader = {
                    let (plan, track, inflight) = (plan.clone(), track.clone(), inflight.clone());
                    tokio::spawn(async move { read_acks(rx, &plan, &track, &inflight).await })
                };
                conns.push(Conn {
                    sender: Arc::new(Mutex::new(tx)),
                    inflight,
                    _reader: reader,
                    _slot: k,
                });
            }
        }

        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<(), String>>();
        let started = Instant::now();
        let mut next_batch = 0usize;
        let mut turn = 0usize;
        let window = spec.window.max(1);
        while next_batch < plan.batches.len() {
            let due = match spec.rate {
                Some(rate) => {
                    let txs = (rate as f64 * started.elapsed().as_secs_f64()) as usize;
                    txs.div_ceil(plan.batch).min(plan.batches.len())
                }
                None => plan.batches.len(),
            };
            let mut sent_any = false;
            // A batch not signed yet waits for the signer (it never should
            // at the rates this machine sustains: it signs 3 s ahead).
            while next_batch < due && plan.batches[next_batch].get().is_some() {
                // The next connection with room in its window.
                let Some(c) = (0..conns.len())
                    .map(|k| (turn + k) % conns.len())
                    .find(|&c| conns[c].inflight.load(Ordering::Relaxed) < window)
                else {
                    break;
                };
                turn = c + 1;
                let conn = &conns[c];
                conn.inflight.fetch_add(1, Ordering::Relaxed);
                let b = next_batch;
                next_batch += 1;
                plan.next_batch.store(next_batch, Ordering::Relaxed);
                sent_any = true;
                let now = track.now_us();
                let from = b * plan.batch;
                let to = (from + plan.batch).min(plan.count);
                for i in from..to {
                    track.sent_us[i].store(now, Ordering::Relaxed);
                }
                let (sender, plan, done) = (conn.sender.clone(), plan.clone(), done_tx.clone());
                tokio::spawn(async move {
                    let mut s = sender.lock().await;
                    let request = plan.batches[b].get().map_or("", |s| s.request.as_str());
                    let r = ws::send(&mut s, request).await;
                    if r.is_err() {
                        let _ = done.send(r);
                    }
                });
            }
            if let Ok(Err(e)) = done_rx.try_recv() {
                stop_signing.store(true, Ordering::Relaxed);
                return Err(e);
            }
            if !sent_any {
                tokio::time::sleep(TICK).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
        let submit_secs = started.elapsed().as_secs_f64();
        stop_signing.store(true, Ordering::Relaxed);
        let _ = signer.join();

        // Wait for every answer, then for every acknowledged commit.
        let deadline = Instant::now() + spec.drain;
        while Instant::now() < deadline {
            let answered = conns
                .iter()
                .all(|c| c.inflight.load(Ordering::Relaxed) == 0);
            let acked = track.acked.load(Ordering::Relaxed);
            let settled = track.settled.load(Ordering::Relaxed);
            if answered && settled >= count && committed_count(&track) >= acked {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        listener.abort();
        Ok(self.report(spec, &plan, &track, submit_secs))
    }

    fn report(&self, spec: &LoadSpec, plan: &Plan, track: &Track, submit_secs: f64) -> Report {
        let mut latencies = Vec::new();
        let (mut acked, mut refused, mut committed, mut rejected, mut lost, mut duplicated) =
            (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
        let mut last_commit_us = 0u64;
        let mut first_commit_us = u64::MAX;
        for i in 0..plan.count {
            let sent = track.sent_us[i].load(Ordering::Relaxed);
            let commits = track.commits[i].load(Ordering::Relaxed);
            if commits > 1 {
                duplicated += 1;
            }
            match track.ack[i].load(Ordering::Relaxed) {
                ACK_OK => {
                    acked += 1;
                    if commits == 0 {
                        lost += 1;
                        continue;
                    }
                    let at = track.commit_us[i].load(Ordering::Relaxed);
                    last_commit_us = last_commit_us.max(at);
                    first_commit_us = first_commit_us.min(at);
                    latencies.push(at.saturating_sub(sent) as f64 / 1000.0);
                    if track.rejected[i].load(Ordering::Relaxed) {
                        rejected += 1;
                    } else {
                        committed += 1;
                    }
                }
                ACK_REFUSED => refused += 1,
                _ => {}
            }
        }
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let k = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len());
            latencies[k - 1]
        };
        // The rate at which the chain committed while the load ran: from the
        // first commit to the last. A chain that falls behind stretches this
        // window past the submission time; the pipeline's latency, reported
        // on its own below, does not count against the rate.
        let window_secs = if last_commit_us > first_commit_us && first_commit_us != u64::MAX {
            (last_commit_us - first_commit_us) as f64 / 1e6
        } else {
            0.0
        };
        let blocks = track.blocks.load(Ordering::Relaxed);
        let block_span = track
            .last_block_us
            .load(Ordering::Relaxed)
            .saturating_sub(track.first_block_us.load(Ordering::Relaxed))
            as f64
            / 1e6;
        let mut failures = Vec::new();
        if lost > 0 {
            failures.push(format!(
                "{lost} acknowledged transactions were never committed"
            ));
        }
        if duplicated > 0 {
            failures.push(format!("{duplicated} transactions were committed twice"));
        }
        let submitted = plan.count as u64;
        Report {
            validators: self.validators,
            mix: spec.mix,
            offered_tps: spec.rate,
            submit_secs,
            submitted,
            acked,
            refused,
            refusals: track.refusals.lock().map(|r| r.clone()).unwrap_or_default(),
            submitted_tps: if submit_secs > 0.0 {
                acked as f64 / submit_secs
            } else {
                0.0
            },
            committed,
            rejected,
            lost,
            duplicated,
            committed_tps: if window_secs > 0.0 {
                (committed + rejected) as f64 / window_secs
            } else {
                0.0
            },
            latency_ms: Latency {
                p50: pct(0.50),
                p95: pct(0.95),
                p99: pct(0.99),
                max: latencies.last().copied().unwrap_or(0.0),
            },
            blocks,
            blocks_per_sec: if block_span > 0.0 && blocks > 1 {
                (blocks - 1) as f64 / block_span
            } else {
                0.0
            },
            txs_per_block: if blocks > 0 {
                track.block_txs.load(Ordering::Relaxed) as f64 / blocks as f64
            } else {
                0.0
            },
            tx_bytes_avg: plan.signed_bytes_avg(),
            failures,
            usage: None,
        }
    }
}

struct Conn {
    sender: Arc<Mutex<ws::WsSender>>,
    inflight: Arc<AtomicUsize>,
    _reader: tokio::task::JoinHandle<()>,
    _slot: usize,
}

fn committed_count(track: &Track) -> usize {
    // Cheap enough at the end of a run: one pass.
    track
        .commits
        .iter()
        .zip(&track.ack)
        .filter(|(c, a)| a.load(Ordering::Relaxed) == ACK_OK && c.load(Ordering::Relaxed) > 0)
        .count()
}

fn expect_committed(rpc: &Rpc, hash: &str) -> Result<(), String> {
    let v = rpc
        .wait_final(hash, Duration::from_secs(60))
        .ok_or_else(|| format!("{hash} was not committed within 60 s"))?;
    if v["status"] != "committed" {
        return Err(format!("{hash} was rejected: {}", v["code"]));
    }
    Ok(())
}

/// Reads the answers to batch requests on one connection.
async fn read_acks(mut rx: ws::WsReceiver, plan: &Plan, track: &Track, inflight: &AtomicUsize) {
    let mut buf = Vec::new();
    while ws::receive(&mut rx, &mut buf).await.is_ok() {
        let Ok(answer) = serde_json::from_slice::<Value>(&buf) else {
            continue;
        };
        let calls = match &answer {
            Value::Array(calls) => calls.as_slice(),
            // A whole batch refused (e.g. too large) answers one error.
            other => std::slice::from_ref(other),
        };
        for call in calls {
            let Some(idx) = call["id"].as_u64().map(|i| i as usize) else {
                continue;
            };
            if idx >= plan.count {
                continue;
            }
            if call.get("result").is_some() {
                if track.ack[idx].swap(ACK_OK, Ordering::Relaxed) == ACK_NONE {
                    track.acked.fetch_add(1, Ordering::Relaxed);
                    track.settled.fetch_add(1, Ordering::Relaxed);
                }
            } else {
                let e = &call["error"];
                let reason = e["data"]["code"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{} {}", e["code"], e["message"]));
                track.refuse(idx, reason);
            }
        }
        let _ = inflight.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// Follows `newBlocks` and records when each planned transaction commits.
async fn listen_blocks(mut rx: ws::WsReceiver, plan: &Plan, track: &Track) {
    let mut buf = Vec::new();
    while ws::receive(&mut rx, &mut buf).await.is_ok() {
        let now = track.now_us();
        let Ok(msg) = serde_json::from_slice::<Value>(&buf) else {
            continue;
        };
        let block = &msg["params"]["result"];
        let Some(txs) = block["txs"].as_array() else {
            continue;
        };
        if let Some(h) = block["height"].as_u64() {
            plan.height.fetch_max(h, Ordering::Relaxed);
        }
        track.blocks.fetch_add(1, Ordering::Relaxed);
        track
            .block_txs
            .fetch_add(txs.len() as u64, Ordering::Relaxed);
        let _ = track
            .first_block_us
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        track.last_block_us.store(now, Ordering::Relaxed);
        for h in txs {
            let Some(idx) = h.as_str().and_then(|s| plan.index_of(s)) else {
                continue;
            };
            if track.commits[idx].fetch_add(1, Ordering::Relaxed) == 0 {
                track.commit_us[idx].store(now, Ordering::Relaxed);
            }
        }
        if let Some(rejected) = block["rejected"].as_array() {
            for r in rejected {
                if let Some(idx) = r["hash"].as_str().and_then(|s| plan.index_of(s)) {
                    track.rejected[idx].store(true, Ordering::Relaxed);
                }
            }
        }
    }
}

/// A report as a few lines for people.
pub fn describe(r: &Report) -> String {
    let offered = r.offered_tps.map_or_else(
        || "as fast as possible".to_string(),
        |t| format!("{t} tx/s"),
    );
    let mut out = format!(
        "{} validators, {:?} load, offered {offered}\n\
         submitted  {} in {:.1} s: {} acknowledged ({:.0} tx/s), {} refused\n\
         committed  {} ok, {} rejected, {} lost, {} duplicated: {:.0} tx/s\n\
         latency    p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms (submit to commit notification)\n\
         blocks     {} ({:.2}/s), {:.0} tx per block; transactions {:.0} B on average\n",
        r.validators,
        r.mix,
        r.submitted,
        r.submit_secs,
        r.acked,
        r.submitted_tps,
        r.refused,
        r.committed,
        r.rejected,
        r.lost,
        r.duplicated,
        r.committed_tps,
        r.latency_ms.p50,
        r.latency_ms.p95,
        r.latency_ms.p99,
        r.latency_ms.max,
        r.blocks,
        r.blocks_per_sec,
        r.txs_per_block,
        r.tx_bytes_avg,
    );
    for (reason, n) in &r.refusals {
        out.push_str(&format!("refused    {n} × {reason}\n"));
    }
    for f in &r.failures {
        out.push_str(&format!("FAILURE    {f}\n"));
    }
    out
}

/// The JSON of a report.
pub fn to_json(r: &Report) -> Value {
    json!(r)
}

//! A steady load that survives nodes dying under it.
//!
//! Every tick the load signs a batch of transfers (and some split payments)
//! between its funded accounts, with a fresh random nonce per transaction,
//! and posts them as one JSON-RPC batch over HTTP to a random live node. A
//! batch whose node breaks the connection is posted again, byte for byte,
//! to another node; and a few already acknowledged transactions are mixed
//! into later batches again, to other nodes. Either way the chain must
//! commit each transaction once.
//!
//! The log keeps, per transaction hash, which node acknowledged it and
//! when, or why it was refused.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::tx::{OrderId, PayLeg};
use merit_chain::{Keypair, Symbol, Transaction, TxBody, TxKind};
use serde_json::{Value, json};

use super::{Live, batch_call};
use crate::cluster::Rpc;
use crate::sim::rng::SimRng;

/// Blocks a load transaction stays valid for, from the chain's tip.
pub const TTL_BLOCKS: u64 = 500;
/// Base units each load account is funded with.
pub const FUNDING_UNITS: u64 = 1_000_000;
/// Receivers of each split payment of the load.
pub const PAY_LEGS: usize = 3;
/// Acknowledged transactions kept for re-sending.
const RESEND_POOL: usize = 4_096;
/// Calls in one JSON-RPC batch (the node's limit is 100).
pub const MAX_BATCH: usize = 100;

/// The load's accounts, all holding one token.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub chain_id: String,
    pub token: Symbol,
    pub keys: Vec<Keypair>,
}

impl Accounts {
    /// `count` deterministic accounts (between 2 and 50).
    pub fn new(chain_id: &str, token: Symbol, count: usize) -> Accounts {
        let keys = (0..count.clamp(2, merit_chain::limits::MAX_PAY_LEGS))
            .map(|i| Keypair::insecure_from_label(&format!("merit-chaos/account/{i}")))
            .collect();
        Accounts {
            chain_id: chain_id.to_string(),
            token,
            keys,
        }
    }

    pub fn sign(&self, key: &Keypair, nonce: u64, expires: u64, kind: TxKind) -> Transaction {
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

    /// The total every account was funded with.
    pub fn funded_total(&self) -> u64 {
        FUNDING_UNITS.saturating_mul(self.keys.len() as u64)
    }

    /// Funds every account from `issuer` (who issues the token): one mint
    /// to itself, then one split payment with a leg per account.
    pub fn fund(&self, rpc: &Rpc, issuer: &Keypair, rng: &mut SimRng) -> Result<(), String> {
        let height = rpc.height().ok_or("the node does not answer")?;
        let expires = height + TTL_BLOCKS;
        let mint = self.sign(
            issuer,
            rng.next_u64(),
            expires,
            TxKind::Mint {
                token: self.token,
                to: issuer.public().into(),
                amount: self.funded_total(),
            },
        );
        committed(rpc, &mint)?;
        let legs: Vec<PayLeg> = self
            .keys
            .iter()
            .map(|k| PayLeg {
                to: k.public().into(),
                token: self.token,
                amount: FUNDING_UNITS,
            })
            .collect();
        let pay = self.sign(
            issuer,
            rng.next_u64(),
            expires,
            TxKind::Pay {
                order_id: OrderId::new(format!("chaos-funding-{:x}", rng.next_u64()))
                    .map_err(|_| "order id")?,
                legs: BoundedVec::new(legs).map_err(|_| "too many legs")?,
                memo: None,
            },
        );
        committed(rpc, &pay)
    }
}

fn committed(rpc: &Rpc, tx: &Transaction) -> Result<(), String> {
    let hash = rpc.send(tx).map_err(|e| format!("funding: {e:?}"))?;
    let v = rpc
        .wait_final(&hash, Duration::from_secs(60))
        .ok_or_else(|| format!("funding transaction {hash} was not committed in 60 s"))?;
    if v["status"] != "committed" {
        return Err(format!("funding transaction {hash} was rejected: {v}"));
    }
    Ok(())
}

/// What became of one transaction the load sent.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    /// Nodes that acknowledged it, with the milliseconds since the run began.
    pub acked: Vec<(usize, u64)>,
    /// Why a node refused it (the first refusal).
    pub refused: Option<String>,
    /// Times it was posted.
    pub posts: u32,
}

impl Sent {
    pub fn is_acked(&self) -> bool {
        !self.acked.is_empty()
    }
}

/// Everything the load sent, by transaction hash.
#[derive(Debug, Default)]
pub struct TxLog {
    pub txs: BTreeMap<String, Sent>,
    /// Batches posted, and posted again after a broken connection.
    pub batches: u64,
    pub batches_retried: u64,
    /// Batches no node answered.
    pub batches_unanswered: u64,
    /// Already acknowledged transactions posted again.
    pub resent: u64,
    /// Answers whose hash was not the transaction's.
    pub wrong_hashes: Vec<String>,
}

/// How fast and what the load sends.
#[derive(Debug, Clone, Copy)]
pub struct LoadShape {
    /// Transactions per second.
    pub rate: u64,
    pub tick: Duration,
    /// Share of entries, per mille, that re-send an acknowledged transaction.
    pub resend_per_mille: u32,
    /// One transaction in this many is a split payment (0: none).
    pub pay_every: u64,
}

/// Runs the load until `live.stop_load` is set.
pub fn run_load(
    accounts: &Accounts,
    shape: LoadShape,
    live: &Live,
    log: &Mutex<TxLog>,
    mut rng: SimRng,
) {
    let n = accounts.keys.len();
    let tick = shape.tick.max(Duration::from_millis(10));
    let per_tick = shape.rate as f64 * tick.as_secs_f64();
    let mut carry = 0.0f64;
    let mut recent: VecDeque<(String, Arc<str>)> = VecDeque::new();
    let mut next = Instant::now();
    let mut serial = 0u64;
    while !live.stop_load.load(Ordering::Relaxed) {
        next += tick;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > tick * 10 {
            // Far behind (a stalled post): do not make up for it in a burst.
            next = now;
        }
        carry += per_tick;
        let count = (carry.floor() as usize).min(MAX_BATCH);
        carry -= count as f64;
        if count == 0 {
            continue;
        }
        let tip = live.tip.load(Ordering::Relaxed);
        if tip == 0 {
            continue;
        }
        let expires = tip + TTL_BLOCKS;
        let mut entries: Vec<(String, Arc<str>)> = Vec::with_capacity(count);
        for _ in 0..count {
            if !recent.is_empty() && rng.chance(shape.resend_per_mille) {
                let k = rng.index(recent.len());
                entries.push(recent[k].clone());
                continue;
            }
            serial += 1;
            let from = rng.index(n);
            let pick = |rng: &mut SimRng| (from + 1 + rng.index(n - 1)) % n;
            let kind = if shape.pay_every > 0 && serial.is_multiple_of(shape.pay_every) {
                let legs: Vec<PayLeg> = (0..PAY_LEGS)
                    .map(|_| PayLeg {
                        to: accounts.keys[pick(&mut rng)].public().into(),
                        token: accounts.token,
                        amount: 1,
                    })
                    .collect();
                TxKind::Pay {
                    order_id: OrderId::new(format!("chaos-{:x}", rng.next_u64()))
                        .unwrap_or_default(),
                    legs: BoundedVec::new(legs).unwrap_or_default(),
                    memo: None,
                }
            } else {
                TxKind::Transfer {
                    token: accounts.token,
                    to: accounts.keys[pick(&mut rng)].public().into(),
                    amount: 1,
                    memo: None,
                }
            };
            let tx = accounts.sign(&accounts.keys[from], rng.next_u64(), expires, kind);
            let bytes = tx.to_bytes();
            let hash = merit_chain::crypto::sha256(&bytes).to_hex();
            entries.push((hash, hex::encode(bytes).into()));
        }
        let answers = post(live, &entries, &mut rng, log);
        let at_ms = live.elapsed_ms();
        let mut guard = log.lock().unwrap_or_else(|e| e.into_inner());
        let l = &mut *guard;
        for (k, (hash, hex)) in entries.iter().enumerate() {
            let was_acked = l.txs.get(hash).is_some_and(Sent::is_acked);
            if was_acked {
                l.resent += 1;
            }
            let sent = l.txs.entry(hash.clone()).or_default();
            sent.posts += 1;
            match answers.get(k) {
                Some(Answer::Acked(node, got)) => {
                    sent.acked.push((*node, at_ms));
                    if got != hash {
                        l.wrong_hashes
                            .push(format!("{hash} was acknowledged as {got} by node {node}"));
                    } else if !was_acked {
                        recent.push_back((hash.clone(), hex.clone()));
                        if recent.len() > RESEND_POOL {
                            recent.pop_front();
                        }
                    }
                }
                Some(Answer::Refused(why)) => {
                    if sent.refused.is_none() {
                        sent.refused = Some(why.clone());
                    }
                }
                Some(Answer::Unanswered) | None => {}
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Answer {
    Acked(usize, String),
    Refused(String),
    Unanswered,
}

/// Posts one batch to a random live node, and once more to another if the
/// first breaks the connection.
fn post(
    live: &Live,
    entries: &[(String, Arc<str>)],
    rng: &mut SimRng,
    log: &Mutex<TxLog>,
) -> Vec<Answer> {
    let params: Vec<Value> = entries.iter().map(|(_, hex)| json!([&**hex])).collect();
    let mut tried = Vec::new();
    for attempt in 0..2 {
        let Some(node) = live.pick_except(rng, &tried) else {
            break;
        };
        tried.push(node);
        {
            let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
            l.batches += 1;
            if attempt > 0 {
                l.batches_retried += 1;
            }
        }
        match batch_call(&live.rpc(node), "merit_sendTransaction", &params) {
            Ok(results) => {
                return results
                    .into_iter()
                    .map(|r| match r {
                        Ok(v) => Answer::Acked(node, v.as_str().unwrap_or("").to_string()),
                        Err(e) => Answer::Refused(refusal(&e)),
                    })
                    .collect();
            }
            Err(_) => continue,
        }
    }
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .batches_unanswered += 1;
    vec![Answer::Unanswered; entries.len()]
}

/// A refusal's reason: the rejection code, else the message.
fn refusal(error: &Value) -> String {
    error["data"]["code"]
        .as_str()
        .or_else(|| error["message"].as_str())
        .unwrap_or("unknown")
        .to_string()
}

//! The commit watcher: what the cluster reported as committed, while it
//! happened.
//!
//! It walks new heights on a random live node with `merit_getBlock`,
//! recording each block's hash and state root and each transaction's
//! height. A block seen again (on another node, or after a restart) with
//! another hash, a block whose parent is not the block recorded below it,
//! or a transaction seen at two heights, is recorded as a failure. Each
//! round it also asks a random live node for a random height already
//! recorded, so that a node that drifts onto another chain is caught even
//! when the walk does not read from it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Live, batch_call};
use crate::sim::rng::SimRng;

/// Heights asked for in one batch.
const WALK_BATCH: u64 = 50;
/// How long the watcher rests when there is nothing new.
const IDLE: Duration = Duration::from_millis(100);
/// Failures of one kind recorded at most (the count goes on).
const MAX_RECORDED: usize = 20;

/// One block as first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenBlock {
    pub hash: String,
    pub parent: String,
    pub state_root: String,
    pub node: usize,
}

/// What the watcher saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub blocks: BTreeMap<u64, SeenBlock>,
    /// Every transaction in a block, with its height.
    pub txs: BTreeMap<String, u64>,
    /// A transaction seen at two heights.
    pub duplicated: u64,
    /// A block hash that changed, or a broken parent link.
    pub forks: u64,
    pub problems: Vec<String>,
    pub spot_checks: u64,
}

impl Seen {
    pub fn height(&self) -> u64 {
        self.blocks.last_key_value().map_or(0, |(h, _)| *h)
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_RECORDED {
            self.problems.push(p);
        }
    }

    /// Records block `b` from `node`; false if it is not a block.
    fn record(&mut self, node: usize, b: &Value) -> bool {
        let (Some(height), Some(hash)) = (b["height"].as_u64(), b["hash"].as_str()) else {
            return false;
        };
        let block = SeenBlock {
            hash: hash.to_string(),
            parent: b["parent_hash"].as_str().unwrap_or("").to_string(),
            state_root: b["state_root"].as_str().unwrap_or("").to_string(),
            node,
        };
        if let Some(old) = self.blocks.get(&height) {
            if old.hash != block.hash || old.state_root != block.state_root {
                self.forks += 1;
                let p = format!(
                    "fork at height {height}: node {} had {} (state {}), node {node} now has {} (state {})",
                    old.node, old.hash, old.state_root, block.hash, block.state_root
                );
                self.problem(p);
            }
            return true;
        }
        if let Some(below) = height.checked_sub(1).and_then(|h| self.blocks.get(&h))
            && below.hash != block.parent
        {
            self.forks += 1;
            let p = format!(
                "fork at height {height}: node {node}'s block {} has parent {}, but block {} is {} (from node {})",
                block.hash,
                block.parent,
                height - 1,
                below.hash,
                below.node
            );
            self.problem(p);
        }
        for tx in b["txs"].as_array().into_iter().flatten() {
            let Some(tx) = tx.as_str() else { continue };
            if let Some(first) = self.txs.get(tx) {
                if *first != height {
                    self.duplicated += 1;
                    let p = format!("transaction {tx} committed at heights {first} and {height}");
                    self.problem(p);
                }
                continue;
            }
            self.txs.insert(tx.to_string(), height);
        }
        self.blocks.insert(height, block);
        true
    }
}

/// Watches until `live.stop_watch` is set.
pub fn run_watch(live: &Live, seen: &Mutex<Seen>, mut rng: SimRng) {
    while !live.stop_watch.load(Ordering::Relaxed) {
        let next = seen.lock().unwrap_or_else(|e| e.into_inner()).height() + 1;
        let mut progressed = false;
        if let Some(node) = live.pick(&mut rng) {
            let params: Vec<Value> = (next..next + WALK_BATCH).map(|h| json!([h])).collect();
            if let Ok(blocks) = batch_call(&live.rpc(node), "merit_getBlock", &params) {
                let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
                for b in blocks {
                    match b {
                        Ok(b) if s.record(node, &b) => progressed = true,
                        _ => break,
                    }
                }
                live.tip.fetch_max(s.height(), Ordering::Relaxed);
            }
        }
        spot_check(live, seen, &mut rng);
        if !progressed {
            std::thread::sleep(IDLE);
        }
    }
}

/// Compares one recorded block with a random live node's.
fn spot_check(live: &Live, seen: &Mutex<Seen>, rng: &mut SimRng) {
    let height = {
        let s = seen.lock().unwrap_or_else(|e| e.into_inner());
        match s.height() {
            0 => return,
            top => rng.range(1, top),
        }
    };
    let Some(node) = live.pick(rng) else {
        return;
    };
    let Ok(b) = live.rpc(node).call("merit_getBlock", json!([height])) else {
        return;
    };
    if b.is_null() {
        // A wiped node that has not synced this far yet.
        return;
    }
    let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
    s.spot_checks += 1;
    // Recorded already: this only compares.
    s.record(node, &b);
}

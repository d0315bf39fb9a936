//! The chaos test: real `merit-node` processes on 127.0.0.1 under steady
//! load while validators are killed, wiped and cut off.
//!
//! A 4-validator [`Cluster`](crate::cluster::Cluster) is started with every
//! peer connection routed through a [`proxy::Proxy`], which can cut, delay
//! and corrupt each link. The [`load`] keeps posting transfers and split
//! payments to random live nodes, and the [`watch`]er records every block
//! and transaction the cluster reports as committed. Every few seconds a
//! random validator gets kill -9 (sometimes its data directory is wiped
//! too) and is restarted; partitions isolate a node or split the alliance
//! 2-2 and heal again. At the end every link is healed, the load stops,
//! every validator is killed at once and restarted, and [`run`] checks:
//!
//! - every node has the same height, and at every height the same block
//!   hash and state root;
//! - every transaction reported committed during the run is in the final
//!   chain exactly once, and no transaction appears twice in it;
//! - `merit_audit` holds for every token on every node, and the load's
//!   accounts have the same balances on every node, summing to what they
//!   were funded with.
//!
//! Every random choice comes from one seed, printed on every line, so a
//! failing run's faults can be replayed (the processes' timing cannot).
//! `merit-chaos` runs it from the command line; see docs/reliability.md.

pub mod load;
pub mod proxy;
pub mod run;
pub mod watch;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::Rpc;
use crate::sim::rng::SimRng;

pub use proxy::{Proxy, ProxyStats};
pub use run::run;

/// The environment variable that fixes the seed of a chaos run.
pub const SEED_ENV: &str = "MERIT_CHAOS_SEED";

/// What a chaos run does.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// Validators (at least 4: one may be down at a time).
    pub validators: usize,
    /// Kill cycles to run.
    pub cycles: u64,
    /// No new cycle starts after this much time under faults, once
    /// `min_cycles` have run.
    pub max_duration: Option<Duration>,
    /// Cycles that run whatever `max_duration` says: a slow machine makes a
    /// run longer, never one with fewer faults than a test expects.
    pub min_cycles: u64,
    pub seed: u64,
    /// Transactions per second offered by the load.
    pub rate: u64,
    /// Funded load accounts (2 to 50).
    pub accounts: usize,
    /// Chance, per mille, that a killed validator's data directory is wiped.
    pub wipe_per_mille: u32,
    /// Chance, per mille, of a partition in a cycle.
    pub partition_per_mille: u32,
    /// Delays and dropped chunks on random links.
    pub link_faults: bool,
    /// How long a killed validator stays down, in ms (min, max).
    pub down_ms: (u64, u64),
    /// How long a partition lasts, in ms (min, max).
    pub partition_ms: (u64, u64),
    /// The rest after a cycle, in ms (min, max).
    pub pause_ms: (u64, u64),
    /// How long the cluster may take to recover after a fault.
    pub recovery: Duration,
    /// Ends by killing every validator at once and restarting them all.
    pub final_restart: bool,
    /// Keeps the cluster's directory (configs, data, logs) if the run fails.
    pub keep_dir_on_failure: bool,
    /// Prints a line per fault and per cycle.
    pub verbose: bool,
}

impl ChaosOptions {
    /// The short variant run in CI: about 2 minutes, 5 to 10 kill cycles
    /// (as many as fit in 90 s), the first three with at least one wipe, one
    /// isolation and one 2-2 split.
    pub fn ci(seed: u64) -> ChaosOptions {
        ChaosOptions {
            validators: 4,
            cycles: 10,
            max_duration: Some(Duration::from_secs(90)),
            min_cycles: 5,
            seed,
            rate: 100,
            accounts: 20,
            wipe_per_mille: 250,
            partition_per_mille: 350,
            link_faults: true,
            down_ms: (1_000, 3_000),
            partition_ms: (2_000, 4_000),
            pause_ms: (500, 1_500),
            recovery: Duration::from_secs(120),
            final_restart: true,
            keep_dir_on_failure: true,
            verbose: true,
        }
    }

    /// The long variant: `cycles` kill cycles at a higher rate.
    pub fn long(seed: u64, cycles: u64) -> ChaosOptions {
        ChaosOptions {
            cycles,
            max_duration: None,
            rate: 200,
            down_ms: (1_000, 5_000),
            partition_ms: (2_000, 6_000),
            pause_ms: (1_000, 3_000),
            ..ChaosOptions::ci(seed)
        }
    }
}

/// The seed from [`SEED_ENV`], else one from the clock.
pub fn seed_from_env() -> Result<u64, String> {
    match std::env::var(SEED_ENV) {
        Ok(s) => s
            .trim()
            .parse()
            .map_err(|e| format!("{SEED_ENV}={s:?} is not a u64: {e}")),
        Err(_) => Ok(random_seed()),
    }
}

/// A seed from the clock and the process id.
pub fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut rng = SimRng::new((nanos as u64) ^ (u64::from(std::process::id()) << 32));
    // A seed short enough to type.
    rng.next_u64() % 1_000_000_000
}

/// What a chaos run did and found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChaosReport {
    pub seed: u64,
    pub validators: usize,
    /// Wall time of the whole run, setup and checks included.
    pub duration_secs: f64,
    /// Wall time under faults.
    pub fault_secs: f64,
    /// Validators killed with -9 and restarted.
    pub kill_cycles: u64,
    /// Of those, restarted with a wiped data directory.
    pub wipes: u64,
    /// One validator cut off from the rest.
    pub isolations: u64,
    /// The alliance split 2-2 (or as evenly as it goes).
    pub splits: u64,
    pub partitions: u64,
    /// Links delayed, and chunks dropped, by faults.
    pub delays: u64,
    pub byte_drops: u64,
    /// Times every validator was killed at once and restarted.
    pub full_restarts: u64,
    pub proxy: ProxyStats,
    /// Distinct transactions the load posted.
    pub submitted: u64,
    /// Posts of an already acknowledged transaction.
    pub resent: u64,
    /// Batches posted again to another node after a broken connection.
    pub batches_retried: u64,
    /// Acknowledged (admitted) by some node.
    pub acknowledged: u64,
    /// Refused by every node that answered, by reason.
    pub refused: u64,
    pub refusals: BTreeMap<String, u64>,
    /// Posted but never answered (their node died mid-request).
    pub unanswered: u64,
    /// Transactions the cluster reported committed during the run (in a
    /// block read from a live node).
    pub committed: u64,
    /// Acknowledged load transactions in the final chain.
    pub acknowledged_committed: u64,
    /// Acknowledged but never committed (held only by a mempool that was
    /// killed), and of those, the ones whose node was never killed after
    /// acknowledging them.
    pub acknowledged_uncommitted: u64,
    pub acknowledged_uncommitted_unkilled: u64,
    /// Reported committed during the run but missing from the final chain.
    pub lost: u64,
    /// Transactions in more than one block.
    pub duplicated: u64,
    /// Two different blocks seen at one height.
    pub forks: u64,
    /// Peers a node banned. Every node of a chaos run is honest, so any
    /// ban is a false accusation and fails the run.
    pub peer_bans: u64,
    /// Sync requests a node gave up on as stalled (a cut link does that
    /// to an honest peer; it only rests the peer).
    pub sync_stalls: u64,
    /// Load transactions recorded with a rejection code, by code.
    pub rejected: BTreeMap<String, u64>,
    pub final_height: u64,
    pub final_state_root: String,
    pub final_block_hash: String,
    /// Transactions in the final chain.
    pub txs_in_chain: u64,
    /// Invariant violations: any fails the run.
    pub failures: Vec<String>,
    /// Oddities that do not break a guarantee.
    pub warnings: Vec<String>,
    /// The cluster's directory, kept because the run failed.
    pub kept_dir: Option<String>,
}

impl ChaosReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl std::fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.passed() { "PASSED" } else { "FAILED" };
        writeln!(
            f,
            "chaos run {verdict}: seed {}, {} validators, {:.0} s ({:.0} s under faults)",
            self.seed, self.validators, self.duration_secs, self.fault_secs
        )?;
        writeln!(
            f,
            "  faults:       {} kill cycles ({} with a wiped data directory), {} partitions ({} isolations, {} 2-2 splits), {} link delays, {} byte-drop faults, {} full restarts",
            self.kill_cycles,
            self.wipes,
            self.partitions,
            self.isolations,
            self.splits,
            self.delays,
            self.byte_drops,
            self.full_restarts
        )?;
        writeln!(
            f,
            "  proxy:        {} connections forwarded, {} refused while cut, {} closed by cuts, {} chunks dropped, {} MB",
            self.proxy.accepted,
            self.proxy.refused,
            self.proxy.closed_by_cut,
            self.proxy.chunks_dropped,
            self.proxy.bytes / 1_000_000
        )?;
        writeln!(
            f,
            "  load:         {} submitted, {} acknowledged, {} refused {:?}, {} unanswered, {} re-sent, {} batches retried",
            self.submitted,
            self.acknowledged,
            self.refused,
            self.refusals,
            self.unanswered,
            self.resent,
            self.batches_retried
        )?;
        writeln!(
            f,
            "  committed:    {} reported committed during the run, {} acknowledged ones in the final chain, {} acknowledged never committed ({} by a node not killed after)",
            self.committed,
            self.acknowledged_committed,
            self.acknowledged_uncommitted,
            self.acknowledged_uncommitted_unkilled
        )?;
        writeln!(
            f,
            "  checks:       lost {}, duplicated {}, forks {}, rejected {:?}, peers banned {}, stalled sync requests {}",
            self.lost, self.duplicated, self.forks, self.rejected, self.peer_bans, self.sync_stalls
        )?;
        writeln!(
            f,
            "  final chain:  height {}, {} transactions, block {}, state_root {}",
            self.final_height, self.txs_in_chain, self.final_block_hash, self.final_state_root
        )?;
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        for x in &self.failures {
            writeln!(f, "  FAILURE: {x}")?;
        }
        if let Some(d) = &self.kept_dir {
            writeln!(f, "  cluster files and logs kept in {d}")?;
        }
        Ok(())
    }
}

/// Which validators may be asked for things right now, shared by the
/// fault schedule, the load and the watcher.
#[derive(Debug)]
pub struct Live {
    rpcs: Vec<Rpc>,
    up: Mutex<Vec<bool>>,
    /// The highest height seen committed.
    pub tip: AtomicU64,
    pub stop_load: AtomicBool,
    pub stop_watch: AtomicBool,
    start: Instant,
}

impl Live {
    pub fn new(rpcs: Vec<Rpc>) -> Live {
        let n = rpcs.len();
        Live {
            rpcs,
            up: Mutex::new(vec![true; n]),
            tip: AtomicU64::new(0),
            stop_load: AtomicBool::new(false),
            stop_watch: AtomicBool::new(false),
            start: Instant::now(),
        }
    }

    pub fn rpc(&self, i: usize) -> Rpc {
        self.rpcs[i % self.rpcs.len()].clone()
    }

    pub fn set_up(&self, i: usize, up: bool) {
        if let Some(u) = self.up.lock().unwrap_or_else(|e| e.into_inner()).get_mut(i) {
            *u = up;
        }
    }

    /// A random validator that is up.
    pub fn pick(&self, rng: &mut SimRng) -> Option<usize> {
        self.pick_except(rng, &[])
    }

    /// A random validator that is up and not in `except`.
    pub fn pick_except(&self, rng: &mut SimRng, except: &[usize]) -> Option<usize> {
        let up: Vec<usize> = self
            .up
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .enumerate()
            .filter(|(i, u)| **u && !except.contains(i))
            .map(|(i, _)| i)
            .collect();
        if up.is_empty() {
            None
        } else {
            Some(up[rng.index(up.len())])
        }
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}

/// Calls `method` once per entry of `params` in one JSON-RPC batch over
/// HTTP. Each answer is the call's result or its error object, in order.
/// An I/O failure or an answer that is not JSON is an error.
pub fn batch_call(
    rpc: &Rpc,
    method: &str,
    params: &[Value],
) -> Result<Vec<Result<Value, Value>>, String> {
    if params.is_empty() {
        return Ok(Vec::new());
    }
    let calls: Vec<Value> = params
        .iter()
        .enumerate()
        .map(|(id, p)| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": p}))
        .collect();
    let body = Value::Array(calls).to_string();
    let (_, text) = rpc.post_raw(body.as_bytes()).map_err(|e| e.to_string())?;
    let answer: Value = serde_json::from_str(&text).map_err(|e| {
        let head: String = text.chars().take(200).collect();
        format!("not JSON ({e}): {head}")
    })?;
    let answers = match answer {
        Value::Array(a) => a,
        // A whole batch refused answers one error.
        other => match other.get("error") {
            Some(e) => return Ok(vec![Err(e.clone()); params.len()]),
            None => return Err(format!("not a batch answer: {other}")),
        },
    };
    let mut out = vec![Err(json!({"message": "no answer in the batch"})); params.len()];
    for a in answers {
        let Some(slot) = a["id"]
            .as_u64()
            .and_then(|id| out.get_mut(usize::try_from(id).ok()?))
        else {
            continue;
        };
        *slot = match a.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(a.get("result").cloned().unwrap_or(Value::Null)),
        };
    }
    Ok(out)
}

/// Prints one line per event, with the seed and the time since the start.
#[derive(Debug)]
pub struct EventLog {
    seed: u64,
    start: Instant,
    verbose: bool,
}

impl EventLog {
    pub fn new(seed: u64, verbose: bool) -> EventLog {
        EventLog {
            seed,
            start: Instant::now(),
            verbose,
        }
    }

    pub fn event(&self, what: impl std::fmt::Display) {
        if self.verbose {
            println!(
                "[chaos seed={} {:>7.1}s] {what}",
                self.seed,
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}

/// Base units of a decimal amount string with `decimals` places.
pub fn parse_units(s: &str, decimals: u32) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > decimals as usize
        || int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = 10u64.checked_pow(decimals)?;
    let pad = 10u64.checked_pow(decimals - frac.len() as u32)?;
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    int.parse::<u64>()
        .ok()?
        .checked_mul(scale)?
        .checked_add(frac.checked_mul(pad)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_to_base_units() {
        assert_eq!(parse_units("12.50", 2), Some(1_250));
        assert_eq!(parse_units("12.5", 2), Some(1_250));
        assert_eq!(parse_units("7", 2), Some(700));
        assert_eq!(parse_units("0.01", 2), Some(1));
        assert_eq!(parse_units("1.001", 2), None);
        assert_eq!(parse_units("-1", 2), None);
        assert_eq!(parse_units("", 2), None);
        assert_eq!(parse_units("99999999999999999999", 2), None);
    }
}

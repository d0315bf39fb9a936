//! The fault schedule of a chaos run and its final checks.
//!
//! The whole schedule is drawn from the seed before the cluster starts:
//! per kill cycle a victim, whether its data directory is wiped, how long
//! it stays down, link faults (delays of 50-300 ms, dropped chunks) during
//! the cycle, an optional partition once it is back, and a pause. A run of
//! three cycles or more always has a wipe, an isolation and a split within
//! its first three cycles, which its time limit never cuts. After
//! each fault the schedule waits until every validator has caught up with
//! the chain and the chain has moved on; a cluster that does not recover
//! within [`ChaosOptions::recovery`] fails the run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use merit_chain::{Keypair, TxKind};
use serde_json::{Value, json};

use super::load::{self, Accounts, LoadShape, TxLog};
use super::watch::{self, Seen};
use super::{ChaosOptions, ChaosReport, EventLog, Live, Proxy, SEED_ENV, batch_call, parse_units};
use crate::cluster::{Cluster, node_binary};
use crate::sim::rng::SimRng;

/// Delay of a delayed link, in ms (min, max).
const DELAY_MS: (u64, u64) = (50, 300);
/// Calls per batch when reading the final chains.
const READ_BATCH: usize = 100;
/// Examples listed per kind of failure.
const EXAMPLES: usize = 10;
/// How often the recovery waits poll the nodes.
const POLL: Duration = Duration::from_millis(200);
/// How long the final checks may wait for the nodes to stand at one height.
const AT_ONE_HEIGHT: Duration = Duration::from_secs(60);
/// The first cycles of a run hold at least one wipe, one isolation and one
/// split; a time limit never stops a run before them.
pub const EVERY_FAULT_WITHIN: usize = 3;

/// A partition of the validators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partition {
    /// One validator cut off from all others.
    Isolate(usize),
    /// No link between the two sides.
    Split(Vec<usize>, Vec<usize>),
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Partition::Isolate(k) => write!(f, "isolate node {k}"),
            Partition::Split(a, b) => write!(f, "split {a:?} | {b:?}"),
        }
    }
}

/// A fault on one link, for the length of a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkFault {
    Delay { a: usize, b: usize, ms: u64 },
    Drop { a: usize, b: usize },
}

/// One kill cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub victim: usize,
    pub wipe: bool,
    pub down_ms: u64,
    pub link_faults: Vec<LinkFault>,
    /// A partition once the victim is back, and how long it lasts in ms.
    pub partition: Option<(Partition, u64)>,
    pub pause_ms: u64,
}

fn random_link(rng: &mut SimRng, n: usize) -> (usize, usize) {
    let a = rng.index(n);
    (a, (a + 1 + rng.index(n - 1)) % n)
}

fn random_partition(rng: &mut SimRng, n: usize, split: bool) -> Partition {
    if !split {
        return Partition::Isolate(rng.index(n));
    }
    let mut nodes: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut nodes);
    let mut right = nodes.split_off(n / 2);
    nodes.sort_unstable();
    right.sort_unstable();
    Partition::Split(nodes, right)
}

/// The fault schedule of a run.
pub fn plan(o: &ChaosOptions, rng: &mut SimRng) -> Vec<Cycle> {
    let n = o.validators.max(2);
    let mut cycles: Vec<Cycle> = (0..o.cycles)
        .map(|_| {
            let victim = rng.index(n);
            let wipe = rng.chance(o.wipe_per_mille);
            let down_ms = rng.range(o.down_ms.0, o.down_ms.1);
            let mut link_faults = Vec::new();
            if o.link_faults {
                for _ in 0..rng.range(0, 2) {
                    let (a, b) = random_link(rng, n);
                    let ms = rng.range(DELAY_MS.0, DELAY_MS.1);
                    link_faults.push(LinkFault::Delay { a, b, ms });
                }
                for _ in 0..rng.range(0, 2) {
                    let (a, b) = random_link(rng, n);
                    link_faults.push(LinkFault::Drop { a, b });
                }
            }
            let partition = if rng.chance(o.partition_per_mille) {
                let split = rng.chance(400);
                let p = random_partition(rng, n, split);
                Some((p, rng.range(o.partition_ms.0, o.partition_ms.1)))
            } else {
                None
            };
            Cycle {
                victim,
                wipe,
                down_ms,
                link_faults,
                partition,
                pause_ms: rng.range(o.pause_ms.0, o.pause_ms.1),
            }
        })
        .collect();
    // The faults every run of three cycles or more has, within its first
    // cycles, so that a run its time limit cuts short still has them.
    let first = cycles.len().min(EVERY_FAULT_WITHIN);
    if first >= 3 {
        let cycles = &mut cycles[..first];
        if !cycles.iter().any(|c| c.wipe) {
            cycles[1].wipe = true;
        }
        let is_split = |c: &Cycle| match &c.partition {
            Some((Partition::Isolate(_), _)) => Some(false),
            Some((Partition::Split(..), _)) => Some(true),
            None => None,
        };
        for split in [false, true] {
            if cycles.iter().any(|c| is_split(c) == Some(split)) {
                continue;
            }
            // The first cycle without a partition, else the first one
            // whose partition is not the other kind's only one.
            let slot = cycles
                .iter()
                .position(|c| c.partition.is_none())
                .unwrap_or(usize::from(split));
            let ms = rng.range(o.partition_ms.0, o.partition_ms.1);
            cycles[slot].partition = Some((random_partition(rng, n, split), ms));
        }
    }
    cycles
}

/// Runs a chaos test. An error means the run could not be set up; once the
/// cluster runs, every violated guarantee is a failure in the report.
pub fn run(o: &ChaosOptions) -> Result<ChaosReport, String> {
    let n = o.validators;
    if n < 4 {
        return Err("a chaos run needs at least 4 validators (one is down at a time)".into());
    }
    let started = Instant::now();
    let log = EventLog::new(o.seed, o.verbose);
    let mut rng = SimRng::new(o.seed);
    let schedule = plan(o, &mut rng.fork());
    let binary = node_binary();
    if !binary.is_file() {
        return Err(format!(
            "no merit-node binary at {} (build it, or set MERIT_NODE_BIN)",
            binary.display()
        ));
    }
    log.event(format!(
        "{n} validators, {} kill cycles planned, {} tx/s; replay the faults with {SEED_ENV}={}",
        schedule.len(),
        o.rate,
        o.seed
    ));

    let mut cluster = Cluster::prepare(n)?;
    let targets: Vec<SocketAddr> = (0..n)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], cluster.p2p_port(i))))
        .collect();
    let proxy = Proxy::start(&targets, cluster.port_range())
        .map_err(|e| format!("cannot start the proxy: {e}"))?;
    for i in 0..n {
        let peers = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                let port = proxy.addr(i, j).map(|a| a.port()).unwrap_or(0);
                cluster
                    .peer_multiaddr(j, port)
                    .ok_or_else(|| format!("no peer id for validator {j}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        cluster.set_peers(i, peers)?;
    }
    for i in 0..n {
        cluster.start_node(i);
    }
    let all: Vec<usize> = (0..n).collect();
    let mut report = ChaosReport {
        seed: o.seed,
        validators: n,
        ..ChaosReport::default()
    };
    let outcome = if cluster.wait_rpc(&all, Duration::from_secs(60)) {
        drive(
            o,
            &log,
            &mut cluster,
            &proxy,
            &schedule,
            &mut rng,
            &mut report,
        )
    } else {
        Err(format!(
            "the validators did not start:\n{}",
            tails(&cluster, &all)
        ))
    };
    report.proxy = proxy.stats();
    report.duration_secs = started.elapsed().as_secs_f64();
    let failed = outcome.is_err() || !report.passed();
    if failed && o.keep_dir_on_failure {
        cluster.dir.disable_cleanup(true);
        report.kept_dir = Some(cluster.dir.path().display().to_string());
    }
    match outcome {
        Ok(()) => {
            log.event(format!(
                "done: {}",
                if report.passed() { "passed" } else { "FAILED" }
            ));
            Ok(report)
        }
        Err(e) => match &report.kept_dir {
            Some(d) => Err(format!("{e}\n(cluster files and logs kept in {d})")),
            None => Err(e),
        },
    }
}

/// Funds the load, runs it with the watcher under the fault schedule, then
/// settles the cluster and checks it.
fn drive(
    o: &ChaosOptions,
    log: &EventLog,
    cluster: &mut Cluster,
    proxy: &Proxy,
    schedule: &[Cycle],
    rng: &mut SimRng,
    report: &mut ChaosReport,
) -> Result<(), String> {
    let n = o.validators;
    let rpc0 = cluster.rpc(0);
    let status = rpc0.status().ok_or("validator 0 does not answer")?;
    let chain_id = status["chain_id"].as_str().unwrap_or_default().to_string();
    let issuer = cluster.layout.merchants[0].account.clone();
    let accounts = Accounts::new(&chain_id, cluster.layout.merchants[0].token, o.accounts);
    accounts.fund(&rpc0, &issuer, rng)?;
    log.event(format!(
        "funded {} load accounts with {} {} each",
        accounts.keys.len(),
        load::FUNDING_UNITS,
        accounts.token.as_str()
    ));

    let live = Live::new((0..n).map(|i| cluster.rpc(i)).collect());
    live.tip
        .store(rpc0.height().unwrap_or(1), Ordering::Relaxed);
    let txlog = Mutex::new(TxLog::default());
    let seen = Mutex::new(Seen::default());
    let mut kills: Vec<(usize, u64)> = Vec::new();
    let shape = LoadShape {
        rate: o.rate,
        tick: Duration::from_millis(100),
        resend_per_mille: 20,
        pay_every: 5,
    };
    let (load_rng, watch_rng) = (rng.fork(), rng.fork());
    let mut final_height = 0;
    std::thread::scope(|s| {
        let watcher = s.spawn(|| watch::run_watch(&live, &seen, watch_rng));
        let loader = s.spawn(|| load::run_load(&accounts, shape, &live, &txlog, load_rng));
        let faults_started = Instant::now();
        faults(
            o, log, cluster, proxy, &live, schedule, &seen, &txlog, report, &mut kills,
        );
        report.fault_secs = faults_started.elapsed().as_secs_f64();

        proxy.clear_all();
        log.event("faults stop: every link healed, delays cleared");
        live.stop_load.store(true, Ordering::Relaxed);
        if loader.join().is_err() {
            report.failures.push("the load thread panicked".into());
        }
        log.event("load stopped");
        match settle(o, log, cluster, &live, &accounts, &seen, rng, report) {
            Ok(h) => final_height = h,
            Err(e) => report.failures.push(e),
        }
        live.stop_watch.store(true, Ordering::Relaxed);
        if watcher.join().is_err() {
            report.failures.push("the watcher thread panicked".into());
        }
    });
    if final_height == 0 {
        return Ok(());
    }
    let seen = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    let txlog = txlog.into_inner().unwrap_or_else(|e| e.into_inner());
    check(
        cluster,
        &accounts,
        &issuer,
        &seen,
        &txlog,
        &kills,
        final_height,
        report,
    );
    Ok(())
}

/// Runs the schedule; stops at the first cluster that does not recover.
#[allow(clippy::too_many_arguments)]
fn faults(
    o: &ChaosOptions,
    log: &EventLog,
    cluster: &mut Cluster,
    proxy: &Proxy,
    live: &Live,
    schedule: &[Cycle],
    seen: &Mutex<Seen>,
    txlog: &Mutex<TxLog>,
    report: &mut ChaosReport,
    kills: &mut Vec<(usize, u64)>,
) {
    let started = Instant::now();
    let total = schedule.len();
    for (k, c) in schedule.iter().enumerate() {
        let k = k + 1;
        if let Some(max) = o.max_duration
            && started.elapsed() >= max
            && (k as u64 - 1) >= o.min_cycles.max(EVERY_FAULT_WITHIN as u64)
        {
            log.event(format!("time is up after {} of {total} cycles", k - 1));
            break;
        }
        if let Err(e) = all_running(cluster) {
            report.failures.push(e);
            break;
        }
        for f in &c.link_faults {
            match *f {
                LinkFault::Delay { a, b, ms } => {
                    proxy.delay(a, b, ms);
                    report.delays += 1;
                    log.event(format!("cycle {k}/{total}: delay link {a}-{b} by {ms} ms"));
                }
                LinkFault::Drop { a, b } => {
                    proxy.drop_chunk(a, b);
                    report.byte_drops += 1;
                    log.event(format!("cycle {k}/{total}: drop a chunk on link {a}-{b}"));
                }
            }
        }
        let v = c.victim;
        live.set_up(v, false);
        cluster.kill(v);
        kills.push((v, live.elapsed_ms()));
        report.kill_cycles += 1;
        if c.wipe {
            cluster.wipe(v);
            report.wipes += 1;
        }
        log.event(format!(
            "cycle {k}/{total}: kill -9 node {v}{}, down for {} ms",
            if c.wipe { " and wipe its data" } else { "" },
            c.down_ms
        ));
        std::thread::sleep(Duration::from_millis(c.down_ms));
        cluster.start_node(v);
        live.set_up(v, true);
        log.event(format!("cycle {k}/{total}: restart node {v}"));
        if let Err(e) = recover(cluster, o.recovery) {
            report
                .failures
                .push(format!("cycle {k} (after restarting node {v}): {e}"));
            break;
        }
        if let Some((p, ms)) = &c.partition {
            match p {
                Partition::Isolate(node) => {
                    proxy.isolate(*node);
                    report.isolations += 1;
                }
                Partition::Split(a, b) => {
                    proxy.split(a, b);
                    report.splits += 1;
                }
            }
            report.partitions += 1;
            log.event(format!("cycle {k}/{total}: partition: {p} for {ms} ms"));
            std::thread::sleep(Duration::from_millis(*ms));
            proxy.heal_all();
            log.event(format!("cycle {k}/{total}: heal"));
        }
        proxy.clear_delays();
        match recover(cluster, o.recovery) {
            Ok(h) => {
                let committed = seen.lock().unwrap_or_else(|e| e.into_inner()).txs.len();
                let acked = txlog
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .txs
                    .values()
                    .filter(|s| s.is_acked())
                    .count();
                log.event(format!(
                    "cycle {k}/{total}: recovered, every node at height {h} or above; {acked} acknowledged, {committed} committed so far"
                ));
            }
            Err(e) => {
                report
                    .failures
                    .push(format!("cycle {k} (after the faults): {e}"));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(c.pause_ms));
    }
}

/// Every validator process is still running; one that exited by itself
/// (a crash or a halt) is a failure.
fn all_running(cluster: &mut Cluster) -> Result<(), String> {
    for i in 0..cluster.nodes.len() {
        if !cluster.is_running(i) {
            return Err(format!(
                "node {i} exited by itself:\n{}",
                cluster.log_tail(i)
            ));
        }
    }
    Ok(())
}

/// Waits until every validator is past the highest height any had when
/// the wait began: all caught up, and the chain moved on. Returns that
/// height.
fn recover(cluster: &mut Cluster, timeout: Duration) -> Result<u64, String> {
    let end = Instant::now() + timeout;
    let n = cluster.nodes.len();
    let mut target = None;
    let mut heights = vec![None; n];
    while Instant::now() < end {
        all_running(cluster)?;
        heights = (0..n).map(|i| cluster.rpc(i).height()).collect();
        if target.is_none() {
            target = heights.iter().flatten().max().map(|h| h + 1);
        }
        if let Some(t) = target
            && heights.iter().all(|h| h.is_some_and(|h| h >= t))
        {
            return Ok(t);
        }
        std::thread::sleep(POLL);
    }
    let lagging: Vec<usize> = (0..n)
        .filter(|&i| heights[i].is_none_or(|h| Some(h) < target))
        .collect();
    Err(format!(
        "the cluster did not recover within {} s: heights {heights:?}, every node should reach {}\n{}",
        timeout.as_secs(),
        target.map_or("?".to_string(), |t| t.to_string()),
        tails(cluster, &lagging)
    ))
}

/// What `read` returns while every node stands at one height: the heights
/// are read before and after, and must be one and the same on every node
/// both times (heights only grow, so then no block landed in between);
/// otherwise it reads again, for as long as a settled cluster needs.
fn at_one_height<T>(cluster: &Cluster, mut read: impl FnMut() -> T) -> Result<T, String> {
    let n = cluster.nodes.len();
    let heights = || -> Vec<Option<u64>> { (0..n).map(|i| cluster.rpc(i).height()).collect() };
    let end = Instant::now() + AT_ONE_HEIGHT;
    loop {
        let before = heights();
        let value = read();
        let after = heights();
        if before == after && before[0].is_some() && before.windows(2).all(|w| w[0] == w[1]) {
            return Ok(value);
        }
        if Instant::now() >= end {
            return Err(format!(
                "the nodes did not stand at one height for a reading within {} s: {before:?}, then {after:?}",
                AT_ONE_HEIGHT.as_secs()
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// The last log lines of some validators.
fn tails(cluster: &Cluster, which: &[usize]) -> String {
    which
        .iter()
        .map(|&i| format!("--- node {i} log ---\n{}", cluster.log_tail(i)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Brings the cluster to rest: every validator running, the mempools
/// drained, then (optionally) every validator killed at once and restarted,
/// and a new transaction committed. Returns the height every node agrees on.
#[allow(clippy::too_many_arguments)]
fn settle(
    o: &ChaosOptions,
    log: &EventLog,
    cluster: &mut Cluster,
    live: &Live,
    accounts: &Accounts,
    seen: &Mutex<Seen>,
    rng: &mut SimRng,
    report: &mut ChaosReport,
) -> Result<u64, String> {
    let n = cluster.nodes.len();
    let all: Vec<usize> = (0..n).collect();
    for i in 0..n {
        if !cluster.is_running(i) {
            report.failures.push(format!(
                "node {i} was not running at the end:\n{}",
                cluster.log_tail(i)
            ));
            cluster.start_node(i);
            live.set_up(i, true);
        }
    }
    if !cluster.wait_rpc(&all, o.recovery) {
        return Err(format!("not every node answers:\n{}", tails(cluster, &all)));
    }
    // Let every mempool drain into blocks.
    let end = Instant::now() + o.recovery;
    let mut sizes = Vec::new();
    while Instant::now() < end {
        sizes = (0..n)
            .map(|i| {
                cluster
                    .rpc(i)
                    .status()
                    .and_then(|s| s["mempool_size"].as_u64())
            })
            .collect();
        if sizes.iter().all(|s| *s == Some(0)) {
            break;
        }
        std::thread::sleep(POLL);
    }
    if sizes.iter().all(|s| *s == Some(0)) {
        log.event("every mempool is empty");
    } else {
        report.warnings.push(format!(
            "the mempools did not drain within {} s: sizes {sizes:?}",
            o.recovery.as_secs()
        ));
    }
    if o.final_restart {
        for i in 0..n {
            live.set_up(i, false);
            cluster.kill(i);
        }
        log.event("kill -9 every validator at once");
        std::thread::sleep(Duration::from_millis(500));
        for i in 0..n {
            cluster.start_node(i);
            live.set_up(i, true);
        }
        report.full_restarts += 1;
        log.event("restart every validator");
        if !cluster.wait_rpc(&all, o.recovery) {
            return Err(format!(
                "not every node answers after the full restart:\n{}",
                tails(cluster, &all)
            ));
        }
        probe(cluster, accounts, rng, o.recovery)?;
        log.event("a new transaction commits after the full restart");
    }
    // Every node at one height with one block there, and the watcher there
    // too.
    let end = Instant::now() + o.recovery;
    loop {
        let statuses: Vec<Option<Value>> = (0..n).map(|i| cluster.rpc(i).status()).collect();
        let tops: Vec<Option<(u64, String)>> = statuses
            .iter()
            .map(|s| {
                let s = s.as_ref()?;
                Some((s["height"].as_u64()?, s["block_hash"].as_str()?.to_string()))
            })
            .collect();
        let watched = seen.lock().unwrap_or_else(|e| e.into_inner()).height();
        if let Some(Some((h, hash))) = tops.first()
            && tops.iter().all(|t| t.as_ref() == Some(&(*h, hash.clone())))
            && watched >= *h
        {
            log.event(format!("every node is at height {h}, block {hash}"));
            return Ok(*h);
        }
        if Instant::now() >= end {
            return Err(format!(
                "the nodes did not settle on one height within {} s: {tops:?} (watcher at {watched})\n{}",
                o.recovery.as_secs(),
                tails(cluster, &all)
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// A transfer between two load accounts must commit.
fn probe(
    cluster: &Cluster,
    accounts: &Accounts,
    rng: &mut SimRng,
    timeout: Duration,
) -> Result<(), String> {
    let n = cluster.nodes.len();
    let node = rng.index(n);
    let rpc = cluster.rpc(node);
    let end = Instant::now() + timeout;
    let height = loop {
        if let Some(h) = rpc.height() {
            break h;
        }
        if Instant::now() >= end {
            return Err(format!(
                "node {node} does not answer after the full restart"
            ));
        }
        std::thread::sleep(POLL);
    };
    let (from, to) = (&accounts.keys[0], &accounts.keys[1]);
    let tx = accounts.sign(
        from,
        rng.next_u64(),
        height + load::TTL_BLOCKS,
        TxKind::Transfer {
            token: accounts.token,
            to: to.public().into(),
            amount: 1,
            memo: None,
        },
    );
    let hash = rpc
        .send(&tx)
        .map_err(|e| format!("node {node} refused a transfer after the full restart: {e:?}"))?;
    match rpc.wait_final(&hash, timeout) {
        Some(v) if v["status"] == "committed" => Ok(()),
        Some(v) => Err(format!(
            "the transfer after the full restart was rejected: {v}"
        )),
        None => Err(format!(
            "no transaction committed within {} s after the full restart\n{}",
            timeout.as_secs(),
            tails(cluster, &(0..n).collect::<Vec<_>>())
        )),
    }
}

/// One block of a final chain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Final {
    hash: String,
    state_root: String,
    txs: Vec<String>,
}

/// Blocks 1 to `height` of one node.
fn read_chain(cluster: &Cluster, node: usize, height: u64) -> Result<Vec<Final>, String> {
    let rpc = cluster.rpc(node);
    let mut out = Vec::with_capacity(height as usize);
    let mut h = 1u64;
    while h <= height {
        let to = (h + READ_BATCH as u64 - 1).min(height);
        let params: Vec<Value> = (h..=to).map(|x| json!([x])).collect();
        let blocks = batch_call(&rpc, "merit_getBlock", &params)
            .map_err(|e| format!("node {node}: reading blocks {h}..={to}: {e}"))?;
        for (k, b) in blocks.into_iter().enumerate() {
            let at = h + k as u64;
            let b = b.map_err(|e| format!("node {node}: block {at}: {e}"))?;
            if b.is_null() {
                return Err(format!("node {node} has no block {at}"));
            }
            out.push(Final {
                hash: b["hash"].as_str().unwrap_or("").to_string(),
                state_root: b["state_root"].as_str().unwrap_or("").to_string(),
                txs: b["txs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect(),
            });
        }
        h = to + 1;
    }
    Ok(out)
}

fn examples<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .take(EXAMPLES)
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The final checks, on a cluster at rest at `height`.
#[allow(clippy::too_many_arguments)]
fn check(
    cluster: &Cluster,
    accounts: &Accounts,
    issuer: &Keypair,
    seen: &Seen,
    txlog: &TxLog,
    kills: &[(usize, u64)],
    height: u64,
    report: &mut ChaosReport,
) {
    let n = cluster.nodes.len();
    report.final_height = height;
    // 1. The same blocks and state roots everywhere.
    let chain = match read_chain(cluster, 0, height) {
        Ok(c) => c,
        Err(e) => {
            report.failures.push(e);
            return;
        }
    };
    if let Some(top) = chain.last() {
        report.final_state_root = top.state_root.clone();
        report.final_block_hash = top.hash.clone();
    }
    for node in 1..n {
        match read_chain(cluster, node, height) {
            Ok(other) => {
                if let Some(i) = (0..chain.len()).find(|&i| chain[i] != other[i]) {
                    report.forks += 1;
                    report.failures.push(format!(
                        "node {node} differs from node 0 at height {}: block {} (state {}) against {} (state {})",
                        i + 1,
                        other[i].hash,
                        other[i].state_root,
                        chain[i].hash,
                        chain[i].state_root
                    ));
                }
            }
            Err(e) => report.failures.push(e),
        }
    }
    // 2. What the watcher saw is the final chain.
    report.forks += seen.forks;
    report.failures.extend(seen.problems.iter().cloned());
    let moved: Vec<u64> = seen
        .blocks
        .iter()
        .filter(|(h, b)| {
            **h <= height
                && chain
                    .get((**h - 1) as usize)
                    .is_none_or(|f| f.hash != b.hash || f.state_root != b.state_root)
        })
        .map(|(h, _)| *h)
        .collect();
    if !moved.is_empty() {
        report.forks += moved.len() as u64;
        report.failures.push(format!(
            "{} blocks reported during the run are not in the final chain, at heights {}",
            moved.len(),
            examples(&moved)
        ));
    }
    // 3. Each transaction once.
    let mut at: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (i, b) in chain.iter().enumerate() {
        for tx in &b.txs {
            at.entry(tx.as_str()).or_default().push(i as u64 + 1);
        }
    }
    report.txs_in_chain = at.values().map(|v| v.len() as u64).sum();
    let dups: Vec<String> = at
        .iter()
        .filter(|(_, hs)| hs.len() > 1)
        .map(|(tx, hs)| format!("{tx} at {hs:?}"))
        .collect();
    report.duplicated = dups.len() as u64 + seen.duplicated;
    if !dups.is_empty() {
        report.failures.push(format!(
            "{} transactions are in more than one block: {}",
            dups.len(),
            examples(&dups)
        ));
    }
    // 4. Nothing reported committed is lost.
    report.committed = seen.txs.values().filter(|h| **h <= height).count() as u64;
    let lost: Vec<String> = seen
        .txs
        .iter()
        .filter(|(tx, h)| **h <= height && at.get(tx.as_str()).is_none_or(|hs| !hs.contains(h)))
        .map(|(tx, h)| format!("{tx} (at height {h})"))
        .collect();
    report.lost = lost.len() as u64;
    if !lost.is_empty() {
        report.failures.push(format!(
            "{} transactions reported committed are not in the final chain: {}",
            lost.len(),
            examples(&lost)
        ));
    }
    // 5. What became of the load.
    let mut uncommitted_unkilled = Vec::new();
    for (hash, sent) in &txlog.txs {
        report.submitted += 1;
        let in_chain = at.contains_key(hash.as_str());
        if sent.is_acked() {
            report.acknowledged += 1;
            if in_chain {
                report.acknowledged_committed += 1;
            } else {
                report.acknowledged_uncommitted += 1;
                let unkilled = sent
                    .acked
                    .iter()
                    .any(|(node, ms)| !kills.iter().any(|(k, kill_ms)| k == node && kill_ms >= ms));
                if unkilled {
                    uncommitted_unkilled.push(hash.clone());
                }
            }
        } else if let Some(why) = &sent.refused {
            report.refused += 1;
            *report.refusals.entry(why.clone()).or_insert(0) += 1;
        } else {
            report.unanswered += 1;
        }
    }
    report.resent = txlog.resent;
    report.batches_retried = txlog.batches_retried;
    report.acknowledged_uncommitted_unkilled = uncommitted_unkilled.len() as u64;
    if !uncommitted_unkilled.is_empty() {
        report.warnings.push(format!(
            "{} acknowledged transactions never committed although the node that acknowledged them was not killed afterwards: {}",
            uncommitted_unkilled.len(),
            examples(&uncommitted_unkilled)
        ));
    }
    if !txlog.wrong_hashes.is_empty() {
        report.failures.push(format!(
            "{} acknowledgements named another hash: {}",
            txlog.wrong_hashes.len(),
            examples(&txlog.wrong_hashes)
        ));
    }
    // 6. How the load's transactions ended.
    let load_in_chain: Vec<Value> = txlog
        .txs
        .keys()
        .filter(|h| at.contains_key(h.as_str()))
        .map(|h| json!([h]))
        .collect();
    let rpc = cluster.rpc(0);
    for chunk in load_in_chain.chunks(READ_BATCH) {
        match batch_call(&rpc, "merit_getTransaction", chunk) {
            Ok(answers) => {
                for a in answers {
                    let status = match &a {
                        Ok(v) if v["status"] == "committed" => continue,
                        Ok(v) if v["status"] == "rejected" => {
                            v["code"].as_str().unwrap_or("rejected").to_string()
                        }
                        Ok(v) => format!("status {}", v["status"]),
                        Err(e) => format!("error {}", e["message"]),
                    };
                    *report.rejected.entry(status).or_insert(0) += 1;
                }
            }
            Err(e) => {
                report
                    .failures
                    .push(format!("node 0: reading transactions: {e}"));
                break;
            }
        }
    }
    if !report.rejected.is_empty() {
        report.warnings.push(format!(
            "load transactions recorded with a rejection: {:?}",
            report.rejected
        ));
    }
    // 7 and 8 compare the nodes with each other, so they read them while
    // every node stands at one height: a heartbeat block, or a straggler
    // from a mempool that did not drain, may land on one node between two
    // readings.
    let token = accounts.token.as_str();
    let decimals = rpc
        .call("merit_getToken", json!([token]))
        .ok()
        .and_then(|t| t["decimals"].as_u64())
        .unwrap_or(0) as u32;
    let holders: Vec<&Keypair> = accounts.keys.iter().chain([issuer]).collect();
    let reading = at_one_height(cluster, || {
        let audits: Vec<Result<Value, String>> = (0..n)
            .map(|node| {
                cluster
                    .rpc(node)
                    .call("merit_audit", json!([]))
                    .map_err(|e| format!("{e:?}"))
            })
            .collect();
        let balances: Vec<Vec<Option<String>>> = holders
            .iter()
            .map(|key| (0..n).map(|i| cluster.rpc(i).balance(key, token)).collect())
            .collect();
        (audits, balances)
    });
    let (audits, balances) = match reading {
        Ok(r) => r,
        Err(e) => {
            report.failures.push(e);
            return;
        }
    };
    // 7. The supply audit, everywhere alike.
    let mut held = Vec::new();
    for (node, audit) in audits.into_iter().enumerate() {
        match audit {
            Ok(Value::Array(tokens)) if !tokens.is_empty() => {
                for t in tokens.iter().filter(|t| t["holds"] != true) {
                    report
                        .failures
                        .push(format!("node {node}: the supply audit does not hold: {t}"));
                }
                held.push(tokens);
            }
            other => report
                .failures
                .push(format!("node {node}: merit_audit answered {other:?}")),
        }
    }
    if held.windows(2).any(|w| w[0] != w[1]) {
        report
            .failures
            .push(format!("the nodes' audits differ: {held:?}"));
    }
    // 8. Balances, everywhere alike, and the load's conserved.
    let mut total = 0u64;
    for (key, balances) in holders.iter().zip(&balances) {
        if balances.iter().any(|b| *b != balances[0]) {
            report.failures.push(format!(
                "the nodes disagree on the {token} balance of {}: {balances:?}",
                key.public().to_bech32()
            ));
        }
        if !std::ptr::eq(*key, issuer) {
            total += balances[0]
                .as_deref()
                .and_then(|b| parse_units(b, decimals))
                .unwrap_or(0);
        }
    }
    if total != accounts.funded_total() {
        report.failures.push(format!(
            "the load accounts hold {total} base units of {token}, but were funded with {}",
            accounts.funded_total()
        ));
    }
    // 9. No honest peer banned, through kills, wipes, cuts and dropped
    // bytes: every node's log, over all its restarts.
    for node in 0..n {
        let log = std::fs::read_to_string(&cluster.nodes[node].log_path).unwrap_or_default();
        let bans: Vec<&str> = log.lines().filter(|l| l.contains("banned peer")).collect();
        report.sync_stalls += log
            .lines()
            .filter(|l| l.contains("let a sync request time out"))
            .count() as u64;
        report.peer_bans += bans.len() as u64;
        if let Some(first) = bans.first() {
            report.failures.push(format!(
                "node {node} banned {} honest peers, first: {first}",
                bans.len()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_fault_is_in_the_first_cycles_of_every_plan() {
        for seed in 0..2_000 {
            let o = ChaosOptions::ci(seed);
            let cycles = plan(&o, &mut SimRng::new(seed));
            assert_eq!(cycles.len() as u64, o.cycles);
            let first = &cycles[..EVERY_FAULT_WITHIN];
            assert!(
                first.iter().any(|c| c.wipe),
                "seed {seed}: no wipe in {first:?}"
            );
            for split in [false, true] {
                let has = first.iter().any(|c| match &c.partition {
                    Some((Partition::Split(..), _)) => split,
                    Some((Partition::Isolate(_), _)) => !split,
                    None => false,
                });
                assert!(
                    has,
                    "seed {seed}: no {} in {first:?}",
                    if split { "split" } else { "isolation" }
                );
            }
            assert!(o.min_cycles >= EVERY_FAULT_WITHIN as u64);
        }
    }
}

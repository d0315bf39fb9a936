//! The one-command benchmark: a fresh local devnet of release nodes, a
//! sweep to find the saturation point, then a steady load at saturation and
//! at half of it, and one table.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use merit_chain::limits::MAX_TX_TTL_BLOCKS;
use serde::Serialize;

use super::load::{Bench, LoadSpec, Mix, Report, describe};
use super::{Sweep, procs, sweep};
use crate::cluster::Rpc;

/// Ports of the benchmark's devnet, apart from a user's default devnet.
pub const BENCH_P2P_BASE_PORT: u16 = 27601;
pub const BENCH_RPC_BASE_PORT: u16 = 18545;
pub const BENCH_METRICS_BASE_PORT: u16 = 19715;
/// The validators' log filter unless told otherwise.
pub const DEFAULT_NODE_LOG: &str = "warn";

#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub validators: usize,
    pub steady: Duration,
    /// Load at half of saturation before the measured run at half: the
    /// saturation runs leave a state that is still draining (each
    /// transaction's nonce leaves the state only when its TTL window of
    /// `MAX_TX_TTL_BLOCKS` blocks closes), and the half run measures the
    /// chain in its steady state at that rate. Runs of this length repeat
    /// (at most `WARMUP_MAX_ROUNDS`) until that many blocks have passed.
    pub warmup: Duration,
    pub sweep_step: Duration,
    pub sweep_start: u64,
    pub sweep_factor: f64,
    pub sweep_max: u64,
    pub accounts: usize,
    pub mix: Mix,
    pub dir: PathBuf,
    pub node_bin: PathBuf,
    /// The validators' log filter (`merit-node` `log`), written to
    /// `DIR/node-N.log`.
    pub node_log: String,
    pub quiet: bool,
}

/// Everything the suite measured.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    pub validators: usize,
    pub accounts: usize,
    pub mix: Mix,
    /// Seconds to fund the accounts.
    pub funding_secs: f64,
    /// The largest node RSS once funded, before any load.
    pub rss_funded_mb: f64,
    /// The first validator's store once funded.
    pub store_funded_mb: f64,
    pub sweep: Sweep,
    /// Steady runs at the sweep's saturation point that fell behind, each
    /// followed by one at a rate [`STEADY_STEP_DOWN`] times lower.
    pub fell_behind: Vec<Report>,
    /// The steady run at the highest rate the chain sustained.
    pub at_saturation: Report,
    /// The warm-up at half of saturation, reported but not the measure.
    pub half_warmup: Option<Report>,
    pub at_half: Report,
    /// Transactions the load committed over the whole suite.
    pub load_txs: u64,
    /// The first validator's store at the end.
    pub store_mb: f64,
    /// What the load added to the store, per committed transaction.
    pub store_bytes_per_tx: f64,
}

/// A 10-second sweep step can keep up with a rate that a minute cannot: a
/// steady run that commits less than this share of what it offered is
/// repeated at a lower rate.
pub const STEADY_KEEP_UP_RATIO: f64 = 0.95;
/// Warm-up runs at most before the measured run at half.
pub const WARMUP_MAX_ROUNDS: u32 = 5;
/// The rate factor of each retry.
pub const STEADY_STEP_DOWN: f64 = 1.25;
/// Steady runs at saturation at most.
pub const STEADY_ATTEMPTS: usize = 4;

/// The benchmark's validators, each a process of its own as in a
/// deployment, so that each one's CPU and memory can be read. Stopped on
/// drop.
pub(crate) struct Devnet {
    children: Vec<Child>,
    /// Where the nodes' state lives: `DIR/chain`.
    pub chain_dir: PathBuf,
}

impl Devnet {
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Bytes on disk of the first validator's store.
    pub fn store_bytes(&self) -> u64 {
        procs::dir_bytes(&self.chain_dir.join("node-0"))
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        for c in &self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        let end = Instant::now() + Duration::from_secs(20);
        for c in &mut self.children {
            while Instant::now() < end {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

pub(crate) fn start_devnet(o: &SuiteOptions) -> Result<(Devnet, Vec<SocketAddr>), String> {
    if !o.node_bin.exists() {
        return Err(format!(
            "{} is missing; build it first with `cargo build --release -p merit-node`",
            o.node_bin.display()
        ));
    }
    std::fs::create_dir_all(&o.dir).map_err(|e| format!("{}: {e}", o.dir.display()))?;
    let chain_dir = o.dir.join("chain");
    let init = Command::new(&o.node_bin)
        .arg("devnet")
        .arg("--init-only")
        .arg("--reset")
        .arg("--dir")
        .arg(&chain_dir)
        .args(["--validators", &o.validators.to_string()])
        .args(["--p2p-base-port", &BENCH_P2P_BASE_PORT.to_string()])
        .args(["--rpc-base-port", &BENCH_RPC_BASE_PORT.to_string()])
        .args(["--metrics-base-port", &BENCH_METRICS_BASE_PORT.to_string()])
        .args(["--log", &o.node_log])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", o.node_bin.display()))?;
    if !init.status.success() {
        return Err(format!(
            "`merit-node devnet --init-only` failed: {}",
            String::from_utf8_lossy(&init.stderr)
        ));
    }
    let mut devnet = Devnet {
        children: Vec::new(),
        chain_dir: chain_dir.clone(),
    };
    for i in 0..o.validators {
        let log_path = o.dir.join(format!("node-{i}.log"));
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let child = Command::new(&o.node_bin)
            .arg("start")
            .arg("--config")
            .arg(chain_dir.join(format!("node-{i}.toml")))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", o.node_bin.display()))?;
        devnet.children.push(child);
    }
    let nodes: Vec<SocketAddr> = (0..o.validators)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], BENCH_RPC_BASE_PORT + i as u16)))
        .collect();
    let end = Instant::now() + Duration::from_secs(60);
    for (i, addr) in nodes.iter().enumerate() {
        while Rpc::new(*addr).height().is_none() {
            if Instant::now() > end {
                return Err(format!(
                    "validator {i} did not answer on {addr}; see {}",
                    o.dir.join(format!("node-{i}.log")).display()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok((devnet, nodes))
}

/// Waits until every node's mempool is empty, so that a run does not pay
/// for the backlog of the one before it, then a few seconds more for the
/// stores' background work.
pub(crate) fn settle(nodes: &[SocketAddr]) {
    let end = Instant::now() + SETTLE_MAX;
    while Instant::now() < end {
        let waiting: u64 = nodes
            .iter()
            .map(|a| {
                Rpc::new(*a)
                    .status()
                    .and_then(|s| s["mempool_size"].as_u64())
                    .unwrap_or(0)
            })
            .sum();
        if waiting == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(SETTLE_QUIET);
}

/// How long [`settle`] waits for the mempools to empty at most.
pub const SETTLE_MAX: Duration = Duration::from_secs(120);
/// The quiet time after them.
pub const SETTLE_QUIET: Duration = Duration::from_secs(5);

/// Runs a load and records what the node processes used meanwhile.
pub(crate) async fn measured(
    bench: &Bench,
    devnet: &Devnet,
    spec: &LoadSpec,
) -> Result<Report, String> {
    let pids = devnet.pids();
    let watch = procs::RssWatch::start(pids.clone(), Duration::from_secs(1));
    let mark = procs::CpuMark::now(&pids);
    let mut r = bench.run(spec).await?;
    let max_rss = watch.finish();
    r.usage = Some(mark.usage(&pids, r.committed + r.rejected, max_rss));
    Ok(r)
}

/// Runs the whole benchmark on a fresh devnet.
pub async fn run(o: &SuiteOptions) -> Result<SuiteResult, String> {
    let (devnet, nodes) = start_devnet(o)?;
    let say = |s: String| {
        if !o.quiet {
            eprintln!("{s}");
        }
    };
    say(format!(
        "{} release validators up, one process each; funding {} accounts",
        o.validators, o.accounts
    ));
    let funding_started = Instant::now();
    let bench = tokio::task::block_in_place(|| Bench::prepare(nodes.clone(), o.accounts, o.mix))?;
    let funding_secs = funding_started.elapsed().as_secs_f64();
    tokio::task::block_in_place(|| settle(&nodes));
    let pids = devnet.pids();
    let rss_funded = pids.iter().filter_map(|&p| procs::rss_bytes(p)).max();
    let store_funded = devnet.store_bytes();
    say(format!(
        "funded in {funding_secs:.0} s; a node holds {:.0} MB resident, {:.0} MB on disk",
        rss_funded.unwrap_or(0) as f64 / MB,
        store_funded as f64 / MB
    ));
    let base = LoadSpec {
        mix: o.mix,
        ..LoadSpec::default()
    };
    say(format!(
        "sweep from {} tx/s, x{} per {} s step",
        o.sweep_start,
        o.sweep_factor,
        o.sweep_step.as_secs()
    ));
    let sw = sweep(
        &bench,
        &base,
        o.sweep_start,
        o.sweep_factor,
        o.sweep_max,
        o.sweep_step,
        |r| say(describe(r)),
    )
    .await?;
    if sw.saturation_tps == 0 {
        return Err(format!(
            "the chain did not keep up with the first step of {} tx/s",
            o.sweep_start
        ));
    }
    let steady = |rate: u64| LoadSpec {
        rate: Some(rate),
        duration: o.steady,
        ..base.clone()
    };
    let mut rate = sw.saturation_tps;
    say(format!(
        "steady {} s at saturation, {rate} tx/s",
        o.steady.as_secs()
    ));
    let mut fell_behind = Vec::new();
    let at_saturation = loop {
        tokio::task::block_in_place(|| settle(&nodes));
        let r = measured(&bench, &devnet, &steady(rate)).await?;
        say(describe(&r));
        let sustained = r.committed_tps >= STEADY_KEEP_UP_RATIO * rate as f64;
        if sustained || fell_behind.len() + 1 >= STEADY_ATTEMPTS || rate <= 1 {
            break r;
        }
        fell_behind.push(r);
        rate = ((rate as f64 / STEADY_STEP_DOWN).round() as u64).max(1);
        say(format!(
            "the chain fell behind; steady {} s at {rate} tx/s",
            o.steady.as_secs()
        ));
    };
    let half = (rate / 2).max(1);
    say(format!(
        "steady {} s at half, {half} tx/s",
        o.steady.as_secs()
    ));
    tokio::task::block_in_place(|| settle(&nodes));
    // The warm-up lasts until the TTL window has turned over: a block's
    // nonces stay in the state for MAX_TX_TTL_BLOCKS blocks, so the huge
    // blocks of a saturated minute keep the state large (and every block
    // dear) until that many blocks have followed them.
    let mut warmup_txs = 0;
    let half_warmup = if o.warmup.is_zero() {
        None
    } else {
        let start = Rpc::new(nodes[0]).height().unwrap_or(0);
        let mut last = None;
        for round in 1..=WARMUP_MAX_ROUNDS {
            say(format!(
                "warm-up {} s at half (round {round}, until {MAX_TX_TTL_BLOCKS} blocks have passed)",
                o.warmup.as_secs()
            ));
            let spec = LoadSpec {
                duration: o.warmup,
                ..steady(half)
            };
            let r = measured(&bench, &devnet, &spec).await?;
            say(describe(&r));
            warmup_txs += r.committed + r.rejected;
            last = Some(r);
            let now = Rpc::new(nodes[0]).height().unwrap_or(0);
            if now.saturating_sub(start) >= MAX_TX_TTL_BLOCKS {
                break;
            }
        }
        last
    };
    let at_half = measured(&bench, &devnet, &steady(half)).await?;
    say(describe(&at_half));
    let txs: u64 = sw
        .steps
        .iter()
        .chain(&fell_behind)
        .chain([&at_saturation, &at_half])
        .map(|r| r.committed + r.rejected)
        .sum::<u64>()
        + warmup_txs;
    let store = devnet.store_bytes();
    Ok(SuiteResult {
        validators: o.validators,
        accounts: o.accounts,
        mix: o.mix,
        funding_secs,
        rss_funded_mb: rss_funded.unwrap_or(0) as f64 / MB,
        store_funded_mb: store_funded as f64 / MB,
        sweep: sw,
        fell_behind,
        at_saturation,
        half_warmup,
        at_half,
        load_txs: txs,
        store_mb: store as f64 / MB,
        store_bytes_per_tx: store.saturating_sub(store_funded) as f64 / txs.max(1) as f64,
    })
}

const MB: f64 = (1u64 << 20) as f64;

/// The suite's results as Markdown: one row per run, then the nodes'
/// cost per transaction and the state's size.
pub fn table(results: &[SuiteResult]) -> String {
    let mut out = String::from(
        "| validators | mix | run | offered tx/s | committed tx/s | p50 ms | p95 ms | p99 ms | max ms | blocks/s | tx/block | node cores | node CPU µs/tx | node RSS MB | refused | lost | duplicated |\n\
         |---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in results {
        let rows = s
            .sweep
            .steps
            .iter()
            .map(|r| ("sweep step", r))
            .chain(s.fell_behind.iter().map(|r| ("steady, fell behind", r)))
            .chain([("steady, saturation", &s.at_saturation)])
            .chain(s.half_warmup.iter().map(|r| ("half, warm-up", r)))
            .chain([("steady, half", &s.at_half)]);
        for (name, r) in rows {
            let usage = |f: fn(&procs::Usage) -> String| r.usage.as_ref().map_or("".into(), f);
            out.push_str(&format!(
                "| {} | {} | {name} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} | {} | {} | {} | {} | {} | {} |\n",
                s.validators,
                mix_name(s.mix),
                r.offered_tps.map_or("max".to_string(), |t| t.to_string()),
                r.committed_tps,
                r.latency_ms.p50,
                r.latency_ms.p95,
                r.latency_ms.p99,
                r.latency_ms.max,
                r.blocks_per_sec,
                r.txs_per_block,
                usage(|u| format!("{:.2}", u.node_cores)),
                usage(|u| format!("{:.1}", u.node_cpu_us_per_tx)),
                usage(|u| format!("{:.0}", u.max_node_rss_mb)),
                r.refused,
                r.lost,
                r.duplicated,
            ));
        }
    }
    for s in results {
        out.push_str(&format!(
            "\n{} validators, {} accounts, {} load: funded in {:.0} s, then a node held {:.0} MB \
             resident and {:.0} MB on disk; {} load transactions later, {:.0} MB on disk, \
             {:.0} bytes per committed transaction\n",
            s.validators,
            s.accounts,
            mix_name(s.mix),
            s.funding_secs,
            s.rss_funded_mb,
            s.store_funded_mb,
            s.load_txs,
            s.store_mb,
            s.store_bytes_per_tx,
        ));
    }
    out
}

fn mix_name(m: Mix) -> &'static str {
    match m {
        Mix::Transfer => "transfer",
        Mix::Pay => "pay",
        Mix::Mixed => "mixed",
    }
}

/// A long run at one rate on a fresh devnet, watching the nodes' memory.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub devnet: SuiteOptions,
    pub rate: u64,
    pub duration: Duration,
    /// Length of each load run; the runs follow each other.
    pub run: Duration,
}

/// The nodes after one run of a soak.
#[derive(Debug, Clone, Serialize)]
pub struct SoakSample {
    /// Seconds since the load began.
    pub at_secs: f64,
    pub committed_tps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub blocks_per_sec: f64,
    /// Node CPU per committed transaction over the run, averaged over the
    /// nodes.
    pub node_cpu_us_per_tx: f64,
    pub lost: u64,
    pub duplicated: u64,
    /// Each node's resident memory.
    pub rss_mb: Vec<f64>,
    /// The largest of each gauge over the nodes.
    pub mempool: u64,
    pub verified_txs: u64,
    pub key_cache_keys: u64,
    pub store_mb: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SoakResult {
    pub validators: usize,
    pub rate: u64,
    pub samples: Vec<SoakSample>,
}

impl SoakResult {
    pub fn passed(&self) -> bool {
        self.samples
            .iter()
            .all(|s| s.lost == 0 && s.duplicated == 0)
    }
}

/// The largest value of the gauge `name` over the nodes' metrics.
fn gauge_max(validators: usize, name: &str) -> u64 {
    (0..validators)
        .filter_map(|i| {
            let addr = SocketAddr::from(([127, 0, 0, 1], BENCH_METRICS_BASE_PORT + i as u16));
            let (_, body) = Rpc::get(addr, "/metrics").ok()?;
            body.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        })
        .max()
        .unwrap_or(0)
}

/// Loads a fresh devnet at `rate` for `duration`, one run after another,
/// and samples the nodes' memory and bounded sets after each.
pub async fn soak(o: &SoakOptions) -> Result<SoakResult, String> {
    let (devnet, nodes) = start_devnet(&o.devnet)?;
    let say = |s: String| {
        if !o.devnet.quiet {
            eprintln!("{s}");
        }
    };
    let bench = tokio::task::block_in_place(|| {
        Bench::prepare(nodes.clone(), o.devnet.accounts, o.devnet.mix)
    })?;
    let spec = LoadSpec {
        rate: Some(o.rate),
        duration: o.run,
        mix: o.devnet.mix,
        ..LoadSpec::default()
    };
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < o.duration {
        let r = measured(&bench, &devnet, &spec).await?;
        let sample = SoakSample {
            at_secs: started.elapsed().as_secs_f64(),
            committed_tps: r.committed_tps,
            p50_ms: r.latency_ms.p50,
            p99_ms: r.latency_ms.p99,
            blocks_per_sec: r.blocks_per_sec,
            node_cpu_us_per_tx: r.usage.as_ref().map_or(0.0, |u| u.node_cpu_us_per_tx),
            lost: r.lost,
            duplicated: r.duplicated,
            rss_mb: devnet
                .pids()
                .iter()
                .map(|&p| procs::rss_bytes(p).unwrap_or(0) as f64 / MB)
                .collect(),
            mempool: gauge_max(o.devnet.validators, "merit_mempool_size"),
            verified_txs: gauge_max(o.devnet.validators, "merit_verified_txs"),
            key_cache_keys: gauge_max(o.devnet.validators, "merit_key_cache_keys"),
            store_mb: devnet.store_bytes() as f64 / MB,
        };
        say(soak_row(&sample));
        samples.push(sample);
    }
    Ok(SoakResult {
        validators: o.devnet.validators,
        rate: o.rate,
        samples,
    })
}

/// A soak's samples as a Markdown table.
pub fn soak_table(r: &SoakResult) -> String {
    let mut out = String::from(
        "| minute | committed tx/s | p50 ms | p99 ms | blocks/s | node CPU µs/tx | node RSS MB | mempool | verified set | key cache | store MB | lost | duplicated |\n\
         |---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in &r.samples {
        out.push_str(&soak_row(s));
        out.push('\n');
    }
    out
}

fn soak_row(s: &SoakSample) -> String {
    let rss: Vec<String> = s.rss_mb.iter().map(|m| format!("{m:.0}")).collect();
    format!(
        "| {:.1} | {:.0} | {:.0} | {:.0} | {:.2} | {:.1} | {} | {} | {} | {} | {:.0} | {} | {} |",
        s.at_secs / 60.0,
        s.committed_tps,
        s.p50_ms,
        s.p99_ms,
        s.blocks_per_sec,
        s.node_cpu_us_per_tx,
        rss.join(", "),
        s.mempool,
        s.verified_txs,
        s.key_cache_keys,
        s.store_mb,
        s.lost,
        s.duplicated,
    )
}

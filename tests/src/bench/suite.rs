//! The one-command benchmark: a fresh local devnet of release nodes, a
//! sweep to find the saturation point, then a steady load at saturation and
//! at half of it, and one table.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::load::{Bench, LoadSpec, Mix, Report, describe};
use super::{Sweep, sweep};
use crate::cluster::Rpc;

/// Ports of the benchmark's devnet, apart from a user's default devnet.
pub const BENCH_P2P_BASE_PORT: u16 = 27601;
pub const BENCH_RPC_BASE_PORT: u16 = 18545;
pub const BENCH_METRICS_BASE_PORT: u16 = 19715;

#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub validators: usize,
    pub steady: Duration,
    pub sweep_step: Duration,
    pub sweep_start: u64,
    pub sweep_factor: f64,
    pub sweep_max: u64,
    pub accounts: usize,
    pub mix: Mix,
    pub dir: PathBuf,
    pub node_bin: PathBuf,
    pub quiet: bool,
}

/// Everything the suite measured.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    pub validators: usize,
    pub sweep: Sweep,
    /// Steady runs at the sweep's saturation point that fell behind, each
    /// followed by one at a rate [`STEADY_STEP_DOWN`] times lower.
    pub fell_behind: Vec<Report>,
    /// The steady run at the highest rate the chain sustained.
    pub at_saturation: Report,
    pub at_half: Report,
}

/// A 10-second sweep step can keep up with a rate that a minute cannot: a
/// steady run that commits less than this share of what it offered is
/// repeated at a lower rate.
pub const STEADY_KEEP_UP_RATIO: f64 = 0.95;
/// The rate factor of each retry.
pub const STEADY_STEP_DOWN: f64 = 1.25;
/// Steady runs at saturation at most.
pub const STEADY_ATTEMPTS: usize = 4;

/// A devnet process, stopped on drop.
pub(crate) struct Devnet {
    child: Child,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let log_path = o.dir.join("devnet.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let child = Command::new(&o.node_bin)
        .arg("devnet")
        .arg("--reset")
        .arg("--dir")
        .arg(o.dir.join("chain"))
        .args(["--validators", &o.validators.to_string()])
        .args(["--p2p-base-port", &BENCH_P2P_BASE_PORT.to_string()])
        .args(["--rpc-base-port", &BENCH_RPC_BASE_PORT.to_string()])
        .args(["--metrics-base-port", &BENCH_METRICS_BASE_PORT.to_string()])
        .args(["--log", "warn"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", o.node_bin.display()))?;
    let devnet = Devnet { child };
    let nodes: Vec<SocketAddr> = (0..o.validators)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], BENCH_RPC_BASE_PORT + i as u16)))
        .collect();
    let end = Instant::now() + Duration::from_secs(60);
    for addr in &nodes {
        while Rpc::new(*addr).height().is_none() {
            if Instant::now() > end {
                return Err(format!(
                    "the devnet did not answer on {addr}; see {}",
                    log_path.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok((devnet, nodes))
}

/// Runs the whole benchmark on a fresh devnet.
pub async fn run(o: &SuiteOptions) -> Result<SuiteResult, String> {
    let (_devnet, nodes) = start_devnet(o)?;
    let say = |s: String| {
        if !o.quiet {
            eprintln!("{s}");
        }
    };
    say(format!(
        "devnet of {} release validators up; funding {} accounts",
        o.validators, o.accounts
    ));
    let bench = tokio::task::block_in_place(|| Bench::prepare(nodes, o.accounts))?;
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
    say(format!(
        "steady {} s at saturation, {} tx/s",
        o.steady.as_secs(),
        sw.saturation_tps
    ));
    let mut rate = sw.saturation_tps;
    let mut fell_behind = Vec::new();
    let at_saturation = loop {
        let r = bench.run(&steady(rate)).await?;
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
    let at_half = bench.run(&steady(half)).await?;
    say(describe(&at_half));
    Ok(SuiteResult {
        validators: o.validators,
        sweep: sw,
        fell_behind,
        at_saturation,
        at_half,
    })
}

/// The suite's results as a Markdown table.
pub fn table(results: &[SuiteResult]) -> String {
    let mut out = String::from(
        "| validators | run | offered tx/s | committed tx/s | p50 ms | p95 ms | p99 ms | max ms | blocks/s | tx/block | refused | lost | duplicated |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in results {
        let rows = s
            .sweep
            .steps
            .iter()
            .map(|r| ("sweep step", r))
            .chain(s.fell_behind.iter().map(|r| ("steady, fell behind", r)))
            .chain([
                ("steady, saturation", &s.at_saturation),
                ("steady, half", &s.at_half),
            ]);
        for (name, r) in rows {
            out.push_str(&format!(
                "| {} | {name} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} | {} | {} | {} |\n",
                s.validators,
                r.offered_tps.map_or("max".to_string(), |t| t.to_string()),
                r.committed_tps,
                r.latency_ms.p50,
                r.latency_ms.p95,
                r.latency_ms.p99,
                r.latency_ms.max,
                r.blocks_per_sec,
                r.txs_per_block,
                r.refused,
                r.lost,
                r.duplicated,
            ));
        }
    }
    out
}

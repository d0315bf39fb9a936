//! The load generator and benchmark behind `merit-bench`.
//!
//! [`load`] funds accounts, pre-signs transfers and split payments and
//! submits them to running nodes over WebSocket JSON-RPC, at a fixed rate
//! or as fast as the nodes answer, and measures submit-to-commit latency
//! from `newBlocks` notifications. [`sweep`] raises the rate until the
//! chain stops keeping up. [`suite`] starts a fresh local devnet of release
//! nodes and runs the whole benchmark against it.

pub mod indexer;
pub mod load;
pub mod procs;
pub mod suite;
pub mod ws;

use std::time::Duration;

pub use load::{Bench, LoadSpec, Mix, Report};

/// A sweep step keeps up when its committed rate reaches this share of the
/// offered rate.
pub const KEEP_UP_RATIO: f64 = 0.95;
/// ... and its p99 latency stays under this.
pub const KEEP_UP_P99_MS: f64 = 2_000.0;

/// The outcome of a sweep: every step and the highest rate that kept up.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sweep {
    pub steps: Vec<Report>,
    /// The highest offered rate the chain kept up with.
    pub saturation_tps: u64,
    /// The highest committed rate seen in any step.
    pub peak_committed_tps: f64,
}

/// Whether a step's chain kept up with its offered rate.
pub fn kept_up(r: &Report) -> bool {
    let offered = r.offered_tps.unwrap_or(0) as f64;
    r.passed()
        && r.refused * 100 <= r.submitted
        && r.committed_tps >= KEEP_UP_RATIO * offered
        && r.latency_ms.p99 <= KEEP_UP_P99_MS
}

/// Offers `start`, then rates `factor` times higher, each for `step`, until
/// a step does not keep up (or `max_rate` is passed).
pub async fn sweep(
    bench: &Bench,
    base: &LoadSpec,
    start: u64,
    factor: f64,
    max_rate: u64,
    step: Duration,
    mut on_step: impl FnMut(&Report),
) -> Result<Sweep, String> {
    let mut steps = Vec::new();
    let mut rate = start.max(1);
    let mut saturation = 0;
    let mut peak: f64 = 0.0;
    loop {
        let spec = LoadSpec {
            rate: Some(rate),
            duration: step,
            drain: Duration::from_secs(15),
            ..base.clone()
        };
        let report = bench.run(&spec).await?;
        on_step(&report);
        peak = peak.max(report.committed_tps);
        let ok = kept_up(&report);
        steps.push(report);
        if !ok {
            break;
        }
        saturation = rate;
        let next = ((rate as f64) * factor).round() as u64;
        if next > max_rate || next <= rate {
            break;
        }
        rate = next;
    }
    Ok(Sweep {
        steps,
        saturation_tps: saturation,
        peak_committed_tps: peak,
    })
}

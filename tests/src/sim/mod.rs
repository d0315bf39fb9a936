//! The deterministic consensus simulation.
//!
//! A seeded scheduler drives `n` nodes, each running the node's own
//! consensus driver (`merit_node::driver::Driver`) over its own shared
//! state and an in-memory chain store, on a deterministic [`runtime`], over
//! an in-memory network that drops, delays, duplicates and reorders
//! messages and partitions and heals. A client submits transfers to random
//! nodes, which admit and gossip them as a node does. Validators crash in
//! the middle of a round, at a storage write or between events, and restart
//! from what their disk kept. Byzantine validators ([`mocks`]) equivocate,
//! double-vote, stay silent, replay old messages and spam invalid
//! signatures. After every commit the [`checker`] checks safety; once the
//! faults stop, every honest replica must finalize
//! [`scenario::LIVENESS_BLOCKS`] more blocks within
//! [`scenario::LIVENESS_BUDGET_MS`] of simulated time.
//!
//! A run is a pure function of its scenario and seed: a failure prints the
//! seed and the command that replays it.

pub mod checker;
pub mod fixtures;
pub mod mocks;
pub mod rng;
pub mod runtime;
pub mod scenario;
pub mod verifier;
pub mod world;

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use merit_chain::consensus::ConsensusStats;

pub use checker::FailureKind;
pub use scenario::{
    BROADCAST_BEFORE_PERSIST, BROKEN_QUORUM, MUTANTS, QUIET, SCENARIOS, Scenario, by_name,
};
pub use world::{Failure, HONEST, RunReport, World};

/// Runs one seed of one scenario.
pub fn run(scenario: &Scenario, seed: u64) -> Result<RunReport, Failure> {
    World::new(scenario, seed).run()
}

/// The outcome of many seeds of one scenario.
#[derive(Debug, Clone)]
pub struct Summary {
    pub scenario: &'static str,
    pub seeds_run: u64,
    /// Failed runs, by seed.
    pub failures: Vec<Failure>,
    /// Blocks finalized by honest replicas, summed over the passing runs.
    pub blocks: u64,
    /// Crashes and restarts, summed over the passing runs.
    pub crashes: u64,
    /// Honest replicas' counters, summed over the passing runs.
    pub stats: ConsensusStats,
}

/// Runs `seeds` of `scenario` on `threads` threads. Each run is
/// independent and deterministic, so the threads change only the speed.
pub fn run_seeds(scenario: &Scenario, seeds: Range<u64>, threads: usize) -> Summary {
    let next = AtomicU64::new(seeds.start);
    let failures = Mutex::new(Vec::new());
    let blocks = AtomicU64::new(0);
    let crashes = AtomicU64::new(0);
    let stats = Mutex::new(ConsensusStats::default());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= seeds.end {
                        break;
                    }
                    match run(scenario, seed) {
                        Ok(report) => {
                            let honest_blocks: u64 = report
                                .heights
                                .iter()
                                .zip(&report.roles)
                                .filter(|(_, r)| **r == HONEST)
                                .map(|(h, _)| *h)
                                .max()
                                .unwrap_or(0);
                            blocks.fetch_add(honest_blocks, Ordering::Relaxed);
                            crashes.fetch_add(u64::from(report.crashes), Ordering::Relaxed);
                            if let Ok(mut total) = stats.lock() {
                                world::add_stats(&mut total, &report.stats);
                            }
                        }
                        Err(f) => {
                            if let Ok(mut v) = failures.lock() {
                                v.push(f);
                            }
                        }
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_default();
    failures.sort_by_key(|f| f.seed);
    Summary {
        scenario: scenario.name,
        seeds_run: seeds.end.saturating_sub(seeds.start),
        failures,
        blocks: blocks.into_inner(),
        crashes: crashes.into_inner(),
        stats: stats.into_inner().unwrap_or_default(),
    }
}

/// Worker threads to use: what the machine offers.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

//! The short chaos run: a real 4-validator cluster under load while
//! validators are killed with -9 (one of them wiped) and restarted, links
//! are delayed and corrupted, and the alliance is partitioned and healed.
//! Nothing committed may be lost or duplicated, and every node must end on
//! the same chain with the supply audit holding.
//!
//! `MERIT_CHAOS_SEED=N` replays the faults of a run; the long variant is
//! `merit-chaos` (docs/reliability.md).

use std::time::Instant;

use merit_tests::chaos::{self, ChaosOptions};

#[test]
fn a_cluster_under_kill_9_wipes_and_partitions_loses_and_duplicates_nothing() {
    let seed = chaos::seed_from_env().unwrap();
    let options = ChaosOptions::ci(seed);
    let started = Instant::now();
    let report = chaos::run(&options).unwrap_or_else(|e| {
        panic!("chaos run (seed {seed}) could not run: {e}");
    });
    println!("{report}");
    println!("wall time {:.0} s", started.elapsed().as_secs_f64());
    assert!(
        report.passed(),
        "chaos run failed; replay with {}={seed}\n{report}",
        chaos::SEED_ENV
    );
    assert!(report.kill_cycles >= 5, "{report}");
    assert!(report.wipes >= 1, "{report}");
    assert!(report.isolations >= 1 && report.splits >= 1, "{report}");
    assert!(report.full_restarts == 1, "{report}");
    assert_eq!(report.lost, 0, "{report}");
    assert_eq!(report.duplicated, 0, "{report}");
    assert_eq!(report.forks, 0, "{report}");
    assert!(report.acknowledged_committed > 1_000, "{report}");
    assert!(report.final_height > 0 && !report.final_state_root.is_empty());
}

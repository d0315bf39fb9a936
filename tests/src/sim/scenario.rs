//! The named scenarios: how many validators, which faults, for how long.

use merit_chain::consensus::QuorumRule;
use merit_node::driver::Mutant;

/// Message faults while the fault phase lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetFaults {
    /// Messages lost, per thousand.
    pub drop_per_mille: u32,
    /// Messages delivered twice, per thousand.
    pub dup_per_mille: u32,
    /// Delay of each delivery, drawn per message; different delays reorder.
    pub delay_ms_min: u64,
    pub delay_ms_max: u64,
}

/// Delays once the faults stop: short, still random, so still reordering.
pub const CALM_NET: NetFaults = NetFaults {
    drop_per_mille: 0,
    dup_per_mille: 0,
    delay_ms_min: 1,
    delay_ms_max: 20,
};

const MILD_NET: NetFaults = NetFaults {
    drop_per_mille: 20,
    dup_per_mille: 20,
    delay_ms_min: 1,
    delay_ms_max: 40,
};

/// One kind of simulated run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub name: &'static str,
    /// Validators.
    pub n: usize,
    /// Byzantine validators; their roles rotate with the seed.
    pub byzantine: usize,
    /// Simulated length of the fault phase.
    pub faults_ms: u64,
    pub net: NetFaults,
    /// Random partitions that heal, during the fault phase.
    pub partitions: bool,
    /// Crashes of honest validators in the middle of a round, each followed
    /// by a restart from persisted votes and the committed chain.
    pub crashes: bool,
    /// A client submits transfers to random nodes throughout.
    pub client: bool,
    /// A deliberately broken driver every validator runs: only for the
    /// tests that prove the checker can fail.
    pub mutant: Option<Mutant>,
}

impl Scenario {
    /// The quorum certificates of this run carry.
    pub fn quorum_rule(&self) -> QuorumRule {
        match self.mutant {
            Some(Mutant::BrokenQuorum) => QuorumRule::UnsafeFPlusOne,
            _ => QuorumRule::Byzantine,
        }
    }
}

/// Blocks every honest replica must finalize after the faults stop.
pub const LIVENESS_BLOCKS: u64 = 20;
/// Simulated time allowed for those blocks.
pub const LIVENESS_BUDGET_MS: u64 = 120_000;

const fn base(name: &'static str, n: usize) -> Scenario {
    Scenario {
        name,
        n,
        byzantine: 0,
        faults_ms: 2_500,
        net: MILD_NET,
        partitions: false,
        crashes: false,
        client: true,
        mutant: None,
    }
}

/// The scenarios `--scenario all` runs.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        byzantine: 1,
        ..base("n4f1", 4)
    },
    Scenario {
        byzantine: 2,
        ..base("n7f2", 7)
    },
    Scenario {
        byzantine: 3,
        ..base("n10f3", 10)
    },
    Scenario {
        partitions: true,
        faults_ms: 4_000,
        ..base("partition", 7)
    },
    Scenario {
        net: NetFaults {
            drop_per_mille: 200,
            dup_per_mille: 20,
            delay_ms_min: 1,
            delay_ms_max: 40,
        },
        ..base("loss20", 4)
    },
    Scenario {
        crashes: true,
        faults_ms: 4_000,
        ..base("crash", 4)
    },
];

/// `n4f1` with the deliberately broken quorum of f + 1: its runs are
/// expected to fail, which proves the safety checker can fail.
pub const BROKEN_QUORUM: Scenario = Scenario {
    byzantine: 1,
    mutant: Some(Mutant::BrokenQuorum),
    ..base("n4f1-broken-quorum", 4)
};

/// `crash` with a driver that sends each vote before saving it: a crash
/// between the two makes a restarted validator vote twice in one round,
/// which the checker must catch.
pub const BROADCAST_BEFORE_PERSIST: Scenario = Scenario {
    crashes: true,
    faults_ms: 4_000,
    mutant: Some(Mutant::BroadcastBeforePersist),
    ..base("broadcast-before-persist", 4)
};

/// The scenarios that must fail, proving the checker can.
pub const MUTANTS: &[Scenario] = &[BROKEN_QUORUM, BROADCAST_BEFORE_PERSIST];

/// A calm alliance that nobody submits anything to, for the tests of the
/// driver's own policy, which drive it step by step.
pub const QUIET: Scenario = Scenario {
    client: false,
    net: CALM_NET,
    faults_ms: 1,
    ..base("quiet", 4)
};

/// Looks a scenario up by name, including the mutants.
pub fn by_name(name: &str) -> Option<Scenario> {
    SCENARIOS
        .iter()
        .chain(MUTANTS)
        .find(|s| s.name == name)
        .cloned()
}

//! The named scenarios: how many validators, which faults, for how long.

use merit_chain::consensus::QuorumRule;
use merit_node::driver::Mutant;

use super::fixtures::SIM_MESSAGE_DELAY_MS;

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
    /// Byzantine validators; their roles rotate with the seed through
    /// `roles`, or through every role of [`crate::sim::mocks::ROLES`] when
    /// it is empty.
    pub byzantine: usize,
    pub roles: &'static [&'static str],
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
    /// Time between two client submissions, drawn per submission.
    pub client_interval_ms: (u64, u64),
    /// Honest validators whose clocks are off by more than the precision
    /// (half of them ahead, half behind). Every other honest clock is off
    /// by at most half the precision.
    pub skewed: usize,
    /// Honest clocks are off true time by up to half the precision. Off
    /// only for the driver-policy tests, which read block times.
    pub honest_skew: bool,
    /// A stale lock: from [`STALE_LOCK_AT_MS`] every Commit is lost, so a
    /// block is prepared but not finalized; then the validators are split
    /// in two halves for [`STALE_LOCK_PARTITIONS_DELAYS`] message delays.
    pub stale_lock: bool,
    /// A deliberately broken driver every validator runs: only for the
    /// tests that prove the checker can fail.
    pub mutant: Option<Mutant>,
    /// The alliance changes its validator set by vote during the run.
    pub reconfig: Option<Reconfig>,
}

/// How the validator set changes in a reconfiguration scenario: `n`
/// merchants in all, of which the first `genesis` run validators from
/// genesis. The others are voted in one by one (`AddMerchant`), each
/// starting its node as its vote begins and syncing from genesis across
/// every change before it; then `leaves` honest genesis validators are
/// voted out one by one (`RemoveMerchant`) and keep signing votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconfig {
    pub genesis: usize,
    pub leaves: usize,
}

impl Scenario {
    /// Validators in the genesis set.
    pub fn genesis_validators(&self) -> usize {
        self.reconfig.map_or(self.n, |r| r.genesis)
    }
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

/// Time between two client submissions, in milliseconds: a few
/// transactions per block.
pub const CLIENT_INTERVAL_MS: (u64, u64) = (30, 120);
/// When the Commits of a stale-lock scenario start to be lost.
pub const STALE_LOCK_AT_MS: u64 = 1_500;
/// How long after that the partition of a stale-lock scenario begins.
pub const STALE_LOCK_PARTITION_AFTER_MS: u64 = 400;
/// How long the partition lasts, in message delays of the genesis.
pub const STALE_LOCK_PARTITIONS_DELAYS: u64 = 10;
/// The fault phase of a stale-lock scenario: it ends as the partition heals.
pub const STALE_LOCK_FAULTS_MS: u64 = STALE_LOCK_AT_MS
    + STALE_LOCK_PARTITION_AFTER_MS
    + STALE_LOCK_PARTITIONS_DELAYS * SIM_MESSAGE_DELAY_MS;
/// How far beyond the precision a skewed honest clock is off, at most, in
/// precisions.
pub const SKEW_BEYOND_PRECISIONS: u64 = 6;

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
        client_interval_ms: CLIENT_INTERVAL_MS,
        skewed: 0,
        honest_skew: true,
        stale_lock: false,
        roles: &[],
        mutant: None,
        reconfig: None,
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
    // The block-time scenarios of proposer-based timestamps.
    // A byzantine proposer stamps its blocks a day ahead or as far back as
    // validity lets it; blocks come seconds apart, so "far back" is far.
    Scenario {
        byzantine: 1,
        roles: &["time-traveller"],
        client_interval_ms: (1_500, 4_000),
        faults_ms: 20_000,
        ..base("pbts-byzantine-time", 4)
    },
    // f honest validators whose clocks are off by more than the precision,
    // and nothing else wrong: the others refuse their proposals, and the
    // chain goes on.
    Scenario {
        skewed: 2,
        faults_ms: 6_000,
        ..base("pbts-skewed", 7)
    },
    // A block is prepared, its Commits are lost, and a partition lasts ten
    // message delays: the lock is re-proposed long after its block time,
    // exempt from timeliness, and commits.
    Scenario {
        stale_lock: true,
        faults_ms: STALE_LOCK_FAULTS_MS,
        ..base("pbts-stale-lock", 4)
    },
    // The alliance grows from 4 validators to 7 by three votes, then
    // shrinks to 5 by two, under every fault at once.
    RECONFIG,
];

/// Votes in and out take a few dozen blocks each; the faults last through
/// most of them.
const RECONFIG: Scenario = Scenario {
    byzantine: 1,
    partitions: true,
    crashes: true,
    faults_ms: 12_000,
    reconfig: Some(Reconfig {
        genesis: 4,
        leaves: 2,
    }),
    ..base("reconfig", 7)
};

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

/// `pbts-stale-lock` with replicas that judge a re-proposed lock's time
/// like a fresh proposal's: the stale lock never commits, and the run
/// fails to make progress.
pub const PBTS_NO_REPROPOSAL_EXEMPTION: Scenario = Scenario {
    stale_lock: true,
    faults_ms: STALE_LOCK_FAULTS_MS,
    mutant: Some(Mutant::NoReproposalExemption),
    ..base("pbts-no-reproposal-exemption", 4)
};

/// `pbts-byzantine-time` with replicas that take every proposal as timely:
/// the time-traveller's block a day ahead becomes final, past the bound on
/// block time the checker holds.
pub const PBTS_IGNORE_BLOCK_TIME: Scenario = Scenario {
    byzantine: 1,
    roles: &["time-traveller"],
    client_interval_ms: (1_500, 4_000),
    faults_ms: 20_000,
    mutant: Some(Mutant::IgnoreBlockTime),
    ..base("pbts-ignore-block-time", 4)
};

/// `reconfig` with a driver that checks synced blocks' certificates
/// against the genesis set instead of the set in force at their height: a
/// node that syncs across a change of the set refuses the honest chain.
pub const CERTS_AGAINST_GENESIS_SET: Scenario = Scenario {
    name: "certs-against-genesis-set",
    mutant: Some(Mutant::CertsAgainstGenesisSet),
    ..RECONFIG
};

/// The scenarios that must fail, proving the checker can.
pub const MUTANTS: &[Scenario] = &[
    BROKEN_QUORUM,
    BROADCAST_BEFORE_PERSIST,
    PBTS_NO_REPROPOSAL_EXEMPTION,
    PBTS_IGNORE_BLOCK_TIME,
    CERTS_AGAINST_GENESIS_SET,
];

/// A calm alliance that nobody submits anything to, for the tests of the
/// driver's own policy, which drive it step by step.
pub const QUIET: Scenario = Scenario {
    client: false,
    honest_skew: false,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_scenario_delays_a_message_longer_than_the_chain_assumes() {
        for s in SCENARIOS.iter().chain(MUTANTS).chain([&QUIET]) {
            assert!(
                s.net.delay_ms_max <= SIM_MESSAGE_DELAY_MS,
                "{}: delays up to {} ms, message_delay_ms is {SIM_MESSAGE_DELAY_MS}",
                s.name,
                s.net.delay_ms_max
            );
        }
    }

    // The calm network after the faults is within the bound too.
    const _: () = assert!(CALM_NET.delay_ms_max <= SIM_MESSAGE_DELAY_MS);
}

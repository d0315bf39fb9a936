//! The deterministic consensus simulation, over many seeds per scenario.
//!
//! `MERIT_SIM_SEEDS` overrides the number of seeds per scenario (at least
//! [`DEFAULT_SEEDS`] run in CI). A failure names its seed and the command
//! that replays it.

use merit_chain::Block;
use merit_chain::consensus::{
    ConsensusConfig, Effect, Input, Message, PersistedState, Replica, Statement, ValidatorSet, Vote,
};
use merit_store::{RocksStorage, Storage};
use merit_tests::sim::checker::FailureKind;
use merit_tests::sim::fixtures::{self, chain_id, validator_key};
use merit_tests::sim::rng::SimRng;
use merit_tests::sim::{self, BROKEN_QUORUM, Role, Scenario, Summary};

/// Seeds each scenario runs in CI.
const DEFAULT_SEEDS: u64 = 500;

fn seeds() -> u64 {
    std::env::var("MERIT_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEEDS)
}

fn scenario(name: &str) -> Scenario {
    sim::by_name(name).unwrap_or_else(|| panic!("scenario {name} exists"))
}

/// Runs every seed of `name` and fails with each failure's replay command.
fn all_seeds_pass(name: &str) -> Summary {
    let s = scenario(name);
    let n = seeds();
    let summary = sim::run_seeds(&s, 0..n, sim::default_threads());
    let report: Vec<String> = summary.failures.iter().map(|f| f.to_string()).collect();
    assert!(
        report.is_empty(),
        "{} of {n} seeds of {name} failed:\n{}",
        report.len(),
        report.join("\n")
    );
    assert_eq!(summary.seeds_run, n);
    // Every run finalizes the blocks of its fault phase plus at least the
    // liveness quota after it.
    assert!(
        summary.blocks >= n * sim::scenario::LIVENESS_BLOCKS,
        "{name}: only {} blocks",
        summary.blocks
    );
    summary
}

#[test]
fn n4f1_is_safe_and_live_over_every_seed() {
    let summary = all_seeds_pass("n4f1");
    // The spammer's invalid signatures and outsider keys reached honest
    // replicas and were refused.
    assert!(summary.stats.rejected_bad_signature > 0);
    assert!(summary.stats.rejected_not_validator > 0);
}

#[test]
fn n7f2_is_safe_and_live_over_every_seed() {
    let summary = all_seeds_pass("n7f2");
    assert!(
        summary.stats.rounds_started > 0,
        "silent and equivocating proposers force view changes"
    );
}

#[test]
fn n10f3_is_safe_and_live_over_every_seed() {
    let summary = all_seeds_pass("n10f3");
    assert!(summary.stats.rounds_started > 0);
    assert!(
        summary.stats.ignored_stale + summary.stats.duplicates > 0,
        "replayed messages were ignored"
    );
}

#[test]
fn partitions_are_safe_and_heal_over_every_seed() {
    let summary = all_seeds_pass("partition");
    assert!(
        summary.stats.sync_requests > 0,
        "replicas cut off by a partition catch up by sync"
    );
}

#[test]
fn twenty_percent_message_loss_is_safe_and_live_over_every_seed() {
    let summary = all_seeds_pass("loss20");
    assert!(
        summary.stats.rounds_started > 0,
        "lost messages force view changes"
    );
}

#[test]
fn crash_and_restart_mid_round_is_safe_and_live_over_every_seed() {
    let summary = all_seeds_pass("crash");
    assert!(
        summary.crashes >= seeds(),
        "about one crash per run or more, got {}",
        summary.crashes
    );
}

#[test]
fn every_byzantine_role_appears_in_the_seeded_mixes() {
    for s in [scenario("n4f1"), scenario("n7f2"), scenario("n10f3")] {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..5 {
            let roles = sim::World::new(&s, seed)
                .run()
                .map(|r| r.roles)
                .unwrap_or_else(|f| panic!("{f}"));
            assert_eq!(
                roles.iter().filter(|r| **r != Role::Honest).count(),
                s.byzantine
            );
            seen.extend(roles.into_iter().filter(|r| *r != Role::Honest));
        }
        assert_eq!(seen.len(), sim::world::BYZANTINE_ROLES.len(), "{}", s.name);
    }
}

#[test]
fn a_broken_quorum_is_caught_as_a_safety_violation() {
    // f + 1 instead of 2f + 1: an equivocating proposer gets two different
    // blocks finalized. The checker must notice within the seeds.
    let summary = sim::run_seeds(&BROKEN_QUORUM, 0..100, sim::default_threads());
    let violations: Vec<_> = summary
        .failures
        .iter()
        .filter(|f| matches!(*f.kind, FailureKind::ConflictingBlocks { .. }))
        .collect();
    assert!(
        !violations.is_empty(),
        "the checker found no two blocks finalized at one height with a broken quorum: {:?}",
        summary.failures
    );
    // The failure names its seed and replay command, and replays exactly.
    let first = violations[0];
    let text = first.to_string();
    assert!(text.contains(&format!("seed {}", first.seed)));
    assert!(text.contains(&format!(
        "cargo run -p merit-tests --release --bin merit-sim -- --scenario n4f1-broken-quorum --seed {}",
        first.seed
    )));
    let replayed = sim::run(&BROKEN_QUORUM, first.seed).expect_err("the replay fails the same way");
    assert_eq!(&replayed, first);
    // The same seed under the real quorum is safe.
    let mut fixed = BROKEN_QUORUM.clone();
    fixed.quorum_rule = ConsensusConfig::default().quorum_rule;
    sim::run(&fixed, first.seed).unwrap_or_else(|f| panic!("{f}"));
}

#[test]
fn the_same_seed_replays_to_the_same_trace() {
    for s in sim::SCENARIOS {
        for seed in [3, 1_000_003] {
            let a = sim::run(s, seed).unwrap_or_else(|f| panic!("{f}"));
            let b = sim::run(s, seed).unwrap_or_else(|f| panic!("{f}"));
            assert_eq!(a, b, "{} seed {seed} replays differently", s.name);
        }
        let a = sim::run(s, 3).unwrap_or_else(|f| panic!("{f}"));
        let c = sim::run(s, 4).unwrap_or_else(|f| panic!("{f}"));
        assert_ne!(
            a.trace_hash, c.trace_hash,
            "{}: different seeds, different runs",
            s.name
        );
    }
}

fn pre_prepare(proposer: usize, block: &Block) -> Input {
    let vote = Vote {
        height: block.header.height,
        round: block.header.round,
        block_hash: block.hash(),
    };
    let msg = Message::sign(
        &chain_id(),
        &validator_key(proposer),
        Statement::PrePrepare(vote),
        Some(block.clone()),
    );
    Input::Message(Box::new(msg))
}

fn prepares(effects: &[Effect]) -> Vec<Vote> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Broadcast(m) => match m.statement() {
                Statement::Prepare(v) => Some(*v),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Executes whatever the replica asks to execute on `ledger`, like a host.
fn host_step(replica: &mut Replica, ledger: &merit_chain::Ledger, input: Input) -> Vec<Effect> {
    let mut all = Vec::new();
    let mut pending = vec![input];
    while let Some(input) = pending.pop() {
        for effect in replica.handle(input) {
            if let Effect::ExecuteBlock(b) = &effect {
                pending.push(Input::BlockExecuted {
                    height: b.header.height,
                    round: b.header.round,
                    block_hash: b.hash(),
                    valid: ledger.verify_block(b).is_ok(),
                });
            }
            all.push(effect);
        }
    }
    all
}

#[test]
fn a_replica_restarted_after_voting_does_not_vote_for_another_block_in_that_round() {
    let n = 4;
    let set = ValidatorSet::new(fixtures::validator_keys(n)).unwrap();
    let ledger = fixtures::genesis_ledger(n);
    let proposer = set.proposer_index(1, 0);
    let mut rng = SimRng::new(1);
    let mut nonce = 0;
    // The proposer equivocates: two valid blocks for (1, 0).
    let x = ledger
        .build_block(
            0,
            10,
            validator_key(proposer).public(),
            fixtures::transfers(&mut rng, 1, &mut nonce),
        )
        .0;
    let y = ledger
        .build_block(
            0,
            11,
            validator_key(proposer).public(),
            fixtures::transfers(&mut rng, 1, &mut nonce),
        )
        .0;
    assert_ne!(x.hash(), y.hash());
    assert!(ledger.verify_block(&x).is_ok() && ledger.verify_block(&y).is_ok());

    let me = (proposer + 1) % n;
    let mut replica = Replica::new(
        ConsensusConfig::default(),
        chain_id(),
        set.clone(),
        validator_key(me),
        0,
    )
    .unwrap();
    let _ = replica.start();
    let effects = host_step(&mut replica, &ledger, pre_prepare(proposer, &x));
    assert_eq!(
        prepares(&effects),
        vec![Vote {
            height: 1,
            round: 0,
            block_hash: x.hash()
        }]
    );
    let stored: Vec<u8> = effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::PersistVote(s) => Some(s.to_bytes()),
            _ => None,
        })
        .expect("the vote was persisted");

    // The host writes the vote to RocksDB (synced) before sending it, as the
    // node's driver does.
    let dir = tempfile::tempdir().unwrap();
    {
        let store = RocksStorage::open(dir.path()).unwrap();
        store.save_consensus_state(&stored).unwrap();
    }

    // Crash. The restarted replica knows only its chain (height 0) and what
    // it finds in the reopened store.
    drop(replica);
    let restore = |persisted: Option<PersistedState>| {
        let mut r = Replica::restore(
            ConsensusConfig::default(),
            chain_id(),
            set.clone(),
            validator_key(me),
            0,
            persisted,
        )
        .unwrap();
        let _ = r.start();
        r
    };
    let store = RocksStorage::open(dir.path()).unwrap();
    let bytes = store
        .consensus_state()
        .unwrap()
        .expect("the vote is on disk");
    assert_eq!(bytes, stored);
    let persisted = PersistedState::from_bytes(&bytes).unwrap();

    // Control: a replica that forgot its vote (restarted without the store)
    // does prepare the other block, so the check below can fail.
    let mut amnesiac = restore(None);
    let effects = host_step(&mut amnesiac, &ledger, pre_prepare(proposer, &y));
    assert_eq!(
        prepares(&effects),
        vec![Vote {
            height: 1,
            round: 0,
            block_hash: y.hash()
        }]
    );

    let mut restarted = restore(Some(persisted));
    assert_eq!((restarted.height(), restarted.round()), (1, 0));
    let effects = host_step(&mut restarted, &ledger, pre_prepare(proposer, &y));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::ExecuteBlock(b) if b.hash() == y.hash()))
    );
    assert!(
        prepares(&effects).is_empty(),
        "voted for {:?} after restart",
        prepares(&effects)
    );
    let effects = host_step(&mut restarted, &ledger, pre_prepare(proposer, &x));
    assert!(prepares(&effects).is_empty());

    // It still moves on: its timeout leads to a persisted ViewChange for round 1.
    let effects = restarted.handle(Input::Timeout {
        height: 1,
        round: 0,
    });
    let persist = effects
        .iter()
        .position(|e| matches!(e, Effect::PersistVote(s) if s.round == 1));
    let send = effects.iter().position(
        |e| matches!(e, Effect::Broadcast(m) if matches!(m.statement(), Statement::ViewChange(vc) if vc.round == 1)),
    );
    assert!(
        matches!((persist, send), (Some(p), Some(s)) if p < s),
        "{effects:?}"
    );
}

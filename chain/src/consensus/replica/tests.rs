//! Unit tests of the replica: small clusters driven message by message.

use std::collections::{BTreeSet, VecDeque};

use super::*;
use crate::block::{BlockHeader, tx_root};
use crate::consensus::evidence::Evidence;
use crate::consensus::message::{NewView, SignedViewChange, Statement, Vote};
use crate::consensus::verify_certificate;
use crate::encoding::BoundedVec;

const CHAIN: &str = "merit-unit";

fn chain() -> ChainId {
    ChainId::new(CHAIN).unwrap()
}

fn keys(n: usize) -> Vec<Keypair> {
    (0..n)
        .map(|i| Keypair::insecure_from_label(&format!("replica-v{i}")))
        .collect()
}

fn set(keys: &[Keypair]) -> ValidatorSet {
    ValidatorSet::new(keys.iter().map(Keypair::public).collect()).unwrap()
}

fn block(height: u64, round: u32, proposer: PublicKey, salt: u64) -> Block {
    Block {
        header: BlockHeader {
            chain_id: chain(),
            height,
            round,
            parent_hash: Hash32::ZERO,
            timestamp_ms: salt,
            proposer,
            tx_root: tx_root(&[]),
            receipts_root: Hash32::ZERO,
            state_root: Hash32::ZERO,
            validators_hash: Hash32::ZERO,
            next_validators_hash: Hash32::ZERO,
        },
        txs: BoundedVec::new(Vec::new()).unwrap(),
    }
}

fn schedule(keys: &[Keypair]) -> ValidatorSchedule {
    ValidatorSchedule::fixed(0, set(keys))
}

fn replica(keys: &[Keypair], i: usize) -> Replica {
    Replica::new(
        ConsensusConfig::default(),
        chain(),
        schedule(keys),
        keys[i].clone(),
        0,
    )
    .unwrap()
}

/// A message as it arrives: at its block's time, if it carries a block.
fn msg(m: Message) -> Input {
    let arrival_ms = m.block.as_ref().map_or(0, |b| b.header.timestamp_ms);
    Input::Message {
        msg: Box::new(m),
        arrival_ms,
    }
}

fn broadcasts(effects: &[Effect]) -> Vec<&Message> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Broadcast(m) => Some(m.as_ref()),
            _ => None,
        })
        .collect()
}

fn prepares_for(effects: &[Effect]) -> Vec<Vote> {
    broadcasts(effects)
        .into_iter()
        .filter_map(|m| match m.statement() {
            Statement::Prepare(v) => Some(*v),
            _ => None,
        })
        .collect()
}

/// A lossless, in-order network of replicas whose host accepts every block.
struct Cluster {
    keys: Vec<Keypair>,
    replicas: Vec<Replica>,
    up: Vec<bool>,
    queue: VecDeque<(usize, Input)>,
    timers: Vec<(usize, u64, u32)>,
    commits: Vec<Vec<(Block, CommitCertificate)>>,
    /// Messages from these replicas are not delivered.
    muted: BTreeSet<usize>,
    /// Commit messages are not delivered while set.
    drop_commits: bool,
    /// Proposals are built only up to this height, so runs end.
    max_height: u64,
}

impl Cluster {
    fn new(n: usize) -> Self {
        let keys = keys(n);
        let replicas = (0..n).map(|i| replica(&keys, i)).collect();
        Cluster {
            keys,
            replicas,
            up: vec![true; n],
            queue: VecDeque::new(),
            timers: Vec::new(),
            commits: vec![Vec::new(); n],
            muted: BTreeSet::new(),
            drop_commits: false,
            max_height: 1,
        }
    }

    fn start(&mut self) {
        for i in 0..self.replicas.len() {
            let effects = self.replicas[i].start();
            self.apply(i, effects);
        }
        self.run();
    }

    fn apply(&mut self, i: usize, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Broadcast(m) => {
                    let is_commit = matches!(m.statement(), Statement::Commit(_));
                    if self.muted.contains(&i) || (is_commit && self.drop_commits) {
                        continue;
                    }
                    for j in 0..self.replicas.len() {
                        if j != i {
                            self.queue.push_back((j, msg((*m).clone())));
                        }
                    }
                }
                Effect::ExecuteBlock(b) => self.queue.push_back((
                    i,
                    Input::BlockExecuted {
                        height: b.header.height,
                        round: b.header.round,
                        block_hash: b.hash(),
                        valid: true,
                    },
                )),
                Effect::BuildProposal { height, .. } if height > self.max_height => {}
                Effect::BuildProposal { height, round } => {
                    let b = block(
                        height,
                        round,
                        self.keys[i].public(),
                        1000 + u64::from(round),
                    );
                    self.queue.push_back((i, Input::Proposal(Box::new(b))));
                }
                Effect::ScheduleTimeout { height, round, .. } => {
                    self.timers.push((i, height, round))
                }
                Effect::Commit { block, certificate } => {
                    self.commits[i].push((*block, certificate))
                }
                Effect::PersistVote(_) | Effect::RequestSync { .. } | Effect::Evidence(_) => {}
            }
        }
    }

    fn run(&mut self) {
        while let Some((i, input)) = self.queue.pop_front() {
            if !self.up[i] {
                continue;
            }
            let effects = self.replicas[i].handle(input);
            self.apply(i, effects);
        }
    }

    /// Fires the current-round timer of every replica.
    fn fire_timeouts(&mut self) {
        for i in 0..self.replicas.len() {
            let (h, r) = (self.replicas[i].height(), self.replicas[i].round());
            if self.up[i] && self.timers.contains(&(i, h, r)) {
                self.queue.push_back((
                    i,
                    Input::Timeout {
                        height: h,
                        round: r,
                    },
                ));
            }
        }
        self.run();
    }
}

#[test]
fn timeouts_back_off_exponentially_up_to_the_cap() {
    let c = ConsensusConfig::from_params(ConsensusParams {
        timeout_base_ms: 100,
        timeout_max_ms: 1_500,
        ..ConsensusParams::default()
    });
    let got: Vec<u64> = (0..6).map(|r| c.timeout_ms(r)).collect();
    assert_eq!(got, vec![100, 200, 400, 800, 1_500, 1_500]);
    assert_eq!(c.timeout_ms(u32::MAX), 1_500);
    use crate::params::{DEFAULT_TIMEOUT_BASE_MS, DEFAULT_TIMEOUT_MAX_MS};
    assert_eq!(
        ConsensusConfig::default().timeout_ms(0),
        DEFAULT_TIMEOUT_BASE_MS
    );
    assert_eq!(
        ConsensusConfig::default().timeout_ms(40),
        DEFAULT_TIMEOUT_MAX_MS
    );
}

#[test]
fn four_replicas_commit_a_block_with_a_verifiable_certificate() {
    let mut c = Cluster::new(4);
    c.start();
    let pubs: Vec<PublicKey> = c.keys.iter().map(Keypair::public).collect();
    for i in 0..4 {
        assert_eq!(c.commits[i].len(), 1, "replica {i}");
        let (b, cert) = &c.commits[i][0];
        assert_eq!(b.header.height, 1);
        assert_eq!(
            b.header.proposer, pubs[1],
            "height 1 round 0 is proposed by validators[1]"
        );
        assert_eq!(cert.block_hash, b.hash());
        assert_eq!(cert.signatures.len(), 3, "exactly 2f + 1 signatures");
        assert_eq!(verify_certificate(&chain(), &pubs, cert), Ok(()));
        assert_eq!(c.replicas[i].height(), 2);
    }
    assert!(c.commits.iter().all(|v| v[0].0 == c.commits[0][0].0));
}

#[test]
fn a_silent_proposer_is_replaced_by_a_view_change() {
    let mut c = Cluster::new(4);
    // validators[1] proposes height 1 in round 0; it says nothing.
    c.muted.insert(1);
    c.start();
    assert!(c.commits.iter().all(Vec::is_empty));
    c.fire_timeouts();
    for i in [0, 2, 3] {
        assert_eq!(c.commits[i].len(), 1, "replica {i}");
        let (b, cert) = &c.commits[i][0];
        assert_eq!((b.header.round, cert.round), (1, 1));
        assert_eq!(
            b.header.proposer,
            c.keys[2].public(),
            "round 1 of height 1 is validators[2]'s"
        );
    }
}

#[test]
fn a_view_change_re_proposes_the_prepared_block() {
    let mut c = Cluster::new(4);
    c.drop_commits = true;
    c.start();
    // Everyone prepared the round-0 block, but no Commit arrived.
    let prepared = c.replicas[0].persisted_state().lock.expect("locked").block;
    assert_eq!(prepared.header.round, 0);
    c.drop_commits = false;
    c.fire_timeouts();
    for i in 0..4 {
        let (b, cert) = &c.commits[i][0];
        assert_eq!(
            b, &prepared,
            "replica {i} must commit the block prepared in round 0"
        );
        assert_eq!(cert.round, 1);
    }
}

#[test]
fn a_new_view_that_ignores_a_prepared_block_is_rejected() {
    let mut c = Cluster::new(4);
    c.drop_commits = true;
    c.start();
    // Collect the round-1 view changes by timing out without delivering them.
    let mut vcs = Vec::new();
    for i in 0..4 {
        let effects = c.replicas[i].handle(Input::Timeout {
            height: 1,
            round: 0,
        });
        for m in broadcasts(&effects) {
            if let Statement::ViewChange(vc) = m.statement() {
                assert!(vc.prepared.is_some());
                vcs.push(SignedViewChange {
                    view_change: vc.clone(),
                    validator: m.signed.validator,
                    signature: m.signed.signature,
                });
            }
        }
    }
    // validators[2] proposes round 1, but a fresh block instead of the prepared one.
    let fresh = block(1, 1, c.keys[2].public(), 77);
    let nv = Statement::NewView(NewView {
        height: 1,
        round: 1,
        block_hash: fresh.hash(),
        view_changes: BoundedVec::new(vcs[..3].to_vec()).unwrap(),
    });
    let forged = Message::sign(&chain(), &c.keys[2], nv, Some(fresh));
    assert_eq!(
        c.replicas[0].check_message(&forged),
        Err(Rejection::BadJustification(
            "the NewView does not re-propose the highest prepared block"
        ))
    );
    let before = c.replicas[0].stats().rejected_invalid;
    let effects = c.replicas[0].handle(msg(forged));
    assert!(prepares_for(&effects).is_empty());
    assert_eq!(c.replicas[0].stats().rejected_invalid, before + 1);

    // Too few view changes do not justify a NewView either.
    let prepared = c.replicas[0].persisted_state().lock.unwrap();
    let short = Statement::NewView(NewView {
        height: 1,
        round: 1,
        block_hash: prepared.block.hash(),
        view_changes: BoundedVec::new(vcs[..2].to_vec()).unwrap(),
    });
    let short = Message::sign(&chain(), &c.keys[2], short, Some(prepared.block));
    assert_eq!(
        c.replicas[0].check_message(&short),
        Err(Rejection::BadJustification(
            "fewer view changes than a quorum"
        ))
    );
}

#[test]
fn messages_from_non_validators_are_ignored_and_counted() {
    let ks = keys(4);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    let outsider = Keypair::insecure_from_label("outsider");
    let b = block(1, 0, outsider.public(), 1);
    let m = Message::sign(
        &chain(),
        &outsider,
        Statement::PrePrepare(Vote {
            height: 1,
            round: 0,
            block_hash: b.hash(),
        }),
        Some(b),
    );
    assert!(r.handle(msg(m.clone())).is_empty());
    assert_eq!(r.check_message(&m), Err(Rejection::NotAValidator));
    let vote = Message::sign(
        &chain(),
        &outsider,
        Statement::Prepare(Vote {
            height: 1,
            round: 0,
            block_hash: Hash32([1; 32]),
        }),
        None,
    );
    assert!(r.handle(msg(vote)).is_empty());
    assert_eq!(r.stats().rejected_not_validator, 2);
    assert_eq!(r.stats().accepted, 0);
}

#[test]
fn bad_signatures_are_rejected_and_counted() {
    let ks = keys(4);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    let b = block(1, 0, ks[1].public(), 1);
    let stmt = Statement::PrePrepare(Vote {
        height: 1,
        round: 0,
        block_hash: b.hash(),
    });

    // A flipped bit.
    let mut flipped = Message::sign(&chain(), &ks[1], stmt.clone(), Some(b.clone()));
    flipped.signed.signature.0[5] ^= 1;
    assert_eq!(r.check_message(&flipped), Err(Rejection::BadSignature));
    assert!(r.handle(msg(flipped)).is_empty());

    // Signed by validator 2 but claiming to be validator 1.
    let mut impostor = Message::sign(&chain(), &ks[2], stmt.clone(), Some(b.clone()));
    impostor.signed.validator = ks[1].public();
    assert!(r.handle(msg(impostor)).is_empty());

    // Signed for another chain.
    let other = Message::sign(
        &ChainId::new("merit-other").unwrap(),
        &ks[1],
        stmt.clone(),
        Some(b.clone()),
    );
    assert!(r.handle(msg(other)).is_empty());

    assert_eq!(r.stats().rejected_bad_signature, 3);

    // The genuine message is accepted and executed.
    let genuine = Message::sign(&chain(), &ks[1], stmt, Some(b.clone()));
    let effects = r.handle(msg(genuine));
    assert!(matches!(effects.as_slice(), [Effect::ExecuteBlock(x)] if **x == b));
    assert_eq!(r.stats().accepted, 1);
}

#[test]
fn a_proposal_from_the_wrong_proposer_or_with_a_swapped_block_is_rejected() {
    let ks = keys(4);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    // validators[2] is not the proposer of (1, 0).
    let b = block(1, 0, ks[2].public(), 1);
    let m = Message::sign(
        &chain(),
        &ks[2],
        Statement::PrePrepare(Vote {
            height: 1,
            round: 0,
            block_hash: b.hash(),
        }),
        Some(b),
    );
    assert_eq!(r.check_message(&m), Err(Rejection::WrongProposer));
    // The right proposer, but the attached block is not the signed one.
    let signed_for = block(1, 0, ks[1].public(), 1);
    let attached = block(1, 0, ks[1].public(), 2);
    let m = Message::sign(
        &chain(),
        &ks[1],
        Statement::PrePrepare(Vote {
            height: 1,
            round: 0,
            block_hash: signed_for.hash(),
        }),
        Some(attached),
    );
    assert!(matches!(r.check_message(&m), Err(Rejection::Malformed(_))));
    assert!(r.handle(msg(m)).is_empty());
    assert_eq!(r.stats().rejected_invalid, 1);
}

#[test]
fn future_messages_are_buffered_up_to_the_bound_and_replayed() {
    let ks = keys(4);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    let vote = |k: &Keypair, height: u64, round: u32, salt: u8| {
        Message::sign(
            &chain(),
            k,
            Statement::Prepare(Vote {
                height,
                round,
                block_hash: Hash32([salt; 32]),
            }),
            None,
        )
    };
    // Validator 3 fills its quota for height 2 (distinct rounds, so no duplicates).
    for round in 0..MAX_FUTURE_MESSAGES_PER_VALIDATOR as u32 {
        assert!(r.handle(msg(vote(&ks[3], 2, round, 1))).is_empty());
    }
    assert_eq!(
        r.stats().buffered_future,
        MAX_FUTURE_MESSAGES_PER_VALIDATOR as u64
    );
    // One more is dropped...
    let _ = r.handle(msg(vote(&ks[3], 2, 999, 1)));
    assert_eq!(r.stats().dropped_future, 1);
    // ...a repeat is a duplicate, not a new entry...
    let _ = r.handle(msg(vote(&ks[3], 2, 0, 1)));
    assert_eq!(r.stats().duplicates, 1);
    // ...but other validators keep their own quota.
    let _ = r.handle(msg(vote(&ks[2], 2, 0, 1)));
    assert_eq!(
        r.stats().buffered_future,
        MAX_FUTURE_MESSAGES_PER_VALIDATOR as u64 + 1
    );
    // Messages beyond MAX_FUTURE_HEIGHTS are dropped outright.
    let _ = r.handle(msg(vote(&ks[2], 1 + MAX_FUTURE_HEIGHTS + 1, 0, 1)));
    assert_eq!(r.stats().dropped_future, 2);
    // Stale messages are ignored.
    assert_eq!(r.height(), 1);
    let mut r2 = replica(&ks, 0);
    let _ = r2.start();
    r2.advance_height(5);
    let _ = r2.handle(msg(vote(&ks[1], 4, 0, 1)));
    assert_eq!(r2.stats().ignored_stale, 1);
}

#[test]
fn buffered_votes_count_once_the_replica_reaches_their_height() {
    let mut c = Cluster::new(4);
    // Replica 0 misses height 1 entirely; the others commit it and move on.
    c.up[0] = false;
    c.start();
    assert!(c.commits[1..].iter().all(|v| v.len() == 1));
    c.up[0] = true;
    // Height 2's proposal and votes reach replica 0 ahead of its height.
    let proposer = c.replicas[0].validators().proposer_index(2, 0);
    let b2 = block(2, 0, c.keys[proposer].public(), 5);
    let pp = Message::sign(
        &chain(),
        &c.keys[proposer],
        Statement::PrePrepare(Vote {
            height: 2,
            round: 0,
            block_hash: b2.hash(),
        }),
        Some(b2.clone()),
    );
    let effects = c.replicas[0].handle(msg(pp));
    assert!(
        effects
            .iter()
            .all(|e| !matches!(e, Effect::ExecuteBlock(_))),
        "height 2 is not current yet"
    );
    let v = Message::sign(
        &chain(),
        &c.keys[3],
        Statement::Prepare(Vote {
            height: 2,
            round: 0,
            block_hash: b2.hash(),
        }),
        None,
    );
    let effects = c.replicas[0].handle(msg(v));
    // Two validators are ahead: f + 1 = 2, so height 1 is committed somewhere.
    assert_eq!(
        effects,
        vec![Effect::RequestSync {
            from_height: 1,
            target_height: 1
        }]
    );
    // The host syncs height 1 and reports its certificate.
    let cert = c.commits[1][0].1.clone();
    let effects = c.replicas[0].handle(Input::Synced(cert));
    assert_eq!(c.replicas[0].height(), 2);
    // The buffered proposal is replayed: the block is sent for execution.
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::ExecuteBlock(b) if **b == b2))
    );
}

#[test]
fn a_stuck_validator_is_shown_the_certificate_and_syncs() {
    let mut c = Cluster::new(4);
    // Replica 3 misses height 1; the others commit it.
    c.up[3] = false;
    c.start();
    assert!(c.commits[..3].iter().all(|v| v.len() == 1));
    // Replica 3 times out at height 1; its ViewChange is stale for replica 0.
    let effects = c.replicas[3].handle(Input::Timeout {
        height: 1,
        round: 0,
    });
    let vc = broadcasts(&effects)[0].clone();
    let answer = c.replicas[0].handle(msg(vc.clone()));
    let decision = match broadcasts(&answer).as_slice() {
        [m] => (*m).clone(),
        other => panic!("expected one Decision, got {other:?}"),
    };
    assert!(matches!(decision.statement(), Statement::Decision(cert) if cert.height == 1));
    // Only once per own (height, round).
    assert!(broadcasts(&c.replicas[0].handle(msg(vc))).is_empty());
    // The stuck replica checks the certificate and asks for the block.
    let effects = c.replicas[3].handle(msg(decision.clone()));
    assert_eq!(
        effects,
        vec![Effect::RequestSync {
            from_height: 1,
            target_height: 1
        }]
    );
    // A Decision whose certificate does not verify is refused.
    let Statement::Decision(mut cert) = decision.statement().clone() else {
        unreachable!()
    };
    cert.block_hash = Hash32([9; 32]);
    let forged = Message::sign(&chain(), &c.keys[0], Statement::Decision(cert), None);
    assert!(matches!(
        c.replicas[3].check_message(&forged),
        Err(Rejection::BadCertificate(_))
    ));
}

#[test]
fn a_single_validator_ahead_does_not_trigger_sync() {
    let ks = keys(4);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    let v = Message::sign(
        &chain(),
        &ks[3],
        Statement::Commit(Vote {
            height: 3,
            round: 0,
            block_hash: Hash32([1; 32]),
        }),
        None,
    );
    let effects = r.handle(msg(v));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::RequestSync { .. }))
    );
}

#[test]
fn a_restored_replica_does_not_prepare_a_second_block_in_the_same_round() {
    let ks = keys(4);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    let x = block(1, 0, ks[1].public(), 1);
    let y = block(1, 0, ks[1].public(), 2);
    let pp = |b: &Block| {
        Message::sign(
            &chain(),
            &ks[1],
            Statement::PrePrepare(Vote {
                height: 1,
                round: 0,
                block_hash: b.hash(),
            }),
            Some(b.clone()),
        )
    };
    let _ = r.handle(msg(pp(&x)));
    let effects = r.handle(Input::BlockExecuted {
        height: 1,
        round: 0,
        block_hash: x.hash(),
        valid: true,
    });
    // The vote is persisted before it is broadcast.
    let persist = effects
        .iter()
        .position(|e| matches!(e, Effect::PersistVote(_)))
        .unwrap();
    let send = effects
        .iter()
        .position(|e| matches!(e, Effect::Broadcast(_)))
        .unwrap();
    assert!(persist < send);
    assert_eq!(
        prepares_for(&effects),
        vec![Vote {
            height: 1,
            round: 0,
            block_hash: x.hash()
        }]
    );
    let Effect::PersistVote(saved) = &effects[persist] else {
        unreachable!()
    };
    let bytes = saved.to_bytes();

    // Crash, then restart from the stored bytes.
    drop(r);
    let saved = PersistedState::from_bytes(&bytes).unwrap();
    assert_eq!(saved.votes.prepare, Some(x.hash()));
    let mut r = Replica::restore(
        ConsensusConfig::default(),
        chain(),
        schedule(&ks),
        ks[0].clone(),
        0,
        Some(saved),
    )
    .unwrap();
    let _ = r.start();
    // The equivocating proposer now shows it Y first.
    let _ = r.handle(msg(pp(&y)));
    let effects = r.handle(Input::BlockExecuted {
        height: 1,
        round: 0,
        block_hash: y.hash(),
        valid: true,
    });
    assert!(
        prepares_for(&effects).is_empty(),
        "it already prepared X at (1, 0)"
    );
    assert!(effects.iter().all(|e| !matches!(e, Effect::PersistVote(_))));
    // A fresh replica without the persisted vote would have voted for Y.
    let mut amnesiac = replica(&ks, 0);
    let _ = amnesiac.start();
    let _ = amnesiac.handle(msg(pp(&y)));
    let effects = amnesiac.handle(Input::BlockExecuted {
        height: 1,
        round: 0,
        block_hash: y.hash(),
        valid: true,
    });
    assert_eq!(prepares_for(&effects).len(), 1);
}

#[test]
fn restore_refuses_votes_above_the_committed_chain_and_ignores_old_ones() {
    let ks = keys(4);
    let state = |height| PersistedState {
        height,
        round: 3,
        votes: CastVotes::default(),
        lock: None,
    };
    let err = Replica::restore(
        ConsensusConfig::default(),
        chain(),
        schedule(&ks),
        ks[0].clone(),
        1,
        Some(state(5)),
    );
    assert_eq!(
        err.unwrap_err(),
        ReplicaError::PersistedAhead {
            persisted: 5,
            next: 2
        }
    );
    let old = Replica::restore(
        ConsensusConfig::default(),
        chain(),
        schedule(&ks),
        ks[0].clone(),
        7,
        Some(state(5)),
    )
    .unwrap();
    assert_eq!((old.height(), old.round()), (8, 0));
    let current = Replica::restore(
        ConsensusConfig::default(),
        chain(),
        schedule(&ks),
        ks[0].clone(),
        4,
        Some(state(5)),
    )
    .unwrap();
    assert_eq!((current.height(), current.round()), (5, 3));
    let outsider = Keypair::insecure_from_label("outsider");
    assert!(matches!(
        Replica::new(
            ConsensusConfig::default(),
            chain(),
            schedule(&ks),
            outsider,
            0
        ),
        Err(ReplicaError::NotAValidator(_))
    ));
}

#[test]
fn the_weak_quorum_knob_commits_on_f_plus_one() {
    let ks = keys(4);
    let weak = ConsensusConfig {
        quorum_rule: QuorumRule::UnsafeFPlusOne,
        ..ConsensusConfig::default()
    };
    let r = Replica::new(weak, chain(), schedule(&ks), ks[0].clone(), 0).unwrap();
    assert_eq!(r.quorum(), 2);
    assert_eq!(replica(&ks, 0).quorum(), 3);
}

#[test]
#[should_panic(expected = "own Prepare at height 1 round 0: cast for")]
fn a_second_different_own_prepare_in_one_round_stops_the_replica() {
    let ks = keys(4);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    let x = block(1, 0, ks[1].public(), 1).hash();
    let y = block(1, 0, ks[1].public(), 2).hash();
    r.cast_unchecked(VoteKind::Prepare, x);
    // The same block again is no second vote.
    r.cast_unchecked(VoteKind::Prepare, x);
    r.cast_unchecked(VoteKind::Prepare, y);
}

#[test]
#[should_panic(expected = "own Commit at height 1 round 0: cast for")]
fn a_second_different_own_commit_in_one_round_stops_the_replica() {
    let ks = keys(4);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    let x = block(1, 0, ks[1].public(), 1).hash();
    let y = block(1, 0, ks[1].public(), 2).hash();
    r.cast_unchecked(VoteKind::Commit, x);
    r.cast_unchecked(VoteKind::Commit, y);
}

#[test]
#[should_panic(expected = "own Prepare at height 1 round 0: tally holds")]
fn a_replica_whose_key_already_prepared_another_block_stops_before_signing() {
    let ks = keys(4);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    let x = block(1, 0, ks[1].public(), 1);
    let y = block(1, 0, ks[1].public(), 2);
    // A Prepare for `x` signed with this replica's own key, as a second
    // process running with that key would send it, is counted for it.
    let twin = Message::sign(
        &chain(),
        &ks[0],
        Statement::Prepare(Vote {
            height: 1,
            round: 0,
            block_hash: x.hash(),
        }),
        None,
    );
    let _ = r.handle(msg(twin));
    assert_eq!(r.votes().prepare, None);
    let pp = Message::sign(
        &chain(),
        &ks[1],
        Statement::PrePrepare(Vote {
            height: 1,
            round: 0,
            block_hash: y.hash(),
        }),
        Some(y.clone()),
    );
    let _ = r.handle(msg(pp));
    // Once `y` executes the replica would prepare it: a second block signed
    // with its key in round 0.
    let _ = r.handle(Input::BlockExecuted {
        height: 1,
        round: 0,
        block_hash: y.hash(),
        valid: true,
    });
}

/// Checks signatures like [`Ed25519Verifier`] and counts them.
#[derive(Debug, Default)]
struct CountingVerifier {
    calls: std::sync::atomic::AtomicU64,
}

impl CountingVerifier {
    fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl SignatureVerifier for CountingVerifier {
    fn verify(
        &self,
        key: &PublicKey,
        message: &[u8],
        signature: &crate::crypto::Signature,
    ) -> bool {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        crate::crypto::verify(key, message, signature)
    }
}

/// A round-0 block for `height` by `proposer` that fills nearly all of
/// `MAX_BLOCK_BYTES` with 50-leg split payments, its `tx_root` right.
fn big_block(height: u64, proposer: &Keypair) -> Block {
    use crate::limits::{MAX_MEMO_BYTES, MAX_PAY_LEGS};
    use crate::tx::{PayLeg, TxBody, TxKind};
    let payer = Keypair::insecure_from_label("big-block/payer");
    let legs: Vec<PayLeg> = (0..MAX_PAY_LEGS)
        .map(|i| PayLeg {
            to: Keypair::insecure_from_label(&format!("big-block/leg-{i}"))
                .public()
                .into(),
            token: crate::tx::Symbol::new("BEAN").unwrap(),
            amount: 1,
        })
        .collect();
    let tx = TxBody {
        chain_id: chain(),
        sender: payer.public(),
        sub: 0,
        nonce: 1,
        expires_at_height: 100,
        kind: TxKind::Pay {
            order_id: crate::tx::OrderId::new("order").unwrap(),
            legs: BoundedVec::new(legs).unwrap(),
            memo: Some(crate::tx::Memo::new("m".repeat(MAX_MEMO_BYTES)).unwrap()),
        },
    }
    .sign(&payer);
    let count = (MAX_BLOCK_BYTES - 4 * 1024) / tx.to_bytes().len();
    let txs = vec![tx; count];
    let hashes: Vec<Hash32> = txs.iter().map(crate::tx::Transaction::hash).collect();
    let mut b = block(height, 0, proposer.public(), 1_000);
    b.header.tx_root = tx_root(&hashes);
    b.txs = BoundedVec::new(txs).unwrap();
    b
}

#[test]
fn an_8_mib_proposal_forged_by_a_wrong_signer_is_refused_before_its_block_is_hashed() {
    use crate::crypto::hashed;
    let ks = keys(4);
    let verifier = Arc::new(CountingVerifier::default());
    let mut r = replica(&ks, 0).with_verifier(verifier.clone());
    let _ = r.start();
    let proposer = &ks[r.validators().proposer_index(1, 0)];
    let wrong_signer = &ks[2];
    assert_ne!(proposer.public(), wrong_signer.public());
    let b = big_block(1, proposer);
    let block_bytes = b.to_bytes().len();
    assert!(block_bytes > MAX_BLOCK_BYTES - 8 * 1024 && block_bytes <= MAX_BLOCK_BYTES);
    let stmt = Statement::PrePrepare(Vote {
        height: 1,
        round: 0,
        block_hash: b.hash(),
    });

    // The proposer's name on it, another validator's signature.
    let mut forged = Message::sign(&chain(), wrong_signer, stmt.clone(), Some(b.clone()));
    forged.signed.validator = proposer.public();
    let wire = forged.to_bytes();
    let before = hashed::bytes();
    let forged = Message::from_bytes(&wire).unwrap();
    assert_eq!(hashed::bytes(), before, "decoding hashes nothing");
    let (result, effects) = r.handle_message(forged, b.header.timestamp_ms);
    assert_eq!(result, Err(Rejection::BadSignature));
    assert!(result.as_ref().unwrap_err().is_invalid());
    assert!(effects.is_empty(), "nothing executed: {effects:?}");
    assert_eq!(verifier.calls(), 1, "one signature checked");
    assert_eq!(
        hashed::bytes(),
        before,
        "not one byte of the forged proposal was hashed"
    );

    // The order shows in the verdict too: a forged proposal whose block is
    // not even the one its statement names is refused for its signature,
    // because the block is never looked at.
    let mut swapped = Message::sign(
        &chain(),
        wrong_signer,
        stmt.clone(),
        Some(block(1, 0, proposer.public(), 2)),
    );
    swapped.signed.validator = proposer.public();
    assert_eq!(r.check_message(&swapped), Err(Rejection::BadSignature));
    assert_eq!(hashed::bytes(), before);

    // Control: the genuine proposal's signature holds, so every
    // transaction is hashed (its tx_root checked) and the block executed.
    let genuine = Message::sign(&chain(), proposer, stmt, Some(b.clone()));
    let (result, effects) = r.handle_message(genuine, b.header.timestamp_ms);
    assert_eq!(result, Ok(()));
    assert!(matches!(effects.as_slice(), [Effect::ExecuteBlock(x)] if **x == b));
    let txs_bytes: usize = b.txs.iter().map(|t| t.to_bytes().len()).sum();
    assert!(
        hashed::bytes() - before >= txs_bytes as u64,
        "the genuine block is hashed: {} bytes",
        hashed::bytes() - before
    );
}

#[test]
fn only_invalid_messages_count_against_their_sender() {
    for r in [
        Rejection::NotAValidator,
        Rejection::BadSignature,
        Rejection::Malformed("x"),
        Rejection::WrongProposer,
        Rejection::BadJustification("x"),
    ] {
        assert!(r.is_invalid(), "{r}");
    }
    for r in [
        Rejection::Stale {
            height: 1,
            current: 2,
        },
        Rejection::TooFarAhead {
            height: 9,
            current: 2,
        },
        Rejection::RoundTooFarAhead {
            round: 9,
            current: 0,
        },
        Rejection::BufferFull,
        Rejection::CannotJudgeYet(9),
    ] {
        assert!(!r.is_invalid(), "{r}");
    }
}

fn evidence_of(effects: &[Effect]) -> Vec<&Evidence> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Evidence(e) => Some(e.as_ref()),
            _ => None,
        })
        .collect()
}

#[test]
fn conflicting_votes_of_one_validator_are_kept_as_evidence_once_per_height() {
    let ks = keys(4);
    let set = set(&ks);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    let vote = |kind: fn(Vote) -> Statement, b: u8, round: u32| {
        Message::sign(
            &chain(),
            &ks[2],
            kind(Vote {
                height: 1,
                round,
                block_hash: Hash32([b; 32]),
            }),
            None,
        )
    };
    assert!(evidence_of(&r.handle(msg(vote(Statement::Prepare, 1, 0)))).is_empty());
    // The same vote again is a duplicate, not evidence.
    assert!(evidence_of(&r.handle(msg(vote(Statement::Prepare, 1, 0)))).is_empty());
    let effects = r.handle(msg(vote(Statement::Prepare, 2, 0)));
    let found = evidence_of(&effects);
    assert_eq!(found.len(), 1);
    let e = found[0];
    assert_eq!(e.verify(&chain(), &set), Ok(()));
    assert_eq!(e.validator(), ks[2].public());
    assert_eq!((e.height(), e.round(), e.kind()), (1, 0, "prepare"));
    assert_eq!(e.block_hashes(), (Hash32([1; 32]), Hash32([2; 32])));
    assert_eq!(r.stats().evidence, 1);

    // More conflicts of the same validator at this height prove nothing
    // new and are not kept again; another validator's are.
    let _ = r.handle(msg(vote(Statement::Commit, 1, 0)));
    assert!(evidence_of(&r.handle(msg(vote(Statement::Commit, 3, 0)))).is_empty());
    let other = |b: u8| {
        Message::sign(
            &chain(),
            &ks[3],
            Statement::Commit(Vote {
                height: 1,
                round: 0,
                block_hash: Hash32([b; 32]),
            }),
            None,
        )
    };
    let _ = r.handle(msg(other(1)));
    assert_eq!(evidence_of(&r.handle(msg(other(2)))).len(), 1);
    assert_eq!(r.stats().evidence, 2);
}

#[test]
fn a_proposer_that_sends_two_pre_prepares_is_kept_as_evidence() {
    let ks = keys(4);
    let mut r = replica(&ks, 0);
    let _ = r.start();
    let proposer = 1; // (height 1 + round 0) mod 4
    let pre_prepare = |salt: u64| {
        let b = block(1, 0, ks[proposer].public(), salt);
        let stmt = Statement::PrePrepare(Vote {
            height: 1,
            round: 0,
            block_hash: b.hash(),
        });
        Message::sign(&chain(), &ks[proposer], stmt, Some(b))
    };
    let first = r.handle(msg(pre_prepare(1)));
    assert!(evidence_of(&first).is_empty());
    let second = r.handle(msg(pre_prepare(2)));
    let found = evidence_of(&second);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind(), "pre-prepare");
    assert_eq!(found[0].verify(&chain(), &set(&ks)), Ok(()));
    // The second block is neither executed nor prepared.
    assert!(
        !second
            .iter()
            .any(|e| matches!(e, Effect::ExecuteBlock(_) | Effect::Broadcast(_)))
    );
}

/// A commit certificate of `height` for `hash`, signed by `signers`.
fn certificate(signers: &[&Keypair], height: u64, hash: Hash32) -> CommitCertificate {
    let vote = Vote {
        height,
        round: 0,
        block_hash: hash,
    };
    let bytes = crate::consensus::signing_bytes(&chain(), &Statement::Commit(vote));
    let signatures = signers
        .iter()
        .map(|k| crate::block::ValidatorSignature {
            validator: k.public(),
            signature: k.sign(&bytes),
        })
        .collect();
    CommitCertificate {
        height,
        round: 0,
        block_hash: hash,
        signatures: BoundedVec::new(signatures).unwrap(),
    }
}

#[test]
fn every_message_is_judged_by_the_set_of_its_own_height() {
    // Validators 0-3 sign heights 1 and 2; from height 3, 3 is replaced by 4.
    let ks = keys(5);
    let first = set(&ks[..4]);
    let second = ValidatorSet::new(vec![
        ks[0].public(),
        ks[1].public(),
        ks[2].public(),
        ks[4].public(),
    ])
    .unwrap();
    let schedule = ValidatorSchedule::new(
        std::collections::BTreeMap::from([(1, first), (3, second)]),
        4,
    );
    let r = Replica::new(
        ConsensusConfig::default(),
        chain(),
        schedule.clone(),
        ks[0].clone(),
        0,
    )
    .unwrap();
    let prepare = |k: &Keypair, height: u64| {
        Message::sign(
            &chain(),
            k,
            Statement::Prepare(Vote {
                height,
                round: 0,
                block_hash: Hash32([1; 32]),
            }),
            None,
        )
    };
    // Validator 3 may vote at height 2, not at 3; validator 4 the reverse.
    assert!(r.check_message(&prepare(&ks[3], 2)).is_ok());
    assert_eq!(
        r.check_message(&prepare(&ks[3], 3)),
        Err(Rejection::NotAValidator)
    );
    assert_eq!(
        r.check_message(&prepare(&ks[4], 2)),
        Err(Rejection::NotAValidator)
    );
    assert_eq!(r.check_message(&prepare(&ks[4], 3)), Ok(3));
    // Past what the host knows, nothing can be judged, and no one blamed.
    assert_eq!(
        r.check_message(&prepare(&ks[1], 5)),
        Err(Rejection::CannotJudgeYet(5))
    );
    // A certificate of height 3 by the old set does not verify.
    let mut synced = Replica::new(
        ConsensusConfig::default(),
        chain(),
        schedule,
        ks[3].clone(),
        0,
    )
    .unwrap();
    let old_signers = [&ks[0], &ks[1], &ks[3]];
    let before = synced.stats().rejected_invalid;
    let _ = synced.handle(Input::Synced(certificate(&old_signers, 3, Hash32([2; 32]))));
    assert_eq!(synced.stats().rejected_invalid, before + 1);
    assert_eq!(synced.height(), 1);
}

#[test]
fn a_validator_removed_at_the_next_height_retires_after_its_last_commit() {
    let ks = keys(5);
    let second = ValidatorSet::new(vec![
        ks[0].public(),
        ks[1].public(),
        ks[2].public(),
        ks[4].public(),
    ])
    .unwrap();
    let schedule = ValidatorSchedule::new(
        std::collections::BTreeMap::from([(1, set(&ks[..4])), (3, second)]),
        10,
    );
    let mut leaving = Replica::new(
        ConsensusConfig::default(),
        chain(),
        schedule,
        ks[3].clone(),
        0,
    )
    .unwrap();
    let _ = leaving.start();
    // It learns by sync that height 2 is final: its last height as a
    // validator.
    let signers = [&ks[0], &ks[1], &ks[2]];
    let _ = leaving.handle(Input::Synced(certificate(&signers, 2, Hash32([2; 32]))));
    assert_eq!(leaving.height(), 3);
    assert!(!leaving.is_member());
    // It does nothing more: no timeout, no vote, no proposal.
    assert!(
        leaving
            .handle(Input::Timeout {
                height: 3,
                round: 0
            })
            .is_empty()
    );
    let proposer = leaving.validators().proposer_index(3, 0);
    assert_eq!(leaving.validators().len(), 4);
    let b = block(3, 0, leaving.validators().keys()[proposer], 1);
    let pp = Message::sign(
        &chain(),
        &ks[[0, 1, 2, 4][proposer]],
        Statement::PrePrepare(Vote {
            height: 3,
            round: 0,
            block_hash: b.hash(),
        }),
        Some(b),
    );
    assert!(leaving.handle(msg(pp)).is_empty());
}

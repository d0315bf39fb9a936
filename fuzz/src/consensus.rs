//! A host for consensus replicas under fuzzing, and honest runs that give
//! the consensus seeds.
//!
//! The host answers every effect the way `chain/src/consensus/mod.rs`
//! describes (an executed block is valid unless its `receipts_root` starts
//! with `0xff`; a proposal is an empty block) and checks what a replica
//! promises whatever it is fed:
//!
//! - it never casts two different votes of one kind at one `(height, round)`;
//! - every vote it broadcasts was recorded by a `PersistVote` before it;
//! - everything it broadcasts decodes again within `MAX_MESSAGE_BYTES`, and
//!   every state it persists within `MAX_PERSISTED_STATE_BYTES`;
//! - it commits each height once, in order, with a certificate for the block.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use merit_chain::block::tx_root;
use merit_chain::consensus::{
    ConsensusConfig, Effect, Input, Message, PersistedState, Replica, SignatureVerifier, Statement,
    ValidatorSet, verify_certificate,
};
use merit_chain::encoding::BoundedVec;
use merit_chain::tx::ChainId;
use merit_chain::{Block, BlockHeader, Hash32, Keypair, PublicKey, Signature};

use std::sync::LazyLock;

static KEYS: LazyLock<Vec<Keypair>> = LazyLock::new(crate::world::validator_keys);

/// The four validators of the consensus target.
pub fn validator_keys() -> Vec<Keypair> {
    KEYS.clone()
}

fn validator_publics() -> Vec<PublicKey> {
    KEYS.iter().map(Keypair::public).collect()
}

/// Effects one input may cause before the host stops answering.
const MAX_STEPS: usize = 10_000;

/// The chain the replicas run.
pub fn chain_id() -> ChainId {
    crate::fixture::chain_id()
}

pub fn validator_set() -> ValidatorSet {
    ValidatorSet::new(validator_publics()).expect("four distinct validators")
}

/// Accepts every signature: every validator may then say anything, as a
/// coalition of Byzantine validators could, which reaches the state machine
/// behind the signature checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustingVerifier;

impl SignatureVerifier for TrustingVerifier {
    fn verify(&self, _: &PublicKey, _: &[u8], _: &Signature) -> bool {
        true
    }
}

/// An empty block for `(height, round)` by `proposer`.
pub fn proposal(height: u64, round: u32, proposer: PublicKey) -> Block {
    Block {
        header: BlockHeader {
            chain_id: chain_id(),
            height,
            round,
            parent_hash: Hash32([height as u8; 32]),
            // Saturating: a restored replica may sit at any height up to
            // u64::MAX (found by this target, fuzz/regressions/).
            timestamp_ms: crate::fixture::GENESIS_TIME_MS
                .saturating_add(height.saturating_mul(1000)),
            proposer,
            tx_root: tx_root(&[]),
            receipts_root: Hash32::ZERO,
            state_root: Hash32([1; 32]),
            // The replica judges votes, not sets: any fixed hashes do.
            validators_hash: Hash32::ZERO,
            next_validators_hash: Hash32::ZERO,
        },
        txs: BoundedVec::default(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum VoteKind {
    Proposal,
    Prepare,
    Commit,
    ViewChange,
}

/// A replica, the host that carries out its effects, and the checks.
#[derive(Debug)]
pub struct Host {
    pub replica: Replica,
    /// Whether signatures are really checked, so that certificates must verify.
    pub real_signatures: bool,
    me: PublicKey,
    inputs: VecDeque<Input>,
    /// The latest timer asked for.
    pub timer: Option<(u64, u32)>,
    votes: BTreeMap<(VoteKind, u64, u32), Hash32>,
    persisted: Option<PersistedState>,
    committed: Option<u64>,
    /// Every message this replica broadcast, in order.
    pub sent: Vec<Message>,
    /// Every state it persisted, in order.
    pub persisted_log: Vec<PersistedState>,
    /// Every block it committed.
    pub commits: Vec<Block>,
    /// What it was fed: message bytes, or `None` for a timer that fired.
    pub inbox: Vec<Option<Vec<u8>>>,
}

impl Host {
    /// Validator `index` at height 1, with real or trusting signature checks.
    pub fn new(index: usize, real_signatures: bool) -> Host {
        let key = KEYS[index].clone();
        let replica = Replica::new(
            ConsensusConfig::default(),
            chain_id(),
            merit_chain::consensus::ValidatorSchedule::fixed(0, validator_set()),
            key,
            0,
        )
        .expect("a validator");
        Self::from_replica(replica, real_signatures)
    }

    /// Validator `index` restarted with `persisted` after committing up to
    /// `committed_height`; `None` if the replica refuses that state.
    pub fn restored(
        index: usize,
        real_signatures: bool,
        committed_height: u64,
        persisted: PersistedState,
    ) -> Option<Host> {
        let replica = Replica::restore(
            ConsensusConfig::default(),
            chain_id(),
            merit_chain::consensus::ValidatorSchedule::fixed(0, validator_set()),
            KEYS[index].clone(),
            committed_height,
            Some(persisted.clone()),
        )
        .ok()?;
        let mut votes = BTreeMap::new();
        if persisted.height == replica.height() {
            let (h, r) = (persisted.height, persisted.round);
            let v = &persisted.votes;
            for (kind, hash) in [
                (VoteKind::Proposal, v.proposal),
                (VoteKind::Prepare, v.prepare),
                (VoteKind::Commit, v.commit),
            ] {
                if let Some(hash) = hash {
                    votes.insert((kind, h, r), hash);
                }
            }
        }
        Some(Self::build(replica, real_signatures, votes))
    }

    pub fn from_replica(replica: Replica, real_signatures: bool) -> Host {
        Self::build(replica, real_signatures, BTreeMap::new())
    }

    fn build(
        replica: Replica,
        real_signatures: bool,
        votes: BTreeMap<(VoteKind, u64, u32), Hash32>,
    ) -> Host {
        let replica = if real_signatures {
            replica
        } else {
            replica.with_verifier(Arc::new(TrustingVerifier))
        };
        let me = replica.public_key();
        let mut host = Host {
            replica,
            real_signatures,
            me,
            inputs: VecDeque::new(),
            timer: None,
            votes,
            persisted: None,
            committed: None,
            sent: Vec::new(),
            persisted_log: Vec::new(),
            commits: Vec::new(),
            inbox: Vec::new(),
        };
        let effects = host.replica.start();
        host.carry_out(effects);
        host.run();
        host
    }

    /// Feeds raw bytes, as from the network, and carries out the effects.
    /// A message with a block arrives at that block's time: the fuzz hosts
    /// share one clock, and timeliness has tests of its own.
    pub fn feed_bytes(&mut self, bytes: &[u8]) {
        self.inbox.push(Some(bytes.to_vec()));
        let arrival_ms = Message::from_bytes(bytes)
            .ok()
            .and_then(|m| m.block.map(|b| b.header.timestamp_ms))
            .unwrap_or(0);
        let effects = self.replica.handle_bytes(bytes, arrival_ms);
        self.carry_out(effects);
        self.run();
    }

    /// Feeds one input and carries out the effects.
    pub fn feed(&mut self, input: Input) {
        self.inputs.push_back(input);
        self.run();
    }

    /// Fires the latest timer.
    pub fn fire_timer(&mut self) {
        if let Some((height, round)) = self.timer.take() {
            self.inbox.push(None);
            self.feed(Input::Timeout { height, round });
        }
    }

    fn run(&mut self) {
        let mut steps = 0;
        while let Some(input) = self.inputs.pop_front() {
            steps += 1;
            if steps > MAX_STEPS {
                self.inputs.clear();
                return;
            }
            let effects = self.replica.handle(input);
            self.carry_out(effects);
        }
    }

    fn record_vote(&mut self, kind: VoteKind, height: u64, round: u32, hash: Hash32) {
        if let Some(old) = self.votes.insert((kind, height, round), hash) {
            assert_eq!(
                old, hash,
                "two different {kind:?} votes at height {height} round {round}"
            );
        }
    }

    fn check_own_message(&mut self, msg: &Message) {
        let bytes = msg.to_bytes();
        match Message::from_bytes(&bytes) {
            Ok(back) => assert_eq!(&back, msg),
            Err(e) => panic!(
                "a broadcast message does not decode ({} bytes): {e}",
                bytes.len()
            ),
        }
        assert_eq!(msg.sender(), &self.me);
        let persisted = self.persisted.as_ref();
        let (kind, hash, recorded) = match msg.statement() {
            Statement::PrePrepare(v) => (
                VoteKind::Proposal,
                v.block_hash,
                persisted.and_then(|p| p.votes.proposal),
            ),
            Statement::NewView(nv) => (
                VoteKind::Proposal,
                nv.block_hash,
                persisted.and_then(|p| p.votes.proposal),
            ),
            Statement::Prepare(v) => (
                VoteKind::Prepare,
                v.block_hash,
                persisted.and_then(|p| p.votes.prepare),
            ),
            Statement::Commit(v) => (
                VoteKind::Commit,
                v.block_hash,
                persisted.and_then(|p| p.votes.commit),
            ),
            Statement::ViewChange(vc) => {
                let at = persisted.map(|p| (p.height, p.round));
                assert!(
                    at.is_some_and(|(h, r)| h == vc.height && r >= vc.round),
                    "a view change for round {} sent before persisting it (persisted {at:?})",
                    vc.round
                );
                let hash = vc.prepared.as_ref().map_or(Hash32::ZERO, |c| c.block_hash);
                self.record_vote(VoteKind::ViewChange, vc.height, vc.round, hash);
                return;
            }
            Statement::Decision(_) => return,
        };
        let (height, round) = (msg.statement().height(), msg.statement().round());
        let at = persisted.map(|p| (p.height, p.round));
        assert!(
            at == Some((height, round)) && recorded == Some(hash),
            "a {kind:?} vote at ({height}, {round}) sent before persisting it (persisted {at:?}, {recorded:?})"
        );
        self.record_vote(kind, height, round, hash);
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::PersistVote(state) => {
                    let bytes = state.to_bytes();
                    match PersistedState::from_bytes(&bytes) {
                        Ok(back) => assert_eq!(&back, state.as_ref()),
                        Err(e) => panic!("a persisted state does not decode: {e}"),
                    }
                    self.persisted_log.push((*state).clone());
                    self.persisted = Some(*state);
                }
                Effect::Broadcast(msg) => {
                    self.check_own_message(&msg);
                    self.sent.push(*msg);
                }
                Effect::ExecuteBlock(block) => {
                    self.inputs.push_back(Input::BlockExecuted {
                        height: block.header.height,
                        round: block.header.round,
                        block_hash: block.hash(),
                        valid: block.header.receipts_root.0[0] != 0xff,
                    });
                }
                Effect::BuildProposal { height, round } => {
                    self.inputs
                        .push_back(Input::Proposal(Box::new(proposal(height, round, self.me))));
                }
                Effect::ScheduleTimeout { height, round, .. } => {
                    self.timer = Some((height, round));
                }
                Effect::Commit { block, certificate } => {
                    let height = block.header.height;
                    assert_eq!(certificate.height, height);
                    assert_eq!(certificate.block_hash, block.hash());
                    assert!(
                        self.committed.is_none_or(|c| height > c),
                        "height {height} committed after {:?}",
                        self.committed
                    );
                    if self.real_signatures {
                        let keys = validator_publics();
                        if let Err(e) = verify_certificate(&chain_id(), &keys, &certificate) {
                            panic!("the replica committed with a bad certificate: {e}");
                        }
                    }
                    self.committed = Some(height);
                    self.commits.push(*block);
                }
                Effect::RequestSync { .. } => {}
                Effect::Evidence(e) => {
                    // Evidence is built only from statements already checked.
                    if self.real_signatures {
                        let Ok(set) =
                            merit_chain::consensus::ValidatorSet::new(validator_publics())
                        else {
                            panic!("the fuzz validator keys are distinct");
                        };
                        if let Err(err) = e.verify(&chain_id(), &set) {
                            panic!("the replica kept evidence that does not verify: {err}");
                        }
                    }
                }
            }
        }
    }
}

/// Four honest validators that deliver every message to every other one,
/// up to `max_height`.
#[derive(Debug)]
pub struct Cluster {
    pub hosts: Vec<Host>,
    /// Messages above this height are not delivered.
    pub max_height: u64,
    /// Every message delivered, in delivery order.
    pub delivered: Vec<Message>,
    next: Vec<usize>,
}

impl Cluster {
    /// Started, nothing delivered yet (the round-0 proposer has proposed).
    pub fn new(max_height: u64) -> Cluster {
        let hosts: Vec<Host> = (0..4).map(|i| Host::new(i, true)).collect();
        let next = vec![0; hosts.len()];
        Cluster {
            hosts,
            max_height,
            delivered: Vec::new(),
            next,
        }
    }

    /// Delivers broadcasts until none is left.
    pub fn settle(&mut self) {
        self.settle_where(|_, _, _| true);
    }

    /// Delivers broadcasts until none is left, dropping a message from
    /// `from` to `to` where `keep(from, to, msg)` is false.
    pub fn settle_where(&mut self, keep: impl Fn(usize, usize, &Message) -> bool) {
        loop {
            let mut any = false;
            for from in 0..self.hosts.len() {
                while self.next[from] < self.hosts[from].sent.len() {
                    let msg = self.hosts[from].sent[self.next[from]].clone();
                    self.next[from] += 1;
                    if msg.statement().height() > self.max_height {
                        continue;
                    }
                    any = true;
                    let bytes = msg.to_bytes();
                    for (to, host) in self.hosts.iter_mut().enumerate() {
                        if to != from && keep(from, to, &msg) {
                            host.feed_bytes(&bytes);
                        }
                    }
                    self.delivered.push(msg);
                }
            }
            if !any {
                return;
            }
        }
    }

    /// Fires the latest timer of the given validators.
    pub fn timeout(&mut self, which: &[usize]) {
        for &i in which {
            self.hosts[i].fire_timer();
        }
    }
}

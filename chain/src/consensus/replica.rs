//! One validator's PBFT state machine.
//!
//! Per height the replica runs rounds. In round 0 the proposer sends a
//! PrePrepare; in a later round it sends a NewView justified by a quorum of
//! ViewChanges. Replicas execute the proposal, Prepare it, Commit once a
//! quorum prepared it, and finalize on a quorum of Commits. A timeout moves
//! a replica to the next round with a ViewChange carrying its highest
//! prepared certificate (its lock).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::cert::{CertError, verify_certificate_with, verify_prepared_certificate};
use super::message::{
    MAX_STATEMENT_BYTES, Message, NewView, PreparedCertificate, SignedViewChange, Statement,
    ViewChange, Vote, signing_bytes,
};
use super::validators::{QuorumRule, ValidatorSet};
use super::verifier::{Ed25519Verifier, SignatureVerifier};
use crate::block::{Block, CommitCertificate, ValidatorSignature, tx_root};
use crate::crypto::{Hash32, Keypair, PublicKey, Signature};
use crate::encoding::{self, BoundedVec, Decode, DecodeError, Encode};
use crate::limits::MAX_BLOCK_BYTES;
use crate::tx::{ChainId, Transaction};

/// Timeout of round 0, in milliseconds. Round `r` waits
/// `min(TIMEOUT_BASE_MS * 2^r, TIMEOUT_MAX_MS)`.
pub const TIMEOUT_BASE_MS: u64 = 1_000;
/// Longest round timeout, in milliseconds.
pub const TIMEOUT_MAX_MS: u64 = 30_000;
/// Heights above the current one whose messages are buffered; messages for
/// later heights are dropped (but still count as evidence of being behind).
pub const MAX_FUTURE_HEIGHTS: u64 = 4;
/// Buffered future-height messages per signing validator.
pub const MAX_FUTURE_MESSAGES_PER_VALIDATOR: usize = 64;
/// Rounds above the current one for which Prepare and Commit votes are
/// counted. ViewChanges and NewViews carry their own justification and are
/// not bounded by this.
pub const MAX_ROUNDS_AHEAD: u32 = 8;
/// Distinct blocks a replica keeps for one height (proposals and the
/// blocks of prepared certificates).
pub const MAX_BLOCKS_PER_HEIGHT: usize = 64;
/// Largest encoded [`PersistedState`]: a lock holds a block and a
/// certificate.
pub const MAX_PERSISTED_STATE_BYTES: usize = MAX_BLOCK_BYTES + MAX_STATEMENT_BYTES;

/// Tunables of a replica. Every validator of a chain uses the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsensusConfig {
    /// Timeout of round 0, in milliseconds.
    pub timeout_base_ms: u64,
    /// Cap of the exponential backoff, in milliseconds.
    pub timeout_max_ms: u64,
    /// Always [`QuorumRule::Byzantine`] outside tests of the test harness.
    pub quorum_rule: QuorumRule,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        ConsensusConfig {
            timeout_base_ms: TIMEOUT_BASE_MS,
            timeout_max_ms: TIMEOUT_MAX_MS,
            quorum_rule: QuorumRule::Byzantine,
        }
    }
}

impl ConsensusConfig {
    /// How long round `round` waits: `min(base * 2^round, max)`.
    pub fn timeout_ms(&self, round: u32) -> u64 {
        let factor = 1u64.checked_shl(round.min(63)).unwrap_or(u64::MAX);
        self.timeout_base_ms
            .saturating_mul(factor)
            .min(self.timeout_max_ms)
    }
}

/// The votes a replica cast at its current `(height, round)`. It never
/// casts a second, different one of a kind there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct CastVotes {
    /// The block it proposed (PrePrepare or NewView).
    pub proposal: Option<Hash32>,
    pub prepare: Option<Hash32>,
    pub commit: Option<Hash32>,
}

/// A prepared certificate with the block it certifies.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PreparedProof {
    pub certificate: PreparedCertificate,
    pub block: Block,
}

/// What a replica must find again after a crash: where it was, what it
/// voted there, and its lock. Written by the host on every
/// [`Effect::PersistVote`], before the vote is sent.
///
/// Votes of earlier rounds need not be kept: a replica never goes back to a
/// round below the persisted one, so it never votes there again.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PersistedState {
    pub height: u64,
    pub round: u32,
    pub votes: CastVotes,
    /// The highest prepared certificate seen at `height`, carried in every
    /// ViewChange.
    pub lock: Option<PreparedProof>,
}

impl PersistedState {
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes stored bytes, at most [`MAX_PERSISTED_STATE_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode(bytes, MAX_PERSISTED_STATE_BYTES)
    }
}

/// What the host hands the replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A consensus message from the network.
    Message(Box<Message>),
    /// A timer set by [`Effect::ScheduleTimeout`] fired.
    Timeout { height: u64, round: u32 },
    /// The block the host built for [`Effect::BuildProposal`].
    Proposal(Box<Block>),
    /// The verdict of executing a block for [`Effect::ExecuteBlock`].
    BlockExecuted {
        height: u64,
        round: u32,
        block_hash: Hash32,
        valid: bool,
    },
    /// The host synced, verified and applied blocks up to and including
    /// `certificate.height`.
    Synced(CommitCertificate),
}

/// What the replica asks of the host, to be carried out in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write this state durably before carrying out any later effect. It
    /// always comes before the Broadcast of the vote it records.
    PersistVote(Box<PersistedState>),
    /// Send to every other validator.
    Broadcast(Box<Message>),
    /// Execute the block on the current tip (`Ledger::verify_block`) and
    /// answer with [`Input::BlockExecuted`].
    ExecuteBlock(Box<Block>),
    /// Build a block for `(height, round)` on the current tip and answer
    /// with [`Input::Proposal`].
    BuildProposal { height: u64, round: u32 },
    /// Answer with [`Input::Timeout`] after `duration_ms`.
    ScheduleTimeout {
        height: u64,
        round: u32,
        duration_ms: u64,
    },
    /// The block is final: apply it and store it with its certificate.
    Commit {
        block: Box<Block>,
        certificate: CommitCertificate,
    },
    /// The replica is behind: fetch, verify and apply blocks from
    /// `from_height` up to at least `target_height`, then answer with
    /// [`Input::Synced`].
    RequestSync {
        from_height: u64,
        target_height: u64,
    },
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the sender is not a validator")]
    NotAValidator,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("the sender is not the proposer of this height and round")]
    WrongProposer,
    #[error("invalid prepared certificate: {0}")]
    BadCertificate(CertError),
    #[error("invalid NewView justification: {0}")]
    BadJustification(&'static str),
    #[error("message for height {height}, below the current {current}")]
    Stale { height: u64, current: u64 },
    #[error("message for height {height}, more than {MAX_FUTURE_HEIGHTS} above {current}")]
    TooFarAhead { height: u64, current: u64 },
    #[error("round {round} is more than {MAX_ROUNDS_AHEAD} above {current}")]
    RoundTooFarAhead { round: u32, current: u32 },
    #[error("the future-message buffer of the signer is full")]
    BufferFull,
}

/// Why a replica cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    #[error("{0} is not in the validator set")]
    NotAValidator(PublicKey),
    #[error(
        "the persisted votes are for height {persisted}, above the next height {next}: commit the chain first"
    )]
    PersistedAhead { persisted: u64, next: u64 },
    #[error("the committed height is at its maximum")]
    HeightOverflow,
}

/// Counters for metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsensusStats {
    pub accepted: u64,
    pub rejected_not_validator: u64,
    pub rejected_bad_signature: u64,
    pub rejected_invalid: u64,
    pub ignored_stale: u64,
    pub buffered_future: u64,
    pub dropped_future: u64,
    pub duplicates: u64,
    /// Conflicting proposals or votes from one validator at one round.
    pub equivocations: u64,
    pub rounds_started: u64,
    pub commits: u64,
    pub sync_requests: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exec {
    Unknown,
    Pending,
    Valid,
    Invalid,
}

#[derive(Debug)]
struct Slot {
    block: Block,
    exec: Exec,
}

#[derive(Debug, Clone, Copy)]
enum VoteKind {
    Prepare,
    Commit,
}

#[derive(Debug, PartialEq, Eq)]
enum Added {
    New,
    Duplicate,
    Conflict,
}

/// The first vote of each validator in each round.
#[derive(Debug, Default)]
struct Tally {
    rounds: BTreeMap<u32, BTreeMap<usize, (Hash32, Signature)>>,
}

impl Tally {
    fn add(&mut self, round: u32, who: usize, hash: Hash32, sig: Signature) -> Added {
        let votes = self.rounds.entry(round).or_default();
        match votes.get(&who) {
            Some((h, _)) if *h == hash => Added::Duplicate,
            Some(_) => Added::Conflict,
            None => {
                votes.insert(who, (hash, sig));
                Added::New
            }
        }
    }

    /// `(round, hash)` pairs with at least `quorum` votes, highest round first.
    fn quorums(&self, quorum: usize) -> Vec<(u32, Hash32)> {
        let mut out = Vec::new();
        for (round, votes) in self.rounds.iter().rev() {
            let mut counts: BTreeMap<Hash32, usize> = BTreeMap::new();
            for (hash, _) in votes.values() {
                *counts.entry(*hash).or_default() += 1;
            }
            out.extend(
                counts
                    .into_iter()
                    .filter(|(_, c)| *c >= quorum)
                    .map(|(h, _)| (*round, h)),
            );
        }
        out
    }

    /// Up to `limit` signatures for `(round, hash)`, in validator order.
    fn signatures(
        &self,
        round: u32,
        hash: Hash32,
        set: &ValidatorSet,
        limit: usize,
    ) -> Vec<ValidatorSignature> {
        self.rounds
            .get(&round)
            .into_iter()
            .flat_map(|votes| votes.iter())
            .filter(|(_, (h, _))| *h == hash)
            .filter_map(|(i, (_, s))| {
                set.get(*i).map(|k| ValidatorSignature {
                    validator: *k,
                    signature: *s,
                })
            })
            .take(limit)
            .collect()
    }
}

/// Everything a replica knows about its current height.
#[derive(Debug, Default)]
struct HeightState {
    blocks: BTreeMap<Hash32, Slot>,
    /// The proposal accepted in each round: the first valid one.
    proposals: BTreeMap<u32, Hash32>,
    prepares: Tally,
    commits: Tally,
    /// The latest ViewChange of each validator.
    view_changes: BTreeMap<usize, SignedViewChange>,
    /// The round whose NewView this replica has begun, as its proposer.
    new_view_round: Option<u32>,
    /// View changes waiting for the block asked for by BuildProposal.
    pending_new_view: Option<(u32, Vec<SignedViewChange>)>,
    /// Round 0 proposal asked for by BuildProposal.
    awaiting_proposal: bool,
}

/// The highest prepared certificate among view changes; ties (only possible
/// with a broken quorum) go to the smaller hash, so every replica picks the
/// same one.
fn highest_prepared<'a>(
    vcs: impl Iterator<Item = &'a SignedViewChange>,
) -> Option<&'a PreparedCertificate> {
    vcs.filter_map(|s| s.view_change.prepared.as_ref())
        .max_by(|a, b| {
            a.round
                .cmp(&b.round)
                .then_with(|| b.block_hash.cmp(&a.block_hash))
        })
}

/// One validator's consensus state machine. See the module documentation
/// for how a host drives it.
#[derive(Debug)]
pub struct Replica {
    config: ConsensusConfig,
    chain_id: ChainId,
    validators: ValidatorSet,
    key: Keypair,
    me: usize,
    quorum: usize,
    verifier: Arc<dyn SignatureVerifier>,
    height: u64,
    round: u32,
    votes: CastVotes,
    lock: Option<PreparedProof>,
    hs: HeightState,
    future: BTreeMap<u64, Vec<(usize, Message)>>,
    future_per_sender: BTreeMap<usize, usize>,
    /// The highest height each validator has sent a valid message for.
    highest_seen: BTreeMap<usize, u64>,
    sync_target: Option<u64>,
    /// The certificate of the last block this replica finalized or synced.
    last_commit: Option<CommitCertificate>,
    /// The `(height, round)` at which this replica last sent a Decision.
    decision_sent: Option<(u64, u32)>,
    stats: ConsensusStats,
    out: Vec<Effect>,
}

impl Replica {
    /// A replica that has committed up to `committed_height` and has never
    /// voted above it.
    pub fn new(
        config: ConsensusConfig,
        chain_id: ChainId,
        validators: ValidatorSet,
        key: Keypair,
        committed_height: u64,
    ) -> Result<Self, ReplicaError> {
        let me = validators
            .index_of(&key.public())
            .ok_or(ReplicaError::NotAValidator(key.public()))?;
        let height = committed_height
            .checked_add(1)
            .ok_or(ReplicaError::HeightOverflow)?;
        let quorum = validators.quorum_for(config.quorum_rule);
        Ok(Replica {
            config,
            chain_id,
            validators,
            key,
            me,
            quorum,
            verifier: Arc::new(Ed25519Verifier),
            height,
            round: 0,
            votes: CastVotes::default(),
            lock: None,
            hs: HeightState::default(),
            future: BTreeMap::new(),
            future_per_sender: BTreeMap::new(),
            highest_seen: BTreeMap::new(),
            sync_target: None,
            last_commit: None,
            decision_sent: None,
            stats: ConsensusStats::default(),
            out: Vec::new(),
        })
    }

    /// A replica restarted from its committed chain and the state it last
    /// persisted. A persisted state for an already committed height is
    /// obsolete and ignored; one above the next height means the chain was
    /// not committed before a later vote was persisted, which a correct host
    /// never does.
    pub fn restore(
        config: ConsensusConfig,
        chain_id: ChainId,
        validators: ValidatorSet,
        key: Keypair,
        committed_height: u64,
        persisted: Option<PersistedState>,
    ) -> Result<Self, ReplicaError> {
        let mut replica = Self::new(config, chain_id, validators, key, committed_height)?;
        if let Some(p) = persisted {
            if p.height > replica.height {
                return Err(ReplicaError::PersistedAhead {
                    persisted: p.height,
                    next: replica.height,
                });
            }
            if p.height == replica.height {
                replica.round = p.round;
                replica.votes = p.votes;
                replica.lock = p.lock.filter(|l| {
                    l.certificate.height == p.height
                        && l.certificate.round <= p.round
                        && l.block.hash() == l.certificate.block_hash
                });
            }
        }
        Ok(replica)
    }

    /// Replaces the signature verifier (see [`SignatureVerifier`]).
    pub fn with_verifier(mut self, verifier: Arc<dyn SignatureVerifier>) -> Self {
        self.verifier = verifier;
        self
    }

    /// The first effects: the timer of the current round and, for the
    /// round-0 proposer, the request for a proposal.
    pub fn start(&mut self) -> Vec<Effect> {
        self.schedule_timeout();
        self.propose_if_leader();
        std::mem::take(&mut self.out)
    }

    /// Takes one input and returns the effects to carry out, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Message(msg) => self.on_message(*msg),
            Input::Timeout { height, round } => self.on_timeout(height, round),
            Input::Proposal(block) => self.on_own_proposal(*block),
            Input::BlockExecuted {
                height,
                block_hash,
                valid,
                ..
            } => self.on_executed(height, block_hash, valid),
            Input::Synced(cert) => self.on_synced(cert),
        }
        std::mem::take(&mut self.out)
    }

    /// Decodes a message with the [`MAX_MESSAGE_BYTES`](super::MAX_MESSAGE_BYTES) limit and handles it.
    pub fn handle_bytes(&mut self, bytes: &[u8]) -> Vec<Effect> {
        match Message::from_bytes(bytes) {
            Ok(msg) => self.handle(Input::Message(Box::new(msg))),
            Err(_) => {
                self.stats.rejected_invalid += 1;
                Vec::new()
            }
        }
    }

    pub fn height(&self) -> u64 {
        self.height
    }

    pub fn round(&self) -> u32 {
        self.round
    }

    pub fn stats(&self) -> &ConsensusStats {
        &self.stats
    }

    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public()
    }

    pub fn config(&self) -> &ConsensusConfig {
        &self.config
    }

    /// The number of votes this replica counts as a quorum.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// The votes cast at the current `(height, round)`.
    pub fn votes(&self) -> &CastVotes {
        &self.votes
    }

    /// The state that [`Effect::PersistVote`] would write now.
    pub fn persisted_state(&self) -> PersistedState {
        PersistedState {
            height: self.height,
            round: self.round,
            votes: self.votes.clone(),
            lock: self.lock.clone(),
        }
    }

    /// Checks everything about a message that does not depend on the
    /// replica's progress: the sender is a validator, the attached block
    /// fits the statement, the signature verifies, and a ViewChange's
    /// certificate or a NewView's justification holds. Returns the sender's
    /// index. A host may call it to decide whether to relay a message.
    pub fn check_message(&self, msg: &Message) -> Result<usize, Rejection> {
        let sender_key = msg.signed.validator;
        let sender = self
            .validators
            .index_of(&sender_key)
            .ok_or(Rejection::NotAValidator)?;
        match (&msg.signed.statement, &msg.block) {
            (Statement::PrePrepare(v), Some(block)) => {
                self.check_block(block, v.height, v.block_hash)?;
                if v.round != 0 {
                    return Err(Rejection::Malformed(
                        "a PrePrepare is only for round 0; later rounds use NewView",
                    ));
                }
                if self.validators.proposer_index(v.height, 0) != sender {
                    return Err(Rejection::WrongProposer);
                }
                if block.header.round != 0 || block.header.proposer != sender_key {
                    return Err(Rejection::Malformed(
                        "the block header does not name this round and proposer",
                    ));
                }
            }
            (Statement::NewView(nv), Some(block)) => {
                self.check_block(block, nv.height, nv.block_hash)?;
                if nv.round == 0 {
                    return Err(Rejection::Malformed("a NewView is for a round above 0"));
                }
                if self.validators.proposer_index(nv.height, nv.round) != sender {
                    return Err(Rejection::WrongProposer);
                }
            }
            (Statement::ViewChange(vc), block) => {
                if vc.round == 0 {
                    return Err(Rejection::Malformed("a ViewChange is for a round above 0"));
                }
                match (&vc.prepared, block) {
                    (Some(cert), Some(block)) => {
                        if cert.height != vc.height || cert.round >= vc.round {
                            return Err(Rejection::Malformed(
                                "the prepared certificate is not from an earlier round",
                            ));
                        }
                        self.check_block(block, vc.height, cert.block_hash)?;
                    }
                    (None, None) => {}
                    _ => {
                        return Err(Rejection::Malformed(
                            "a ViewChange carries a block exactly when it is prepared",
                        ));
                    }
                }
            }
            (Statement::Prepare(_) | Statement::Commit(_) | Statement::Decision(_), None) => {}
            _ => {
                return Err(Rejection::Malformed(
                    "the attached block does not fit the message type",
                ));
            }
        }
        let bytes = signing_bytes(&self.chain_id, &msg.signed.statement);
        if !self
            .verifier
            .verify(&sender_key, &bytes, &msg.signed.signature)
        {
            return Err(Rejection::BadSignature);
        }
        match (&msg.signed.statement, &msg.block) {
            (
                Statement::ViewChange(ViewChange {
                    prepared: Some(cert),
                    ..
                }),
                _,
            ) => {
                verify_prepared_certificate(
                    &self.chain_id,
                    &self.validators,
                    cert,
                    self.quorum,
                    self.verifier.as_ref(),
                )
                .map_err(Rejection::BadCertificate)?;
            }
            (Statement::NewView(nv), Some(block)) => self.check_new_view(nv, &sender_key, block)?,
            (Statement::Decision(cert), _) => {
                verify_certificate_with(
                    &self.chain_id,
                    &self.validators,
                    cert,
                    self.quorum,
                    self.verifier.as_ref(),
                )
                .map_err(Rejection::BadCertificate)?;
            }
            _ => {}
        }
        Ok(sender)
    }

    fn check_block(&self, block: &Block, height: u64, hash: Hash32) -> Result<(), Rejection> {
        if block.header.height != height {
            return Err(Rejection::Malformed("the block is for another height"));
        }
        if block.header.chain_id != self.chain_id {
            return Err(Rejection::Malformed("the block is for another chain"));
        }
        if block.hash() != hash {
            return Err(Rejection::Malformed(
                "the block does not hash to the one the statement names",
            ));
        }
        let hashes: Vec<Hash32> = block.txs.iter().map(Transaction::hash).collect();
        if tx_root(&hashes) != block.header.tx_root {
            return Err(Rejection::Malformed(
                "the block's transactions do not match its tx_root",
            ));
        }
        Ok(())
    }

    fn check_new_view(
        &self,
        nv: &NewView,
        proposer: &PublicKey,
        block: &Block,
    ) -> Result<(), Rejection> {
        let mut signers = BTreeSet::new();
        let mut certs: Vec<&PreparedCertificate> = Vec::new();
        for svc in nv.view_changes.iter() {
            let vc = &svc.view_change;
            if !self.validators.contains(&svc.validator) {
                return Err(Rejection::BadJustification(
                    "a view change is from a non-validator",
                ));
            }
            if !signers.insert(svc.validator) {
                return Err(Rejection::BadJustification(
                    "two view changes from one validator",
                ));
            }
            if vc.height != nv.height || vc.round != nv.round {
                return Err(Rejection::BadJustification(
                    "a view change is for another height or round",
                ));
            }
            if let Some(cert) = &vc.prepared {
                if cert.height != nv.height || cert.round >= nv.round {
                    return Err(Rejection::BadJustification(
                        "a prepared certificate is not from an earlier round",
                    ));
                }
                if !certs.contains(&cert) {
                    certs.push(cert);
                }
            }
        }
        if signers.len() < self.quorum {
            return Err(Rejection::BadJustification(
                "fewer view changes than a quorum",
            ));
        }
        let bytes: Vec<Vec<u8>> = nv
            .view_changes
            .iter()
            .map(|s| {
                signing_bytes(
                    &self.chain_id,
                    &Statement::ViewChange(s.view_change.clone()),
                )
            })
            .collect();
        let items: Vec<(&PublicKey, &[u8], &Signature)> = nv
            .view_changes
            .iter()
            .zip(&bytes)
            .map(|(s, b)| (&s.validator, b.as_slice(), &s.signature))
            .collect();
        let verdicts = self.verifier.verify_batch(&items);
        if verdicts.len() != items.len() || !verdicts.iter().all(|ok| *ok) {
            return Err(Rejection::BadJustification(
                "a view change signature does not verify",
            ));
        }
        for cert in certs {
            verify_prepared_certificate(
                &self.chain_id,
                &self.validators,
                cert,
                self.quorum,
                self.verifier.as_ref(),
            )
            .map_err(Rejection::BadCertificate)?;
        }
        match highest_prepared(nv.view_changes.iter()) {
            Some(cert) if cert.block_hash != nv.block_hash => Err(Rejection::BadJustification(
                "the NewView does not re-propose the highest prepared block",
            )),
            Some(_) => Ok(()),
            None if block.header.round != nv.round || block.header.proposer != *proposer => Err(
                Rejection::Malformed("a fresh proposal must name its round and proposer"),
            ),
            None => Ok(()),
        }
    }

    fn on_message(&mut self, msg: Message) {
        if let Err(rejection) = self.admit(msg) {
            match rejection {
                Rejection::NotAValidator => self.stats.rejected_not_validator += 1,
                Rejection::BadSignature => self.stats.rejected_bad_signature += 1,
                Rejection::Stale { .. } => self.stats.ignored_stale += 1,
                Rejection::TooFarAhead { .. }
                | Rejection::BufferFull
                | Rejection::RoundTooFarAhead { .. } => self.stats.dropped_future += 1,
                Rejection::Malformed(_)
                | Rejection::WrongProposer
                | Rejection::BadCertificate(_)
                | Rejection::BadJustification(_) => self.stats.rejected_invalid += 1,
            }
        }
    }

    fn admit(&mut self, msg: Message) -> Result<(), Rejection> {
        if !self.validators.contains(&msg.signed.validator) {
            return Err(Rejection::NotAValidator);
        }
        let height = msg.signed.statement.height();
        if height < self.height {
            // A ViewChange for a height this replica has finalized comes
            // from a validator stuck there: show it the certificate.
            if matches!(msg.signed.statement, Statement::ViewChange(_)) {
                self.send_decision(&msg);
            }
            return Err(Rejection::Stale {
                height,
                current: self.height,
            });
        }
        let sender = self.check_message(&msg)?;
        if let Statement::Decision(cert) = &msg.signed.statement {
            // Verified by `check_message`: the block at `cert.height` is final.
            self.stats.accepted += 1;
            self.request_sync(cert.height);
            return Ok(());
        }
        if height > self.height {
            let seen = self.highest_seen.entry(sender).or_default();
            *seen = (*seen).max(height);
            let buffered = self.buffer(sender, height, msg);
            self.request_sync_if_behind();
            return buffered;
        }
        if let Statement::Prepare(v) | Statement::Commit(v) = &msg.signed.statement
            && v.round > self.round.saturating_add(MAX_ROUNDS_AHEAD)
        {
            return Err(Rejection::RoundTooFarAhead {
                round: v.round,
                current: self.round,
            });
        }
        self.stats.accepted += 1;
        self.process(sender, msg);
        Ok(())
    }

    /// Broadcasts the last commit certificate, at most once per own
    /// `(height, round)`, in answer to a valid stale ViewChange.
    fn send_decision(&mut self, stale: &Message) {
        let Some(cert) = self.last_commit.clone() else {
            return;
        };
        if self.decision_sent == Some((self.height, self.round))
            || self.check_message(stale).is_err()
        {
            return;
        }
        self.decision_sent = Some((self.height, self.round));
        let msg = Message::sign(&self.chain_id, &self.key, Statement::Decision(cert), None);
        self.out.push(Effect::Broadcast(Box::new(msg)));
    }

    fn buffer(&mut self, sender: usize, height: u64, msg: Message) -> Result<(), Rejection> {
        if height > self.height.saturating_add(MAX_FUTURE_HEIGHTS) {
            return Err(Rejection::TooFarAhead {
                height,
                current: self.height,
            });
        }
        if self.future.get(&height).is_some_and(|l| {
            l.iter()
                .any(|(s, m)| *s == sender && m.signed == msg.signed)
        }) {
            self.stats.duplicates += 1;
            return Ok(());
        }
        let count = self.future_per_sender.entry(sender).or_default();
        if *count >= MAX_FUTURE_MESSAGES_PER_VALIDATOR {
            return Err(Rejection::BufferFull);
        }
        *count += 1;
        self.future.entry(height).or_default().push((sender, msg));
        self.stats.buffered_future += 1;
        Ok(())
    }

    /// Handles a checked message for the current height.
    fn process(&mut self, sender: usize, msg: Message) {
        let Message { signed, block } = msg;
        match signed.statement {
            Statement::PrePrepare(v) => {
                if let Some(block) = block {
                    self.on_proposal(v.round, v.block_hash, block, false);
                }
            }
            Statement::NewView(nv) => {
                let Some(block) = block else { return };
                if nv.round < self.round {
                    self.stats.ignored_stale += 1;
                    return;
                }
                if nv.round > self.round {
                    // The NewView's quorum of view changes justifies the jump.
                    self.enter_round(nv.round);
                }
                self.on_proposal(nv.round, nv.block_hash, block, false);
            }
            Statement::Prepare(v) => self.on_vote(VoteKind::Prepare, sender, v, signed.signature),
            Statement::Commit(v) => self.on_vote(VoteKind::Commit, sender, v, signed.signature),
            Statement::ViewChange(vc) => {
                let svc = SignedViewChange {
                    view_change: vc,
                    validator: signed.validator,
                    signature: signed.signature,
                };
                self.on_view_change(sender, svc, block);
            }
            // Handled in `admit`.
            Statement::Decision(_) => {}
        }
    }

    fn on_proposal(&mut self, round: u32, hash: Hash32, block: Block, built_here: bool) {
        if round != self.round {
            self.stats.ignored_stale += 1;
            return;
        }
        match self.hs.proposals.get(&round) {
            Some(h) if *h == hash => {
                self.stats.duplicates += 1;
                return;
            }
            Some(_) => {
                self.stats.equivocations += 1;
                return;
            }
            None => {}
        }
        if !self.store_block(
            block,
            if built_here {
                Exec::Valid
            } else {
                Exec::Unknown
            },
        ) {
            return;
        }
        self.hs.proposals.insert(round, hash);
        self.request_execution(hash);
        self.progress();
    }

    fn on_vote(&mut self, kind: VoteKind, sender: usize, vote: Vote, signature: Signature) {
        let tally = match kind {
            VoteKind::Prepare => &mut self.hs.prepares,
            VoteKind::Commit => &mut self.hs.commits,
        };
        match tally.add(vote.round, sender, vote.block_hash, signature) {
            Added::New => self.progress(),
            Added::Duplicate => self.stats.duplicates += 1,
            Added::Conflict => self.stats.equivocations += 1,
        }
    }

    fn on_view_change(&mut self, sender: usize, svc: SignedViewChange, block: Option<Block>) {
        let round = svc.view_change.round;
        if self
            .hs
            .view_changes
            .get(&sender)
            .is_some_and(|old| old.view_change.round >= round)
        {
            self.stats.duplicates += 1;
            return;
        }
        if let Some(block) = block {
            // Checked against the certificate's hash by `check_message`.
            self.store_block(block, Exec::Unknown);
        }
        self.hs.view_changes.insert(sender, svc);
        // Join a round once f + 1 validators, so at least one honest one,
        // have moved past ours.
        let mut rounds: Vec<u32> = self
            .hs
            .view_changes
            .values()
            .map(|s| s.view_change.round)
            .collect();
        rounds.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(&r) = rounds.get(self.validators.max_faulty())
            && r > self.round
        {
            self.start_view_change(r);
            return;
        }
        self.progress();
    }

    fn on_timeout(&mut self, height: u64, round: u32) {
        if height != self.height || round != self.round {
            return;
        }
        // A lost sync answer is asked for again.
        self.sync_target = None;
        self.request_sync_if_behind();
        match round.checked_add(1) {
            Some(next) => self.start_view_change(next),
            None => self.schedule_timeout(),
        }
    }

    fn on_own_proposal(&mut self, block: Block) {
        let (height, round) = (block.header.height, block.header.round);
        if height != self.height
            || round != self.round
            || self.votes.proposal.is_some()
            || block.header.proposer != self.key.public()
        {
            self.stats.ignored_stale += 1;
            return;
        }
        if round == 0 {
            if !self.hs.awaiting_proposal {
                self.stats.ignored_stale += 1;
                return;
            }
            let hash = block.hash();
            self.votes.proposal = Some(hash);
            self.persist();
            let statement = Statement::PrePrepare(Vote {
                height,
                round,
                block_hash: hash,
            });
            let msg = Message::sign(&self.chain_id, &self.key, statement, Some(block.clone()));
            self.out.push(Effect::Broadcast(Box::new(msg)));
            self.on_proposal(round, hash, block, true);
        } else {
            match self.hs.pending_new_view.take() {
                Some((r, vcs)) if r == round => self.send_new_view(round, vcs, block, true),
                other => {
                    self.hs.pending_new_view = other;
                    self.stats.ignored_stale += 1;
                }
            }
        }
    }

    fn on_executed(&mut self, height: u64, hash: Hash32, valid: bool) {
        if height != self.height {
            return;
        }
        let Some(slot) = self.hs.blocks.get_mut(&hash) else {
            return;
        };
        if slot.exec != Exec::Pending {
            return;
        }
        slot.exec = if valid { Exec::Valid } else { Exec::Invalid };
        self.progress();
    }

    fn on_synced(&mut self, cert: CommitCertificate) {
        if cert.height < self.height {
            return;
        }
        if verify_certificate_with(
            &self.chain_id,
            &self.validators,
            &cert,
            self.quorum,
            self.verifier.as_ref(),
        )
        .is_err()
        {
            self.stats.rejected_invalid += 1;
            return;
        }
        if let Some(next) = cert.height.checked_add(1) {
            self.last_commit = Some(cert);
            self.advance_height(next);
        }
    }

    /// Stores a block of the current height; false if the bound is reached.
    fn store_block(&mut self, block: Block, exec: Exec) -> bool {
        let hash = block.hash();
        if let Some(slot) = self.hs.blocks.get_mut(&hash) {
            if exec == Exec::Valid && slot.exec == Exec::Unknown {
                slot.exec = Exec::Valid;
            }
            return true;
        }
        if self.hs.blocks.len() >= MAX_BLOCKS_PER_HEIGHT {
            self.stats.dropped_future += 1;
            return false;
        }
        self.hs.blocks.insert(hash, Slot { block, exec });
        true
    }

    fn exec_of(&self, hash: &Hash32) -> Option<Exec> {
        self.hs.blocks.get(hash).map(|s| s.exec)
    }

    fn request_execution(&mut self, hash: Hash32) {
        if let Some(slot) = self.hs.blocks.get_mut(&hash)
            && slot.exec == Exec::Unknown
        {
            slot.exec = Exec::Pending;
            self.out
                .push(Effect::ExecuteBlock(Box::new(slot.block.clone())));
        }
    }

    /// Takes every step the current knowledge allows.
    fn progress(&mut self) {
        let height = self.height;
        self.try_finalize();
        if self.height != height {
            return;
        }
        self.update_lock(self.round);
        self.try_prepare();
        self.try_commit_vote();
        self.try_finalize();
        if self.height != height {
            return;
        }
        self.try_new_view();
    }

    fn try_finalize(&mut self) {
        for (round, hash) in self.hs.commits.quorums(self.quorum) {
            match self.exec_of(&hash) {
                Some(Exec::Valid) => {
                    self.finalize(round, hash);
                    return;
                }
                Some(Exec::Unknown) => self.request_execution(hash),
                Some(Exec::Pending) => {}
                // A quorum committed a block this replica lacks, or finds
                // invalid: fetch it with its certificate. Sync re-executes
                // it and halts the node loudly if the ledger disagrees.
                Some(Exec::Invalid) | None => self.request_sync(self.height),
            }
        }
    }

    /// Raises the lock to the highest prepared certificate of a round up to
    /// `max_round` whose block is known.
    fn update_lock(&mut self, max_round: u32) {
        for (round, hash) in self.hs.prepares.quorums(self.quorum) {
            if round > max_round {
                continue;
            }
            if self
                .lock
                .as_ref()
                .is_some_and(|l| l.certificate.round >= round)
            {
                return;
            }
            let Some(slot) = self.hs.blocks.get(&hash) else {
                continue;
            };
            let sigs = self
                .hs
                .prepares
                .signatures(round, hash, &self.validators, self.quorum);
            let Ok(signatures) = BoundedVec::new(sigs) else {
                continue;
            };
            let certificate = PreparedCertificate {
                height: self.height,
                round,
                block_hash: hash,
                signatures,
            };
            self.lock = Some(PreparedProof {
                certificate,
                block: slot.block.clone(),
            });
            return;
        }
    }

    fn try_prepare(&mut self) {
        if self.votes.prepare.is_some() {
            return;
        }
        let Some(&hash) = self.hs.proposals.get(&self.round) else {
            return;
        };
        if self.exec_of(&hash) == Some(Exec::Valid) {
            self.cast(VoteKind::Prepare, hash);
        }
    }

    fn try_commit_vote(&mut self) {
        if self.votes.commit.is_some() {
            return;
        }
        let round = self.round;
        for (r, hash) in self.hs.prepares.quorums(self.quorum) {
            if r != round {
                continue;
            }
            match self.exec_of(&hash) {
                Some(Exec::Valid) => {
                    self.update_lock(round);
                    self.cast(VoteKind::Commit, hash);
                    return;
                }
                Some(Exec::Unknown) => self.request_execution(hash),
                _ => {}
            }
        }
    }

    fn cast(&mut self, kind: VoteKind, hash: Hash32) {
        let vote = Vote {
            height: self.height,
            round: self.round,
            block_hash: hash,
        };
        let statement = match kind {
            VoteKind::Prepare => {
                self.votes.prepare = Some(hash);
                Statement::Prepare(vote)
            }
            VoteKind::Commit => {
                self.votes.commit = Some(hash);
                Statement::Commit(vote)
            }
        };
        self.persist();
        let msg = Message::sign(&self.chain_id, &self.key, statement, None);
        let signature = msg.signed.signature;
        self.out.push(Effect::Broadcast(Box::new(msg)));
        let tally = match kind {
            VoteKind::Prepare => &mut self.hs.prepares,
            VoteKind::Commit => &mut self.hs.commits,
        };
        tally.add(self.round, self.me, hash, signature);
    }

    fn try_new_view(&mut self) {
        let round = self.round;
        if round == 0
            || self.validators.proposer_index(self.height, round) != self.me
            || self.hs.new_view_round == Some(round)
            || self.votes.proposal.is_some()
        {
            return;
        }
        let vcs: Vec<SignedViewChange> = self
            .hs
            .view_changes
            .values()
            .filter(|s| s.view_change.round == round)
            .cloned()
            .collect();
        if vcs.len() < self.quorum {
            return;
        }
        self.hs.new_view_round = Some(round);
        match highest_prepared(vcs.iter()).map(|c| c.block_hash) {
            Some(hash) => {
                // The view change that carried the certificate carried its block.
                if let Some(block) = self.hs.blocks.get(&hash).map(|s| s.block.clone()) {
                    self.send_new_view(round, vcs, block, false);
                }
            }
            None => {
                self.hs.pending_new_view = Some((round, vcs));
                self.out.push(Effect::BuildProposal {
                    height: self.height,
                    round,
                });
            }
        }
    }

    fn send_new_view(
        &mut self,
        round: u32,
        vcs: Vec<SignedViewChange>,
        block: Block,
        built_here: bool,
    ) {
        let Ok(view_changes) = BoundedVec::new(vcs) else {
            return;
        };
        let hash = block.hash();
        self.votes.proposal = Some(hash);
        self.persist();
        let statement = Statement::NewView(NewView {
            height: self.height,
            round,
            block_hash: hash,
            view_changes,
        });
        let msg = Message::sign(&self.chain_id, &self.key, statement, Some(block.clone()));
        self.out.push(Effect::Broadcast(Box::new(msg)));
        self.on_proposal(round, hash, block, built_here);
    }

    fn start_view_change(&mut self, round: u32) {
        // The lock may only hold a certificate from below the new round.
        self.update_lock(round.saturating_sub(1));
        self.enter_round(round);
        let prepared = self.lock.as_ref().map(|l| l.certificate.clone());
        let block = self.lock.as_ref().map(|l| l.block.clone());
        let view_change = ViewChange {
            height: self.height,
            round,
            prepared,
        };
        self.persist();
        let msg = Message::sign(
            &self.chain_id,
            &self.key,
            Statement::ViewChange(view_change.clone()),
            block,
        );
        let svc = SignedViewChange {
            view_change,
            validator: msg.signed.validator,
            signature: msg.signed.signature,
        };
        self.out.push(Effect::Broadcast(Box::new(msg)));
        self.hs.view_changes.insert(self.me, svc);
        self.progress();
    }

    fn enter_round(&mut self, round: u32) {
        self.round = round;
        self.votes = CastVotes::default();
        self.stats.rounds_started += 1;
        self.schedule_timeout();
    }

    fn schedule_timeout(&mut self) {
        self.out.push(Effect::ScheduleTimeout {
            height: self.height,
            round: self.round,
            duration_ms: self.config.timeout_ms(self.round),
        });
    }

    fn propose_if_leader(&mut self) {
        if self.round == 0
            && self.votes.proposal.is_none()
            && self.validators.proposer_index(self.height, 0) == self.me
        {
            self.hs.awaiting_proposal = true;
            self.out.push(Effect::BuildProposal {
                height: self.height,
                round: 0,
            });
        }
    }

    fn persist(&mut self) {
        self.out
            .push(Effect::PersistVote(Box::new(self.persisted_state())));
    }

    fn finalize(&mut self, round: u32, hash: Hash32) {
        let Some(block) = self.hs.blocks.get(&hash).map(|s| s.block.clone()) else {
            return;
        };
        let sigs = self
            .hs
            .commits
            .signatures(round, hash, &self.validators, self.quorum);
        let Ok(signatures) = BoundedVec::new(sigs) else {
            return;
        };
        let Some(next) = self.height.checked_add(1) else {
            return;
        };
        let certificate = CommitCertificate {
            height: self.height,
            round,
            block_hash: hash,
            signatures,
        };
        self.stats.commits += 1;
        self.last_commit = Some(certificate.clone());
        self.out.push(Effect::Commit {
            block: Box::new(block),
            certificate,
        });
        self.advance_height(next);
    }

    fn advance_height(&mut self, height: u64) {
        self.height = height;
        self.round = 0;
        self.votes = CastVotes::default();
        self.lock = None;
        self.hs = HeightState::default();
        if self.sync_target.is_some_and(|t| t < height) {
            self.sync_target = None;
        }
        self.schedule_timeout();
        self.propose_if_leader();
        let mut replay = Vec::new();
        let done: Vec<u64> = self.future.range(..=height).map(|(h, _)| *h).collect();
        for h in done {
            for (sender, msg) in self.future.remove(&h).unwrap_or_default() {
                if let Some(c) = self.future_per_sender.get_mut(&sender) {
                    *c = c.saturating_sub(1);
                }
                if h == height {
                    replay.push((sender, msg));
                }
            }
        }
        for (sender, msg) in replay {
            if self.height != height {
                break;
            }
            self.stats.accepted += 1;
            self.process(sender, msg);
        }
        if self.height == height {
            self.request_sync_if_behind();
        }
    }

    /// If f + 1 validators, so at least one honest one, have sent messages
    /// for heights above ours, the height below the lowest of them is
    /// committed somewhere: ask for it.
    fn request_sync_if_behind(&mut self) {
        let mut heights: Vec<u64> = self
            .highest_seen
            .values()
            .copied()
            .filter(|h| *h > self.height)
            .collect();
        heights.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(&h) = heights.get(self.validators.max_faulty()) {
            self.request_sync(h - 1);
        }
    }

    fn request_sync(&mut self, target_height: u64) {
        if self.sync_target.is_some_and(|t| t >= target_height) {
            return;
        }
        self.sync_target = Some(target_height);
        self.stats.sync_requests += 1;
        self.out.push(Effect::RequestSync {
            from_height: self.height,
            target_height,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::block::BlockHeader;
    use crate::consensus::verify_certificate;

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
            },
            txs: BoundedVec::new(Vec::new()).unwrap(),
        }
    }

    fn replica(keys: &[Keypair], i: usize) -> Replica {
        Replica::new(
            ConsensusConfig::default(),
            chain(),
            set(keys),
            keys[i].clone(),
            0,
        )
        .unwrap()
    }

    fn msg(m: Message) -> Input {
        Input::Message(Box::new(m))
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
                                self.queue.push_back((j, Input::Message(m.clone())));
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
                    Effect::PersistVote(_) | Effect::RequestSync { .. } => {}
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
        let c = ConsensusConfig {
            timeout_base_ms: 100,
            timeout_max_ms: 1_500,
            quorum_rule: QuorumRule::Byzantine,
        };
        let got: Vec<u64> = (0..6).map(|r| c.timeout_ms(r)).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1_500, 1_500]);
        assert_eq!(c.timeout_ms(u32::MAX), 1_500);
        assert_eq!(ConsensusConfig::default().timeout_ms(0), TIMEOUT_BASE_MS);
        assert_eq!(ConsensusConfig::default().timeout_ms(40), TIMEOUT_MAX_MS);
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
            set(&ks),
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
            set(&ks),
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
            set(&ks),
            ks[0].clone(),
            7,
            Some(state(5)),
        )
        .unwrap();
        assert_eq!((old.height(), old.round()), (8, 0));
        let current = Replica::restore(
            ConsensusConfig::default(),
            chain(),
            set(&ks),
            ks[0].clone(),
            4,
            Some(state(5)),
        )
        .unwrap();
        assert_eq!((current.height(), current.round()), (5, 3));
        let outsider = Keypair::insecure_from_label("outsider");
        assert!(matches!(
            Replica::new(ConsensusConfig::default(), chain(), set(&ks), outsider, 0),
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
        let r = Replica::new(weak, chain(), set(&ks), ks[0].clone(), 0).unwrap();
        assert_eq!(r.quorum(), 2);
        assert_eq!(replica(&ks, 0).quorum(), 3);
    }
}

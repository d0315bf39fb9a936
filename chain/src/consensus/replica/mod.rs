//! One validator's PBFT state machine.
//!
//! Per height the replica runs rounds. In round 0 the proposer sends a
//! PrePrepare; in a later round it sends a NewView justified by a quorum of
//! ViewChanges. Replicas execute the proposal, Prepare it, Commit once a
//! quorum prepared it, and finalize on a quorum of Commits. A timeout moves
//! a replica to the next round with a ViewChange carrying its highest
//! prepared certificate (its lock).
//!
//! The code is split by what a step does: `admission` checks a message and
//! buffers one from a later height, `round` takes a round from proposal to
//! finalization (votes, their tallies, the lock), `view_change` moves to a
//! later round on a timeout or a quorum of ViewChanges, and `sync` advances
//! the height, replays buffered messages and asks for missing blocks.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::cert::CertError;
use super::evidence::Evidence;
use super::message::{
    MAX_STATEMENT_BYTES, Message, PreparedCertificate, SignedStatement, SignedViewChange,
};
use super::validators::{QuorumRule, ValidatorSchedule, ValidatorSet};
use super::verifier::{Ed25519Verifier, SignatureVerifier};
use crate::block::{Block, CommitCertificate};
use crate::crypto::{Hash32, Keypair, PublicKey};
use crate::encoding::{self, Decode, DecodeError, Encode};
use crate::limits::MAX_BLOCK_BYTES;
use crate::params::ConsensusParams;
use crate::tx::ChainId;

mod admission;
mod round;
mod sync;
mod view_change;

#[cfg(test)]
mod tests;

use round::Tally;

/// Rounds past which the message delay stops growing (it is far beyond any
/// timeout by then).
const MAX_DELAY_GROWTH_ROUNDS: u32 = 256;
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

/// Tunables of a replica: the chain's [`ConsensusParams`] and the quorum
/// rule. Every validator of a chain uses the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsensusConfig {
    /// Timeouts, precision and message delay, from the chain's state.
    pub params: ConsensusParams,
    /// Always [`QuorumRule::Byzantine`] outside tests of the test harness.
    pub quorum_rule: QuorumRule,
    /// A replica broken on purpose, for the tests that prove the
    /// simulation catches it.
    #[cfg(feature = "mutants")]
    pub mutant: Option<ReplicaMutant>,
}

/// A deliberately broken replica. Never built into a node.
#[cfg(feature = "mutants")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaMutant {
    /// Judges a block re-proposed because it was prepared as if it were a
    /// fresh proposal: a lock older than the timeliness window never
    /// commits.
    NoReproposalExemption,
    /// Takes every fresh proposal as timely, whatever its block time.
    IgnoreBlockTime,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        ConsensusConfig::from_params(ConsensusParams::default())
    }
}

impl ConsensusConfig {
    /// The honest configuration for a chain's parameters.
    pub fn from_params(params: ConsensusParams) -> Self {
        ConsensusConfig {
            params,
            quorum_rule: QuorumRule::Byzantine,
            #[cfg(feature = "mutants")]
            mutant: None,
        }
    }

    /// How long round `round` waits: `min(base * 2^round, max)`.
    pub fn timeout_ms(&self, round: u32) -> u64 {
        let factor = 1u64.checked_shl(round.min(63)).unwrap_or(u64::MAX);
        self.params
            .timeout_base_ms
            .saturating_mul(factor)
            .min(self.params.timeout_max_ms)
    }

    /// `delay(r)`: the message delay of round `round`, grown by a tenth per
    /// round.
    pub fn message_delay_of_round(&self, round: u32) -> u64 {
        let mut delay = self.params.message_delay_ms;
        for _ in 0..round.min(MAX_DELAY_GROWTH_ROUNDS) {
            delay = delay.saturating_add(delay / 10);
        }
        delay
    }

    /// Whether a block stamped `timestamp_ms`, proposed fresh in `round`
    /// and received at `arrival_ms` by the local clock, is timely:
    /// `arrival − precision − delay(r) ≤ timestamp ≤ arrival + precision`.
    pub fn is_timely(&self, timestamp_ms: u64, arrival_ms: u64, round: u32) -> bool {
        let earliest = arrival_ms
            .saturating_sub(self.params.precision_ms)
            .saturating_sub(self.message_delay_of_round(round));
        let latest = arrival_ms.saturating_add(self.params.precision_ms);
        (earliest..=latest).contains(&timestamp_ms)
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
    /// A consensus message from the network, received at `arrival_ms` by
    /// the local clock (stamped before any queueing or execution).
    Message { msg: Box<Message>, arrival_ms: u64 },
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
    /// A validator signed two different blocks where it may sign one: keep
    /// the pair, count it and report it. Emitted at most once per validator
    /// and height.
    Evidence(Box<Evidence>),
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
    /// The validator set of the message's height is not known yet: the
    /// message is ignored, and its sender is not to blame.
    #[error("the validator set of height {0} is not known yet")]
    CannotJudgeYet(u64),
}

impl Rejection {
    /// Whether the message is invalid in itself: every replica that checks
    /// it against the validator set of its height refuses it the same way
    /// (a bad signature, a non-validator signer, a malformed message or
    /// justification, the wrong proposer). The rest (stale, too far ahead,
    /// a full buffer) say nothing against the message or the peer that
    /// relayed it: they depend on where this replica is.
    pub fn is_invalid(&self) -> bool {
        match self {
            Rejection::NotAValidator
            | Rejection::BadSignature
            | Rejection::Malformed(_)
            | Rejection::WrongProposer
            | Rejection::BadCertificate(_)
            | Rejection::BadJustification(_) => true,
            Rejection::Stale { .. }
            | Rejection::TooFarAhead { .. }
            | Rejection::RoundTooFarAhead { .. }
            | Rejection::BufferFull
            | Rejection::CannotJudgeYet(_) => false,
        }
    }
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
    #[error("the validator set of height {0} is not known")]
    UnknownSet(u64),
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
    /// Pairs of conflicting statements kept as evidence.
    pub evidence: u64,
    pub rounds_started: u64,
    /// Fresh proposals this replica did not Prepare because their block
    /// time was outside its timeliness window.
    pub untimely_proposals: u64,
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
    /// The round-0 PrePrepare accepted, kept to prove a second one wrong.
    pre_prepare: Option<SignedStatement>,
    /// Validators already reported as evidence at this height: one pair
    /// proves a validator faulty, and keeps what a host stores bounded.
    reported: std::collections::BTreeSet<usize>,
    /// Rounds whose fresh proposal was not timely here: this replica does
    /// not Prepare it. Kept apart from the block's execution verdict, which
    /// stays valid for a later re-proposal.
    untimely: std::collections::BTreeSet<u32>,
}

/// One validator's consensus state machine. See the module documentation
/// for how a host drives it.
#[derive(Debug)]
pub struct Replica {
    config: ConsensusConfig,
    chain_id: ChainId,
    /// The sets in force at each height, as far ahead as they are known.
    schedule: ValidatorSchedule,
    /// The set in force at the current height.
    validators: ValidatorSet,
    key: Keypair,
    /// This replica's index in `validators`, when it is one of them.
    me: usize,
    /// Whether this replica's key is in the set of the current height. A
    /// replica that is not does nothing; its host retires it.
    member: bool,
    /// The quorum of `validators`.
    quorum: usize,
    verifier: Arc<dyn SignatureVerifier>,
    height: u64,
    round: u32,
    votes: CastVotes,
    lock: Option<PreparedProof>,
    hs: HeightState,
    /// Messages of later heights, with their signers and arrival times.
    future: BTreeMap<u64, Vec<(PublicKey, Message, u64)>>,
    future_per_sender: BTreeMap<PublicKey, usize>,
    /// The highest height each validator has sent a valid message for.
    highest_seen: BTreeMap<PublicKey, u64>,
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
    /// voted above it. `schedule` must know the set of the next height, and
    /// `key` must be in it.
    pub fn new(
        config: ConsensusConfig,
        chain_id: ChainId,
        schedule: ValidatorSchedule,
        key: Keypair,
        committed_height: u64,
    ) -> Result<Self, ReplicaError> {
        let height = committed_height
            .checked_add(1)
            .ok_or(ReplicaError::HeightOverflow)?;
        let validators = schedule
            .at(height)
            .cloned()
            .ok_or(ReplicaError::UnknownSet(height))?;
        let me = validators
            .index_of(&key.public())
            .ok_or(ReplicaError::NotAValidator(key.public()))?;
        let quorum = validators.quorum_for(config.quorum_rule);
        Ok(Replica {
            config,
            chain_id,
            schedule,
            validators,
            key,
            me,
            member: true,
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
        schedule: ValidatorSchedule,
        key: Keypair,
        committed_height: u64,
        persisted: Option<PersistedState>,
    ) -> Result<Self, ReplicaError> {
        let mut replica = Self::new(config, chain_id, schedule, key, committed_height)?;
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

    /// Takes one input and returns the effects to carry out, in order. A
    /// replica that is not a validator at its height does nothing.
    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        if !self.member {
            return Vec::new();
        }
        match input {
            Input::Message { msg, arrival_ms } => {
                // The verdict is for hosts that score peers: see
                // `Replica::handle_message`.
                let _ = self.on_message(*msg, arrival_ms);
            }
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

    /// Handles a message from the network like [`Input::Message`] and says
    /// whether it was admitted, so that the host can judge the peer it came
    /// from (see [`Rejection::is_invalid`]). The checks run in the order of
    /// [`Replica::check_message`]: a block attached to a message is hashed
    /// only once the statement's signature holds.
    pub fn handle_message(
        &mut self,
        msg: Message,
        arrival_ms: u64,
    ) -> (Result<(), Rejection>, Vec<Effect>) {
        let result = self.on_message(msg, arrival_ms);
        (result, std::mem::take(&mut self.out))
    }

    /// Decodes a message with the [`MAX_MESSAGE_BYTES`](super::MAX_MESSAGE_BYTES) limit and handles it.
    pub fn handle_bytes(&mut self, bytes: &[u8], arrival_ms: u64) -> Vec<Effect> {
        match Message::from_bytes(bytes) {
            Ok(msg) => self.handle(Input::Message {
                msg: Box::new(msg),
                arrival_ms,
            }),
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

    /// The validator set of the current height.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// The sets this replica judges messages by.
    pub fn schedule(&self) -> &ValidatorSchedule {
        &self.schedule
    }

    /// Whether this replica's key is a validator at its current height. One
    /// that is not (its validator was removed or rotated away) does nothing
    /// more, and its host should retire it.
    pub fn is_member(&self) -> bool {
        self.member
    }

    /// Takes the sets as the host knows them after a commit: a vote of the
    /// alliance may have scheduled a change. Sets already known never
    /// change; this only reaches further ahead.
    pub fn set_schedule(&mut self, schedule: ValidatorSchedule) {
        self.schedule = schedule;
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

    /// Takes the chain's parameters as they stand after a commit: a vote of
    /// the alliance may have changed them. The running round keeps the
    /// timeout it was given.
    pub fn set_params(&mut self, params: ConsensusParams) {
        self.config.params = params;
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
}

//! The consensus driver: carries out the effects of the PBFT state machine
//! with a clock, timers, storage and a network.
//!
//! One driver owns the [`Replica`] (absent on an observer node). It feeds the
//! replica consensus messages from gossip, timer expiries, the verdicts of
//! executing blocks and the blocks it builds, and carries out the effects
//! the replica returns in order: a vote is written to storage (synced)
//! before it is broadcast, and a final block is stored with its certificate
//! and state changes in one synced batch before anything later happens.
//!
//! The driver is generic over its [`Runtime`]: a node runs it on tokio with
//! the system clock and libp2p ([`crate::runtime::TokioRuntime`]), and the
//! simulation in `merit-tests` runs this same code on a deterministic
//! runtime with simulated clocks and an in-memory network. It is a plain
//! state machine over [`Event`]s: nothing in it awaits.
//!
//! Every consensus message the driver is handed gets a verdict, reported
//! to the runtime as soon as the replica has judged it (before the block
//! is executed): the network relays accepted messages and scores down the
//! peer that sent an invalid one. What the replica cannot judge yet (a
//! height too far ahead, a stale one) is ignored, never held against the
//! peer.
//!
//! Block sync runs here too: when the replica asks for it, and on a slow
//! tick so that an observer, or a validator on an idle chain, catches up.
//! Each answer names the peer that gave it. Synced blocks must be the ones
//! asked for, their certificates must verify and name them, and their
//! transactions must be the ones their headers commit to; then they are
//! re-executed and their `state_root` compared before they are stored. A
//! peer that served a bad certificate or forged blocks is reported (and
//! banned by the network), one that let the request time out is reported
//! as stalled (and rested), and sync asks the next peer at once.
//!
//! An idle chain makes no blocks: the proposer waits for transactions, and
//! a replica with nothing to include does not time out round 0 of a
//! height. One empty heartbeat block every `empty_block_interval_ms` keeps
//! block time (and so point expiry) moving.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use libp2p::PeerId;
use merit_chain::block::tx_root;
use merit_chain::consensus::{
    ConsensusConfig, Effect, Input, Message, PersistedState, QuorumRule, Replica,
    SignatureVerifier, verify_certificate_with,
};
use merit_chain::ledger::BlockOutcome;
use merit_chain::{Block, CommitCertificate, Hash32, Keypair, Transaction};

use crate::config::ConsensusTimings;
use crate::network::{
    GossipId, MAX_SYNC_BLOCKS, SyncAnswer, SyncFailure, SyncRequest, SyncedBlock,
};
use crate::peers::{Offence, Verdict, consensus_heights, consensus_verdict};
use crate::runtime::{Runtime, Topic};
use crate::shared::{CommittedBlock, Shared, record_commit};

/// How often a node asks a peer whether there are blocks it lacks, in ms.
pub const SYNC_POLL_INTERVAL_MS: u64 = 1_000;
/// Sync requests sent one after another, each to the next peer, after
/// answers that failed or were bad; past it, sync waits for the next poll.
pub const MAX_SYNC_RETRIES: u32 = 8;
/// How often a waiting proposer looks at the mempool, in ms.
pub const PROPOSAL_POLL_INTERVAL_MS: u64 = 5;

/// Signature verdicts for a proposed block's transactions: those waiting in
/// the mempool passed their check on admission, others were checked when
/// they arrived by gossip, and the rest are checked here in one batch. No
/// transaction is verified twice by this node.
/// Returns the verdicts with the transactions' hashes, which it needed.
fn known_verdicts(shared: &Shared, txs: &[Transaction]) -> (Vec<bool>, Vec<Hash32>) {
    let hashes: Vec<Hash32> = txs.iter().map(Transaction::hash).collect();
    let pooled: Vec<bool> = {
        let pool = shared.lock_mempool();
        hashes.iter().map(|h| pool.contains(h)).collect()
    };
    if pooled.iter().all(|p| *p) {
        return (pooled, hashes);
    }
    let refs: Vec<&Transaction> = txs.iter().collect();
    let verdicts = shared.verify_txs(&refs, &hashes);
    let verdicts = pooled
        .into_iter()
        .zip(verdicts)
        .map(|(p, v)| p || v)
        .collect();
    (verdicts, hashes)
}

/// A fault that stops the node: continuing could diverge from the chain.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("storage failed: {0}")]
    Storage(#[from] merit_store::StorageError),
    #[error(
        "the alliance scheduled protocol version {version} from height {height}, and this node \
         runs version {}: stopping before height {height}; upgrade merit-node and start it again",
        merit_chain::governance::PROTOCOL_VERSION
    )]
    UpgradeRequired { version: u32, height: u64 },
    #[error("cannot take this node's place in the validator set: {0}")]
    Membership(String),
    #[error("block {height} was certified by the validators but does not execute here: {reason}")]
    CertifiedBlockInvalid { height: u64, reason: String },
}

/// What happens to a driver.
#[derive(Debug)]
pub enum Event {
    /// A consensus message gossiped by `from`, received at `arrival_ms` by
    /// the node's wall clock, stamped as it came off the network. Its
    /// verdict goes back with [`Runtime::report_gossip`] under `id`.
    Consensus {
        bytes: Vec<u8>,
        from: PeerId,
        arrival_ms: u64,
        id: GossipId,
    },
    /// A batch of transactions gossiped by `from`, to be judged under `id`.
    Txs {
        bytes: Vec<u8>,
        from: PeerId,
        id: GossipId,
    },
    /// A timer set with [`Runtime::set_timer`] fired.
    Timer(Timer),
    /// The answer to [`Runtime::request_sync`].
    Synced(SyncAnswer),
}

/// The timers a driver sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// The timeout of a consensus round.
    Round { height: u64, round: u32 },
    /// Time to look again whether the pending proposal can be built.
    Proposal,
    /// Time to ask a peer whether there are blocks this node lacks.
    SyncPoll,
}

/// A deliberately broken driver, for the tests that prove the simulation
/// catches what it must. Never built into a node's release binary.
#[cfg(feature = "mutants")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// Sends each vote before it is durably saved: a crash between the two
    /// lets a restarted replica vote again, differently, in that round.
    BroadcastBeforePersist,
    /// Counts f + 1 votes as a quorum instead of n − f.
    BrokenQuorum,
    /// Judges a re-proposed prepared block's time like a fresh proposal's.
    NoReproposalExemption,
    /// Takes every fresh proposal as timely, whatever its block time.
    IgnoreBlockTime,
    /// Takes synced blocks' transactions on trust, without checking them
    /// against the `tx_root` their certified headers commit to.
    TrustSyncedTxs,
    /// Never reports a peer for a bad or stalled sync answer.
    ForgiveSyncPeers,
    /// Sends a second Prepare, for a block that does not exist, beside each
    /// Prepare it sends: a byzantine validator for the evidence tests.
    DoubleVoter,
    /// Checks synced blocks' certificates against the genesis set, not the
    /// set in force at their height.
    CertsAgainstGenesisSet,
}

/// The environment variable that turns a test build's driver into a
/// mutant, by name (only builds with the `mutants` feature read it).
#[cfg(feature = "mutants")]
pub const TEST_MUTANT_ENV: &str = "MERIT_TEST_MUTANT";

#[cfg(feature = "mutants")]
impl Mutant {
    /// The mutant of this name, as [`TEST_MUTANT_ENV`] names it.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "broadcast-before-persist" => Mutant::BroadcastBeforePersist,
            "broken-quorum" => Mutant::BrokenQuorum,
            "no-reproposal-exemption" => Mutant::NoReproposalExemption,
            "ignore-block-time" => Mutant::IgnoreBlockTime,
            "double-voter" => Mutant::DoubleVoter,
            "trust-synced-txs" => Mutant::TrustSyncedTxs,
            "forgive-sync-peers" => Mutant::ForgiveSyncPeers,
            "certs-against-genesis-set" => Mutant::CertsAgainstGenesisSet,
            _ => return None,
        })
    }
}

/// The quorum the driver's replica and its sync count: n − f, unless a
/// mutant says otherwise.
fn quorum_rule(options: &DriverOptions) -> QuorumRule {
    #[cfg(feature = "mutants")]
    if options.mutant == Some(Mutant::BrokenQuorum) {
        return QuorumRule::UnsafeFPlusOne;
    }
    let _ = options;
    QuorumRule::Byzantine
}

/// The replica configuration for the parameters in force after the tip.
fn consensus_config(shared: &Shared, options: &DriverOptions) -> ConsensusConfig {
    #[cfg_attr(not(feature = "mutants"), allow(unused_mut))]
    let mut config = ConsensusConfig {
        quorum_rule: quorum_rule(options),
        ..ConsensusConfig::from_params(shared.read_ledger().consensus_params())
    };
    #[cfg(feature = "mutants")]
    if options.mutant == Some(Mutant::NoReproposalExemption) {
        config.mutant = Some(merit_chain::consensus::ReplicaMutant::NoReproposalExemption);
    }
    #[cfg(feature = "mutants")]
    if options.mutant == Some(Mutant::IgnoreBlockTime) {
        config.mutant = Some(merit_chain::consensus::ReplicaMutant::IgnoreBlockTime);
    }
    config
}

impl DriverOptions {
    /// The options a node process starts with: the defaults, or in a test
    /// build, the mutant [`TEST_MUTANT_ENV`] names.
    pub fn from_env() -> Self {
        #[cfg(feature = "mutants")]
        if let Some(m) = std::env::var(TEST_MUTANT_ENV)
            .ok()
            .and_then(|n| Mutant::from_name(&n))
        {
            tracing::warn!(mutant = ?m, "test build: this node's driver is broken on purpose");
            return DriverOptions {
                mutant: Some(m),
                ..DriverOptions::default()
            };
        }
        DriverOptions::default()
    }
}

/// How a driver is built beyond its configuration.
#[derive(Debug, Clone, Default)]
pub struct DriverOptions {
    /// Checks consensus signatures; the default is plain ed25519. The
    /// simulation shares a caching verifier between its replicas.
    pub verifier: Option<Arc<dyn SignatureVerifier>>,
    #[cfg(feature = "mutants")]
    pub mutant: Option<Mutant>,
}

#[derive(Debug)]
struct PendingProposal {
    height: u64,
    round: u32,
    since_ms: u64,
}

/// One node's consensus driver. See the module documentation.
pub struct Driver<R: Runtime> {
    rt: R,
    shared: Arc<Shared>,
    replica: Option<Replica>,
    /// The key the replica signs with.
    key: Option<Keypair>,
    /// Every validator key this node holds: its key and, during a
    /// rotation, the next one. The replica runs with whichever the set of
    /// the next height names.
    keys: Vec<Keypair>,
    consensus: ConsensusConfig,
    /// A commit happened since the replica was last matched to the set.
    membership_stale: bool,
    timings: ConsensusTimings,
    /// Outcomes of blocks executed at the working height, by block hash.
    executed: BTreeMap<Hash32, BlockOutcome>,
    proposal: Option<PendingProposal>,
    proposal_timer_set: bool,
    /// Monotonic time of the last commit (or of the start).
    last_commit_ms: u64,
    /// The sync request waiting for its answer.
    sync_in_flight: Option<SyncRequest>,
    /// Sync requests sent in a row after failed or bad answers.
    sync_retries: u32,
    verifier: Arc<dyn SignatureVerifier>,
    quorum_rule: QuorumRule,
    #[cfg(feature = "mutants")]
    mutant: Option<Mutant>,
}

impl<R: Runtime> std::fmt::Debug for Driver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("validator", &self.key.as_ref().map(Keypair::public))
            .field("height", &self.shared.read_ledger().height())
            .field("sync_in_flight", &self.sync_in_flight.is_some())
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Driver<R> {
    /// Builds the driver. With one of `keys` in the validator set of the
    /// next height, it restores its replica from the committed height and
    /// the consensus state it last persisted; otherwise it follows the
    /// chain as an observer until a vote of the alliance puts a key of its
    /// in the set.
    pub fn new(
        shared: Arc<Shared>,
        keys: Vec<Keypair>,
        timings: ConsensusTimings,
        rt: R,
        options: DriverOptions,
    ) -> anyhow::Result<Self> {
        let last_commit_ms = rt.monotonic_ms();
        let quorum_rule = quorum_rule(&options);
        let consensus = consensus_config(&shared, &options);
        let verifier = options
            .verifier
            .unwrap_or_else(|| Arc::new(merit_chain::consensus::Ed25519Verifier));
        let mut driver = Driver {
            rt,
            shared,
            replica: None,
            key: None,
            keys,
            consensus,
            membership_stale: false,
            timings,
            executed: BTreeMap::new(),
            proposal: None,
            proposal_timer_set: false,
            last_commit_ms,
            sync_in_flight: None,
            sync_retries: 0,
            verifier,
            quorum_rule,
            #[cfg(feature = "mutants")]
            mutant: options.mutant,
        };
        driver.join_if_member()?;
        Ok(driver)
    }

    /// Builds the replica if one of this node's keys is in the set of the
    /// next height and none runs yet. Returns whether it built one.
    fn join_if_member(&mut self) -> anyhow::Result<bool> {
        if self.replica.is_some() {
            return Ok(false);
        }
        let (height, schedule) = {
            let ledger = self.shared.read_ledger();
            (ledger.height(), ledger.validator_schedule())
        };
        let Some(schedule) = schedule else {
            return Ok(false);
        };
        let Some(set) = schedule.at(height + 1) else {
            return Ok(false);
        };
        let Some(key) = self
            .keys
            .iter()
            .find(|k| set.contains(&k.public()))
            .cloned()
        else {
            return Ok(false);
        };
        let persisted = match self.shared.storage.consensus_state()? {
            Some(bytes) => Some(
                PersistedState::from_bytes(&bytes)
                    .map_err(|e| anyhow::anyhow!("the stored consensus state is corrupt: {e}"))?,
            ),
            None => None,
        };
        let mut config = self.consensus;
        config.params = self.shared.read_ledger().consensus_params();
        let replica = Replica::restore(
            config,
            self.shared.chain_id.clone(),
            schedule,
            key.clone(),
            height,
            persisted,
        )?
        .with_verifier(self.verifier.clone());
        tracing::info!(
            validator = %key.public(),
            height = height + 1,
            "this node's validator key is in the set: voting"
        );
        self.replica = Some(replica);
        self.key = Some(key);
        Ok(true)
    }

    /// After commits: hands the replica the sets as they now stand, retires
    /// it if its key left the set, and starts one if a key of this node
    /// joined it (a new merchant voted in, or a rotated key taking over).
    fn match_membership(&mut self) -> Result<(), DriverError> {
        if !std::mem::take(&mut self.membership_stale) {
            return Ok(());
        }
        if let Some(replica) = self.replica.as_mut() {
            if replica.is_member() {
                if let Some(schedule) = self.shared.read_ledger().validator_schedule() {
                    replica.set_schedule(schedule);
                }
                return Ok(());
            }
            tracing::info!(
                validator = %replica.public_key(),
                height = replica.height(),
                "this node's validator key left the set: following the chain as an observer"
            );
            self.replica = None;
            self.key = None;
            self.proposal = None;
        }
        let joined = self
            .join_if_member()
            .map_err(|e| DriverError::Membership(e.to_string()))?;
        if joined && let Some(replica) = self.replica.as_mut() {
            let effects = replica.start();
            self.carry_out(effects)?;
        }
        Ok(())
    }

    /// The runtime the driver runs on.
    pub fn runtime(&self) -> &R {
        &self.rt
    }

    pub fn runtime_mut(&mut self) -> &mut R {
        &mut self.rt
    }

    /// The replica, on a validator.
    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_ref()
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The first effects: the replica's first timer and proposal, and the
    /// sync poll.
    pub fn start(&mut self) -> Result<(), DriverError> {
        self.rt.set_timer(SYNC_POLL_INTERVAL_MS, Timer::SyncPoll);
        if let Some(replica) = self.replica.as_mut() {
            let effects = replica.start();
            self.carry_out(effects)?;
        }
        Ok(())
    }

    /// Handles one event. An error is a fault that must stop the node.
    pub fn handle(&mut self, event: Event) -> Result<(), DriverError> {
        match event {
            Event::Consensus {
                bytes,
                arrival_ms,
                id,
                ..
            } => self.on_consensus(&bytes, arrival_ms, id),
            Event::Txs { bytes, from, id } => {
                let shared = self.shared.clone();
                self.rt.admit_gossip(&shared, bytes, from, id);
                Ok(())
            }
            Event::Timer(Timer::Round { height, round }) => self.on_timeout(height, round),
            Event::Timer(Timer::Proposal) => {
                self.proposal_timer_set = false;
                self.maybe_propose()
            }
            Event::Timer(Timer::SyncPoll) => {
                self.poll_sync();
                self.rt.set_timer(SYNC_POLL_INTERVAL_MS, Timer::SyncPoll);
                Ok(())
            }
            Event::Synced(result) => self.on_synced(result),
        }
    }

    fn elapsed_since(&self, then_ms: u64) -> u64 {
        self.rt.monotonic_ms().saturating_sub(then_ms)
    }

    /// Hands a consensus message to the replica and reports its verdict
    /// before carrying out what it led to. The replica checks the
    /// signature before it hashes or executes an attached block.
    fn on_consensus(
        &mut self,
        bytes: &[u8],
        arrival_ms: u64,
        id: GossipId,
    ) -> Result<(), DriverError> {
        let Some(replica) = self.replica.as_mut() else {
            self.rt.report_gossip(id, Verdict::Ignore);
            return Ok(());
        };
        let msg = match Message::from_bytes(bytes) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::debug!("a consensus message does not decode: {e}");
                self.shared.metrics.consensus_rejected_messages.inc();
                self.rt
                    .report_gossip(id, Verdict::Reject(Offence::GarbageGossip));
                return Ok(());
            }
        };
        let height = msg.statement().height();
        let tip = self.shared.read_ledger().height();
        let before = replica.stats().clone();
        let (result, effects) = replica.handle_message(msg, arrival_ms);
        let verdict = consensus_verdict(&result, height, &consensus_heights(tip));
        if let (Err(rejection), Verdict::Reject(_)) = (&result, verdict) {
            tracing::debug!(height, "refused a consensus message: {rejection}");
        }
        self.rt.report_gossip(id, verdict);
        let after = replica.stats();
        let m = &self.shared.metrics;
        let untimely = after.untimely_proposals - before.untimely_proposals;
        if untimely > 0 {
            m.consensus_untimely_proposals.inc_by(untimely);
            tracing::warn!(
                height = replica.height(),
                round = replica.round(),
                arrival_ms,
                "a proposal's block time is outside this node's timeliness window; not preparing it"
            );
        }
        m.consensus_non_validator_messages
            .inc_by(after.rejected_not_validator - before.rejected_not_validator);
        m.consensus_rejected_messages.inc_by(
            (after.rejected_bad_signature + after.rejected_invalid)
                - (before.rejected_bad_signature + before.rejected_invalid),
        );
        m.consensus_rounds
            .inc_by(after.rounds_started - before.rounds_started);
        self.carry_out(effects)
    }

    fn on_timeout(&mut self, height: u64, round: u32) -> Result<(), DriverError> {
        let Some(replica) = self.replica.as_ref() else {
            return Ok(());
        };
        if replica.height() != height || replica.round() != round {
            return Ok(());
        }
        // Idle: nothing to include and the heartbeat is not due. Do not
        // start a view change over a block nobody needs; look again later.
        let params = replica.config().params;
        let idle = round == 0
            && self.shared.lock_mempool().is_empty()
            && self.elapsed_since(self.last_commit_ms)
                < params.heartbeat_ms.saturating_add(params.timeout_base_ms);
        if idle {
            self.rt
                .set_timer(params.timeout_base_ms, Timer::Round { height, round });
            return Ok(());
        }
        let Some(replica) = self.replica.as_mut() else {
            return Ok(());
        };
        let before = replica.stats().rounds_started;
        let effects = replica.handle(Input::Timeout { height, round });
        let started = replica.stats().rounds_started - before;
        self.shared.metrics.consensus_rounds.inc_by(started);
        self.carry_out(effects)
    }

    fn arm_proposal_timer(&mut self) {
        if !self.proposal_timer_set {
            self.proposal_timer_set = true;
            self.rt
                .set_timer(PROPOSAL_POLL_INTERVAL_MS, Timer::Proposal);
        }
    }

    /// Builds the pending proposal once there is something to propose, or
    /// the heartbeat is due, or the round is past 0 (others wait for it).
    fn maybe_propose(&mut self) -> Result<(), DriverError> {
        let Some(p) = &self.proposal else {
            return Ok(());
        };
        let (height, round) = (p.height, p.round);
        let pool_len = self.shared.lock_mempool().len();
        let waited = self.elapsed_since(p.since_ms) >= self.timings.proposal_wait_ms;
        let heartbeat = self.elapsed_since(self.last_commit_ms)
            >= self.shared.read_ledger().consensus_params().heartbeat_ms;
        let ready = pool_len >= merit_chain::limits::MAX_BLOCK_TXS
            || (pool_len > 0 && waited)
            || round > 0
            || heartbeat;
        if !ready {
            self.arm_proposal_timer();
            return Ok(());
        }
        self.proposal = None;
        let Some(key) = self.key.clone() else {
            return Ok(());
        };
        let still_current = self
            .replica
            .as_ref()
            .is_some_and(|r| r.height() == height && r.round() == round);
        if !still_current {
            return Ok(());
        }
        let shared = self.shared.clone();
        let now_ms = self.rt.now_ms();
        let started = self.rt.monotonic_ms();
        let (block, outcome) = self.rt.blocking(|| {
            let ledger = shared.read_ledger();
            let txs: Vec<Transaction> = shared
                .lock_mempool()
                .take_for_block(height, merit_chain::limits::MAX_BLOCK_TXS)
                .into_iter()
                .map(|p| (*p.tx).clone())
                .collect();
            // Everything in the mempool passed its signature check on admission.
            let verdicts = vec![true; txs.len()];
            ledger.build_block_with_verdicts(round, now_ms, key.public(), txs, &verdicts)
        });
        self.observe_execution(started);
        tracing::debug!(height, round, txs = block.txs.len(), "proposing");
        self.executed.insert(block.hash(), outcome);
        let effects = match self.replica.as_mut() {
            Some(r) => r.handle(Input::Proposal(Box::new(block))),
            None => Vec::new(),
        };
        self.carry_out(effects)
    }

    fn observe_execution(&self, started_ms: u64) {
        let ms = self.elapsed_since(started_ms);
        self.shared
            .metrics
            .block_execution_seconds
            .observe(ms as f64 / 1000.0);
    }

    /// Carries out effects in order, feeding the inputs they produce back
    /// to the replica after the batch, as the replica expects.
    fn carry_out(&mut self, effects: Vec<Effect>) -> Result<(), DriverError> {
        self.carry_out_effects(effects)?;
        self.match_membership()
    }

    fn carry_out_effects(&mut self, effects: Vec<Effect>) -> Result<(), DriverError> {
        let mut queue: VecDeque<Effect> = effects.into();
        while !queue.is_empty() {
            let mut follow = Vec::new();
            while let Some(effect) = queue.pop_front() {
                #[cfg(feature = "mutants")]
                let effect = self.mutate(effect, &mut queue);
                if let Some(input) = self.carry_out_one(effect)? {
                    follow.push(input);
                }
            }
            if let Some(replica) = self.replica.as_mut() {
                for input in follow {
                    queue.extend(replica.handle(input));
                }
                self.shared
                    .round
                    .store(u64::from(replica.round()), Ordering::Relaxed);
                self.shared
                    .metrics
                    .consensus_round
                    .set(i64::from(replica.round()));
            }
        }
        Ok(())
    }

    /// The mutant's version of the next effect.
    #[cfg(feature = "mutants")]
    fn mutate(&self, effect: Effect, queue: &mut VecDeque<Effect>) -> Effect {
        match (self.mutant, &effect, queue.front()) {
            (
                Some(Mutant::BroadcastBeforePersist),
                Effect::PersistVote(_),
                Some(Effect::Broadcast(_)),
            ) => match queue.pop_front() {
                Some(broadcast) => {
                    queue.push_front(effect);
                    broadcast
                }
                None => effect,
            },
            _ => effect,
        }
    }

    /// The double voter's second Prepare, for a block that does not exist.
    #[cfg(feature = "mutants")]
    fn double_vote(&mut self, msg: &merit_chain::consensus::Message) {
        use merit_chain::consensus::{Message, Statement, Vote};
        let (Some(Mutant::DoubleVoter), Some(key), Statement::Prepare(v)) =
            (self.mutant, self.key.as_ref(), msg.statement())
        else {
            return;
        };
        let other = Vote {
            block_hash: merit_chain::crypto::sha256(&v.block_hash.0),
            ..*v
        };
        let forged = Message::sign(&self.shared.chain_id, key, Statement::Prepare(other), None);
        self.rt.publish(Topic::Consensus, forged.to_bytes());
    }

    fn carry_out_one(&mut self, effect: Effect) -> Result<Option<Input>, DriverError> {
        match effect {
            Effect::PersistVote(state) => {
                let storage = self.shared.storage.clone();
                let bytes = state.to_bytes();
                self.rt.blocking(|| storage.save_consensus_state(&bytes))?;
                Ok(None)
            }
            Effect::Broadcast(msg) => {
                #[cfg(feature = "mutants")]
                self.double_vote(&msg);
                self.rt.publish(Topic::Consensus, msg.to_bytes());
                Ok(None)
            }
            Effect::ExecuteBlock(block) => {
                let hash = block.hash();
                let valid = self.executed.contains_key(&hash) || self.execute(&block);
                Ok(Some(Input::BlockExecuted {
                    height: block.header.height,
                    round: block.header.round,
                    block_hash: hash,
                    valid,
                }))
            }
            Effect::BuildProposal { height, round } => {
                self.proposal = Some(PendingProposal {
                    height,
                    round,
                    since_ms: self.rt.monotonic_ms(),
                });
                self.arm_proposal_timer();
                Ok(None)
            }
            Effect::ScheduleTimeout {
                height,
                round,
                duration_ms,
            } => {
                self.rt
                    .set_timer(duration_ms, Timer::Round { height, round });
                Ok(None)
            }
            Effect::Commit { block, certificate } => {
                self.commit(*block, Some(certificate), false)?;
                Ok(None)
            }
            Effect::RequestSync { .. } => {
                self.start_sync();
                Ok(None)
            }
            Effect::Evidence(evidence) => {
                let (first, second) = evidence.block_hashes();
                tracing::error!(
                    validator = %evidence.validator(),
                    height = evidence.height(),
                    round = evidence.round(),
                    kind = evidence.kind(),
                    "validator equivocated: it signed {first} and {second}; keeping the evidence"
                );
                self.shared.metrics.consensus_evidence.inc();
                let storage = self.shared.storage.clone();
                self.rt.blocking(|| storage.save_evidence(&evidence))?;
                Ok(None)
            }
        }
    }

    /// Executes a proposed block on the tip and keeps its outcome; false if
    /// it is invalid or not for the next height.
    fn execute(&mut self, block: &Block) -> bool {
        let shared = self.shared.clone();
        let started = self.rt.monotonic_ms();
        let result = self.rt.blocking(|| {
            let (verdicts, hashes) = known_verdicts(&shared, &block.txs);
            let ledger = shared.read_ledger();
            if block.header.height != ledger.height() + 1 {
                return None;
            }
            Some(ledger.verify_block_hashed(block, &hashes, &verdicts))
        });
        self.observe_execution(started);
        match result {
            Some(Ok(outcome)) => {
                self.executed.insert(block.hash(), outcome);
                true
            }
            Some(Err(e)) => {
                tracing::warn!(height = block.header.height, "invalid proposal: {e}");
                false
            }
            None => false,
        }
    }

    /// Stores and applies a final block: one synced write, then the ledger.
    fn commit(
        &mut self,
        block: Block,
        certificate: Option<CommitCertificate>,
        synced: bool,
    ) -> Result<(), DriverError> {
        let hash = block.hash();
        let height = block.header.height;
        let shared = self.shared.clone();
        let outcome = match self.executed.remove(&hash) {
            Some(o) => o,
            None => self
                .rt
                .blocking(|| shared.read_ledger().verify_block(&block))
                .map_err(|e| DriverError::CertifiedBlockInvalid {
                    height,
                    reason: e.to_string(),
                })?,
        };
        let receipts = outcome.receipts.clone();
        self.rt.blocking(|| -> Result<(), DriverError> {
            shared
                .storage
                .commit_block(&block, certificate.as_ref(), &outcome)?;
            shared.write_ledger().apply(&block.header, outcome);
            Ok(())
        })?;
        self.executed.clear();
        self.proposal = None;
        self.last_commit_ms = self.rt.monotonic_ms();
        if let Some(replica) = self.replica.as_mut() {
            replica.set_params(shared.read_ledger().consensus_params());
        }
        self.membership_stale = true;
        record_commit(&shared, &receipts);
        if let Some(plan) = shared.read_ledger().upgrade()
            && !plan.supports(height + 1)
        {
            // Announce the block first: it is committed and stays so.
            let _ = shared.blocks.send(Arc::new(CommittedBlock {
                block,
                receipts,
                certificate,
            }));
            return Err(DriverError::UpgradeRequired {
                version: plan.protocol_version,
                height: plan.height,
            });
        }
        shared.lock_mempool().prune_expired(height + 1);
        let m = &shared.metrics;
        m.consensus_height.set(height as i64);
        m.set_token_supply(shared.read_ledger().tokens());
        if synced {
            m.sync_blocks.inc();
        } else {
            m.consensus_commits.inc();
        }
        m.block_txs.observe(block.txs.len() as f64);
        let age_ms = self.rt.now_ms().saturating_sub(block.header.timestamp_ms);
        m.block_latency_seconds.observe(age_ms as f64 / 1000.0);
        tracing::info!(
            height,
            round = block.header.round,
            txs = block.txs.len(),
            synced,
            "committed block {hash}"
        );
        let _ = shared.blocks.send(Arc::new(CommittedBlock {
            block,
            receipts,
            certificate,
        }));
        Ok(())
    }

    fn poll_sync(&mut self) {
        // A validator that is making progress by consensus needs no poll.
        if self.replica.is_some()
            && self.elapsed_since(self.last_commit_ms) < SYNC_POLL_INTERVAL_MS * 3
        {
            return;
        }
        self.sync_retries = 0;
        self.start_sync();
    }

    fn start_sync(&mut self) {
        if self.sync_in_flight.is_some() {
            return;
        }
        self.shared.syncing.store(true, Ordering::Relaxed);
        let request = SyncRequest {
            from_height: self.shared.read_ledger().height() + 1,
            max_blocks: MAX_SYNC_BLOCKS,
        };
        self.sync_in_flight = Some(request.clone());
        self.rt.request_sync(request);
    }

    /// Asks the next peer at once after a failed or bad answer, a bounded
    /// number of times in a row; then the poll takes over.
    fn retry_sync(&mut self) {
        self.sync_retries = self.sync_retries.saturating_add(1);
        if self.sync_retries <= MAX_SYNC_RETRIES {
            self.start_sync();
        } else {
            self.shared.syncing.store(false, Ordering::Relaxed);
        }
    }

    /// Reports a peer for a bad or stalled sync answer.
    fn report_sync_peer(&mut self, peer: Option<PeerId>, offence: Offence) {
        #[cfg(feature = "mutants")]
        if self.mutant == Some(Mutant::ForgiveSyncPeers) {
            return;
        }
        if let Some(peer) = peer {
            tracing::warn!(%peer, "sync: the peer {offence}");
            self.rt.report_peer(peer, offence);
        }
    }

    /// What is wrong with a synced block at `height`, checked before it is
    /// executed: its certificate must verify and name it, and its
    /// transactions must be the ones its (certified) header commits to.
    fn check_synced(&self, synced: &SyncedBlock) -> Result<(), (Offence, String)> {
        let (block, cert) = (&synced.block, &synced.certificate);
        let height = block.header.height;
        if cert.height != height || cert.block_hash != block.hash() {
            return Err((
                Offence::SyncForgedBlocks,
                format!("the block at {height} is not the one its certificate names"),
            ));
        }
        // Checked against the set in force at its height: the ledger at
        // the tip knows it, whatever governance did.
        #[cfg(feature = "mutants")]
        let height_of_set = if self.mutant == Some(Mutant::CertsAgainstGenesisSet) {
            1
        } else {
            height
        };
        #[cfg(not(feature = "mutants"))]
        let height_of_set = height;
        let validators = self.shared.validator_set_at(height_of_set).ok_or((
            Offence::SyncForgedBlocks,
            format!("block {height} is past the heights whose validators are known"),
        ))?;
        let quorum = validators.quorum_for(self.quorum_rule);
        verify_certificate_with(
            &self.shared.chain_id,
            &validators,
            cert,
            quorum,
            self.verifier.as_ref(),
        )
        .map_err(|e| {
            (
                Offence::SyncBadCertificate,
                format!("invalid certificate for {height}: {e}"),
            )
        })?;
        #[cfg(feature = "mutants")]
        if self.mutant == Some(Mutant::TrustSyncedTxs) {
            return Ok(());
        }
        let hashes: Vec<Hash32> = block.txs.iter().map(Transaction::hash).collect();
        if tx_root(&hashes) != block.header.tx_root {
            return Err((
                Offence::SyncForgedBlocks,
                format!("the transactions of block {height} are not the certified ones"),
            ));
        }
        Ok(())
    }

    fn on_synced(&mut self, answer: SyncAnswer) -> Result<(), DriverError> {
        let Some(request) = self.sync_in_flight.take() else {
            return Ok(());
        };
        let SyncAnswer { peer, result } = answer;
        let response = match result {
            Ok(r) => r,
            Err(SyncFailure::NoPeer) => {
                tracing::debug!("sync: no peer to ask");
                self.shared.syncing.store(false, Ordering::Relaxed);
                return Ok(());
            }
            Err(failure) => {
                tracing::debug!(peer = ?peer, "sync request failed: {failure}");
                match failure {
                    SyncFailure::Timeout => self.report_sync_peer(peer, Offence::SyncStalled),
                    SyncFailure::Garbage(_) => self.report_sync_peer(peer, Offence::SyncGarbage),
                    SyncFailure::NoPeer | SyncFailure::Failed(_) => {}
                }
                self.retry_sync();
                return Ok(());
            }
        };
        let got = response.blocks.len();
        let mut last_cert = None;
        let mut bad = None;
        let mut expected = request.from_height;
        for synced in response.blocks.into_inner() {
            let height = synced.block.header.height;
            if height != expected {
                bad = Some((
                    Offence::SyncForgedBlocks,
                    format!(
                        "asked for blocks from {}, got {height} at {expected}",
                        request.from_height
                    ),
                ));
                break;
            }
            expected = expected.saturating_add(1);
            // Committed by consensus since the request went out.
            if height <= self.shared.read_ledger().height() {
                continue;
            }
            if let Err(e) = self.check_synced(&synced) {
                bad = Some(e);
                break;
            }
            let SyncedBlock { block, certificate } = synced;
            // The certificate proves 2f+1 validators committed this block,
            // and its transactions are the ones they committed: if it does
            // not execute here to the same roots, stop loudly.
            self.executed.clear();
            self.commit(block, Some(certificate.clone()), true)?;
            last_cert = Some(certificate);
        }
        if let Some(cert) = last_cert
            && let Some(replica) = self.replica.as_mut()
        {
            if let Some(schedule) = self.shared.read_ledger().validator_schedule() {
                replica.set_schedule(schedule);
            }
            let effects = replica.handle(Input::Synced(cert));
            self.carry_out(effects)?;
        }
        self.match_membership()?;
        if let Some((offence, detail)) = bad {
            tracing::warn!(peer = ?peer, "sync: refused an answer: {detail}");
            self.report_sync_peer(peer, offence);
            self.retry_sync();
            return Ok(());
        }
        self.sync_retries = 0;
        let caught_up = got < MAX_SYNC_BLOCKS as usize;
        self.shared.syncing.store(!caught_up, Ordering::Relaxed);
        if !caught_up {
            self.start_sync();
        }
        Ok(())
    }
}

//! The simulated world: replicas and their hosts, an in-memory network, a
//! clock and a seeded scheduler.
//!
//! Everything happens as events on one queue ordered by simulated time and
//! then by insertion, and every random choice comes from one [`SimRng`], so
//! a seed fixes the whole run.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use merit_chain::consensus::{
    ConsensusConfig, ConsensusStats, Effect, Input, Message, PersistedState, Replica, Statement,
    ValidatorSet, Vote, verify_certificate_with,
};
use merit_chain::ledger::BlockOutcome;
use merit_chain::{Block, CommitCertificate, Hash32, Keypair, Ledger};

use super::checker::{FailureKind, SafetyChecker};
use super::fixtures;
use super::rng::SimRng;
use super::scenario::{CALM_NET, LIVENESS_BLOCKS, LIVENESS_BUDGET_MS, NetFaults, Scenario};
use super::verifier::CachingVerifier;

/// Most events one run may take before it is declared stuck.
pub const MAX_EVENTS_PER_RUN: u64 = 2_000_000;
/// Messages a replaying validator remembers.
pub const REPLAY_LOG_LEN: usize = 512;
/// Most crashes of honest validators in one run of a crash scenario.
pub const MAX_CRASHES_PER_RUN: u32 = 3;
/// Simulated time a proposer takes to assemble a block, in milliseconds.
pub const BUILD_DELAY_MS: (u64, u64) = (10, 60);
/// Simulated time a sync answer takes, in milliseconds.
pub const SYNC_DELAY_MS: (u64, u64) = (5, 40);
/// Interval between actions of a replaying or spamming validator.
pub const BYZANTINE_TICK_MS: (u64, u64) = (30, 150);

/// How a validator behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Honest,
    /// As proposer, sends one block to half the validators and another to
    /// the other half, and votes for each toward its half.
    Equivocator,
    /// Sends its Prepare and Commit to half the validators and a vote for a
    /// different block to the other half.
    DoubleVoter,
    /// Never sends anything.
    Silent,
    /// Acts honestly and also re-sends old messages it received.
    Replayer,
    /// Acts honestly and also sends messages with invalid signatures or
    /// from keys outside the validator set.
    Spammer,
}

/// The byzantine roles, in the order scenarios rotate through them.
pub const BYZANTINE_ROLES: [Role; 5] = [
    Role::Equivocator,
    Role::DoubleVoter,
    Role::Silent,
    Role::Replayer,
    Role::Spammer,
];

#[derive(Debug)]
enum Event {
    Deliver {
        to: usize,
        from: usize,
        msg: Rc<Message>,
    },
    Timer {
        node: usize,
        incarnation: u32,
        height: u64,
        round: u32,
    },
    ProposalReady {
        node: usize,
        incarnation: u32,
        height: u64,
        round: u32,
    },
    SyncReply {
        node: usize,
        incarnation: u32,
    },
    ArmCrash,
    Restart {
        node: usize,
    },
    Partition,
    Heal,
    ByzantineTick {
        node: usize,
    },
    FaultsEnd,
}

impl Event {
    fn tag(&self) -> u64 {
        match self {
            Event::Deliver { .. } => 1,
            Event::Timer { .. } => 2,
            Event::ProposalReady { .. } => 3,
            Event::SyncReply { .. } => 4,
            Event::ArmCrash => 5,
            Event::Restart { .. } => 6,
            Event::Partition => 7,
            Event::Heal => 8,
            Event::ByzantineTick { .. } => 9,
            Event::FaultsEnd => 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CrashPlan {
    None,
    /// Crash at the next vote this replica persists.
    Armed,
    /// Crash once the current batch of effects is carried out.
    AfterBatch,
}

#[derive(Debug)]
struct Node {
    key: Keypair,
    role: Role,
    up: bool,
    incarnation: u32,
    replica: Option<Replica>,
    ledger: Ledger,
    /// Durable: the committed chain with certificates.
    chain: Vec<(Block, CommitCertificate)>,
    /// Durable: the last persisted consensus state.
    persisted: Option<PersistedState>,
    /// Execution results of the current height, by block hash.
    outcomes: BTreeMap<Hash32, BlockOutcome>,
    sync_pending: bool,
    crash: CrashPlan,
    /// Counters of replicas that crashed, so totals survive restarts.
    past_stats: Vec<ConsensusStats>,
    seen_proposals: BTreeMap<(u64, u32), BTreeSet<Hash32>>,
    log: VecDeque<Rc<Message>>,
    /// Where this equivocator showed its second block: the validators of
    /// the second half, by `(height, round)`.
    equivocations: BTreeMap<(u64, u32), Vec<usize>>,
}

impl Node {
    fn height(&self) -> u64 {
        self.chain.len() as u64
    }

    fn honest(&self) -> bool {
        self.role == Role::Honest
    }
}

/// Totals of a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub scenario: &'static str,
    pub seed: u64,
    /// A hash over every event the run processed, in order.
    pub trace_hash: u64,
    pub events: u64,
    pub sim_time_ms: u64,
    /// Each validator's role.
    pub roles: Vec<Role>,
    /// Each validator's committed height at the end.
    pub heights: Vec<u64>,
    /// The lowest number of blocks an honest replica finalized after the
    /// faults stopped.
    pub min_blocks_after_faults: u64,
    pub crashes: u32,
    /// Summed over honest replicas, restarts included.
    pub stats: ConsensusStats,
}

/// A failed run, with what is needed to replay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub scenario: &'static str,
    pub seed: u64,
    pub time_ms: u64,
    pub events: u64,
    pub kind: Box<FailureKind>,
}

impl Failure {
    /// The command that replays this run exactly.
    pub fn replay_command(&self) -> String {
        format!(
            "cargo run -p merit-tests --release --bin merit-sim -- --scenario {} --seed {}",
            self.scenario, self.seed
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "scenario {} seed {} failed at {} ms (event {}): {}\n  replay: {}",
            self.scenario,
            self.seed,
            self.time_ms,
            self.events,
            self.kind,
            self.replay_command()
        )
    }
}

fn fnv(state: &mut u64, x: u64) {
    for b in x.to_le_bytes() {
        *state ^= u64::from(b);
        *state = state.wrapping_mul(0x0000_0100_0000_01B3);
    }
}

fn short(h: &Hash32) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.0[..8]);
    u64::from_le_bytes(b)
}

/// One simulated run.
#[derive(Debug)]
pub struct World {
    scenario: Scenario,
    seed: u64,
    rng: SimRng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Node>,
    validators: ValidatorSet,
    config: ConsensusConfig,
    verifier: Arc<CachingVerifier>,
    /// Partition group of each node; nodes talk only within a group.
    groups: Vec<u8>,
    faults_active: bool,
    /// Per node, the height to reach once the faults stopped.
    targets: Option<Vec<u64>>,
    faults_end_ms: u64,
    checker: SafetyChecker,
    trace: u64,
    events: u64,
    next_nonce: u64,
    crashes: u32,
    verbose: bool,
}

type Step = Result<(), FailureKind>;

impl World {
    pub fn new(scenario: &Scenario, seed: u64) -> World {
        let mut rng = SimRng::new(seed ^ 0x6d65_7269_742d_7369);
        let n = scenario.n;
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        let mut roles = vec![Role::Honest; n];
        for (i, node) in order.iter().take(scenario.byzantine).enumerate() {
            roles[*node] = BYZANTINE_ROLES[(seed as usize + i) % BYZANTINE_ROLES.len()];
        }
        let keys = fixtures::validator_keys(n);
        let validators = match ValidatorSet::new(keys) {
            Ok(v) => v,
            Err(e) => unreachable!("simulation validator keys are distinct: {e}"),
        };
        let genesis = fixtures::genesis_ledger(n);
        let nodes = (0..n)
            .map(|i| Node {
                key: fixtures::validator_key(i),
                role: roles[i],
                up: true,
                incarnation: 0,
                replica: None,
                ledger: genesis.clone(),
                chain: Vec::new(),
                persisted: None,
                outcomes: BTreeMap::new(),
                sync_pending: false,
                crash: CrashPlan::None,
                past_stats: Vec::new(),
                seen_proposals: BTreeMap::new(),
                log: VecDeque::new(),
                equivocations: BTreeMap::new(),
            })
            .collect();
        let config = ConsensusConfig {
            quorum_rule: scenario.quorum_rule,
            ..ConsensusConfig::default()
        };
        World {
            scenario: scenario.clone(),
            seed,
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            validators,
            config,
            verifier: Arc::new(CachingVerifier::default()),
            groups: vec![0; n],
            faults_active: true,
            targets: None,
            faults_end_ms: scenario.faults_ms,
            checker: SafetyChecker::default(),
            trace: 0xcbf2_9ce4_8422_2325,
            events: 0,
            next_nonce: 0,
            crashes: 0,
            verbose: false,
        }
    }

    /// Prints every event to stderr.
    pub fn set_verbose(&mut self, verbose: bool) {
        self.verbose = verbose;
    }

    fn fail(&self, kind: FailureKind) -> Failure {
        Failure {
            scenario: self.scenario.name,
            seed: self.seed,
            time_ms: self.now,
            events: self.events,
            kind: Box::new(kind),
        }
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    fn replica_for(
        &self,
        i: usize,
        committed: u64,
        persisted: Option<PersistedState>,
    ) -> Result<Replica, FailureKind> {
        let node = &self.nodes[i];
        Replica::restore(
            self.config,
            fixtures::chain_id(),
            self.validators.clone(),
            node.key.clone(),
            committed,
            persisted,
        )
        .map(|r| r.with_verifier(self.verifier.clone()))
        .map_err(|e| FailureKind::RestartFailed {
            node: i,
            detail: e.to_string(),
        })
    }

    /// Runs to the end: until every honest replica finalized
    /// [`LIVENESS_BLOCKS`] blocks after the faults stopped, or a failure.
    pub fn run(mut self) -> Result<RunReport, Failure> {
        self.start().map_err(|k| self.fail(k))?;
        loop {
            let Some(((at, _), event)) = self.queue.pop_first() else {
                return Err(self.fail(FailureKind::Liveness {
                    detail: "nothing left to happen".into(),
                }));
            };
            self.now = at;
            self.events += 1;
            if self.events > MAX_EVENTS_PER_RUN {
                return Err(self.fail(FailureKind::EventBudget {
                    events: MAX_EVENTS_PER_RUN,
                }));
            }
            fnv(&mut self.trace, at);
            fnv(&mut self.trace, event.tag());
            self.handle(event).map_err(|k| self.fail(k))?;
            if let Some(targets) = &self.targets {
                let done = self
                    .nodes
                    .iter()
                    .zip(targets)
                    .all(|(n, t)| !n.honest() || n.height() >= *t);
                if done {
                    break;
                }
                if self.now > self.faults_end_ms + LIVENESS_BUDGET_MS {
                    let lagging: Vec<String> = self
                        .nodes
                        .iter()
                        .zip(targets)
                        .enumerate()
                        .filter(|(_, (n, t))| n.honest() && n.height() < **t)
                        .map(|(i, (n, t))| format!("replica {i} at height {} of {t}", n.height()))
                        .collect();
                    let detail = format!(
                        "{} ms after the faults stopped: {}",
                        LIVENESS_BUDGET_MS,
                        lagging.join(", ")
                    );
                    return Err(self.fail(FailureKind::Liveness { detail }));
                }
            }
        }
        self.final_check().map_err(|k| self.fail(k))?;
        Ok(self.report())
    }

    fn start(&mut self) -> Step {
        for i in 0..self.nodes.len() {
            let mut replica = self.replica_for(i, 0, None)?;
            let effects = replica.start();
            self.nodes[i].replica = Some(replica);
            self.apply_effects(i, effects)?;
            if matches!(self.nodes[i].role, Role::Replayer | Role::Spammer) {
                let at = self.rng.range(BYZANTINE_TICK_MS.0, BYZANTINE_TICK_MS.1);
                self.schedule(at, Event::ByzantineTick { node: i });
            }
        }
        if self.scenario.partitions {
            let at = self.rng.range(100, 500);
            self.schedule(at, Event::Partition);
        }
        if self.scenario.crashes {
            let at = self.rng.range(100, self.scenario.faults_ms / 3);
            self.schedule(at, Event::ArmCrash);
        }
        self.schedule(self.scenario.faults_ms, Event::FaultsEnd);
        Ok(())
    }

    fn net(&self) -> NetFaults {
        if self.faults_active {
            self.scenario.net
        } else {
            CALM_NET
        }
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.groups[a] == self.groups[b]
    }

    fn handle(&mut self, event: Event) -> Step {
        match event {
            Event::Deliver { to, from, msg } => {
                fnv(&mut self.trace, ((to as u64) << 32) | from as u64);
                fnv(
                    &mut self.trace,
                    (msg.statement().height() << 8) | u64::from(msg.statement().round()),
                );
                if let Some(h) = msg.statement().block_hash() {
                    fnv(&mut self.trace, short(&h));
                }
                if !self.nodes[to].up || !self.connected(from, to) {
                    return Ok(());
                }
                if self.verbose {
                    eprintln!("{:>8} {from}->{to} {:?}", self.now, msg.statement());
                }
                self.observe(to, &msg);
                self.input(to, Input::Message(Box::new(Message::clone(&msg))))
            }
            Event::Timer {
                node,
                incarnation,
                height,
                round,
            } => {
                fnv(&mut self.trace, node as u64);
                if self.nodes[node].up && self.nodes[node].incarnation == incarnation {
                    if self.verbose {
                        eprintln!("{:>8} {node} timeout ({height}, {round})", self.now);
                    }
                    self.input(node, Input::Timeout { height, round })?;
                }
                Ok(())
            }
            Event::ProposalReady {
                node,
                incarnation,
                height,
                round,
            } => {
                fnv(&mut self.trace, node as u64);
                self.propose(node, incarnation, height, round)
            }
            Event::SyncReply { node, incarnation } => {
                fnv(&mut self.trace, node as u64);
                self.nodes[node].sync_pending = false;
                if self.nodes[node].up && self.nodes[node].incarnation == incarnation {
                    self.sync(node)?;
                }
                Ok(())
            }
            Event::ArmCrash => {
                if self.faults_active && self.crashes < MAX_CRASHES_PER_RUN {
                    let candidates: Vec<usize> = (0..self.nodes.len())
                        .filter(|i| self.nodes[*i].up)
                        .collect();
                    if !candidates.is_empty() {
                        let i = candidates[self.rng.index(candidates.len())];
                        fnv(&mut self.trace, i as u64);
                        self.nodes[i].crash = CrashPlan::Armed;
                    }
                }
                Ok(())
            }
            Event::Restart { node } => {
                fnv(&mut self.trace, node as u64);
                self.restart(node)?;
                if self.faults_active && self.crashes < MAX_CRASHES_PER_RUN {
                    let at = self.now + self.rng.range(100, 800);
                    self.schedule(at, Event::ArmCrash);
                }
                Ok(())
            }
            Event::Partition => {
                if !self.faults_active {
                    return Ok(());
                }
                let n = self.nodes.len();
                if self.rng.chance(400) {
                    // Isolate one validator.
                    let lone = self.rng.index(n);
                    self.groups = (0..n).map(|i| u8::from(i == lone)).collect();
                } else {
                    // A random split, possibly with no quorum on either side.
                    self.groups = (0..n).map(|_| u8::from(self.rng.chance(500))).collect();
                }
                for g in &self.groups {
                    fnv(&mut self.trace, u64::from(*g));
                }
                let at = self.now + self.rng.range(200, 1_500);
                self.schedule(at, Event::Heal);
                Ok(())
            }
            Event::Heal => {
                self.groups = vec![0; self.nodes.len()];
                if self.faults_active {
                    let at = self.now + self.rng.range(100, 800);
                    self.schedule(at, Event::Partition);
                }
                Ok(())
            }
            Event::ByzantineTick { node } => {
                self.byzantine_tick(node);
                let at = self.now + self.rng.range(BYZANTINE_TICK_MS.0, BYZANTINE_TICK_MS.1);
                self.schedule(at, Event::ByzantineTick { node });
                Ok(())
            }
            Event::FaultsEnd => {
                self.faults_active = false;
                self.groups = vec![0; self.nodes.len()];
                for i in 0..self.nodes.len() {
                    if self.nodes[i].crash == CrashPlan::Armed {
                        self.nodes[i].crash = CrashPlan::None;
                    }
                    if !self.nodes[i].up {
                        self.restart(i)?;
                    }
                }
                self.targets = Some(
                    self.nodes
                        .iter()
                        .map(|n| n.height() + LIVENESS_BLOCKS)
                        .collect(),
                );
                Ok(())
            }
        }
    }

    /// Hands `input` to replica `i` and carries out everything it leads to.
    fn input(&mut self, i: usize, input: Input) -> Step {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let Some(replica) = self.nodes[i].replica.as_mut() else {
                return Ok(());
            };
            let effects = replica.handle(input);
            for effect in effects {
                if !self.nodes[i].up {
                    return Ok(());
                }
                if let Some(next) = self.apply_effect(i, effect)? {
                    inputs.push_back(next);
                }
            }
            if self.nodes[i].crash == CrashPlan::AfterBatch {
                self.crash(i);
                return Ok(());
            }
        }
        Ok(())
    }

    fn apply_effects(&mut self, i: usize, effects: Vec<Effect>) -> Step {
        let mut follow = Vec::new();
        for effect in effects {
            if !self.nodes[i].up {
                return Ok(());
            }
            if let Some(next) = self.apply_effect(i, effect)? {
                follow.push(next);
            }
        }
        if self.nodes[i].crash == CrashPlan::AfterBatch {
            self.crash(i);
            return Ok(());
        }
        for next in follow {
            self.input(i, next)?;
        }
        Ok(())
    }

    /// Carries out one effect; returns the input it answers with, if any.
    fn apply_effect(&mut self, i: usize, effect: Effect) -> Result<Option<Input>, FailureKind> {
        match effect {
            Effect::PersistVote(state) => {
                self.nodes[i].persisted = Some(*state);
                if self.nodes[i].crash == CrashPlan::Armed {
                    if self.rng.chance(500) {
                        // Persisted, never sent.
                        self.crash(i);
                    } else {
                        self.nodes[i].crash = CrashPlan::AfterBatch;
                    }
                }
                Ok(None)
            }
            Effect::Broadcast(msg) => {
                if self.nodes[i].honest() {
                    self.checker.signed(i, msg.statement())?;
                }
                self.route(i, *msg);
                Ok(None)
            }
            Effect::ExecuteBlock(block) => {
                let hash = block.hash();
                let node = &mut self.nodes[i];
                let valid = node.outcomes.contains_key(&hash)
                    || (block.header.height == node.ledger.height() + 1
                        && match node.ledger.verify_block(&block) {
                            Ok(outcome) => {
                                node.outcomes.insert(hash, outcome);
                                true
                            }
                            Err(_) => false,
                        });
                Ok(Some(Input::BlockExecuted {
                    height: block.header.height,
                    round: block.header.round,
                    block_hash: hash,
                    valid,
                }))
            }
            Effect::BuildProposal { height, round } => {
                let at = self.now + self.rng.range(BUILD_DELAY_MS.0, BUILD_DELAY_MS.1);
                let incarnation = self.nodes[i].incarnation;
                self.schedule(
                    at,
                    Event::ProposalReady {
                        node: i,
                        incarnation,
                        height,
                        round,
                    },
                );
                Ok(None)
            }
            Effect::ScheduleTimeout {
                height,
                round,
                duration_ms,
            } => {
                let incarnation = self.nodes[i].incarnation;
                self.schedule(
                    self.now + duration_ms,
                    Event::Timer {
                        node: i,
                        incarnation,
                        height,
                        round,
                    },
                );
                Ok(None)
            }
            Effect::Commit { block, certificate } => {
                self.commit(i, *block, certificate, false)?;
                Ok(None)
            }
            Effect::RequestSync { .. } => {
                if !self.nodes[i].sync_pending {
                    self.nodes[i].sync_pending = true;
                    let at = self.now + self.rng.range(SYNC_DELAY_MS.0, SYNC_DELAY_MS.1);
                    let incarnation = self.nodes[i].incarnation;
                    self.schedule(
                        at,
                        Event::SyncReply {
                            node: i,
                            incarnation,
                        },
                    );
                }
                Ok(None)
            }
        }
    }

    /// Appends a final block to node `i`'s chain and ledger, checking its
    /// certificate, its execution and, for honest nodes, agreement.
    fn commit(&mut self, i: usize, block: Block, cert: CommitCertificate, synced: bool) -> Step {
        let height = block.header.height;
        let hash = block.hash();
        let expected = self.nodes[i].height() + 1;
        if height != expected || cert.height != height || cert.block_hash != hash {
            return Err(FailureKind::BadCertificate {
                node: i,
                height,
                detail: format!(
                    "certificate for ({}, {:?}) with block {hash:?}, expected height {expected}",
                    cert.height, cert.block_hash
                ),
            });
        }
        let quorum = self.validators.quorum_for(self.config.quorum_rule);
        verify_certificate_with(
            &fixtures::chain_id(),
            &self.validators,
            &cert,
            quorum,
            self.verifier.as_ref(),
        )
        .map_err(|e| FailureKind::BadCertificate {
            node: i,
            height,
            detail: e.to_string(),
        })?;
        let node = &mut self.nodes[i];
        let outcome = match node.outcomes.remove(&hash) {
            Some(o) => o,
            None => node
                .ledger
                .verify_block(&block)
                .map_err(|e| FailureKind::BadBlock {
                    node: i,
                    height,
                    detail: format!("final block does not execute: {e}"),
                })?,
        };
        node.ledger.apply(&block.header, outcome);
        let root = node.ledger.state_root();
        if root != block.header.state_root {
            return Err(FailureKind::BadBlock {
                node: i,
                height,
                detail: format!(
                    "state root {root:?} after applying, header says {:?}",
                    block.header.state_root
                ),
            });
        }
        node.outcomes.clear();
        node.chain.push((block, cert));
        fnv(&mut self.trace, ((i as u64) << 48) | height);
        fnv(&mut self.trace, short(&hash));
        if self.verbose {
            eprintln!(
                "{:>8} {i} {} height {height} {hash:?}",
                self.now,
                if synced { "synced" } else { "committed" }
            );
        }
        if self.nodes[i].honest() {
            self.checker.finalized(i, height, hash, root)?;
        }
        Ok(())
    }

    fn propose(&mut self, i: usize, incarnation: u32, height: u64, round: u32) -> Step {
        let node = &self.nodes[i];
        if !node.up || node.incarnation != incarnation || node.ledger.height() + 1 != height {
            return Ok(());
        }
        if node
            .replica
            .as_ref()
            .is_none_or(|r| r.height() != height || r.round() != round)
        {
            return Ok(());
        }
        let txs = fixtures::transfers(&mut self.rng, height, &mut self.next_nonce);
        let node = &mut self.nodes[i];
        let (block, outcome) = node
            .ledger
            .build_block(round, self.now, node.key.public(), txs);
        node.outcomes.insert(block.hash(), outcome);
        self.input(i, Input::Proposal(Box::new(block)))
    }

    /// Answers a sync request from the reachable node with the longest chain.
    fn sync(&mut self, i: usize) -> Step {
        let source = (0..self.nodes.len())
            .filter(|j| *j != i && self.nodes[*j].up && self.connected(i, *j))
            .max_by_key(|j| (self.nodes[*j].height(), std::cmp::Reverse(*j)));
        let Some(source) = source else { return Ok(()) };
        let from = self.nodes[i].height();
        let to = self.nodes[source].height();
        if to <= from {
            return Ok(());
        }
        let blocks: Vec<(Block, CommitCertificate)> =
            self.nodes[source].chain[from as usize..to as usize].to_vec();
        let mut last = None;
        for (block, cert) in blocks {
            self.nodes[i].outcomes.clear();
            self.commit(i, block, cert.clone(), true)?;
            last = Some(cert);
        }
        match last {
            Some(cert) => self.input(i, Input::Synced(cert)),
            None => Ok(()),
        }
    }

    fn crash(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(r) = node.replica.take() {
            node.past_stats.push(r.stats().clone());
        }
        node.up = false;
        node.crash = CrashPlan::None;
        node.incarnation += 1;
        node.outcomes.clear();
        node.sync_pending = false;
        self.crashes += 1;
        fnv(&mut self.trace, 0xdead_0000 | i as u64);
        if self.verbose {
            eprintln!("{:>8} {i} crashed", self.now);
        }
        let at = self.now + self.rng.range(100, 2_000);
        self.schedule(at, Event::Restart { node: i });
    }

    /// Restarts node `i` from its durable state: the committed chain,
    /// re-executed from genesis, and the persisted votes.
    fn restart(&mut self, i: usize) -> Step {
        if self.nodes[i].up {
            return Ok(());
        }
        let mut ledger = fixtures::genesis_ledger(self.nodes.len());
        for (block, _) in &self.nodes[i].chain {
            let outcome = ledger
                .verify_block(block)
                .map_err(|e| FailureKind::BadBlock {
                    node: i,
                    height: block.header.height,
                    detail: format!("stored block does not re-execute: {e}"),
                })?;
            ledger.apply(&block.header, outcome);
        }
        let committed = self.nodes[i].height();
        let mut replica = self.replica_for(i, committed, self.nodes[i].persisted.clone())?;
        let effects = replica.start();
        let node = &mut self.nodes[i];
        node.ledger = ledger;
        node.replica = Some(replica);
        node.up = true;
        if self.verbose {
            eprintln!("{:>8} {i} restarted at height {}", self.now, committed + 1);
        }
        self.apply_effects(i, effects)
    }

    fn send(&mut self, from: usize, to: usize, msg: Rc<Message>) {
        if from == to || !self.connected(from, to) {
            return;
        }
        let net = self.net();
        if self.rng.chance(net.drop_per_mille) {
            return;
        }
        let copies = if self.rng.chance(net.dup_per_mille) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = self.now + self.rng.range(net.delay_ms_min, net.delay_ms_max);
            self.schedule(
                at,
                Event::Deliver {
                    to,
                    from,
                    msg: msg.clone(),
                },
            );
        }
    }

    fn others(&self, i: usize) -> Vec<usize> {
        (0..self.nodes.len()).filter(|j| *j != i).collect()
    }

    /// Splits the other validators into two random halves.
    fn halves(&mut self, i: usize) -> (Vec<usize>, Vec<usize>) {
        let mut others = self.others(i);
        self.rng.shuffle(&mut others);
        let b = others.split_off(others.len() / 2);
        (others, b)
    }

    fn sign(&self, i: usize, statement: Statement, block: Option<Block>) -> Rc<Message> {
        Rc::new(Message::sign(
            &fixtures::chain_id(),
            &self.nodes[i].key,
            statement,
            block,
        ))
    }

    /// Sends a message replica `i` broadcast, as its role dictates.
    fn route(&mut self, i: usize, msg: Message) {
        let role = self.nodes[i].role;
        let msg = Rc::new(msg);
        match role {
            Role::Silent => {}
            Role::Honest | Role::Replayer | Role::Spammer => {
                for j in self.others(i) {
                    self.send(i, j, msg.clone());
                }
            }
            Role::DoubleVoter => match msg.statement() {
                Statement::Prepare(v) | Statement::Commit(v) => {
                    let v = *v;
                    let (a, b) = self.halves(i);
                    let other = self.conflicting_hash(i, &v);
                    let forged = Vote {
                        block_hash: other,
                        ..v
                    };
                    let forged = match msg.statement() {
                        Statement::Prepare(_) => Statement::Prepare(forged),
                        _ => Statement::Commit(forged),
                    };
                    let forged = self.sign(i, forged, None);
                    for j in a {
                        self.send(i, j, msg.clone());
                    }
                    for j in b {
                        self.send(i, j, forged.clone());
                    }
                }
                _ => {
                    for j in self.others(i) {
                        self.send(i, j, msg.clone());
                    }
                }
            },
            Role::Equivocator => self.route_equivocator(i, msg),
        }
    }

    /// A block hash other than `v.block_hash` to vote for: another proposal
    /// seen at the same `(height, round)` if there is one, else made up.
    fn conflicting_hash(&mut self, i: usize, v: &Vote) -> Hash32 {
        let seen = self.nodes[i].seen_proposals.get(&(v.height, v.round));
        if let Some(h) = seen.and_then(|s| s.iter().find(|h| **h != v.block_hash)) {
            return *h;
        }
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        Hash32(bytes)
    }

    fn route_equivocator(&mut self, i: usize, msg: Rc<Message>) {
        let (height, round) = (msg.statement().height(), msg.statement().round());
        match (msg.statement(), msg.block.as_ref()) {
            (Statement::PrePrepare(_) | Statement::NewView(_), Some(_)) => {
                let (a, b) = self.halves(i);
                // A second block for the same (height, round): other
                // transactions, a later time.
                let txs = fixtures::transfers(&mut self.rng, height, &mut self.next_nonce);
                let node = &self.nodes[i];
                if node.ledger.height() + 1 != height {
                    for j in self.others(i) {
                        self.send(i, j, msg.clone());
                    }
                    return;
                }
                let (second, _) =
                    node.ledger
                        .build_block(round, self.now + 1, node.key.public(), txs);
                let hash = second.hash();
                let proposal = match msg.statement() {
                    Statement::NewView(nv) => Statement::NewView(merit_chain::consensus::NewView {
                        block_hash: hash,
                        ..nv.clone()
                    }),
                    _ => Statement::PrePrepare(Vote {
                        height,
                        round,
                        block_hash: hash,
                    }),
                };
                let vote = Vote {
                    height,
                    round,
                    block_hash: hash,
                };
                let second_msgs = [
                    self.sign(i, proposal, Some(second)),
                    self.sign(i, Statement::Prepare(vote), None),
                    self.sign(i, Statement::Commit(vote), None),
                ];
                for j in a {
                    self.send(i, j, msg.clone());
                }
                for j in &b {
                    for m in &second_msgs {
                        self.send(i, *j, m.clone());
                    }
                }
                self.nodes[i].equivocations.insert((height, round), b);
            }
            (Statement::Prepare(_) | Statement::Commit(_), _) => {
                // Its own votes go only to the half that saw its first block.
                let second_half = self.nodes[i]
                    .equivocations
                    .get(&(height, round))
                    .cloned()
                    .unwrap_or_default();
                for j in self.others(i) {
                    if !second_half.contains(&j) {
                        self.send(i, j, msg.clone());
                    }
                }
            }
            _ => {
                for j in self.others(i) {
                    self.send(i, j, msg.clone());
                }
            }
        }
    }

    /// What a byzantine validator learns from a delivery.
    fn observe(&mut self, i: usize, msg: &Rc<Message>) {
        let node = &mut self.nodes[i];
        match node.role {
            Role::DoubleVoter => {
                if let Statement::PrePrepare(v) = msg.statement() {
                    node.seen_proposals
                        .entry((v.height, v.round))
                        .or_default()
                        .insert(v.block_hash);
                }
                if let Statement::NewView(nv) = msg.statement() {
                    node.seen_proposals
                        .entry((nv.height, nv.round))
                        .or_default()
                        .insert(nv.block_hash);
                }
                let height = node.height();
                node.seen_proposals.retain(|(h, _), _| *h > height);
            }
            Role::Replayer => {
                if node.log.len() >= REPLAY_LOG_LEN {
                    node.log.pop_front();
                }
                node.log.push_back(msg.clone());
            }
            _ => {}
        }
    }

    fn byzantine_tick(&mut self, i: usize) {
        if !self.nodes[i].up {
            return;
        }
        let n = self.nodes.len();
        match self.nodes[i].role {
            Role::Replayer => {
                let count = self.rng.range(1, 4);
                for _ in 0..count {
                    let len = self.nodes[i].log.len();
                    if len == 0 {
                        return;
                    }
                    let pick = self.rng.index(len);
                    let msg = self.nodes[i].log[pick].clone();
                    let to = self.rng.index(n);
                    self.send(i, to, msg);
                }
            }
            Role::Spammer => {
                let height = self.nodes[i].height() + 1;
                let round = self.nodes[i].replica.as_ref().map_or(0, Replica::round);
                let mut junk = [0u8; 32];
                junk[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
                let vote = Vote {
                    height,
                    round,
                    block_hash: Hash32(junk),
                };
                let statement = if self.rng.chance(500) {
                    Statement::Prepare(vote)
                } else {
                    Statement::Commit(vote)
                };
                let mut msg = Message::clone(&self.sign(i, statement.clone(), None));
                match self.rng.below(3) {
                    // Its own vote with a corrupted signature.
                    0 => msg.signed.signature.0[self.rng.index(64)] ^= 1 << self.rng.below(8),
                    // Claims to come from another validator.
                    1 => {
                        msg.signed.validator = *self
                            .validators
                            .keys()
                            .get(self.rng.index(n))
                            .unwrap_or(&msg.signed.validator)
                    }
                    // Signed by a key outside the validator set.
                    _ => {
                        let outsider = Keypair::insecure_from_label(&format!(
                            "sim-outsider-{}",
                            self.rng.below(4)
                        ));
                        msg = Message::sign(&fixtures::chain_id(), &outsider, statement, None);
                    }
                }
                let msg = Rc::new(msg);
                for j in self.others(i) {
                    self.send(i, j, msg.clone());
                }
            }
            _ => {}
        }
    }

    /// Compares every honest chain with every other, height by height.
    fn final_check(&mut self) -> Step {
        let honest: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].honest())
            .collect();
        for &i in &honest {
            for (block, _) in &self.nodes[i].chain {
                self.checker.finalized(
                    i,
                    block.header.height,
                    block.hash(),
                    block.header.state_root,
                )?;
            }
            let node = &self.nodes[i];
            if node.ledger.state_root() != node.ledger.tip().state_root {
                return Err(FailureKind::BadBlock {
                    node: i,
                    height: node.height(),
                    detail: "the ledger's state does not hash to its tip's state root".into(),
                });
            }
        }
        Ok(())
    }

    fn report(&self) -> RunReport {
        let mut stats = ConsensusStats::default();
        for node in self.nodes.iter().filter(|n| n.honest()) {
            let current = node.replica.as_ref().map(|r| r.stats().clone());
            for s in node.past_stats.iter().chain(current.as_ref()) {
                add_stats(&mut stats, s);
            }
        }
        let min_after = match &self.targets {
            Some(targets) => self
                .nodes
                .iter()
                .zip(targets)
                .filter(|(n, _)| n.honest())
                .map(|(n, t)| (n.height() + LIVENESS_BLOCKS).saturating_sub(*t))
                .min()
                .unwrap_or(0),
            None => 0,
        };
        RunReport {
            scenario: self.scenario.name,
            seed: self.seed,
            trace_hash: self.trace,
            events: self.events,
            sim_time_ms: self.now,
            roles: self.nodes.iter().map(|n| n.role).collect(),
            heights: self.nodes.iter().map(Node::height).collect(),
            min_blocks_after_faults: min_after,
            crashes: self.crashes,
            stats,
        }
    }
}

/// Adds `s` to `total`, counter by counter.
pub fn add_stats(total: &mut ConsensusStats, s: &ConsensusStats) {
    total.accepted += s.accepted;
    total.rejected_not_validator += s.rejected_not_validator;
    total.rejected_bad_signature += s.rejected_bad_signature;
    total.rejected_invalid += s.rejected_invalid;
    total.ignored_stale += s.ignored_stale;
    total.buffered_future += s.buffered_future;
    total.dropped_future += s.dropped_future;
    total.duplicates += s.duplicates;
    total.equivocations += s.equivocations;
    total.rounds_started += s.rounds_started;
    total.commits += s.commits;
    total.sync_requests += s.sync_requests;
}

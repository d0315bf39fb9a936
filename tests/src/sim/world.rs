//! The simulated world: nodes running the real driver, an in-memory
//! network, a client, clocks and a seeded scheduler.
//!
//! Every node is a real `merit_node::driver::Driver` over the node's real
//! shared state (ledger, mempool, admission) and a real chain store on an
//! in-memory disk. The world only plays the parts a machine and a network
//! play: it sets each node's clock, fires its timers, carries its gossip
//! (dropping, delaying, duplicating, partitioning), answers its sync
//! requests from a peer's store, submits client transactions, and crashes
//! and restarts nodes, which then find only what their disk kept. Like the
//! node's network task, it keeps each node's book of its peers (the node's
//! own `PeerBook` and `SyncPeers`): it scores the sender of what the node's
//! driver judged invalid, carries nothing between a node and a peer it
//! banned, asks sync peers in the node's rotation, and answers for a peer
//! that never answers with a timeout.
//!
//! Everything happens as events on one queue ordered by simulated time and
//! then by insertion, and every random choice comes from one [`SimRng`], so
//! a seed fixes the whole run.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use libp2p::PeerId;
use merit_chain::consensus::{
    ConsensusStats, Message, SignatureVerifier, Statement, ValidatorSet, verify_certificate_with,
};
use merit_chain::governance::{GovAction, ProposalStatus, ValidatorList};
use merit_chain::light::{LightClient, SetChange};
use merit_chain::{
    Block, BlockHeader, CommitCertificate, Hash32, Keypair, Ledger, Transaction, TxKind,
};
use merit_node::config::{ConsensusTimings, MempoolConfig};
use merit_node::driver::{Driver, DriverError, DriverOptions, Event, Timer};
use merit_node::network::{
    GossipId, SYNC_TIMEOUT, SyncAnswer, SyncFailure, SyncRequest, serve_sync,
};
use merit_node::peers::{Offence, PeerBook, Penalized, SyncPeers, Verdict};
use merit_node::runtime::Topic;
use merit_node::shared::{AdmitRequest, CommittedBlock, Shared, admit_now, gossip_messages};
use merit_store::{Cf, MemDisk, Storage, WriteFault};
use tokio::sync::broadcast;

use super::checker::{FailureKind, SafetyChecker};
use super::fixtures::{self, SIM_GENESIS_TIME_MS};
use super::mocks::{self, Byzantine, Ctx, RemovedVoter, SyncFault};
use super::rng::SimRng;
use super::runtime::{Action, SimRuntime};
use super::scenario::{
    CALM_NET, LIVENESS_BLOCKS, LIVENESS_BUDGET_MS, NetFaults, SKEW_BEYOND_PRECISIONS,
    STALE_LOCK_AT_MS, STALE_LOCK_PARTITION_AFTER_MS, Scenario,
};
use super::verifier::CachingVerifier;

/// Most events one run may take before it is declared stuck.
pub const MAX_EVENTS_PER_RUN: u64 = 3_000_000;
/// Most crashes of validators in one run of a crash scenario.
pub const MAX_CRASHES_PER_RUN: u32 = 3;
/// How long a crashed validator stays down, in milliseconds.
pub const RESTART_DELAY_MS: (u64, u64) = (20, 600);
/// Simulated time a sync answer takes, in milliseconds.
pub const SYNC_DELAY_MS: (u64, u64) = (5, 40);
/// Interval between actions of a replaying or spamming validator.
pub const BYZANTINE_TICK_MS: (u64, u64) = (30, 150);
/// Interval between two client submissions, in milliseconds.
pub const CLIENT_INTERVAL_MS: (u64, u64) = (30, 120);
/// What an honest validator is called in reports.
pub const HONEST: &str = "honest";
/// Interval between two looks of the alliance's merchants at their
/// proposals, in milliseconds.
pub const GOVERN_INTERVAL_MS: (u64, u64) = (100, 300);
/// Blocks a simulated proposal takes votes for.
pub const SIM_VOTING_BLOCKS: u64 = 200;

/// The mempool of a simulated node: small, like the blocks.
const SIM_MEMPOOL: MempoolConfig = MempoolConfig {
    max_txs: 10_000,
    max_per_sender: 10_000,
};

#[derive(Debug)]
enum Ev {
    Deliver {
        to: usize,
        from: usize,
        topic: Topic,
        bytes: Rc<Vec<u8>>,
    },
    Timer {
        node: usize,
        incarnation: u32,
        timer: Timer,
    },
    /// The answer to a sync request of `node` from `server` (none: no
    /// peer to ask), or the timeout of a request it never answers.
    SyncReply {
        node: usize,
        incarnation: u32,
        request: SyncRequest,
        server: Option<usize>,
        timed_out: bool,
    },
    Client,
    ArmCrash,
    Restart {
        node: usize,
    },
    Partition,
    Heal,
    /// A stale-lock scenario splits the validators in two halves until the
    /// faults stop.
    HalvingPartition,
    ByzantineTick {
        node: usize,
    },
    FaultsEnd,
    /// The merchants look at their proposals and vote.
    Govern,
}

impl Ev {
    fn tag(&self) -> u64 {
        match self {
            Ev::Deliver { .. } => 1,
            Ev::Timer { .. } => 2,
            Ev::SyncReply { .. } => 4,
            Ev::Client => 3,
            Ev::ArmCrash => 5,
            Ev::Restart { .. } => 6,
            Ev::Partition => 7,
            Ev::Heal => 8,
            Ev::ByzantineTick { .. } => 9,
            Ev::FaultsEnd => 10,
            Ev::HalvingPartition => 11,
            Ev::Govern => 12,
        }
    }
}

/// One simulated machine.
#[derive(Debug)]
struct Node {
    key: Keypair,
    peer: PeerId,
    /// `None` for an honest validator.
    byzantine: Option<Box<dyn Byzantine>>,
    /// What survives a crash.
    disk: MemDisk,
    /// The running node; `None` while it is down.
    driver: Option<Driver<SimRuntime>>,
    /// Committed blocks as the node announces them.
    blocks: Option<broadcast::Receiver<Arc<CommittedBlock>>>,
    incarnation: u32,
    /// A write fault is armed on its disk.
    armed: bool,
    /// The last height the checker saw this node commit.
    checked: u64,
    /// How far its wall clock is from true time, in milliseconds.
    skew_ms: i64,
    /// Counters of drivers that crashed, so totals survive restarts.
    past_stats: Vec<ConsensusStats>,
    /// Its network's scores and bans of its peers, as the node keeps them.
    book: PeerBook,
    /// Its network's rotation of sync peers.
    sync_peers: SyncPeers,
    /// How it answers sync requests, if dishonestly.
    sync_fault: Option<SyncFault>,
    /// Offences its driver and network charged to peers, in order.
    offences: Vec<(PeerId, Offence)>,
    /// Its merchant started it: from the start for a founder, when its
    /// vote begins for one voted in later.
    started: bool,
}

impl Node {
    fn up(&self) -> bool {
        self.driver.is_some()
    }

    fn honest(&self) -> bool {
        self.byzantine.is_none()
    }

    /// An honest node that is running and checked for liveness.
    fn live(&self) -> bool {
        self.honest() && self.started
    }

    fn role(&self) -> &'static str {
        self.byzantine.as_ref().map_or(HONEST, |b| b.name())
    }

    fn shared(&self) -> Option<&Arc<Shared>> {
        self.driver.as_ref().map(Driver::shared)
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
    /// Each validator's role: [`HONEST`] or a byzantine behaviour's name.
    pub roles: Vec<&'static str>,
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

/// A cheap fingerprint of a message for the trace: its length and its last
/// eight bytes (a signature, or the end of a block).
fn fingerprint(bytes: &[u8]) -> u64 {
    let mut tail = [0u8; 8];
    let n = bytes.len().min(8);
    tail[..n].copy_from_slice(&bytes[bytes.len() - n..]);
    (bytes.len() as u64) ^ u64::from_le_bytes(tail)
}

fn peer_of(key: &Keypair) -> PeerId {
    merit_node::network::peer_id_of(&key.public()).unwrap_or_else(PeerId::random)
}

/// The consensus timings every simulated validator runs with.
pub fn timings() -> ConsensusTimings {
    ConsensusTimings::default()
}

/// One simulated run.
#[derive(Debug)]
pub struct World {
    scenario: Scenario,
    seed: u64,
    rng: SimRng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    nodes: Vec<Node>,
    /// The validator sets in force, learned as a light client does: from
    /// genesis, then each from the certified header before it. Every
    /// certificate is checked against the set of its height.
    light: LightClient,
    /// The genesis set, for a byzantine node acting before height 1.
    genesis_validators: ValidatorSet,
    /// The changes of the set the alliance votes through, if any.
    governance: Governance,
    verifier: Arc<CachingVerifier>,
    /// Partition group of each node; nodes talk only within a group.
    groups: Vec<u8>,
    faults_active: bool,
    /// Gossip delivered and waiting for the receiver's verdict: by id, the
    /// receiver and the sender.
    gossip: BTreeMap<u64, (usize, usize)>,
    next_gossip: u64,
    /// Per node, the height to reach once the faults stopped.
    targets: Option<Vec<u64>>,
    faults_end_ms: u64,
    checker: SafetyChecker,
    /// How far the fastest clock within the precision runs ahead of true
    /// time: a correct replica takes a block stamped up to its own clock
    /// plus the precision, so no final block is stamped past true time plus
    /// the precision plus this.
    ahead_ms: u64,
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
        // Byzantine validators are founders; merchants voted in later are
        // honest, after them in `order`.
        let founders = scenario.genesis_validators();
        let mut order: Vec<usize> = (0..founders).collect();
        rng.shuffle(&mut order);
        order.extend(founders..n);
        let mut roles: Vec<Option<&'static str>> = vec![None; n];
        let rotation: &[&'static str] = if scenario.roles.is_empty() {
            &mocks::ROLES
        } else {
            scenario.roles
        };
        for (i, node) in order.iter().take(scenario.byzantine).enumerate() {
            roles[*node] = Some(rotation[(seed as usize + i) % rotation.len()]);
        }
        // Clocks: every honest one within half the precision of true time,
        // so any two within the precision; `skewed` honest ones beyond it,
        // half ahead and half behind.
        let precision = fixtures::sim_consensus_params().precision_ms;
        let within = (precision / 2).saturating_sub(1);
        let honest: Vec<usize> = order.iter().skip(scenario.byzantine).copied().collect();
        let mut skews = vec![0i64; n];
        for (k, node) in honest.iter().enumerate() {
            skews[*node] = if k < scenario.skewed {
                let beyond = rng.range(precision + 1, precision * SKEW_BEYOND_PRECISIONS);
                let beyond = i64::try_from(beyond).unwrap_or(i64::MAX);
                if k % 2 == 0 { beyond } else { -beyond }
            } else if scenario.honest_skew {
                let off = i64::try_from(rng.range(0, 2 * within)).unwrap_or(0);
                off - i64::try_from(within).unwrap_or(0)
            } else {
                0
            };
        }
        let ahead_ms = honest
            .iter()
            .skip(scenario.skewed)
            .map(|node| u64::try_from(skews[*node]).unwrap_or(0))
            .max()
            .unwrap_or(0);
        let sim_genesis = fixtures::genesis(founders);
        let genesis_set = sim_genesis
            .ledger
            .validators_at(1)
            .cloned()
            .unwrap_or_else(|| unreachable!("a genesis ledger knows the set of height 1"));
        let genesis_validators = match ValidatorSet::new(fixtures::validator_keys(founders)) {
            Ok(v) => v,
            Err(e) => unreachable!("simulation validator keys are distinct: {e}"),
        };
        let light = match LightClient::new(fixtures::chain_id(), 1, genesis_set) {
            Ok(l) => l,
            Err(e) => unreachable!("the simulation genesis set is valid: {e}"),
        };
        // The honest founders first in `order` leave, after every newcomer
        // joined.
        let plan: Vec<Change> = match scenario.reconfig {
            Some(r) => (founders..n)
                .map(Change::Add)
                .chain(
                    order[scenario.byzantine..]
                        .iter()
                        .take(r.leaves)
                        .map(|i| Change::Remove(*i)),
                )
                .collect(),
            None => Vec::new(),
        };
        let nodes = (0..n)
            .map(|i| {
                let key = fixtures::validator_key(i);
                Node {
                    peer: peer_of(&key),
                    key,
                    byzantine: roles[i].and_then(mocks::by_name),
                    disk: MemDisk::new(),
                    driver: None,
                    blocks: None,
                    incarnation: 0,
                    armed: false,
                    checked: 0,
                    skew_ms: skews[i],
                    past_stats: Vec::new(),
                    book: PeerBook::new(),
                    sync_peers: SyncPeers::new(),
                    sync_fault: None,
                    offences: Vec::new(),
                    started: i < founders,
                }
            })
            .collect();
        World {
            scenario: scenario.clone(),
            seed,
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            light,
            genesis_validators,
            governance: Governance {
                plan,
                ..Governance::default()
            },
            verifier: Arc::new(CachingVerifier::default()),
            groups: vec![0; n],
            gossip: BTreeMap::new(),
            next_gossip: 0,
            faults_active: true,
            targets: None,
            faults_end_ms: scenario.faults_ms,
            checker: SafetyChecker::default(),
            ahead_ms,
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

    fn schedule(&mut self, at: u64, event: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
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
            if self.targets.is_none()
                && !self.faults_active
                && self.now > self.faults_end_ms + LIVENESS_BUDGET_MS
            {
                let detail = format!(
                    "{LIVENESS_BUDGET_MS} ms after the faults stopped, the alliance's vote on {} \
                     has not taken effect",
                    self.governance.describe()
                );
                return Err(self.fail(FailureKind::Liveness { detail }));
            }
            if let Some(targets) = &self.targets {
                let done = self
                    .nodes
                    .iter()
                    .zip(targets)
                    .all(|(n, t)| !n.live() || n.checked >= *t);
                if done {
                    break;
                }
                if self.now > self.faults_end_ms + LIVENESS_BUDGET_MS {
                    let lagging: Vec<String> = self
                        .nodes
                        .iter()
                        .zip(targets)
                        .enumerate()
                        .filter(|(_, (n, t))| n.live() && n.checked < **t)
                        .map(|(i, (n, t))| format!("replica {i} at height {} of {t}", n.checked))
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
            if !self.nodes[i].started {
                continue;
            }
            self.boot(i)?;
            if self.nodes[i].byzantine.as_ref().is_some_and(|b| b.ticks()) {
                let at = self.rng.range(BYZANTINE_TICK_MS.0, BYZANTINE_TICK_MS.1);
                self.schedule(at, Ev::ByzantineTick { node: i });
            }
        }
        if self.scenario.client {
            let at = self.rng.range(CLIENT_INTERVAL_MS.0, CLIENT_INTERVAL_MS.1);
            self.schedule(at, Ev::Client);
        }
        if self.scenario.partitions {
            let at = self.rng.range(100, 500);
            self.schedule(at, Ev::Partition);
        }
        if self.scenario.crashes {
            let at = self.rng.range(100, self.scenario.faults_ms / 3);
            self.schedule(at, Ev::ArmCrash);
        }
        if self.scenario.stale_lock {
            self.schedule(
                STALE_LOCK_AT_MS + STALE_LOCK_PARTITION_AFTER_MS,
                Ev::HalvingPartition,
            );
        }
        if !self.governance.plan.is_empty() {
            let at = self.rng.range(GOVERN_INTERVAL_MS.0, GOVERN_INTERVAL_MS.1);
            self.schedule(at, Ev::Govern);
        }
        self.schedule(self.scenario.faults_ms, Ev::FaultsEnd);
        Ok(())
    }

    /// Starts node `i` from its disk, as `merit-node` starts from its data
    /// directory: genesis on an empty disk, else the stored chain, checked.
    fn boot(&mut self, i: usize) -> Step {
        let restart_failed = |detail: String| FailureKind::RestartFailed { node: i, detail };
        let sim_genesis = fixtures::genesis(self.scenario.genesis_validators());
        let store: Arc<dyn Storage> = Arc::new(self.nodes[i].disk.open_store());
        let ledger = merit_node::node::open_ledger(&sim_genesis.genesis, store.as_ref())
            .map_err(|e| restart_failed(format!("{e:#}")))?;
        // Blocks stored but never announced (a crash right after the write)
        // are checked now.
        for h in self.nodes[i].checked + 1..=ledger.height() {
            let block = store.block(h).ok().flatten();
            let cert = store.certificate(h).ok().flatten();
            let Some(block) = block else {
                return Err(restart_failed(format!(
                    "block {h} is missing from its store"
                )));
            };
            let next_set = next_set(&ledger, &block.header);
            self.check_commit(i, &block, cert.as_ref(), next_set)?;
        }
        let (shared, _admission) = Shared::new(
            sim_genesis.genesis.clone(),
            store,
            ledger,
            vec![self.nodes[i].key.public()],
            SIM_MEMPOOL,
        )
        .map_err(|e| restart_failed(format!("{e:#}")))?;
        let shared = Arc::new(shared);
        let options = DriverOptions {
            verifier: Some(self.verifier.clone() as Arc<dyn SignatureVerifier>),
            mutant: self.scenario.mutant,
        };
        let node = &mut self.nodes[i];
        // The network task starts afresh: no scores, no bans.
        node.book = PeerBook::new();
        node.sync_peers = SyncPeers::new();
        node.blocks = Some(shared.blocks.subscribe());
        let driver = Driver::new(
            shared,
            vec![node.key.clone()],
            timings(),
            SimRuntime::default(),
            options,
        )
        .map_err(|e| restart_failed(format!("{e:#}")))?;
        node.driver = Some(driver);
        self.step(i, None)
    }

    /// This node's wall clock now.
    fn wall_ms(&self, i: usize) -> u64 {
        (SIM_GENESIS_TIME_MS + self.now).saturating_add_signed(self.nodes[i].skew_ms)
    }

    /// Hands an event to node `i`'s driver (`None`: starts it), then carries
    /// out what it asked for and checks what it committed. A storage
    /// failure the world caused is a crash.
    fn step(&mut self, i: usize, event: Option<Event>) -> Step {
        let wall = self.wall_ms(i);
        let now = self.now;
        let Some(driver) = self.nodes[i].driver.as_mut() else {
            return Ok(());
        };
        driver.runtime_mut().set_clock(wall, now);
        let result = match event {
            Some(e) => driver.handle(e),
            None => driver.start(),
        };
        let actions = driver.runtime_mut().take_actions();
        self.carry_out(i, actions)?;
        self.observe_commits(i)?;
        match result {
            Ok(()) => Ok(()),
            Err(DriverError::Storage(_)) if self.nodes[i].armed => {
                self.crash(i);
                Ok(())
            }
            Err(e) => Err(FailureKind::BadBlock {
                node: i,
                height: self.nodes[i].checked + 1,
                detail: format!("the driver stopped: {e}"),
            }),
        }
    }

    /// Turns what a driver asked of its runtime into events.
    fn carry_out(&mut self, i: usize, actions: Vec<Action>) -> Step {
        let incarnation = self.nodes[i].incarnation;
        for action in actions {
            match action {
                Action::Timer { after_ms, timer } => self.schedule(
                    self.now + after_ms,
                    Ev::Timer {
                        node: i,
                        incarnation,
                        timer,
                    },
                ),
                Action::Publish {
                    topic: Topic::Consensus,
                    bytes,
                } => self.route(i, bytes)?,
                Action::Publish {
                    topic: Topic::Txs,
                    bytes,
                } => self.gossip_txs(i, bytes),
                Action::Sync(request) => {
                    let server = self.pick_sync_peer(i);
                    let stalls =
                        server.is_some_and(|j| self.nodes[j].sync_fault == Some(SyncFault::Stall));
                    let at = if stalls {
                        self.now + SYNC_TIMEOUT.as_millis() as u64
                    } else {
                        self.now + self.rng.range(SYNC_DELAY_MS.0, SYNC_DELAY_MS.1)
                    };
                    self.schedule(
                        at,
                        Ev::SyncReply {
                            node: i,
                            incarnation,
                            request,
                            server,
                            timed_out: stalls,
                        },
                    );
                }
                Action::Verdict { id, verdict } => {
                    if let Some((to, from)) = self.gossip.remove(&id.0)
                        && to == i
                        && let Verdict::Reject(offence) = verdict
                    {
                        let peer = self.nodes[from].peer;
                        self.penalize(i, peer, offence)?;
                    }
                }
                Action::Report { peer, offence } => {
                    if offence == Offence::SyncStalled {
                        self.nodes[i].sync_peers.rest(peer, self.now);
                    }
                    self.penalize(i, peer, offence)?;
                }
            }
        }
        Ok(())
    }

    /// Charges an offence to `peer` in node `i`'s book, as its network
    /// does. An honest node blaming an honest peer fails the run.
    fn penalize(&mut self, i: usize, peer: PeerId, offence: Offence) -> Step {
        if let Some(j) = self.nodes.iter().position(|n| n.peer == peer)
            && self.nodes[i].honest()
            && self.nodes[j].honest()
            && self.nodes[j].sync_fault.is_none()
        {
            return Err(FailureKind::HonestPeerBlamed {
                node: i,
                peer: j,
                offence: offence.describe(),
            });
        }
        let now = self.now;
        let node = &mut self.nodes[i];
        node.offences.push((peer, offence));
        let outcome = node.book.penalize(peer, offence, now);
        fnv(&mut self.trace, 0xba00_0000 | i as u64);
        if let Penalized::Banned { .. } = outcome {
            node.sync_peers.rest(peer, now);
            if let Some(shared) = node.shared() {
                shared
                    .metrics
                    .p2p_banned_peers
                    .set(node.book.banned() as i64);
            }
            if self.verbose {
                eprintln!("{:>8} {i} bans {peer}: it {offence}", self.now);
            }
        }
        Ok(())
    }

    /// Whether `a` and `b` talk: in one partition group, neither banning
    /// the other (a ban closes the connection).
    fn linked(&self, a: usize, b: usize) -> bool {
        self.connected(a, b)
            && !self.nodes[a].book.is_banned(&self.nodes[b].peer, self.now)
            && !self.nodes[b].book.is_banned(&self.nodes[a].peer, self.now)
    }

    /// The peers node `i`'s network could ask for blocks now, by peer id.
    fn sync_candidates(&self, i: usize) -> BTreeMap<PeerId, usize> {
        (0..self.nodes.len())
            .filter(|j| *j != i && self.nodes[*j].up() && self.linked(i, *j))
            .map(|j| (self.nodes[j].peer, j))
            .collect()
    }

    /// The peer node `i` asks next, in its network's rotation.
    fn pick_sync_peer(&mut self, i: usize) -> Option<usize> {
        let candidates = self.sync_candidates(i);
        let ids = candidates.keys().copied().collect();
        let now = self.now;
        let peer = self.nodes[i].sync_peers.pick(&ids, now)?;
        candidates.get(&peer).copied()
    }

    /// Checks every block node `i` announced since the last look.
    fn observe_commits(&mut self, i: usize) -> Step {
        let mut committed = Vec::new();
        if let Some(rx) = self.nodes[i].blocks.as_mut() {
            loop {
                match rx.try_recv() {
                    Ok(b) => committed.push(b),
                    Err(broadcast::error::TryRecvError::Empty) => break,
                    Err(e) => {
                        return Err(FailureKind::BadBlock {
                            node: i,
                            height: self.nodes[i].checked,
                            detail: format!("the block stream failed: {e}"),
                        });
                    }
                }
            }
        }
        let Some(shared) = self.nodes[i].shared().cloned() else {
            return Ok(());
        };
        for b in committed {
            let next_set = next_set(&shared.read_ledger(), &b.block.header);
            self.check_commit(i, &b.block, b.certificate.as_ref(), next_set)?;
        }
        Ok(())
    }

    /// Checks a block node `i` finalized: it follows the last one, its
    /// certificate verifies against the set in force at its height, and it
    /// agrees with every other honest node. A block whose header names a
    /// different next set teaches the world's light client that set
    /// (`next_set`, as node `i`'s ledger holds it), checked against the
    /// header's hash of it.
    fn check_commit(
        &mut self,
        i: usize,
        block: &Block,
        cert: Option<&CommitCertificate>,
        next_set: Option<ValidatorList>,
    ) -> Step {
        let height = block.header.height;
        let hash = block.hash();
        let expected = self.nodes[i].checked + 1;
        let bad = |detail: String| FailureKind::BadCertificate {
            node: i,
            height,
            detail,
        };
        if height != expected {
            return Err(bad(format!("committed out of order: expected {expected}")));
        }
        let cert = cert.ok_or_else(|| bad("committed without a certificate".into()))?;
        if cert.height != height || cert.block_hash != hash {
            return Err(bad(format!(
                "certificate for ({}, {:?}) with block {hash:?}",
                cert.height, cert.block_hash
            )));
        }
        let Some(known) = self.light.set_at(height) else {
            return Err(bad("no validator set is known for this height".into()));
        };
        if block.header.validators_hash != known.hash {
            return Err(bad(format!(
                "the header names validator set {:?}, the set in force is {:?}",
                block.header.validators_hash, known.hash
            )));
        }
        let set = known.validators();
        verify_certificate_with(
            &fixtures::chain_id(),
            set,
            cert,
            set.quorum_for(self.scenario.quorum_rule()),
            self.verifier.as_ref(),
        )
        .map_err(|e| bad(e.to_string()))?;
        if block.header.next_validators_hash != block.header.validators_hash
            && self.light.last_change() <= height
        {
            let set = next_set.ok_or_else(|| {
                bad("the header names a new set, and the node's ledger does not hold it".into())
            })?;
            let change = SetChange {
                height: height + 1,
                header: block.header.clone(),
                certificate: cert.clone(),
                set,
            };
            self.light
                .follow(&change)
                .map_err(|e| bad(format!("the change of the set: {e}")))?;
            if self.verbose {
                eprintln!("{:>8} the set changes at height {}", self.now, height + 1);
            }
        }
        self.nodes[i].checked = height;
        fnv(&mut self.trace, ((i as u64) << 48) | height);
        fnv(&mut self.trace, short(&hash));
        if self.verbose {
            eprintln!("{:>8} {i} committed height {height} {hash:?}", self.now);
        }
        if self.nodes[i].honest() {
            self.checker
                .finalized(i, height, hash, block.header.state_root)?;
            // No final block is stamped later than true time plus the
            // precision plus the lead of the fastest correct clock: a quorum
            // holds a correct replica, which takes a stamp up to its own
            // clock plus the precision. Expiry and escrow deadlines follow
            // real time to within that.
            let true_ms = SIM_GENESIS_TIME_MS + self.now;
            let precision = fixtures::sim_consensus_params().precision_ms;
            if block.header.timestamp_ms > true_ms + precision + self.ahead_ms {
                return Err(FailureKind::FutureBlockTime {
                    node: i,
                    height,
                    timestamp_ms: block.header.timestamp_ms,
                    true_ms,
                });
            }
        }
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

    fn handle(&mut self, event: Ev) -> Step {
        match event {
            Ev::Deliver {
                to,
                from,
                topic,
                bytes,
            } => {
                fnv(&mut self.trace, ((to as u64) << 32) | from as u64);
                fnv(&mut self.trace, fingerprint(&bytes));
                if !self.nodes[to].up() || !self.linked(from, to) {
                    return Ok(());
                }
                let from_peer = self.nodes[from].peer;
                let bytes = Rc::try_unwrap(bytes).unwrap_or_else(|b| Vec::clone(&b));
                let id = GossipId(self.next_gossip);
                self.next_gossip += 1;
                self.gossip.insert(id.0, (to, from));
                let event = match topic {
                    Topic::Consensus => {
                        if self.nodes[to].byzantine.is_some()
                            && let Ok(msg) = Message::from_bytes(&bytes)
                            && let Some(b) = self.nodes[to].byzantine.as_mut()
                        {
                            b.observe(&Rc::new(msg));
                        }
                        Event::Consensus {
                            bytes,
                            from: from_peer,
                            arrival_ms: self.wall_ms(to),
                            id,
                        }
                    }
                    Topic::Txs => Event::Txs {
                        bytes,
                        from: from_peer,
                        id,
                    },
                };
                let step = self.step(to, Some(event));
                // Every message gets its verdict while it is handled (or
                // never, if the node crashed handling it).
                self.gossip.remove(&id.0);
                step
            }
            Ev::Timer {
                node,
                incarnation,
                timer,
            } => {
                fnv(&mut self.trace, node as u64);
                if self.nodes[node].incarnation != incarnation {
                    return Ok(());
                }
                if self.verbose && !matches!(timer, Timer::Proposal) {
                    eprintln!("{:>8} {node} timer {timer:?}", self.now);
                }
                self.step(node, Some(Event::Timer(timer)))
            }
            Ev::SyncReply {
                node,
                incarnation,
                request,
                server,
                timed_out,
            } => {
                fnv(&mut self.trace, node as u64);
                if self.nodes[node].incarnation != incarnation {
                    return Ok(());
                }
                let answer = self.serve_sync(node, server, timed_out, &request);
                self.step(node, Some(Event::Synced(answer)))
            }
            Ev::Client => {
                self.client();
                let at = self.now + self.rng.range(CLIENT_INTERVAL_MS.0, CLIENT_INTERVAL_MS.1);
                self.schedule(at, Ev::Client);
                Ok(())
            }
            Ev::ArmCrash => {
                self.arm_crash();
                Ok(())
            }
            Ev::Restart { node } => {
                fnv(&mut self.trace, node as u64);
                if !self.nodes[node].up() {
                    self.restart(node)?;
                }
                if self.faults_active && self.crashes < MAX_CRASHES_PER_RUN {
                    let at = self.now + self.rng.range(100, 800);
                    self.schedule(at, Ev::ArmCrash);
                }
                Ok(())
            }
            Ev::Partition => {
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
                self.schedule(at, Ev::Heal);
                Ok(())
            }
            Ev::HalvingPartition => {
                let n = self.nodes.len();
                self.groups = (0..n).map(|i| u8::from(i >= n / 2)).collect();
                Ok(())
            }
            Ev::Heal => {
                self.groups = vec![0; self.nodes.len()];
                if self.faults_active {
                    let at = self.now + self.rng.range(100, 800);
                    self.schedule(at, Ev::Partition);
                }
                Ok(())
            }
            Ev::ByzantineTick { node } => {
                self.byzantine_tick(node);
                let at = self.now + self.rng.range(BYZANTINE_TICK_MS.0, BYZANTINE_TICK_MS.1);
                self.schedule(at, Ev::ByzantineTick { node });
                Ok(())
            }
            Ev::FaultsEnd => {
                self.faults_active = false;
                self.groups = vec![0; self.nodes.len()];
                for i in 0..self.nodes.len() {
                    if self.nodes[i].armed {
                        self.nodes[i].armed = false;
                        self.nodes[i].disk.clear_fault();
                    }
                    if self.nodes[i].started && !self.nodes[i].up() {
                        self.restart(i)?;
                    }
                }
                if self.governance.done() {
                    self.set_targets();
                }
                Ok(())
            }
            Ev::Govern => {
                self.govern()?;
                if !self.governance.done() {
                    let at = self.now + self.rng.range(GOVERN_INTERVAL_MS.0, GOVERN_INTERVAL_MS.1);
                    self.schedule(at, Ev::Govern);
                } else if !self.faults_active {
                    self.set_targets();
                }
                Ok(())
            }
        }
    }

    /// From now, every live replica must finalize [`LIVENESS_BLOCKS`] more.
    fn set_targets(&mut self) {
        self.targets = Some(
            self.nodes
                .iter()
                .map(|n| n.checked + LIVENESS_BLOCKS)
                .collect(),
        );
    }

    /// A client submits a few transfers to a random running node, which
    /// admits them and gossips them on, as a node does for RPC submissions.
    fn client(&mut self) {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].up())
            .collect();
        if up.is_empty() {
            return;
        }
        let i = up[self.rng.index(up.len())];
        self.client_to(i);
    }

    /// Submits a few transfers to node `i`; returns how many it admitted.
    fn client_to(&mut self, i: usize) -> usize {
        let Some(shared) = self.nodes[i].shared().cloned() else {
            return 0;
        };
        let height = shared.read_ledger().height();
        let txs = fixtures::transfers(&mut self.rng, height, &mut self.next_nonce);
        self.submit_to(i, txs)
    }

    /// Hands `txs` to node `i` as its RPC would: it admits them and
    /// gossips them on. Returns how many it admitted.
    fn submit_to(&mut self, i: usize, txs: Vec<Transaction>) -> usize {
        let Some(shared) = self.nodes[i].shared().cloned() else {
            return 0;
        };
        let requests = txs
            .into_iter()
            .map(|tx| {
                let (reply, _) = tokio::sync::oneshot::channel();
                AdmitRequest {
                    hash: tx.hash(),
                    size: tx.to_bytes().len(),
                    tx,
                    reply: Some(reply),
                }
            })
            .collect();
        let gossip = admit_now(&shared, requests);
        let admitted = gossip.len();
        if self.nodes[i]
            .byzantine
            .as_ref()
            .is_some_and(|b| !b.relays_transactions())
        {
            return admitted;
        }
        for bytes in gossip_messages(&gossip) {
            self.gossip_txs(i, bytes);
        }
        admitted
    }

    /// Sends gossiped transactions from `from` to every other node.
    fn gossip_txs(&mut self, from: usize, bytes: Vec<u8>) {
        let bytes = Rc::new(bytes);
        for to in 0..self.nodes.len() {
            if to != from {
                self.send(from, to, Topic::Txs, bytes.clone());
            }
        }
    }

    /// Answers node `i`'s sync request to `server` out of that peer's
    /// store, as the network's request-response does: through the node's
    /// own `serve_sync`, dishonestly if the server is a byzantine one, or
    /// with a timeout.
    fn serve_sync(
        &mut self,
        i: usize,
        server: Option<usize>,
        timed_out: bool,
        request: &SyncRequest,
    ) -> SyncAnswer {
        let Some(j) = server else {
            return SyncAnswer {
                peer: None,
                result: Err(SyncFailure::NoPeer),
            };
        };
        let peer = Some(self.nodes[j].peer);
        if timed_out {
            return SyncAnswer {
                peer,
                result: Err(SyncFailure::Timeout),
            };
        }
        let gone = || SyncAnswer {
            peer,
            result: Err(SyncFailure::Failed("the peer went away".into())),
        };
        if !self.linked(i, j) {
            return gone();
        }
        let Some(shared) = self.nodes[j].shared() else {
            return gone();
        };
        let honest = serve_sync(shared.storage.as_ref(), request);
        let response = match self.nodes[j].sync_fault {
            Some(fault) => fault.forge(honest),
            None => honest,
        };
        SyncAnswer {
            peer,
            result: Ok(response),
        }
    }

    /// Arms a crash of a random running validator: at once, at its next
    /// storage write, or at the next vote it saves (the write lands or not).
    fn arm_crash(&mut self) {
        if !self.faults_active || self.crashes >= MAX_CRASHES_PER_RUN {
            return;
        }
        let candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].up() && !self.nodes[*i].armed)
            .collect();
        if candidates.is_empty() {
            return;
        }
        let i = candidates[self.rng.index(candidates.len())];
        fnv(&mut self.trace, i as u64);
        let fault = if self.rng.chance(500) {
            WriteFault::AfterWrite
        } else {
            WriteFault::BeforeWrite
        };
        match self.rng.below(3) {
            // Between two events.
            0 => return self.crash(i),
            // At its next write, whatever it is: a vote or a block.
            1 => self.nodes[i].disk.fail_next_write(fault),
            // At the next vote it saves.
            _ => self.nodes[i].disk.fail_next_write_to(Cf::Meta, fault),
        }
        self.nodes[i].armed = true;
    }

    fn crash(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(d) = node.driver.take()
            && let Some(r) = d.replica()
        {
            node.past_stats.push(r.stats().clone());
        }
        node.blocks = None;
        node.armed = false;
        node.disk.clear_fault();
        node.incarnation += 1;
        self.crashes += 1;
        fnv(&mut self.trace, 0xdead_0000 | i as u64);
        if self.verbose {
            eprintln!("{:>8} {i} crashed", self.now);
        }
        let at = self.now + self.rng.range(RESTART_DELAY_MS.0, RESTART_DELAY_MS.1);
        self.schedule(at, Ev::Restart { node: i });
    }

    /// Restarts node `i` from what its disk kept.
    fn restart(&mut self, i: usize) -> Step {
        if self.verbose {
            eprintln!("{:>8} {i} restarting", self.now);
        }
        self.boot(i)
    }

    fn send(&mut self, from: usize, to: usize, topic: Topic, bytes: Rc<Vec<u8>>) {
        if from == to || !self.linked(from, to) {
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
                Ev::Deliver {
                    to,
                    from,
                    topic,
                    bytes: bytes.clone(),
                },
            );
        }
    }

    /// Whether every Commit is lost now: in a stale-lock scenario, from
    /// [`STALE_LOCK_AT_MS`] until the faults stop.
    fn losing_commits(&self) -> bool {
        self.scenario.stale_lock && self.faults_active && self.now >= STALE_LOCK_AT_MS
    }

    /// What a byzantine node acting now may use.
    fn ctx_parts(&self, i: usize) -> Option<(Arc<Shared>, u64, u32)> {
        let driver = self.nodes[i].driver.as_ref()?;
        let shared = driver.shared().clone();
        // A validator voted out runs no replica: it is at the height after
        // its tip.
        let (height, round) = match driver.replica() {
            Some(r) => (r.height(), r.round()),
            None => (shared.read_ledger().height() + 1, 0),
        };
        Some((shared, height, round))
    }

    /// Sends a consensus message node `i`'s driver broadcast: to every
    /// other node, or as its byzantine behaviour dictates.
    fn route(&mut self, i: usize, bytes: Vec<u8>) -> Step {
        let Ok(msg) = Message::from_bytes(&bytes) else {
            return Err(FailureKind::BadBlock {
                node: i,
                height: self.nodes[i].checked,
                detail: "the driver broadcast bytes that do not decode".into(),
            });
        };
        if self.verbose {
            eprintln!("{:>8} {i} sends {:?}", self.now, msg.statement());
        }
        if self.losing_commits() && matches!(msg.statement(), Statement::Commit(_)) {
            // Signed, so still checked, but lost on the way.
            if self.nodes[i].honest() {
                self.checker.signed(i, msg.statement())?;
            }
            return Ok(());
        }
        let Some(mut byzantine) = self.nodes[i].byzantine.take() else {
            self.checker.signed(i, msg.statement())?;
            let bytes = Rc::new(bytes);
            for j in 0..self.nodes.len() {
                self.send(i, j, Topic::Consensus, bytes.clone());
            }
            return Ok(());
        };
        let original = Rc::new(msg);
        let sends = match self.ctx_parts(i) {
            Some((shared, height, round)) => {
                let ledger = shared.read_ledger();
                let mut ctx = Ctx {
                    me: i,
                    n: self.nodes.len(),
                    rng: &mut self.rng,
                    key: &self.nodes[i].key,
                    validators: self
                        .light
                        .set_at(height)
                        .map_or(&self.genesis_validators, |s| s.validators()),
                    ledger: &ledger,
                    height,
                    round,
                    now_ms: (SIM_GENESIS_TIME_MS + self.now)
                        .saturating_add_signed(self.nodes[i].skew_ms),
                    next_nonce: &mut self.next_nonce,
                };
                byzantine.outgoing(&mut ctx, original.clone())
            }
            None => Vec::new(),
        };
        self.nodes[i].byzantine = Some(byzantine);
        let original_bytes = Rc::new(bytes);
        for (to, msg) in sends {
            let bytes = if Rc::ptr_eq(&msg, &original) {
                original_bytes.clone()
            } else {
                Rc::new(msg.to_bytes())
            };
            for j in to {
                self.send(i, j, Topic::Consensus, bytes.clone());
            }
        }
        Ok(())
    }

    fn byzantine_tick(&mut self, i: usize) {
        let Some(mut byzantine) = self.nodes[i].byzantine.take() else {
            return;
        };
        let sends = match self.ctx_parts(i) {
            Some((shared, height, round)) => {
                let ledger = shared.read_ledger();
                let mut ctx = Ctx {
                    me: i,
                    n: self.nodes.len(),
                    rng: &mut self.rng,
                    key: &self.nodes[i].key,
                    validators: self
                        .light
                        .set_at(height)
                        .map_or(&self.genesis_validators, |s| s.validators()),
                    ledger: &ledger,
                    height,
                    round,
                    now_ms: (SIM_GENESIS_TIME_MS + self.now)
                        .saturating_add_signed(self.nodes[i].skew_ms),
                    next_nonce: &mut self.next_nonce,
                };
                byzantine.tick(&mut ctx)
            }
            None => Vec::new(),
        };
        self.nodes[i].byzantine = Some(byzantine);
        for (to, msg) in sends {
            let bytes = Rc::new(msg.to_bytes());
            for j in to {
                self.send(i, j, Topic::Consensus, bytes.clone());
            }
        }
    }

    /// Starts every node and the scenario's faults; for tests that drive
    /// the world step by step with [`World::run_until`].
    pub fn begin(&mut self) -> Result<(), Failure> {
        self.start().map_err(|k| self.fail(k))
    }

    /// Handles every event due up to `until_ms` of simulated time, checking
    /// safety as [`World::run`] does (but not liveness).
    pub fn run_until(&mut self, until_ms: u64) -> Result<(), Failure> {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > until_ms {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            self.now = at;
            self.events += 1;
            fnv(&mut self.trace, at);
            fnv(&mut self.trace, event.tag());
            self.handle(event).map_err(|k| self.fail(k))?;
        }
        self.now = self.now.max(until_ms);
        Ok(())
    }

    /// Simulated time now, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.now
    }

    /// Node `i`'s shared state, while it runs.
    pub fn shared(&self, i: usize) -> Option<Arc<Shared>> {
        self.nodes[i].shared().cloned()
    }

    /// Each validator's role: [`HONEST`] or its byzantine behaviour's name.
    pub fn roles(&self) -> Vec<&'static str> {
        self.nodes.iter().map(Node::role).collect()
    }

    /// Node `i`'s committed height as the checker saw it.
    pub fn height(&self, i: usize) -> u64 {
        self.nodes[i].checked
    }

    /// The blocks node `i` has stored, from height 1.
    pub fn blocks(&self, i: usize) -> Vec<Block> {
        let Some(shared) = self.nodes[i].shared() else {
            return Vec::new();
        };
        (1..=shared.read_ledger().height())
            .map_while(|h| shared.storage.block(h).ok().flatten())
            .collect()
    }

    /// Submits a few client transfers to node `i`, which admits and gossips
    /// them; returns how many it admitted.
    pub fn submit(&mut self, i: usize) -> usize {
        self.client_to(i)
    }

    /// Cuts node `i` off from every other node (or rejoins it).
    pub fn isolate(&mut self, i: usize, cut: bool) {
        self.groups = (0..self.nodes.len())
            .map(|j| u8::from(cut && j == i))
            .collect();
    }

    /// Makes node `j` answer sync requests dishonestly (or honestly again).
    pub fn set_sync_fault(&mut self, j: usize, fault: Option<SyncFault>) {
        self.nodes[j].sync_fault = fault;
    }

    /// The peer node `i` would ask for blocks next, as things stand.
    pub fn next_sync_peer(&self, i: usize) -> Option<usize> {
        let candidates = self.sync_candidates(i);
        let ids = candidates.keys().copied().collect();
        let mut rotation = self.nodes[i].sync_peers.clone();
        let peer = rotation.pick(&ids, self.now)?;
        candidates.get(&peer).copied()
    }

    /// Whether node `i` bans node `j`.
    pub fn bans(&self, i: usize, j: usize) -> bool {
        self.nodes[i].book.is_banned(&self.nodes[j].peer, self.now)
    }

    /// Whether node `i` rests node `j` from sync after a stall.
    pub fn rests(&self, i: usize, j: usize) -> bool {
        self.nodes[i]
            .sync_peers
            .is_resting(&self.nodes[j].peer, self.now)
    }

    /// The offences node `i` charged to node `j`, in order.
    pub fn offences(&self, i: usize, j: usize) -> Vec<Offence> {
        let peer = self.nodes[j].peer;
        self.nodes[i]
            .offences
            .iter()
            .filter(|(p, _)| *p == peer)
            .map(|(_, o)| *o)
            .collect()
    }

    /// Every offence any node charged to any peer: `(node, peer, offence)`.
    pub fn all_offences(&self) -> Vec<(usize, usize, Offence)> {
        let mut out = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            for (peer, offence) in &node.offences {
                if let Some(j) = self.nodes.iter().position(|n| n.peer == *peer) {
                    out.push((i, j, *offence));
                }
            }
        }
        out
    }

    /// Compares every honest chain with every other, height by height, and
    /// each honest node's state with its tip's root.
    fn final_check(&mut self) -> Step {
        for i in 0..self.nodes.len() {
            if !self.nodes[i].honest() {
                continue;
            }
            let Some(shared) = self.nodes[i].shared().cloned() else {
                continue;
            };
            let tip = shared.read_ledger().height();
            for h in 1..=tip {
                let block = shared.storage.block(h).ok().flatten();
                let Some(block) = block else {
                    return Err(FailureKind::BadBlock {
                        node: i,
                        height: h,
                        detail: "a committed block is missing from the store".into(),
                    });
                };
                self.checker
                    .finalized(i, h, block.hash(), block.header.state_root)?;
            }
            let ledger = shared.read_ledger();
            if ledger.state_root() != ledger.tip().state_root {
                return Err(FailureKind::BadBlock {
                    node: i,
                    height: tip,
                    detail: "the ledger's state does not hash to its tip's state root".into(),
                });
            }
        }
        Ok(())
    }

    fn report(&self) -> RunReport {
        let mut stats = ConsensusStats::default();
        for node in self.nodes.iter().filter(|n| n.honest()) {
            let current = node
                .driver
                .as_ref()
                .and_then(|d| d.replica())
                .map(|r| r.stats().clone());
            for s in node.past_stats.iter().chain(current.as_ref()) {
                add_stats(&mut stats, s);
            }
        }
        let min_after = match &self.targets {
            Some(targets) => self
                .nodes
                .iter()
                .zip(targets)
                .filter(|(n, _)| n.live())
                .map(|(n, t)| (n.checked + LIVENESS_BLOCKS).saturating_sub(*t))
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
            roles: self.nodes.iter().map(Node::role).collect(),
            heights: self.nodes.iter().map(|n| n.checked).collect(),
            min_blocks_after_faults: min_after,
            crashes: self.crashes,
            stats,
        }
    }
}

/// A change of the validator set the alliance votes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Merchant `i` joins with its validator.
    Add(usize),
    /// Merchant `i` leaves; its validator keeps voting.
    Remove(usize),
}

impl Change {
    fn action(self) -> GovAction {
        match self {
            Change::Add(i) => GovAction::AddMerchant {
                merchant: Box::new(fixtures::merchant_record(i)),
            },
            Change::Remove(i) => GovAction::RemoveMerchant {
                account: fixtures::merchant_key(i).public(),
            },
        }
    }
}

/// The merchants' side of the alliance's votes: one change after another,
/// each proposed, voted for by every merchant whose validator is in force,
/// and done once it is in force.
#[derive(Debug, Default)]
struct Governance {
    plan: Vec<Change>,
    /// The change under vote: an index into `plan`.
    stage: usize,
    /// Transactions of this stage not yet seen in the chain, by signer;
    /// re-sent as they are until they commit, rebuilt once they expire.
    pending: BTreeMap<usize, Transaction>,
}

impl Governance {
    fn done(&self) -> bool {
        self.stage >= self.plan.len()
    }

    fn describe(&self) -> String {
        match self.plan.get(self.stage) {
            Some(Change::Add(i)) => format!("adding merchant {i} (change {})", self.stage + 1),
            Some(Change::Remove(i)) => format!("removing merchant {i} (change {})", self.stage + 1),
            None => "nothing".into(),
        }
    }
}

/// Whether a signed transaction of `a` still does what `b` asks: a
/// proposal of the same action, whatever its voting period, or the same
/// vote.
fn same_intent(a: &TxKind, b: &TxKind) -> bool {
    match (a, b) {
        (TxKind::Propose { action: x, .. }, TxKind::Propose { action: y, .. }) => x == y,
        _ => a == b,
    }
}

/// The set a block's header names for the next height, from `ledger`, if
/// it differs from the block's own.
fn next_set(ledger: &Ledger, header: &BlockHeader) -> Option<ValidatorList> {
    if header.next_validators_hash == header.validators_hash {
        return None;
    }
    ledger.validators_at(header.height + 1).cloned()
}

impl World {
    /// The merchants look at the chain as the most advanced honest node
    /// holds it, and move the change under vote on: propose it, vote for
    /// it, and once it is in force, go on to the next. A newcomer's
    /// merchant starts its node as its vote begins; a merchant voted out
    /// leaves its validator running, and it keeps voting.
    fn govern(&mut self) -> Step {
        let Some(&change) = self.governance.plan.get(self.governance.stage) else {
            return Ok(());
        };
        if let Change::Add(j) = change
            && !self.nodes[j].started
        {
            self.nodes[j].started = true;
            if self.verbose {
                eprintln!("{:>8} merchant {j} starts its node", self.now);
            }
            self.boot(j)?;
        }
        let lead = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].honest() && self.nodes[*i].up())
            .max_by_key(|i| self.nodes[*i].checked);
        let Some(shared) = lead.and_then(|i| self.nodes[i].shared().cloned()) else {
            return Ok(());
        };
        let action = change.action();
        let mut want: Vec<(usize, TxKind)> = Vec::new();
        let mut in_force = false;
        let height = {
            let ledger = shared.read_ledger();
            let height = ledger.height();
            let merchant_of = |account| {
                (0..self.nodes.len()).find(|m| fixtures::merchant_key(*m).public() == account)
            };
            let voters: Vec<usize> = ledger
                .validators_at(height + 1)
                .map(|set| set.iter().filter_map(|v| merchant_of(v.account)).collect())
                .unwrap_or_default();
            match ledger.proposals().find(|p| p.action == action) {
                None => {
                    if let Some(&proposer) = voters.first() {
                        let kind = TxKind::Propose {
                            action,
                            voting_ends_height: height + SIM_VOTING_BLOCKS,
                        };
                        want.push((proposer, kind));
                    }
                }
                Some(p) => match p.status {
                    ProposalStatus::Open if p.is_open_at(height + 1) => {
                        for m in voters {
                            let account = fixtures::merchant_key(m).public();
                            if !p.approvals.contains(&account) {
                                let kind = TxKind::Vote {
                                    proposal: p.id,
                                    approve: true,
                                };
                                want.push((m, kind));
                            }
                        }
                    }
                    ProposalStatus::Passed {
                        activation_height, ..
                    } => {
                        in_force = height >= activation_height;
                    }
                    _ => {
                        let detail = format!(
                            "proposal {} ({}) is {} at height {height}, though every merchant \
                             voted for it",
                            p.id,
                            self.governance.describe(),
                            p.shown_status(height + 1)
                        );
                        return Err(FailureKind::Liveness { detail });
                    }
                },
            }
            height
        };
        if in_force {
            self.governance.pending.clear();
            self.governance.stage += 1;
            if self.verbose {
                eprintln!(
                    "{:>8} change {} is in force",
                    self.now, self.governance.stage
                );
            }
            if let Change::Remove(j) = change {
                self.voted_out(j);
            }
            return Ok(());
        }
        // Keep what is still wanted and valid; sign anew what is not.
        let mut txs = Vec::new();
        let mut pending = std::mem::take(&mut self.governance.pending);
        for (m, kind) in want {
            let tx = match pending.remove(&m) {
                Some(tx)
                    if same_intent(&tx.body.kind, &kind)
                        && tx.body.expires_at_height > height + 1 =>
                {
                    tx
                }
                _ => {
                    self.next_nonce += 1;
                    fixtures::governance_tx(m, kind, height, self.next_nonce)
                }
            };
            txs.push(tx.clone());
            self.governance.pending.insert(m, tx);
        }
        if txs.is_empty() {
            return Ok(());
        }
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].up())
            .collect();
        if !up.is_empty() {
            let i = up[self.rng.index(up.len())];
            self.submit_to(i, txs);
        }
        Ok(())
    }

    /// Merchant `j`'s validator left the set: from now on it keeps signing
    /// votes, as a byzantine node, and its commits are no longer checked.
    fn voted_out(&mut self, j: usize) {
        if self.verbose {
            eprintln!("{:>8} validator {j} was voted out", self.now);
        }
        self.nodes[j].byzantine = Some(Box::new(RemovedVoter::default()));
        let at = self.now + self.rng.range(BYZANTINE_TICK_MS.0, BYZANTINE_TICK_MS.1);
        self.schedule(at, Ev::ByzantineTick { node: j });
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
    total.untimely_proposals += s.untimely_proposals;
    total.evidence += s.evidence;
}

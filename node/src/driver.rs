//! The consensus driver: carries out the effects of the PBFT state machine
//! with real time, real storage and the real network.
//!
//! One task owns the [`Replica`] (absent on an observer node). It feeds the
//! replica consensus messages from gossip, timer expiries, the verdicts of
//! executing blocks and the blocks it builds, and carries out the effects
//! the replica returns in order: a vote is written to RocksDB (synced)
//! before it is broadcast, and a final block is stored with its certificate
//! and state changes in one synced batch before anything later happens.
//!
//! Block sync runs here too: when the replica asks for it, and on a slow
//! tick so that an observer, or a validator on an idle chain, catches up.
//! Synced blocks are checked against their certificates, re-executed, and
//! their `state_root` compared before they are stored.
//!
//! An idle chain makes no blocks: the proposer waits for transactions, and
//! a replica with nothing to include does not time out round 0 of a
//! height. One empty heartbeat block every `empty_block_interval_ms` keeps
//! block time (and so point expiry) moving.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use merit_chain::consensus::{
    ConsensusConfig, Effect, Input, PersistedState, QuorumRule, Replica, verify_certificate,
};
use merit_chain::ledger::BlockOutcome;
use merit_chain::storage::Storage;
use merit_chain::{Block, CommitCertificate, Hash32, Keypair, Transaction};
use tokio::sync::{mpsc, watch};

use crate::config::ConsensusTimings;
use crate::network::{MAX_SYNC_BLOCKS, NetCommand, NetEvent, SyncRequest, SyncResponse};
use crate::shared::{CommittedBlock, Shared, admit_gossip, record_commit};

/// Signature verdicts for a proposed block's transactions: those waiting in
/// the mempool passed their check on admission, others were checked when
/// they arrived by gossip, and the rest are checked here in one batch. No
/// transaction is verified twice by this node.
fn known_verdicts(shared: &Shared, txs: &[Transaction]) -> Vec<bool> {
    let hashes: Vec<Hash32> = txs.iter().map(Transaction::hash).collect();
    let pooled: Vec<bool> = {
        let pool = shared.lock_mempool();
        hashes.iter().map(|h| pool.contains(h)).collect()
    };
    if pooled.iter().all(|p| *p) {
        return pooled;
    }
    let verdicts = shared.verify_txs(txs, &hashes);
    pooled
        .into_iter()
        .zip(verdicts)
        .map(|(p, v)| p || v)
        .collect()
}

/// How often a node asks a peer whether there are blocks it lacks.
pub const SYNC_POLL_INTERVAL: Duration = Duration::from_millis(1_000);
/// How often a waiting proposer looks at the mempool.
pub const PROPOSAL_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// A fault that stops the node: continuing could diverge from the chain.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("storage failed: {0}")]
    Storage(#[from] merit_chain::storage::StorageError),
    #[error("block {height} was certified by the validators but does not execute here: {reason}")]
    CertifiedBlockInvalid { height: u64, reason: String },
}

enum Internal {
    Timeout { height: u64, round: u32 },
    Synced(Result<SyncResponse, String>),
}

struct PendingProposal {
    height: u64,
    round: u32,
    since: Instant,
}

pub struct Driver {
    shared: Arc<Shared>,
    replica: Option<Replica>,
    key: Option<Keypair>,
    timings: ConsensusTimings,
    net: mpsc::Sender<NetCommand>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    /// Outcomes of blocks executed at the working height, by block hash.
    executed: BTreeMap<Hash32, BlockOutcome>,
    proposal: Option<PendingProposal>,
    last_commit_at: Instant,
    sync_in_flight: bool,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("validator", &self.key.is_some())
            .field("height", &self.shared.read_ledger().height())
            .field("sync_in_flight", &self.sync_in_flight)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Driver {
    /// Builds the driver. A validator restores its replica from the
    /// committed height and the consensus state it last persisted.
    pub fn new(
        shared: Arc<Shared>,
        key: Option<Keypair>,
        timings: ConsensusTimings,
        net: mpsc::Sender<NetCommand>,
    ) -> anyhow::Result<Self> {
        let replica = match &key {
            Some(key) => {
                let persisted = match shared.storage.consensus_state()? {
                    Some(bytes) => Some(PersistedState::from_bytes(&bytes).map_err(|e| {
                        anyhow::anyhow!("the stored consensus state is corrupt: {e}")
                    })?),
                    None => None,
                };
                let config = ConsensusConfig {
                    timeout_base_ms: timings.timeout_base_ms,
                    timeout_max_ms: timings.timeout_max_ms,
                    quorum_rule: QuorumRule::Byzantine,
                };
                let height = shared.read_ledger().height();
                Some(Replica::restore(
                    config,
                    shared.chain_id.clone(),
                    shared.validators.clone(),
                    key.clone(),
                    height,
                    persisted,
                )?)
            }
            None => None,
        };
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        Ok(Driver {
            shared,
            replica,
            key,
            timings,
            net,
            internal_tx,
            internal_rx,
            executed: BTreeMap::new(),
            proposal: None,
            last_commit_at: Instant::now(),
            sync_in_flight: false,
        })
    }

    /// Runs until `stop` turns true or the network goes away. Returns an
    /// error only for faults that must stop the node.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<NetEvent>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), DriverError> {
        if let Some(replica) = self.replica.as_mut() {
            let effects = replica.start();
            self.carry_out(effects).await?;
        }
        let mut sync_tick = tokio::time::interval(SYNC_POLL_INTERVAL);
        sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut proposal_tick = tokio::time::interval(PROPOSAL_POLL_INTERVAL);
        proposal_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                internal = self.internal_rx.recv() => match internal {
                    Some(Internal::Timeout { height, round }) => self.on_timeout(height, round).await?,
                    Some(Internal::Synced(result)) => self.on_synced(result).await?,
                    None => break,
                },
                event = events.recv() => match event {
                    Some(NetEvent::Consensus { bytes, .. }) => self.on_consensus(&bytes).await?,
                    Some(NetEvent::Txs { bytes, .. }) => {
                        let shared = self.shared.clone();
                        tokio::spawn(async move { admit_gossip(&shared, &bytes).await });
                    }
                    None => break,
                },
                _ = proposal_tick.tick(), if self.proposal.is_some() => self.maybe_propose().await?,
                _ = sync_tick.tick() => self.poll_sync(),
            }
        }
        tracing::info!("consensus driver stopped");
        Ok(())
    }

    async fn on_consensus(&mut self, bytes: &[u8]) -> Result<(), DriverError> {
        let Some(replica) = self.replica.as_mut() else {
            return Ok(());
        };
        let before = replica.stats().clone();
        let effects = replica.handle_bytes(bytes);
        let after = replica.stats();
        let m = &self.shared.metrics;
        m.consensus_non_validator_messages
            .inc_by(after.rejected_not_validator - before.rejected_not_validator);
        m.consensus_rejected_messages.inc_by(
            (after.rejected_bad_signature + after.rejected_invalid)
                - (before.rejected_bad_signature + before.rejected_invalid),
        );
        m.consensus_rounds
            .inc_by(after.rounds_started - before.rounds_started);
        self.carry_out(effects).await
    }

    async fn on_timeout(&mut self, height: u64, round: u32) -> Result<(), DriverError> {
        let Some(replica) = self.replica.as_mut() else {
            return Ok(());
        };
        if replica.height() != height || replica.round() != round {
            return Ok(());
        }
        // Idle: nothing to include and the heartbeat is not due. Do not
        // start a view change over a block nobody needs; look again later.
        let idle = round == 0
            && self.shared.lock_mempool().is_empty()
            && self.last_commit_at.elapsed()
                < Duration::from_millis(
                    self.timings
                        .empty_block_interval_ms
                        .saturating_add(self.timings.timeout_base_ms),
                );
        if idle {
            self.schedule_timeout(height, round, self.timings.timeout_base_ms);
            return Ok(());
        }
        let before = replica.stats().rounds_started;
        let effects = replica.handle(Input::Timeout { height, round });
        let started = replica.stats().rounds_started - before;
        self.shared.metrics.consensus_rounds.inc_by(started);
        self.carry_out(effects).await
    }

    fn schedule_timeout(&self, height: u64, round: u32, duration_ms: u64) {
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(duration_ms)).await;
            let _ = tx.send(Internal::Timeout { height, round });
        });
    }

    /// Builds the pending proposal once there is something to propose, or
    /// the heartbeat is due, or the round is past 0 (others wait for it).
    async fn maybe_propose(&mut self) -> Result<(), DriverError> {
        let Some(p) = &self.proposal else {
            return Ok(());
        };
        let (height, round) = (p.height, p.round);
        let pool_len = self.shared.lock_mempool().len();
        let waited = p.since.elapsed() >= Duration::from_millis(self.timings.proposal_wait_ms);
        let heartbeat = self.last_commit_at.elapsed()
            >= Duration::from_millis(self.timings.empty_block_interval_ms);
        let ready = pool_len >= merit_chain::limits::MAX_BLOCK_TXS
            || (pool_len > 0 && waited)
            || round > 0
            || heartbeat;
        if !ready {
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
        let started = Instant::now();
        let (block, outcome) = tokio::task::block_in_place(|| {
            let ledger = shared.read_ledger();
            let txs: Vec<Transaction> = shared
                .lock_mempool()
                .take_for_block(height, merit_chain::limits::MAX_BLOCK_TXS)
                .into_iter()
                .map(|p| (*p.tx).clone())
                .collect();
            // Everything in the mempool passed its signature check on admission.
            let verdicts = vec![true; txs.len()];
            ledger.build_block_with_verdicts(round, now_ms(), key.public(), txs, &verdicts)
        });
        self.shared
            .metrics
            .block_execution_seconds
            .observe(started.elapsed().as_secs_f64());
        tracing::debug!(height, round, txs = block.txs.len(), "proposing");
        self.executed.insert(block.hash(), outcome);
        let effects = match self.replica.as_mut() {
            Some(r) => r.handle(Input::Proposal(Box::new(block))),
            None => Vec::new(),
        };
        self.carry_out(effects).await
    }

    /// Carries out effects in order, feeding the inputs they produce back
    /// to the replica after the batch, as the replica expects.
    async fn carry_out(&mut self, effects: Vec<Effect>) -> Result<(), DriverError> {
        let mut queue: VecDeque<Effect> = effects.into();
        while !queue.is_empty() {
            let mut follow = Vec::new();
            while let Some(effect) = queue.pop_front() {
                if let Some(input) = self.carry_out_one(effect).await? {
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

    async fn carry_out_one(&mut self, effect: Effect) -> Result<Option<Input>, DriverError> {
        match effect {
            Effect::PersistVote(state) => {
                let storage = self.shared.storage.clone();
                let bytes = state.to_bytes();
                tokio::task::block_in_place(|| storage.save_consensus_state(&bytes))?;
                Ok(None)
            }
            Effect::Broadcast(msg) => {
                let _ = self
                    .net
                    .send(NetCommand::PublishConsensus(msg.to_bytes()))
                    .await;
                Ok(None)
            }
            Effect::ExecuteBlock(block) => {
                let hash = block.hash();
                let shared = self.shared.clone();
                let valid = self.executed.contains_key(&hash) || {
                    let started = Instant::now();
                    let result = tokio::task::block_in_place(|| {
                        let verdicts = known_verdicts(&shared, &block.txs);
                        let ledger = shared.read_ledger();
                        if block.header.height != ledger.height() + 1 {
                            return None;
                        }
                        Some(ledger.verify_block_with_verdicts(&block, &verdicts))
                    });
                    shared
                        .metrics
                        .block_execution_seconds
                        .observe(started.elapsed().as_secs_f64());
                    match result {
                        Some(Ok(outcome)) => {
                            self.executed.insert(hash, outcome);
                            true
                        }
                        Some(Err(e)) => {
                            tracing::warn!(height = block.header.height, "invalid proposal: {e}");
                            false
                        }
                        None => false,
                    }
                };
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
                    since: Instant::now(),
                });
                Ok(None)
            }
            Effect::ScheduleTimeout {
                height,
                round,
                duration_ms,
            } => {
                self.schedule_timeout(height, round, duration_ms);
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
            None => tokio::task::block_in_place(|| shared.read_ledger().verify_block(&block))
                .map_err(|e| DriverError::CertifiedBlockInvalid {
                    height,
                    reason: e.to_string(),
                })?,
        };
        let receipts = outcome.receipts.clone();
        tokio::task::block_in_place(|| -> Result<(), DriverError> {
            shared
                .storage
                .commit_block(&block, certificate.as_ref(), &outcome)?;
            shared.write_ledger().apply(&block.header, outcome);
            Ok(())
        })?;
        self.executed.clear();
        self.proposal = None;
        self.last_commit_at = Instant::now();
        record_commit(&shared, &receipts);
        shared.lock_mempool().prune_expired(height + 1);
        let m = &shared.metrics;
        m.consensus_height.set(height as i64);
        if synced {
            m.sync_blocks.inc();
        } else {
            m.consensus_commits.inc();
        }
        m.block_txs.observe(block.txs.len() as f64);
        let age_ms = now_ms().saturating_sub(block.header.timestamp_ms);
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
        if self.replica.is_some() && self.last_commit_at.elapsed() < SYNC_POLL_INTERVAL * 3 {
            return;
        }
        self.start_sync();
    }

    fn start_sync(&mut self) {
        if self.sync_in_flight {
            return;
        }
        self.sync_in_flight = true;
        self.shared.syncing.store(true, Ordering::Relaxed);
        let from_height = self.shared.read_ledger().height() + 1;
        let net = self.net.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let (reply, response) = tokio::sync::oneshot::channel();
            let request = SyncRequest {
                from_height,
                max_blocks: MAX_SYNC_BLOCKS,
            };
            let result = if net.send(NetCommand::Sync { request, reply }).await.is_err() {
                Err("network stopped".to_string())
            } else {
                response
                    .await
                    .unwrap_or_else(|_| Err("network stopped".to_string()))
            };
            let _ = tx.send(Internal::Synced(result));
        });
    }

    async fn on_synced(&mut self, result: Result<SyncResponse, String>) -> Result<(), DriverError> {
        self.sync_in_flight = false;
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("sync request failed: {e}");
                self.shared.syncing.store(false, Ordering::Relaxed);
                return Ok(());
            }
        };
        let got = response.blocks.len();
        let mut last_cert = None;
        for synced in response.blocks.into_inner() {
            let (block, cert) = (synced.block, synced.certificate);
            let height = block.header.height;
            if height != self.shared.read_ledger().height() + 1 {
                continue;
            }
            if cert.height != height || cert.block_hash != block.hash() {
                tracing::warn!(height, "sync: certificate does not match its block");
                break;
            }
            if let Err(e) =
                verify_certificate(&self.shared.chain_id, self.shared.validators.keys(), &cert)
            {
                tracing::warn!(height, "sync: invalid certificate: {e}");
                break;
            }
            // The certificate proves 2f+1 validators committed this block:
            // if it does not execute here to the same roots, stop loudly.
            self.executed.clear();
            self.commit(block, Some(cert.clone()), true)?;
            last_cert = Some(cert);
        }
        let caught_up = got < MAX_SYNC_BLOCKS as usize;
        self.shared.syncing.store(!caught_up, Ordering::Relaxed);
        if let Some(cert) = last_cert {
            if let Some(replica) = self.replica.as_mut() {
                let effects = replica.handle(Input::Synced(cert));
                self.carry_out(effects).await?;
            }
            if !caught_up {
                self.start_sync();
            }
        }
        Ok(())
    }
}

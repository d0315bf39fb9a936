//! What the node's tasks share: the ledger, storage, mempool, metrics and
//! the stream of committed blocks; and transaction admission.
//!
//! Admission runs in one task that takes transactions from RPC and gossip
//! in batches: it decodes them, refuses what cannot be included (wrong
//! chain, expired, nonce already used, already waiting), verifies all
//! signatures of the batch at once, inserts the good ones in the mempool and
//! gossips the ones submitted here.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use merit_chain::consensus::ValidatorSet;
use merit_chain::crypto::KeyCache;
use merit_chain::limits::MAX_TX_TTL_BLOCKS;
use merit_chain::state::StateKey;
use merit_chain::tx::{ChainId, verify_signatures_with_keys};
use merit_chain::{
    Block, CommitCertificate, Hash32, Ledger, PublicKey, Receipt, Refusal, RejectCode, Transaction,
};
use merit_genesis::Genesis;
use merit_store::Storage;
use tokio::sync::{Notify, broadcast, mpsc, oneshot};

use crate::mempool::{Mempool, PoolRefusal, PoolTx};
use crate::metrics::Metrics;
use crate::network::{NetCommand, TxBatch};
use crate::peers::{ConsensusPeers, Offence, Verdict, consensus_heights};
use crate::verified::VerifiedTxs;

/// Transactions gossiped in one message at most.
pub const MAX_GOSSIP_BATCH_TXS: usize = 4_096;
/// Transactions admitted in one signature batch at most.
pub const MAX_ADMISSION_BATCH: usize = 4_096;
/// How long admission waits for more transactions after the first of a
/// batch: at most this much latency, for batched signature checks and gossip.
pub const ADMISSION_GATHER: std::time::Duration = std::time::Duration::from_millis(2);
/// Admission requests queued at most; beyond it RPC callers wait.
pub const ADMISSION_QUEUE: usize = 65_536;
/// Committed blocks buffered for slow subscribers.
pub const BLOCK_STREAM_CAPACITY: usize = 1_024;

/// A committed block, as announced to subscribers.
#[derive(Debug)]
pub struct CommittedBlock {
    pub block: Block,
    pub receipts: Vec<Receipt>,
    pub certificate: Option<CommitCertificate>,
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// Refused with a rejection code, and a reason when the input was
    /// over a bound or malformed.
    #[error("{}", .0.code.describe())]
    Rejected(Refusal),
    #[error("{0}")]
    Busy(PoolRefusal),
    #[error("the node is shutting down")]
    Stopping,
}

impl AdmitError {
    /// `NonceReused`: the sender's transaction `other` with the same
    /// `nonce` is waiting in the mempool.
    pub fn nonce_pending(nonce: u64, other: Hash32) -> AdmitError {
        AdmitError::Rejected(Refusal::new(
            RejectCode::NonceReused,
            format!(
                "nonce {nonce} is already used by this sender's transaction {other}, waiting in the mempool"
            ),
        ))
    }
}

/// A transaction waiting for admission.
#[derive(Debug)]
pub struct AdmitRequest {
    pub tx: Transaction,
    pub hash: Hash32,
    pub size: usize,
    /// Present for RPC submissions; gossiped ones need no answer.
    pub reply: Option<oneshot::Sender<Result<Hash32, AdmitError>>>,
}

/// Node-wide state.
#[derive(Debug)]
pub struct Shared {
    pub genesis: Genesis,
    pub chain_id: ChainId,
    /// The validator keys this node holds (its key, and the next one a
    /// rotation will switch to); empty on an observer.
    pub validator_keys: Vec<PublicKey>,
    pub ledger: RwLock<Ledger>,
    pub storage: Arc<dyn Storage>,
    pub mempool: Mutex<Mempool>,
    /// Woken when the mempool gains transactions.
    pub mempool_notify: Notify,
    pub metrics: Arc<Metrics>,
    pub blocks: broadcast::Sender<Arc<CommittedBlock>>,
    pub round: AtomicU64,
    pub syncing: AtomicBool,
    pub admission: mpsc::Sender<AdmitRequest>,
    /// Transactions whose signatures this node has checked.
    pub verified: Mutex<VerifiedTxs>,
    /// The decompressed keys of recent signers.
    pub keys: Mutex<KeyCache>,
    /// The ledger at height 0, built on the first proof of the genesis
    /// state (the store keeps only the tip's state).
    pub genesis_ledger: std::sync::OnceLock<Ledger>,
}

impl Shared {
    /// The shared state of a node on `storage`, whose committed state is
    /// `ledger`, with an empty mempool. Returns the queue admission reads.
    pub fn new(
        genesis: Genesis,
        storage: Arc<dyn Storage>,
        ledger: Ledger,
        validator_keys: Vec<PublicKey>,
        mempool: crate::config::MempoolConfig,
    ) -> anyhow::Result<(Shared, mpsc::Receiver<AdmitRequest>)> {
        let metrics = Arc::new(Metrics::new());
        metrics.consensus_height.set(ledger.height() as i64);
        metrics.set_token_supply(ledger.tokens());
        let (admission, queue) = mpsc::channel(ADMISSION_QUEUE);
        let shared = Shared {
            chain_id: genesis.chain_id().clone(),
            validator_keys,
            ledger: RwLock::new(ledger),
            storage,
            mempool: Mutex::new(Mempool::new(mempool.max_txs, mempool.max_per_sender)),
            mempool_notify: Notify::new(),
            metrics,
            blocks: broadcast::channel(BLOCK_STREAM_CAPACITY).0,
            round: AtomicU64::new(0),
            syncing: AtomicBool::new(false),
            admission,
            verified: Mutex::new(VerifiedTxs::new(crate::verified::MAX_VERIFIED_TXS)),
            keys: Mutex::new(KeyCache::new()),
            genesis,
            genesis_ledger: std::sync::OnceLock::new(),
        };
        Ok((shared, queue))
    }

    /// Submits raw transaction bytes from RPC: checks them, queues them for
    /// signature verification and waits for the verdict. Submitting bytes
    /// already committed or waiting returns their hash and changes nothing.
    pub async fn submit(&self, bytes: &[u8]) -> Result<Hash32, AdmitError> {
        let tx = Transaction::admit(bytes).map_err(AdmitError::Rejected)?;
        let hash = tx.hash();
        {
            let pool = self.lock_mempool();
            if pool.contains(&hash) {
                return Ok(hash);
            }
            if let Some(other) = pool.pending_nonce(&tx.body.sender, tx.body.nonce) {
                return Err(AdmitError::nonce_pending(tx.body.nonce, other));
            }
        }
        if let Err(e) = self.precheck(&tx) {
            // A committed transaction fails the precheck (its nonce is spent,
            // or it has expired since): then it is a replay, a no-op. Only
            // this path reads the transaction index.
            if self.is_committed(&hash) {
                return Ok(hash);
            }
            return Err(e);
        }
        let (reply, verdict) = oneshot::channel();
        let req = AdmitRequest {
            size: bytes.len(),
            tx,
            hash,
            reply: Some(reply),
        };
        self.admission
            .send(req)
            .await
            .map_err(|_| AdmitError::Stopping)?;
        verdict.await.map_err(|_| AdmitError::Stopping)?
    }

    /// Checks that need the ledger but no signature: the chain, the expiry
    /// window for the next block, and that the nonce is unused.
    pub fn precheck(&self, tx: &Transaction) -> Result<(), AdmitError> {
        self.precheck_in(&self.read_ledger(), tx)
    }

    /// [`Shared::precheck`] against a ledger the caller holds locked.
    fn precheck_in(&self, ledger: &Ledger, tx: &Transaction) -> Result<(), AdmitError> {
        let b = &tx.body;
        let refuse = |code, reason: String| Err(AdmitError::Rejected(Refusal::new(code, reason)));
        if b.chain_id != self.chain_id {
            return refuse(
                RejectCode::WrongChainId,
                format!(
                    "chain_id is `{}`, this chain is `{}`",
                    b.chain_id, self.chain_id
                ),
            );
        }
        let next = ledger.height().saturating_add(1);
        if b.expires_at_height <= next {
            return refuse(
                RejectCode::Expired,
                format!(
                    "expires_at_height is {}, at least {}: above the next block, {next}",
                    b.expires_at_height,
                    next.saturating_add(1)
                ),
            );
        }
        let farthest = next.saturating_add(MAX_TX_TTL_BLOCKS);
        if b.expires_at_height > farthest {
            return refuse(
                RejectCode::ExpiryTooFar,
                format!(
                    "expires_at_height is {}, at most {farthest}: the next block, {next}, plus {MAX_TX_TTL_BLOCKS}",
                    b.expires_at_height
                ),
            );
        }
        if ledger
            .state()
            .contains_key(&StateKey::Nonce(b.sender, b.nonce))
        {
            return refuse(
                RejectCode::NonceReused,
                format!("nonce {} is already used by this sender", b.nonce),
            );
        }
        Ok(())
    }

    /// Whether a block holds the transaction.
    fn is_committed(&self, hash: &Hash32) -> bool {
        self.storage.tx_location(hash).ok().flatten().is_some()
    }

    /// Signature verdicts for `txs` (with their `hashes`): remembered ones
    /// from earlier checks, the rest checked now in one batch and remembered
    /// when good. CPU work: call it off the async workers.
    pub fn verify_txs(&self, txs: &[&Transaction], hashes: &[Hash32]) -> Vec<bool> {
        let mut verdicts: Vec<bool> = {
            let known = self.lock_verified();
            hashes.iter().map(|h| known.contains(h)).collect()
        };
        let unknown: Vec<usize> = (0..txs.len()).filter(|&i| !verdicts[i]).collect();
        if unknown.is_empty() {
            return verdicts;
        }
        let checked = {
            let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            verify_signatures_with_keys(unknown.iter().map(|&i| txs[i]), &mut keys)
        };
        let mut known = self.lock_verified();
        for (i, ok) in unknown.into_iter().zip(checked) {
            verdicts[i] = ok;
            if ok {
                known.insert(hashes[i]);
            }
        }
        verdicts
    }

    fn lock_verified(&self) -> std::sync::MutexGuard<'_, VerifiedTxs> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn read_ledger(&self) -> std::sync::RwLockReadGuard<'_, Ledger> {
        // A poisoned lock means a thread panicked while applying a block; the
        // node stops on that panic, so reading what is there is fine.
        self.ledger.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write_ledger(&self) -> std::sync::RwLockWriteGuard<'_, Ledger> {
        self.ledger.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lock_mempool(&self) -> std::sync::MutexGuard<'_, Mempool> {
        self.mempool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This node's place in the validator set of the next height, if one
    /// of its keys is in it.
    pub fn validator_index(&self) -> Option<usize> {
        let ledger = self.read_ledger();
        let set = ledger.validators_at(ledger.height() + 1)?;
        set.iter()
            .position(|v| self.validator_keys.contains(&v.key))
    }

    pub fn is_validator(&self) -> bool {
        self.validator_index().is_some()
    }

    /// Whether one of this node's validator keys is in a set of the
    /// heights around the tip ([`consensus_heights`]): it votes now, has
    /// just stopped, or starts within a few blocks.
    pub fn takes_part_in_consensus(&self) -> bool {
        let ledger = self.read_ledger();
        consensus_heights(ledger.height())
            .filter_map(|h| ledger.validators_at(h))
            .flat_map(|set| set.iter())
            .any(|v| self.validator_keys.contains(&v.key))
    }

    /// The validator set in force at `height`, if it is decided.
    pub fn validator_set_at(&self, height: u64) -> Option<ValidatorSet> {
        let ledger = self.read_ledger();
        let list = ledger.validators_at(height)?;
        ValidatorSet::new(list.iter().map(|v| v.key).collect()).ok()
    }

    /// Which peers may send consensus messages now: the libp2p identities
    /// of the validator sets in force at the heights around the tip
    /// ([`consensus_heights`]). Every rule about who may speak in
    /// consensus asks this, and only this.
    ///
    /// The sets are ledger state: this is the union of the sets in force
    /// at those heights, all decided at the tip (ADR 011).
    pub fn consensus_peers(&self) -> ConsensusPeers {
        let ledger = self.read_ledger();
        let tip = ledger.height();
        let peers = consensus_heights(tip)
            .filter_map(|h| ledger.validators_at(h))
            .flat_map(|set| set.iter())
            .filter_map(|v| crate::network::peer_id_of(&v.p2p_key))
            .collect();
        ConsensusPeers {
            heights: consensus_heights(tip),
            peers,
        }
    }
}

/// Runs admission until every sender is gone.
pub async fn run_admission(
    shared: Arc<Shared>,
    mut queue: mpsc::Receiver<AdmitRequest>,
    net: mpsc::Sender<NetCommand>,
) {
    let mut batch = Vec::with_capacity(MAX_ADMISSION_BATCH);
    loop {
        batch.clear();
        if queue.recv_many(&mut batch, MAX_ADMISSION_BATCH).await == 0 {
            break;
        }
        // Gather what arrives in the next moment too: one signature batch
        // and one gossip message for many transactions instead of one each
        // (a JSON-RPC batch of 100 submissions arrives one call at a time).
        let gather_until = tokio::time::Instant::now() + ADMISSION_GATHER;
        while batch.len() < MAX_ADMISSION_BATCH {
            let room = MAX_ADMISSION_BATCH - batch.len();
            match tokio::time::timeout_at(gather_until, queue.recv_many(&mut batch, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let requests = std::mem::take(&mut batch);
        // Signature checks are CPU work; keep them off the async workers.
        let verifier = shared.clone();
        let (requests, verdicts) = match tokio::task::spawn_blocking(move || {
            let verdicts = verify_requests(&verifier, &requests);
            (requests, verdicts)
        })
        .await
        {
            Ok(v) => v,
            Err(_) => continue,
        };
        let gossip = admit_verified(&shared, requests, verdicts);
        for bytes in gossip_messages(&gossip) {
            if net.send(NetCommand::PublishTxs(bytes)).await.is_err() {
                return;
            }
        }
    }
}

/// Signature verdicts for a batch of admission requests, in one batch check.
fn verify_requests(shared: &Shared, requests: &[AdmitRequest]) -> Vec<bool> {
    let txs: Vec<&Transaction> = requests.iter().map(|r| &r.tx).collect();
    let hashes: Vec<Hash32> = requests.iter().map(|r| r.hash).collect();
    shared.verify_txs(&txs, &hashes)
}

/// Admits a batch whose signatures were checked: refuses the bad ones,
/// re-checks the rest against the ledger, inserts them in the mempool and
/// answers each RPC caller. Returns the transactions submitted here that
/// are new to the pool, for gossip.
pub fn admit_verified(
    shared: &Shared,
    requests: Vec<AdmitRequest>,
    verdicts: Vec<bool>,
) -> Vec<Transaction> {
    let mut gossip = Vec::new();
    let mut admitted_any = false;
    let now = Instant::now();
    {
        // The precheck ran before the signature check, and a block may
        // have been committed since: check again with the ledger held
        // (locked before the mempool, as the proposer locks them), so
        // that neither a committed transaction nor one whose nonce is
        // spent enters the pool, where the next proposal would
        // include it a second time.
        let ledger = shared.read_ledger();
        let mut pool = shared.lock_mempool();
        for (req, ok) in requests.into_iter().zip(verdicts) {
            let local = req.reply.is_some();
            let result = if !ok {
                Err(AdmitError::Rejected(RejectCode::BadSignature.into()))
            } else if let Err(e) = shared.precheck_in(&ledger, &req.tx) {
                if shared.is_committed(&req.hash) {
                    // Nothing to do, as for any replay.
                    if let Some(reply) = req.reply {
                        let _ = reply.send(Ok(req.hash));
                    }
                    continue;
                }
                Err(e)
            } else {
                let tx = Arc::new(req.tx);
                let pooled = PoolTx {
                    tx: tx.clone(),
                    hash: req.hash,
                    size: req.size,
                    admitted_at: now,
                };
                let was_there = pool.contains(&req.hash);
                match pool.insert(pooled) {
                    Ok(()) => {
                        if !was_there {
                            admitted_any = true;
                            if local {
                                gossip.push((*tx).clone());
                            }
                        }
                        Ok(req.hash)
                    }
                    Err(PoolRefusal::NoncePending(other)) => {
                        Err(AdmitError::nonce_pending(tx.body.nonce, other))
                    }
                    Err(refusal) => Err(AdmitError::Busy(refusal)),
                }
            };
            if result.is_ok() {
                shared.metrics.txs_admitted.inc();
            } else {
                shared.metrics.txs_refused.inc();
            }
            if let Some(reply) = req.reply {
                let _ = reply.send(result);
            }
        }
        shared.metrics.mempool_size.set(pool.len() as i64);
        shared.metrics.mempool_bytes.set(pool.bytes() as i64);
    }
    if admitted_any {
        shared.mempool_notify.notify_waiters();
    }
    gossip
}

/// Admits a batch at once, signature checks included, on the calling
/// thread; returns what to gossip. The simulation admits this way.
pub fn admit_now(shared: &Shared, requests: Vec<AdmitRequest>) -> Vec<Transaction> {
    let verdicts = verify_requests(shared, &requests);
    admit_verified(shared, requests, verdicts)
}

/// The gossip messages that carry `txs`: encoded [`TxBatch`]es.
pub fn gossip_messages(txs: &[Transaction]) -> Vec<Vec<u8>> {
    txs.chunks(MAX_GOSSIP_BATCH_TXS)
        .filter_map(|chunk| TxBatch::new(chunk.to_vec()).ok())
        .map(|batch| merit_chain::encoding::encode(&batch))
        .collect()
}

/// Judges a gossiped batch of transactions and returns the verdict (a
/// batch with nothing new is ignored: not relayed) and the admission
/// requests for those worth admitting.
///
/// Bytes that do not decode, and transactions that fail the checks that
/// need no state (over-long, a malformed kind, another chain) or carry a
/// bad signature, prove the peer relayed invalid data: an honest node
/// checks all of that before it relays. Transactions that are expired,
/// whose nonce is used, or that wait in the mempool already are dropped
/// without blame: the peer may be ahead or behind. Signatures are checked
/// here, in one batch, and remembered, so admission does not check them
/// again. CPU work: call it off the async workers.
pub fn check_gossip_txs(shared: &Shared, bytes: &[u8]) -> (Verdict, Vec<AdmitRequest>) {
    let limit = crate::network::MAX_GOSSIP_BYTES;
    let Ok(batch) = merit_chain::encoding::decode::<TxBatch>(bytes, limit) else {
        shared.metrics.txs_refused.inc();
        return (Verdict::Reject(Offence::GarbageGossip), Vec::new());
    };
    let mut invalid = false;
    let mut out = Vec::new();
    for tx in batch.into_inner() {
        let encoded = tx.to_bytes();
        if encoded.len() > merit_chain::limits::MAX_TX_BYTES
            || tx.body.kind.check_stateless().is_err()
            || tx.body.chain_id != shared.chain_id
        {
            invalid = true;
            continue;
        }
        let hash = merit_chain::crypto::sha256(&encoded);
        // The mempool is unlocked before the ledger is read: everywhere
        // else the ledger is locked first.
        let waiting = {
            let pool = shared.lock_mempool();
            pool.contains(&hash) || pool.pending_nonce(&tx.body.sender, tx.body.nonce).is_some()
        };
        if waiting || shared.precheck(&tx).is_err() {
            continue;
        }
        out.push(AdmitRequest {
            tx,
            hash,
            size: encoded.len(),
            reply: None,
        });
    }
    let verdicts = verify_requests(shared, &out);
    let before = out.len();
    let mut verdicts = verdicts.into_iter();
    out.retain(|_| verdicts.next().unwrap_or(false));
    if out.len() < before {
        invalid = true;
        let bad = (before - out.len()) as u64;
        shared.metrics.txs_refused.inc_by(bad);
    }
    let verdict = if invalid {
        Verdict::Reject(Offence::InvalidTransaction)
    } else if out.is_empty() {
        // Nothing new here: not worth relaying, and no one's fault.
        Verdict::Ignore
    } else {
        Verdict::Accept
    };
    (verdict, out)
}

/// Queues gossiped transactions that [`check_gossip_txs`] let through.
pub async fn queue_for_admission(shared: &Shared, requests: Vec<AdmitRequest>) {
    for req in requests {
        if shared.admission.send(req).await.is_err() {
            return;
        }
    }
}

/// Removes a committed block's transactions from the mempool, counts
/// committed and rejected ones, and records the latency of those admitted
/// here.
pub fn record_commit(shared: &Shared, receipts: &[Receipt]) {
    let now = Instant::now();
    let mut pool = shared.lock_mempool();
    for r in receipts {
        if r.code().is_some() {
            shared.metrics.txs_rejected.inc();
        } else {
            shared.metrics.txs_committed.inc();
        }
        if let Some(t) = pool.remove(&r.tx_hash) {
            shared
                .metrics
                .commit_latency_seconds
                .observe(now.duration_since(t.admitted_at).as_secs_f64());
        }
    }
    shared.metrics.mempool_size.set(pool.len() as i64);
    shared.metrics.mempool_bytes.set(pool.bytes() as i64);
    drop(pool);
    let verified = shared.lock_verified().len();
    shared.metrics.verified_txs.set(verified as i64);
    let keys = shared.keys.lock().map_or(0, |k| k.len());
    shared.metrics.key_cache_keys.set(keys as i64);
}

#[cfg(test)]
mod tests {
    use merit_chain::{Keypair, Symbol, TxBody, TxKind};

    use super::*;

    fn shared(dir: &std::path::Path) -> (Arc<Shared>, mpsc::Receiver<AdmitRequest>) {
        let genesis = merit_genesis::devnet(4, 26601, 8545).validate().unwrap();
        let (storage, ledger) = crate::node::open_chain(&genesis, dir).unwrap();
        let limits = crate::config::MempoolConfig {
            max_txs: 1_000,
            max_per_sender: 1_000,
        };
        let (shared, queue) =
            Shared::new(genesis, Arc::new(storage), ledger, Vec::new(), limits).unwrap();
        (Arc::new(shared), queue)
    }

    fn transfer(shared: &Shared, from: &Keypair, nonce: u64, amount: u64) -> Transaction {
        TxBody {
            chain_id: shared.chain_id.clone(),
            sender: from.public(),
            sub: 0,
            nonce,
            expires_at_height: 100,
            kind: TxKind::Transfer {
                token: Symbol::new("BEAN").unwrap(),
                to: (Keypair::insecure_from_label("someone").public()).into(),
                amount,
                memo: None,
            },
        }
        .sign(from)
    }

    fn request(
        tx: &Transaction,
        rpc: bool,
    ) -> (
        AdmitRequest,
        Option<oneshot::Receiver<Result<Hash32, AdmitError>>>,
    ) {
        let (reply, answer) = oneshot::channel();
        let req = AdmitRequest {
            hash: tx.hash(),
            size: tx.to_bytes().len(),
            tx: tx.clone(),
            reply: rpc.then_some(reply),
        };
        (req, rpc.then_some(answer))
    }

    /// A transaction can pass its precheck, then be committed in a block
    /// while its signature is checked. Neither it nor another transaction
    /// with its nonce may then enter the mempool: the next proposal would
    /// record it a second time.
    #[tokio::test]
    async fn admission_keeps_out_what_a_block_committed_after_the_precheck() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, queue) = shared(dir.path());
        let alice = Keypair::insecure_from_label("merit-devnet/shopper/alice");
        let committed = transfer(&shared, &alice, 1, 100);
        let same_nonce = transfer(&shared, &alice, 1, 200);
        let fresh = transfer(&shared, &alice, 2, 300);
        for tx in [&committed, &same_nonce, &fresh] {
            assert_eq!(shared.precheck(tx), Ok(()));
        }

        // The block that commits the first one.
        let (block, outcome) = shared.read_ledger().build_block_with_verdicts(
            0,
            shared.genesis.genesis_time_ms() + 1_000,
            alice.public(),
            vec![committed.clone()],
            &[true],
        );
        assert!(outcome.receipts[0].code().is_none());
        shared.storage.commit_block(&block, None, &outcome).unwrap();
        shared.write_ledger().apply(&block.header, outcome);

        // Then their signature checks end, all in one batch.
        let (net, _net_rx) = mpsc::channel(16);
        let mut answers = Vec::new();
        for (tx, rpc) in [
            (&committed, true),
            (&committed, false),
            (&same_nonce, true),
            (&same_nonce, false),
            (&fresh, true),
        ] {
            let (req, answer) = request(tx, rpc);
            shared.admission.send(req).await.unwrap();
            answers.extend(answer);
        }
        let task = tokio::spawn(run_admission(shared.clone(), queue, net));
        let mut verdicts = Vec::new();
        for a in answers {
            verdicts.push(a.await.unwrap());
        }
        assert_eq!(
            verdicts,
            vec![
                Ok(committed.hash()),
                Err(AdmitError::Rejected(Refusal::new(
                    RejectCode::NonceReused,
                    format!(
                        "nonce {} is already used by this sender",
                        same_nonce.body.nonce
                    )
                ))),
                Ok(fresh.hash()),
            ]
        );
        {
            let pool = shared.lock_mempool();
            assert_eq!(pool.len(), 1);
            assert!(pool.contains(&fresh.hash()));
        }
        task.abort();

        // Submitted again, the committed bytes are a no-op.
        assert_eq!(
            shared.submit(&committed.to_bytes()).await,
            Ok(committed.hash())
        );
    }

    /// Two transactions of one sender with one nonce: at most one can ever
    /// be committed, so admission acknowledges only the first and refuses
    /// the second while the first is pending, from RPC or from gossip.
    #[tokio::test]
    async fn a_second_transaction_with_a_pending_nonce_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, queue) = shared(dir.path());
        let (net, _net_rx) = mpsc::channel(16);
        let task = tokio::spawn(run_admission(shared.clone(), queue, net));
        let alice = Keypair::insecure_from_label("merit-devnet/shopper/alice");
        let first = transfer(&shared, &alice, 5, 100);
        let second = transfer(&shared, &alice, 5, 200);
        assert_eq!(shared.submit(&first.to_bytes()).await, Ok(first.hash()));
        assert_eq!(
            shared.submit(&second.to_bytes()).await,
            Err(AdmitError::nonce_pending(5, first.hash()))
        );
        // Gossip of the second is dropped before its signature is checked,
        // and its relay is not blamed: it may not have seen the first.
        let gossiped = gossip_messages(std::slice::from_ref(&second));
        let (verdict, requests) = check_gossip_txs(&shared, &gossiped[0]);
        assert!(requests.is_empty());
        assert_eq!(verdict, Verdict::Ignore);
        // The first is still the one waiting, and resubmitting it is fine.
        assert_eq!(shared.submit(&first.to_bytes()).await, Ok(first.hash()));
        {
            let pool = shared.lock_mempool();
            assert_eq!(pool.len(), 1);
            assert!(pool.contains(&first.hash()));
        }
        task.abort();
    }
}

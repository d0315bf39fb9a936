//! Block execution: a block's transactions run against the committed state,
//! each in its own scratch layer, giving receipts, changes and the new root
//! without changing the ledger. Builds a proposer's block and verifies a
//! proposed one.

use super::exec::{Exec, Rejection, reject};
use super::overlay::Overlay;
use super::{BlockContext, BlockOutcome, DayEnd, Ledger};
use crate::block::{
    Block, BlockHeader, Event, RECEIPT_EVENTS_DECODE_BOUND, Receipt, TxOutcome, receipts_root,
    tx_root,
};
use crate::crypto::{Address, Hash32};
use crate::encoding::{self, BoundedVec};
use crate::limits::MAX_TX_TTL_BLOCKS;
use crate::proof::utc_day;
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{Transaction, verify_signatures};

/// Why a proposed block cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block height {got} does not follow {tip}")]
    WrongHeight { tip: u64, got: u64 },
    #[error("block is for chain `{0}`")]
    WrongChain(String),
    #[error("parent hash {got} is not the tip {expected}")]
    WrongParent { expected: Hash32, got: Hash32 },
    #[error("block time {got} ms is not after its parent's {parent} ms")]
    TimeWentBack { parent: u64, got: u64 },
    #[error("{field} mismatch: header says {claimed}, execution gives {computed}")]
    RootMismatch {
        field: &'static str,
        claimed: Hash32,
        computed: Hash32,
    },
}

impl Ledger {
    /// Executes `txs` as the block at `ctx.height`, checking signatures in a batch.
    pub fn execute_block(&self, ctx: &BlockContext, txs: &[Transaction]) -> BlockOutcome {
        let verdicts = verify_signatures(txs);
        self.execute_block_with_verdicts(ctx, txs, &verdicts)
    }

    /// Executes `txs` with signature verdicts already known, one per
    /// transaction, from [`verify_signatures`] or a cache of its results.
    pub fn execute_block_with_verdicts(
        &self,
        ctx: &BlockContext,
        txs: &[Transaction],
        sig_ok: &[bool],
    ) -> BlockOutcome {
        let hashes: Vec<Hash32> = txs.iter().map(Transaction::hash).collect();
        self.execute_hashed(ctx, txs, &hashes, sig_ok, RECEIPT_EVENTS_DECODE_BOUND)
    }

    /// [`Ledger::execute_block_with_verdicts`] with the transactions' hashes
    /// already computed, one per transaction. A transaction with more than
    /// `max_events` events is rejected: every caller passes the receipt's
    /// bound, [`RECEIPT_EVENTS_DECODE_BOUND`], except a test that needs the
    /// bound within reach.
    pub(super) fn execute_hashed(
        &self,
        ctx: &BlockContext,
        txs: &[Transaction],
        hashes: &[Hash32],
        sig_ok: &[bool],
        max_events: usize,
    ) -> BlockOutcome {
        let mut ov = Overlay::new(&self.state);
        // Close the nonce windows that ended at or before this height.
        for (_, sender, nonce) in self
            .nonce_expiry
            .range(..=(ctx.height, Address::MAX, u64::MAX))
        {
            ov.block.insert(StateKey::Nonce(*sender, *nonce), None);
        }
        let block_events = self.expire_lots(&mut ov, ctx.timestamp_ms);
        let mut receipts = Vec::with_capacity(txs.len());
        for (i, (tx, &hash)) in txs.iter().zip(hashes).enumerate() {
            let outcome = self.execute_tx(
                &mut ov,
                ctx,
                tx,
                hash,
                sig_ok.get(i).copied().unwrap_or(false),
                max_events,
            );
            receipts.push(Receipt {
                tx_hash: hash,
                outcome,
            });
        }
        // What the alliance decided takes effect from the next height.
        self.activate(&mut ov, ctx.height);
        let mut outcome = self.outcome_from_changes(ctx.height, receipts, ov.block);
        outcome.block_events = block_events;
        outcome.day_end = self.day_end_before(ctx.timestamp_ms);
        outcome
    }

    /// The day that ends with the tip, when a block at `timestamp_ms` opens
    /// a new UTC day. Genesis is no day's end: it has no certificate.
    fn day_end_before(&self, timestamp_ms: u64) -> Option<DayEnd> {
        let day = utc_day(self.tip.timestamp_ms);
        (self.tip.height >= 1 && utc_day(timestamp_ms) > day).then(|| DayEnd {
            day,
            height: self.tip.height,
            buckets: self.commitment.bucket_hashes().to_vec(),
        })
    }

    pub(super) fn outcome_from_changes(
        &self,
        height: u64,
        receipts: Vec<Receipt>,
        changes: StateChanges,
    ) -> BlockOutcome {
        let encoded_changes: Vec<(Vec<u8>, Option<Vec<u8>>)> = changes
            .iter()
            .map(|(k, v)| (encoding::encode(k), v.as_ref().map(encoding::encode)))
            .collect();
        let delta = self.commitment.prepare(
            encoded_changes
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_deref())),
        );
        let undo = changes
            .keys()
            .zip(&encoded_changes)
            .map(|(k, (bytes, _))| (bytes.clone(), self.state.get(k).map(encoding::encode)))
            .collect();
        let hashes = self.commitment.bucket_hashes();
        let bucket_undo = delta
            .dirty_buckets()
            .map(|i| (u32::try_from(i).unwrap_or(u32::MAX), hashes[i]))
            .collect();
        BlockOutcome {
            height,
            receipts,
            changes,
            encoded_changes,
            undo,
            bucket_undo,
            block_events: Vec::new(),
            day_end: None,
            state_root: delta.root(),
            delta,
        }
    }

    /// Builds the block a proposer would propose on the current tip.
    pub fn build_block(
        &self,
        round: u32,
        timestamp_ms: u64,
        proposer: Address,
        txs: Vec<Transaction>,
    ) -> (Block, BlockOutcome) {
        let verdicts = verify_signatures(&txs);
        self.build_block_with_verdicts(round, timestamp_ms, proposer, txs, &verdicts)
    }

    /// [`Ledger::build_block`] with the signature verdicts of `txs` already
    /// known (a mempool verified them on admission).
    pub fn build_block_with_verdicts(
        &self,
        round: u32,
        timestamp_ms: u64,
        proposer: Address,
        mut txs: Vec<Transaction>,
        sig_ok: &[bool],
    ) -> (Block, BlockOutcome) {
        // Packing within the block limits is the proposer's job; anything
        // past the hard bound is left out before execution.
        txs.truncate(crate::limits::MAX_BLOCK_TXS);
        let ctx = BlockContext {
            height: self.tip.height + 1,
            // Block time is strictly later than the parent's.
            timestamp_ms: timestamp_ms.max(self.tip.timestamp_ms.saturating_add(1)),
        };
        let outcome = self.execute_block_with_verdicts(&ctx, &txs, sig_ok);
        let hashes: Vec<Hash32> = outcome.receipts.iter().map(|r| r.tx_hash).collect();
        let header = BlockHeader {
            chain_id: self.chain_id.clone(),
            height: ctx.height,
            round,
            parent_hash: self.tip.hash(),
            timestamp_ms: ctx.timestamp_ms,
            proposer,
            tx_root: tx_root(&hashes),
            receipts_root: receipts_root(&outcome.receipts, &outcome.block_events),
            state_root: outcome.state_root,
            validators_hash: self.validators_hash_at(ctx.height),
            next_validators_hash: self.validators_hash_at(ctx.height + 1),
        };
        let txs = BoundedVec::new(txs).unwrap_or_else(|_| BoundedVec::default());
        (Block { header, txs }, outcome)
    }

    /// Re-executes a proposed block and checks every root its header claims.
    pub fn verify_block(&self, block: &Block) -> Result<BlockOutcome, BlockError> {
        self.verify_block_with_verdicts(block, &verify_signatures(&block.txs))
    }

    /// [`Ledger::verify_block`] with the signature verdicts of the block's
    /// transactions already known, one per transaction. A verdict may come
    /// from any earlier check: the signature rule gives every signature the
    /// same verdict alone or in any batch (`crypto::verify_batch`).
    pub fn verify_block_with_verdicts(
        &self,
        block: &Block,
        sig_ok: &[bool],
    ) -> Result<BlockOutcome, BlockError> {
        let hashes: Vec<Hash32> = block.txs.iter().map(Transaction::hash).collect();
        self.verify_block_hashed(block, &hashes, sig_ok)
    }

    /// [`Ledger::verify_block_with_verdicts`] with the transactions' hashes
    /// already computed (`Transaction::hash`, one per transaction, in
    /// order), for a caller that needed them to look up the verdicts.
    pub fn verify_block_hashed(
        &self,
        block: &Block,
        hashes: &[Hash32],
        sig_ok: &[bool],
    ) -> Result<BlockOutcome, BlockError> {
        if hashes.len() != block.txs.len() {
            return self.verify_block_with_verdicts(block, sig_ok);
        }
        let h = &block.header;
        if h.chain_id != self.chain_id {
            return Err(BlockError::WrongChain(h.chain_id.to_string()));
        }
        if h.height != self.tip.height + 1 {
            return Err(BlockError::WrongHeight {
                tip: self.tip.height,
                got: h.height,
            });
        }
        let parent = self.tip.hash();
        if h.parent_hash != parent {
            return Err(BlockError::WrongParent {
                expected: parent,
                got: h.parent_hash,
            });
        }
        if h.timestamp_ms <= self.tip.timestamp_ms {
            return Err(BlockError::TimeWentBack {
                parent: self.tip.timestamp_ms,
                got: h.timestamp_ms,
            });
        }
        for (field, claimed, height) in [
            ("validators_hash", h.validators_hash, h.height),
            ("next_validators_hash", h.next_validators_hash, h.height + 1),
        ] {
            let computed = self.validators_hash_at(height);
            if claimed != computed {
                return Err(BlockError::RootMismatch {
                    field,
                    claimed,
                    computed,
                });
            }
        }
        let computed = tx_root(hashes);
        if computed != h.tx_root {
            return Err(BlockError::RootMismatch {
                field: "tx_root",
                claimed: h.tx_root,
                computed,
            });
        }
        let ctx = BlockContext {
            height: h.height,
            timestamp_ms: h.timestamp_ms,
        };
        let outcome = self.execute_hashed(
            &ctx,
            &block.txs,
            hashes,
            sig_ok,
            RECEIPT_EVENTS_DECODE_BOUND,
        );
        let computed = receipts_root(&outcome.receipts, &outcome.block_events);
        if computed != h.receipts_root {
            return Err(BlockError::RootMismatch {
                field: "receipts_root",
                claimed: h.receipts_root,
                computed,
            });
        }
        if outcome.state_root != h.state_root {
            return Err(BlockError::RootMismatch {
                field: "state_root",
                claimed: h.state_root,
                computed: outcome.state_root,
            });
        }
        Ok(outcome)
    }

    /// The hash of the validator set in force at `height` (that of an empty
    /// set for a ledger without validators, in tests).
    pub fn validators_hash_at(&self, height: u64) -> Hash32 {
        let empty = crate::governance::ValidatorList::default();
        crate::governance::validators_hash(self.validators_at(height).unwrap_or(&empty))
    }

    fn execute_tx(
        &self,
        ov: &mut Overlay<'_>,
        ctx: &BlockContext,
        tx: &Transaction,
        hash: Hash32,
        sig_ok: bool,
        max_events: usize,
    ) -> TxOutcome {
        let b = &tx.body;
        let envelope = if b.chain_id != self.chain_id {
            Err(RejectCode::WrongChainId)
        } else if !sig_ok {
            Err(RejectCode::BadSignature)
        } else if b.expires_at_height <= ctx.height {
            Err(RejectCode::Expired)
        } else if b.expires_at_height > ctx.height.saturating_add(MAX_TX_TTL_BLOCKS) {
            Err(RejectCode::ExpiryTooFar)
        } else if ov.get(&StateKey::Nonce(b.sender, b.nonce)).is_some() {
            Err(RejectCode::NonceReused)
        } else {
            Ok(())
        };
        if let Err(code) = envelope {
            return TxOutcome::Rejected {
                code,
                original: None,
            };
        }
        let result = b
            .kind
            .check_stateless()
            .map_err(|c| (c, None))
            .and_then(|()| {
                let mut exec = Exec {
                    ov,
                    sender: b.sender,
                    sub: b.sub,
                    height: ctx.height,
                    time_ms: ctx.timestamp_ms,
                    hash,
                    events: Vec::new(),
                };
                // The paying account must be open, whatever the kind.
                exec.check_payer_open()?;
                exec.run(&b.kind)?;
                // The last check that can reject the kind.
                seal_events(exec.events, max_events)
            });
        let outcome = match result {
            Ok(events) => TxOutcome::Committed { events },
            Err((code, original)) => TxOutcome::Rejected { code, original },
        };
        // The verdict is final: only now may the kind's writes reach the block.
        match &outcome {
            TxOutcome::Committed { .. } => ov.commit_accepted(&outcome),
            TxOutcome::Rejected { .. } => ov.rollback_tx(),
        }
        // The nonce is spent whatever the kind's verdict.
        ov.put(
            StateKey::Nonce(b.sender, b.nonce),
            StateValue::Nonce(b.expires_at_height),
        );
        ov.commit_tx();
        outcome
    }
}

/// A kind's events as its receipt carries them. More than `max_events`, or
/// than the receipt's bound, rejects the transaction like any other check.
fn seal_events(
    events: Vec<Event>,
    max_events: usize,
) -> Result<BoundedVec<Event, RECEIPT_EVENTS_DECODE_BOUND>, Rejection> {
    if events.len() > max_events {
        return reject(RejectCode::TooManyLegs);
    }
    BoundedVec::new(events).map_err(|_| (RejectCode::TooManyLegs, None))
}

//! The mempool: transactions whose signatures were verified on admission,
//! waiting for a block.
//!
//! It is bounded ([`MAX_MEMPOOL_TXS`]), deduplicated by transaction hash and
//! holds at most a quota of transactions per sender. Proposals take
//! transactions in arrival order. A transaction leaves when a block carrying
//! it is committed, or when it expires. Everything in it has a valid
//! signature, so executing a block needs to verify only what the mempool
//! has not seen.

// The maps below are looked up by key only; order comes from `order`.
#![allow(clippy::disallowed_types)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use merit_chain::limits::{MAX_BLOCK_BYTES, MAX_BLOCK_TXS};
use merit_chain::{Address, Hash32, Transaction};

/// Transactions the mempool holds at most.
pub const MAX_MEMPOOL_TXS: usize = 200_000;
/// Transactions one sender may have waiting at once.
pub const MAX_MEMPOOL_TXS_PER_SENDER: usize = 2_000;

/// A transaction admitted to the mempool.
#[derive(Debug, Clone)]
pub struct PoolTx {
    pub tx: Arc<Transaction>,
    pub hash: Hash32,
    /// Length of its canonical encoding.
    pub size: usize,
    /// When this node admitted it.
    pub admitted_at: Instant,
}

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolRefusal {
    #[error("the mempool is full")]
    Full,
    #[error("the sender has too many transactions waiting")]
    SenderQuota,
    /// Another transaction of the sender with the same nonce is waiting:
    /// at most one of them could ever be committed.
    #[error("the nonce is already used by pending transaction {0}")]
    NoncePending(Hash32),
}

#[derive(Debug)]
struct Entry {
    tx: PoolTx,
    seq: u64,
}

#[derive(Debug)]
pub struct Mempool {
    max_txs: usize,
    max_per_sender: usize,
    by_hash: HashMap<Hash32, Entry>,
    /// Arrival order.
    order: BTreeMap<u64, Hash32>,
    per_sender: HashMap<Address, usize>,
    /// The transaction holding each `(sender, nonce)`.
    by_nonce: HashMap<(Address, u64), Hash32>,
    next_seq: u64,
    bytes: usize,
}

impl Mempool {
    pub fn new(max_txs: usize, max_per_sender: usize) -> Self {
        Mempool {
            max_txs,
            max_per_sender,
            by_hash: HashMap::new(),
            order: BTreeMap::new(),
            per_sender: HashMap::new(),
            by_nonce: HashMap::new(),
            next_seq: 0,
            bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Encoded bytes of everything held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn contains(&self, hash: &Hash32) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// The waiting transaction that uses `nonce` of `sender`, if any.
    pub fn pending_nonce(&self, sender: &Address, nonce: u64) -> Option<Hash32> {
        self.by_nonce.get(&(*sender, nonce)).copied()
    }

    /// Adds a transaction whose signature was verified. Adding one already
    /// held is a no-op that succeeds; one whose `(sender, nonce)` another
    /// waiting transaction holds is refused.
    pub fn insert(&mut self, tx: PoolTx) -> Result<(), PoolRefusal> {
        if self.by_hash.contains_key(&tx.hash) {
            return Ok(());
        }
        let body = &tx.tx.body;
        if let Some(other) = self.pending_nonce(&body.sender, body.nonce) {
            return Err(PoolRefusal::NoncePending(other));
        }
        if self.by_hash.len() >= self.max_txs {
            return Err(PoolRefusal::Full);
        }
        let sender = tx.tx.body.sender;
        let count = self.per_sender.entry(sender).or_insert(0);
        if *count >= self.max_per_sender {
            return Err(PoolRefusal::SenderQuota);
        }
        *count += 1;
        self.by_nonce.insert((sender, tx.tx.body.nonce), tx.hash);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, tx.hash);
        self.bytes += tx.size;
        self.by_hash.insert(tx.hash, Entry { tx, seq });
        Ok(())
    }

    /// Removes the transactions with these hashes (those a committed block
    /// carried), if held.
    pub fn remove_all<'a>(&mut self, hashes: impl IntoIterator<Item = &'a Hash32>) {
        for h in hashes {
            let _ = self.remove(h);
        }
    }

    /// Removes one transaction, returning it if it was held.
    pub fn remove(&mut self, hash: &Hash32) -> Option<PoolTx> {
        let e = self.by_hash.remove(hash)?;
        self.order.remove(&e.seq);
        self.bytes -= e.tx.size;
        let sender = e.tx.tx.body.sender;
        self.by_nonce.remove(&(sender, e.tx.tx.body.nonce));
        if let Some(c) = self.per_sender.get_mut(&sender) {
            *c -= 1;
            if *c == 0 {
                self.per_sender.remove(&sender);
            }
        }
        Some(e.tx)
    }

    /// Drops every transaction that can no longer be included at `height`.
    pub fn prune_expired(&mut self, height: u64) -> usize {
        let expired: Vec<Hash32> = self
            .by_hash
            .values()
            .filter(|e| e.tx.tx.body.expires_at_height <= height)
            .map(|e| e.tx.hash)
            .collect();
        self.remove_all(&expired);
        expired.len()
    }

    /// Transactions for a block, in arrival order, within the block limits
    /// and without any that expire at or before `height`.
    pub fn take_for_block(&self, height: u64, max_txs: usize) -> Vec<PoolTx> {
        let max_txs = max_txs.min(MAX_BLOCK_TXS);
        // Room for the header and the length prefixes.
        let mut room = MAX_BLOCK_BYTES - 4096;
        let mut out = Vec::new();
        for hash in self.order.values() {
            if out.len() >= max_txs {
                break;
            }
            let Some(e) = self.by_hash.get(hash) else {
                continue;
            };
            if e.tx.tx.body.expires_at_height <= height {
                continue;
            }
            if e.tx.size > room {
                break;
            }
            room -= e.tx.size;
            out.push(e.tx.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use merit_chain::encoding::BoundedString;
    use merit_chain::{Keypair, Symbol, TxBody, TxKind};

    use super::*;

    fn tx(key: &Keypair, nonce: u64, expires: u64) -> PoolTx {
        let t = TxBody {
            chain_id: BoundedString::new("merit-test").unwrap(),
            sender: key.public(),
            sub: 0,
            nonce,
            expires_at_height: expires,
            kind: TxKind::Redeem {
                token: Symbol::new("BEAN").unwrap(),
                amount: 1,
                memo: None,
            },
        }
        .sign(key);
        PoolTx {
            hash: t.hash(),
            size: t.to_bytes().len(),
            tx: Arc::new(t),
            admitted_at: Instant::now(),
        }
    }

    #[test]
    fn duplicates_are_held_once_and_limits_are_enforced() {
        let (a, b) = (
            Keypair::insecure_from_label("a"),
            Keypair::insecure_from_label("b"),
        );
        let mut pool = Mempool::new(3, 2);
        let t = tx(&a, 1, 10);
        pool.insert(t.clone()).unwrap();
        pool.insert(t.clone()).unwrap();
        assert_eq!(pool.len(), 1);
        pool.insert(tx(&a, 2, 10)).unwrap();
        assert_eq!(pool.insert(tx(&a, 3, 10)), Err(PoolRefusal::SenderQuota));
        pool.insert(tx(&b, 1, 10)).unwrap();
        assert_eq!(pool.insert(tx(&b, 2, 10)), Err(PoolRefusal::Full));
        pool.remove_all(&[t.hash]);
        assert_eq!(pool.len(), 2);
        pool.insert(tx(&a, 3, 10)).unwrap();
        assert_eq!(pool.len(), 3);
    }

    #[test]
    fn a_second_transaction_with_a_pending_nonce_is_refused_until_the_first_leaves() {
        let a = Keypair::insecure_from_label("a");
        let mut pool = Mempool::new(100, 100);
        let first = tx(&a, 7, 10);
        let second = tx(&a, 7, 11);
        assert_ne!(first.hash, second.hash);
        pool.insert(first.clone()).unwrap();
        assert_eq!(
            pool.insert(second.clone()),
            Err(PoolRefusal::NoncePending(first.hash))
        );
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.pending_nonce(&a.public(), 7), Some(first.hash));
        // Another nonce, or another sender's same nonce, is independent.
        pool.insert(tx(&a, 8, 10)).unwrap();
        pool.insert(tx(&Keypair::insecure_from_label("b"), 7, 10))
            .unwrap();
        // Once the first leaves (committed or expired), the nonce is free
        // in the pool again (the ledger then judges it).
        pool.remove(&first.hash);
        assert_eq!(pool.pending_nonce(&a.public(), 7), None);
        pool.insert(second).unwrap();
    }

    #[test]
    fn blocks_take_arrival_order_and_skip_what_expired() {
        let a = Keypair::insecure_from_label("a");
        let mut pool = Mempool::new(100, 100);
        let txs: Vec<PoolTx> = (0..5)
            .map(|n| tx(&a, n, if n == 2 { 5 } else { 50 }))
            .collect();
        for t in &txs {
            pool.insert(t.clone()).unwrap();
        }
        let taken: Vec<Hash32> = pool.take_for_block(5, 3).iter().map(|t| t.hash).collect();
        assert_eq!(taken, vec![txs[0].hash, txs[1].hash, txs[3].hash]);
        assert_eq!(pool.prune_expired(5), 1);
        assert_eq!(pool.len(), 4);
        let bytes: usize = txs.iter().map(|t| t.size).sum::<usize>() - txs[2].size;
        assert_eq!(pool.bytes(), bytes);
    }
}

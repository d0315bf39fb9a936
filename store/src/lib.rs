//! `merit-store`: durable storage for a Merit node.
//!
//! It owns the [`Storage`] trait the node writes through, and one
//! implementation of it, [`ChainStore`], written over a small key-value
//! backend ([`Kv`]). Two backends exist: RocksDB ([`RocksStorage`]), which a
//! node runs on, and memory ([`MemStorage`]), which the deterministic
//! simulation runs on and which keeps only what was written synced across a
//! simulated crash. Both run the same key layout, indexes and checks.
//!
//! A block, its certificate, its receipts, its indexes and all its state
//! changes go into one atomic, synced batch: after a crash the store holds
//! either the whole block or none of it. On open the whole state is read
//! back, its commitment recomputed and compared with the stored tip's
//! `state_root`; a mismatch refuses to open.
//!
//! It must never decide anything: what to store comes from `merit-chain`.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

mod kv;
mod memory;
#[cfg(feature = "rocksdb")]
mod rocks;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use merit_chain::block::{
    Block, BlockEventChunk, BlockHeader, CommitCertificate, Event, RECEIPT_EVENTS_DECODE_BOUND,
    Receipt,
};
use merit_chain::commitment::{BlockUndo, bucket_of_key};
use merit_chain::consensus::Evidence;
use merit_chain::crypto::{Address, Hash32};
use merit_chain::encoding::{self, BoundedVec, Decode, Encode};
use merit_chain::ledger::{BlockOutcome, DayEnd, Ledger};
use merit_chain::limits::*;
use merit_chain::proof::{PROOF_RETENTION_BLOCKS, PROOF_RETENTION_DAYS};
use merit_chain::state::{StateKey, StateMap, StateValue};
use merit_chain::tx::{ChainId, Price, Symbol};

pub use kv::{Cf, Direction, Kv, Visit};
pub use memory::{MemBatch, MemDisk, MemKv, MemStorage, WriteFault};
#[cfg(feature = "rocksdb")]
pub use rocks::{RocksKv, RocksStorage};

/// Where a transaction sits in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
}

/// One entry of an account's history, newest first: a transaction, or the
/// block's own events (its lots expired), at index [`BLOCK_EVENTS_INDEX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryEntry {
    pub location: TxLocation,
    /// `None` for the block's own events.
    pub tx_hash: Option<Hash32>,
}

/// The history index of a block's own events: after every transaction.
pub const BLOCK_EVENTS_INDEX: u32 = u32::MAX;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database at {path}: {detail}")]
    Db { path: PathBuf, detail: String },
    /// The backend stopped working (in the simulation: a crash).
    #[error("storage failed: {detail}")]
    Failed { detail: String },
    #[error("corrupt {what} in the database: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error(
        "state root mismatch at height {height}: the stored block says {stored}, the stored state hashes to {computed}. \
         The data directory is corrupt; restore it from a backup or wipe it and resync from peers"
    )]
    StateRootMismatch {
        height: u64,
        stored: Hash32,
        computed: Hash32,
    },
    #[error("the database belongs to chain `{found}`, not `{expected}`")]
    WrongChain { expected: String, found: String },
    #[error("block {got} does not follow the stored tip {tip}")]
    OutOfOrder { tip: u64, got: u64 },
}

/// What the node needs from durable storage.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Stores the genesis state (height 0). Fails if anything is stored already.
    fn commit_genesis(
        &self,
        header: &BlockHeader,
        outcome: &BlockOutcome,
    ) -> Result<(), StorageError>;
    /// Stores a final block, its certificate and its outcome atomically.
    fn commit_block(
        &self,
        block: &Block,
        cert: Option<&CommitCertificate>,
        outcome: &BlockOutcome,
    ) -> Result<(), StorageError>;
    /// The stored tip header, or `None` for an empty store.
    fn tip(&self) -> Result<Option<BlockHeader>, StorageError>;
    /// Every stored state entry.
    fn load_state(&self) -> Result<StateMap, StorageError>;
    fn block(&self, height: u64) -> Result<Option<Block>, StorageError>;
    fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, StorageError>;
    fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>, StorageError>;
    /// The block's own events (lot expiries), after its receipts under
    /// `receipts_root`; empty for a block without any or not stored.
    fn block_events(&self, height: u64) -> Result<Vec<Event>, StorageError>;
    fn tx_location(&self, hash: &Hash32) -> Result<Option<TxLocation>, StorageError>;
    /// What block `height` changed in `bucket`, and the old hashes of every
    /// bucket it changed: `None` once the record has left the last
    /// `PROOF_RETENTION_BLOCKS` (ADR 014).
    fn block_undo(&self, height: u64, bucket: u16) -> Result<Option<BlockUndo>, StorageError>;
    /// The kept day ends, `(UTC day, height of its last block)`, oldest
    /// first: the last `PROOF_RETENTION_DAYS` days (ADR 014).
    fn day_ends(&self) -> Result<Vec<(u64, u64)>, StorageError>;
    /// The hash of every bucket at the end of `day`, if kept.
    fn day_snapshot(&self, day: u64) -> Result<Option<Vec<Hash32>>, StorageError>;
    /// The day records of `day` in `bucket`: each key of the bucket changed
    /// after `day`'s end and up to the next kept day's end (or the tip), with
    /// its value at `day`'s end. In [`BlockUndo::entries`]; no buckets.
    fn day_records(&self, day: u64, bucket: u16) -> Result<BlockUndo, StorageError>;
    /// Up to `limit` entries of `account`'s history, newest first, strictly
    /// older than `before` when given.
    fn history(
        &self,
        account: &Address,
        before: Option<TxLocation>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StorageError>;

    /// Up to `limit` ids of the offers resting in the `(sell, buy)` book, in
    /// match order (cheapest first, then oldest), from the stored index.
    fn order_book(
        &self,
        sell: &Symbol,
        buy: &Symbol,
        limit: usize,
    ) -> Result<Vec<u64>, StorageError>;
    /// Every entry of the stored book index, `(sell, buy, price key, id)`,
    /// in index order. A full scan, for the check on open.
    fn book_index(&self) -> Result<Vec<BookIndexKey>, StorageError>;

    /// Durably (synced) stores the consensus state a replica must find again
    /// after a crash. Called before the vote it records is sent.
    fn save_consensus_state(&self, bytes: &[u8]) -> Result<(), StorageError>;
    /// The consensus state last saved, if any.
    fn consensus_state(&self) -> Result<Option<Vec<u8>>, StorageError>;

    /// Keeps evidence of a validator's equivocation (at most one per
    /// validator and height, as the replica reports it).
    fn save_evidence(&self, evidence: &Evidence) -> Result<(), StorageError>;
    /// Up to `limit` pieces of evidence from `from_height` on, by height.
    fn evidence(&self, from_height: u64, limit: usize) -> Result<Vec<Evidence>, StorageError>;

    /// Rebuilds the ledger from storage and checks that the stored state
    /// hashes to the stored tip's `state_root`. Returns `None` for an empty store.
    fn open_ledger(&self, chain_id: &ChainId) -> Result<Option<Ledger>, StorageError> {
        let Some(tip) = self.tip()? else {
            return Ok(None);
        };
        if &tip.chain_id != chain_id {
            return Err(StorageError::WrongChain {
                expected: chain_id.to_string(),
                found: tip.chain_id.to_string(),
            });
        }
        let state = self.load_state()?;
        let ledger = Ledger::from_state(chain_id.clone(), tip.clone(), state);
        let computed = ledger.state_root();
        if computed != tip.state_root {
            return Err(StorageError::StateRootMismatch {
                height: tip.height,
                stored: tip.state_root,
                computed,
            });
        }
        // The book index is derived from the state; it must list exactly the
        // state's book entries.
        let expected: Vec<BookIndexKey> = ledger
            .state()
            .keys()
            .filter_map(|k| match k {
                StateKey::BookEntry(sell, buy, price, id) => {
                    Some(BookIndexKey::new(sell, buy, *price, *id))
                }
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let stored = self.book_index()?;
        if stored != expected {
            return Err(StorageError::Corrupt {
                what: "book index",
                detail: format!(
                    "{} entries stored, the state has {} book entries",
                    stored.len(),
                    expected.len()
                ),
            });
        }
        Ok(Some(ledger))
    }
}

const TIP_KEY: &[u8] = b"tip";
const CONSENSUS_KEY: &[u8] = b"consensus";
/// Evidence is kept in the meta column under this prefix, then the height
/// (big-endian) and the validator's key.
const EVIDENCE_PREFIX: &[u8] = b"evidence/";
/// The kept day ends are indexed in the meta column under this prefix, then
/// the day (big-endian), to the height of the day's last block.
const DAY_END_PREFIX: &[u8] = b"dayend/";

fn day_end_key(day: u64) -> Vec<u8> {
    [DAY_END_PREFIX, &day.to_be_bytes()].concat()
}

/// What [`ChainStore::scan_prefix`] calls for each entry it visits.
type PrefixVisit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StorageError> + 'a;

/// Undo or day records: each key with its old value (`None`: no entry).
type UndoRecords = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// An undo or day record's value: `0` for no entry, `1 ‖ value`.
fn undo_value(old: Option<&[u8]>) -> Vec<u8> {
    match old {
        Some(v) => [&[1u8][..], v].concat(),
        None => vec![0],
    }
}

fn read_undo_value(what: Cf, v: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
    match v.split_first() {
        Some((1, rest)) => Ok(Some(rest.to_vec())),
        Some((0, [])) => Ok(None),
        _ => Err(StorageError::Corrupt {
            what: what.name(),
            detail: "a malformed record".to_string(),
        }),
    }
}

/// The day whose records the store is writing, and some keys that already
/// have one. A key changed many times in a day keeps one record, its first
/// old value: the record is written with [`Kv::put_first`], so writing it
/// again changes nothing, and `recorded` only saves rewriting the keys
/// changed most recently. It is bounded: a day of new keys (every
/// transaction's nonce is one) must not grow a node's memory.
#[derive(Debug, Default)]
struct OpenDay {
    /// `None` before the first day's end the store sees.
    day: Option<u64>,
    recorded: RecentKeys,
}

/// Keys recorded in the open day that [`OpenDay`] remembers at most.
pub const RECENT_DAY_KEYS: usize = 1 << 17;

/// A set of at most [`RECENT_DAY_KEYS`] keys; the oldest go first.
#[derive(Debug, Default)]
struct RecentKeys {
    set: BTreeSet<Vec<u8>>,
    order: std::collections::VecDeque<Vec<u8>>,
}

impl RecentKeys {
    fn contains(&self, k: &[u8]) -> bool {
        self.set.contains(k)
    }

    fn insert(&mut self, k: Vec<u8>) {
        if self.set.insert(k.clone()) {
            self.order.push_back(k);
        }
        while self.order.len() > RECENT_DAY_KEYS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    fn clear(&mut self) {
        self.set.clear();
        self.order.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.set.len()
    }
}

/// What one block adds to the day records, applied to [`OpenDay`] once the
/// block is durably written.
struct DayWrite {
    day: u64,
    new_day: bool,
    recorded: Vec<Vec<u8>>,
}

fn evidence_key(height: u64, validator: &merit_chain::PublicKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(EVIDENCE_PREFIX.len() + 8 + 32);
    k.extend_from_slice(EVIDENCE_PREFIX);
    k.extend_from_slice(&height.to_be_bytes());
    k.extend_from_slice(&validator.0);
    k
}

type StoredReceipts = BoundedVec<Receipt, MAX_BLOCK_TXS>;
/// The largest stored chunk of block events.
const MAX_BLOCK_EVENT_CHUNK_BYTES: usize = RECEIPT_EVENTS_DECODE_BOUND * 512;

/// The chain store over a key-value backend: the one implementation of
/// [`Storage`].
#[derive(Debug)]
pub struct ChainStore<K: Kv> {
    kv: K,
    /// Loaded from the store on the first commit.
    open_day: Mutex<Option<OpenDay>>,
}

impl<K: Kv> ChainStore<K> {
    pub fn new(kv: K) -> Self {
        ChainStore {
            kv,
            open_day: Mutex::new(None),
        }
    }

    /// The backend.
    pub fn kv(&self) -> &K {
        &self.kv
    }

    fn get_decoded<T: Decode<()>>(
        &self,
        cf: Cf,
        key: &[u8],
        limit: usize,
    ) -> Result<Option<T>, StorageError> {
        match self.kv.get(cf, key)? {
            None => Ok(None),
            Some(bytes) => {
                encoding::decode(&bytes, limit)
                    .map(Some)
                    .map_err(|e| StorageError::Corrupt {
                        what: cf.name(),
                        detail: e.to_string(),
                    })
            }
        }
    }

    /// Keeps what block `height` changed, to prove past states, and drops
    /// the record that leaves the retention window with it.
    fn put_undo(
        &self,
        batch: &mut K::Batch,
        height: u64,
        outcome: &BlockOutcome,
    ) -> Result<(), StorageError> {
        let hkey = height.to_be_bytes();
        for (k, old) in &outcome.undo {
            let mut key = Vec::with_capacity(10 + k.len());
            key.extend_from_slice(&hkey);
            key.extend_from_slice(&bucket_of_key(k).to_be_bytes());
            key.extend_from_slice(k);
            self.kv
                .put(batch, Cf::Undo, &key, &undo_value(old.as_deref()))?;
        }
        let buckets: BoundedVec<(u32, Hash32), UNDO_BUCKETS_BOUND> =
            BoundedVec::new(outcome.bucket_undo.clone()).map_err(|b| StorageError::Corrupt {
                what: "bucket undo",
                detail: format!("{} buckets changed by one block", b.len()),
            })?;
        self.kv
            .put(batch, Cf::BucketUndo, &hkey, &encoding::encode(&buckets))?;
        if let Some(gone) = height
            .checked_sub(PROOF_RETENTION_BLOCKS)
            .filter(|h| *h > 0)
        {
            let prefix = gone.to_be_bytes();
            let mut old_keys = Vec::new();
            self.scan_prefix(Cf::Undo, &prefix, &mut |k, _| {
                old_keys.push(k.to_vec());
                Ok(())
            })?;
            for k in old_keys {
                self.kv.delete(batch, Cf::Undo, &k)?;
            }
            self.kv.delete(batch, Cf::BucketUndo, &prefix)?;
        }
        Ok(())
    }

    /// Visits every entry of `cf` whose key starts with `prefix`, in key
    /// order.
    fn scan_prefix(
        &self,
        cf: Cf,
        prefix: &[u8],
        visit: &mut PrefixVisit<'_>,
    ) -> Result<(), StorageError> {
        self.kv
            .scan(cf, Some(prefix), Direction::Forward, &mut |k, v| {
                if !k.starts_with(prefix) {
                    return Ok(false);
                }
                visit(k, v)?;
                Ok(true)
            })
    }

    /// The undo or day records under `prefix` of `cf`: each key (the rest of
    /// the stored key) with its old value.
    fn undo_records(&self, cf: Cf, prefix: &[u8]) -> Result<UndoRecords, StorageError> {
        let mut entries = Vec::new();
        self.scan_prefix(cf, prefix, &mut |k, v| {
            entries.push((k[prefix.len()..].to_vec(), read_undo_value(cf, v)?));
            Ok(())
        })?;
        Ok(entries)
    }

    /// The kept day ends, from the index in the meta column.
    fn read_day_ends(&self) -> Result<Vec<(u64, u64)>, StorageError> {
        let mut out = Vec::new();
        self.kv.scan(
            Cf::Meta,
            Some(DAY_END_PREFIX),
            Direction::Forward,
            &mut |k, v| {
                let Some(day) = k.strip_prefix(DAY_END_PREFIX) else {
                    return Ok(false);
                };
                let corrupt = || StorageError::Corrupt {
                    what: "day-end index",
                    detail: format!("{} key bytes, {} value bytes", k.len(), v.len()),
                };
                let day = u64::from_be_bytes(day.try_into().map_err(|_| corrupt())?);
                let height = u64::from_be_bytes(v.try_into().map_err(|_| corrupt())?);
                out.push((day, height));
                Ok(true)
            },
        )?;
        Ok(out)
    }

    /// The open day as stored: the newest kept day end. No key is known
    /// to be recorded yet; `put_first` keeps the records already there.
    fn load_open_day(&self) -> Result<OpenDay, StorageError> {
        let Some(&(day, _)) = self.read_day_ends()?.last() else {
            return Ok(OpenDay::default());
        };
        Ok(OpenDay {
            day: Some(day),
            recorded: RecentKeys::default(),
        })
    }

    /// Keeps the state at each UTC day's end for `PROOF_RETENTION_DAYS`
    /// (ADR 014): on a day's first block, the bucket hashes of the day that
    /// ended; for every block, the value at the open day's end of each key
    /// the block is the first since then to change. Drops the day that
    /// leaves the window in the same batch.
    fn put_day_records(
        &self,
        batch: &mut K::Batch,
        outcome: &BlockOutcome,
        open: &OpenDay,
    ) -> Result<Option<DayWrite>, StorageError> {
        let (day, new_day) = match (&outcome.day_end, open.day) {
            (Some(end), _) => {
                self.put_day_end(batch, end)?;
                (end.day, true)
            }
            (None, Some(day)) => (day, false),
            (None, None) => return Ok(None),
        };
        let mut recorded = Vec::new();
        for (k, old) in &outcome.undo {
            if !new_day && open.recorded.contains(k) {
                continue;
            }
            let key = [&day.to_be_bytes()[..], &bucket_of_key(k).to_be_bytes(), k].concat();
            self.kv
                .put_first(batch, Cf::DayUndo, &key, &undo_value(old.as_deref()))?;
            recorded.push(k.clone());
        }
        Ok(Some(DayWrite {
            day,
            new_day,
            recorded,
        }))
    }

    fn put_day_end(&self, batch: &mut K::Batch, end: &DayEnd) -> Result<(), StorageError> {
        let hashes: Vec<u8> = end.buckets.iter().flat_map(|h| h.0).collect();
        let dkey = end.day.to_be_bytes();
        self.kv.put(batch, Cf::DaySnapshot, &dkey, &hashes)?;
        self.kv.put(
            batch,
            Cf::Meta,
            &day_end_key(end.day),
            &end.height.to_be_bytes(),
        )?;
        for (gone, _) in self.read_day_ends()? {
            if gone + PROOF_RETENTION_DAYS > end.day {
                break;
            }
            // One range delete for the day's records, however many keys
            // changed that day.
            let prefix = gone.to_be_bytes();
            let next = gone.saturating_add(1).to_be_bytes();
            self.kv.delete_range(batch, Cf::DayUndo, &prefix, &next)?;
            self.kv.delete(batch, Cf::DaySnapshot, &prefix)?;
            self.kv.delete(batch, Cf::Meta, &day_end_key(gone))?;
        }
        Ok(())
    }

    fn put_state_changes(
        &self,
        batch: &mut K::Batch,
        outcome: &BlockOutcome,
    ) -> Result<(), StorageError> {
        for (k, v) in &outcome.encoded_changes {
            match v {
                Some(v) => self.kv.put(batch, Cf::State, k, v)?,
                None => self.kv.delete(batch, Cf::State, k)?,
            }
        }
        for (k, v) in &outcome.changes {
            if let StateKey::BookEntry(sell, buy, price, id) = k {
                let key = BookIndexKey::new(sell, buy, *price, *id);
                match v {
                    Some(_) => self.kv.put(batch, Cf::Book, &key.0, &[])?,
                    None => self.kv.delete(batch, Cf::Book, &key.0)?,
                }
            }
        }
        Ok(())
    }
}

/// Most buckets one block changes: all of them.
const UNDO_BUCKETS_BOUND: usize = 1 << merit_chain::commitment::BUCKET_BITS;

/// The key of an offer in the stored book index: the pair, the price as a
/// big-endian fixed-point number, then the offer id. The byte order over
/// these keys is match order, so a walk of one book is a prefix scan.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BookIndexKey(pub [u8; BOOK_INDEX_KEY_BYTES]);

/// 12 + 12 bytes of pair, 24 of price, 8 of id.
pub const BOOK_INDEX_KEY_BYTES: usize = 56;
const BOOK_PAIR_BYTES: usize = 24;

impl std::fmt::Debug for BookIndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BookIndexKey({})", hex::encode(self.0))
    }
}

impl BookIndexKey {
    pub fn new(sell: &Symbol, buy: &Symbol, price: Price, id: u64) -> Self {
        let mut k = [0u8; BOOK_INDEX_KEY_BYTES];
        k[..BOOK_PAIR_BYTES].copy_from_slice(&book_pair_prefix(sell, buy));
        k[24..48].copy_from_slice(&price_order_bytes(price));
        k[48..].copy_from_slice(&id.to_be_bytes());
        BookIndexKey(k)
    }

    /// The offer id at the end of the key.
    pub fn offer_id(&self) -> u64 {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.0[48..]);
        u64::from_be_bytes(id)
    }
}

fn book_pair_prefix(sell: &Symbol, buy: &Symbol) -> [u8; BOOK_PAIR_BYTES] {
    // Symbols are 2 to 12 bytes of A-Z0-9, zero-padded: the pair is a
    // fixed-width prefix that no other pair's prefix extends.
    let mut p = [0u8; BOOK_PAIR_BYTES];
    p[..sell.as_str().len()].copy_from_slice(sell.as_str().as_bytes());
    p[12..12 + buy.as_str().len()].copy_from_slice(buy.as_str().as_bytes());
    p
}

/// `floor(n · 2^128 / d)` as 24 big-endian bytes: a byte order that is
/// exactly the order of the values `n/d`.
///
/// Two different prices `a/b < c/e` with terms below 2^64 differ by at least
/// `1/(b·e) > 2^-128`, so their values times 2^128 differ by more than 1 and
/// their floors differ: distinct values get distinct keys in the same order,
/// and equal values (one reduced form) get equal keys. `d = 0` (only the
/// range bound [`Price::MAX`]) maps past every price.
pub fn price_order_bytes(price: Price) -> [u8; 24] {
    let mut out = [0u8; 24];
    if price.d == 0 {
        return [0xff; 24];
    }
    let d = u128::from(price.d);
    let whole = price.n / price.d;
    // Long division of the remainder by d in base 2^64, two digits.
    let r0 = u128::from(price.n % price.d);
    let q1 = (r0 << 64) / d;
    let r1 = (r0 << 64) % d;
    let q0 = (r1 << 64) / d;
    out[..8].copy_from_slice(&whole.to_be_bytes());
    // q1 and q0 are digits below 2^64 because r0, r1 < d.
    out[8..16].copy_from_slice(&(q1 as u64).to_be_bytes());
    out[16..].copy_from_slice(&(q0 as u64).to_be_bytes());
    out
}

fn history_key(account: &Address, loc: TxLocation) -> [u8; 44] {
    let mut k = [0u8; 44];
    k[..32].copy_from_slice(&account.0);
    k[32..40].copy_from_slice(&loc.height.to_be_bytes());
    k[40..].copy_from_slice(&loc.index.to_be_bytes());
    k
}

fn stored_book_key(k: &[u8]) -> Result<BookIndexKey, StorageError> {
    let bytes: [u8; BOOK_INDEX_KEY_BYTES] = k.try_into().map_err(|_| StorageError::Corrupt {
        what: "book index",
        detail: format!("a key of {} bytes", k.len()),
    })?;
    Ok(BookIndexKey(bytes))
}

impl<K: Kv + std::fmt::Debug> Storage for ChainStore<K> {
    fn commit_genesis(
        &self,
        header: &BlockHeader,
        outcome: &BlockOutcome,
    ) -> Result<(), StorageError> {
        if let Some(tip) = self.tip()? {
            return Err(StorageError::OutOfOrder {
                tip: tip.height,
                got: 0,
            });
        }
        let mut batch = K::Batch::default();
        self.put_state_changes(&mut batch, outcome)?;
        self.kv
            .put(&mut batch, Cf::Meta, TIP_KEY, &encoding::encode(header))?;
        self.kv.write(batch, true)
    }

    fn commit_block(
        &self,
        block: &Block,
        cert: Option<&CommitCertificate>,
        outcome: &BlockOutcome,
    ) -> Result<(), StorageError> {
        let height = block.header.height;
        let tip = self.tip()?.map(|t| t.height);
        if tip != Some(height.wrapping_sub(1)) || outcome.height != height {
            return Err(StorageError::OutOfOrder {
                tip: tip.unwrap_or(0),
                got: height,
            });
        }
        let hkey = height.to_be_bytes();
        let kv = &self.kv;
        let mut batch = K::Batch::default();
        self.put_state_changes(&mut batch, outcome)?;
        self.put_undo(&mut batch, height, outcome)?;
        let mut open_day = self.open_day.lock().map_err(|_| StorageError::Failed {
            detail: "an earlier commit panicked".to_string(),
        })?;
        if open_day.is_none() {
            *open_day = Some(self.load_open_day()?);
        }
        let open = open_day.get_or_insert_with(OpenDay::default);
        let day_write = self.put_day_records(&mut batch, outcome, open)?;
        kv.put(&mut batch, Cf::Blocks, &hkey, &block.to_bytes())?;
        if let Some(cert) = cert {
            kv.put(&mut batch, Cf::Certs, &hkey, &encoding::encode(cert))?;
        }
        kv.put(
            &mut batch,
            Cf::Receipts,
            &hkey,
            &encoding::encode(&outcome.receipts),
        )?;
        for (i, chunk) in outcome
            .block_events
            .chunks(RECEIPT_EVENTS_DECODE_BOUND)
            .enumerate()
        {
            let key = [&hkey[..], &(i as u32).to_be_bytes()].concat();
            kv.put(
                &mut batch,
                Cf::BlockEvents,
                &key,
                &encoding::encode(&chunk.to_vec()),
            )?;
        }
        let mut indexed_here = BTreeSet::new();
        for (i, (tx, receipt)) in block.txs.iter().zip(&outcome.receipts).enumerate() {
            let loc = TxLocation {
                height,
                index: u32::try_from(i).unwrap_or(u32::MAX),
            };
            // A rejected copy of a transaction never hides the first one.
            let first = indexed_here.insert(receipt.tx_hash)
                && (receipt.code().is_none() || kv.get(Cf::TxIdx, &receipt.tx_hash.0)?.is_none());
            if first {
                kv.put(
                    &mut batch,
                    Cf::TxIdx,
                    &receipt.tx_hash.0,
                    &encoding::encode(&loc),
                )?;
            }
            let mut accounts: BTreeSet<Address> =
                receipt.events().iter().flat_map(|e| e.accounts()).collect();
            accounts.insert(tx.body.sender);
            for a in accounts {
                kv.put(
                    &mut batch,
                    Cf::History,
                    &history_key(&a, loc),
                    &receipt.tx_hash.0,
                )?;
            }
        }
        // An account whose own lots expired sees the block in its history.
        let expired: BTreeSet<Address> = outcome
            .block_events
            .iter()
            .filter_map(|e| match e {
                Event::LotExpired {
                    holder: merit_chain::state::LotHolder::Account(a),
                    ..
                } => Some(a.address),
                _ => None,
            })
            .collect();
        for a in expired {
            let loc = TxLocation {
                height,
                index: BLOCK_EVENTS_INDEX,
            };
            kv.put(&mut batch, Cf::History, &history_key(&a, loc), &[])?;
        }
        kv.put(
            &mut batch,
            Cf::Meta,
            TIP_KEY,
            &encoding::encode(&block.header),
        )?;
        kv.write(batch, true)?;
        if let Some(w) = day_write {
            if w.new_day {
                open.day = Some(w.day);
                open.recorded.clear();
            }
            for k in w.recorded {
                open.recorded.insert(k);
            }
        }
        Ok(())
    }

    fn tip(&self) -> Result<Option<BlockHeader>, StorageError> {
        self.get_decoded(Cf::Meta, TIP_KEY, MAX_HEADER_BYTES)
    }

    fn order_book(
        &self,
        sell: &Symbol,
        buy: &Symbol,
        limit: usize,
    ) -> Result<Vec<u64>, StorageError> {
        let prefix = book_pair_prefix(sell, buy);
        let mut out = Vec::new();
        self.kv
            .scan(Cf::Book, Some(&prefix), Direction::Forward, &mut |k, _| {
                if out.len() >= limit || !k.starts_with(&prefix) {
                    return Ok(false);
                }
                out.push(stored_book_key(k)?.offer_id());
                Ok(true)
            })?;
        Ok(out)
    }

    fn book_index(&self) -> Result<Vec<BookIndexKey>, StorageError> {
        let mut out = Vec::new();
        self.kv
            .scan(Cf::Book, None, Direction::Forward, &mut |k, _| {
                out.push(stored_book_key(k)?);
                Ok(true)
            })?;
        Ok(out)
    }

    fn save_consensus_state(&self, bytes: &[u8]) -> Result<(), StorageError> {
        let mut batch = K::Batch::default();
        self.kv.put(&mut batch, Cf::Meta, CONSENSUS_KEY, bytes)?;
        self.kv.write(batch, true)
    }

    fn consensus_state(&self) -> Result<Option<Vec<u8>>, StorageError> {
        self.kv.get(Cf::Meta, CONSENSUS_KEY)
    }

    fn save_evidence(&self, evidence: &Evidence) -> Result<(), StorageError> {
        let mut batch = K::Batch::default();
        let key = evidence_key(evidence.height(), &evidence.validator());
        self.kv
            .put(&mut batch, Cf::Meta, &key, &evidence.to_bytes())?;
        self.kv.write(batch, true)
    }

    fn evidence(&self, from_height: u64, limit: usize) -> Result<Vec<Evidence>, StorageError> {
        let mut start = EVIDENCE_PREFIX.to_vec();
        start.extend_from_slice(&from_height.to_be_bytes());
        let mut out = Vec::new();
        self.kv
            .scan(Cf::Meta, Some(&start), Direction::Forward, &mut |k, v| {
                if !k.starts_with(EVIDENCE_PREFIX) || out.len() >= limit {
                    return Ok(false);
                }
                let e = Evidence::from_bytes(v).map_err(|e| StorageError::Corrupt {
                    what: "evidence",
                    detail: e.to_string(),
                })?;
                out.push(e);
                Ok(true)
            })?;
        Ok(out)
    }

    fn load_state(&self) -> Result<StateMap, StorageError> {
        let mut state = StateMap::new();
        self.kv
            .scan(Cf::State, None, Direction::Forward, &mut |k, v| {
                let corrupt = |e: encoding::DecodeError| StorageError::Corrupt {
                    what: "state entry",
                    detail: e.to_string(),
                };
                let key: StateKey = encoding::decode(k, MAX_STATE_VALUE_BYTES).map_err(corrupt)?;
                let value: StateValue =
                    encoding::decode(v, MAX_STATE_VALUE_BYTES).map_err(corrupt)?;
                state.insert(key, value);
                Ok(true)
            })?;
        Ok(state)
    }

    fn block(&self, height: u64) -> Result<Option<Block>, StorageError> {
        self.get_decoded(Cf::Blocks, &height.to_be_bytes(), MAX_BLOCK_BYTES)
    }

    fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, StorageError> {
        self.get_decoded(Cf::Certs, &height.to_be_bytes(), MAX_CERT_BYTES)
    }

    fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>, StorageError> {
        let r: Option<StoredReceipts> = self.get_decoded(
            Cf::Receipts,
            &height.to_be_bytes(),
            MAX_BLOCK_TXS * MAX_RECEIPT_BYTES,
        )?;
        Ok(r.map(BoundedVec::into_inner))
    }

    fn block_events(&self, height: u64) -> Result<Vec<Event>, StorageError> {
        let prefix = height.to_be_bytes();
        let mut events = Vec::new();
        self.scan_prefix(Cf::BlockEvents, &prefix, &mut |_, v| {
            let chunk: BlockEventChunk =
                encoding::decode(v, MAX_BLOCK_EVENT_CHUNK_BYTES).map_err(|e| {
                    StorageError::Corrupt {
                        what: Cf::BlockEvents.name(),
                        detail: e.to_string(),
                    }
                })?;
            events.extend(chunk.into_inner());
            Ok(())
        })?;
        Ok(events)
    }

    fn block_undo(&self, height: u64, bucket: u16) -> Result<Option<BlockUndo>, StorageError> {
        let hkey = height.to_be_bytes();
        let Some(buckets) = self.get_decoded::<BoundedVec<(u32, Hash32), UNDO_BUCKETS_BOUND>>(
            Cf::BucketUndo,
            &hkey,
            UNDO_BUCKETS_BOUND * 48,
        )?
        else {
            return Ok(None);
        };
        let prefix = [&hkey[..], &bucket.to_be_bytes()].concat();
        Ok(Some(BlockUndo {
            entries: self.undo_records(Cf::Undo, &prefix)?,
            buckets: buckets.into_inner(),
        }))
    }

    fn day_ends(&self) -> Result<Vec<(u64, u64)>, StorageError> {
        self.read_day_ends()
    }

    fn day_snapshot(&self, day: u64) -> Result<Option<Vec<Hash32>>, StorageError> {
        let Some(bytes) = self.kv.get(Cf::DaySnapshot, &day.to_be_bytes())? else {
            return Ok(None);
        };
        if bytes.len() != UNDO_BUCKETS_BOUND * 32 {
            return Err(StorageError::Corrupt {
                what: Cf::DaySnapshot.name(),
                detail: format!("{} bytes for day {day}", bytes.len()),
            });
        }
        Ok(Some(
            bytes
                .chunks_exact(32)
                .map(|c| Hash32(c.try_into().unwrap_or([0; 32])))
                .collect(),
        ))
    }

    fn day_records(&self, day: u64, bucket: u16) -> Result<BlockUndo, StorageError> {
        let prefix = [&day.to_be_bytes()[..], &bucket.to_be_bytes()].concat();
        Ok(BlockUndo {
            entries: self.undo_records(Cf::DayUndo, &prefix)?,
            buckets: Vec::new(),
        })
    }

    fn tx_location(&self, hash: &Hash32) -> Result<Option<TxLocation>, StorageError> {
        self.get_decoded(Cf::TxIdx, &hash.0, 64)
    }

    fn history(
        &self,
        account: &Address,
        before: Option<TxLocation>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StorageError> {
        let limit = limit.min(MAX_HISTORY_PAGE);
        let start = match before {
            // Keys sort by (height, index); step one below the cursor.
            Some(loc) if loc.height == 0 && loc.index == 0 => return Ok(Vec::new()),
            Some(loc) => {
                let prev = if loc.index > 0 {
                    TxLocation {
                        height: loc.height,
                        index: loc.index - 1,
                    }
                } else {
                    TxLocation {
                        height: loc.height - 1,
                        index: u32::MAX,
                    }
                };
                history_key(account, prev)
            }
            None => history_key(
                account,
                TxLocation {
                    height: u64::MAX,
                    index: u32::MAX,
                },
            ),
        };
        let mut out = Vec::new();
        self.kv.scan(
            Cf::History,
            Some(&start),
            Direction::Reverse,
            &mut |k, v| {
                if out.len() >= limit || k.len() != 44 || k[..32] != account.0 {
                    return Ok(false);
                }
                let height = u64::from_be_bytes(k[32..40].try_into().unwrap_or([0; 8]));
                let index = u32::from_be_bytes(k[40..44].try_into().unwrap_or([0; 4]));
                let tx_hash = match v {
                    [] if index == BLOCK_EVENTS_INDEX => None,
                    _ => Some(Hash32(v.try_into().map_err(|_| StorageError::Corrupt {
                        what: "history entry",
                        detail: format!("{} bytes", v.len()),
                    })?)),
                };
                out.push(HistoryEntry {
                    location: TxLocation { height, index },
                    tx_hash,
                });
                Ok(true)
            },
        )?;
        Ok(out)
    }
}

#[cfg(test)]
mod recent_keys_tests {
    use super::*;

    #[test]
    fn the_open_days_remembered_keys_are_bounded() {
        let mut r = RecentKeys::default();
        for i in 0..(RECENT_DAY_KEYS as u64 + 10) {
            r.insert(i.to_be_bytes().to_vec());
        }
        assert_eq!(r.len(), RECENT_DAY_KEYS);
        assert!(!r.contains(&0u64.to_be_bytes()));
        assert!(r.contains(&(RECENT_DAY_KEYS as u64 + 9).to_be_bytes()));
        r.clear();
        assert_eq!(r.len(), 0);
    }
}

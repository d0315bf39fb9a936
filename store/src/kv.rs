//! The key-value backend a [`ChainStore`](crate::ChainStore) is written over.
//!
//! A backend offers column families of byte keys in byte order, point reads,
//! ordered scans, and atomic batches written synced (durable once the call
//! returns) or not. [`RocksKv`](crate::RocksKv) is RocksDB;
//! [`MemKv`](crate::MemKv) keeps the same data in memory and models a crash:
//! after one, only what was written synced is found again.

use crate::StorageError;

/// The column families of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cf {
    /// The tip header and the consensus state.
    Meta,
    /// State entries: canonical key bytes to canonical value bytes.
    State,
    /// Blocks by big-endian height.
    Blocks,
    /// Commit certificates by big-endian height.
    Certs,
    /// Receipts of a block by big-endian height.
    Receipts,
    /// Transaction hash to its location.
    TxIdx,
    /// `(account, height, index)` to transaction hash.
    History,
    /// The order book in match order (see [`BookIndexKey`](crate::BookIndexKey)).
    Book,
    /// What each recent block changed, to prove past states: big-endian
    /// height ‖ big-endian bucket ‖ state key → the key's value before the
    /// block (ADR 014).
    Undo,
    /// The hash each bucket a recent block changed had before it, by
    /// big-endian height.
    BucketUndo,
    /// A block's own events (lot expiries) by big-endian height ‖
    /// big-endian chunk index, one `BlockEventChunk` each.
    BlockEvents,
    /// The hash of every bucket at the last block of a UTC day, by
    /// big-endian day (ADR 014).
    DaySnapshot,
    /// For every key changed after a day's last block and before the next
    /// day's: big-endian day ‖ big-endian bucket ‖ state key → the key's
    /// value at that day's end.
    DayUndo,
}

impl Cf {
    /// Every column family, in a fixed order.
    pub const ALL: [Cf; 13] = [
        Cf::Meta,
        Cf::State,
        Cf::Blocks,
        Cf::Certs,
        Cf::Receipts,
        Cf::TxIdx,
        Cf::History,
        Cf::Book,
        Cf::Undo,
        Cf::BucketUndo,
        Cf::BlockEvents,
        Cf::DaySnapshot,
        Cf::DayUndo,
    ];

    /// Whether [`Kv::put_first`] may write to it: RocksDB needs the merge
    /// that keeps the first value set when the column family is opened.
    pub fn keeps_first(self) -> bool {
        self == Cf::DayUndo
    }

    /// The column family's name on disk.
    pub fn name(self) -> &'static str {
        match self {
            Cf::Meta => "meta",
            Cf::State => "state",
            Cf::Blocks => "blocks",
            Cf::Certs => "certs",
            Cf::Receipts => "receipts",
            Cf::TxIdx => "txidx",
            Cf::History => "history",
            Cf::Book => "book",
            Cf::Undo => "undo",
            Cf::BucketUndo => "bucket_undo",
            Cf::BlockEvents => "block_events",
            Cf::DaySnapshot => "day_snapshot",
            Cf::DayUndo => "day_undo",
        }
    }

    /// Its position in [`Cf::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which way a scan walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Up from the first key at or above the start.
    Forward,
    /// Down from the last key at or below the start.
    Reverse,
}

/// What a scan visitor answers: go on to the next key, or stop.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StorageError> + 'a;

/// A key-value backend with column families and atomic batches.
pub trait Kv: Send + Sync + 'static {
    /// Writes gathered to be applied together.
    type Batch: Default;

    fn put(
        &self,
        batch: &mut Self::Batch,
        cf: Cf,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageError>;
    /// Writes `value` unless `key` already has a value, in the store or
    /// earlier in the batch: the first value written stays. Needs no read.
    fn put_first(
        &self,
        batch: &mut Self::Batch,
        cf: Cf,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageError>;
    fn delete(&self, batch: &mut Self::Batch, cf: Cf, key: &[u8]) -> Result<(), StorageError>;
    /// Deletes every key of `cf` in `[from, to)`, however many, as one
    /// write of the batch.
    fn delete_range(
        &self,
        batch: &mut Self::Batch,
        cf: Cf,
        from: &[u8],
        to: &[u8],
    ) -> Result<(), StorageError>;
    /// Applies the whole batch or none of it. With `sync`, the batch is
    /// durable when this returns: a crash right after keeps it.
    fn write(&self, batch: Self::Batch, sync: bool) -> Result<(), StorageError>;
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// Visits the keys of `cf` from `start` (the first or last key when
    /// `None`) in `direction`, until the visitor returns `false`.
    fn scan(
        &self,
        cf: Cf,
        start: Option<&[u8]>,
        direction: Direction,
        visit: &mut Visit<'_>,
    ) -> Result<(), StorageError>;
}

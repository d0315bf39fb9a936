//! The RocksDB backend.

use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, Env, IteratorMode, MergeOperands,
    Options, WriteBatch, WriteOptions,
};

use crate::kv::{Cf, Direction, Kv, Visit};
use crate::{ChainStore, StorageError};

/// A RocksDB database with one column family per [`Cf`].
pub struct RocksKv {
    db: DB,
    path: PathBuf,
}

impl std::fmt::Debug for RocksKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RocksKv({})", self.path.display())
    }
}

/// Memory all memtables may hold together.
pub const MEMTABLES_BYTES: usize = 256 << 20;
/// The size at which one column family's memtable is flushed.
pub const MEMTABLE_BYTES: usize = 32 << 20;
/// The block cache shared by every column family.
pub const BLOCK_CACHE_BYTES: usize = 64 << 20;
/// The write-ahead log kept at most: past it, the column families that
/// still hold its oldest records in memtables are flushed, and the log is
/// deleted.
pub const WAL_BYTES: u64 = 512 << 20;

/// The merge of [`Kv::put_first`]: the oldest value of a key stays, and
/// later ones are dropped. Associative, so RocksDB may fold operands in any
/// grouping and get the same answer.
fn keep_first(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    existing
        .map(<[u8]>::to_vec)
        .or_else(|| operands.iter().next().map(<[u8]>::to_vec))
}

/// RocksDB's environment with its flush and compaction threads at the
/// lowest CPU priority.
///
/// Validators write the same blocks, so their memtables fill and flush at
/// the same moments; a flush of 32 MiB takes 300-600 ms of a core. At
/// normal priority, four validators sharing cores stalled consensus for
/// that long at every flush, and a lone validator still loses a core to
/// it while a block waits. At the lowest priority the flush takes what
/// the node's own threads leave; when writes outrun it, RocksDB slows
/// them down, so the background work always gets done.
fn background_env(path: &Path) -> Result<Env, StorageError> {
    let mut env = Env::new().map_err(|source| db_error(path, source))?;
    env.lower_thread_pool_cpu_priority();
    env.lower_high_priority_thread_pool_cpu_priority();
    Ok(env)
}

/// A RocksDB error, for the store at `path`.
fn db_error(path: &Path, source: rocksdb::Error) -> StorageError {
    StorageError::Db {
        path: path.to_path_buf(),
        detail: source.to_string(),
    }
}

/// The chain store on RocksDB: what a node runs on.
pub type RocksStorage = ChainStore<RocksKv>;

impl RocksKv {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // All memtables together stay within this, whatever the load: a
        // full one is flushed. Without it each of the 13 column families
        // could hold two 64 MiB memtables.
        opts.set_db_write_buffer_size(MEMTABLES_BYTES);
        // A log file is deleted only once every column family with records
        // in it has flushed them. A rarely written column family (the day
        // snapshots, the order book under a load of transfers) would pin
        // every log after its last write: RocksDB's own bound is four times
        // all the memtables, 3.5 GiB here, and restarts replay all of it.
        opts.set_max_total_wal_size(WAL_BYTES);
        opts.set_env(&background_env(path)?);
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let cfs = Cf::ALL.iter().map(|cf| {
            let mut o = Options::default();
            o.set_write_buffer_size(MEMTABLE_BYTES);
            let mut table = BlockBasedOptions::default();
            // One cache for every column family, holding index and filter
            // blocks too, so that reads cost what the cache allows and no
            // more memory.
            table.set_block_cache(&cache);
            table.set_cache_index_and_filter_blocks(true);
            table.set_bloom_filter(10.0, false);
            o.set_block_based_table_factory(&table);
            if cf.keeps_first() {
                o.set_merge_operator_associative("merit-keep-first", keep_first);
            }
            ColumnFamilyDescriptor::new(cf.name(), o)
        });
        let db =
            DB::open_cf_descriptors(&opts, path, cfs).map_err(|source| db_error(path, source))?;
        Ok(RocksKv {
            db,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn handle(&self, cf: Cf) -> Result<&rocksdb::ColumnFamily, StorageError> {
        self.db.cf_handle(cf.name()).ok_or(StorageError::Corrupt {
            what: "column family",
            detail: cf.name().to_string(),
        })
    }

    fn db_err(&self, source: rocksdb::Error) -> StorageError {
        db_error(&self.path, source)
    }
}

impl RocksStorage {
    /// Opens (creating if needed) the RocksDB store at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Ok(ChainStore::new(RocksKv::open(path)?))
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        self.kv().path()
    }
}

/// The writes of one batch, gathered and handed to RocksDB in key order.
///
/// A memtable is a skip list that remembers where its last insert landed:
/// a key just after the previous one is found from there in a few steps,
/// while a key anywhere else is searched from the top. A block's history
/// and transaction-index keys arrive in transaction order, which is random
/// in key space, so they are sorted first, per column family. Sorting is
/// stable and never moves a write across a range deletion, so the batch
/// means exactly what its writes in their given order mean.
#[derive(Debug, Default)]
pub struct RocksBatch {
    ops: Vec<Op>,
    bytes: usize,
}

#[derive(Debug)]
enum Op {
    Put(Cf, Vec<u8>, Vec<u8>),
    /// A merge under [`keep_first`].
    PutFirst(Cf, Vec<u8>, Vec<u8>),
    Delete(Cf, Vec<u8>),
    DeleteRange(Cf, Vec<u8>, Vec<u8>),
}

impl Op {
    /// The sort key of a point write; `None` for a range deletion.
    fn point(&self) -> Option<(Cf, &[u8])> {
        match self {
            Op::Put(cf, k, _) | Op::PutFirst(cf, k, _) | Op::Delete(cf, k) => Some((*cf, k)),
            Op::DeleteRange(..) => None,
        }
    }
}

impl RocksBatch {
    /// The writes in the order they go to RocksDB: each run of point
    /// writes between range deletions sorted by column family and key.
    fn ordered(mut self) -> Vec<Op> {
        for run in self.ops.split_mut(|op| op.point().is_none()) {
            run.sort_by(|a, b| a.point().cmp(&b.point()));
        }
        self.ops
    }
}

impl Kv for RocksKv {
    type Batch = RocksBatch;

    fn put(
        &self,
        batch: &mut RocksBatch,
        cf: Cf,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageError> {
        batch.bytes += key.len() + value.len() + 8;
        batch.ops.push(Op::Put(cf, key.to_vec(), value.to_vec()));
        Ok(())
    }

    fn put_first(
        &self,
        batch: &mut RocksBatch,
        cf: Cf,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageError> {
        if !cf.keeps_first() {
            return Err(StorageError::Failed {
                detail: format!("column family {} has no keep-first merge", cf.name()),
            });
        }
        batch.bytes += key.len() + value.len() + 8;
        batch
            .ops
            .push(Op::PutFirst(cf, key.to_vec(), value.to_vec()));
        Ok(())
    }

    fn delete(&self, batch: &mut RocksBatch, cf: Cf, key: &[u8]) -> Result<(), StorageError> {
        batch.bytes += key.len() + 8;
        batch.ops.push(Op::Delete(cf, key.to_vec()));
        Ok(())
    }

    fn delete_range(
        &self,
        batch: &mut RocksBatch,
        cf: Cf,
        from: &[u8],
        to: &[u8],
    ) -> Result<(), StorageError> {
        batch.bytes += from.len() + to.len() + 8;
        batch
            .ops
            .push(Op::DeleteRange(cf, from.to_vec(), to.to_vec()));
        Ok(())
    }

    fn write(&self, batch: RocksBatch, sync: bool) -> Result<(), StorageError> {
        let mut wb = WriteBatch::with_capacity_bytes(batch.bytes + 64);
        for op in batch.ordered() {
            match op {
                Op::Put(cf, k, v) => wb.put_cf(self.handle(cf)?, k, v),
                Op::PutFirst(cf, k, v) => wb.merge_cf(self.handle(cf)?, k, v),
                Op::Delete(cf, k) => wb.delete_cf(self.handle(cf)?, k),
                Op::DeleteRange(cf, from, to) => wb.delete_range_cf(self.handle(cf)?, from, to),
            }
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        self.db.write_opt(wb, &opts).map_err(|e| self.db_err(e))
    }

    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.db
            .get_cf(self.handle(cf)?, key)
            .map_err(|e| self.db_err(e))
    }

    fn scan(
        &self,
        cf: Cf,
        start: Option<&[u8]>,
        direction: Direction,
        visit: &mut Visit<'_>,
    ) -> Result<(), StorageError> {
        let dir = match direction {
            Direction::Forward => rocksdb::Direction::Forward,
            Direction::Reverse => rocksdb::Direction::Reverse,
        };
        let mode = match (start, direction) {
            (Some(k), _) => IteratorMode::From(k, dir),
            (None, Direction::Forward) => IteratorMode::Start,
            (None, Direction::Reverse) => IteratorMode::End,
        };
        for item in self.db.iterator_cf(self.handle(cf)?, mode) {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            if !visit(&k, &v)? {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(kv: &RocksKv, cf: Cf) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        kv.scan(cf, None, Direction::Forward, &mut |k, _| {
            out.push(k.to_vec());
            Ok(true)
        })
        .expect("scan");
        out
    }

    #[test]
    fn a_sorted_batch_means_what_its_writes_mean_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = RocksKv::open(dir.path()).expect("open");
        let mut b = RocksBatch::default();
        kv.put(&mut b, Cf::History, b"k3", b"a").expect("put");
        kv.put(&mut b, Cf::History, b"k1", b"a").expect("put");
        // The same key written twice: the later write wins.
        kv.put(&mut b, Cf::History, b"k2", b"old").expect("put");
        kv.put(&mut b, Cf::History, b"k2", b"new").expect("put");
        kv.delete(&mut b, Cf::History, b"k1").expect("delete");
        // A range deletion removes what came before it, not what follows.
        kv.put(&mut b, Cf::TxIdx, b"r2", b"x").expect("put");
        kv.delete_range(&mut b, Cf::TxIdx, b"r0", b"r9")
            .expect("range");
        kv.put(&mut b, Cf::TxIdx, b"r1", b"y").expect("put");
        kv.write(b, true).expect("write");
        assert_eq!(keys(&kv, Cf::History), vec![b"k2".to_vec(), b"k3".to_vec()]);
        assert_eq!(
            kv.get(Cf::History, b"k2").expect("get"),
            Some(b"new".to_vec())
        );
        assert_eq!(keys(&kv, Cf::TxIdx), vec![b"r1".to_vec()]);
    }

    #[test]
    fn put_first_keeps_the_first_value_across_batches_and_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let kv = RocksKv::open(dir.path()).expect("open");
            let mut b = RocksBatch::default();
            kv.put_first(&mut b, Cf::DayUndo, b"k", b"first")
                .expect("put_first");
            kv.put_first(&mut b, Cf::DayUndo, b"k", b"second")
                .expect("put_first");
            kv.write(b, true).expect("write");
            let mut b = RocksBatch::default();
            kv.put_first(&mut b, Cf::DayUndo, b"k", b"third")
                .expect("put_first");
            kv.put_first(&mut b, Cf::DayUndo, b"j", b"only")
                .expect("put_first");
            kv.write(b, true).expect("write");
            assert_eq!(
                kv.get(Cf::DayUndo, b"k").expect("get"),
                Some(b"first".to_vec())
            );
            // A column family without the merge refuses, and writes nothing.
            let mut b = RocksBatch::default();
            assert!(kv.put_first(&mut b, Cf::History, b"k", b"v").is_err());
            assert!(b.ops.is_empty());
        }
        let kv = RocksKv::open(dir.path()).expect("reopen");
        let mut b = RocksBatch::default();
        kv.put_first(&mut b, Cf::DayUndo, b"k", b"after reopening")
            .expect("put_first");
        kv.write(b, true).expect("write");
        let mut seen = Vec::new();
        kv.scan(Cf::DayUndo, None, Direction::Forward, &mut |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            Ok(true)
        })
        .expect("scan");
        assert_eq!(
            seen,
            vec![
                (b"j".to_vec(), b"only".to_vec()),
                (b"k".to_vec(), b"first".to_vec())
            ]
        );
    }

    /// The nice value of each of this process's threads named `rocksdb:<pool>`.
    #[cfg(target_os = "linux")]
    fn pool_nice(pool: &str) -> Vec<i64> {
        let mut out = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").expect("tasks") {
            let task = task.expect("task").path();
            let Ok(comm) = std::fs::read_to_string(task.join("comm")) else {
                continue;
            };
            if !comm.trim_end().starts_with(&format!("rocksdb:{pool}")) {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(task.join("stat")) else {
                continue;
            };
            // After the command's closing parenthesis come fields 3 onward;
            // the nice value is field 19.
            let rest = &stat[stat.rfind(')').expect("stat") + 1..];
            let nice = rest.split_whitespace().nth(16).expect("nice field");
            out.push(nice.parse().expect("nice"));
        }
        out
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn flushes_and_compactions_run_at_the_lowest_cpu_priority() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = RocksKv::open(dir.path()).expect("open");
        let cf = kv.handle(Cf::History).expect("cf");
        // Two flushes leave two level-0 files; compacting them runs on the
        // low-priority pool, each flush on the high-priority one. A pool's
        // thread lowers its priority when it takes its first job.
        for round in 0..2u8 {
            let mut b = RocksBatch::default();
            for i in 0..100u8 {
                kv.put(&mut b, Cf::History, &[round, i], b"value")
                    .expect("put");
            }
            kv.write(b, false).expect("write");
            kv.db.flush_cf(cf).expect("flush");
        }
        kv.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (high, low) = (pool_nice("high"), pool_nice("low"));
            if high.contains(&19) && low.contains(&19) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "background threads not at nice 19: high {high:?}, low {low:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

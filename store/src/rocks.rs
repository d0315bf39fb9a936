//! The RocksDB backend.

use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamilyDescriptor, DB, IteratorMode, Options, WriteBatch, WriteOptions};

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

/// The chain store on RocksDB: what a node runs on.
pub type RocksStorage = ChainStore<RocksKv>;

impl RocksKv {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = Cf::ALL
            .iter()
            .map(|cf| ColumnFamilyDescriptor::new(cf.name(), Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|source| StorageError::Db {
            path: path.to_path_buf(),
            detail: source.to_string(),
        })?;
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
        StorageError::Db {
            path: self.path.clone(),
            detail: source.to_string(),
        }
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

impl Kv for RocksKv {
    type Batch = WriteBatch;

    fn put(
        &self,
        batch: &mut WriteBatch,
        cf: Cf,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageError> {
        batch.put_cf(self.handle(cf)?, key, value);
        Ok(())
    }

    fn delete(&self, batch: &mut WriteBatch, cf: Cf, key: &[u8]) -> Result<(), StorageError> {
        batch.delete_cf(self.handle(cf)?, key);
        Ok(())
    }

    fn delete_range(
        &self,
        batch: &mut WriteBatch,
        cf: Cf,
        from: &[u8],
        to: &[u8],
    ) -> Result<(), StorageError> {
        batch.delete_range_cf(self.handle(cf)?, from, to);
        Ok(())
    }

    fn write(&self, batch: WriteBatch, sync: bool) -> Result<(), StorageError> {
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        self.db.write_opt(batch, &opts).map_err(|e| self.db_err(e))
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

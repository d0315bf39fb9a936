//! The in-memory backend, with crashes.
//!
//! A [`MemDisk`] is what survives a crash: everything written synced. A
//! [`MemKv`] is one process's view of it, which also holds what was written
//! without sync. Opening the disk again after a crash finds only the durable
//! part. A disk can also be told to fail its next write, as a machine that
//! loses power in the middle of an fsync: the write lands or not, and the
//! process's view stops working.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::kv::{Cf, Direction, Kv, Visit};
use crate::{ChainStore, StorageError};

type Table = BTreeMap<Vec<u8>, Vec<u8>>;
type Tables = [Table; Cf::ALL.len()];

/// One write of a batch.
#[derive(Debug, Clone)]
enum Op {
    Put(Cf, Vec<u8>, Vec<u8>),
    /// A put that leaves an existing value alone.
    PutFirst(Cf, Vec<u8>, Vec<u8>),
    Delete(Cf, Vec<u8>),
    /// Every key in `[from, to)`.
    DeleteRange(Cf, Vec<u8>, Vec<u8>),
}

/// A batch for [`MemKv`].
#[derive(Debug, Default)]
pub struct MemBatch(Vec<Op>);

impl Op {
    fn cf(&self) -> Cf {
        match self {
            Op::Put(cf, ..)
            | Op::PutFirst(cf, ..)
            | Op::Delete(cf, _)
            | Op::DeleteRange(cf, ..) => *cf,
        }
    }
}

fn apply(tables: &mut Tables, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Put(cf, k, v) => {
                tables[cf.index()].insert(k.clone(), v.clone());
            }
            Op::PutFirst(cf, k, v) => {
                tables[cf.index()]
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
            Op::Delete(cf, k) => {
                tables[cf.index()].remove(k);
            }
            Op::DeleteRange(cf, from, to) => {
                let table = &mut tables[cf.index()];
                let gone: Vec<Vec<u8>> = table
                    .range::<[u8], _>((
                        Bound::Included(from.as_slice()),
                        Bound::Excluded(to.as_slice()),
                    ))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in gone {
                    table.remove(&k);
                }
            }
        }
    }
}

/// How the next write fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// The batch reaches the disk, then the process dies.
    AfterWrite,
    /// The process dies before the batch reaches the disk.
    BeforeWrite,
}

/// A write fault waiting to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ArmedFault {
    fault: WriteFault,
    /// Only a batch that writes to this column family alone sets it off
    /// (`Cf::Meta`: the consensus state a replica saves before it votes).
    only: Option<Cf>,
}

#[derive(Debug, Default)]
struct DiskState {
    durable: Tables,
    fault: Option<ArmedFault>,
    /// Bumped on every open: a view of an older opening is dead.
    generation: u64,
    synced_writes: u64,
    unsynced_writes: u64,
}

/// What outlives a process: the durable contents of a store.
#[derive(Debug, Clone, Default)]
pub struct MemDisk(Arc<Mutex<DiskState>>);

impl MemDisk {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, DiskState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens the disk as a new process would: the view holds what was
    /// written synced, and any older view stops working.
    pub fn open(&self) -> MemKv {
        let mut d = self.lock();
        d.generation += 1;
        MemKv {
            disk: self.clone(),
            generation: d.generation,
            visible: Mutex::new(d.durable.clone()),
        }
    }

    /// Opens a chain store on the disk.
    pub fn open_store(&self) -> MemStorage {
        ChainStore::new(self.open())
    }

    /// Makes the next write of the current view fail as `fault` says.
    pub fn fail_next_write(&self, fault: WriteFault) {
        self.lock().fault = Some(ArmedFault { fault, only: None });
    }

    /// Makes the next write that touches `cf` alone fail as `fault` says.
    pub fn fail_next_write_to(&self, cf: Cf, fault: WriteFault) {
        self.lock().fault = Some(ArmedFault {
            fault,
            only: Some(cf),
        });
    }

    /// Whether a write fault is still waiting to happen.
    pub fn fault_pending(&self) -> bool {
        self.lock().fault.is_some()
    }

    /// Forgets a waiting write fault.
    pub fn clear_fault(&self) {
        self.lock().fault = None;
    }

    /// Batches written so far, synced and not.
    pub fn writes(&self) -> (u64, u64) {
        let d = self.lock();
        (d.synced_writes, d.unsynced_writes)
    }
}

/// One process's view of a [`MemDisk`].
#[derive(Debug)]
pub struct MemKv {
    disk: MemDisk,
    generation: u64,
    visible: Mutex<Tables>,
}

/// The chain store in memory: what the simulation runs on.
pub type MemStorage = ChainStore<MemKv>;

impl MemKv {
    fn dead(&self) -> StorageError {
        StorageError::Failed {
            detail: "the process lost its disk (simulated crash)".to_string(),
        }
    }

    fn visible(&self) -> Result<MutexGuard<'_, Tables>, StorageError> {
        if self.disk.lock().generation != self.generation {
            return Err(self.dead());
        }
        Ok(self.visible.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Kv for MemKv {
    type Batch = MemBatch;

    fn put(
        &self,
        batch: &mut MemBatch,
        cf: Cf,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageError> {
        batch.0.push(Op::Put(cf, key.to_vec(), value.to_vec()));
        Ok(())
    }

    fn put_first(
        &self,
        batch: &mut MemBatch,
        cf: Cf,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageError> {
        batch.0.push(Op::PutFirst(cf, key.to_vec(), value.to_vec()));
        Ok(())
    }

    fn delete(&self, batch: &mut MemBatch, cf: Cf, key: &[u8]) -> Result<(), StorageError> {
        batch.0.push(Op::Delete(cf, key.to_vec()));
        Ok(())
    }

    fn delete_range(
        &self,
        batch: &mut MemBatch,
        cf: Cf,
        from: &[u8],
        to: &[u8],
    ) -> Result<(), StorageError> {
        batch
            .0
            .push(Op::DeleteRange(cf, from.to_vec(), to.to_vec()));
        Ok(())
    }

    fn write(&self, batch: MemBatch, sync: bool) -> Result<(), StorageError> {
        let mut visible = self.visible()?;
        let mut disk = self.disk.lock();
        let fires = disk.fault.is_some_and(|f| {
            f.only
                .is_none_or(|cf| batch.0.iter().all(|op| op.cf() == cf))
        });
        if let Some(ArmedFault { fault, .. }) = disk.fault.take_if(|_| fires) {
            if fault == WriteFault::AfterWrite {
                apply(&mut disk.durable, &batch.0);
                disk.synced_writes += 1;
            }
            // The process is gone: its view must not be used again.
            disk.generation += 1;
            return Err(StorageError::Failed {
                detail: format!("power lost during a write ({fault:?})"),
            });
        }
        apply(&mut visible, &batch.0);
        if sync {
            apply(&mut disk.durable, &batch.0);
            disk.synced_writes += 1;
        } else {
            disk.unsynced_writes += 1;
        }
        Ok(())
    }

    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.visible()?[cf.index()].get(key).cloned())
    }

    fn scan(
        &self,
        cf: Cf,
        start: Option<&[u8]>,
        direction: Direction,
        visit: &mut Visit<'_>,
    ) -> Result<(), StorageError> {
        // Copied out first, so the visitor may read the store again.
        let rows: Vec<(Vec<u8>, Vec<u8>)> = {
            let tables = self.visible()?;
            let table = &tables[cf.index()];
            let collect = |it: &mut dyn Iterator<Item = (&Vec<u8>, &Vec<u8>)>| {
                it.map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()
            };
            match (direction, start) {
                (Direction::Forward, None) => collect(&mut table.iter()),
                (Direction::Forward, Some(s)) => {
                    collect(&mut table.range::<[u8], _>((Bound::Included(s), Bound::Unbounded)))
                }
                (Direction::Reverse, None) => collect(&mut table.iter().rev()),
                (Direction::Reverse, Some(s)) => collect(
                    &mut table
                        .range::<[u8], _>((Bound::Unbounded, Bound::Included(s)))
                        .rev(),
                ),
            }
        };
        for (k, v) in rows {
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

    fn put(kv: &MemKv, key: &[u8], sync: bool) -> Result<(), StorageError> {
        let mut b = MemBatch::default();
        kv.put(&mut b, Cf::Meta, key, b"v")?;
        kv.write(b, sync)
    }

    #[test]
    fn put_first_keeps_the_first_value() {
        let disk = MemDisk::new();
        let kv = disk.open();
        let mut b = MemBatch::default();
        kv.put_first(&mut b, Cf::DayUndo, b"k", b"first").unwrap();
        kv.put_first(&mut b, Cf::DayUndo, b"k", b"second").unwrap();
        kv.write(b, true).unwrap();
        let mut b = MemBatch::default();
        kv.put_first(&mut b, Cf::DayUndo, b"k", b"third").unwrap();
        kv.write(b, true).unwrap();
        assert_eq!(kv.get(Cf::DayUndo, b"k").unwrap(), Some(b"first".to_vec()));
        assert_eq!(
            disk.open().get(Cf::DayUndo, b"k").unwrap(),
            Some(b"first".to_vec())
        );
    }

    #[test]
    fn a_range_delete_removes_exactly_its_half_open_range_and_survives_a_crash() {
        let disk = MemDisk::new();
        let kv = disk.open();
        for k in [&b"a"[..], b"b", b"b1", b"c", b"d"] {
            put(&kv, k, true).unwrap();
        }
        let mut b = MemBatch::default();
        kv.delete_range(&mut b, Cf::Meta, b"b", b"d").unwrap();
        kv.write(b, true).unwrap();
        let kv = disk.open();
        let left: Vec<bool> = [&b"a"[..], b"b", b"b1", b"c", b"d"]
            .iter()
            .map(|k| kv.get(Cf::Meta, k).unwrap().is_some())
            .collect();
        assert_eq!(left, [true, false, false, false, true]);
    }

    #[test]
    fn a_crash_keeps_synced_writes_only() {
        let disk = MemDisk::new();
        let kv = disk.open();
        put(&kv, b"synced", true).unwrap();
        put(&kv, b"unsynced", false).unwrap();
        assert!(kv.get(Cf::Meta, b"unsynced").unwrap().is_some());
        let kv = disk.open();
        assert!(kv.get(Cf::Meta, b"synced").unwrap().is_some());
        assert_eq!(kv.get(Cf::Meta, b"unsynced").unwrap(), None);
    }

    #[test]
    fn a_failed_write_lands_or_not_and_kills_the_view() {
        let disk = MemDisk::new();
        let kv = disk.open();
        disk.fail_next_write(WriteFault::BeforeWrite);
        assert!(put(&kv, b"lost", true).is_err());
        assert!(kv.get(Cf::Meta, b"lost").is_err(), "the view is dead");
        let kv = disk.open();
        assert_eq!(kv.get(Cf::Meta, b"lost").unwrap(), None);

        disk.fail_next_write(WriteFault::AfterWrite);
        assert!(put(&kv, b"kept", true).is_err());
        assert!(put(&kv, b"after", true).is_err(), "nothing after the crash");
        let kv = disk.open();
        assert!(kv.get(Cf::Meta, b"kept").unwrap().is_some());
        assert_eq!(kv.get(Cf::Meta, b"after").unwrap(), None);
    }

    #[test]
    fn a_fault_for_one_column_family_waits_for_a_write_to_it_alone() {
        let disk = MemDisk::new();
        let kv = disk.open();
        disk.fail_next_write_to(Cf::Meta, WriteFault::BeforeWrite);
        let mut b = MemBatch::default();
        kv.put(&mut b, Cf::Meta, b"tip", b"v").unwrap();
        kv.put(&mut b, Cf::Blocks, b"1", b"v").unwrap();
        kv.write(b, true).unwrap();
        assert!(disk.fault_pending());
        assert!(put(&kv, b"consensus", true).is_err());
        assert!(!disk.fault_pending());
    }

    #[test]
    fn an_older_view_stops_when_the_disk_is_opened_again() {
        let disk = MemDisk::new();
        let old = disk.open();
        let _new = disk.open();
        assert!(put(&old, b"k", true).is_err());
    }

    #[test]
    fn scans_walk_both_ways_from_a_start() {
        let disk = MemDisk::new();
        let kv = disk.open();
        for k in [b"a", b"b", b"c", b"d"] {
            put(&kv, k, true).unwrap();
        }
        let walk = |start: Option<&[u8]>, dir| {
            let mut seen = Vec::new();
            kv.scan(Cf::Meta, start, dir, &mut |k, _| {
                seen.push(k[0]);
                Ok(seen.len() < 3)
            })
            .unwrap();
            String::from_utf8(seen).unwrap()
        };
        assert_eq!(walk(None, Direction::Forward), "abc");
        assert_eq!(walk(Some(b"bb"), Direction::Forward), "cd");
        assert_eq!(walk(None, Direction::Reverse), "dcb");
        assert_eq!(walk(Some(b"bb"), Direction::Reverse), "ba");
        assert_eq!(walk(Some(b"c"), Direction::Reverse), "cba");
    }
}

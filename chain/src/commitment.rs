//! The state root: a Merkle commitment over every state entry, updated
//! incrementally.
//!
//! Each entry `(key, value)` hashes to `entry = H(0x10 ‖ H(key) ‖ value)` and
//! falls in one of 2^16 buckets chosen by the first two bytes of `H(key)`. A
//! bucket's hash covers its entries in `H(key)` order; a fixed-depth binary
//! Merkle tree over the bucket hashes gives the root. A block that changes k
//! entries rehashes at most k buckets and the tree paths above them, never
//! the whole state. See `docs/adr/002-state-commitment.md`.

use std::collections::BTreeMap;

use bincode::{Decode, Encode};
use sha2::{Digest, Sha256};

use crate::crypto::{Hash32, sha256, sha256_parts};
use crate::encoding::BoundedVec;

/// Depth of the tree over the buckets.
pub const BUCKET_BITS: u32 = 16;
const BUCKETS: usize = 1 << BUCKET_BITS;

const ENTRY: u8 = 0x10;
const BUCKET: u8 = 0x11;
const NODE: u8 = 0x12;

/// The hash a key is sorted and bucketed by.
pub fn key_hash(key: &[u8]) -> Hash32 {
    sha256(key)
}

fn entry_hash(key_hash: &Hash32, value: &[u8]) -> Hash32 {
    sha256_parts(&[&[ENTRY], &key_hash.0, value])
}

fn bucket_of(key_hash: &Hash32) -> usize {
    usize::from(u16::from_be_bytes([key_hash.0[0], key_hash.0[1]]))
}

fn bucket_hash<'a>(entries: impl IntoIterator<Item = (&'a Hash32, &'a Hash32)>) -> Hash32 {
    let mut h = Sha256::new();
    h.update([BUCKET]);
    for (k, e) in entries {
        h.update(k.0);
        h.update(e.0);
    }
    Hash32(h.finalize().into())
}

fn node_hash(l: &Hash32, r: &Hash32) -> Hash32 {
    sha256_parts(&[&[NODE], &l.0, &r.0])
}

/// `bucket` (sorted by `H(key)`) with `changes` (sorted by `H(key)`, the
/// last change of a key winning) made, in one pass over both: the cost is
/// the same however the keys fall, even when every change of a block is
/// aimed at one bucket.
fn merged(
    bucket: &[(Hash32, Hash32)],
    changes: &[(usize, Hash32, Option<Hash32>)],
) -> Vec<(Hash32, Hash32)> {
    let mut out = Vec::with_capacity(bucket.len() + changes.len());
    let mut rest = bucket;
    for (i, (_, kh, entry)) in changes.iter().enumerate() {
        if changes.get(i + 1).is_some_and(|next| next.1 == *kh) {
            continue;
        }
        let before = rest.partition_point(|(k, _)| k < kh);
        out.extend_from_slice(&rest[..before]);
        rest = &rest[before..];
        if rest.first().is_some_and(|(k, _)| k == kh) {
            rest = &rest[1..];
        }
        if let Some(e) = entry {
            out.push((*kh, *e));
        }
    }
    out.extend_from_slice(rest);
    out
}

/// The incremental commitment. `levels[0]` holds the bucket hashes and
/// `levels[BUCKET_BITS]` the root.
#[derive(Clone)]
pub struct StateCommitment {
    /// Each bucket's `(H(key), entry hash)` pairs, sorted by `H(key)`.
    buckets: Vec<Vec<(Hash32, Hash32)>>,
    levels: Vec<Vec<Hash32>>,
}

impl std::fmt::Debug for StateCommitment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateCommitment(root={})", self.root())
    }
}

/// A prepared change to the commitment: the new root, and what to install
/// if the block is applied.
#[derive(Debug, Clone, Default)]
pub struct CommitmentDelta {
    root: Hash32,
    buckets: Vec<(usize, Vec<(Hash32, Hash32)>)>,
    nodes: Vec<(usize, usize, Hash32)>,
}

impl CommitmentDelta {
    pub fn root(&self) -> Hash32 {
        self.root
    }

    /// The buckets the delta changes.
    pub fn dirty_buckets(&self) -> impl Iterator<Item = usize> + '_ {
        self.buckets.iter().map(|(i, _)| *i)
    }
}

/// What one block changed, to undo it: each changed key (canonical bytes)
/// with the value it had before (`None`: no entry), and the hash each
/// changed bucket had before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockUndo {
    pub entries: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub buckets: Vec<(u32, Hash32)>,
}

/// The bucket a state key (canonical bytes) falls in.
pub fn bucket_of_key(key: &[u8]) -> u16 {
    // 2^16 buckets: the index always fits.
    u16::try_from(bucket_of(&key_hash(key))).unwrap_or(u16::MAX)
}

/// An entry's `(H(key), entry hash)` pair, as a bucket holds it.
pub fn entry_pair(key: &[u8], value: &[u8]) -> (Hash32, Hash32) {
    let kh = key_hash(key);
    (kh, entry_hash(&kh, value))
}

impl Default for StateCommitment {
    fn default() -> Self {
        Self::new()
    }
}

impl StateCommitment {
    /// The commitment of an empty state.
    pub fn new() -> Self {
        let empty = bucket_hash(std::iter::empty());
        let mut levels = vec![vec![empty; BUCKETS]];
        for level in 1..=BUCKET_BITS as usize {
            let below = levels[level - 1][0];
            levels.push(vec![node_hash(&below, &below); BUCKETS >> level]);
        }
        StateCommitment {
            buckets: vec![Vec::new(); BUCKETS],
            levels,
        }
    }

    /// Computes the commitment of a whole state from scratch. Used only on
    /// open, to check the stored root against the stored data.
    ///
    /// Only the buckets that hold entries and the paths above them are
    /// hashed: the rest of the tree is the empty tree's, which
    /// [`StateCommitment::new`] builds from one hash per level.
    pub fn from_entries<'a>(entries: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Self {
        let mut c = StateCommitment::new();
        let delta = c.prepare(entries.map(|(k, v)| (k, Some(v))));
        c.apply(delta);
        c
    }

    pub fn root(&self) -> Hash32 {
        self.levels[BUCKET_BITS as usize][0]
    }

    pub fn len(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Computes the root after `changes` (encoded key, new encoded value or
    /// `None` for a deletion) without changing `self`. A key changed twice
    /// takes its last change.
    pub fn prepare<'a>(
        &self,
        changes: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    ) -> CommitmentDelta {
        // Each change as (bucket, H(key), new entry hash), grouped by bucket
        // and key by a stable sort, so that a later change of a key comes
        // after an earlier one and wins.
        let mut ops: Vec<(usize, Hash32, Option<Hash32>)> = changes
            .map(|(k, v)| {
                let kh = key_hash(k);
                let entry = v.map(|v| entry_hash(&kh, v));
                (bucket_of(&kh), kh, entry)
            })
            .collect();
        ops.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let dirty: Vec<(usize, Vec<(Hash32, Hash32)>)> = ops
            .chunk_by(|a, b| a.0 == b.0)
            .map(|group| (group[0].0, merged(&self.buckets[group[0].0], group)))
            .collect();
        // The changed nodes of each level, sorted by index: a parent's
        // changed children are adjacent, and an unchanged child is read from
        // the level below.
        let mut current: Vec<(usize, Hash32)> = dirty
            .iter()
            .map(|(i, b)| (*i, bucket_hash(b.iter().map(|(k, e)| (k, e)))))
            .collect();
        let mut nodes: Vec<(usize, usize, Hash32)> = Vec::with_capacity(current.len() * 3);
        nodes.extend(current.iter().map(|(i, h)| (0, *i, *h)));
        for level in 1..=BUCKET_BITS as usize {
            let below = &self.levels[level - 1];
            let mut next = Vec::with_capacity(current.len() / 2 + 1);
            let mut j = 0;
            while j < current.len() {
                let parent = current[j].0 / 2;
                let left = if current[j].0 == 2 * parent {
                    j += 1;
                    current[j - 1].1
                } else {
                    below[2 * parent]
                };
                let right = if j < current.len() && current[j].0 == 2 * parent + 1 {
                    j += 1;
                    current[j - 1].1
                } else {
                    below[2 * parent + 1]
                };
                next.push((parent, node_hash(&left, &right)));
            }
            nodes.extend(next.iter().map(|(i, h)| (level, *i, *h)));
            current = next;
        }
        let root = current.first().map_or_else(|| self.root(), |(_, h)| *h);
        CommitmentDelta {
            root,
            buckets: dirty,
            nodes,
        }
    }

    /// The proof of `key`'s entry, or of its absence, against
    /// [`StateCommitment::root`]: its bucket's `(H(key), entry hash)` pairs
    /// and the siblings of the path above the bucket. The pairs reveal no
    /// other entry's value.
    pub fn prove(&self, key: &[u8]) -> Result<StateProof, ProofError> {
        let b = bucket_of(&key_hash(key));
        let bucket = BoundedVec::new(self.buckets[b].clone())
            .map_err(|p| ProofError::BucketTooLarge(p.len()))?;
        let mut siblings = [Hash32::default(); BUCKET_BITS as usize];
        let mut index = b;
        for (level, sibling) in siblings.iter_mut().enumerate() {
            *sibling = self.levels[level][index ^ 1];
            index /= 2;
        }
        Ok(StateProof { bucket, siblings })
    }

    /// The hash of every bucket, by index.
    pub fn bucket_hashes(&self) -> &[Hash32] {
        &self.levels[0]
    }

    /// The `(H(key), entry hash)` pairs of the bucket `key` falls in.
    pub fn bucket_pairs(&self, key: &[u8]) -> &[(Hash32, Hash32)] {
        &self.buckets[bucket_of(&key_hash(key))]
    }

    /// Proves `key` in a past state that differs from this one in the
    /// buckets of `past_buckets` (their hashes then), given the pairs its
    /// own bucket held then. Returns the proof and the past root, which the
    /// caller checks against the past header.
    pub fn prove_past(
        &self,
        key: &[u8],
        past_pairs: &BTreeMap<Hash32, Hash32>,
        past_buckets: &BTreeMap<usize, Hash32>,
    ) -> Result<(StateProof, Hash32), ProofError> {
        let b = bucket_of(&key_hash(key));
        // The nodes that differ then, level by level, recomputed from the
        // changed buckets up; every other node is today's.
        let mut changed: Vec<BTreeMap<usize, Hash32>> = vec![past_buckets.clone()];
        changed[0].insert(b, bucket_hash(past_pairs.iter()));
        for level in 1..=BUCKET_BITS as usize {
            let below = &changed[level - 1];
            let node = |i: usize| below.get(&i).copied().unwrap_or(self.levels[level - 1][i]);
            let parents: BTreeMap<usize, Hash32> = below
                .keys()
                .map(|i| i / 2)
                .collect::<std::collections::BTreeSet<usize>>()
                .into_iter()
                .map(|p| (p, node_hash(&node(2 * p), &node(2 * p + 1))))
                .collect();
            changed.push(parents);
        }
        let pairs: Vec<(Hash32, Hash32)> = past_pairs.iter().map(|(k, e)| (*k, *e)).collect();
        let bucket = BoundedVec::new(pairs).map_err(|p| ProofError::BucketTooLarge(p.len()))?;
        let mut siblings = [Hash32::default(); BUCKET_BITS as usize];
        let mut index = b;
        for (level, sibling) in siblings.iter_mut().enumerate() {
            let s = index ^ 1;
            *sibling = changed[level]
                .get(&s)
                .copied()
                .unwrap_or(self.levels[level][s]);
            index /= 2;
        }
        let top = BUCKET_BITS as usize;
        let root = changed[top].get(&0).copied().unwrap_or(self.levels[top][0]);
        Ok((StateProof { bucket, siblings }, root))
    }

    /// Proves `key` as it was before the blocks whose undo records `undo`
    /// holds, newest block first: each block's `(key, old value)` records
    /// (at least those of `key`'s bucket) and the old hashes of the buckets
    /// it changed. `current` is the key's value now. Returns the past value,
    /// its proof and the past root.
    pub fn prove_key_past(
        &self,
        key: &[u8],
        current: Option<&[u8]>,
        undo: &[BlockUndo],
    ) -> Result<(Option<Vec<u8>>, StateProof, Hash32), ProofError> {
        let (value, pairs) = self.walk_back(key, current, undo);
        let mut past_buckets = BTreeMap::new();
        for block in undo {
            for (i, h) in &block.buckets {
                past_buckets.insert(*i as usize, *h);
            }
        }
        let (proof, root) = self.prove_past(key, &pairs, &past_buckets)?;
        Ok((value, proof, root))
    }

    /// Proves `key` at a day's end (ADR 014): `records` are the day records
    /// from the newest back to that day's, each holding the value every key
    /// changed after a day's end had at it (`buckets` unused), and `tree` is
    /// the state tree at that day's end. Returns the past value, its proof
    /// and the root it leads to.
    pub fn prove_key_at_day_end(
        &self,
        key: &[u8],
        current: Option<&[u8]>,
        records: &[BlockUndo],
        tree: &SnapshotTree,
    ) -> Result<(Option<Vec<u8>>, StateProof, Hash32), ProofError> {
        let (value, pairs) = self.walk_back(key, current, records);
        let mut index = bucket_of(&key_hash(key));
        let mut node = bucket_hash(pairs.iter());
        let mut siblings = [Hash32::default(); BUCKET_BITS as usize];
        for (level, sibling) in siblings.iter_mut().enumerate() {
            *sibling = tree.levels[level][index ^ 1];
            node = if index.is_multiple_of(2) {
                node_hash(&node, sibling)
            } else {
                node_hash(sibling, &node)
            };
            index /= 2;
        }
        let pairs: Vec<(Hash32, Hash32)> = pairs.into_iter().collect();
        let bucket = BoundedVec::new(pairs).map_err(|p| ProofError::BucketTooLarge(p.len()))?;
        Ok((value, StateProof { bucket, siblings }, node))
    }

    /// `key`'s value and its bucket's pairs once `undo` (newest first) is
    /// applied to the current state, whose value of `key` is `current`.
    fn walk_back(
        &self,
        key: &[u8],
        current: Option<&[u8]>,
        undo: &[BlockUndo],
    ) -> (Option<Vec<u8>>, BTreeMap<Hash32, Hash32>) {
        let b = bucket_of(&key_hash(key));
        let mut pairs: BTreeMap<Hash32, Hash32> = self.buckets[b].iter().copied().collect();
        let mut value = current.map(<[u8]>::to_vec);
        for (k, old) in undo.iter().flat_map(|block| &block.entries) {
            let kh = key_hash(k);
            if bucket_of(&kh) != b {
                continue;
            }
            match old {
                Some(v) => pairs.insert(kh, entry_hash(&kh, v)),
                None => pairs.remove(&kh),
            };
            if k.as_slice() == key {
                value = old.clone();
            }
        }
        (value, pairs)
    }

    /// Installs a prepared delta.
    pub fn apply(&mut self, delta: CommitmentDelta) {
        for (i, b) in delta.buckets {
            self.buckets[i] = b;
        }
        for (level, i, h) in delta.nodes {
            self.levels[level][i] = h;
        }
        debug_assert_eq!(self.root(), delta.root);
    }
}

/// The whole state tree over a kept set of bucket hashes: a day end's
/// snapshot, from which proofs of that day's state take their siblings.
#[derive(Debug, Clone)]
pub struct SnapshotTree {
    levels: Vec<Vec<Hash32>>,
}

impl SnapshotTree {
    /// Builds the tree over one hash per bucket, by index.
    pub fn new(buckets: Vec<Hash32>) -> Result<Self, ProofError> {
        if buckets.len() != BUCKETS {
            return Err(ProofError::BadSnapshot(buckets.len()));
        }
        let mut levels = vec![buckets];
        while let Some(below) = levels.last().filter(|l| l.len() > 1) {
            let next = below
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            levels.push(next);
        }
        Ok(SnapshotTree { levels })
    }

    /// The root the snapshot's buckets lead to.
    pub fn root(&self) -> Hash32 {
        self.levels[BUCKET_BITS as usize][0]
    }
}

/// Most entries one bucket proof carries: far more than a bucket holds
/// with hundreds of millions of entries in the state.
pub const MAX_PROOF_BUCKET_ENTRIES: usize = 4_096;

/// That a key has a value in a state, or none, with the state's root: the
/// key's whole bucket as `(H(key), entry hash)` pairs in `H(key)` order,
/// and the sibling of each node on the path from the bucket to the root,
/// bottom up. Which bucket is the key's is derived from the key, never read
/// from the proof.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct StateProof {
    pub bucket: BoundedVec<(Hash32, Hash32), MAX_PROOF_BUCKET_ENTRIES>,
    pub siblings: [Hash32; BUCKET_BITS as usize],
}

/// Why a state proof does not prove what it was asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the bucket holds {0} entries, more than a proof carries ({MAX_PROOF_BUCKET_ENTRIES})")]
    BucketTooLarge(usize),
    #[error("the proof's bucket is not the key's: an entry is out of order or of another bucket")]
    WrongBucket,
    #[error("the key has no entry in the proof")]
    Missing,
    #[error("the key's entry in the proof is not the value claimed")]
    WrongValue,
    #[error("the key has an entry in the proof, and was claimed absent")]
    Present,
    #[error("a day-end snapshot of {0} bucket hashes, not {BUCKETS}")]
    BadSnapshot(usize),
    #[error("the proof leads to root {got}, not the state root {expected}")]
    WrongRoot { expected: Hash32, got: Hash32 },
}

/// Checks that in the state whose root is `root`, `key` holds `value`
/// (`None`: has no entry). Pure; the root comes from a certified header.
pub fn verify_state_proof(
    root: &Hash32,
    key: &[u8],
    value: Option<&[u8]>,
    proof: &StateProof,
) -> Result<(), ProofError> {
    let kh = key_hash(key);
    let b = bucket_of(&kh);
    // Every pair of the key's bucket, strictly ordered: a pair of another
    // bucket, a repeat or a reordering proves nothing.
    let pairs = proof.bucket.as_slice();
    let ordered = pairs.windows(2).all(|w| w[0].0 < w[1].0);
    if !ordered || pairs.iter().any(|(k, _)| bucket_of(k) != b) {
        return Err(ProofError::WrongBucket);
    }
    let found = pairs.iter().find(|(k, _)| *k == kh).map(|(_, e)| *e);
    match (value, found) {
        (Some(v), Some(e)) if e == entry_hash(&kh, v) => {}
        (Some(_), Some(_)) => return Err(ProofError::WrongValue),
        (Some(_), None) => return Err(ProofError::Missing),
        (None, Some(_)) => return Err(ProofError::Present),
        (None, None) => {}
    }
    let mut node = bucket_hash(pairs.iter().map(|(k, e)| (k, e)));
    let mut index = b;
    for sibling in &proof.siblings {
        node = if index.is_multiple_of(2) {
            node_hash(&node, sibling)
        } else {
            node_hash(sibling, &node)
        };
        index /= 2;
    }
    if node != *root {
        return Err(ProofError::WrongRoot {
            expected: *root,
            got: node,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                (
                    format!("key{i}").into_bytes(),
                    format!("value{i}").into_bytes(),
                )
            })
            .collect()
    }

    #[test]
    fn incremental_updates_match_a_rebuild_from_scratch() {
        let mut all = entries(500);
        let mut c =
            StateCommitment::from_entries(all.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
        // Change 10, delete 5, insert 7.
        let mut changes: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for i in 0..10 {
            changes.push((format!("key{i}").into_bytes(), Some(b"changed".to_vec())));
        }
        for i in 100..105 {
            changes.push((format!("key{i}").into_bytes(), None));
        }
        for i in 1000..1007 {
            changes.push((format!("key{i}").into_bytes(), Some(b"new".to_vec())));
        }
        let before = c.root();
        let delta = c.prepare(changes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())));
        assert_eq!(c.root(), before, "prepare must not change the commitment");
        c.apply(delta);
        for (k, v) in &changes {
            all.retain(|(k2, _)| k2 != k);
            if let Some(v) = v {
                all.push((k.clone(), v.clone()));
            }
        }
        let rebuilt =
            StateCommitment::from_entries(all.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
        assert_eq!(c.root(), rebuilt.root());
        assert_ne!(c.root(), before);
        assert_eq!(c.len(), all.len());
    }

    #[test]
    fn many_incremental_blocks_match_a_rebuild_from_scratch() {
        // Blocks that touch a few buckets, most buckets, and both ends of
        // the bucket range, with inserts, updates and deletes.
        let mut all: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut c = StateCommitment::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for (block, size) in [1usize, 2, 50, 3_000, 120_000, 7, 40_000, 1]
            .iter()
            .enumerate()
        {
            let mut changes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
            for _ in 0..*size {
                let key = format!("k{}", next() % 200_000).into_bytes();
                let value = match next() % 4 {
                    0 => None,
                    _ => Some(format!("v{block}-{}", next()).into_bytes()),
                };
                changes.insert(key, value);
            }
            let delta = c.prepare(changes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())));
            c.apply(delta);
            for (k, v) in changes {
                match v {
                    Some(v) => all.insert(k, v),
                    None => all.remove(&k),
                };
            }
            let rebuilt = StateCommitment::from_entries(
                all.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
            );
            assert_eq!(c.root(), rebuilt.root(), "block {block} of {size} changes");
            assert_eq!(c.len(), all.len());
        }
    }

    /// The roots of a known state, before and after a block that updates,
    /// deletes, inserts, and changes two keys twice (the last change wins):
    /// what consensus decides, pinned whatever the implementation.
    #[test]
    fn the_roots_of_a_known_state_are_pinned() {
        assert_eq!(
            StateCommitment::new().root().to_hex(),
            "cc05a62ee8d0dd3f7abd1428586845ac15187731cfc6ae50c5b28358913e2aef",
            "the empty state"
        );
        let all = entries(1_000);
        let mut c =
            StateCommitment::from_entries(all.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
        assert_eq!(
            c.root().to_hex(),
            "7e5f2617f106c39b68c59a6da1ed56f8360720e7ea81058eead8877b958d956b",
            "1,000 entries"
        );
        let changes: Vec<(&[u8], Option<&[u8]>)> = vec![
            (b"key5", Some(b"first")),
            (b"key7", None),
            (b"key5", Some(b"second")),
            (b"key1000", Some(b"new")),
            (b"key9", None),
            (b"key9", Some(b"back")),
            (b"absent", None),
        ];
        let delta = c.prepare(changes.into_iter());
        c.apply(delta);
        assert_eq!(
            c.root().to_hex(),
            "eaad980916a28c5b2340db026fa2a3b5ab72356d63caa532dc8c41bde83933ef",
            "after the block"
        );
        assert_eq!(c.len(), 1_000);
    }

    /// A block whose changes all fall in one bucket, as a sender who grinds
    /// its keys can arrange: the merge matches a map that takes the changes
    /// one by one, repeats, deletions of absent keys and all.
    #[test]
    fn changes_aimed_at_one_bucket_merge_as_made_one_by_one() {
        let h = |i: u64| sha256(&i.to_be_bytes());
        let mut model: BTreeMap<Hash32, Hash32> = (0..5_000u64).map(|i| (h(i), h(i + 1))).collect();
        let bucket: Vec<(Hash32, Hash32)> = model.iter().map(|(k, e)| (*k, *e)).collect();
        let mut changes: Vec<(usize, Hash32, Option<Hash32>)> = Vec::new();
        for i in 0..20_000u64 {
            let key = h(i % 12_000);
            let entry = (i % 3 != 0).then(|| h(i + 100_000));
            changes.push((7, key, entry));
            match entry {
                Some(e) => model.insert(key, e),
                None => model.remove(&key),
            };
        }
        changes.sort_by_key(|c| c.1);
        let got = merged(&bucket, &changes);
        let want: Vec<(Hash32, Hash32)> = model.into_iter().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn any_changed_value_changes_the_root() {
        let all = entries(50);
        let c =
            StateCommitment::from_entries(all.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
        let mut tampered = all.clone();
        tampered[17].1.push(b'!');
        let t = StateCommitment::from_entries(
            tampered.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        );
        assert_ne!(c.root(), t.root());
        assert_ne!(StateCommitment::new().root(), c.root());
    }
}

//! What a client that trusts no node checks: headers by their commit
//! certificates, against the validator set in force at their height, and
//! what a header commits to by Merkle paths.
//!
//! A [`LightClient`] starts from a set it trusts (the genesis set, from
//! the genesis file the alliance published) and learns each later set only
//! from a proof by the set before: the last header of the old set, which
//! names the new set's hash in `next_validators_hash`, with a certificate
//! of the old set. A node that hides a change gains nothing: a header of
//! the new set names a set hash the client does not hold, and is refused.
//!
//! Pure code, no I/O: the wallet, the indexer and the tests use it alike.

use std::collections::BTreeMap;

use bincode::{Decode, Encode};

use crate::block::{BlockHeader, CommitCertificate, Receipt};
use crate::consensus::{CertError, ValidatorSet, verify_certificate_with};
use crate::crypto::Hash32;
use crate::encoding::BoundedVec;
use crate::governance::{ValidatorList, validators_hash};
use crate::merkle;
use crate::tx::{ChainId, Transaction};
use crate::{consensus, encoding};

/// Why a client refuses what a node sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LightError {
    #[error("the header is for chain {got}, not {expected}")]
    WrongChain { expected: String, got: String },
    #[error(
        "the header at height {height} names validator set {claimed}, the set in force is {known}"
    )]
    UnknownSet {
        height: u64,
        claimed: Hash32,
        known: Hash32,
    },
    #[error("height {height} is before this client's trusted height {trusted}")]
    BeforeTrust { height: u64, trusted: u64 },
    #[error(
        "the certificate is for block {cert_hash} at height {cert_height}, not {hash} at {height}"
    )]
    CertificateMismatch {
        height: u64,
        hash: Hash32,
        cert_height: u64,
        cert_hash: Hash32,
    },
    #[error("the certificate does not verify against the set in force: {0}")]
    Certificate(#[from] CertError),
    #[error("the new set's hash {got} is not the {expected} its boundary header names")]
    WrongNextSet { expected: Hash32, got: Hash32 },
    #[error("the change at height {height} does not follow the last known change at {last}")]
    OutOfOrder { height: u64, last: u64 },
    #[error("the set is invalid: {0}")]
    InvalidSet(String),
    #[error("the {what} is not in the block: its Merkle path does not lead to the header's {root}")]
    NotInBlock {
        what: &'static str,
        root: &'static str,
    },
    #[error("the {what} is for {got}, not {expected}")]
    WrongSubject {
        what: &'static str,
        expected: Hash32,
        got: Hash32,
    },
    /// Two blocks at one height, both certified by the set in force: the
    /// alliance has forked, or a quorum of validators signed twice.
    #[error("two certified blocks at height {height}: {first} and {second}")]
    Fork {
        height: u64,
        first: Hash32,
        second: Hash32,
    },
}

/// A validator set the client holds, with what headers call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSet {
    pub list: ValidatorList,
    pub hash: Hash32,
    set: ValidatorSet,
}

impl KnownSet {
    pub fn new(list: ValidatorList) -> Result<Self, LightError> {
        let set = ValidatorSet::new(list.iter().map(|v| v.key).collect())
            .map_err(|e| LightError::InvalidSet(e.to_string()))?;
        Ok(KnownSet {
            hash: validators_hash(&list),
            list,
            set,
        })
    }

    pub fn validators(&self) -> &ValidatorSet {
        &self.set
    }
}

/// A change of the set, as `merit_getValidatorChanges` serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetChange {
    /// The first height of the new set.
    pub height: u64,
    /// The last header of the old set (at `height - 1`).
    pub header: BlockHeader,
    pub certificate: CommitCertificate,
    pub set: ValidatorList,
}

/// The sets a client has verified, and the headers it has accepted.
#[derive(Debug, Clone)]
pub struct LightClient {
    chain_id: ChainId,
    /// Each set by the first height it is in force.
    sets: BTreeMap<u64, KnownSet>,
    /// The lowest height the client judges: below it, the sets it holds
    /// may not be the ones that were in force.
    trusted_height: u64,
    /// Headers accepted, by height: a second certified block at one of
    /// these heights is a fork.
    accepted: BTreeMap<u64, Hash32>,
}

/// How many accepted header hashes a client remembers for fork checks.
pub const MAX_REMEMBERED_HEADERS: usize = 1_024;

impl LightClient {
    /// A client that trusts `set` as the set in force from `height` on:
    /// the genesis set from height 1, or a set read from a checkpoint.
    pub fn new(chain_id: ChainId, height: u64, set: ValidatorList) -> Result<Self, LightError> {
        let mut sets = BTreeMap::new();
        sets.insert(height, KnownSet::new(set)?);
        Ok(LightClient {
            chain_id,
            sets,
            trusted_height: height,
            accepted: BTreeMap::new(),
        })
    }

    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// The set the client holds for `height`: the last one it learned that
    /// starts at or before it.
    pub fn set_at(&self, height: u64) -> Option<&KnownSet> {
        self.sets.range(..=height).next_back().map(|(_, s)| s)
    }

    /// The first height of the last set the client learned.
    pub fn last_change(&self) -> u64 {
        self.sets
            .keys()
            .next_back()
            .copied()
            .unwrap_or(self.trusted_height)
    }

    /// Learns a change of the set from the old set's proof of it.
    pub fn follow(&mut self, change: &SetChange) -> Result<(), LightError> {
        let last = self.last_change();
        if change.height <= last || change.header.height.checked_add(1) != Some(change.height) {
            return Err(LightError::OutOfOrder {
                height: change.height,
                last,
            });
        }
        self.verify_header(&change.header, &change.certificate)?;
        let next = KnownSet::new(change.set.clone())?;
        if next.hash != change.header.next_validators_hash {
            return Err(LightError::WrongNextSet {
                expected: change.header.next_validators_hash,
                got: next.hash,
            });
        }
        self.sets.insert(change.height, next);
        Ok(())
    }

    /// Accepts a header if a quorum of the set in force at its height
    /// certified it. Refuses a header of a set the client has not
    /// learned, and reports a fork if it accepted another block at that
    /// height.
    pub fn verify_header(
        &mut self,
        header: &BlockHeader,
        cert: &CommitCertificate,
    ) -> Result<(), LightError> {
        if header.chain_id != self.chain_id {
            return Err(LightError::WrongChain {
                expected: self.chain_id.to_string(),
                got: header.chain_id.to_string(),
            });
        }
        let hash = header.hash();
        if cert.height != header.height || cert.block_hash != hash {
            return Err(LightError::CertificateMismatch {
                height: header.height,
                hash,
                cert_height: cert.height,
                cert_hash: cert.block_hash,
            });
        }
        if header.height < self.trusted_height {
            return Err(LightError::BeforeTrust {
                height: header.height,
                trusted: self.trusted_height,
            });
        }
        let known = self.set_at(header.height).ok_or(LightError::BeforeTrust {
            height: header.height,
            trusted: self.trusted_height,
        })?;
        if header.validators_hash != known.hash {
            return Err(LightError::UnknownSet {
                height: header.height,
                claimed: header.validators_hash,
                known: known.hash,
            });
        }
        let set = known.validators();
        verify_certificate_with(
            &self.chain_id,
            set,
            cert,
            set.quorum(),
            &consensus::Ed25519Verifier,
        )?;
        match self.accepted.get(&header.height) {
            Some(first) if *first != hash => {
                return Err(LightError::Fork {
                    height: header.height,
                    first: *first,
                    second: hash,
                });
            }
            Some(_) => {}
            None => {
                self.accepted.insert(header.height, hash);
                while self.accepted.len() > MAX_REMEMBERED_HEADERS {
                    self.accepted.pop_first();
                }
            }
        }
        Ok(())
    }
}

/// The most siblings a Merkle path over a block's transactions or
/// receipts has: one per level.
pub const MAX_MERKLE_PATH: usize = 32;

/// A Merkle path: siblings bottom up.
pub type MerklePath = BoundedVec<Hash32, MAX_MERKLE_PATH>;

/// A transaction, its receipt and the paths that tie both to a certified
/// header: what `merit_getTxProof` serves, canonically encoded.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TxProof {
    pub tx: Transaction,
    pub receipt: Receipt,
    /// Its index in the block, and how many transactions the block holds.
    pub index: u64,
    pub count: u64,
    /// Siblings from the transaction's leaf to `tx_root`.
    pub tx_path: MerklePath,
    /// How many leaves `receipts_root` covers: the receipts, then the
    /// block's own events (`block::receipt_leaves`).
    pub receipt_leaves: u64,
    /// Siblings from the receipt's leaf to `receipts_root`.
    pub receipt_path: MerklePath,
    pub header: BlockHeader,
    pub certificate: CommitCertificate,
}

/// Checks that transaction `hash` is in a block the set in force
/// certified, with the receipt the proof carries. Returns the receipt.
pub fn verify_tx_proof<'p>(
    client: &mut LightClient,
    hash: &Hash32,
    proof: &'p TxProof,
) -> Result<&'p Receipt, LightError> {
    let tx_hash = proof.tx.hash();
    if tx_hash != *hash {
        return Err(LightError::WrongSubject {
            what: "transaction",
            expected: *hash,
            got: tx_hash,
        });
    }
    if proof.receipt.tx_hash != tx_hash {
        return Err(LightError::WrongSubject {
            what: "receipt",
            expected: tx_hash,
            got: proof.receipt.tx_hash,
        });
    }
    client.verify_header(&proof.header, &proof.certificate)?;
    let tx_leaf = merkle::leaf_hash(&tx_hash.0);
    if merkle::root_from_path(tx_leaf, proof.index, proof.count, &proof.tx_path)
        != Some(proof.header.tx_root)
    {
        return Err(LightError::NotInBlock {
            what: "transaction",
            root: "tx_root",
        });
    }
    let receipt_leaf = merkle::leaf_hash(&encoding::encode(&proof.receipt));
    if proof.receipt_leaves < proof.count
        || merkle::root_from_path(
            receipt_leaf,
            proof.index,
            proof.receipt_leaves,
            &proof.receipt_path,
        ) != Some(proof.header.receipts_root)
    {
        return Err(LightError::NotInBlock {
            what: "receipt",
            root: "receipts_root",
        });
    }
    Ok(&proof.receipt)
}

impl TxProof {
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, encoding::DecodeError> {
        encoding::decode(bytes, MAX_TX_PROOF_BYTES)
    }
}

/// The largest encoded [`TxProof`]: a transaction, its receipt, two paths,
/// a header and a certificate.
pub const MAX_TX_PROOF_BYTES: usize = 256 * 1024;

/// Builds the proof of the transaction at `index` of `block` (its
/// `receipts` and `certificate` as committed); `None` if out of range.
pub fn tx_proof(
    block: &crate::Block,
    receipts: &[Receipt],
    block_events: &[crate::block::Event],
    certificate: &CommitCertificate,
    index: usize,
) -> Option<TxProof> {
    let hashes: Vec<Hash32> = block
        .txs
        .iter()
        .map(|t| merkle::leaf_hash(&t.hash().0))
        .collect();
    let receipt_leaves = crate::block::receipt_leaves(receipts, block_events);
    Some(TxProof {
        tx: block.txs.get(index)?.clone(),
        receipt: receipts.get(index)?.clone(),
        index: index as u64,
        count: hashes.len() as u64,
        receipt_leaves: receipt_leaves.len() as u64,
        tx_path: BoundedVec::new(merkle::path(&hashes, index)?).ok()?,
        receipt_path: BoundedVec::new(merkle::path(&receipt_leaves, index)?).ok()?,
        header: block.header.clone(),
        certificate: certificate.clone(),
    })
}

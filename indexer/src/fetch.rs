//! Reading blocks from a node that is not trusted: each block comes with
//! its canonical bytes, and is kept only once its certificate verifies
//! against the validator set in force at its height, it follows the block
//! before, and its transactions and receipts hash to the roots the
//! certified header names.

use merit_api::{Block as ApiBlock, ValidatorChange, method};
use merit_chain::block::{self, BlockHeader, CommitCertificate, Event, Receipt};
use merit_chain::crypto::Hash32;
use merit_chain::encoding::{self, Decode};
use merit_chain::governance::ValidatorList;
use merit_chain::light::{LightClient, SetChange};
use merit_chain::limits::{MAX_BLOCK_BYTES, MAX_RECEIPT_BYTES};
use merit_chain::postings::{Posting, block_postings};
use merit_chain::tx::Transaction;
use merit_wallet::rpc::{RpcClient, RpcError};
use serde_json::json;

/// A block that passed every check, with what the database keeps of it.
#[derive(Debug, Clone)]
pub struct VerifiedBlock {
    pub header: BlockHeader,
    pub hash: Hash32,
    pub certificate: CommitCertificate,
    pub txs: Vec<Transaction>,
    pub tx_hashes: Vec<Hash32>,
    pub receipts: Vec<Receipt>,
    pub postings: Vec<Posting>,
    /// The next set, when this block is the last of its set.
    pub set_change: Option<SetChange>,
}

/// Why a block was not taken.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The node could not be asked, or has not got the block yet: try
    /// again later.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error("block {height} is not committed on the node yet")]
    NotYet { height: u64 },
    /// What the node sent does not verify: it serves another chain, or
    /// lies. Nothing of it is written.
    #[error("block {height} from {node} does not verify: {reason}")]
    Untrusted {
        node: String,
        height: u64,
        reason: String,
    },
}

impl FetchError {
    /// Whether waiting could help.
    pub fn is_transient(&self) -> bool {
        !matches!(self, FetchError::Untrusted { .. })
    }
}

/// A broken check, by name: each is a test's proof that the check it
/// breaks can fail. Debug builds (the tests' build) read
/// [`Mutant::ENV`]; release builds have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// Takes every certificate as valid.
    TrustsCertificates,
    /// Takes the transactions and receipts as the header's roots.
    TrustsRoots,
    /// Takes a block whatever its parent.
    IgnoresParent,
}

impl Mutant {
    pub const ENV: &str = "MERIT_INDEXER_MUTANT";

    pub fn name(self) -> &'static str {
        match self {
            Mutant::TrustsCertificates => "indexer-trusts-certificates",
            Mutant::TrustsRoots => "indexer-trusts-roots",
            Mutant::IgnoresParent => "indexer-ignores-parent",
        }
    }

    /// The mutant the environment names, in a debug build.
    pub fn from_env() -> Option<Mutant> {
        if !cfg!(debug_assertions) {
            return None;
        }
        let name = std::env::var(Self::ENV).ok()?;
        [
            Mutant::TrustsCertificates,
            Mutant::TrustsRoots,
            Mutant::IgnoresParent,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }
}

/// Follows one chain from a verified (height, hash).
#[derive(Debug)]
pub struct Follower {
    rpc: RpcClient,
    client: LightClient,
    height: u64,
    hash: Hash32,
    mutant: Option<Mutant>,
}

impl Follower {
    /// Follows from the block `(height, hash)`, already verified, with the
    /// sets `client` has learned.
    pub fn new(rpc: RpcClient, client: LightClient, height: u64, hash: Hash32) -> Self {
        let mutant = Mutant::from_env();
        if let Some(m) = mutant {
            tracing::warn!("running as the mutant {}", m.name());
        }
        Follower {
            rpc,
            client,
            height,
            hash,
            mutant,
        }
    }

    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// The last block taken.
    pub fn tip(&self) -> (u64, Hash32) {
        (self.height, self.hash)
    }

    /// The node's committed height.
    pub fn node_height(&self) -> Result<u64, RpcError> {
        Ok(self.rpc.status()?.height)
    }

    /// Fetches, verifies and takes the next block.
    pub fn next_block(&mut self) -> Result<VerifiedBlock, FetchError> {
        let height = self.height + 1;
        let block = self.verified(height)?;
        if block.header.parent_hash != self.hash && self.mutant != Some(Mutant::IgnoresParent) {
            return Err(self.untrusted(
                height,
                format!(
                    "its parent is {}, but the block at height {} is {}",
                    block.header.parent_hash, self.height, self.hash
                ),
            ));
        }
        if let Some(change) = &block.set_change {
            self.client
                .follow(change)
                .map_err(|e| self.untrusted(height, format!("its validator change: {e}")))?;
        }
        self.height = height;
        self.hash = block.hash;
        Ok(block)
    }

    /// The certified block at `height`, checked against its roots but not
    /// yet linked to the chain followed.
    pub fn verified(&mut self, height: u64) -> Result<VerifiedBlock, FetchError> {
        let answer: Option<ApiBlock> = self
            .rpc
            .call(method::GET_BLOCK, json!([height, {"full": true}]))?;
        let Some(answer) = answer else {
            return Err(FetchError::NotYet { height });
        };
        let Some(bytes) = answer.bytes else {
            return Err(self.untrusted(height, "the node sent no canonical bytes".into()));
        };
        let Some(cert_hex) = bytes.certificate else {
            // A block without its certificate yet is not final to us.
            return Err(FetchError::NotYet { height });
        };
        let node = self.rpc.url().to_string();
        let bad = |reason: String| FetchError::Untrusted {
            node: node.clone(),
            height,
            reason,
        };
        let header: BlockHeader =
            decode_hex("header", &bytes.header, MAX_BLOCK_BYTES).map_err(bad)?;
        let certificate: CommitCertificate =
            decode_hex("certificate", &cert_hex, MAX_BLOCK_BYTES).map_err(bad)?;
        if header.height != height {
            return Err(bad(format!(
                "the node sent the header of height {}",
                header.height
            )));
        }
        if self.mutant != Some(Mutant::TrustsCertificates) {
            self.client
                .verify_header(&header, &certificate)
                .map_err(|e| bad(e.to_string()))?;
        }
        let check_roots = self.mutant != Some(Mutant::TrustsRoots);

        let txs = bytes
            .txs
            .iter()
            .map(|t| {
                let raw = hex::decode(t).map_err(|e| format!("a transaction is not hex: {e}"))?;
                Transaction::from_bytes(&raw).map_err(|e| format!("a transaction: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let tx_hashes: Vec<Hash32> = txs.iter().map(Transaction::hash).collect();
        if check_roots && block::tx_root(&tx_hashes) != header.tx_root {
            return Err(bad("its transactions do not hash to tx_root".into()));
        }
        let receipts = bytes
            .receipts
            .iter()
            .map(|r| decode_hex::<Receipt>("receipt", r, MAX_RECEIPT_BYTES))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let events = bytes
            .events
            .iter()
            .map(|e| decode_hex::<Event>("block event", e, MAX_RECEIPT_BYTES))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        if receipts.len() != txs.len()
            || receipts
                .iter()
                .zip(&tx_hashes)
                .any(|(r, h)| r.tx_hash != *h)
        {
            return Err(bad(
                "its receipts are not one per transaction, in order".into()
            ));
        }
        if check_roots && block::receipts_root(&receipts, &events) != header.receipts_root {
            return Err(bad(
                "its receipts and events do not hash to receipts_root".into()
            ));
        }

        let set_change = if header.next_validators_hash != header.validators_hash {
            Some(self.set_change(&header, &certificate)?)
        } else {
            None
        };
        let postings = block_postings(&header, &txs, &receipts, &events);
        Ok(VerifiedBlock {
            hash: header.hash(),
            header,
            certificate,
            txs,
            tx_hashes,
            receipts,
            postings,
            set_change,
        })
    }

    /// The set that signs from `header.height + 1`, which `header` names.
    fn set_change(
        &self,
        header: &BlockHeader,
        certificate: &CommitCertificate,
    ) -> Result<SetChange, FetchError> {
        let height = header.height + 1;
        let changes: Vec<ValidatorChange> = self
            .rpc
            .call(method::GET_VALIDATOR_CHANGES, json!([height]))?;
        let Some(change) = changes.into_iter().find(|c| c.height == height) else {
            return Err(self.untrusted(
                header.height,
                format!("it ends a validator set, and the node lists no change at {height}"),
            ));
        };
        let set: ValidatorList = decode_hex("validator set", &change.set.bytes, MAX_BLOCK_BYTES)
            .map_err(|e| self.untrusted(header.height, e))?;
        // The light client checks the set against the header's
        // `next_validators_hash`; the header and certificate are the ones
        // verified above.
        Ok(SetChange {
            height,
            header: header.clone(),
            certificate: certificate.clone(),
            set,
        })
    }

    fn untrusted(&self, height: u64, reason: String) -> FetchError {
        FetchError::Untrusted {
            node: self.rpc.url().to_string(),
            height,
            reason,
        }
    }
}

fn decode_hex<T: Decode<()>>(what: &str, text: &str, limit: usize) -> Result<T, String> {
    let bytes = hex::decode(text).map_err(|e| format!("its {what} is not hex: {e}"))?;
    encoding::decode(&bytes, limit).map_err(|e| format!("its {what} does not decode: {e}"))
}

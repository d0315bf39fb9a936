//! `merit-genesis assemble`: a genesis from the merchants' signed records,
//! with no secret.
//!
//! Every record's proofs are checked, then the records against each other:
//! no key (account, validator or p2p, of any merchant) may appear twice, nor
//! a name or a p2p address. Every refusal names the file it comes from.

use std::collections::BTreeMap;
use std::path::Path;

use merit_chain::PublicKey;
use serde::{Deserialize, Serialize};

use crate::file::{BalanceEntry, ConsensusEntry, GenesisFile, MerchantEntry, TokenEntry};
use crate::fsutil::{self, FileError};
use crate::netaddr::P2pAddress;
use crate::record::MerchantFile;
use crate::{Genesis, MAX_GENESIS_FILE_BYTES};

/// What `--tokens FILE` holds: tokens, initial balances and, optionally,
/// consensus parameters, in the genesis file's own JSON shapes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisExtras {
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
    #[serde(default)]
    pub balances: Vec<BalanceEntry>,
    #[serde(default)]
    pub consensus: ConsensusEntry,
}

impl GenesisExtras {
    /// Reads and parses such a file.
    pub fn load(path: &Path) -> Result<Self, FileError> {
        let text = fsutil::read_to_string_limited(path, MAX_GENESIS_FILE_BYTES)?;
        serde_json::from_str(&text).map_err(|source| FileError::Json {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Why a genesis could not be assembled. Each names the file at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssembleError {
    #[error("no merchant given: pass --merchant FILE once per merchant")]
    NoMerchants,
    /// A merchant's record is refused: `label` is its file.
    #[error("{label}: {message}")]
    Merchant { label: String, message: String },
    /// The tokens file is refused: `label` is its file.
    #[error("{label}: {message}")]
    Extras { label: String, message: String },
    /// The genesis as a whole is refused (chain id, validator count, ledger).
    #[error("invalid genesis: {0}")]
    Invalid(String),
}

/// Assembles a genesis from `merchants` (a label, usually the file name,
/// with the record read from it) in validator order, and the tokens,
/// balances and consensus parameters of `extras`.
pub fn assemble(
    chain_id: &str,
    genesis_time_ms: u64,
    merchants: &[(String, MerchantFile)],
    extras: Option<(String, GenesisExtras)>,
) -> Result<(GenesisFile, Genesis), AssembleError> {
    if merchants.is_empty() {
        return Err(AssembleError::NoMerchants);
    }
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    let mut keys: BTreeMap<PublicKey, (&str, &'static str)> = BTreeMap::new();
    let mut p2p: BTreeMap<P2pAddress, &str> = BTreeMap::new();
    for (label, file) in merchants {
        let refuse = |message: String| AssembleError::Merchant {
            label: label.clone(),
            message,
        };
        let verified = file.verify().map_err(|e| refuse(e.to_string()))?;
        if let Some(other) = names.insert(verified.name().to_string(), label) {
            return Err(refuse(format!(
                "name: `{}` is already the name of the merchant in {other}",
                verified.name()
            )));
        }
        for (role, key) in verified.keys() {
            if let Some((other, other_field)) = keys.insert(key, (label, role.field())) {
                return Err(refuse(format!(
                    "{}: {key} is already the {other_field} of the merchant in {other}; \
                     every account, validator and p2p key must be distinct",
                    role.field()
                )));
            }
        }
        if let Some(v) = &verified.validator
            && let Some(other) = p2p.insert(v.p2p_address.clone(), label)
        {
            return Err(refuse(format!(
                "p2p_address: {} is already the p2p address of the merchant in {other}",
                v.p2p_address
            )));
        }
    }
    let (extras_label, extras) = extras.unwrap_or_default();
    let file = GenesisFile {
        chain_id: chain_id.to_string(),
        genesis_time_ms,
        merchants: merchants
            .iter()
            .map(|(_, m)| MerchantEntry::new(m.clone(), None))
            .collect(),
        tokens: extras.tokens,
        balances: extras.balances,
        consensus: extras.consensus,
    };
    let genesis = file.validate().map_err(|e| {
        let from_extras = ["tokens", "balances", "consensus"]
            .iter()
            .any(|f| e.field.starts_with(f));
        if from_extras && !extras_label.is_empty() {
            AssembleError::Extras {
                label: extras_label.clone(),
                message: e.to_string(),
            }
        } else {
            AssembleError::Invalid(e.to_string())
        }
    })?;
    Ok((file, genesis))
}

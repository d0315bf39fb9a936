//! The `genesis.json` format, exactly as it is read and written.
//!
//! Nothing here is validated: [`GenesisFile::validate`] turns a file into a
//! [`crate::Genesis`]. Unknown fields are refused so a typo never goes
//! unnoticed. Amounts are decimal strings in token units (`"12.50"`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fsutil::{self, FileError};
use crate::record::{MerchantFile, ProofsEntry};
use crate::{Genesis, MAX_GENESIS_FILE_BYTES};

/// The whole genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    /// Names the chain; every transaction signs it.
    pub chain_id: String,
    /// The time of the genesis block, in milliseconds since the Unix epoch.
    pub genesis_time_ms: u64,
    /// The alliance, in validator order: proposers rotate in this order.
    pub merchants: Vec<MerchantEntry>,
    /// Tokens that exist from the start.
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
    /// Points held from the start.
    #[serde(default)]
    pub balances: Vec<BalanceEntry>,
    /// Consensus parameters; every one left out takes its default.
    #[serde(default, skip_serializing_if = "ConsensusEntry::is_default")]
    pub consensus: ConsensusEntry,
}

/// The consensus parameters of a chain (see [`merit_chain::ConsensusParams`]).
/// Later changed only by a vote of the alliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusEntry {
    /// Round-0 timeout, in milliseconds; round r waits `min(base · 2^r, max)`.
    pub timeout_base_ms: u64,
    pub timeout_max_ms: u64,
    /// The largest skew between two honest validators' clocks, in ms.
    pub precision_ms: u64,
    /// How long a message takes to reach a validator, at most, in ms.
    pub message_delay_ms: u64,
    /// An idle chain makes one empty block this often, in ms.
    pub heartbeat_ms: u64,
}

impl Default for ConsensusEntry {
    fn default() -> Self {
        ConsensusEntry::from(merit_chain::ConsensusParams::default())
    }
}

impl From<merit_chain::ConsensusParams> for ConsensusEntry {
    fn from(p: merit_chain::ConsensusParams) -> Self {
        ConsensusEntry {
            timeout_base_ms: p.timeout_base_ms,
            timeout_max_ms: p.timeout_max_ms,
            precision_ms: p.precision_ms,
            message_delay_ms: p.message_delay_ms,
            heartbeat_ms: p.heartbeat_ms,
        }
    }
}

impl From<ConsensusEntry> for merit_chain::ConsensusParams {
    fn from(e: ConsensusEntry) -> Self {
        merit_chain::ConsensusParams {
            timeout_base_ms: e.timeout_base_ms,
            timeout_max_ms: e.timeout_max_ms,
            precision_ms: e.precision_ms,
            message_delay_ms: e.message_delay_ms,
            heartbeat_ms: e.heartbeat_ms,
        }
    }
}

impl ConsensusEntry {
    fn is_default(&self) -> bool {
        *self == ConsensusEntry::default()
    }
}

/// A merchant of the alliance: its signed record (the fields of
/// `merchant.json`, see [`MerchantFile`]) and where clients reach it.
/// Merchants with a validator are the validator set, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantEntry {
    pub name: String,
    /// The merchant's account (`mrt1…`). It issues tokens.
    pub account: String,
    /// The validator's ed25519 public key (`mrt1…`); it signs consensus
    /// messages. Absent for a merchant that runs no validator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator_key: Option<String>,
    /// The validator node's libp2p identity (`mrt1…`), a key of its own;
    /// the peer id derives from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p_key: Option<String>,
    /// Where the validator listens for peers, e.g. `/ip4/127.0.0.1/tcp/26601`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p_address: Option<String>,
    /// The proofs of possession of every key above, over the record.
    pub proofs: ProofsEntry,
    /// Where clients reach the merchant's JSON-RPC, e.g. `http://127.0.0.1:8545`.
    /// Not part of the signed record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc_address: Option<String>,
}

impl MerchantEntry {
    /// The entry of a signed record, with an RPC address or none.
    pub fn new(record: MerchantFile, rpc_address: Option<String>) -> Self {
        let MerchantFile {
            name,
            account,
            validator_key,
            p2p_key,
            p2p_address,
            proofs,
        } = record;
        MerchantEntry {
            name,
            account,
            validator_key,
            p2p_key,
            p2p_address,
            proofs,
            rpc_address,
        }
    }

    /// The signed record, as `merchant.json` holds it.
    pub fn record(&self) -> MerchantFile {
        MerchantFile {
            name: self.name.clone(),
            account: self.account.clone(),
            validator_key: self.validator_key.clone(),
            p2p_key: self.p2p_key.clone(),
            p2p_address: self.p2p_address.clone(),
            proofs: self.proofs.clone(),
        }
    }
}

/// A token created at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// 2 to 12 characters of `A-Z0-9`.
    pub symbol: String,
    pub name: String,
    /// Decimal places, 0 to 9.
    pub decimals: u8,
    /// The supply cap in token units, e.g. `"1000000.00"`. Fixed forever.
    pub max_supply: String,
    /// Minted points expire this many days after their mint, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_days: Option<u32>,
    /// The issuer may freeze holders' points (default false). Fixed forever.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub freezable: bool,
    /// The issuer may take points back (default false). Fixed forever.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clawback: bool,
    /// The merchant account that may mint the token.
    pub issuer: String,
}

/// An initial balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceEntry {
    pub address: String,
    /// A symbol listed in `tokens`.
    pub token: String,
    /// In token units, e.g. `"250.00"`.
    pub amount: String,
}

impl GenesisFile {
    /// Parses JSON text. Whitespace and key order do not matter.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Pretty JSON with a trailing newline, as `merit-genesis new` writes it.
    pub fn to_json_pretty(&self) -> String {
        // Every field is a string, an integer or a list of those, which
        // serde_json always serializes.
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }

    /// Reads and parses a genesis file of at most [`MAX_GENESIS_FILE_BYTES`].
    pub fn load(path: &Path) -> Result<Self, FileError> {
        let text = fsutil::read_to_string_limited(path, MAX_GENESIS_FILE_BYTES)?;
        Self::from_json(&text).map_err(|source| FileError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Checks every rule and builds the validated genesis.
    pub fn validate(&self) -> Result<Genesis, crate::ValidationError> {
        Genesis::from_file(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
        "chain_id": "merit-test",
        "genesis_time_ms": 5,
        "merchants": [{
            "name": "Shop",
            "account": "mrt1x",
            "validator_key": "mrt1y",
            "p2p_key": "mrt1z",
            "p2p_address": "/ip4/127.0.0.1/tcp/26601",
            "proofs": {"account": "00", "validator_key": "00", "p2p_key": "00"}
        }]
    }"#;

    #[test]
    fn optional_fields_and_lists_may_be_left_out() {
        let f = GenesisFile::from_json(MINIMAL).unwrap();
        assert!(f.tokens.is_empty() && f.balances.is_empty());
        assert_eq!(f.merchants[0].rpc_address, None);
        let again = GenesisFile::from_json(&f.to_json_pretty()).unwrap();
        assert_eq!(again, f);
        assert!(
            !f.to_json_pretty().contains("rpc_address"),
            "absent options are not written"
        );
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let typo = MINIMAL.replace("\"genesis_time_ms\"", "\"genesis_time\"");
        let err = GenesisFile::from_json(&typo).unwrap_err().to_string();
        assert!(err.contains("unknown field `genesis_time`"), "{err}");
        let nested = MINIMAL.replace("\"name\": \"Shop\"", "\"name\": \"Shop\", \"url\": \"x\"");
        let err = GenesisFile::from_json(&nested).unwrap_err().to_string();
        assert!(err.contains("unknown field `url`"), "{err}");
    }

    #[test]
    fn amounts_must_be_strings() {
        let json = MINIMAL.replace(
            "}]\n    }",
            "}], \"tokens\": [{\"symbol\": \"AB\", \"name\": \"A\", \"decimals\": 2, \"max_supply\": 10.5, \"issuer\": \"x\"}]}",
        );
        let err = GenesisFile::from_json(&json).unwrap_err().to_string();
        assert!(err.contains("expected a string"), "{err}");
    }
}

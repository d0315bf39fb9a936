//! `merchant.json`: the JSON form of a signed merchant record
//! ([`merit_chain::merchant::SignedMerchant`]).
//!
//! `merit-genesis keygen` writes it on the merchant's own machine; the
//! merchant sends it (it holds no secret) to whoever assembles the genesis,
//! and the genesis file's merchant entries carry the same fields, so anyone
//! can re-check every proof. Keys are `mrt1…` strings and proofs 128 hex
//! digits.

use std::path::Path;

use merit_chain::Signature;
use merit_chain::merchant::SignedMerchant;
use serde::{Deserialize, Serialize};

use crate::fsutil::{self, FileError};
use crate::validate::{self, ValidationError, VerifiedMerchant};

/// The name of the file `merit-genesis keygen` writes.
pub const MERCHANT_FILE_NAME: &str = "merchant.json";

/// Largest `merchant.json` read, in bytes.
pub const MAX_MERCHANT_FILE_BYTES: usize = 16 * 1024;

/// A signed merchant record as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantFile {
    pub name: String,
    /// The merchant's account (`mrt1…`): it issues the merchant's tokens.
    pub account: String,
    /// The validator's consensus key; absent for a merchant that runs no
    /// validator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator_key: Option<String>,
    /// The validator node's libp2p identity; its peer id derives from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p_key: Option<String>,
    /// Where the validator listens for peers, in normal form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p_address: Option<String>,
    /// The proofs of possession.
    pub proofs: ProofsEntry,
}

/// One signature (128 hex digits) per key of the record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofsEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p_key: Option<String>,
}

fn sig_hex(s: &Option<Signature>) -> Option<String> {
    s.as_ref().map(|s| hex::encode(s.0))
}

impl MerchantFile {
    /// The JSON form of a signed record, exactly: it parses back to `s`.
    pub fn from_signed(s: &SignedMerchant) -> Self {
        let r = &s.record;
        MerchantFile {
            name: r.name.to_string(),
            account: r.account.to_bech32(),
            validator_key: r.validator.as_ref().map(|v| v.key.to_bech32()),
            p2p_key: r.validator.as_ref().map(|v| v.p2p_key.to_bech32()),
            p2p_address: r.validator.as_ref().map(|v| v.p2p_address.to_string()),
            proofs: ProofsEntry {
                account: sig_hex(&s.proofs.account),
                validator_key: sig_hex(&s.proofs.validator_key),
                p2p_key: sig_hex(&s.proofs.p2p_key),
            },
        }
    }

    /// Parses the record and checks it and every proof. Errors name the
    /// field, relative to the record (`proofs.validator_key: …`).
    pub fn verify(&self) -> Result<VerifiedMerchant, ValidationError> {
        validate::check_record(self)
    }

    /// Parses JSON text.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }

    /// Reads and parses a `merchant.json` of at most [`MAX_MERCHANT_FILE_BYTES`].
    /// The record is not checked: see [`MerchantFile::verify`].
    pub fn load(path: &Path) -> Result<Self, FileError> {
        let text = fsutil::read_to_string_limited(path, MAX_MERCHANT_FILE_BYTES)?;
        Self::from_json(&text).map_err(|source| FileError::Json {
            path: path.to_path_buf(),
            source,
        })
    }
}

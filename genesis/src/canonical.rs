//! The canonical encoding of a validated genesis and its hash.
//!
//! The hash is SHA-256 over [`merit_chain::encoding::encode`] of
//! [`CanonicalGenesis`]. It covers every value of the file in file order, as
//! parsed: keys, proofs and amounts as bytes and base units, addresses in
//! normal form. JSON formatting (whitespace, key order, `"12.5"` versus
//! `"12.50"`) therefore does not change it, and any change of content does,
//! including the order of merchants, tokens or balances. Each merchant's
//! signed record is hashed with its proofs, exactly as signed.
//!
//! Changing this layout changes every genesis hash: bump
//! [`GENESIS_FORMAT_VERSION`] and update the golden test when doing so.

use merit_chain::crypto::sha256;
use merit_chain::encoding::{self, Encode};
use merit_chain::merchant::SignedMerchant;
use merit_chain::{Address, ConsensusParams, Hash32, Symbol};

use crate::Genesis;

/// The first field of the canonical encoding.
pub const GENESIS_FORMAT_VERSION: u32 = 4;

#[derive(Encode)]
struct CanonicalGenesis {
    format_version: u32,
    chain_id: String,
    genesis_time_ms: u64,
    merchants: Vec<CanonicalMerchant>,
    tokens: Vec<CanonicalToken>,
    balances: Vec<CanonicalBalance>,
    consensus: ConsensusParams,
}

#[derive(Encode)]
struct CanonicalMerchant {
    /// The signed record with its proofs, as signed (its p2p address is in
    /// normal form, e.g. `/ip4/127.0.0.1/tcp/26601`).
    signed: SignedMerchant,
    /// In normal form, e.g. `http://127.0.0.1:8545`.
    rpc_address: Option<String>,
}

#[derive(Encode)]
struct CanonicalToken {
    symbol: Symbol,
    name: String,
    decimals: u8,
    max_supply: u64,
    expiry_days: Option<u32>,
    freezable: bool,
    clawback: bool,
    issuer: Address,
}

#[derive(Encode)]
struct CanonicalBalance {
    address: Address,
    token: Symbol,
    amount: u64,
}

fn canonical(g: &Genesis) -> CanonicalGenesis {
    CanonicalGenesis {
        format_version: GENESIS_FORMAT_VERSION,
        chain_id: g.chain_id().to_string(),
        genesis_time_ms: g.genesis_time_ms(),
        merchants: g
            .merchants()
            .iter()
            .map(|m| CanonicalMerchant {
                signed: m.signed.clone(),
                rpc_address: m.rpc_address.as_ref().map(ToString::to_string),
            })
            .collect(),
        tokens: g
            .tokens()
            .iter()
            .map(|t| CanonicalToken {
                symbol: t.symbol,
                name: t.name.to_string(),
                decimals: t.decimals,
                max_supply: t.max_supply,
                expiry_days: t.expiry_days,
                freezable: t.freezable,
                clawback: t.clawback,
                issuer: t.issuer,
            })
            .collect(),
        balances: g
            .balances()
            .iter()
            .map(|(address, token, amount)| CanonicalBalance {
                address: *address,
                token: *token,
                amount: *amount,
            })
            .collect(),
        consensus: g.consensus_params(),
    }
}

/// The canonical bytes of `g`.
pub(crate) fn encode(g: &Genesis) -> Vec<u8> {
    encoding::encode(&canonical(g))
}

/// SHA-256 of the canonical bytes of `g`.
pub(crate) fn hash(g: &Genesis) -> Hash32 {
    sha256(&encode(g))
}

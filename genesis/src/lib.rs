//! `merit-genesis`: how a Merit chain begins.
//!
//! It owns:
//! - the `genesis.json` format ([`GenesisFile`]) and its validation into a
//!   [`Genesis`], which names the offending field of any invalid file;
//! - the genesis hash, SHA-256 of a canonical encoding, which every node of
//!   one chain must agree on ([`Genesis::hash`]);
//! - the key ceremony: a merchant's keys made on its own machine
//!   ([`MerchantKeys`]), its signed public record (`merchant.json`,
//!   [`MerchantFile`]) and the genesis assembled from such records without
//!   any secret ([`assemble()`]);
//! - the encrypted key file format shared with the wallet ([`keystore`])
//!   and the node's p2p key file ([`p2p_key`]);
//! - the layout of a new alliance on one machine, for tests ([`NewNetwork`]);
//! - the deterministic devnet layout with public demo keys ([`devnet()`]).
//!
//! **Architecture invariant:** it must never decide ledger rules itself. The
//! state a genesis describes is checked by [`merit_chain::Ledger::genesis`],
//! so a file this crate accepts is a state every node accepts. It must never
//! depend on networking or the node, never read the clock (callers pass the
//! genesis time in), and draw randomness only for fresh keys. It must never
//! write a secret seed anywhere but a key file created with mode 0600, and
//! never use the devnet's demo keys outside the devnet. `assemble` and
//! `verify` need no secret, and no function here sends one anywhere.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

mod assemble;
mod canonical;
pub mod devnet;
pub mod file;
mod fsutil;
pub mod keys;
pub mod keystore;
pub mod netaddr;
pub mod p2p_key;
pub mod record;
mod validate;

pub use assemble::{AssembleError, GenesisExtras, assemble};
pub use canonical::GENESIS_FORMAT_VERSION;
pub use devnet::{DevnetLayout, DevnetMerchant, DevnetShopper, devnet, try_devnet};
pub use file::{BalanceEntry, GenesisFile, MerchantEntry, TokenEntry};
pub use fsutil::FileError;
pub use keys::{
    KeyPasswords, MerchantKeys, NetworkPlan, NewNetwork, NodeKeys, WriteKeysError,
    merchant_dir_name,
};
pub use netaddr::{Host, P2pAddress, RpcAddress};
pub use record::MerchantFile;
pub use validate::{
    Genesis, Merchant, MerchantValidator, Problem, ValidationError, VerifiedMerchant,
};

/// Largest genesis file read, in bytes.
pub const MAX_GENESIS_FILE_BYTES: usize = 32 * 1024 * 1024;
/// Merchants a genesis file may list (at most `MAX_VALIDATORS` of them run
/// a validator).
pub const MAX_GENESIS_MERCHANTS: usize = 1_000;
/// Tokens a genesis file may create.
pub const MAX_GENESIS_TOKENS: usize = 1_000;
/// Initial balances a genesis file may list.
pub const MAX_GENESIS_BALANCES: usize = 100_000;

//! `merit-genesis`: how a Merit chain begins.
//!
//! It owns:
//! - the `genesis.json` format ([`GenesisFile`]) and its validation into a
//!   [`Genesis`], which names the offending field of any invalid file;
//! - the genesis hash, SHA-256 of a canonical encoding, which every node of
//!   one chain must agree on ([`Genesis::hash`]);
//! - merchant key generation and key files ([`MerchantKeys`], [`KeyFile`])
//!   and the layout of a new alliance ([`NewNetwork`]);
//! - the deterministic devnet layout with public demo keys ([`devnet()`]).
//!
//! **Architecture invariant:** it must never decide ledger rules itself. The
//! state a genesis describes is checked by [`merit_chain::Ledger::genesis`],
//! so a file this crate accepts is a state every node accepts. It must never
//! depend on networking or the node, never read the clock (callers pass the
//! genesis time in), and draw randomness only for fresh keys. It must never
//! write a secret seed anywhere but a key file created with mode 0600, and
//! never use the devnet's demo keys outside the devnet.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

mod canonical;
pub mod devnet;
pub mod file;
mod fsutil;
pub mod keys;
pub mod netaddr;
mod validate;

pub use canonical::GENESIS_FORMAT_VERSION;
pub use devnet::{DevnetLayout, DevnetMerchant, DevnetShopper, devnet, try_devnet};
pub use file::{BalanceEntry, GenesisFile, MerchantEntry, TokenEntry};
pub use fsutil::FileError;
pub use keys::{KeyFile, MerchantKeys, NetworkPlan, NewNetwork, key_file_name};
pub use netaddr::{Host, P2pAddress, RpcAddress};
pub use validate::{Genesis, Merchant, Problem, ValidationError};

/// Largest genesis file read, in bytes.
pub const MAX_GENESIS_FILE_BYTES: usize = 32 * 1024 * 1024;
/// Tokens a genesis file may create.
pub const MAX_GENESIS_TOKENS: usize = 1_000;
/// Initial balances a genesis file may list.
pub const MAX_GENESIS_BALANCES: usize = 100_000;

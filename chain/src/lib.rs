//! `merit-chain`: the deterministic core of Merit.
//!
//! It owns the types, the canonical encoding, signatures, transactions, the
//! ledger state machine, blocks and the PBFT consensus state machine.
//! Storage lives in `merit-store`: this crate does no I/O and builds no C++.
//!
//! It must never read a clock, draw randomness, spawn a thread, touch the
//! network, or iterate a hash map in anything that decides state: time and
//! messages arrive as inputs, so the same inputs always give the same bytes.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod address;
pub mod amount;
pub mod block;
pub mod commitment;
pub mod consensus;
pub mod crypto;
pub mod encoding;
pub mod governance;
pub mod ledger;
pub mod light;
pub mod limits;
pub mod merchant;
pub mod merkle;
pub mod params;
pub mod postings;
pub mod proof;
pub mod reject;
pub mod state;
pub mod tx;

pub use block::{Block, BlockHeader, CommitCertificate, Event, Receipt, TxOutcome};
pub use crypto::{Address, Hash32, Keypair, PublicKey, Signature};
pub use ledger::{BlockContext, BlockOutcome, GenesisState, Ledger};
pub use params::ConsensusParams;
pub use reject::{Refusal, RejectCode};
pub use tx::{Symbol, Transaction, TxBody, TxKind};

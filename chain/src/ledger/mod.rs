//! The ledger state machine: executes blocks of transactions deterministically.
//!
//! `execute_block` reads the committed state and returns receipts, the state
//! changes and the new state root without changing anything; `apply` installs
//! an outcome once its block is final. A rejected transaction changes no
//! ledger entry. A transaction that passes the envelope checks (chain, signature,
//! TTL, unused nonce) consumes its nonce even when its kind is rejected, so the
//! same signed bytes can never succeed later (see `docs/adr/003-rejected-transactions.md`).
//!
//! Exchange, escrow and expiring points follow `docs/adr/004-exchange-escrow-expiry.md`:
//! each block first expires the lots whose time has come, then runs its
//! transactions; locked points live in offers and escrows, and every move of an
//! expiring token carries its lots along, earliest-expiring first.
//!
//! The modules follow those seams: `genesis` builds the first state, `query`
//! reads and audits the committed state, `execute` runs blocks against the
//! scratch state of `overlay`, `exec` dispatches a transaction by kind to
//! `tokens`, `payments`, `exchange`, `path` (path payments), `escrow` and
//! `freeze` (frozen funds and clawback), `lots` moves and expires expiring
//! points, and `apply` installs the outcome of a final block.

use std::collections::{BTreeMap, BTreeSet};

use crate::block::{BlockHeader, Event, Receipt};
use crate::commitment::{CommitmentDelta, StateCommitment};
use crate::crypto::{Address, Hash32};
use crate::state::*;
use crate::tx::{ChainId, Symbol};

mod apply;
mod escrow;
mod exchange;
mod exec;
mod execute;
mod freeze;
mod genesis;
mod governance;
mod lots;
mod mutant;
mod overlay;
mod path;
mod payments;
mod query;
mod tokens;

#[cfg(test)]
mod tests;

pub use execute::BlockError;
pub use genesis::{GenesisError, GenesisState, GenesisToken};
pub use mutant::{LedgerMutant, with_mutant};
pub use path::{
    BookOffer, Fill, MAX_PATHS_FOUND, MAX_ROUTES_SEARCHED, PathQuote, quote_path, route,
};
pub use query::{ExpiringLot, Locked, SupplyAudit};

/// What a block is executed against: its height and its time, both chosen by
/// the proposer and agreed by consensus. The ledger never reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockContext {
    pub height: u64,
    pub timestamp_ms: u64,
}

/// The result of executing a block, ready to be stored and applied.
#[derive(Debug, Clone)]
pub struct BlockOutcome {
    pub height: u64,
    pub receipts: Vec<Receipt>,
    /// The block's own events, after the receipts under `receipts_root`:
    /// the lots that expired as it began (DESIGN §11).
    pub block_events: Vec<Event>,
    pub changes: StateChanges,
    /// `changes` in canonical bytes, for storage.
    pub encoded_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// What each changed key held before the block, in the same order as
    /// `encoded_changes` (`None`: no entry): kept so past states can be
    /// proven (ADR 014).
    pub undo: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The hash each bucket the block changes had before it.
    pub bucket_undo: Vec<(u32, Hash32)>,
    /// Set on the first block of a new UTC day: the day that ended with the
    /// tip this block builds on, kept so that state can be proven for
    /// `PROOF_RETENTION_DAYS` (ADR 014).
    pub day_end: Option<DayEnd>,
    pub state_root: Hash32,
    delta: CommitmentDelta,
}

/// The last block of a UTC day and the hash of every bucket of the state
/// after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayEnd {
    /// The UTC day ([`crate::proof::utc_day`]) of the block.
    pub day: u64,
    pub height: u64,
    /// One hash per bucket, by index: the leaves of the state tree.
    pub buckets: Vec<Hash32>,
}

/// The ledger: the committed state, its commitment and the chain tip.
#[derive(Debug, Clone)]
pub struct Ledger {
    chain_id: ChainId,
    state: StateMap,
    commitment: StateCommitment,
    /// Derived: open nonces by the height their window closes, for pruning.
    nonce_expiry: BTreeSet<(u64, Address, u64)>,
    /// Derived: the sum of balances less their frozen parts per token.
    /// Wider than a balance so that no order of installing one block's
    /// changes can saturate it.
    circulating: BTreeMap<Symbol, u128>,
    /// Derived: the sum of frozen parts per token.
    frozen: BTreeMap<Symbol, u128>,
    /// Derived: the sum of open offers' remaining amounts per sold token.
    locked_offers: BTreeMap<Symbol, u128>,
    /// Derived: the sum of open escrows' remaining amounts per token.
    locked_escrow: BTreeMap<Symbol, u128>,
    /// Derived: every lot by its expiry time, so a block touches only the
    /// lots that expire in it.
    lot_expiry: BTreeSet<(u64, Symbol, LotHolder)>,
    /// Derived: open offers by owner.
    offers_by_owner: BTreeSet<(Address, u64)>,
    /// Derived: open escrows by payer and by payee.
    escrows_by_party: BTreeSet<(Address, Hash32)>,
    tip: BlockHeader,
}

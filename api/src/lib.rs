//! `merit-api`: the JSON-RPC contract between a Merit node and its clients,
//! as `docs/rpc.md` describes it.
//!
//! It owns what both sides of the wire must agree on: the method names
//! ([`method`]), the error codes and the shapes of their `data`
//! ([`error`]), the params the node parses beyond a plain string
//! ([`params`]), and the answers and subscription notifications as serde
//! types ([`response`], [`event`], [`notification`]). The node builds its
//! answers from these types; the wallet decodes them into the same ones.
//!
//! It must never hold logic of the chain or of either side: no ledger
//! rules, no formatting of amounts (they arrive here as decimal strings),
//! no I/O. It must not depend on `merit-chain`, `merit-store`,
//! `merit-node` or anything that builds RocksDB: the fuzz targets and any
//! client build it alone. A change to a type here is a change on the wire;
//! the node's pinned answers (`node/src/rpc/golden.txt`) show it.
//!
//! Field names and nesting are the wire format. Objects are declared in
//! the order `docs/cli.md` prints them; the node sends its answers with
//! their keys sorted (see `merit_node::rpc`), so declaration order never
//! reaches the node's wire.
#![forbid(unsafe_code)]

pub mod date;
pub mod error;
pub mod event;
pub mod method;
pub mod notification;
pub mod params;
pub mod response;

pub use date::{parse_utc_date, utc_date};
pub use error::{BusyCode, BusyData, InvalidParamsData, RejectedTxData};
pub use event::Event;
pub use notification::{AccountNotification, BlockNotification, RejectedTx};
pub use params::{
    BlockOptions, BlockRef, BookLimit, EvidenceOptions, HistoryCursor, HistoryLimit,
    HistoryOptions, ProofOptions, ProposalFilter, StatementOptions, ValidatorsOptions,
};
pub use response::{
    Account, AuditEntry, Block, BlockBytes, Certificate, DayEnd, Escrow, EscrowStatus,
    EvidenceEntry, Expiring, Health, HealthStatus, HistoryEntry, HistoryPage, Offer, OrderBook,
    PathFound, Posting, PostingSide, Proposal, ProposalAction, ProvenHolding, StateProof,
    Statement, StatementLine, Status, SubAccount, TokenInfo, TokenStatement, TxInfo, TxProofInfo,
    TxStatus, ValidatorChange, ValidatorEntry, ValidatorSetInfo,
};

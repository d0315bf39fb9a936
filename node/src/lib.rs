//! `merit-node`: the Merit merchant node.
//!
//! It owns all I/O around the deterministic core in `merit-chain`:
//! libp2p networking ([`network`]) and the rules for its peers ([`peers`]),
//! the mempool ([`mempool`]), the
//! consensus driver that carries out the PBFT state machine's effects
//! ([`driver`]) on a runtime of clock, timers and network ([`runtime`]),
//! block sync, JSON-RPC
//! ([`rpc`]), Prometheus metrics ([`metrics`]), configuration ([`config`])
//! and the one-command local alliance ([`devnet`]).
//!
//! **Architecture invariant:** the node never decides ledger or consensus
//! rules itself. Every state change goes through `merit_chain::Ledger`, and
//! every vote through `merit_chain::consensus::Replica`; the node only
//! feeds them inputs and carries out their effects, in order. A vote is
//! written to disk before it is sent, and a block with its certificate and
//! state changes is written in one synced batch before it is announced.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::panic)]

pub mod config;
pub mod devnet;
pub mod driver;
pub mod mempool;
pub mod metrics;
pub mod network;
pub mod node;
pub mod peers;
pub mod rpc;
pub mod rpc_batch;
pub mod runtime;
pub mod shared;
pub mod verified;
pub mod verify;

pub use config::NodeConfig;
#[cfg(feature = "rocksdb")]
pub use node::Node;
pub use node::NodeHandle;

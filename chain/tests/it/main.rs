//! Integration tests of the ledger core: rules, model, golden bytes, storage.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod combined;
mod escrow;
mod exchange;
mod expiry;
mod fixture;
mod freeze;
mod golden;
mod governance;
mod kind_vectors;
mod light;
mod market_model;
mod model;
mod path;
mod proofs;
mod rules;
mod state_proof;
mod subaccounts;
mod vectors;

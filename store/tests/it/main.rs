//! Integration tests of the stores: a reopened store finds exactly what was
//! committed, corruption is refused, and the in-memory store behaves as the
//! RocksDB one does.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

/// The ledger fixture of `merit-chain`'s own tests, shared rather than copied.
#[path = "../../../chain/tests/it/fixture.rs"]
#[allow(dead_code)]
mod fixture;
mod persistence;

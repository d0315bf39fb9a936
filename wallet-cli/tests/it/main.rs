//! The integration tests of `merit-wallet`: the keystore through its API,
//! and the `merit` binary for everything that needs no node (keys, offline
//! signing, decoding, input errors, an unreachable node, help and
//! completions). The end-to-end tests against a devnet live in
//! `tests/tests/it/wallet_e2e.rs`, but for sub-accounts, in
//! `sub_accounts_e2e.rs` here (it needs the node binary beside the wallet's).
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod binary;
mod documents;
mod http;
mod keystore;
mod sub_accounts_e2e;

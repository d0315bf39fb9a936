//! The integration tests of `merit-tests`.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod adversarial;
mod byzantine;
mod ceremony;
mod chaos;
mod cluster;
mod consensus_sim;
mod governance;
mod p2p;
mod wallet_e2e;

//! `merit-tests`: cross-crate tests for Merit.
//!
//! The library holds the deterministic consensus simulation ([`sim`]) and
//! the harness that runs real node processes ([`cluster`]), used
//! by the integration tests in `tests/it` and by the `merit-sim` binary,
//! which runs any number of seeds:
//!
//! ```text
//! cargo run -p merit-tests --release --bin merit-sim -- --scenario all --seeds 100000
//! ```
//!
//! [`chaos`] runs a real cluster under kill -9, wiped data directories and
//! network partitions while load runs, and checks that nothing committed is
//! lost or duplicated; `merit-chaos` runs it for as many cycles as asked.
//!
//! [`lying_proxy`] stands between a wallet and an honest node and rewrites
//! its answers, for the test of the verifying wallet.
//!
//! [`rogue`] is an outsider peer that floods an alliance with fake
//! proposals, invalid votes and garbage (`merit-rogue`), for the flood test.
//!
//! Nothing here is part of a node: it may use threads and clocks freely, but
//! every simulated run draws all of its choices from its seed.
#![forbid(unsafe_code)]

pub mod bench;
pub mod chaos;
pub mod cluster;
pub mod lying_proxy;
pub mod postgres;
pub mod rogue;
pub mod sim;

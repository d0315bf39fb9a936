//! Integration tests of the `merit-node` binary as an operator meets it.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod cli;
mod dashboard;
mod explorer;

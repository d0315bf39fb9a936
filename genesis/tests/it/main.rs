//! Integration tests of `merit-genesis`: validation, hashing, the devnet
//! layout with its golden encodings, and the binary run as a user runs it.

// Test helpers outside `#[test]` functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::panic)]

mod cli;
mod devnet;
mod hashing;
mod support;
mod validation;

//! Shared set-up of Merit's fuzz targets and their seed corpora.
//!
//! The fixtures come from the chain's own test suite: [`fixture`] is
//! `chain/tests/it/fixture.rs` (the small alliance the rule tests run
//! against) and the golden transactions come from `chain/tests/it/golden.rs`,
//! so the seeds are exactly the encodings those tests pin.

#[allow(dead_code, unused_imports)]
#[path = "../../chain/tests/it/fixture.rs"]
pub mod fixture;

#[allow(dead_code, unused_imports)]
#[path = "../../chain/tests/it/golden.rs"]
mod golden;

pub mod consensus;
pub mod rpc;
pub mod seeds;
pub mod world;

/// The golden transactions of `chain/tests/it/golden.rs`, one of each kind,
/// with their kind names.
pub fn golden_transactions() -> Vec<(&'static str, merit_chain::Transaction)> {
    golden::kinds()
        .into_iter()
        .map(|(name, kind)| (name, golden::signed(kind)))
        .collect()
}

/// Splits `data` into frames of a `u32` little-endian length and that many
/// bytes; a length past the end takes what is left.
pub fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 4 {
        let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        data = &data[4..];
        let take = len.min(data.len());
        out.push(&data[..take]);
        data = &data[take..];
    }
    out
}

/// The inverse of [`frames`].
pub fn join_frames<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

//! Block, header, receipt and commit certificate decoding.
//!
//! The input is tried as each of a `Block` (`Block::from_bytes`), a
//! `BlockHeader`, a `Receipt` and a `CommitCertificate` (each through
//! `merit_chain::encoding::decode` with the limit storage and sync use).
//! Whatever decodes must re-encode to the same bytes. A block is verified
//! against the fixture world's ledger as it is; then its transactions,
//! re-signed by the world keys their nonces pick, are built into a block at
//! its header's round, time and proposer, which must verify, stay within
//! the storage limits and keep the supply audit once applied. A certificate
//! is checked against the world's four validators.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use merit_chain::consensus::verify_certificate;
use merit_chain::encoding::{self, Decode, Encode};
use merit_chain::limits::{
    MAX_BLOCK_BYTES, MAX_CERT_BYTES, MAX_HEADER_BYTES, MAX_RECEIPT_BYTES, MAX_STATE_VALUE_BYTES,
};
use merit_chain::{Block, BlockHeader, CommitCertificate, PublicKey, Receipt, Transaction};
use merit_fuzz::world::{World, assert_audit};

/// Transactions re-signed and rebuilt from one input at most.
const MAX_REBUILT_TXS: usize = 256;

static WORLD: LazyLock<World> = LazyLock::new(World::new);
static VALIDATORS: LazyLock<Vec<PublicKey>> =
    LazyLock::new(|| WORLD.validators.iter().map(|k| k.public()).collect());

fn round_trip<T: Encode + Decode<()> + PartialEq + std::fmt::Debug>(
    data: &[u8],
    limit: usize,
) -> Option<T> {
    let value = encoding::decode::<T>(data, limit).ok()?;
    assert_eq!(
        encoding::encode(&value),
        data,
        "non-canonical encoding accepted"
    );
    Some(value)
}

fuzz_target!(|data: &[u8]| {
    let world = &*WORLD;
    if let Ok(block) = Block::from_bytes(data) {
        assert_eq!(block.to_bytes(), data, "non-canonical block accepted");
        check_block(world, &block);
    }
    if let Some(header) = round_trip::<BlockHeader>(data, MAX_HEADER_BYTES) {
        assert_eq!(header.hash(), merit_chain::crypto::sha256(data));
    }
    round_trip::<Receipt>(data, MAX_RECEIPT_BYTES);
    if let Some(cert) = round_trip::<CommitCertificate>(data, MAX_CERT_BYTES) {
        let verdict = verify_certificate(world.ledger.chain_id(), &VALIDATORS, &cert);
        if verdict.is_ok() {
            // A passing certificate has a quorum of distinct members.
            let mut signers: Vec<_> = cert.signatures.iter().map(|s| s.validator).collect();
            signers.sort();
            signers.dedup();
            assert_eq!(signers.len(), cert.signatures.len());
            assert!(signers.len() >= 3);
            assert!(signers.iter().all(|s| VALIDATORS.contains(s)));
        }
    }
});

fn check_block(world: &World, block: &Block) {
    let ledger = &world.ledger;
    if let Ok(outcome) = ledger.verify_block(block) {
        let mut next = ledger.clone();
        next.apply(&block.header, outcome);
        assert_audit(&next);
    }

    let h = &block.header;
    let txs: Vec<Transaction> = block
        .txs
        .iter()
        .take(MAX_REBUILT_TXS)
        .map(|t| world.resign(t.body.clone()))
        .collect();
    let (built, outcome) = ledger.build_block(h.round, h.timestamp_ms, h.proposer, txs);
    let bytes = built.to_bytes();
    assert!(bytes.len() <= MAX_BLOCK_BYTES);
    assert_eq!(Block::from_bytes(&bytes).as_ref(), Ok(&built));
    let replay = match ledger.verify_block(&built) {
        Ok(r) => r,
        Err(e) => panic!("a block the ledger built does not verify: {e}"),
    };
    assert_eq!(replay.state_root, outcome.state_root);
    assert_eq!(replay.receipts, outcome.receipts);
    assert_eq!(replay.encoded_changes, outcome.encoded_changes);
    for r in &outcome.receipts {
        let len = encoding::encode(r).len();
        assert!(len <= MAX_RECEIPT_BYTES, "a {len}-byte receipt: {r:?}");
    }
    for (k, v) in &outcome.encoded_changes {
        assert!(
            k.len() <= MAX_STATE_VALUE_BYTES,
            "a {}-byte state key",
            k.len()
        );
        if let Some(v) = v {
            assert!(
                v.len() <= MAX_STATE_VALUE_BYTES,
                "a {}-byte state value",
                v.len()
            );
        }
    }
    let mut next = ledger.clone();
    next.apply(&built.header, outcome);
    assert_audit(&next);
}

//! Golden bytes: the canonical encoding of one transaction of each kind and
//! of a block header. These bytes are hashed, signed and stored; if a test
//! here fails, the format changed and every node would disagree with old data.

use merit_chain::encoding::{self, BoundedString};
use merit_chain::tx::TxBody;
use merit_chain::{BlockHeader, Hash32, Transaction, TxKind};

use crate::fixture::*;

fn signed(kind: TxKind) -> Transaction {
    let sender = key("golden-sender");
    TxBody {
        chain_id: chain_id(),
        sender: sender.public(),
        nonce: 7,
        expires_at_height: 1_000,
        kind,
    }
    .sign(&sender)
}

fn kinds() -> Vec<(&'static str, TxKind)> {
    let to = key("golden-receiver").public();
    let memo = Some(BoundedString::new("thanks").unwrap());
    vec![
        (
            "CreateToken",
            TxKind::CreateToken {
                symbol: sym("BEAN"),
                name: BoundedString::new("Bean points").unwrap(),
                decimals: 2,
                max_supply: 1_000_000,
                expiry_days: Some(365),
            },
        ),
        (
            "Mint",
            TxKind::Mint {
                token: sym("BEAN"),
                to,
                amount: 1_250,
            },
        ),
        (
            "Transfer",
            TxKind::Transfer {
                token: sym("BEAN"),
                to,
                amount: 99,
                memo: memo.clone(),
            },
        ),
        (
            "Pay",
            TxKind::Pay {
                token: sym("BEAN"),
                order_id: BoundedString::new("order-1").unwrap(),
                legs: legs(&[(to, 90), (key("golden-platform").public(), 10)]),
                memo: None,
            },
        ),
        (
            "Refund",
            TxKind::Refund {
                payment: Hash32([0xAB; 32]),
                amount: 5,
            },
        ),
        (
            "Redeem",
            TxKind::Redeem {
                token: sym("BEAN"),
                amount: 40,
                memo,
            },
        ),
    ]
}

/// (kind, SHA-256 of the signed transaction's bytes = its hash)
const TX_HASHES: [(&str, &str); 6] = [
    (
        "CreateToken",
        "ef1a449eac4d44342fb9b264f726312b4f779981005835618b277409617aa6ce",
    ),
    (
        "Mint",
        "4ff083d244a41cf331be0c87eec1932668f0c60d8d9f8a53630579d5edb78182",
    ),
    (
        "Transfer",
        "dcfa8f9941f31a5e313a6ac831f0c4dc40306c66c332e2f2c76c37992ad6e82c",
    ),
    (
        "Pay",
        "32b5581520b262c62273a142da4fa375491221b78f01c6064dbda2502ba3cdbb",
    ),
    (
        "Refund",
        "bfe76a657b114b9c408c49150f034540eddbe999342cf73caae6dad57b66d22e",
    ),
    (
        "Redeem",
        "ff90f0f53869a8d6936d02ff4b0303ec79c92a0ad57760bb8e866c14b887a323",
    ),
];

/// The full bytes of the Transfer, to make any layout change obvious.
const TRANSFER_HEX: &str = "0a000000000000006d657269742d74657374fbba89fbbfab1a9d9481bb7c46dff1de6108c36006add22b35614bc1b0ac8c660700000000000000e8030000000000000200000004000000000000004245414e78471de691d9eea673b70d576a857a06aeb9312fd0847b92e23d5a6a2a5833b263000000000000000106000000000000007468616e6b737f4709664a97181b6a0c9ff1e5ae5196a1d83ce3d8d7cb8ab57c464f0b3fef24964e937db8e327aac20038cbc0f042c2cbe96b29eb83856ac77127c4ff92df00";

const HEADER_HEX: &str = "0a000000000000006d657269742d746573742a000000000000000100000001010101010101010101010101010101010101010101010101010101010101010068e5cf8b0100003378d301b0f19983cec79eba59ffef70c883acaae3d3e28d25406fb63fee0795020202020202020202020202020202020202020202020202020202020202020203030303030303030303030303030303030303030303030303030303030303030404040404040404040404040404040404040404040404040404040404040404";

#[test]
fn transaction_encodings_are_pinned() {
    let mut mismatches = Vec::new();
    for ((name, kind), (pinned_name, pinned)) in kinds().into_iter().zip(TX_HASHES) {
        assert_eq!(name, pinned_name);
        let tx = signed(kind);
        let bytes = tx.to_bytes();
        assert_eq!(
            Transaction::from_bytes(&bytes).unwrap(),
            tx,
            "{name} must round-trip"
        );
        assert!(tx.verify_signature());
        if tx.hash().to_hex() != pinned {
            mismatches.push(format!("(\"{name}\", \"{}\"),", tx.hash().to_hex()));
        }
        if name == "Transfer" && hex::encode(&bytes) != TRANSFER_HEX {
            mismatches.push(format!("TRANSFER_HEX = \"{}\"", hex::encode(&bytes)));
        }
    }
    assert!(
        mismatches.is_empty(),
        "encodings changed:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn block_header_encoding_is_pinned() {
    let header = BlockHeader {
        chain_id: chain_id(),
        height: 42,
        round: 1,
        parent_hash: Hash32([1; 32]),
        timestamp_ms: GENESIS_TIME_MS,
        proposer: key("golden-proposer").public(),
        tx_root: Hash32([2; 32]),
        receipts_root: Hash32([3; 32]),
        state_root: Hash32([4; 32]),
    };
    let bytes = encoding::encode(&header);
    assert_eq!(
        encoding::decode::<BlockHeader>(&bytes, 1024).unwrap(),
        header
    );
    assert_eq!(
        hex::encode(&bytes),
        HEADER_HEX,
        "block header encoding changed"
    );
}

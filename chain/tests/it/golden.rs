//! Golden bytes: the canonical encoding of one transaction of each kind and
//! of a block header. These bytes are hashed, signed and stored; if a test
//! here fails, the format changed and every node would disagree with old data.

use merit_chain::encoding::{self, BoundedString};
use merit_chain::tx::{Price, TxBody};
use merit_chain::{BlockHeader, Hash32, Transaction, TxKind};

use crate::fixture::*;

/// `kind` as the golden sender signs it; also the fuzz seeds (`fuzz/`).
pub(crate) fn signed(kind: TxKind) -> Transaction {
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

/// One transaction kind of each, as pinned below.
pub(crate) fn kinds() -> Vec<(&'static str, TxKind)> {
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
                freezable: true,
                clawback: false,
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
                order_id: BoundedString::new("order-1").unwrap(),
                legs: legs(
                    sym("BEAN"),
                    &[(to, 90), (key("golden-platform").public(), 10)],
                ),
                memo: None,
            },
        ),
        (
            "Refund",
            TxKind::Refund {
                payment: Hash32([0xAB; 32]),
                token: sym("BEAN"),
                amount: 5,
            },
        ),
        (
            "Redeem",
            TxKind::Redeem {
                token: sym("BEAN"),
                amount: 40,
                memo: memo.clone(),
            },
        ),
        (
            "PlaceOffer",
            TxKind::PlaceOffer {
                sell: sym("BEAN"),
                buy: sym("BOOK"),
                amount: 300,
                price: Price::new(1, 3),
            },
        ),
        ("CancelOffer", TxKind::CancelOffer { offer_id: 42 }),
        (
            "EscrowCreate",
            TxKind::EscrowCreate {
                token: sym("BEAN"),
                to,
                amount: 500,
                deadline_ms: GENESIS_TIME_MS + 86_400_000,
                order_id: Some(BoundedString::new("trade-1").unwrap()),
            },
        ),
        (
            "EscrowRelease",
            TxKind::EscrowRelease {
                id: Hash32([0xCD; 32]),
            },
        ),
        (
            "EscrowRefund",
            TxKind::EscrowRefund {
                id: Hash32([0xEF; 32]),
            },
        ),
        (
            "Propose",
            TxKind::Propose {
                action: merit_chain::governance::GovAction::AddMerchant {
                    merchant: Box::new(golden_merchant()),
                },
                voting_ends_height: 500,
            },
        ),
        (
            "Vote",
            TxKind::Vote {
                proposal: 3,
                approve: true,
            },
        ),
        (
            "Freeze",
            TxKind::Freeze {
                token: sym("BEAN"),
                account: merit_chain::tx::AccountRef {
                    address: to,
                    sub: 2,
                },
                amount: 60,
            },
        ),
        (
            "Unfreeze",
            TxKind::Unfreeze {
                token: sym("BEAN"),
                account: merit_chain::tx::AccountRef::main(to),
                amount: 25,
            },
        ),
        (
            "Clawback",
            TxKind::Clawback {
                token: sym("BEAN"),
                from: merit_chain::tx::AccountRef::main(to),
                amount: 50,
                memo: Some(BoundedString::new("chargeback 7").unwrap()),
            },
        ),
        (
            "PayCombined",
            TxKind::Pay {
                order_id: BoundedString::new("order-2").unwrap(),
                legs: merit_chain::encoding::BoundedVec::new(vec![
                    merit_chain::tx::PayLeg {
                        to,
                        token: sym("BEAN"),
                        amount: 30,
                    },
                    merit_chain::tx::PayLeg {
                        to,
                        token: sym("BOOK"),
                        amount: 20,
                    },
                ])
                .unwrap(),
                memo: memo.clone(),
            },
        ),
        (
            "PayPath",
            TxKind::PayPath {
                send_token: sym("BEAN"),
                send_max: 1_200,
                dest_token: sym("BOOK"),
                dest_amount: 500,
                to,
                path: merit_chain::encoding::BoundedVec::new(vec![sym("FUEL")]).unwrap(),
                order_id: Some(BoundedString::new("order-3").unwrap()),
                memo: None,
            },
        ),
    ]
}

/// (kind, SHA-256 of the signed transaction's bytes = its hash)
const TX_HASHES: [(&str, &str); 18] = [
    (
        "CreateToken",
        "a35d0b912e46738d1807ee509e87377fbfcf46cb6a8d32f8de48756abc300e03",
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
        "3ccfbc473d45586f74a288e5ab6e639cd91663f3bd735b0c185966562c5dff24",
    ),
    (
        "Refund",
        "4b23e5c7c2ab9cb8a142871ed7ecb12c6db7ad689d9301d0a8d73ef2eaf49f96",
    ),
    (
        "Redeem",
        "ff90f0f53869a8d6936d02ff4b0303ec79c92a0ad57760bb8e866c14b887a323",
    ),
    (
        "PlaceOffer",
        "5053b1f511b762774f52645e1ba3669c504789ec65c88b12dea6044ad3276aeb",
    ),
    (
        "CancelOffer",
        "7b8f1c164f4b9e7bac1a3f985afb25b61d0e3cde0258240effe1659144e968a4",
    ),
    (
        "EscrowCreate",
        "0cbeb7b138d56792c35520d0b8886c3d706e85e556115cf5dc5291c226d6d5b7",
    ),
    (
        "EscrowRelease",
        "36a582d7a00fc732a510ba83f3ebaf666f402cb047aa9f019305bde6f802c7be",
    ),
    (
        "EscrowRefund",
        "5de089e91d74c032681caeeef1082f1f6cd907c7415e992196cbf40c8333a893",
    ),
    (
        "Propose",
        "79bdfca8bcb3e2de0a2618ee66a3288e5ffa360ae8bbb9a1b4195e35c85766ce",
    ),
    (
        "Vote",
        "a6a59524f0c0ce6ae1fe39afa8f9e26a84a99ec476d74c937503630c96379e6f",
    ),
    (
        "Freeze",
        "6547fda8bb7eb211dd820c0446b5c524297544f8f5c743ac740b10868674eb01",
    ),
    (
        "Unfreeze",
        "7ceceeefd5a1d59121dc29d601d678f03e43f37ddde679d4629692014f99f924",
    ),
    (
        "Clawback",
        "a2ccd78acc4edea3c9696266d987660fcc5ccea468e926e9acbf98f5391e2ab8",
    ),
    (
        "PayCombined",
        "4e8443db0809734e6d4a09ca6fec48a02a2103e6fb537230135c62189960decd",
    ),
    (
        "PayPath",
        "6e82fcf95c335cc66d645b283423f3b580a536f8d3ae5a0496596e3dbd63712c",
    ),
];

/// The full bytes of the PlaceOffer: its price is two fixed-width `u64`s.
const PLACE_OFFER_HEX: &str = "0a000000000000006d657269742d74657374fbba89fbbfab1a9d9481bb7c46dff1de6108c36006add22b35614bc1b0ac8c660700000000000000e8030000000000000600000004000000000000004245414e0400000000000000424f4f4b2c0100000000000001000000000000000300000000000000929d299c8af160294956c2321bd440c10e3e88acf0c9a5d26570e334e947587830eb233b4a2a879d846a92e4dc527275a1f1d9f67a1df6b8e4dd02557a8f050c";

/// The full bytes of the Transfer, to make any layout change obvious.
const TRANSFER_HEX: &str = "0a000000000000006d657269742d74657374fbba89fbbfab1a9d9481bb7c46dff1de6108c36006add22b35614bc1b0ac8c660700000000000000e8030000000000000200000004000000000000004245414e78471de691d9eea673b70d576a857a06aeb9312fd0847b92e23d5a6a2a5833b263000000000000000106000000000000007468616e6b737f4709664a97181b6a0c9ff1e5ae5196a1d83ce3d8d7cb8ab57c464f0b3fef24964e937db8e327aac20038cbc0f042c2cbe96b29eb83856ac77127c4ff92df00";

const HEADER_HEX: &str = "0a000000000000006d657269742d746573742a000000000000000100000001010101010101010101010101010101010101010101010101010101010101010068e5cf8b0100003378d301b0f19983cec79eba59ffef70c883acaae3d3e28d25406fb63fee079502020202020202020202020202020202020202020202020202020202020202020303030303030303030303030303030303030303030303030303030303030303040404040404040404040404040404040404040404040404040404040404040405050505050505050505050505050505050505050505050505050505050505050606060606060606060606060606060606060606060606060606060606060606";

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
        if name == "PlaceOffer" && hex::encode(&bytes) != PLACE_OFFER_HEX {
            mismatches.push(format!("PLACE_OFFER_HEX = \"{}\"", hex::encode(&bytes)));
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
        validators_hash: Hash32([5; 32]),
        next_validators_hash: Hash32([6; 32]),
    };
    let bytes = encoding::encode(&header);
    assert_eq!(
        encoding::decode::<BlockHeader>(&bytes, 1024).unwrap(),
        header
    );
    assert_eq!(
        hex::encode(&bytes),
        HEADER_HEX,
        "block header encoding changed: {}",
        hex::encode(&bytes)
    );
}

/// A signed merchant record with a validator, as genesis files and
/// governance carry it: the record, then its three proofs.
const SIGNED_MERCHANT_HEX: &str = "13000000000000004265616e20436f756e74657220436f66666565801fe1e5062dc924aba7ecec0de1678edca0424ae1057071d87240b59ddef25901a8ea96a7ce1ad6c7a8e390d3cff3c74b068156877ecdf4e93823c03c345479cd4a9afa831b317ff519f463bca7c62798cc0f4a2d6dcdde3e9faf242abbe6d47a18000000000000002f6970342f3132372e302e302e312f7463702f3236363031016be6d3d7efeae974deae1f73f0c49e5b637fe51484eabb25addf45ef153d896b81b4ec90a8f18a7830456b22ad455eafa06144d3762b82ef7efc00c2adc007010198a8ea6863b1cd41e80cf05857a61867aa1a80e5396c67e9c83f6dbd1edb87a95f7a8ad75cc2c41721f47f38a58b6c22a2f8e53be3563d6f96da86f62d41fa0501389485d56f90f588d270b19505e6e2fcb5855d3d400a5d079b3a855c9650fa17b5d8109f343bcf1de14ce7647a29cae576d31d3bd8fbd9c8556780203ab0c708";

/// The golden merchant record, signed by its three keys.
fn golden_merchant() -> merit_chain::merchant::SignedMerchant {
    use merit_chain::merchant::{MerchantRecord, P2pAddressText, ValidatorRecord};
    let record = MerchantRecord {
        name: BoundedString::new("Bean Counter Coffee").unwrap(),
        account: key("golden-account").public(),
        validator: Some(ValidatorRecord {
            key: key("golden-validator").public(),
            p2p_key: key("golden-p2p").public(),
            p2p_address: P2pAddressText::new("/ip4/127.0.0.1/tcp/26601").unwrap(),
        }),
    };
    record.sign(
        &key("golden-account"),
        Some(&key("golden-validator")),
        Some(&key("golden-p2p")),
    )
}

#[test]
fn signed_merchant_encoding_is_pinned() {
    use merit_chain::merchant::SignedMerchant;
    let signed = golden_merchant();
    signed.verify().unwrap();
    let bytes = signed.to_bytes();
    assert_eq!(SignedMerchant::from_bytes(&bytes).unwrap(), signed);
    assert_eq!(
        hex::encode(&bytes),
        SIGNED_MERCHANT_HEX,
        "signed merchant record encoding changed"
    );
}

/// A holding entry, key and value, as `merit_getProof` serves it and the
/// state root commits to it: an account's balance, frozen part and lots.
const HOLDING_KEY_HEX: &str = "02000000801fe1e5062dc924aba7ecec0de1678edca0424ae1057071d87240b59ddef2590300000004000000000000004245414e";
const HOLDING_VALUE_HEX: &str = "02000000e803000000000000c80000000000000002000000000000000168e5cf8b010000bc020000000000000268e5cf8b0100002c01000000000000";

#[test]
fn holding_entry_encoding_is_pinned() {
    use merit_chain::state::{Holding, Lot, Lots, StateKey, StateValue};
    let key = StateKey::Holding(key("golden-account").public(), 3, sym("BEAN"));
    let mut lots = Lots::default();
    lots.add(&[
        Lot {
            expires_at_ms: GENESIS_TIME_MS + 1,
            amount: 700,
        },
        Lot {
            expires_at_ms: GENESIS_TIME_MS + 2,
            amount: 300,
        },
    ])
    .unwrap();
    let value = StateValue::Holding(Holding {
        balance: 1_000,
        frozen: 200,
        lots,
    });
    let (k, v) = (encoding::encode(&key), encoding::encode(&value));
    assert_eq!(encoding::decode::<StateKey>(&k, 1024).unwrap(), key);
    assert_eq!(encoding::decode::<StateValue>(&v, 1 << 16).unwrap(), value);
    assert_eq!(
        (hex::encode(&k).as_str(), hex::encode(&v).as_str()),
        (HOLDING_KEY_HEX, HOLDING_VALUE_HEX),
        "holding entry encoding changed"
    );
}

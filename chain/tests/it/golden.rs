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
        sub: 0,
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
                to: to.into(),
                amount: 1_250,
            },
        ),
        (
            "Transfer",
            TxKind::Transfer {
                token: sym("BEAN"),
                to: to.into(),
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
                to: to.into(),
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
                        to: to.into(),
                        token: sym("BEAN"),
                        amount: 30,
                    },
                    merit_chain::tx::PayLeg {
                        to: to.into(),
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
                to: to.into(),
                path: merit_chain::encoding::BoundedVec::new(vec![sym("FUEL")]).unwrap(),
                order_id: Some(BoundedString::new("order-3").unwrap()),
                memo: None,
            },
        ),
        (
            "OpenSubAccount",
            TxKind::OpenSubAccount {
                label: BoundedString::new("Store 7").unwrap(),
            },
        ),
        (
            "TransferToSubAccount",
            TxKind::Transfer {
                token: sym("BEAN"),
                to: merit_chain::tx::AccountRef::new(to, 4),
                amount: 5,
                memo: None,
            },
        ),
    ]
}

/// (kind, SHA-256 of the signed transaction's bytes = its hash)
const TX_HASHES: [(&str, &str); 20] = [
    (
        "CreateToken",
        "bd7318cb5a44adaf234f2a2ab47ac7b43c15578750d4eaf1739834a8e31c60aa",
    ),
    (
        "Mint",
        "a0f54c80906b856a1fe27478e5a784c89a900b09006abf533549352aa0390fd9",
    ),
    (
        "Transfer",
        "2881b251fed315bf3cb4d2af72c27552779d74b14fea53fd44e3d3c85d066f8b",
    ),
    (
        "Pay",
        "32bc10136e333b9d9fa50fdccb0c2480d225ae0fbf6fabf526a3aaf009af701f",
    ),
    (
        "Refund",
        "372e70cb18c2e5fa23b0990ec9985fea205ac0ffaed72d5d864a4874f8ae5e2f",
    ),
    (
        "Redeem",
        "27101f9d483ee9e7ef63cba02965a727504e9a4291132501775892dcf71f44d3",
    ),
    (
        "PlaceOffer",
        "76eaa094c293f39a5e607e92e965f00d003c7060d9c9fafb3f9c995c5a8cd9b7",
    ),
    (
        "CancelOffer",
        "ad9137cc026dc2c4cfdabf44dc3b4488d044a2110a827bb604b9bdf31b267beb",
    ),
    (
        "EscrowCreate",
        "096f219c0ae691629a616f189b0c6eb12f16982e7d8176dbbbbb434f884ccac4",
    ),
    (
        "EscrowRelease",
        "97954491955c405ca0ad550009ad28ad7d489d98a9ca2f1f526b26cc74972f40",
    ),
    (
        "EscrowRefund",
        "965d0b68dcb0b079cb8f74efe1fd38304308e34f47391e61f63b29d0f7da410a",
    ),
    (
        "Propose",
        "e9f4b1bd5d5b3d7079b43cb658f66b17167680a481fc0d45d6e260de19c513cc",
    ),
    (
        "Vote",
        "80090a10ee329acd343ced36eaa31312a132843c9ca583a530f3e7c26caa316a",
    ),
    (
        "Freeze",
        "329a69ae2d365bc16b2b100989632b95653ec618d3874f0158255f570dcecbe0",
    ),
    (
        "Unfreeze",
        "da9f62831c79e13b15bc1a2e704405d18a8ce626e2952bf8449a72c5e4651e1b",
    ),
    (
        "Clawback",
        "d852e3cba78e150a018223bcbf38cae12f65e2241a0ff4753a1b5d464152829b",
    ),
    (
        "PayCombined",
        "16480ed07be7bc2a44594b683d76c6095e790e2ce1f7f60ca6896da8fe8da057",
    ),
    (
        "PayPath",
        "ff325504fe69383f560af61ece550e2939aeb180fd3adc4b615f19f48a59da80",
    ),
    (
        "OpenSubAccount",
        "1c143eb4a412bdb8dd21a777d9adc81564a7e17a84527e535a5c539beb8cde23",
    ),
    (
        "TransferToSubAccount",
        "2fa38d5ebce28f5b29ba5d35f18ea87bc4d999ebe992fefd28e07558c2dbd0f7",
    ),
];

/// The full bytes of the PlaceOffer: its price is two fixed-width `u64`s.
const PLACE_OFFER_HEX: &str = "0a000000000000006d657269742d74657374fbba89fbbfab1a9d9481bb7c46dff1de6108c36006add22b35614bc1b0ac8c66000000000700000000000000e8030000000000000600000004000000000000004245414e0400000000000000424f4f4b2c01000000000000010000000000000003000000000000008c9553e3f1898868b60f74e67ad146636d6009005508d2b4363b655c740d0f8b0dcbbd7315e31c0e3008d6456c042d77f0ab0014b5cd129982986d60de12de0f";

/// The full bytes of the Transfer, to make any layout change obvious.
const TRANSFER_HEX: &str = "0a000000000000006d657269742d74657374fbba89fbbfab1a9d9481bb7c46dff1de6108c36006add22b35614bc1b0ac8c66000000000700000000000000e8030000000000000200000004000000000000004245414e78471de691d9eea673b70d576a857a06aeb9312fd0847b92e23d5a6a2a5833b20000000063000000000000000106000000000000007468616e6b73c3822abe50e3813319c30605119a5960e9931663c9e285e05a0ac0414d0327c56f21c7de4584ae38d2852cdd9b5c55e2b44f47d70f895b16cd2482f26ce6fe09";

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

//! The test vectors of `docs/protocol.md` and `sdk/test/vectors.json`,
//! made by the real encoder, checked to decode back, to sign and to verify,
//! and checked to be in both files byte for byte: neither can drift from
//! the code. Run with `MERIT_UPDATE_VECTORS=1` to rewrite them after a
//! deliberate change.

use std::path::{Path, PathBuf};

use merit_chain::encoding::{self, BoundedVec};
use merit_chain::light::{TxProof, tx_proof, verify_tx_proof};
use merit_chain::proof::{EntriesProof, Freshness, verify_holdings, verify_token};
use merit_chain::state::StateKey;
use merit_chain::{Event, Keypair, Receipt, Transaction, TxKind};

use crate::fixture::sym;
use crate::kind_vectors::{self as kv, Json};
use crate::light::History;

const PAGE: &str = "../docs/protocol.md";
const SDK_VECTORS: &str = "../sdk/test/vectors.json";
const BEGIN: &str = "<!-- vectors:begin -->";
const END: &str = "<!-- vectors:end -->";
const UPDATE_ENV: &str = "MERIT_UPDATE_VECTORS";
/// Hex digits per line on the page.
const WRAP: usize = 96;

fn wrapped(bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    let lines: Vec<&str> = hex
        .as_bytes()
        .chunks(WRAP)
        .map(|c| std::str::from_utf8(c).expect("hex is ASCII"))
        .collect();
    format!("```text\n{}\n```\n", lines.join("\n"))
}

fn block(name: &str, what: &str, bytes: &[u8]) -> String {
    format!(
        "#### `{name}`\n{what} ({} bytes)\n{}",
        bytes.len(),
        wrapped(bytes)
    )
}

/// The `u32` tag an enum value's encoding starts with.
fn tag(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().expect("a tag"))
}

/// That `T` has no variant past `last`: the tags `0..=last` are all the
/// vectors need to cover.
fn no_variant_after<T: encoding::Decode<()> + std::fmt::Debug>(last: u32, what: &str) {
    let next = (last + 1).to_le_bytes();
    let reason = encoding::decode::<T>(&next, 64).unwrap_err().reason();
    assert!(
        reason.contains("is not a tag of"),
        "{what} has a variant with tag {} that no vector shows ({reason}); add one",
        last + 1
    );
}

/// Checks that the tags are `0..=n-1`, each at least once, and that the
/// type has no more.
fn covers_every_tag<T: encoding::Decode<()> + std::fmt::Debug>(tags: &[u32], what: &str) {
    let mut seen: Vec<u32> = tags.to_vec();
    seen.sort_unstable();
    seen.dedup();
    let last = *seen.last().expect("some vectors");
    assert_eq!(
        seen,
        (0..=last).collect::<Vec<_>>(),
        "a tag of {what} has no vector"
    );
    no_variant_after::<T>(last, what);
}

/// The keys of the vectors: label, seed, public key, address.
fn keys() -> (String, Json) {
    let mut page = String::from(
        "### Keys\n\nEach key's seed is `SHA-256(\"merit-insecure-demo-key:\" ‖ label)`; the \
         public key is the ed25519 key of that seed, and the address its bech32m form.\n\n\
         | label | seed | address |\n|---|---|---|\n",
    );
    let mut json = Vec::new();
    for label in std::iter::once(kv::SENDER_LABEL).chain(kv::OTHER_LABELS) {
        let k = Keypair::insecure_from_label(label);
        page.push_str(&format!(
            "| `{label}` | `{}` | `{}` |\n",
            hex::encode(k.seed()),
            k.public().to_bech32()
        ));
        json.push(Json::obj(vec![
            ("label", Json::str(label)),
            ("seed", Json::hex(&k.seed())),
            ("public_key", Json::hex(&k.public().0)),
            ("address", kv::addr(&k.public())),
        ]));
    }
    (page, Json::Arr(json))
}

/// Every kind, signed: the page's section and the SDK's entries.
fn transactions() -> (String, Json) {
    let sender = Keypair::insecure_from_label(kv::SENDER_LABEL);
    let mut page = format!(
        "### Transactions\n\nEvery kind, signed by `{}` for chain `{}`, nonce `1000 + i` for the \
         `i`-th vector, valid below height 1,000. The transaction is the signing bytes (the \
         encoded `TxBody`) followed by the 64-byte signature; the hash is SHA-256 of the whole \
         transaction.\n\n",
        kv::SENDER_LABEL,
        kv::VECTOR_CHAIN
    );
    let mut json = Vec::new();
    let mut tags = Vec::new();
    for (i, v) in kv::kinds().into_iter().enumerate() {
        let body = kv::body(i, v.sub, v.kind);
        let kind_tag = tag(&encoding::encode(&body.kind));
        tags.push(kind_tag);
        let signing = body.signing_bytes();
        let tx = body.clone().sign(&sender);
        let bytes = tx.to_bytes();
        assert_eq!(&bytes[..signing.len()], signing.as_slice());
        assert_eq!(&bytes[signing.len()..], tx.signature.0.as_slice());
        assert!(tx.verify_signature(), "{}", v.name);
        assert_eq!(
            Transaction::admit(&bytes),
            Ok(tx.clone()),
            "{} decodes and passes the stateless checks",
            v.name
        );
        let hash = tx.hash();
        page.push_str(&format!(
            "#### `{}`\n{} (kind `{}`, tag {kind_tag})\n\n```json\n{}\n```\nsigning \
             bytes ({} bytes):\n{}signature: `{}`\n\ntransaction ({} bytes):\n{}hash: `{}`\n\n",
            v.name,
            v.what,
            body.kind.name(),
            kv::kind_json(&body.kind).compact(),
            signing.len(),
            wrapped(&signing),
            hex::encode(tx.signature.0),
            bytes.len(),
            wrapped(&bytes),
            hash.to_hex(),
        ));
        json.push(Json::obj(vec![
            ("name", Json::str(v.name)),
            ("what", Json::str(v.what)),
            ("kind_tag", Json::small(kind_tag)),
            ("body", kv::body_json(&body)),
            ("signing_bytes", Json::hex(&signing)),
            ("signature", Json::hex(&tx.signature.0)),
            ("transaction", Json::hex(&bytes)),
            ("hash", kv::hash(&hash)),
        ]));
    }
    covers_every_tag::<TxKind>(&tags, "TxKind");
    (page, Json::Arr(json))
}

/// Every event and three receipts.
fn events_and_receipts() -> (String, Json, Json) {
    let mut page = String::from(
        "### Events and receipts\n\nEach event alone, as a receipt or a chunk of block events \
         lists it, then whole receipts.\n\n",
    );
    let mut events = Vec::new();
    let mut tags = Vec::new();
    for (name, event) in kv::events() {
        let bytes = encoding::encode(&event);
        tags.push(tag(&bytes));
        assert_eq!(encoding::decode::<Event>(&bytes, 4096), Ok(event.clone()));
        let json = kv::event_json(&event);
        page.push_str(&format!(
            "#### `{name}` (tag {})\n`{}`\n{}\n",
            tag(&bytes),
            json.compact(),
            wrapped(&bytes)
        ));
        events.push(Json::obj(vec![
            ("name", Json::str(name)),
            ("event", json),
            ("bytes", Json::hex(&bytes)),
        ]));
    }
    covers_every_tag::<Event>(&tags, "Event");
    let mut receipts = Vec::new();
    for (name, receipt) in kv::receipts() {
        let bytes = encoding::encode(&receipt);
        assert_eq!(
            encoding::decode::<Receipt>(&bytes, 4096),
            Ok(receipt.clone())
        );
        let json = kv::receipt_json(&receipt);
        page.push_str(&format!(
            "#### `{name}`\n`{}`\n{}\n",
            json.compact(),
            wrapped(&bytes)
        ));
        receipts.push(Json::obj(vec![
            ("name", Json::str(name)),
            ("receipt", json),
            ("bytes", Json::hex(&bytes)),
        ]));
    }
    (page, Json::Arr(events), Json::Arr(receipts))
}

/// The proofs of a chain whose validator set changes twice, each checked
/// as a client would check it.
fn proofs() -> (String, Json) {
    let h = History::build();
    let (tip, receipts, cert) = h.blocks.last().expect("blocks");
    let height = tip.header.height;
    let ledger = &h.gov.ledger;
    let set = ledger.validators_at(height).expect("the set").clone();
    let tokens = [sym("FLY"), sym("BEAN")];
    let holdings: Vec<StateKey> = tokens
        .iter()
        .map(|t| StateKey::Holding(h.shopper.public(), 0, *t))
        .collect();
    let holding_proof = EntriesProof {
        entries: BoundedVec::new(ledger.prove_entries(&holdings).unwrap()).unwrap(),
        header: tip.header.clone(),
        certificate: cert.clone(),
    };
    let token_proof = EntriesProof {
        entries: BoundedVec::new(
            ledger
                .prove_entries(&[StateKey::Token(sym("FLY"))])
                .unwrap(),
        )
        .unwrap(),
        header: tip.header.clone(),
        certificate: cert.clone(),
    };
    let tx = tx_proof(tip, receipts, &[], cert, 0).expect("a transaction");

    // Each vector verifies as a client would verify it.
    let at = Freshness::AtHeight(height);
    let mut client = h.followed();
    let decoded = EntriesProof::from_bytes(&holding_proof.to_bytes()).unwrap();
    let held = verify_holdings(&mut client, &decoded, &h.shopper.public(), 0, &tokens, at).unwrap();
    assert_eq!(held[0].1.lots.as_slice().len(), 3);
    let decoded = EntriesProof::from_bytes(&token_proof.to_bytes()).unwrap();
    let token = verify_token(&mut client, &decoded, &sym("FLY"), at)
        .unwrap()
        .expect("FLY exists");
    let decoded = TxProof::from_bytes(&tx.to_bytes()).unwrap();
    let receipt = verify_tx_proof(&mut client, &tx.tx.hash(), &decoded).unwrap();

    // What a client learns the sets from: the genesis set, then each
    // change with the last header and certificate of the set before.
    let genesis_set = ledger.validators_at(1).expect("the genesis set");
    let mut changes = Vec::new();
    for at in 2..=height {
        let now = ledger.validators_at(at).expect("a set");
        if now != ledger.validators_at(at - 1).expect("a set") {
            let (boundary, _, boundary_cert) = h.block(at - 1);
            changes.push(Json::obj(vec![
                ("height", Json::u64(at)),
                ("header", Json::hex(&encoding::encode(&boundary.header))),
                ("certificate", Json::hex(&encoding::encode(boundary_cert))),
                ("set", Json::hex(&encoding::encode(now))),
            ]));
        }
    }
    assert_eq!(changes.len(), 2, "the history changes the set twice");

    let page = [
        format!(
            "### Proofs\n\nA chain of four validators, one of which is voted out and one voted \
             in, in which merchant 1 creates FLY (2 decimals, points expire after 30 days) and \
             mints 100, 250 and 50 FLY to a shopper in three blocks. The vectors are at the \
             height of the last mint, {height}.\n"
        ),
        block(
            "validator-list",
            &format!(
                "the `ValidatorList` in force at height {height}; its SHA-256 is the header's `validators_hash`"
            ),
            &encoding::encode(&set),
        ),
        block(
            "holding-proof",
            "an `EntriesProof` of two holdings of one account at that height: FLY with three lots, and BEAN, absent",
            &holding_proof.to_bytes(),
        ),
        block(
            "token-proof",
            "an `EntriesProof` of token FLY's entry at that height",
            &token_proof.to_bytes(),
        ),
        block(
            "tx-proof",
            "a `TxProof` of the transaction at index 0 of that block, with its receipt",
            &tx.to_bytes(),
        ),
    ]
    .join("\n");
    let json = Json::obj(vec![
        ("chain_id", Json::str(client.chain_id().as_str())),
        ("trusted_height", Json::u64(1)),
        ("genesis_set", Json::hex(&encoding::encode(genesis_set))),
        ("changes", Json::Arr(changes)),
        ("height", Json::u64(height)),
        ("validator_list", Json::hex(&encoding::encode(&set))),
        (
            "holding",
            Json::obj(vec![
                ("address", kv::addr(&h.shopper.public())),
                ("sub", Json::small(0u32)),
                ("tokens", Json::Arr(tokens.iter().map(kv::symbol).collect())),
                ("proof", Json::hex(&holding_proof.to_bytes())),
                (
                    "holdings",
                    Json::Arr(held.iter().map(|(t, h)| kv::holding_json(t, h)).collect()),
                ),
            ]),
        ),
        (
            "token",
            Json::obj(vec![
                ("symbol", Json::str("FLY")),
                ("proof", Json::hex(&token_proof.to_bytes())),
                ("token", kv::token_json(&token)),
            ]),
        ),
        (
            "tx",
            Json::obj(vec![
                ("hash", kv::hash(&tx.tx.hash())),
                ("proof", Json::hex(&tx.to_bytes())),
                ("receipt", kv::receipt_json(receipt)),
            ]),
        ),
    ]);
    (page, json)
}

/// Every bound a client checks, by its name in the protocol.
fn limits() -> Json {
    use merit_chain::limits::*;
    let n = |v: usize| Json::u64(v as u64);
    Json::obj(vec![
        ("MAX_TX_BYTES", n(MAX_TX_BYTES)),
        ("MAX_PAY_LEGS", n(MAX_PAY_LEGS)),
        ("MAX_PAY_TOKENS", n(MAX_PAY_TOKENS)),
        ("MAX_PATH_TOKENS", n(MAX_PATH_TOKENS)),
        ("MAX_MEMO_BYTES", n(MAX_MEMO_BYTES)),
        ("MAX_ORDER_ID_BYTES", n(MAX_ORDER_ID_BYTES)),
        ("MAX_TOKEN_NAME_BYTES", n(MAX_TOKEN_NAME_BYTES)),
        ("MAX_MERCHANT_NAME_BYTES", n(MAX_MERCHANT_NAME_BYTES)),
        ("MAX_P2P_ADDRESS_BYTES", n(MAX_P2P_ADDRESS_BYTES)),
        ("MAX_CHAIN_ID_BYTES", n(MAX_CHAIN_ID_BYTES)),
        ("MAX_DECIMALS", Json::u64(u64::from(MAX_DECIMALS))),
        ("MAX_TX_TTL_BLOCKS", Json::u64(MAX_TX_TTL_BLOCKS)),
        ("MAX_EXPIRY_DAYS", Json::u64(u64::from(MAX_EXPIRY_DAYS))),
        ("MAX_BLOCK_TXS", n(MAX_BLOCK_TXS)),
        ("MAX_BLOCK_BYTES", n(MAX_BLOCK_BYTES)),
        ("MAX_HEADER_BYTES", n(MAX_HEADER_BYTES)),
        ("MAX_RECEIPT_BYTES", n(MAX_RECEIPT_BYTES)),
        ("MAX_CERT_BYTES", n(MAX_CERT_BYTES)),
        ("MAX_VALIDATORS", n(MAX_VALIDATORS)),
        (
            "PAY_LEGS_DECODE_BOUND",
            n(merit_chain::tx::PAY_LEGS_DECODE_BOUND),
        ),
        ("PATH_DECODE_BOUND", n(merit_chain::tx::PATH_DECODE_BOUND)),
        (
            "RECEIPT_EVENTS_DECODE_BOUND",
            n(merit_chain::block::RECEIPT_EVENTS_DECODE_BOUND),
        ),
        (
            "MAX_LOTS_PER_HOLDING",
            n(merit_chain::state::MAX_LOTS_PER_HOLDING),
        ),
        (
            "MAX_PROOF_BUCKET_ENTRIES",
            n(merit_chain::commitment::MAX_PROOF_BUCKET_ENTRIES),
        ),
        (
            "MAX_PROVEN_ENTRIES",
            n(merit_chain::proof::MAX_PROVEN_ENTRIES),
        ),
        (
            "MAX_ENTRIES_PROOF_BYTES",
            n(merit_chain::proof::MAX_ENTRIES_PROOF_BYTES),
        ),
        (
            "MAX_TX_PROOF_BYTES",
            n(merit_chain::light::MAX_TX_PROOF_BYTES),
        ),
        ("MAX_MERKLE_PATH", n(merit_chain::light::MAX_MERKLE_PATH)),
        (
            "MAX_OPEN_PROPOSALS",
            n(merit_chain::governance::MAX_OPEN_PROPOSALS),
        ),
        (
            "MAX_PENDING_ACTIVATIONS",
            n(merit_chain::governance::MAX_PENDING_ACTIVATIONS),
        ),
        (
            "PROOF_MAX_AGE_HEARTBEATS",
            Json::u64(merit_chain::proof::PROOF_MAX_AGE_HEARTBEATS),
        ),
        (
            "BUCKET_BITS",
            Json::u64(u64::from(merit_chain::commitment::BUCKET_BITS)),
        ),
    ])
}

/// Every rejection code: its name, its number and its sentence.
fn reject_codes() -> Json {
    Json::Arr(
        merit_chain::RejectCode::ALL
            .iter()
            .map(|c| {
                Json::Arr(vec![
                    Json::str(c.name()),
                    Json::small(c.number()),
                    Json::str(c.describe()),
                ])
            })
            .collect(),
    )
}

/// Writes `want` to `path` when updating, else checks the file holds it.
fn check_or_write(path: &Path, have: Option<&str>, want: &str, what: &str) {
    if std::env::var_os(UPDATE_ENV).is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the directory of the vectors");
        }
        std::fs::write(path, want).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        return;
    }
    assert!(
        have == Some(want),
        "{what} differs from the encoder's vectors; run with {UPDATE_ENV}=1"
    );
}

fn in_repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The page's tables name every kind, event and rejection code with its
/// tag or number, as the encoder writes them.
fn tables_agree(page: &str) {
    let row = |tag: u32, name: &str| {
        assert!(
            page.contains(&format!("| {tag} | `{name}` |")),
            "docs/protocol.md has no table row `| {tag} | `{name}` |`"
        );
    };
    for (i, v) in kv::kinds().into_iter().enumerate() {
        let body = kv::body(i, v.sub, v.kind);
        row(tag(&encoding::encode(&body.kind)), body.kind.name());
    }
    for (_, event) in kv::events() {
        let json = kv::event_json(&event);
        let Json::Obj(fields) = &json else {
            unreachable!("an event is an object")
        };
        let Json::Str(name) = &fields[0].1 else {
            unreachable!("its type comes first")
        };
        row(tag(&encoding::encode(&event)), name);
    }
    for code in merit_chain::RejectCode::ALL {
        row(u32::from(code.number()), code.name());
    }
}

#[test]
fn the_protocol_pages_and_the_sdks_vectors_are_the_encoders_and_verify() {
    let (keys_page, keys_json) = keys();
    let (tx_page, tx_json) = transactions();
    let (events_page, events_json, receipts_json) = events_and_receipts();
    let (proofs_page, proofs_json) = proofs();

    let vectors = [keys_page, tx_page, events_page, proofs_page].join("\n");
    let path = in_repo(PAGE);
    let page = std::fs::read_to_string(&path).expect("docs/protocol.md");
    let (before, rest) = page.split_once(BEGIN).expect("the begin marker");
    let (_, after) = rest.split_once(END).expect("the end marker");
    let want = format!("{before}{BEGIN}\n{vectors}{END}{after}");
    tables_agree(before);
    check_or_write(&path, Some(&page), &want, "docs/protocol.md");

    let json = Json::obj(vec![
        (
            "about",
            Json::str(
                "Test vectors of docs/protocol.md, written by chain/tests/it/vectors.rs from the \
                 real encoder. u64 values are decimal strings; bytes are lowercase hex.",
            ),
        ),
        ("limits", limits()),
        ("reject_codes", reject_codes()),
        ("keys", keys_json),
        ("transactions", tx_json),
        ("events", events_json),
        ("receipts", receipts_json),
        ("proofs", proofs_json),
    ])
    .pretty();
    let path = in_repo(SDK_VECTORS);
    let have = std::fs::read_to_string(&path).ok();
    check_or_write(&path, have.as_deref(), &json, "sdk/test/vectors.json");
}

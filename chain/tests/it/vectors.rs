//! The test vectors of `docs/protocol.md`, made by the real encoder from a
//! deterministic chain, checked to verify, and checked to be in the page
//! byte for byte: the page cannot drift from the code. Run with
//! `MERIT_UPDATE_VECTORS=1` to rewrite them after a deliberate change.

use merit_chain::encoding::{self, BoundedVec};
use merit_chain::light::{TxProof, tx_proof, verify_tx_proof};
use merit_chain::proof::{EntriesProof, Freshness, verify_holdings, verify_token};
use merit_chain::state::StateKey;

use crate::fixture::sym;
use crate::light::History;

const PAGE: &str = "../docs/protocol.md";
const BEGIN: &str = "<!-- vectors:begin -->";
const END: &str = "<!-- vectors:end -->";
const UPDATE_ENV: &str = "MERIT_UPDATE_VECTORS";
/// Hex digits per line on the page.
const WRAP: usize = 96;

fn block(name: &str, what: &str, bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    let lines: Vec<&str> = hex
        .as_bytes()
        .chunks(WRAP)
        .map(|c| std::str::from_utf8(c).expect("hex is ASCII"))
        .collect();
    format!(
        "#### `{name}`\n{what} ({} bytes)\n```text\n{}\n```\n",
        bytes.len(),
        lines.join("\n")
    )
}

#[test]
fn the_protocol_pages_vectors_are_the_encoders_and_verify() {
    let h = History::build();
    let (tip, _, cert) = h.blocks.last().expect("blocks");
    let height = tip.header.height;
    let set = h.gov.ledger.validators_at(height).expect("the set").clone();
    let holdings = [
        StateKey::Holding(h.shopper.public(), 0, sym("FLY")),
        StateKey::Holding(h.shopper.public(), 0, sym("BEAN")),
    ];
    let holding_proof = EntriesProof {
        entries: BoundedVec::new(h.gov.ledger.prove_entries(&holdings).unwrap()).unwrap(),
        header: tip.header.clone(),
        certificate: cert.clone(),
    };
    let token_proof = EntriesProof {
        entries: BoundedVec::new(
            h.gov
                .ledger
                .prove_entries(&[StateKey::Token(sym("FLY"))])
                .unwrap(),
        )
        .unwrap(),
        header: tip.header.clone(),
        certificate: cert.clone(),
    };
    let (mint_block, receipts, mint_cert) = h.blocks.last().expect("blocks");
    let tx = tx_proof(mint_block, receipts, &[], mint_cert, 0).expect("a transaction");

    // Each vector verifies as a client would verify it.
    let at = Freshness::AtHeight(height);
    let mut client = h.followed();
    let decoded = EntriesProof::from_bytes(&holding_proof.to_bytes()).unwrap();
    let held = verify_holdings(
        &mut client,
        &decoded,
        &h.shopper.public(),
        0,
        &[sym("FLY"), sym("BEAN")],
        at,
    )
    .unwrap();
    assert_eq!(held[0].1.lots.as_slice().len(), 3);
    let decoded = EntriesProof::from_bytes(&token_proof.to_bytes()).unwrap();
    assert!(
        verify_token(&mut client, &decoded, &sym("FLY"), at)
            .unwrap()
            .is_some()
    );
    let decoded = TxProof::from_bytes(&tx.to_bytes()).unwrap();
    verify_tx_proof(&mut client, &tx.tx.hash(), &decoded).unwrap();

    let vectors = [
        block(
            "validator-list",
            &format!("the `ValidatorList` in force at height {height}; its SHA-256 is the header's `validators_hash`"),
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
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE);
    let page = std::fs::read_to_string(&path).expect("docs/protocol.md");
    let (before, rest) = page.split_once(BEGIN).expect("the begin marker");
    let (_, after) = rest.split_once(END).expect("the end marker");
    let want = format!("{before}{BEGIN}\n{vectors}{END}{after}");
    if std::env::var_os(UPDATE_ENV).is_some() {
        std::fs::write(&path, want).expect("write the page");
        return;
    }
    assert!(
        page == want,
        "docs/protocol.md's vectors differ from the encoder's; run with {UPDATE_ENV}=1"
    );
}

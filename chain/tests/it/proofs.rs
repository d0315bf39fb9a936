//! The verifier a wallet runs on what one node serves (DESIGN §10): a
//! holding with all its lots, a token's entry and an unused nonce, each
//! tied by a Merkle path to the state root of a header a quorum of the set
//! in force certified. Whatever a node changes, leaves out or replays, the
//! proof fails.

use merit_chain::block::{BlockHeader, ValidatorSignature};
use merit_chain::encoding::{self, BoundedVec};
use merit_chain::light::LightError;
use merit_chain::proof::{
    EntriesProof, Freshness, VerifyError, proof_max_age_ms, verify_entries, verify_holdings,
    verify_nonce_unused, verify_token,
};
use merit_chain::state::{Holding, StateKey, StateValue};
use merit_chain::{Keypair, Symbol, TxKind};
use proptest::prelude::*;

use crate::fixture::sym;
use crate::light::{History, certify};

const MAX_AGE: u64 = 60_000;

/// A proof of `keys` at the tip of `h`, with the tip's certificate.
fn prove(h: &History, keys: &[StateKey]) -> EntriesProof {
    let (block, _, cert) = h.blocks.last().unwrap();
    assert_eq!(block.header, *h.gov.ledger.tip());
    EntriesProof {
        entries: BoundedVec::new(h.gov.ledger.prove_entries(keys).unwrap()).unwrap(),
        header: block.header.clone(),
        certificate: cert.clone(),
    }
}

fn now(proof: &EntriesProof) -> Freshness {
    Freshness::Current {
        now_ms: proof.header.timestamp_ms + 1_000,
        max_age_ms: MAX_AGE,
    }
}

fn holding_key(who: &Keypair, token: &str) -> StateKey {
    StateKey::Holding(who.public(), 0, sym(token))
}

fn tokens() -> [Symbol; 2] {
    [sym("FLY"), sym("BEAN")]
}

#[test]
fn a_holding_proves_with_every_lot_and_a_token_not_held_proves_absent() {
    let h = History::build();
    let keys = [
        holding_key(&h.shopper, "FLY"),
        holding_key(&h.shopper, "BEAN"),
    ];
    let proof = prove(&h, &keys);
    let mut c = h.followed();
    let proven = verify_holdings(
        &mut c,
        &proof,
        &h.shopper.public(),
        0,
        &tokens(),
        now(&proof),
    )
    .unwrap();
    let fly = &proven[0].1;
    assert_eq!(fly.balance, 400);
    let amounts: Vec<u64> = fly.lots.as_slice().iter().map(|l| l.amount).collect();
    assert_eq!(amounts, vec![100, 250, 50], "three mints, three lots");
    assert_eq!(proven[1], (sym("BEAN"), Holding::default()));
    // The proof survives its canonical bytes, as the RPC carries it.
    assert_eq!(EntriesProof::from_bytes(&proof.to_bytes()).unwrap(), proof);
}

#[test]
fn a_stale_proof_is_refused_by_block_time() {
    let h = History::build();
    let proof = prove(&h, &[holding_key(&h.shopper, "FLY")]);
    let mut c = h.followed();
    let late = Freshness::Current {
        now_ms: proof.header.timestamp_ms + MAX_AGE + 1,
        max_age_ms: MAX_AGE,
    };
    assert!(matches!(
        verify_entries(&mut c, &proof, late),
        Err(VerifyError::Stale { .. })
    ));
    // The bound follows the chain's heartbeat.
    assert_eq!(proof_max_age_ms(10_000), 60_000);
    // An older block served as the current state is stale too.
    let (old, _, old_cert) = h.block(h.removed_at);
    let replayed = EntriesProof {
        header: old.header.clone(),
        certificate: old_cert.clone(),
        ..proof.clone()
    };
    let asked_now = Freshness::Current {
        now_ms: proof.header.timestamp_ms,
        max_age_ms: 1_000,
    };
    assert!(matches!(
        verify_entries(&mut c, &replayed, asked_now),
        Err(VerifyError::Stale { .. })
    ));
    // And a proof at a height is refused for any other height.
    assert!(matches!(
        verify_entries(&mut c, &proof, Freshness::AtHeight(proof.header.height - 1)),
        Err(VerifyError::WrongHeight { .. })
    ));
}

#[test]
fn a_proof_for_another_account_is_refused() {
    let h = History::build();
    let other = h.gov.m[1].account.clone();
    let proof = prove(
        &h,
        &[holding_key(&other, "FLY"), holding_key(&other, "BEAN")],
    );
    let mut c = h.followed();
    let err = verify_holdings(
        &mut c,
        &proof,
        &h.shopper.public(),
        0,
        &tokens(),
        now(&proof),
    )
    .unwrap_err();
    assert!(
        matches!(err, VerifyError::NotAsked { index: 0, .. }),
        "{err}"
    );
    // Leaving a token out is caught too.
    let proof = prove(&h, &[holding_key(&h.shopper, "FLY")]);
    let err = verify_holdings(
        &mut c,
        &proof,
        &h.shopper.public(),
        0,
        &tokens(),
        now(&proof),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Omitted(_)), "{err}");
}

#[test]
fn an_absence_proof_from_another_bucket_is_refused() {
    let h = History::build();
    let absent = holding_key(&h.shopper, "BEAN");
    let present = holding_key(&h.shopper, "FLY");
    let mut proof = prove(&h, std::slice::from_ref(&present));
    let elsewhere = prove(&h, &[absent]);
    // The node claims FLY absent, with the (valid) bucket path of BEAN's
    // absence: the bucket is the wrong one for FLY's key.
    proof.entries = BoundedVec::new(vec![merit_chain::proof::ProvenEntry {
        key: present,
        value: None,
        proof: elsewhere.entries[0].proof.clone(),
    }])
    .unwrap();
    let mut c = h.followed();
    let err = verify_entries(&mut c, &proof, now(&proof)).unwrap_err();
    assert!(matches!(err, VerifyError::Entry { index: 0, .. }), "{err}");
}

#[test]
fn an_omitted_lot_is_caught_even_when_the_balance_is_lowered_to_match() {
    let h = History::build();
    let mut proof = prove(&h, &[holding_key(&h.shopper, "FLY")]);
    let Some(StateValue::Holding(held)) = proof.entries[0].value.clone() else {
        panic!("the shopper holds FLY");
    };
    let mut entries = proof.entries.to_vec();
    // Hide the soonest lot: the rest sum to a smaller balance.
    let mut hidden = held.clone();
    let soonest = hidden.lots.take(100).unwrap();
    assert_eq!(soonest.len(), 1);
    hidden.balance -= 100;
    entries[0].value = Some(StateValue::Holding(hidden));
    proof.entries = BoundedVec::new(entries.clone()).unwrap();
    let mut c = h.followed();
    let err = verify_entries(&mut c, &proof, now(&proof)).unwrap_err();
    assert!(matches!(err, VerifyError::Entry { index: 0, .. }), "{err}");
    // Hide it but keep the balance: the lots no longer sum to it.
    let mut short = held;
    short.lots.take(100).unwrap();
    entries[0].value = Some(StateValue::Holding(short));
    proof.entries = BoundedVec::new(entries).unwrap();
    let err = verify_entries(&mut c, &proof, now(&proof)).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Entry { .. } | VerifyError::Lots { index: 0, .. }
        ),
        "{err}"
    );
}

#[test]
fn a_certificate_by_keys_removed_before_its_height_is_refused() {
    let h = History::build();
    let mut proof = prove(&h, &[holding_key(&h.shopper, "FLY")]);
    let (block, _, _) = h.blocks.last().unwrap();
    // Merchant 0's validator left at `removed_at`; with two that remain it
    // is three of the old five, which was a quorum of the genesis set.
    let old = [
        &h.gov.m[0].validator,
        &h.gov.m[1].validator,
        &h.gov.m[2].validator,
    ];
    proof.certificate = certify(block, &old);
    let mut c = h.followed();
    let err = verify_entries(&mut c, &proof, now(&proof)).unwrap_err();
    assert!(
        matches!(err, VerifyError::Header(LightError::Certificate(_))),
        "{err}"
    );
    // Keys that were never validators, however many.
    let strangers: Vec<Keypair> = (0..7)
        .map(|i| Keypair::insecure_from_label(&format!("forger-{i}")))
        .collect();
    proof.certificate = certify(block, &strangers.iter().collect::<Vec<_>>());
    let err = verify_entries(&mut c, &proof, now(&proof)).unwrap_err();
    assert!(
        matches!(err, VerifyError::Header(LightError::Certificate(_))),
        "{err}"
    );
}

#[test]
fn a_certificate_for_another_height_is_refused() {
    let h = History::build();
    let mut proof = prove(&h, &[holding_key(&h.shopper, "FLY")]);
    let (_, _, before) = &h.blocks[h.blocks.len() - 2];
    proof.certificate = before.clone();
    let mut c = h.followed();
    let err = verify_entries(&mut c, &proof, now(&proof)).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Header(LightError::CertificateMismatch { .. })
        ),
        "{err}"
    );
}

#[test]
fn a_token_proof_shows_its_decimals_and_a_changed_decimals_fails() {
    let h = History::build();
    let proof = prove(&h, &[StateKey::Token(sym("FLY"))]);
    let mut c = h.followed();
    let token = verify_token(&mut c, &proof, &sym("FLY"), now(&proof))
        .unwrap()
        .unwrap();
    assert_eq!((token.decimals, token.minted), (2, 400));
    let mut lie = proof.clone();
    let mut entries = lie.entries.to_vec();
    let mut forged = token;
    forged.decimals = 4;
    entries[0].value = Some(StateValue::Token(forged));
    lie.entries = BoundedVec::new(entries).unwrap();
    assert!(verify_token(&mut c, &lie, &sym("FLY"), now(&lie)).is_err());
    // A token that does not exist proves absent.
    let none = prove(&h, &[StateKey::Token(sym("NOPE"))]);
    assert_eq!(
        verify_token(&mut c, &none, &sym("NOPE"), now(&none)).unwrap(),
        None
    );
}

#[test]
fn a_nonce_never_used_proves_unused_and_a_used_one_does_not() {
    let h = History::build();
    let (block, _, _) = h.blocks.last().unwrap();
    let used = &block.txs[0];
    let height = block.header.height;
    let keys = [
        StateKey::Nonce(used.body.sender, used.body.nonce),
        StateKey::Nonce(used.body.sender, 999_999),
    ];
    let proof = prove(&h, &keys);
    let mut c = h.followed();
    let sender = used.body.sender;
    assert!(!verify_nonce_unused(&mut c, &proof, &sender, used.body.nonce, height).unwrap());
    assert!(verify_nonce_unused(&mut c, &proof, &sender, 999_999, height).unwrap());
}

/// Flips one bit of `bytes`, chosen by `i`.
fn flip(bytes: &mut [u8], i: &prop::sample::Index) {
    let at = i.index(bytes.len() * 8);
    bytes[at / 8] ^= 1 << (at % 8);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any single-bit change in an entry's value, a bucket pair, a
    /// sibling, the header or a signature makes the proof fail.
    #[test]
    fn any_flipped_bit_of_a_balance_proof_is_caught(part in 0usize..5, bit in any::<prop::sample::Index>()) {
        let h = History::build();
        let keys = [holding_key(&h.shopper, "FLY"), holding_key(&h.shopper, "BEAN")];
        let proof = prove(&h, &keys);
        let mut bad = proof.clone();
        let mut entries = bad.entries.to_vec();
        match part {
            0 => {
                let mut bytes = encoding::encode(entries[0].value.as_ref().unwrap());
                flip(&mut bytes, &bit);
                match encoding::decode::<StateValue>(&bytes, 65_536) {
                    Ok(v) => entries[0].value = Some(v),
                    // A flip that no longer decodes is refused before any check.
                    Err(_) => return Ok(()),
                }
            }
            1 => {
                let e = &mut entries[bit.index(2)];
                let mut pairs = e.proof.bucket.to_vec();
                prop_assume!(!pairs.is_empty());
                let mut bytes = encoding::encode(&pairs);
                flip(&mut bytes[8..], &bit);
                pairs = encoding::decode(&bytes, 1 << 20).unwrap();
                e.proof.bucket = BoundedVec::new(pairs).unwrap();
            }
            2 => {
                let e = &mut entries[bit.index(2)];
                let i = bit.index(16 * 256);
                e.proof.siblings[i / 256].0[(i % 256) / 8] ^= 1 << (i % 8);
            }
            3 => {
                let mut bytes = encoding::encode(&bad.header);
                flip(&mut bytes, &bit);
                match encoding::decode::<BlockHeader>(&bytes, 4_096) {
                    Ok(header) => bad.header = header,
                    Err(_) => return Ok(()),
                }
            }
            _ => {
                let mut v: Vec<ValidatorSignature> = bad.certificate.signatures.to_vec();
                let i = bit.index(v.len() * 64 * 8);
                v[i / 512].signature.0[(i % 512) / 8] ^= 1 << (i % 8);
                bad.certificate.signatures = BoundedVec::new(v).unwrap();
            }
        }
        bad.entries = BoundedVec::new(entries).unwrap();
        prop_assume!(bad != proof);
        let mut c = h.followed();
        // Freshness is judged against the honest header, so a flipped time
        // cannot pass as fresh by accident of the bound.
        let fresh = now(&proof);
        prop_assert!(
            verify_holdings(&mut c, &bad, &h.shopper.public(), 0, &tokens(), fresh).is_err()
        );
    }
}

/// Genesis has no certificate: its state proves under the genesis header
/// whose hash a certified block 1 names as its parent. Any other header,
/// or a changed entry, fails.
#[test]
fn the_genesis_state_proves_under_the_parent_hash_of_block_one() {
    use merit_chain::block::CommitCertificate;
    use merit_chain::light::LightClient;
    let mut a = crate::fixture::Alliance::new();
    let genesis = a.ledger.tip().clone();
    let alice = a.alice.clone();
    let key = holding_key(&alice, "BEAN");
    let proof = EntriesProof {
        entries: BoundedVec::new(a.ledger.prove_entries(std::slice::from_ref(&key)).unwrap())
            .unwrap(),
        header: genesis.clone(),
        certificate: CommitCertificate {
            height: 1,
            round: 0,
            block_hash: merit_chain::Hash32::ZERO,
            signatures: BoundedVec::default(),
        },
    };
    let bob = a.bob.clone();
    a.exec(&alice, crate::fixture::Alliance::transfer("BEAN", &bob, 5));
    // A genesis proof never reads the client's sets: the caller checked
    // block 1's certificate and took its parent hash.
    let mut client: LightClient = History::build().followed();
    // What block 1 names as its parent.
    let parent = genesis.hash();
    let held = verify_holdings(
        &mut client,
        &proof,
        &alice.public(),
        0,
        &[sym("BEAN")],
        Freshness::Genesis(parent),
    )
    .unwrap();
    assert_eq!(held[0].1.balance, 10_000);
    assert!(matches!(
        verify_entries(
            &mut client,
            &proof,
            Freshness::Genesis(merit_chain::Hash32([7; 32]))
        ),
        Err(VerifyError::WrongGenesis { .. })
    ));
    let mut changed = proof.clone();
    let mut entries = changed.entries.into_inner();
    if let Some(StateValue::Holding(h)) = &mut entries[0].value {
        h.balance += 1;
    }
    changed.entries = BoundedVec::new(entries).unwrap();
    assert!(matches!(
        verify_entries(&mut client, &changed, Freshness::Genesis(parent)),
        Err(VerifyError::Entry { .. })
    ));
    // A later header passed off as genesis.
    let mut later = proof.clone();
    later.header = a.ledger.tip().clone();
    assert!(matches!(
        verify_entries(&mut client, &later, Freshness::Genesis(parent)),
        Err(VerifyError::WrongHeight { .. })
    ));
}

#[test]
fn a_sub_account_count_bounds_a_roll_up_and_a_node_cannot_hide_one() {
    use merit_chain::proof::verify_sub_accounts;
    use merit_chain::tx::{AccountRef, SubAccountLabel};
    let mut h = History::build();
    let shopper = h.shopper.clone();
    let owner = shopper.public();
    let count_key = StateKey::SubAccounts(owner);
    // Nothing opened: the absent entry proves none.
    let proof = prove(&h, std::slice::from_ref(&count_key));
    let mut c = h.followed();
    assert_eq!(
        verify_sub_accounts(&mut c, &proof, &owner, now(&proof)),
        Ok(0)
    );
    let open = || TxKind::OpenSubAccount {
        label: SubAccountLabel::new("store").unwrap(),
    };
    h.commit(vec![(&shopper, open()), (&shopper, open())]);
    let issuer = h.gov.m[1].account.clone();
    let mint = TxKind::Mint {
        token: sym("FLY"),
        to: AccountRef::new(owner, 2),
        amount: 70,
    };
    h.commit(vec![(&issuer, mint)]);
    let proof = prove(&h, std::slice::from_ref(&count_key));
    let mut c = h.followed();
    let n = verify_sub_accounts(&mut c, &proof, &owner, now(&proof)).unwrap();
    assert_eq!(n, 2);
    // The roll-up: every account 0..=n at the count's height.
    let mut total = 0;
    for sub in 0..=n {
        let keys = [StateKey::Holding(owner, sub, sym("FLY"))];
        let held = verify_holdings(
            &mut c,
            &prove(&h, &keys),
            &owner,
            sub,
            &[sym("FLY")],
            now(&proof),
        )
        .unwrap();
        total += held[0].1.balance;
    }
    assert_eq!(total, 400 + 70);
    // A node that hides the second sub-account, by a lower count or none.
    for lie in [Some(StateValue::SubAccounts(1)), None] {
        let mut forged = proof.clone();
        let mut entries = forged.entries.clone().into_inner();
        entries[0].value = lie.clone();
        forged.entries = BoundedVec::new(entries).unwrap();
        let err = verify_sub_accounts(&mut c, &forged, &owner, now(&forged)).unwrap_err();
        assert!(
            matches!(err, VerifyError::Entry { index: 0, .. }),
            "{lie:?}: {err}"
        );
    }
    // Nor may it answer with someone else's count.
    let other = prove(&h, &[StateKey::SubAccounts(issuer.public())]);
    assert!(matches!(
        verify_sub_accounts(&mut c, &other, &owner, now(&other)),
        Err(VerifyError::NotAsked { index: 0, .. })
    ));
}

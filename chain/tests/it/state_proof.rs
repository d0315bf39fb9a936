//! Proofs of state entries against the state root: an entry's presence
//! with its value, or its absence, from its bucket and 16 siblings. A
//! proof must fail on any changed bit, on another key, on another bucket,
//! and against another root.

use std::collections::BTreeMap;

use merit_chain::Hash32;
use merit_chain::commitment::{
    BUCKET_BITS, ProofError, StateCommitment, StateProof, verify_state_proof,
};
use merit_chain::encoding::{self, BoundedVec};
use merit_chain::state::{Holding, StateKey, StateValue};
use proptest::prelude::*;

use crate::fixture::{Alliance, sym};

/// A commitment over `n` entries, with the entries.
fn state(n: u32) -> (StateCommitment, BTreeMap<Vec<u8>, Vec<u8>>) {
    let entries: BTreeMap<Vec<u8>, Vec<u8>> = (0..n)
        .map(|i| {
            (
                format!("key{i}").into_bytes(),
                format!("value{i}").into_bytes(),
            )
        })
        .collect();
    let c =
        StateCommitment::from_entries(entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
    (c, entries)
}

/// A key of the same bucket as `key`, absent from `entries`.
fn bucket_mate(key: &[u8], entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let bucket = |k: &[u8]| {
        let h = merit_chain::commitment::key_hash(k);
        [h.0[0], h.0[1]]
    };
    (0u64..)
        .map(|i| format!("mate{i}").into_bytes())
        .find(|k| bucket(k) == bucket(key) && !entries.contains_key(k))
        .unwrap()
}

fn flip(h: &mut Hash32, bit: usize) {
    h.0[bit / 8 % 32] ^= 1 << (bit % 8);
}

#[test]
fn a_present_entry_and_an_absent_one_both_prove() {
    let (c, entries) = state(3_000);
    let root = c.root();
    for (k, v) in entries.iter().step_by(97) {
        let proof = c.prove(k).unwrap();
        verify_state_proof(&root, k, Some(v), &proof).unwrap();
        assert_eq!(
            verify_state_proof(&root, k, None, &proof),
            Err(ProofError::Present)
        );
        assert_eq!(
            verify_state_proof(&root, k, Some(b"another value"), &proof),
            Err(ProofError::WrongValue)
        );
    }
    let absent = b"no such key".to_vec();
    let proof = c.prove(&absent).unwrap();
    verify_state_proof(&root, &absent, None, &proof).unwrap();
    assert_eq!(
        verify_state_proof(&root, &absent, Some(b"x"), &proof),
        Err(ProofError::Missing)
    );
    // The empty state proves absence too.
    let empty = StateCommitment::new();
    verify_state_proof(&empty.root(), &absent, None, &empty.prove(&absent).unwrap()).unwrap();
}

#[test]
fn an_absence_proof_from_the_wrong_bucket_is_refused() {
    let (c, entries) = state(3_000);
    let root = c.root();
    let (present, value) = entries.iter().next().unwrap();
    // An honest proof of another key's (other) bucket, offered for a key
    // the state holds: its pairs are not the key's bucket.
    let elsewhere = (0u64..)
        .map(|i| format!("elsewhere{i}").into_bytes())
        .find(|k| c.prove(k).unwrap().bucket != c.prove(present).unwrap().bucket)
        .unwrap();
    let foreign = c.prove(&elsewhere).unwrap();
    let got = verify_state_proof(&root, present, None, &foreign);
    assert!(
        matches!(
            got,
            Err(ProofError::WrongBucket | ProofError::WrongRoot { .. })
        ),
        "{got:?}"
    );
    // The key's own bucket with its entry left out.
    let mut hidden = c.prove(present).unwrap();
    let kh = merit_chain::commitment::key_hash(present);
    let pairs: Vec<_> = hidden
        .bucket
        .iter()
        .copied()
        .filter(|(k, _)| *k != kh)
        .collect();
    hidden.bucket = BoundedVec::new(pairs).unwrap();
    assert!(matches!(
        verify_state_proof(&root, present, None, &hidden),
        Err(ProofError::WrongRoot { .. })
    ));
    verify_state_proof(&root, present, Some(value), &c.prove(present).unwrap()).unwrap();
}

#[test]
fn a_proof_is_for_one_key_only() {
    let (c, entries) = state(2_000);
    let root = c.root();
    let (k, v) = entries.iter().nth(5).unwrap();
    let proof = c.prove(k).unwrap();
    // Another key of the same bucket, absent: the proof shows its absence
    // but not the first key's value under it.
    let mate = bucket_mate(k, &entries);
    verify_state_proof(&root, &mate, None, &proof).unwrap();
    assert_eq!(
        verify_state_proof(&root, &mate, Some(v), &proof),
        Err(ProofError::Missing)
    );
}

#[test]
fn a_stale_proof_fails_against_the_new_root() {
    let (mut c, entries) = state(500);
    let (k, v) = entries.iter().next().unwrap();
    let old = c.prove(k).unwrap();
    let old_root = c.root();
    let delta = c.prepare([(k.as_slice(), Some(b"spent".as_slice()))].into_iter());
    c.apply(delta);
    verify_state_proof(&old_root, k, Some(v), &old).unwrap();
    assert!(verify_state_proof(&c.root(), k, Some(v), &old).is_err());
    verify_state_proof(&c.root(), k, Some(b"spent"), &c.prove(k).unwrap()).unwrap();
}

#[test]
fn a_proof_survives_its_canonical_bytes() {
    let (c, entries) = state(300);
    let (k, v) = entries.iter().next().unwrap();
    let proof = c.prove(k).unwrap();
    let bytes = encoding::encode(&proof);
    let back: StateProof = encoding::decode(&bytes, bytes.len()).unwrap();
    assert_eq!(back, proof);
    verify_state_proof(&c.root(), k, Some(v), &back).unwrap();
    assert_eq!(proof.siblings.len(), BUCKET_BITS as usize);
}

#[test]
fn a_ledger_proves_a_balance_and_an_absence_against_its_tips_state_root() {
    let mut a = Alliance::new();
    let tx = a.tx(
        &a.alice.clone(),
        Alliance::transfer("BEAN", &a.bob.clone(), 2_500),
    );
    a.block(vec![tx]);
    let root = a.ledger.tip().state_root;
    let bob = StateKey::Holding(a.bob.public(), 0, sym("BEAN"));
    let (value, proof) = a.ledger.prove(&bob).unwrap();
    let value = value.expect("bob holds BEAN now");
    let holding = Holding {
        balance: 2_500,
        ..Holding::default()
    };
    assert_eq!(value, encoding::encode(&StateValue::Holding(holding)));
    verify_state_proof(&root, &encoding::encode(&bob), Some(&value), &proof).unwrap();
    // What bob does not hold has no entry, and that proves too.
    let none = StateKey::Holding(a.bob.public(), 0, sym("BOOK"));
    let (value, proof) = a.ledger.prove(&none).unwrap();
    assert_eq!(value, None);
    verify_state_proof(&root, &encoding::encode(&none), None, &proof).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any single changed bit of the value, a bucket pair, a sibling or the
    /// root makes the proof fail.
    #[test]
    fn any_single_bit_changed_fails(which in 0usize..4, bit in 0usize..256, pick in 0usize..1_000) {
        let (c, entries) = state(1_500);
        let (k, v) = entries.iter().nth(pick % entries.len()).unwrap();
        let mut proof = c.prove(k).unwrap();
        let mut root = c.root();
        let mut value = v.clone();
        match which {
            0 => {
                let i = bit % value.len();
                value[i] ^= 1 << (bit % 8);
            }
            1 => {
                let mut pairs = proof.bucket.clone().into_inner();
                let n = pairs.len();
                let pair = &mut pairs[bit % n];
                if bit % 2 == 0 { flip(&mut pair.0, bit) } else { flip(&mut pair.1, bit) }
                proof.bucket = BoundedVec::new(pairs).unwrap();
            }
            2 => flip(&mut proof.siblings[bit % BUCKET_BITS as usize], bit),
            _ => flip(&mut root, bit),
        }
        prop_assert!(verify_state_proof(&root, k, Some(&value), &proof).is_err());
    }
}

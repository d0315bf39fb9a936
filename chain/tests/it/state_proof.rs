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

/// Applies `changes` to `c`, returning what undoes them: the old value of
/// each key (from `values`, kept in step) and the old hash of each bucket.
fn step(
    c: &mut StateCommitment,
    values: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    changes: &[(Vec<u8>, Option<Vec<u8>>)],
) -> merit_chain::commitment::BlockUndo {
    let delta = c.prepare(changes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())));
    let buckets = delta
        .dirty_buckets()
        .map(|i| (i as u32, c.bucket_hashes()[i]))
        .collect();
    let entries = changes
        .iter()
        .map(|(k, _)| (k.clone(), values.get(k).cloned()))
        .collect();
    for (k, v) in changes {
        match v {
            Some(v) => values.insert(k.clone(), v.clone()),
            None => values.remove(k),
        };
    }
    c.apply(delta);
    merit_chain::commitment::BlockUndo { entries, buckets }
}

/// Keys that share a bucket with `key0`, so past proofs of a bucket that
/// holds several entries are exercised too.
fn bucket_mates() -> &'static [Vec<u8>] {
    static MATES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    MATES.get_or_init(|| {
        let b = merit_chain::commitment::bucket_of_key(b"key0");
        (0..400_000u32)
            .map(|i| format!("mate{i}").into_bytes())
            .filter(|k| merit_chain::commitment::bucket_of_key(k) == b)
            .take(4)
            .collect()
    })
}

/// Key `k` of the past-proof test: `key0`…`key59`, then `key0`'s bucket mates.
fn test_key(k: u32) -> Vec<u8> {
    let mates = bucket_mates();
    match (k as usize).checked_sub(60) {
        Some(i) if !mates.is_empty() => mates[i % mates.len()].clone(),
        _ => format!("key{k}").into_bytes(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A key proven in a past state from today's commitment and the undo
    /// records of the blocks since gives the value, the proof and the root
    /// a snapshot of that state gives.
    #[test]
    fn a_past_state_proves_from_todays_commitment_and_the_undo_records(
        blocks in prop::collection::vec(
            prop::collection::vec((0u32..66, prop::option::of(0u32..1000)), 1..12),
            1..8,
        ),
        back in 0usize..8,
        probe in prop_oneof![Just(0u32), 60u32..66, 0u32..70],
    ) {
        let (mut c, mut values) = state(40);
        let back = back.min(blocks.len());
        let mut snapshot = None;
        let mut undo = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            if i == blocks.len() - back {
                snapshot = Some((c.clone(), values.clone()));
            }
            // One change per key per block, as a block's changes are.
            let changes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = block
                .iter()
                .map(|(k, v)| (test_key(*k), v.map(|v| format!("v{v}").into_bytes())))
                .collect();
            let changes: Vec<_> = changes.into_iter().collect();
            undo.push(step(&mut c, &mut values, &changes));
        }
        let (then, then_values) = snapshot.unwrap_or((c.clone(), values.clone()));
        let newest_first: Vec<_> = undo.iter().rev().take(back).cloned().collect();
        let key = test_key(probe);
        let (value, proof, root) = c
            .prove_key_past(&key, values.get(&key).map(Vec::as_slice), &newest_first)
            .unwrap();
        prop_assert_eq!(root, then.root());
        prop_assert_eq!(value.as_ref(), then_values.get(&key));
        prop_assert_eq!(&proof, &then.prove(&key).unwrap());
        verify_state_proof(&root, &key, value.as_deref(), &proof).unwrap();
    }
}

#[test]
fn a_blocks_outcome_carries_what_undoes_it() {
    let mut a = Alliance::new();
    let before = a.ledger.clone();
    let tx = a.tx(
        &a.alice.clone(),
        Alliance::transfer("BEAN", &a.bob.clone(), 2_500),
    );
    let time = a.ledger.tip().timestamp_ms + 1_000;
    let (block, outcome) = a.ledger.build_block(0, time, a.m1.public(), vec![tx]);
    let undo = merit_chain::commitment::BlockUndo {
        entries: outcome.undo.clone(),
        buckets: outcome.bucket_undo.clone(),
    };
    assert_eq!(outcome.undo.len(), outcome.encoded_changes.len());
    a.ledger.apply(&block.header, outcome);
    let bob = StateKey::Holding(a.bob.public(), 0, sym("BEAN"));
    let key = encoding::encode(&bob);
    let now = a.ledger.state().get(&bob).map(encoding::encode);
    let (value, proof, root) = a
        .ledger
        .commitment()
        .prove_key_past(&key, now.as_deref(), &[undo])
        .unwrap();
    assert_eq!(root, before.state_root());
    assert_eq!(value, before.state().get(&bob).map(encoding::encode));
    assert_eq!(proof, before.prove(&bob).unwrap().1);
}

#[test]
fn the_past_proof_test_has_keys_that_share_a_bucket() {
    assert_eq!(bucket_mates().len(), 4);
}

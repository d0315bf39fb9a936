//! The validator set, quorum sizes and proposer rotation.

use std::collections::BTreeMap;

use crate::crypto::PublicKey;
use crate::limits::MAX_VALIDATORS;

/// Most validators that may be faulty in a set of `n`: `f = (n - 1) / 3`.
pub fn max_faulty(n: usize) -> usize {
    n.saturating_sub(1) / 3
}

/// Votes that make a quorum in a set of `n`: `n - f`.
///
/// For `n = 3f + 1` this is `2f + 1`. For other sizes `2f + 1` would be too
/// small (with `n = 5`, two sets of 3 may share only one, possibly faulty,
/// validator), while `n - f` always makes any two quorums share at least
/// `f + 1` validators, so at least one honest one.
pub fn quorum_size(n: usize) -> usize {
    n - max_faulty(n)
}

/// Which quorum a replica counts. Anything but the default breaks safety.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuorumRule {
    /// `n - f` votes (`2f + 1` when `n = 3f + 1`): the only safe rule.
    #[default]
    Byzantine,
    /// `f + 1` votes. **Unsafe:** two quorums need not share an honest
    /// validator. It exists so the consensus simulation can prove that its
    /// safety checker catches a broken protocol; never use it in a node.
    UnsafeFPlusOne,
}

/// Why a list of keys is not a validator set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    #[error("the validator set is empty")]
    Empty,
    #[error("{n} validators is over the limit of {limit}")]
    TooMany { n: usize, limit: usize },
    #[error("validator {0} is listed twice")]
    Duplicate(PublicKey),
}

/// The ordered validators from genesis. The order fixes proposer rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSet {
    keys: Vec<PublicKey>,
    index: BTreeMap<PublicKey, usize>,
}

impl ValidatorSet {
    /// Checks that `keys` is non-empty, within [`MAX_VALIDATORS`] and free
    /// of duplicates.
    pub fn new(keys: Vec<PublicKey>) -> Result<Self, ValidatorSetError> {
        if keys.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        if keys.len() > MAX_VALIDATORS {
            return Err(ValidatorSetError::TooMany {
                n: keys.len(),
                limit: MAX_VALIDATORS,
            });
        }
        let mut index = BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            if index.insert(*k, i).is_some() {
                return Err(ValidatorSetError::Duplicate(*k));
            }
        }
        Ok(ValidatorSet { keys, index })
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a validator set has at least one member.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&PublicKey> {
        self.keys.get(index)
    }

    /// The position of `key` in the set, if it is a validator.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.index.get(key).copied()
    }

    pub fn contains(&self, key: &PublicKey) -> bool {
        self.index.contains_key(key)
    }

    /// `f`: the most faulty validators the set tolerates.
    pub fn max_faulty(&self) -> usize {
        max_faulty(self.len())
    }

    /// The safe quorum, `n - f`.
    pub fn quorum(&self) -> usize {
        quorum_size(self.len())
    }

    /// The quorum under `rule`.
    pub fn quorum_for(&self, rule: QuorumRule) -> usize {
        match rule {
            QuorumRule::Byzantine => self.quorum(),
            QuorumRule::UnsafeFPlusOne => self.max_faulty() + 1,
        }
    }

    /// The index of the proposer for `(height, round)`: `(height + round) mod n`.
    pub fn proposer_index(&self, height: u64, round: u32) -> usize {
        let n = self.len().max(1) as u128;
        // In u128 the sum cannot overflow, and the result is below n.
        ((u128::from(height) + u128::from(round)) % n) as usize
    }

    /// The proposer for `(height, round)`.
    pub fn proposer(&self, height: u64, round: u32) -> &PublicKey {
        &self.keys[self.proposer_index(height, round)]
    }
}

/// The validator sets in force from each height on, as far ahead as they
/// are known.
///
/// A change of the set takes effect a fixed number of blocks after the
/// proposal that makes it passes, so at any tip the sets of the next few
/// heights are already decided. A replica judges every message against the
/// set of the message's height; a message for a height past
/// [`ValidatorSchedule::known_until`] cannot be judged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSchedule {
    /// Each set, by the first height it is in force at.
    sets: BTreeMap<u64, ValidatorSet>,
    known_until: u64,
}

impl ValidatorSchedule {
    /// One set for every height from `from` on: a chain whose set never
    /// changes (and the tests of the replica).
    pub fn fixed(from: u64, set: ValidatorSet) -> Self {
        ValidatorSchedule {
            sets: BTreeMap::from([(from, set)]),
            known_until: u64::MAX,
        }
    }

    /// The sets in force from each height of `sets`, known up to and
    /// including `known_until`.
    pub fn new(sets: BTreeMap<u64, ValidatorSet>, known_until: u64) -> Self {
        ValidatorSchedule { sets, known_until }
    }

    /// The set in force at `height`, if known.
    pub fn at(&self, height: u64) -> Option<&ValidatorSet> {
        if height > self.known_until {
            return None;
        }
        self.sets.range(..=height).next_back().map(|(_, s)| s)
    }

    /// The last height whose set is known.
    pub fn known_until(&self) -> u64 {
        self.known_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keypair;

    #[test]
    fn a_schedule_answers_the_set_of_each_height_it_knows() {
        let a = ValidatorSet::new(keys(4)).unwrap();
        let b = ValidatorSet::new(keys(5)).unwrap();
        let s = ValidatorSchedule::new(BTreeMap::from([(1, a.clone()), (10, b.clone())]), 15);
        assert_eq!(s.at(0), None);
        assert_eq!(s.at(1), Some(&a));
        assert_eq!(s.at(9), Some(&a));
        assert_eq!(s.at(10), Some(&b));
        assert_eq!(s.at(15), Some(&b));
        assert_eq!(s.at(16), None, "past what is known: cannot be judged yet");
        let fixed = ValidatorSchedule::fixed(1, a.clone());
        assert_eq!(fixed.at(u64::MAX), Some(&a));
    }

    fn keys(n: usize) -> Vec<PublicKey> {
        (0..n)
            .map(|i| Keypair::insecure_from_label(&format!("v{i}")).public())
            .collect()
    }

    #[test]
    fn quorum_is_two_f_plus_one_for_three_f_plus_one_validators() {
        for f in 0..=33 {
            let n = 3 * f + 1;
            assert_eq!(max_faulty(n), f, "n = {n}");
            assert_eq!(quorum_size(n), 2 * f + 1, "n = {n}");
        }
        assert_eq!((max_faulty(4), quorum_size(4)), (1, 3));
        assert_eq!((max_faulty(7), quorum_size(7)), (2, 5));
        assert_eq!((max_faulty(10), quorum_size(10)), (3, 7));
        assert_eq!((max_faulty(1), quorum_size(1)), (0, 1));
    }

    #[test]
    fn any_two_quorums_share_an_honest_validator_for_every_size() {
        for n in 1..=MAX_VALIDATORS {
            let (f, q) = (max_faulty(n), quorum_size(n));
            assert!(
                q <= n - f,
                "n = {n}: a quorum must be reachable with f silent"
            );
            assert!(2 * q > n + f, "n = {n}: two quorums must overlap in f + 1");
        }
    }

    #[test]
    fn the_weak_rule_is_f_plus_one_and_not_the_default() {
        let set = ValidatorSet::new(keys(7)).unwrap();
        assert_eq!(set.quorum_for(QuorumRule::default()), 5);
        assert_eq!(set.quorum_for(QuorumRule::UnsafeFPlusOne), 3);
    }

    #[test]
    fn proposer_rotates_with_height_plus_round() {
        let ks = keys(4);
        let set = ValidatorSet::new(ks.clone()).unwrap();
        assert_eq!(set.proposer(0, 0), &ks[0]);
        assert_eq!(set.proposer(1, 0), &ks[1]);
        assert_eq!(set.proposer(1, 1), &ks[2]);
        assert_eq!(set.proposer(3, 2), &ks[1]);
        assert_eq!(
            set.proposer_index(u64::MAX, u32::MAX),
            ((u128::from(u64::MAX) + u128::from(u32::MAX)) % 4) as usize
        );
        // Every validator proposes once in any n consecutive heights.
        let mut seen: Vec<usize> = (10..14).map(|h| set.proposer_index(h, 0)).collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_validator_set_rejects_empty_duplicate_and_oversized_lists() {
        assert_eq!(ValidatorSet::new(vec![]), Err(ValidatorSetError::Empty));
        let mut ks = keys(3);
        ks.push(ks[1]);
        assert_eq!(
            ValidatorSet::new(ks.clone()),
            Err(ValidatorSetError::Duplicate(ks[1]))
        );
        assert!(matches!(
            ValidatorSet::new(keys(MAX_VALIDATORS + 1)),
            Err(ValidatorSetError::TooMany { .. })
        ));
        let set = ValidatorSet::new(keys(3)).unwrap();
        assert_eq!(set.index_of(&keys(3)[2]), Some(2));
        assert_eq!(
            set.index_of(&Keypair::insecure_from_label("outsider").public()),
            None
        );
    }
}

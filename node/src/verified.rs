//! The transactions whose signatures this node has already checked.
//!
//! A transaction usually reaches a validator twice: by gossip, and inside a
//! proposed block. Whichever comes first pays for the signature check; the
//! other finds the verdict here. The key is the transaction hash, which
//! covers the sender, the signed body and the signature, so a remembered
//! verdict is exactly the verdict a new check would give (ADR 005: the rule
//! is the same alone and in any batch). Only good verdicts are kept, and the
//! oldest are forgotten first once [`MAX_VERIFIED_TXS`] are held.

use std::collections::{BTreeSet, VecDeque};

use merit_chain::Hash32;

/// Verdicts remembered at most: more than a full mempool holds.
pub const MAX_VERIFIED_TXS: usize = 262_144;

/// A bounded set of transaction hashes with a good signature.
#[derive(Debug)]
pub struct VerifiedTxs {
    set: BTreeSet<Hash32>,
    order: VecDeque<Hash32>,
    capacity: usize,
}

impl VerifiedTxs {
    pub fn new(capacity: usize) -> Self {
        VerifiedTxs {
            set: BTreeSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn contains(&self, hash: &Hash32) -> bool {
        self.set.contains(hash)
    }

    /// Remembers `hash`, forgetting the oldest hash when full.
    pub fn insert(&mut self, hash: Hash32) {
        if !self.set.insert(hash) {
            return;
        }
        self.order.push_back(hash);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_verdicts_are_forgotten_first() {
        let mut v = VerifiedTxs::new(3);
        let h = |i: u8| Hash32([i; 32]);
        for i in 0..3 {
            v.insert(h(i));
        }
        v.insert(h(1));
        assert_eq!(v.len(), 3);
        v.insert(h(3));
        assert_eq!(v.len(), 3);
        assert!(!v.contains(&h(0)));
        assert!(v.contains(&h(1)) && v.contains(&h(2)) && v.contains(&h(3)));
    }
}

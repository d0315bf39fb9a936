//! Binary Merkle roots over ordered lists (transactions, receipts).
//!
//! Leaves and inner nodes are hashed with different prefixes so a leaf can
//! never pass for a node. A lone node at the end of a level is carried up
//! unchanged, as in RFC 6962.

use crate::crypto::{Hash32, sha256, sha256_parts};

const LEAF: u8 = 0x00;
const NODE: u8 = 0x01;

pub fn leaf_hash(data: &[u8]) -> Hash32 {
    sha256_parts(&[&[LEAF], data])
}

pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    sha256_parts(&[&[NODE], &left.0, &right.0])
}

/// The Merkle root of already-hashed leaves. The root of nothing is SHA-256 of nothing.
pub fn root(leaves: &[Hash32]) -> Hash32 {
    if leaves.is_empty() {
        return sha256(b"");
    }
    let mut level: Vec<Hash32> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => node_hash(l, r),
                [one] => *one,
                _ => unreachable_pair(),
            })
            .collect();
    }
    level[0]
}

fn unreachable_pair() -> Hash32 {
    // `chunks(2)` yields one or two items.
    Hash32::ZERO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_depends_on_every_leaf_and_its_position() {
        let leaves: Vec<Hash32> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
        let r = root(&leaves);
        let mut swapped = leaves.clone();
        swapped.swap(1, 2);
        assert_ne!(root(&swapped), r);
        let mut changed = leaves.clone();
        changed[4] = leaf_hash(&[9]);
        assert_ne!(root(&changed), r);
        assert_eq!(root(&leaves[..1]), leaves[0]);
        assert_eq!(root(&leaves[..2]), node_hash(&leaves[0], &leaves[1]));
        assert_eq!(
            root(&leaves[..3]),
            node_hash(&node_hash(&leaves[0], &leaves[1]), &leaves[2])
        );
    }
}

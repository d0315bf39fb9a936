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

/// The siblings that lead from leaf `index` to the root, bottom up. A
/// level where the leaf's node is a lone last node (carried up unchanged)
/// has no sibling. `None` if `index` is out of range.
pub fn path(leaves: &[Hash32], index: usize) -> Option<Vec<Hash32>> {
    if index >= leaves.len() {
        return None;
    }
    let mut siblings = Vec::new();
    let mut level: Vec<Hash32> = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        let sibling = i ^ 1;
        if sibling < level.len() {
            siblings.push(level[sibling]);
        }
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => node_hash(l, r),
                [one] => *one,
                _ => unreachable_pair(),
            })
            .collect();
        i /= 2;
    }
    Some(siblings)
}

/// The root that leaf hash `leaf`, at `index` of `count` leaves, and its
/// `siblings` (as [`path`] gives them) lead to. `None` if the path does not
/// fit that shape: too few or too many siblings, or `index` out of range.
pub fn root_from_path(leaf: Hash32, index: u64, count: u64, siblings: &[Hash32]) -> Option<Hash32> {
    if index >= count {
        return None;
    }
    let mut node = leaf;
    let (mut i, mut len) = (index, count);
    let mut rest = siblings.iter();
    while len > 1 {
        let sibling = i ^ 1;
        if sibling < len {
            let s = rest.next()?;
            node = if i % 2 == 0 {
                node_hash(&node, s)
            } else {
                node_hash(s, &node)
            };
        }
        i /= 2;
        len = len.div_ceil(2);
    }
    // Every sibling given must have been used.
    rest.next().is_none().then_some(node)
}

fn unreachable_pair() -> Hash32 {
    // `chunks(2)` yields one or two items.
    Hash32::ZERO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_leaf_has_a_path_to_the_root_and_no_other_leaf_does() {
        for count in 1..=17usize {
            let leaves: Vec<Hash32> = (0..count).map(|i| leaf_hash(&[i as u8])).collect();
            let r = root(&leaves);
            for index in 0..count {
                let siblings = path(&leaves, index).expect("in range");
                let (i, n) = (index as u64, count as u64);
                assert_eq!(root_from_path(leaves[index], i, n, &siblings), Some(r));
                // Another leaf, another position or a short or long path
                // does not lead there.
                let other = leaf_hash(b"other");
                assert_ne!(root_from_path(other, i, n, &siblings), Some(r));
                if count > 1 {
                    let moved = (i + 1) % n;
                    assert_ne!(root_from_path(leaves[index], moved, n, &siblings), Some(r));
                }
                if let Some((_, shorter)) = siblings.split_last() {
                    assert_eq!(root_from_path(leaves[index], i, n, shorter), None);
                }
                let mut longer = siblings.clone();
                longer.push(other);
                assert_eq!(root_from_path(leaves[index], i, n, &longer), None);
            }
            assert_eq!(path(&leaves, count), None);
            assert_eq!(
                root_from_path(leaves[0], count as u64, count as u64, &[]),
                None
            );
        }
    }

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

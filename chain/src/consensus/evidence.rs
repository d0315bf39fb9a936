//! Evidence of equivocation: two conflicting statements signed by one
//! validator for the same `(height, round, kind)`.
//!
//! A validator that signs two different blocks where the protocol lets it
//! sign one is provably faulty, whatever the network did. A replica that
//! receives both keeps them; anyone can check the pair with
//! [`Evidence::verify`] against the validator set, without trusting the
//! node that kept it.

use super::message::{SignedStatement, Statement, signing_bytes};
use super::validators::ValidatorSet;
use crate::crypto::{Hash32, PublicKey, verify};
use crate::encoding::{self, Decode, DecodeError, Encode};
use crate::tx::ChainId;

/// Largest encoded [`Evidence`]: two vote statements with their signatures.
pub const MAX_EVIDENCE_BYTES: usize = 1024;

/// Two statements of one kind, one validator and one `(height, round)`,
/// naming different blocks. Only proposals and votes (PrePrepare, Prepare,
/// Commit) are kept: they are small and each names exactly one block.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Evidence {
    pub first: SignedStatement,
    pub second: SignedStatement,
}

/// Why a pair of statements is not evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("only PrePrepare, Prepare and Commit statements are kept as evidence")]
    NotAVote,
    #[error("the two statements are of different kinds, heights or rounds")]
    DifferentSlots,
    #[error("the two statements name the same block")]
    SameBlock,
    #[error("the two statements are signed by different validators")]
    DifferentSigners,
    #[error("{0} is not a validator of this set")]
    NotAValidator(PublicKey),
    #[error("a signature does not verify")]
    BadSignature,
}

fn vote_of(s: &Statement) -> Option<(u64, u32, Hash32)> {
    match s {
        Statement::PrePrepare(v) | Statement::Prepare(v) | Statement::Commit(v) => {
            Some((v.height, v.round, v.block_hash))
        }
        _ => None,
    }
}

impl Evidence {
    /// A pair of conflicting votes, if `first` and `second` are one. The
    /// signatures are not checked here: a replica builds evidence only from
    /// statements it already verified; others call [`Evidence::verify`].
    pub fn of(first: SignedStatement, second: SignedStatement) -> Result<Self, EvidenceError> {
        let e = Evidence { first, second };
        e.check_shape()?;
        Ok(e)
    }

    fn check_shape(&self) -> Result<(), EvidenceError> {
        let a = vote_of(&self.first.statement).ok_or(EvidenceError::NotAVote)?;
        let b = vote_of(&self.second.statement).ok_or(EvidenceError::NotAVote)?;
        if self.first.statement.kind() != self.second.statement.kind() || (a.0, a.1) != (b.0, b.1) {
            return Err(EvidenceError::DifferentSlots);
        }
        if a.2 == b.2 {
            return Err(EvidenceError::SameBlock);
        }
        if self.first.validator != self.second.validator {
            return Err(EvidenceError::DifferentSigners);
        }
        Ok(())
    }

    /// Checks that this is evidence against a member of `validators` on
    /// `chain_id`: the shape, the membership and both signatures.
    pub fn verify(
        &self,
        chain_id: &ChainId,
        validators: &ValidatorSet,
    ) -> Result<(), EvidenceError> {
        self.check_shape()?;
        if !validators.contains(&self.first.validator) {
            return Err(EvidenceError::NotAValidator(self.first.validator));
        }
        for s in [&self.first, &self.second] {
            if !verify(
                &s.validator,
                &signing_bytes(chain_id, &s.statement),
                &s.signature,
            ) {
                return Err(EvidenceError::BadSignature);
            }
        }
        Ok(())
    }

    /// The faulty validator.
    pub fn validator(&self) -> PublicKey {
        self.first.validator
    }

    pub fn height(&self) -> u64 {
        self.first.statement.height()
    }

    pub fn round(&self) -> u32 {
        self.first.statement.round()
    }

    /// The kind of the two statements, as in the signed bytes.
    pub fn kind(&self) -> &'static str {
        self.first.statement.kind().name()
    }

    /// The two blocks named, in the order they were seen.
    pub fn block_hashes(&self) -> (Hash32, Hash32) {
        let first = self.first.statement.block_hash().unwrap_or(Hash32::ZERO);
        let second = self.second.statement.block_hash().unwrap_or(Hash32::ZERO);
        (first, second)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes evidence from untrusted bytes, at most [`MAX_EVIDENCE_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode(bytes, MAX_EVIDENCE_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::message::Vote;
    use crate::crypto::Keypair;

    fn chain() -> ChainId {
        ChainId::new("merit-test").unwrap()
    }

    fn vote(key: &Keypair, kind: fn(Vote) -> Statement, hash: u8) -> SignedStatement {
        let v = Vote {
            height: 7,
            round: 2,
            block_hash: Hash32([hash; 32]),
        };
        SignedStatement::sign(&chain(), key, kind(v))
    }

    #[test]
    fn two_prepares_for_different_blocks_are_evidence_anyone_can_check() {
        let keys: Vec<Keypair> = (0..4)
            .map(|i| Keypair::insecure_from_label(&format!("v{i}")))
            .collect();
        let set = ValidatorSet::new(keys.iter().map(Keypair::public).collect()).unwrap();
        let e = Evidence::of(
            vote(&keys[1], Statement::Prepare, 1),
            vote(&keys[1], Statement::Prepare, 2),
        )
        .unwrap();
        assert_eq!(e.verify(&chain(), &set), Ok(()));
        assert_eq!((e.height(), e.round(), e.kind()), (7, 2, "prepare"));
        assert_eq!(Evidence::from_bytes(&e.to_bytes()).unwrap(), e);
        assert!(e.to_bytes().len() <= MAX_EVIDENCE_BYTES);

        // A forged signature, another chain, an outsider: refused.
        let mut forged = e.clone();
        forged.second.signature = forged.first.signature;
        assert_eq!(
            forged.verify(&chain(), &set),
            Err(EvidenceError::BadSignature)
        );
        let other = ChainId::new("merit-other").unwrap();
        assert_eq!(e.verify(&other, &set), Err(EvidenceError::BadSignature));
        let outsider = Keypair::insecure_from_label("outsider");
        let e2 = Evidence::of(
            vote(&outsider, Statement::Commit, 1),
            vote(&outsider, Statement::Commit, 2),
        )
        .unwrap();
        assert_eq!(
            e2.verify(&chain(), &set),
            Err(EvidenceError::NotAValidator(outsider.public()))
        );
    }

    #[test]
    fn pairs_that_do_not_conflict_are_not_evidence() {
        let k = Keypair::insecure_from_label("v0");
        let other = Keypair::insecure_from_label("v1");
        let same = Evidence::of(
            vote(&k, Statement::Prepare, 1),
            vote(&k, Statement::Prepare, 1),
        );
        assert_eq!(same, Err(EvidenceError::SameBlock));
        let kinds = Evidence::of(
            vote(&k, Statement::Prepare, 1),
            vote(&k, Statement::Commit, 2),
        );
        assert_eq!(kinds, Err(EvidenceError::DifferentSlots));
        let signers = Evidence::of(
            vote(&k, Statement::Prepare, 1),
            vote(&other, Statement::Prepare, 2),
        );
        assert_eq!(signers, Err(EvidenceError::DifferentSigners));
    }
}

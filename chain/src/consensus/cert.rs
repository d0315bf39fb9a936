//! Checking certificates: a quorum of distinct validators' signatures over
//! one vote.

use std::collections::BTreeSet;

use super::message::{PreparedCertificate, Statement, Vote, signing_bytes};
use super::validators::{ValidatorSet, ValidatorSetError};
use super::verifier::{Ed25519Verifier, SignatureVerifier};
use crate::block::{CommitCertificate, ValidatorSignature};
use crate::crypto::PublicKey;
use crate::tx::ChainId;

/// Why a certificate does not prove what it claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("invalid validator set: {0}")]
    ValidatorSet(#[from] ValidatorSetError),
    #[error("{validator} signed but is not a validator")]
    UnknownSigner { validator: PublicKey },
    #[error("{validator} signed twice")]
    DuplicateSigner { validator: PublicKey },
    #[error("{got} distinct signatures, a quorum is {need}")]
    TooFewSignatures { got: usize, need: usize },
    #[error("the signature of {validator} does not verify")]
    BadSignature { validator: PublicKey },
}

/// Checks a commit certificate as block sync does: every signer is a
/// validator and signs once, there are at least `n - f` of them (`2f + 1`
/// for `n = 3f + 1`), and every signature is a valid Commit signature for
/// `(cert.height, cert.round, cert.block_hash)` on `chain_id`.
///
/// The caller checks that `cert.block_hash` is the hash of the block it
/// came with and `cert.height` its height.
pub fn verify_certificate(
    chain_id: &ChainId,
    validators: &[PublicKey],
    cert: &CommitCertificate,
) -> Result<(), CertError> {
    let set = ValidatorSet::new(validators.to_vec())?;
    verify_certificate_with(chain_id, &set, cert, set.quorum(), &Ed25519Verifier)
}

/// [`verify_certificate`] with an explicit quorum and verifier.
pub fn verify_certificate_with(
    chain_id: &ChainId,
    set: &ValidatorSet,
    cert: &CommitCertificate,
    quorum: usize,
    verifier: &dyn SignatureVerifier,
) -> Result<(), CertError> {
    let vote = Vote {
        height: cert.height,
        round: cert.round,
        block_hash: cert.block_hash,
    };
    verify_votes(
        chain_id,
        set,
        &Statement::Commit(vote),
        &cert.signatures,
        quorum,
        verifier,
    )
}

/// Checks a prepared certificate: a quorum of valid Prepare signatures for
/// its `(height, round, block_hash)`.
pub fn verify_prepared_certificate(
    chain_id: &ChainId,
    set: &ValidatorSet,
    cert: &PreparedCertificate,
    quorum: usize,
    verifier: &dyn SignatureVerifier,
) -> Result<(), CertError> {
    verify_votes(
        chain_id,
        set,
        &Statement::Prepare(cert.vote()),
        &cert.signatures,
        quorum,
        verifier,
    )
}

/// The checks that need no cryptography: members only, each once, enough.
pub(crate) fn check_signers(
    set: &ValidatorSet,
    sigs: &[ValidatorSignature],
    quorum: usize,
) -> Result<(), CertError> {
    let mut seen = BTreeSet::new();
    for s in sigs {
        if !set.contains(&s.validator) {
            return Err(CertError::UnknownSigner {
                validator: s.validator,
            });
        }
        if !seen.insert(s.validator) {
            return Err(CertError::DuplicateSigner {
                validator: s.validator,
            });
        }
    }
    if seen.len() < quorum {
        return Err(CertError::TooFewSignatures {
            got: seen.len(),
            need: quorum,
        });
    }
    Ok(())
}

fn verify_votes(
    chain_id: &ChainId,
    set: &ValidatorSet,
    statement: &Statement,
    sigs: &[ValidatorSignature],
    quorum: usize,
    verifier: &dyn SignatureVerifier,
) -> Result<(), CertError> {
    check_signers(set, sigs, quorum)?;
    let msg = signing_bytes(chain_id, statement);
    let items: Vec<_> = sigs
        .iter()
        .map(|s| (&s.validator, msg.as_slice(), &s.signature))
        .collect();
    let verdicts = verifier.verify_batch(&items);
    for (i, s) in sigs.iter().enumerate() {
        if !verdicts.get(i).copied().unwrap_or(false) {
            return Err(CertError::BadSignature {
                validator: s.validator,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Hash32, Keypair, Signature};
    use crate::encoding::BoundedVec;

    fn setup(n: usize) -> (ChainId, Vec<Keypair>, Vec<PublicKey>) {
        let keys: Vec<Keypair> = (0..n)
            .map(|i| Keypair::insecure_from_label(&format!("cert-v{i}")))
            .collect();
        let pubs = keys.iter().map(Keypair::public).collect();
        (ChainId::new("merit-test").unwrap(), keys, pubs)
    }

    fn commit_cert(
        chain: &ChainId,
        signers: &[&Keypair],
        height: u64,
        round: u32,
        hash: Hash32,
    ) -> CommitCertificate {
        let stmt = Statement::Commit(Vote {
            height,
            round,
            block_hash: hash,
        });
        let bytes = signing_bytes(chain, &stmt);
        let sigs = signers
            .iter()
            .map(|k| ValidatorSignature {
                validator: k.public(),
                signature: k.sign(&bytes),
            })
            .collect();
        CommitCertificate {
            height,
            round,
            block_hash: hash,
            signatures: BoundedVec::new(sigs).unwrap(),
        }
    }

    #[test]
    fn a_quorum_of_valid_commit_signatures_verifies() {
        let (chain, keys, pubs) = setup(4);
        let cert = commit_cert(
            &chain,
            &[&keys[0], &keys[2], &keys[3]],
            5,
            1,
            Hash32([9; 32]),
        );
        assert_eq!(verify_certificate(&chain, &pubs, &cert), Ok(()));
        let all = commit_cert(
            &chain,
            &keys.iter().collect::<Vec<_>>(),
            5,
            1,
            Hash32([9; 32]),
        );
        assert_eq!(verify_certificate(&chain, &pubs, &all), Ok(()));
    }

    #[test]
    fn a_certificate_below_quorum_fails() {
        let (chain, keys, pubs) = setup(4);
        let cert = commit_cert(&chain, &[&keys[0], &keys[1]], 5, 0, Hash32([9; 32]));
        assert_eq!(
            verify_certificate(&chain, &pubs, &cert),
            Err(CertError::TooFewSignatures { got: 2, need: 3 })
        );
    }

    #[test]
    fn a_repeated_signer_does_not_count_twice() {
        let (chain, keys, pubs) = setup(4);
        let cert = commit_cert(
            &chain,
            &[&keys[0], &keys[1], &keys[1]],
            5,
            0,
            Hash32([9; 32]),
        );
        assert_eq!(
            verify_certificate(&chain, &pubs, &cert),
            Err(CertError::DuplicateSigner { validator: pubs[1] })
        );
    }

    #[test]
    fn a_signer_outside_the_set_is_refused() {
        let (chain, keys, pubs) = setup(4);
        let outsider = Keypair::insecure_from_label("outsider");
        let cert = commit_cert(
            &chain,
            &[&keys[0], &keys[1], &outsider],
            5,
            0,
            Hash32([9; 32]),
        );
        assert_eq!(
            verify_certificate(&chain, &pubs, &cert),
            Err(CertError::UnknownSigner {
                validator: outsider.public()
            })
        );
    }

    #[test]
    fn a_forged_or_misdirected_signature_is_refused() {
        let (chain, keys, pubs) = setup(4);
        let mut cert = commit_cert(
            &chain,
            &[&keys[0], &keys[1], &keys[2]],
            5,
            0,
            Hash32([9; 32]),
        );
        cert.signatures = {
            let mut sigs = cert.signatures.clone().into_inner();
            sigs[2].signature = Signature([0; 64]);
            BoundedVec::new(sigs).unwrap()
        };
        assert_eq!(
            verify_certificate(&chain, &pubs, &cert),
            Err(CertError::BadSignature { validator: pubs[2] })
        );

        // Valid signatures for another block, round or chain do not carry over.
        let good = commit_cert(
            &chain,
            &[&keys[0], &keys[1], &keys[2]],
            5,
            0,
            Hash32([9; 32]),
        );
        let mut other_block = good.clone();
        other_block.block_hash = Hash32([8; 32]);
        assert!(matches!(
            verify_certificate(&chain, &pubs, &other_block),
            Err(CertError::BadSignature { .. })
        ));
        let mut other_round = good.clone();
        other_round.round = 1;
        assert!(matches!(
            verify_certificate(&chain, &pubs, &other_round),
            Err(CertError::BadSignature { .. })
        ));
        let other_chain = ChainId::new("merit-other").unwrap();
        assert!(matches!(
            verify_certificate(&other_chain, &pubs, &good),
            Err(CertError::BadSignature { .. })
        ));
    }

    #[test]
    fn prepare_signatures_are_not_commit_signatures() {
        let (chain, keys, pubs) = setup(4);
        let vote = Vote {
            height: 5,
            round: 0,
            block_hash: Hash32([9; 32]),
        };
        let bytes = signing_bytes(&chain, &Statement::Prepare(vote));
        let sigs: Vec<_> = keys[..3]
            .iter()
            .map(|k| ValidatorSignature {
                validator: k.public(),
                signature: k.sign(&bytes),
            })
            .collect();
        let prepared = PreparedCertificate {
            height: 5,
            round: 0,
            block_hash: vote.block_hash,
            signatures: BoundedVec::new(sigs.clone()).unwrap(),
        };
        let set = ValidatorSet::new(pubs.clone()).unwrap();
        assert_eq!(
            verify_prepared_certificate(&chain, &set, &prepared, 3, &Ed25519Verifier),
            Ok(())
        );
        let as_commit = CommitCertificate {
            height: 5,
            round: 0,
            block_hash: vote.block_hash,
            signatures: BoundedVec::new(sigs).unwrap(),
        };
        assert!(matches!(
            verify_certificate(&chain, &pubs, &as_commit),
            Err(CertError::BadSignature { .. })
        ));
    }

    #[test]
    fn an_invalid_validator_set_is_an_error_not_a_pass() {
        let (chain, keys, _) = setup(4);
        let cert = commit_cert(&chain, &[&keys[0]], 1, 0, Hash32([1; 32]));
        assert_eq!(
            verify_certificate(&chain, &[], &cert),
            Err(CertError::ValidatorSet(ValidatorSetError::Empty))
        );
    }
}

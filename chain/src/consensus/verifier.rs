//! Signature verification as a replica sees it.
//!
//! A replica checks every signature through a [`SignatureVerifier`]. The
//! default, [`Ed25519Verifier`], calls [`crate::crypto`] directly. A host may
//! supply another implementation, for example one that remembers verdicts it
//! has already computed for identical `(key, message, signature)` triples,
//! as long as every verdict equals what [`crate::crypto::verify`] would say.

use crate::crypto::{self, PublicKey, Signature};

/// Checks ed25519 signatures. Implementations must be pure: the verdict for
/// a triple never changes.
pub trait SignatureVerifier: Send + Sync + std::fmt::Debug {
    /// Whether `signature` is `key`'s signature over `message`.
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature) -> bool;

    /// One verdict per item, in order.
    fn verify_batch(&self, items: &[(&PublicKey, &[u8], &Signature)]) -> Vec<bool> {
        items.iter().map(|(k, m, s)| self.verify(k, m, s)).collect()
    }
}

/// Verification with [`crate::crypto::verify`] and
/// [`crate::crypto::verify_batch`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Ed25519Verifier;

impl SignatureVerifier for Ed25519Verifier {
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
        crypto::verify(key, message, signature)
    }

    fn verify_batch(&self, items: &[(&PublicKey, &[u8], &Signature)]) -> Vec<bool> {
        crypto::verify_batch(items)
    }
}

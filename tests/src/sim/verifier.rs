//! A signature verifier shared by all replicas of one simulated run.
//!
//! Every replica checks every signature it receives. In a run, most
//! messages reach every replica, so the same `(key, message, signature)`
//! triple is checked up to `n` times. This verifier remembers each verdict,
//! computed by `merit_chain::crypto`, so each distinct triple costs one
//! ed25519 check. A remembered verdict is exactly the verdict a fresh check
//! would give, so replicas behave as with the default verifier.

use std::collections::BTreeMap;
use std::sync::Mutex;

use merit_chain::consensus::SignatureVerifier;
use merit_chain::crypto::{self, PublicKey, Signature, sha256};

type Key = ([u8; 32], [u8; 64], [u8; 32]);

#[derive(Debug, Default)]
pub struct CachingVerifier {
    verdicts: Mutex<BTreeMap<Key, bool>>,
}

fn key_of(key: &PublicKey, message: &[u8], signature: &Signature) -> Key {
    (key.0, signature.0, sha256(message).0)
}

impl CachingVerifier {
    fn lookup(&self, k: &Key) -> Option<bool> {
        self.verdicts.lock().ok().and_then(|m| m.get(k).copied())
    }

    fn remember(&self, k: Key, verdict: bool) {
        if let Ok(mut m) = self.verdicts.lock() {
            m.insert(k, verdict);
        }
    }
}

impl SignatureVerifier for CachingVerifier {
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
        let k = key_of(key, message, signature);
        if let Some(v) = self.lookup(&k) {
            return v;
        }
        let v = crypto::verify(key, message, signature);
        self.remember(k, v);
        v
    }

    fn verify_batch(&self, items: &[(&PublicKey, &[u8], &Signature)]) -> Vec<bool> {
        let keys: Vec<Key> = items.iter().map(|(k, m, s)| key_of(k, m, s)).collect();
        let mut out: Vec<Option<bool>> = keys.iter().map(|k| self.lookup(k)).collect();
        let missing: Vec<usize> = (0..items.len()).filter(|i| out[*i].is_none()).collect();
        if !missing.is_empty() {
            let batch: Vec<_> = missing.iter().map(|i| items[*i]).collect();
            let verdicts = crypto::verify_batch(&batch);
            for (i, v) in missing.into_iter().zip(verdicts) {
                self.remember(keys[i], v);
                out[i] = Some(v);
            }
        }
        out.into_iter().map(|v| v.unwrap_or(false)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use merit_chain::Keypair;

    #[test]
    fn cached_verdicts_equal_fresh_ones() {
        let v = CachingVerifier::default();
        let k = Keypair::insecure_from_label("a");
        let sig = k.sign(b"m");
        let mut bad = sig;
        bad.0[0] ^= 1;
        for _ in 0..2 {
            assert!(v.verify(&k.public(), b"m", &sig));
            assert!(!v.verify(&k.public(), b"m", &bad));
            assert!(!v.verify(&k.public(), b"n", &sig));
        }
        let pk = k.public();
        let items = [
            (&pk, b"m".as_slice(), &sig),
            (&pk, b"m".as_slice(), &bad),
            (&pk, b"x".as_slice(), &sig),
        ];
        assert_eq!(v.verify_batch(&items), vec![true, false, false]);
    }
}

//! SHA-256 hashing and ed25519 signatures, single and batched.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::Signer;
use sha2::{Digest, Sha256, Sha512};

use crate::encoding::{Decode, Encode};

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    pub const ZERO: Hash32 = Hash32([0; 32]);

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits, with or without a `0x` prefix.
    pub fn from_hex(s: &str) -> Result<Self, ParseHashError> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseHashError)?;
        Ok(Hash32(out))
    }
}

impl std::fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", &self.to_hex()[..16])
    }
}

impl std::fmt::Display for Hash32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a hash is 64 hexadecimal digits")]
pub struct ParseHashError;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash32 {
    Hash32(Sha256::digest(data).into())
}

/// SHA-256 of the concatenation of `parts`, without copying them.
pub fn sha256_parts(parts: &[&[u8]]) -> Hash32 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    Hash32(h.finalize().into())
}

/// An ed25519 public key. Accounts, merchants and validators are named by one.
/// Shown to people as a bech32m address (see [`crate::address`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    pub const ZERO: PublicKey = PublicKey([0; 32]);
    pub const MAX: PublicKey = PublicKey([0xff; 32]);
}

/// An account address is its public key.
pub type Address = PublicKey;

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    pub const ZERO: Signature = Signature([0; 64]);
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({}..)", hex::encode(&self.0[..8]))
    }
}

/// A secret ed25519 key. Never encoded by the canonical encoder; the wallet and
/// genesis tools store it in their own formats.
#[derive(Clone)]
pub struct Keypair {
    secret: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keypair({})", self.public())
    }
}

impl Keypair {
    /// The key whose 32-byte seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Keypair {
            secret: ed25519_dalek::SigningKey::from_bytes(&seed),
        }
    }

    /// A key derived deterministically from a label, for demo and test keys
    /// only: anyone who knows the label knows the key.
    pub fn insecure_from_label(label: &str) -> Self {
        Self::from_seed(sha256_parts(&[b"merit-insecure-demo-key:", label.as_bytes()]).0)
    }

    pub fn seed(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.secret.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.secret.sign(message).to_bytes())
    }
}

// Signature validity is consensus-critical: every node must reach the same
// verdict on the same signature, whether it checked it alone or in a batch
// of any composition, because a node may reuse the verdict it reached on
// admission when it executes a block. So the rule is one deterministic
// equation per signature, and the batch check is a faster way to evaluate
// the same rule (see docs/adr/005-signature-rule.md):
//
// - the key A and the nonce point R are canonical encodings of curve
//   points that are not of small order, and the scalar s is canonical;
// - [8]([s]B - R - [k]A) is the identity, with k = SHA-512(R || A || M).
//
// The cofactored equation is what makes batching agree: a batch sums the
// per-signature equations with random 128-bit weights and multiplies by the
// cofactor, so any torsion a crafted signature carries is cleared in both
// the single and the batch check. Honest ed25519 signatures satisfy it.

/// A decoded signature check: the points and scalars of the equation.
struct Check {
    a: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// Whether 32 bytes encode a field element below p = 2^255 - 19 (the sign
/// bit aside): the only encodings a point may have.
fn canonical_y(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    !(top == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[0] >= 0xed)
}

fn point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !canonical_y(bytes) {
        return None;
    }
    let p = CompressedEdwardsY(*bytes).decompress()?;
    (!p.is_small_order()).then_some(p)
}

/// Decompressed public keys, so a sender that signs often costs one
/// decompression instead of one per signature. Decompressing a point is
/// about as much work as the rest of a batched check of its signature.
///
/// It holds only keys that pass [`point`]'s checks, and the verdicts with a
/// cache are exactly those without one. Bounded: the oldest key is
/// forgotten first once [`KEY_CACHE_CAPACITY`] are held.
#[derive(Debug, Default)]
pub struct KeyCache {
    points: std::collections::BTreeMap<[u8; 32], EdwardsPoint>,
    order: std::collections::VecDeque<[u8; 32]>,
}

/// Keys a [`KeyCache`] holds at most.
pub const KEY_CACHE_CAPACITY: usize = 65_536;

impl KeyCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The key's point, decompressed once; `None` for a key no signature
    /// can be valid under.
    fn point(&mut self, key: &PublicKey) -> Option<EdwardsPoint> {
        if let Some(p) = self.points.get(&key.0) {
            return Some(*p);
        }
        let p = point(&key.0)?;
        self.points.insert(key.0, p);
        self.order.push_back(key.0);
        while self.order.len() > KEY_CACHE_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.points.remove(&old);
            }
        }
        Some(p)
    }
}

fn check(key: &PublicKey, message: &[u8], sig: &Signature) -> Option<Check> {
    check_with(point(&key.0)?, key, message, sig)
}

fn check_with(a: EdwardsPoint, key: &PublicKey, message: &[u8], sig: &Signature) -> Option<Check> {
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&sig.0[..32]);
    let r = point(&r_bytes)?;
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&sig.0[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))?;
    let digest: [u8; 64] = Sha512::new()
        .chain_update(r_bytes)
        .chain_update(key.0)
        .chain_update(message)
        .finalize()
        .into();
    let k = Scalar::from_bytes_mod_order_wide(&digest);
    Some(Check { a, r, s, k })
}

impl Check {
    fn holds(&self) -> bool {
        // [k](-A) + [s]B - R, times the cofactor.
        let sb_minus_ka =
            EdwardsPoint::vartime_double_scalar_mul_basepoint(&self.k, &-self.a, &self.s);
        (sb_minus_ka - self.r).mul_by_cofactor().is_identity()
    }
}

/// Whether `key` is a point some signature can be valid under: a canonical
/// encoding of a curve point that is not of small order.
pub fn is_usable_key(key: &PublicKey) -> bool {
    point(&key.0).is_some()
}

/// Checks one signature under the rule above.
pub fn verify(key: &PublicKey, message: &[u8], sig: &Signature) -> bool {
    check(key, message, sig).is_some_and(|c| c.holds())
}

/// Checks many signatures at once, about 2.6 times faster per signature than
/// one at a time, and always with the verdicts [`verify`] gives each item
/// alone. When the batch as a whole fails, each item is checked alone to
/// find the bad ones, so a single bad signature never condemns its
/// neighbours.
pub fn verify_batch(items: &[(&PublicKey, &[u8], &Signature)]) -> Vec<bool> {
    let checks: Vec<Option<Check>> = items.iter().map(|(k, m, s)| check(k, m, s)).collect();
    verify_checks(items, checks)
}

/// [`verify_batch`], taking the signers' points from `keys` (and adding the
/// new ones). The verdicts are the same.
pub fn verify_batch_with_keys(
    items: &[(&PublicKey, &[u8], &Signature)],
    keys: &mut KeyCache,
) -> Vec<bool> {
    let checks: Vec<Option<Check>> = items
        .iter()
        .map(|(k, m, s)| check_with(keys.point(k)?, k, m, s))
        .collect();
    verify_checks(items, checks)
}

fn verify_checks(
    items: &[(&PublicKey, &[u8], &Signature)],
    checks: Vec<Option<Check>>,
) -> Vec<bool> {
    if items.is_empty() {
        return Vec::new();
    }
    if items.len() == 1 || checks.iter().any(Option::is_none) {
        return checks
            .iter()
            .map(|c| c.as_ref().is_some_and(Check::holds))
            .collect();
    }
    let checks: Vec<&Check> = checks.iter().flatten().collect();
    // Weights derived from every input, so they are fixed by the batch and
    // unknown to whoever made it.
    let mut transcript = Sha512::new().chain_update(b"merit/ed25519-batch/v1");
    for (c, (_, _, sig)) in checks.iter().zip(items) {
        transcript.update(c.k.as_bytes());
        transcript.update(sig.0);
    }
    let seed: [u8; 64] = transcript.finalize().into();
    let weights: Vec<Scalar> = (0..checks.len() as u64)
        .map(|i| {
            let h: [u8; 64] = Sha512::new()
                .chain_update(seed)
                .chain_update(i.to_le_bytes())
                .finalize()
                .into();
            let mut w = [0u8; 32];
            w[..16].copy_from_slice(&h[..16]);
            Scalar::from_bytes_mod_order(w)
        })
        .collect();
    // sum z_i ([s_i]B - R_i - [k_i]A_i) = [sum z_i s_i]B - sum [z_i]R_i - sum [z_i k_i]A_i
    let b_coefficient: Scalar = checks.iter().zip(&weights).map(|(c, z)| z * c.s).sum();
    let scalars = std::iter::once(b_coefficient)
        .chain(weights.iter().map(|z| -z))
        .chain(checks.iter().zip(&weights).map(|(c, z)| -(z * c.k)));
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(checks.iter().map(|c| c.r))
        .chain(checks.iter().map(|c| c.a));
    let sum = EdwardsPoint::vartime_multiscalar_mul(scalars, points);
    if sum.mul_by_cofactor().is_identity() {
        return vec![true; items.len()];
    }
    checks.iter().map(|c| c.holds()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input_is_the_standard_digest() {
        assert_eq!(
            sha256(b"").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(sha256(b"ab"), sha256_parts(&[b"a", b"b"]));
    }

    #[test]
    fn a_signature_verifies_only_for_its_key_and_message() {
        let k = Keypair::insecure_from_label("alice");
        let other = Keypair::insecure_from_label("bob");
        let sig = k.sign(b"pay 5");
        assert!(verify(&k.public(), b"pay 5", &sig));
        assert!(!verify(&k.public(), b"pay 6", &sig));
        assert!(!verify(&other.public(), b"pay 5", &sig));
        assert!(
            !verify(&PublicKey([0; 32]), b"pay 5", &sig),
            "weak key must not verify"
        );
    }

    #[test]
    fn batch_verification_isolates_the_bad_signature() {
        let keys: Vec<Keypair> = (0..8)
            .map(|i| Keypair::insecure_from_label(&format!("k{i}")))
            .collect();
        let msgs: Vec<Vec<u8>> = (0..8).map(|i| vec![i as u8; 10]).collect();
        let mut sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        let pubs: Vec<PublicKey> = keys.iter().map(Keypair::public).collect();
        let items = |sigs: &[Signature]| -> Vec<bool> {
            let v: Vec<_> = (0..8)
                .map(|i| (&pubs[i], msgs[i].as_slice(), &sigs[i]))
                .collect();
            verify_batch(&v)
        };
        assert_eq!(items(&sigs), vec![true; 8]);
        sigs[3].0[0] ^= 1;
        let verdicts = items(&sigs);
        assert_eq!(verdicts.iter().filter(|v| !**v).count(), 1);
        assert!(!verdicts[3]);
    }

    /// A signature whose nonce point carries a torsion component of order
    /// 8: it fails the cofactorless equation but holds under the cofactored
    /// one, the case where batch and single checks of other rules disagree.
    fn torsion_signature(seed_label: &str, message: &[u8]) -> (PublicKey, Signature) {
        use curve25519_dalek::constants::EIGHT_TORSION;
        let k = Keypair::insecure_from_label(seed_label);
        let h: [u8; 64] = Sha512::digest(k.seed()).into();
        let mut a_bytes = [0u8; 32];
        a_bytes.copy_from_slice(&h[..32]);
        a_bytes[0] &= 248;
        a_bytes[31] &= 127;
        a_bytes[31] |= 64;
        let a = Scalar::from_bytes_mod_order(a_bytes);
        let r = Scalar::from_bytes_mod_order([7u8; 32]);
        let big_r = (ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[1]).compress();
        let digest: [u8; 64] = Sha512::new()
            .chain_update(big_r.as_bytes())
            .chain_update(k.public().0)
            .chain_update(message)
            .finalize()
            .into();
        let kk = Scalar::from_bytes_mod_order_wide(&digest);
        let s = r + kk * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(big_r.as_bytes());
        sig[32..].copy_from_slice(s.as_bytes());
        (k.public(), Signature(sig))
    }

    #[test]
    fn a_torsion_carrying_signature_gets_one_verdict_in_every_batch() {
        let (key, sig) = torsion_signature("mallory", b"crafted");
        // The cofactorless check of other libraries rejects it ...
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&key.0).unwrap();
        assert!(
            ed25519_dalek::Verifier::verify(
                &vk,
                b"crafted",
                &ed25519_dalek::Signature::from_bytes(&sig.0)
            )
            .is_err()
        );
        // ... the rule here accepts it, alone and in any batch.
        assert!(verify(&key, b"crafted", &sig));
        let honest: Vec<(PublicKey, Vec<u8>, Signature)> = (0..20)
            .map(|i| {
                let k = Keypair::insecure_from_label(&format!("h{i}"));
                let m = vec![i as u8; 5];
                let s = k.sign(&m);
                (k.public(), m, s)
            })
            .collect();
        for n in 0..honest.len() {
            let mut items: Vec<(&PublicKey, &[u8], &Signature)> = honest[..n]
                .iter()
                .map(|(k, m, s)| (k, m.as_slice(), s))
                .collect();
            items.insert(n / 2, (&key, b"crafted", &sig));
            assert_eq!(
                verify_batch(&items),
                vec![true; n + 1],
                "batch of {}",
                n + 1
            );
        }
    }

    #[test]
    fn batch_verdicts_equal_single_verdicts_for_every_kind_of_bad_signature() {
        let k = Keypair::insecure_from_label("k");
        let good = k.sign(b"m");
        let mut tampered = good;
        tampered.0[40] ^= 1;
        // s + l: the same scalar, not canonically encoded.
        let mut big_s = good;
        // l = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (byte, l_byte) in big_s.0[32..].iter_mut().zip(l) {
            let v = u16::from(*byte) + u16::from(l_byte) + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        let identity = PublicKey({
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        });
        // y = p (non-canonical encoding of y = 0).
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xed;
        non_canonical[31] = 0x7f;
        let non_canonical = PublicKey(non_canonical);
        let (tk, ts) = torsion_signature("t", b"m");
        let cases: Vec<(PublicKey, Signature, bool)> = vec![
            (k.public(), good, true),
            (k.public(), tampered, false),
            (k.public(), big_s, false),
            (identity, good, false),
            (non_canonical, good, false),
            (PublicKey([0xee; 32]), good, false),
            (tk, ts, true),
        ];
        for (key, sig, want) in &cases {
            assert_eq!(verify(key, b"m", sig), *want, "{key:?}");
        }
        // Every pair and the whole list agree with the single verdicts.
        for i in 0..cases.len() {
            for j in 0..cases.len() {
                let items = [
                    (&cases[i].0, b"m".as_slice(), &cases[i].1),
                    (&cases[j].0, b"m".as_slice(), &cases[j].1),
                ];
                assert_eq!(verify_batch(&items), vec![cases[i].2, cases[j].2]);
            }
        }
        let all: Vec<_> = cases
            .iter()
            .map(|(k, s, _)| (k, b"m".as_slice(), s))
            .collect();
        let want: Vec<bool> = cases.iter().map(|c| c.2).collect();
        assert_eq!(verify_batch(&all), want);
    }

    #[test]
    fn a_key_cache_changes_no_verdict() {
        let k = Keypair::insecure_from_label("k");
        let other = Keypair::insecure_from_label("other");
        let good = k.sign(b"m");
        let mut tampered = good;
        tampered.0[40] ^= 1;
        let (tk, ts) = torsion_signature("t", b"m");
        let identity = PublicKey({
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        });
        let cases = [
            (k.public(), good),
            (k.public(), tampered),
            (other.public(), good),
            (identity, good),
            (PublicKey([0xee; 32]), good),
            (tk, ts),
        ];
        let items: Vec<_> = cases.iter().map(|(k, s)| (k, b"m".as_slice(), s)).collect();
        let mut keys = KeyCache::new();
        let want = verify_batch(&items);
        assert_eq!(want, vec![true, false, false, false, false, true]);
        // Cold, then warm: the same verdicts, and only keys that are points
        // of large order are kept (all but the identity).
        assert_eq!(verify_batch_with_keys(&items, &mut keys), want);
        assert_eq!(keys.len(), 4);
        assert!(!keys.points.contains_key(&identity.0));
        assert_eq!(verify_batch_with_keys(&items, &mut keys), want);
        for item in &items {
            assert_eq!(
                verify_batch_with_keys(std::slice::from_ref(item), &mut keys),
                verify_batch(std::slice::from_ref(item))
            );
        }
    }

    #[test]
    fn hash_hex_round_trips_and_rejects_garbage() {
        let h = sha256(b"x");
        assert_eq!(Hash32::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(Hash32::from_hex(&format!("0x{}", h.to_hex())), Ok(h));
        assert!(Hash32::from_hex("zz").is_err());
        assert!(Hash32::from_hex(&h.to_hex()[..62]).is_err());
    }
}

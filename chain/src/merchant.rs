//! The signed merchant record: the public part of a merchant, signed by
//! every key it names.
//!
//! A merchant makes its keys on its own machine and hands the alliance only
//! this record: its name, its account (the key that issues its tokens) and,
//! if it runs a validator, the validator key, the p2p key its node is known
//! by on the network and the address peers dial. Each key signs the record
//! as proof of possession, so nobody can name in a record a key they do not
//! hold, and no field can change after signing without every proof failing.
//!
//! The signed bytes are `MERCHANT_SIGNING_DOMAIN ‖ 0 ‖ record` (see
//! [`MerchantRecord::signing_bytes`]). The domain differs from the
//! consensus domain and cannot begin a transaction (whose first byte is the
//! length of a chain id, at most 32), so a proof can never be replayed as a
//! vote or a transaction. The genesis file carries the records, and
//! governance's `AddMerchant` and `RotateValidatorKey` will carry them in
//! transactions: the record encodes canonically, with bounded types.

use crate::crypto::{self, Address, Keypair, PublicKey, Signature};
use crate::encoding::{self, BoundedString, Decode, DecodeError, Encode};
use crate::limits::{MAX_MERCHANT_NAME_BYTES, MAX_P2P_ADDRESS_BYTES};
use crate::tx::field;

/// The prefix of the bytes every key of a merchant record signs.
pub const MERCHANT_SIGNING_DOMAIN: &[u8] = b"merit/merchant/v1";

/// Largest encoded [`SignedMerchant`]. The largest legal one is about 700
/// bytes: a 64-byte name, four keys, a 256-byte address and three proofs.
pub const MAX_SIGNED_MERCHANT_BYTES: usize = 1024;

/// A merchant's display name.
pub type MerchantName = BoundedString<MAX_MERCHANT_NAME_BYTES, field::Name>;

/// A validator's p2p address: a multiaddr in text form, e.g.
/// `/ip4/203.0.113.7/tcp/26601`.
pub type P2pAddressText = BoundedString<MAX_P2P_ADDRESS_BYTES, field::P2pAddress>;

/// What a merchant that runs a validator adds to its record.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ValidatorRecord {
    /// Signs consensus messages.
    pub key: PublicKey,
    /// The node's libp2p identity; its peer id derives from this key. A key
    /// of its own, so the validator key can be rotated without changing
    /// the peer identity (ADR 008).
    pub p2p_key: PublicKey,
    /// Where the validator listens for peers.
    pub p2p_address: P2pAddressText,
}

/// The public part of a merchant.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct MerchantRecord {
    pub name: MerchantName,
    /// Owns the merchant's points and issues its tokens.
    pub account: Address,
    /// `None` for a merchant that issues tokens without running a validator.
    pub validator: Option<ValidatorRecord>,
}

/// One signature per key the record names, each over
/// [`MerchantRecord::signing_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct MerchantProofs {
    pub account: Option<Signature>,
    pub validator_key: Option<Signature>,
    pub p2p_key: Option<Signature>,
}

/// A merchant record with its proofs of possession.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SignedMerchant {
    pub record: MerchantRecord,
    pub proofs: MerchantProofs,
}

/// Which of a record's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyRole {
    Account,
    Validator,
    P2p,
}

impl KeyRole {
    /// The name of the key's field in the record's JSON form.
    pub fn field(self) -> &'static str {
        match self {
            KeyRole::Account => "account",
            KeyRole::Validator => "validator_key",
            KeyRole::P2p => "p2p_key",
        }
    }
}

impl std::fmt::Display for KeyRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyRole::Account => "account key",
            KeyRole::Validator => "validator key",
            KeyRole::P2p => "p2p key",
        })
    }
}

/// Why a signed merchant record is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the name must not be empty")]
    EmptyName,
    #[error("the name must not start or end with whitespace")]
    NameWhitespace,
    #[error("the name contains the control character {0:?}")]
    NameControl(char),
    #[error("the p2p address must not be empty")]
    EmptyP2pAddress,
    #[error("the p2p address contains {0:?}; a multiaddr is printable ASCII without spaces")]
    P2pAddressCharacter(char),
    #[error("the {role} {key} is not a usable ed25519 public key")]
    UnusableKey { role: KeyRole, key: PublicKey },
    #[error("the {role} and the {other} are the same key {key}; every key must be distinct")]
    DuplicateKey {
        role: KeyRole,
        other: KeyRole,
        key: PublicKey,
    },
    #[error("the proof of possession of the {role} is missing")]
    MissingProof { role: KeyRole },
    #[error("there is a proof for a {role}, but the record names none")]
    UnexpectedProof { role: KeyRole },
    #[error(
        "the proof of possession of the {role} {key} is forged: it is not that key's signature of this record"
    )]
    ForgedProof { role: KeyRole, key: PublicKey },
    #[error(
        "no proof of possession matches the record: a field was changed after it was signed (or every proof is forged)"
    )]
    ChangedAfterSigning,
}

impl RecordError {
    /// The key the error is about, if it is about one key.
    pub fn role(&self) -> Option<KeyRole> {
        match self {
            RecordError::UnusableKey { role, .. }
            | RecordError::DuplicateKey { role, .. }
            | RecordError::MissingProof { role }
            | RecordError::UnexpectedProof { role }
            | RecordError::ForgedProof { role, .. } => Some(*role),
            _ => None,
        }
    }
}

/// Checks a merchant's display name: not blank, no control characters, no
/// outer whitespace. Its length is bounded by [`MerchantName`].
pub fn check_name(name: &str) -> Result<(), RecordError> {
    if name.trim().is_empty() {
        return Err(RecordError::EmptyName);
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(RecordError::NameControl(c));
    }
    if name.trim() != name {
        return Err(RecordError::NameWhitespace);
    }
    Ok(())
}

/// Checks the characters of a p2p address. Its syntax as a multiaddr is
/// checked where it is used.
pub fn check_p2p_address(address: &str) -> Result<(), RecordError> {
    if address.is_empty() {
        return Err(RecordError::EmptyP2pAddress);
    }
    match address.chars().find(|c| !c.is_ascii_graphic()) {
        Some(c) => Err(RecordError::P2pAddressCharacter(c)),
        None => Ok(()),
    }
}

impl MerchantRecord {
    /// The exact bytes every key of the record signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MERCHANT_SIGNING_DOMAIN.len() + 512);
        out.extend_from_slice(MERCHANT_SIGNING_DOMAIN);
        out.push(0);
        encoding::encode_into(self, &mut out);
        out
    }

    /// The keys the record names, account first.
    pub fn keys(&self) -> Vec<(KeyRole, PublicKey)> {
        let mut keys = vec![(KeyRole::Account, self.account)];
        if let Some(v) = &self.validator {
            keys.push((KeyRole::Validator, v.key));
            keys.push((KeyRole::P2p, v.p2p_key));
        }
        keys
    }

    /// Signs the record with the given keys. A proof is made for each key
    /// given, whichever key the record names: [`SignedMerchant::verify`]
    /// judges the result.
    pub fn sign(
        self,
        account: &Keypair,
        validator_key: Option<&Keypair>,
        p2p_key: Option<&Keypair>,
    ) -> SignedMerchant {
        let bytes = self.signing_bytes();
        let proofs = MerchantProofs {
            account: Some(account.sign(&bytes)),
            validator_key: validator_key.map(|k| k.sign(&bytes)),
            p2p_key: p2p_key.map(|k| k.sign(&bytes)),
        };
        SignedMerchant {
            record: self,
            proofs,
        }
    }
}

impl MerchantProofs {
    fn get(&self, role: KeyRole) -> Option<&Signature> {
        match role {
            KeyRole::Account => self.account.as_ref(),
            KeyRole::Validator => self.validator_key.as_ref(),
            KeyRole::P2p => self.p2p_key.as_ref(),
        }
    }
}

impl SignedMerchant {
    /// Checks the record and every proof of possession, naming the first
    /// thing that is wrong.
    pub fn verify(&self) -> Result<(), RecordError> {
        let record = &self.record;
        check_name(&record.name)?;
        if let Some(v) = &record.validator {
            check_p2p_address(&v.p2p_address)?;
        }
        let keys = record.keys();
        for (i, (role, key)) in keys.iter().enumerate() {
            if !crypto::is_usable_key(key) {
                return Err(RecordError::UnusableKey {
                    role: *role,
                    key: *key,
                });
            }
            if let Some((other, _)) = keys[..i].iter().find(|(_, k)| k == key) {
                return Err(RecordError::DuplicateKey {
                    role: *role,
                    other: *other,
                    key: *key,
                });
            }
        }
        for role in [KeyRole::Account, KeyRole::Validator, KeyRole::P2p] {
            let named = keys.iter().any(|(r, _)| *r == role);
            match (named, self.proofs.get(role).is_some()) {
                (true, false) => return Err(RecordError::MissingProof { role }),
                (false, true) => return Err(RecordError::UnexpectedProof { role }),
                _ => {}
            }
        }
        let bytes = record.signing_bytes();
        let forged: Vec<(KeyRole, PublicKey)> = keys
            .iter()
            .filter(|(role, key)| {
                self.proofs
                    .get(*role)
                    .is_none_or(|sig| !crypto::verify(key, &bytes, sig))
            })
            .copied()
            .collect();
        match forged.first() {
            None => Ok(()),
            Some(_) if forged.len() == keys.len() => Err(RecordError::ChangedAfterSigning),
            Some((role, key)) => Err(RecordError::ForgedProof {
                role: *role,
                key: *key,
            }),
        }
    }

    /// The canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes at most [`MAX_SIGNED_MERCHANT_BYTES`]. Decoding checks the
    /// form only; [`SignedMerchant::verify`] checks the content.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode(bytes, MAX_SIGNED_MERCHANT_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(label: &str) -> Keypair {
        Keypair::insecure_from_label(&format!("merchant-test/{label}"))
    }

    fn record(validator: bool) -> MerchantRecord {
        MerchantRecord {
            name: MerchantName::new("Bean Counter Coffee").unwrap(),
            account: key("account").public(),
            validator: validator.then(|| ValidatorRecord {
                key: key("validator").public(),
                p2p_key: key("p2p").public(),
                p2p_address: P2pAddressText::new("/ip4/127.0.0.1/tcp/26601").unwrap(),
            }),
        }
    }

    fn signed(validator: bool) -> SignedMerchant {
        let (v, p) = (key("validator"), key("p2p"));
        record(validator).sign(
            &key("account"),
            validator.then_some(&v),
            validator.then_some(&p),
        )
    }

    #[test]
    fn a_record_signed_by_its_own_keys_verifies() {
        signed(true).verify().unwrap();
        signed(false).verify().unwrap();
    }

    /// Every way to change one field after signing, each refused.
    #[test]
    fn every_single_field_change_after_signing_is_refused() {
        type Edit = Box<dyn Fn(&mut MerchantRecord)>;
        let other = key("other").public();
        let edits: Vec<(&str, Edit)> = vec![
            (
                "name",
                Box::new(|r| r.name = MerchantName::new("Bean Counter Coffee!").unwrap()),
            ),
            ("account", Box::new(move |r| r.account = other)),
            ("validator", Box::new(|r| r.validator = None)),
            (
                "validator.key",
                Box::new(move |r| r.validator.as_mut().unwrap().key = other),
            ),
            (
                "validator.p2p_key",
                Box::new(move |r| r.validator.as_mut().unwrap().p2p_key = other),
            ),
            (
                "validator.p2p_address",
                Box::new(|r| {
                    r.validator.as_mut().unwrap().p2p_address =
                        P2pAddressText::new("/ip4/127.0.0.1/tcp/26602").unwrap()
                }),
            ),
        ];
        for (what, edit) in edits {
            let mut s = signed(true);
            edit(&mut s.record);
            let err = s.verify().expect_err(what);
            if what == "validator" {
                // The proofs of keys the record no longer names are extra.
                assert_eq!(
                    err,
                    RecordError::UnexpectedProof {
                        role: KeyRole::Validator
                    },
                    "{what}"
                );
                s.proofs.validator_key = None;
                s.proofs.p2p_key = None;
                assert_eq!(
                    s.verify().unwrap_err(),
                    RecordError::ChangedAfterSigning,
                    "{what}"
                );
                continue;
            }
            assert_eq!(err, RecordError::ChangedAfterSigning, "{what}");
        }
        // Adding a validator to an issuer-only record after signing.
        let mut s = signed(false);
        s.record.validator = record(true).validator;
        assert_eq!(
            s.verify().unwrap_err(),
            RecordError::MissingProof {
                role: KeyRole::Validator
            }
        );
    }

    #[test]
    fn a_changed_field_fails_every_proof_and_says_so() {
        let mut s = signed(true);
        s.record.name = MerchantName::new("Someone Else").unwrap();
        let err = s.verify().unwrap_err();
        assert_eq!(err, RecordError::ChangedAfterSigning);
        assert!(
            err.to_string().contains("changed after it was signed"),
            "{err}"
        );
    }

    #[test]
    fn a_forged_proof_is_named_by_its_key() {
        // Someone names a validator key they do not hold: they can sign with
        // the account and p2p keys, but not with the validator key.
        let mut s = signed(true);
        let victim = key("victim-validator").public();
        s.record.validator.as_mut().unwrap().key = victim;
        let resigned =
            s.record
                .clone()
                .sign(&key("account"), Some(&key("validator")), Some(&key("p2p")));
        assert_eq!(
            resigned.verify().unwrap_err(),
            RecordError::ForgedProof {
                role: KeyRole::Validator,
                key: victim
            }
        );
        // A proof of the right key over other bytes is forged too.
        let mut s = signed(true);
        s.proofs.p2p_key = Some(key("p2p").sign(b"something else"));
        let err = s.verify().unwrap_err();
        assert_eq!(
            err,
            RecordError::ForgedProof {
                role: KeyRole::P2p,
                key: key("p2p").public()
            }
        );
        assert!(err.to_string().contains("p2p key"), "{err}");
    }

    #[test]
    fn missing_and_unexpected_proofs_are_refused() {
        for role in [KeyRole::Account, KeyRole::Validator, KeyRole::P2p] {
            let mut s = signed(true);
            match role {
                KeyRole::Account => s.proofs.account = None,
                KeyRole::Validator => s.proofs.validator_key = None,
                KeyRole::P2p => s.proofs.p2p_key = None,
            }
            assert_eq!(s.verify().unwrap_err(), RecordError::MissingProof { role });
        }
        let mut s = signed(false);
        s.proofs.p2p_key = Some(key("p2p").sign(&s.record.signing_bytes()));
        assert_eq!(
            s.verify().unwrap_err(),
            RecordError::UnexpectedProof { role: KeyRole::P2p }
        );
    }

    #[test]
    fn keys_must_be_usable_and_distinct() {
        let mut r = record(true);
        r.validator.as_mut().unwrap().p2p_key = r.account;
        let a = key("account");
        let err = r.sign(&a, Some(&key("validator")), Some(&a)).verify();
        assert_eq!(
            err.unwrap_err(),
            RecordError::DuplicateKey {
                role: KeyRole::P2p,
                other: KeyRole::Account,
                key: a.public()
            }
        );
        let mut r = record(false);
        r.account = PublicKey::ZERO;
        let err = r.sign(&a, None, None).verify().unwrap_err();
        assert!(
            matches!(
                err,
                RecordError::UnusableKey {
                    role: KeyRole::Account,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn names_and_addresses_are_checked() {
        for (name, want) in [
            ("  ", RecordError::EmptyName),
            (" Shop", RecordError::NameWhitespace),
            ("Shop\n", RecordError::NameControl('\n')),
        ] {
            let mut r = record(false);
            r.name = MerchantName::new(name).unwrap();
            assert_eq!(r.sign(&key("account"), None, None).verify(), Err(want));
        }
        let mut r = record(true);
        r.validator.as_mut().unwrap().p2p_address =
            P2pAddressText::new("/ip4/1.2.3.4 /tcp/1").unwrap();
        assert_eq!(
            r.sign(&key("account"), Some(&key("validator")), Some(&key("p2p")))
                .verify(),
            Err(RecordError::P2pAddressCharacter(' '))
        );
    }

    #[test]
    fn the_signing_bytes_are_domain_separated() {
        let bytes = record(true).signing_bytes();
        assert!(bytes.starts_with(b"merit/merchant/v1\0"));
        // Not a transaction: those begin with a chain id's length, at most 32.
        assert!(bytes[0] > crate::limits::MAX_CHAIN_ID_BYTES as u8);
        assert!(!bytes.starts_with(crate::consensus::SIGNING_DOMAIN));
    }

    #[test]
    fn decoding_round_trips_and_refuses_oversized_input() {
        let s = signed(true);
        let bytes = s.to_bytes();
        assert!(bytes.len() <= MAX_SIGNED_MERCHANT_BYTES);
        assert_eq!(SignedMerchant::from_bytes(&bytes).unwrap(), s);
        let mut long = bytes.clone();
        long.resize(MAX_SIGNED_MERCHANT_BYTES + 1, 0);
        assert!(matches!(
            SignedMerchant::from_bytes(&long),
            Err(DecodeError::TooLarge { .. })
        ));
        // The largest legal record fits the bound.
        let mut big = record(true);
        big.name = MerchantName::new("x".repeat(MAX_MERCHANT_NAME_BYTES)).unwrap();
        big.validator.as_mut().unwrap().p2p_address =
            P2pAddressText::new("/".repeat(MAX_P2P_ADDRESS_BYTES)).unwrap();
        let big = big.sign(&key("account"), Some(&key("validator")), Some(&key("p2p")));
        assert!(big.to_bytes().len() <= MAX_SIGNED_MERCHANT_BYTES);
    }
}

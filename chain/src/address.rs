//! Addresses as people see them: bech32m with the prefix `mrt`.

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};

use crate::crypto::PublicKey;

/// The human-readable part of every Merit address.
pub const ADDRESS_HRP: &str = "mrt";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("not a bech32m string: {0}")]
    Bech32(String),
    #[error("address prefix is `{0}`, expected `mrt`")]
    WrongPrefix(String),
    #[error("address holds {0} bytes, expected 32")]
    WrongLength(usize),
}

impl PublicKey {
    /// The `mrt1…` form of this key.
    pub fn to_bech32(&self) -> String {
        let hrp = Hrp::parse_unchecked(ADDRESS_HRP);
        // 32 bytes under a 3-letter prefix is far below bech32m's length limit.
        #[allow(clippy::expect_used)]
        bech32::encode::<Bech32m>(hrp, &self.0).expect("a 32-byte address always encodes")
    }

    /// Parses an `mrt1…` address. Only bech32m checksums are accepted.
    pub fn from_bech32(s: &str) -> Result<Self, AddressError> {
        let checked =
            CheckedHrpstring::new::<Bech32m>(s).map_err(|e| AddressError::Bech32(e.to_string()))?;
        // Bech32 allows an all-uppercase string (QR codes use it); the
        // checksum already refused mixed case.
        if !checked.hrp().as_str().eq_ignore_ascii_case(ADDRESS_HRP) {
            return Err(AddressError::WrongPrefix(checked.hrp().to_string()));
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| AddressError::WrongLength(bytes.len()))?;
        Ok(PublicKey(arr))
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_bech32())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.to_bech32();
        write!(f, "{}…{}", &s[..8], &s[s.len() - 4..])
    }
}

impl std::str::FromStr for PublicKey {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_bech32(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keypair;

    #[test]
    fn address_round_trips_through_bech32m() {
        let pk = Keypair::insecure_from_label("alice").public();
        let s = pk.to_bech32();
        assert!(s.starts_with("mrt1"), "{s}");
        assert_eq!(PublicKey::from_bech32(&s), Ok(pk));
        // All uppercase is the same address; mixed case is refused.
        assert_eq!(PublicKey::from_bech32(&s.to_uppercase()), Ok(pk));
        let mixed = format!("MRT{}", &s[3..]);
        assert!(matches!(
            PublicKey::from_bech32(&mixed),
            Err(AddressError::Bech32(_))
        ));
    }

    #[test]
    fn bad_addresses_are_rejected_with_a_reason() {
        let pk = Keypair::insecure_from_label("alice").public();
        let s = pk.to_bech32();
        // A flipped character breaks the checksum.
        let mut chars: Vec<char> = s.chars().collect();
        let i = chars.len() - 3;
        chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
        let flipped: String = chars.into_iter().collect();
        assert!(matches!(
            PublicKey::from_bech32(&flipped),
            Err(AddressError::Bech32(_))
        ));
        // Another prefix.
        let other = bech32::encode::<Bech32m>(Hrp::parse("btc").unwrap(), &pk.0).unwrap();
        assert_eq!(
            PublicKey::from_bech32(&other),
            Err(AddressError::WrongPrefix("btc".into()))
        );
        // The bech32 (not bech32m) checksum.
        let legacy = bech32::encode::<bech32::Bech32>(Hrp::parse("mrt").unwrap(), &pk.0).unwrap();
        assert!(PublicKey::from_bech32(&legacy).is_err());
        // Wrong length.
        let short = bech32::encode::<Bech32m>(Hrp::parse("mrt").unwrap(), &pk.0[..20]).unwrap();
        assert_eq!(
            PublicKey::from_bech32(&short),
            Err(AddressError::WrongLength(20))
        );
    }
}

//! The one place that knows the canonical byte format.
//!
//! Everything that is hashed, signed, stored or sent is encoded here with
//! bincode 2 in a fixed configuration: little-endian, fixed-width integers.
//! Decoding always takes an explicit byte limit and rejects trailing bytes, so
//! one value has exactly one encoding. Golden tests pin the bytes.

use bincode::config::{Configuration, Fixint, LittleEndian, NoLimit};

pub use bincode::{Decode, Encode};

/// Errors from decoding untrusted bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("input is {len} bytes, over the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("{trailing} trailing bytes after the value")]
    TrailingBytes { trailing: usize },
    #[error("malformed encoding: {0}")]
    Malformed(String),
}

const CONFIG: Configuration<LittleEndian, Fixint, NoLimit> = bincode::config::standard()
    .with_little_endian()
    .with_fixed_int_encoding();

/// Most memory one decode may claim.
const DECODE_MEMORY_LIMIT: usize = 64 * 1024 * 1024;

/// Canonical bytes of `value`.
pub fn encode<T: Encode>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    encode_into(value, &mut out);
    out
}

/// Appends the canonical bytes of `value` to `out`.
pub fn encode_into<T: Encode>(value: &T, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail, and every Merit type encodes infallibly.
    #[allow(clippy::expect_used)]
    bincode::encode_into_std_write(value, out, CONFIG).expect("encoding into a Vec is infallible");
}

/// Decodes exactly one `T` from `bytes`, which must not exceed `limit` bytes.
pub fn decode<T: Decode<()>>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    // Every sequence in a Merit type is a `BoundedVec` or `BoundedString`,
    // which checks its declared length before allocating; the memory limit
    // below is a second line of defence.
    let config = CONFIG.with_limit::<DECODE_MEMORY_LIMIT>();
    let (value, used) = bincode::decode_from_slice::<T, _>(bytes, config)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            trailing: bytes.len() - used,
        });
    }
    Ok(value)
}

/// A `Vec` whose decoder refuses more than `N` elements before allocating.
/// Encoded exactly like a `Vec`: a `u64` length, then the elements.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BoundedVec<T, const N: usize>(Vec<T>);

impl<T, const N: usize> Default for BoundedVec<T, N> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T, const N: usize> BoundedVec<T, N> {
    /// Wraps `items`, or gives them back if there are more than `N`.
    pub fn new(items: Vec<T>) -> Result<Self, Vec<T>> {
        if items.len() > N {
            Err(items)
        } else {
            Ok(Self(items))
        }
    }
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T, const N: usize> std::ops::Deref for BoundedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Encode, const N: usize> Encode for BoundedVec<T, N> {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        e: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        self.0.encode(e)
    }
}

fn decode_len<C, D: bincode::de::Decoder<Context = C>>(
    d: &mut D,
    max: usize,
) -> Result<usize, bincode::error::DecodeError> {
    let len = u64::decode(d)?;
    match usize::try_from(len) {
        Ok(len) if len <= max => Ok(len),
        _ => Err(bincode::error::DecodeError::OtherString(format!(
            "length {len} is over the limit of {max}"
        ))),
    }
}

impl<C, T: Decode<C>, const N: usize> Decode<C> for BoundedVec<T, N> {
    fn decode<D: bincode::de::Decoder<Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        let len = decode_len(d, N)?;
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(T::decode(d)?);
        }
        Ok(Self(items))
    }
}

impl<'de, C, T: Decode<C>, const N: usize> bincode::BorrowDecode<'de, C> for BoundedVec<T, N> {
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        <Self as Decode<C>>::decode(d)
    }
}

/// A UTF-8 string of at most `N` bytes, encoded exactly like a `String`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BoundedString<const N: usize>(String);

impl<const N: usize> BoundedString<N> {
    /// Wraps `s`, or gives it back if it is longer than `N` bytes.
    pub fn new(s: impl Into<String>) -> Result<Self, String> {
        let s = s.into();
        if s.len() > N { Err(s) } else { Ok(Self(s)) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const N: usize> std::ops::Deref for BoundedString<N> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const N: usize> std::fmt::Display for BoundedString<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const N: usize> Encode for BoundedString<N> {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        e: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        self.0.encode(e)
    }
}

impl<C, const N: usize> Decode<C> for BoundedString<N> {
    fn decode<D: bincode::de::Decoder<Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        use bincode::de::read::Reader;
        let len = decode_len(d, N)?;
        d.claim_bytes_read(len)?;
        let mut bytes = vec![0u8; len];
        d.reader().read(&mut bytes)?;
        String::from_utf8(bytes)
            .map(Self)
            .map_err(|e| bincode::error::DecodeError::Utf8 {
                inner: e.utf8_error(),
            })
    }
}

impl<'de, C, const N: usize> bincode::BorrowDecode<'de, C> for BoundedString<N> {
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        <Self as Decode<C>>::decode(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_vec_refuses_a_declared_length_over_its_bound_before_allocating() {
        // A length of u64::MAX followed by nothing must fail cleanly.
        let mut bytes = u64::MAX.to_le_bytes().to_vec();
        bytes.push(0);
        let err = decode::<BoundedVec<u8, 4>>(&bytes, 1024).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed(m) if m.contains("over the limit")));
        let ok: BoundedVec<u8, 4> = decode(&encode(&vec![1u8, 2, 3]), 1024).unwrap();
        assert_eq!(ok.as_slice(), &[1, 2, 3]);
        assert!(decode::<BoundedVec<u8, 2>>(&encode(&vec![1u8, 2, 3]), 1024).is_err());
    }

    #[test]
    fn bounded_string_matches_string_encoding_and_checks_utf8() {
        let s = BoundedString::<8>::new("hello").unwrap();
        assert_eq!(encode(&s), encode(&"hello".to_string()));
        assert!(decode::<BoundedString<4>>(&encode(&"hello".to_string()), 64).is_err());
        let mut bad = 2u64.to_le_bytes().to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        assert!(decode::<BoundedString<4>>(&bad, 64).is_err());
    }

    #[test]
    fn decode_rejects_trailing_bytes_and_oversized_input() {
        let mut bytes = encode(&7u64);
        bytes.push(0);
        assert_eq!(
            decode::<u64>(&bytes, 64),
            Err(DecodeError::TrailingBytes { trailing: 1 })
        );
        assert_eq!(
            decode::<u64>(&[0u8; 9], 8),
            Err(DecodeError::TooLarge { len: 9, limit: 8 })
        );
    }
}

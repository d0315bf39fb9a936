//! The one place that knows the canonical byte format.
//!
//! Everything that is hashed, signed, stored or sent is encoded here with
//! bincode 2 in a fixed configuration: little-endian, fixed-width integers.
//! Decoding always takes an explicit byte limit and rejects trailing bytes, so
//! one value has exactly one encoding. Golden tests pin the bytes.
//!
//! A decoding failure says why in words ([`DecodeError::reason`]). A
//! sequence over its bound names its field and the bound ("memo is 257
//! bytes, at most 256"): [`BoundedString`] and [`BoundedVec`] carry the
//! field's name in their type ([`FieldName`]), which changes nothing in
//! the bytes.

use std::marker::PhantomData;

use bincode::config::{Configuration, Fixint, LittleEndian, NoLimit};

pub use bincode::{Decode, Encode};

/// Errors from decoding untrusted bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("input is {len} bytes, over the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("{trailing} trailing bytes after the value")]
    TrailingBytes { trailing: usize },
    /// The bytes are not a value of the type; the reason says where they
    /// went wrong.
    #[error("malformed encoding: {0}")]
    Malformed(String),
}

impl DecodeError {
    /// Why the bytes were refused, in words, naming the field and the
    /// bound when a sequence is over its bound.
    pub fn reason(&self) -> String {
        match self {
            DecodeError::TooLarge { len, limit } => {
                format!("the input is {len} bytes, at most {limit}")
            }
            DecodeError::TrailingBytes { trailing } => {
                format!("{trailing} bytes follow the end of the value")
            }
            DecodeError::Malformed(reason) => reason.clone(),
        }
    }
}

/// The name of a field whose type bounds its length, as errors name it.
/// Only a name: it changes nothing in the encoding.
pub trait FieldName {
    /// The field's name as the protocol spells it (`memo`, `order_id`); empty
    /// for a value that is no named field.
    const NAME: &'static str;
    /// The bound an error names when the rule is tighter than what the
    /// decoder takes (a payment decodes up to 1,024 legs, but may have 50).
    const RULE: Option<usize> = None;
}

/// The [`FieldName`] of bounded values that are no field a user fills in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unnamed;

impl FieldName for Unnamed {
    const NAME: &'static str = "";
}

/// How an error names field `F`, or `unnamed` for no field.
fn field_name<F: FieldName>(unnamed: &'static str) -> &'static str {
    if F::NAME.is_empty() { unnamed } else { F::NAME }
}

/// A type's name without its module paths: `Option<Memo>`, not
/// `core::option::Option<merit_chain::tx::Memo>`.
fn without_paths(type_name: &str) -> String {
    let mut out = String::with_capacity(type_name.len());
    // Where the identifier being read began in `out`.
    let mut ident = 0;
    let mut chars = type_name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            out.truncate(ident);
        } else {
            out.push(c);
            if !(c.is_alphanumeric() || c == '_') {
                ident = out.len();
            }
        }
    }
    out
}

/// Words for a failure of bincode's, for people.
fn reason(e: bincode::error::DecodeError) -> String {
    use bincode::error::DecodeError as E;
    match e {
        E::OtherString(reason) => reason,
        E::Other(reason) => reason.to_string(),
        E::UnexpectedEnd { additional } => {
            format!("the input ends early: at least {additional} more bytes expected")
        }
        E::UnexpectedVariant {
            type_name, found, ..
        } => format!("{found} is not a tag of {}", without_paths(type_name)),
        E::Utf8 { .. } => "a string is not UTF-8".to_string(),
        E::InvalidBooleanValue(b) => format!("{b} is not a boolean (0 or 1)"),
        E::LimitExceeded => "the input claims more memory than decoding may take".to_string(),
        other => format!("malformed: {other:?}"),
    }
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
        .map_err(|e| DecodeError::Malformed(reason(e)))?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            trailing: bytes.len() - used,
        });
    }
    Ok(value)
}

/// A `Vec` whose decoder refuses more than `N` elements before allocating.
/// Encoded exactly like a `Vec`: a `u64` length, then the elements. `F`
/// names the field in errors.
pub struct BoundedVec<T, const N: usize, F = Unnamed>(Vec<T>, PhantomData<F>);

impl<T, const N: usize, F> Default for BoundedVec<T, N, F> {
    fn default() -> Self {
        Self(Vec::new(), PhantomData)
    }
}

impl<T: Clone, const N: usize, F> Clone for BoundedVec<T, N, F> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), PhantomData)
    }
}

impl<T: std::fmt::Debug, const N: usize, F> std::fmt::Debug for BoundedVec<T, N, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BoundedVec").field(&self.0).finish()
    }
}

impl<T: PartialEq, const N: usize, F> PartialEq for BoundedVec<T, N, F> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T: Eq, const N: usize, F> Eq for BoundedVec<T, N, F> {}

impl<T: PartialOrd, const N: usize, F> PartialOrd for BoundedVec<T, N, F> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.0.partial_cmp(&other.0)
    }
}

impl<T: Ord, const N: usize, F> Ord for BoundedVec<T, N, F> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl<T: std::hash::Hash, const N: usize, F> std::hash::Hash for BoundedVec<T, N, F> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<T, const N: usize, F> BoundedVec<T, N, F> {
    /// Wraps `items`, or gives them back if there are more than `N`.
    pub fn new(items: Vec<T>) -> Result<Self, Vec<T>> {
        if items.len() > N {
            Err(items)
        } else {
            Ok(Self(items, PhantomData))
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

impl<T, const N: usize, F> std::ops::Deref for BoundedVec<T, N, F> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Encode, const N: usize, F> Encode for BoundedVec<T, N, F> {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        e: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        self.0.encode(e)
    }
}

/// Reads a sequence's `u64` length and refuses one over `max` with
/// `over(len)`, the words that name the field and the bound.
fn decode_len<C, D: bincode::de::Decoder<Context = C>>(
    d: &mut D,
    max: usize,
    over: impl FnOnce(u64) -> String,
) -> Result<usize, bincode::error::DecodeError> {
    let len = u64::decode(d)?;
    match usize::try_from(len) {
        Ok(len) if len <= max => Ok(len),
        _ => Err(bincode::error::DecodeError::OtherString(over(len))),
    }
}

impl<C, T: Decode<C>, const N: usize, F: FieldName> Decode<C> for BoundedVec<T, N, F> {
    fn decode<D: bincode::de::Decoder<Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        let len = decode_len(d, N, |len| {
            let name = field_name::<F>("a list");
            let bound = F::RULE.unwrap_or(N);
            format!("{name} has {len} entries, at most {bound}")
        })?;
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(T::decode(d)?);
        }
        Ok(Self(items, PhantomData))
    }
}

impl<'de, C, T: Decode<C>, const N: usize, F: FieldName> bincode::BorrowDecode<'de, C>
    for BoundedVec<T, N, F>
{
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        <Self as Decode<C>>::decode(d)
    }
}

/// A UTF-8 string of at most `N` bytes, encoded exactly like a `String`.
/// `F` names the field in errors.
pub struct BoundedString<const N: usize, F = Unnamed>(String, PhantomData<F>);

impl<const N: usize, F> Default for BoundedString<N, F> {
    fn default() -> Self {
        Self(String::new(), PhantomData)
    }
}

impl<const N: usize, F> Clone for BoundedString<N, F> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), PhantomData)
    }
}

impl<const N: usize, F> std::fmt::Debug for BoundedString<N, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BoundedString").field(&self.0).finish()
    }
}

impl<const N: usize, F> PartialEq for BoundedString<N, F> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<const N: usize, F> Eq for BoundedString<N, F> {}

impl<const N: usize, F> PartialOrd for BoundedString<N, F> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize, F> Ord for BoundedString<N, F> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl<const N: usize, F> std::hash::Hash for BoundedString<N, F> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<const N: usize, F> BoundedString<N, F> {
    /// Wraps `s`, or gives it back if it is longer than `N` bytes.
    pub fn new(s: impl Into<String>) -> Result<Self, String> {
        let s = s.into();
        if s.len() > N {
            Err(s)
        } else {
            Ok(Self(s, PhantomData))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const N: usize, F> std::ops::Deref for BoundedString<N, F> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const N: usize, F> std::fmt::Display for BoundedString<N, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const N: usize, F> Encode for BoundedString<N, F> {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        e: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        self.0.encode(e)
    }
}

impl<C, const N: usize, F: FieldName> Decode<C> for BoundedString<N, F> {
    fn decode<D: bincode::de::Decoder<Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        use bincode::de::read::Reader;
        let name = field_name::<F>("a string");
        let len = decode_len(d, N, |len| {
            let bound = F::RULE.unwrap_or(N);
            format!("{name} is {len} bytes, at most {bound}")
        })?;
        d.claim_bytes_read(len)?;
        let mut bytes = vec![0u8; len];
        d.reader().read(&mut bytes)?;
        String::from_utf8(bytes)
            .map(|s| Self(s, PhantomData))
            .map_err(|_| bincode::error::DecodeError::OtherString(format!("{name} is not UTF-8")))
    }
}

impl<'de, C, const N: usize, F: FieldName> bincode::BorrowDecode<'de, C> for BoundedString<N, F> {
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
        assert_eq!(
            err,
            DecodeError::Malformed(format!("a list has {} entries, at most 4", u64::MAX))
        );
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

    /// A named field for the tests.
    struct Note;
    impl FieldName for Note {
        const NAME: &'static str = "note";
    }
    /// A named list whose rule is tighter than its decoding bound.
    struct Items;
    impl FieldName for Items {
        const NAME: &'static str = "items";
        const RULE: Option<usize> = Some(2);
    }

    #[test]
    fn a_sequence_over_its_bound_names_its_field_and_the_bound() {
        let long = encode(&"x".repeat(9));
        assert_eq!(
            decode::<BoundedString<8, Note>>(&long, 64)
                .unwrap_err()
                .reason(),
            "note is 9 bytes, at most 8"
        );
        assert_eq!(
            decode::<BoundedString<8>>(&long, 64).unwrap_err().reason(),
            "a string is 9 bytes, at most 8"
        );
        let mut bad = 2u64.to_le_bytes().to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(
            decode::<BoundedString<8, Note>>(&bad, 64)
                .unwrap_err()
                .reason(),
            "note is not UTF-8"
        );
        // The rule's bound, not the decoder's, is the one named.
        let five = encode(&vec![1u8; 5]);
        assert_eq!(
            decode::<BoundedVec<u8, 4, Items>>(&five, 64)
                .unwrap_err()
                .reason(),
            "items has 5 entries, at most 2"
        );
        // A name changes nothing in the bytes.
        let named = BoundedString::<8, Note>::new("hi").unwrap();
        assert_eq!(
            encode(&named),
            encode(&BoundedString::<8>::new("hi").unwrap())
        );
        assert_eq!(
            decode::<BoundedString<8, Note>>(&encode(&named), 64).unwrap(),
            named
        );
        assert_eq!(
            without_paths("core::option::Option<merit_chain::tx::TxKind>"),
            "Option<TxKind>"
        );
        // Other failures are said in words too.
        assert_eq!(
            decode::<u64>(&[1, 2], 64).unwrap_err().reason(),
            "the input ends early: at least 6 more bytes expected"
        );
        assert_eq!(
            decode::<Option<u8>>(&[2], 64).unwrap_err().reason(),
            "2 is not a tag of Option<u8>"
        );
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

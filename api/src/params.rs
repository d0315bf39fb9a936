//! The params a node parses beyond a plain positional string, with the
//! reasons it gives (as `data.reason` of -32602) when they are wrong.

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Entries `merit_getHistory` returns when no limit is given.
pub const DEFAULT_HISTORY_PAGE: usize = 50;
/// Offers per side `merit_getOrderBook` returns at most, and when no limit
/// is given.
pub const MAX_BOOK_PAGE: usize = 100;
/// The word `merit_getBlock` takes for the newest block.
pub const LATEST: &str = "latest";

/// `merit_getBlock`'s param: a height, or `"latest"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRef {
    Height(u64),
    Latest,
}

/// Why a value is not a [`BlockRef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlockRefError {
    /// A number, but negative or not whole.
    #[error("height must be a non-negative integer")]
    NotAHeight,
    /// Neither a number nor `"latest"`.
    #[error("expected a height or \"latest\"")]
    NotABlock,
}

impl BlockRef {
    /// Reads the param as JSON gave it.
    pub fn from_json(value: &Value) -> Result<Self, BlockRefError> {
        match value {
            Value::String(s) if s == LATEST => Ok(BlockRef::Latest),
            Value::Number(n) => n
                .as_u64()
                .map(BlockRef::Height)
                .ok_or(BlockRefError::NotAHeight),
            _ => Err(BlockRefError::NotABlock),
        }
    }
}

impl Serialize for BlockRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            BlockRef::Height(h) => s.serialize_u64(*h),
            BlockRef::Latest => s.serialize_str(LATEST),
        }
    }
}

impl<'de> Deserialize<'de> for BlockRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BlockRef::from_json(&Value::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// Where a page of `merit_getHistory` continues: the location of the last
/// entry of the previous page, `HEIGHT:INDEX` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HistoryCursor {
    pub height: u64,
    /// The transaction's index in its block.
    pub index: u32,
}

/// A string that is not a [`HistoryCursor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a history cursor (HEIGHT:INDEX)")]
pub struct HistoryCursorError(pub String);

impl FromStr for HistoryCursor {
    type Err = HistoryCursorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || HistoryCursorError(s.to_string());
        let (height, index) = s.split_once(':').ok_or_else(bad)?;
        Ok(HistoryCursor {
            height: height.parse().map_err(|_| bad())?,
            index: index.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for HistoryCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.height, self.index)
    }
}

impl Serialize for HistoryCursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HistoryCursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

/// `merit_getHistory`'s `limit`: 1 to the store's largest page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimit(usize);

/// Why a history limit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HistoryLimitError {
    #[error("limit is 0, at least 1")]
    Zero,
    #[error("limit is {given}, at most {max}")]
    TooLarge { given: u64, max: usize },
}

impl HistoryLimit {
    /// The limit a caller gave, or [`DEFAULT_HISTORY_PAGE`] for none. `max`
    /// is the largest page the node's store serves: a storage limit, named
    /// where storage is defined, not part of this contract.
    pub fn new(given: Option<u64>, max: usize) -> Result<Self, HistoryLimitError> {
        match given {
            None => Ok(HistoryLimit(DEFAULT_HISTORY_PAGE.min(max))),
            Some(0) => Err(HistoryLimitError::Zero),
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| *n <= max)
                .map(HistoryLimit)
                .ok_or(HistoryLimitError::TooLarge { given: n, max }),
        }
    }

    pub fn get(self) -> usize {
        self.0
    }
}

/// `merit_getOrderBook`'s `limit`: 1 to [`MAX_BOOK_PAGE`] offers per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookLimit(usize);

/// A book limit out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BookLimitError {
    #[error("limit is 0, at least 1")]
    Zero,
    #[error("limit is {given}, at most {MAX_BOOK_PAGE}")]
    TooLarge { given: u64 },
}

impl BookLimit {
    /// The limit a caller gave, or [`MAX_BOOK_PAGE`] for none.
    pub fn new(given: Option<u64>) -> Result<Self, BookLimitError> {
        match given {
            None => Ok(BookLimit(MAX_BOOK_PAGE)),
            Some(0) => Err(BookLimitError::Zero),
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_BOOK_PAGE)
                .map(BookLimit)
                .ok_or(BookLimitError::TooLarge { given: n }),
        }
    }

    pub fn get(self) -> usize {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_are_heights_or_latest() {
        assert_eq!(BlockRef::from_json(&json!(7)), Ok(BlockRef::Height(7)));
        assert_eq!(BlockRef::from_json(&json!("latest")), Ok(BlockRef::Latest));
        assert_eq!(
            BlockRef::from_json(&json!(-1)),
            Err(BlockRefError::NotAHeight)
        );
        assert_eq!(
            BlockRef::from_json(&json!(1.5)),
            Err(BlockRefError::NotAHeight)
        );
        for bad in [json!("earliest"), json!(null), json!([1]), json!("7")] {
            assert_eq!(BlockRef::from_json(&bad), Err(BlockRefError::NotABlock));
        }
        for b in [BlockRef::Height(0), BlockRef::Latest] {
            let wire = serde_json::to_value(b).unwrap();
            assert_eq!(serde_json::from_value::<BlockRef>(wire).unwrap(), b);
        }
    }

    #[test]
    fn cursors_are_height_colon_index() {
        let c: HistoryCursor = "43:2".parse().unwrap();
        assert_eq!(
            c,
            HistoryCursor {
                height: 43,
                index: 2
            }
        );
        assert_eq!(c.to_string(), "43:2");
        assert_eq!(serde_json::to_value(c).unwrap(), json!("43:2"));
        assert_eq!(
            serde_json::from_value::<HistoryCursor>(json!("43:2")).unwrap(),
            c
        );
        for bad in ["", "x", "1:", ":1", "1:2:3", "1:4294967296", "-1:0"] {
            let e = bad.parse::<HistoryCursor>().unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("`{bad}` is not a history cursor (HEIGHT:INDEX)")
            );
        }
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(
            HistoryLimit::new(None, 1_000).unwrap().get(),
            DEFAULT_HISTORY_PAGE
        );
        assert_eq!(HistoryLimit::new(Some(1_000), 1_000).unwrap().get(), 1_000);
        assert_eq!(
            HistoryLimit::new(Some(0), 1_000),
            Err(HistoryLimitError::Zero)
        );
        assert_eq!(
            HistoryLimit::new(Some(0), 1_000).unwrap_err().to_string(),
            "limit is 0, at least 1"
        );
        assert_eq!(
            HistoryLimit::new(Some(1_001), 1_000)
                .unwrap_err()
                .to_string(),
            "limit is 1001, at most 1000"
        );
        assert_eq!(
            HistoryLimit::new(Some(u64::MAX), 1_000),
            Err(HistoryLimitError::TooLarge {
                given: u64::MAX,
                max: 1_000
            })
        );
        assert_eq!(BookLimit::new(None).unwrap().get(), MAX_BOOK_PAGE);
        assert_eq!(BookLimit::new(Some(1)).unwrap().get(), 1);
        assert_eq!(BookLimit::new(Some(100)).unwrap().get(), 100);
        assert_eq!(
            BookLimit::new(Some(0)).unwrap_err().to_string(),
            "limit is 0, at least 1"
        );
        for bad in [101, u64::MAX] {
            assert_eq!(
                BookLimit::new(Some(bad)).unwrap_err().to_string(),
                format!("limit is {bad}, at most 100")
            );
        }
    }
}

/// Most pieces of evidence one `merit_getEvidence` call returns.
pub const MAX_EVIDENCE_PAGE: usize = 1_000;

/// The options of `merit_getEvidence`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceOptions {
    /// The lowest height to list; 0 when left out.
    #[serde(default)]
    pub from_height: u64,
    /// How many to list at most; 100 when left out, at most
    /// [`MAX_EVIDENCE_PAGE`].
    #[serde(default)]
    pub limit: Option<u64>,
}

impl EvidenceOptions {
    /// The page size asked for, checked against [`MAX_EVIDENCE_PAGE`].
    pub fn page(&self) -> Result<usize, String> {
        match self.limit {
            None => Ok(100),
            Some(0) => Err("limit is 0, at least 1".into()),
            Some(n) if n > MAX_EVIDENCE_PAGE as u64 => {
                Err(format!("limit is {n}, at most {MAX_EVIDENCE_PAGE}"))
            }
            Some(n) => Ok(n as usize),
        }
    }
}

/// The options of `merit_validators`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorsOptions {
    /// The height whose set to list; the next block's when left out.
    #[serde(default)]
    pub height: Option<u64>,
}

/// The options of `merit_getBlock`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockOptions {
    /// Adds the canonical bytes of the header, the transactions and the
    /// certificate.
    #[serde(default)]
    pub full: bool,
}

/// The options of `merit_getHistory(address, {cursor?, limit?, token?, sub?})`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryOptions {
    /// Where the page starts: the `next_cursor` of the page before.
    #[serde(default)]
    pub cursor: Option<HistoryCursor>,
    #[serde(default)]
    pub limit: Option<u64>,
    /// Only entries with postings in this token.
    #[serde(default)]
    pub token: Option<String>,
    /// The sub-account whose postings to show, 0 (the account itself) when
    /// left out.
    #[serde(default)]
    pub sub: Option<u32>,
}

/// The options of `merit_getStatement`: the half-open period
/// `[from_ms, to_ms)` of block time, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementOptions {
    pub from_ms: u64,
    pub to_ms: u64,
    /// Only this token.
    #[serde(default)]
    pub token: Option<String>,
    /// The sub-account, 0 (the account itself) when left out.
    #[serde(default)]
    pub sub: Option<u32>,
}

/// The options of `merit_getProof` and `merit_getTokenProof`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofOptions {
    /// The tokens whose holdings to prove, present or absent; every token
    /// the account holds when left out. `merit_getProof` only.
    #[serde(default)]
    pub tokens: Option<Vec<String>>,
    /// The sub-account, 0 (the account itself) when left out.
    /// `merit_getProof` only.
    #[serde(default)]
    pub sub: Option<u32>,
    /// The height whose state to prove; the tip's when left out.
    #[serde(default)]
    pub height: Option<u64>,
    /// Prove only the address's count of sub-accounts (its `SubAccounts`
    /// entry), for a complete roll-up. `merit_getProof` only.
    #[serde(default)]
    pub sub_accounts: Option<bool>,
}

/// The statuses `merit_listProposals` filters on.
pub const PROPOSAL_STATUSES: &[&str] = &["open", "passed", "rejected", "failed", "expired"];

/// The options of `merit_listProposals`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalFilter {
    /// Only proposals with this status (one of [`PROPOSAL_STATUSES`]);
    /// every proposal when left out.
    #[serde(default)]
    pub status: Option<String>,
}

impl ProposalFilter {
    /// The status asked for, checked against [`PROPOSAL_STATUSES`].
    pub fn status(&self) -> Result<Option<&str>, String> {
        match self.status.as_deref() {
            None => Ok(None),
            Some(s) if PROPOSAL_STATUSES.contains(&s) => Ok(Some(s)),
            Some(s) => Err(format!(
                "status is \"{s}\", one of {}",
                PROPOSAL_STATUSES.join(", ")
            )),
        }
    }
}

/// Most validator changes one `merit_getValidatorChanges` call returns;
/// a client asks again from the height after the last one.
pub const MAX_VALIDATOR_CHANGES_PAGE: usize = 100;

//! The error codes a node answers with besides JSON-RPC's own, and the
//! shapes of their `data`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Bad params: wrong type or count, malformed hex, a bad address or hash,
/// an unknown token, a limit out of range. `data` is [`InvalidParamsData`]
/// when the node's own checks refused (a failed JSON decoding of a param
/// carries the decoder's message as a plain string instead).
pub const INVALID_PARAMS: i32 = -32602;
/// A transaction refused before it entered the mempool. `data` is
/// [`RejectedTxData`].
pub const REJECTED_TX: i32 = -32003;
/// The node is busy: mempool full, or the sender has too many transactions
/// waiting. `data` is [`BusyData`].
pub const BUSY: i32 = -32005;
/// Internal error (storage); no `data`.
pub const INTERNAL: i32 = -32603;

/// What the `message` of an [`INVALID_PARAMS`] error starts with; the rest
/// is the reason.
pub const INVALID_PARAMS_PREFIX: &str = "Invalid params: ";
/// What the `message` of a [`REJECTED_TX`] error starts with; the rest is
/// the rejection in plain words.
pub const REJECTED_TX_PREFIX: &str = "Transaction rejected: ";
/// What the `message` of a [`BUSY`] error starts with.
pub const BUSY_PREFIX: &str = "Node busy: ";
/// What the `message` of an [`INTERNAL`] error starts with.
pub const INTERNAL_PREFIX: &str = "Internal error: ";

/// `data` of [`INVALID_PARAMS`]: `{reason}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidParamsData {
    /// What was wrong, in words.
    pub reason: String,
}

/// `data` of [`REJECTED_TX`]: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedTxData {
    /// The rejection code's stable name (`Malformed`, `BadSignature`, …).
    pub code: String,
    /// The rejection in plain words.
    pub message: String,
}

/// `data` of [`BUSY`]: `{code}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyData {
    pub code: BusyCode,
}

/// Why a node is too busy to take a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BusyCode {
    /// The mempool holds as many transactions as it may.
    MempoolFull,
    /// The sender has as many transactions waiting as one sender may.
    SenderQuota,
}

impl BusyCode {
    /// The code as it is on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            BusyCode::MempoolFull => "MempoolFull",
            BusyCode::SenderQuota => "SenderQuota",
        }
    }
}

impl fmt::Display for BusyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_shapes_are_as_documented() {
        let reason = InvalidParamsData {
            reason: "unknown token NOPE".into(),
        };
        assert_eq!(
            serde_json::to_value(&reason).unwrap(),
            json!({"reason": "unknown token NOPE"})
        );
        let rejected = RejectedTxData {
            code: "Malformed".into(),
            message: "The bytes are not a well-formed transaction.".into(),
        };
        assert_eq!(
            serde_json::to_string(&rejected).unwrap(),
            r#"{"code":"Malformed","message":"The bytes are not a well-formed transaction."}"#
        );
        for code in [BusyCode::MempoolFull, BusyCode::SenderQuota] {
            let data = BusyData { code };
            let wire = serde_json::to_value(data).unwrap();
            assert_eq!(wire, json!({"code": code.as_str()}));
            assert_eq!(serde_json::from_value::<BusyData>(wire).unwrap(), data);
        }
    }
}

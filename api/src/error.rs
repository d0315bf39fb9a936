//! The error codes a node answers with besides JSON-RPC's own, and the
//! shapes of their `data`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Bad params: wrong type or count, malformed hex, a bad address or hash,
/// an unknown token, a limit out of range. `data` is always
/// [`InvalidParamsData`], whose reason names the param.
pub const INVALID_PARAMS: i32 = -32602;
/// A transaction refused before it entered the mempool. `data` is
/// [`RejectedTxData`].
pub const REJECTED_TX: i32 = -32003;
/// A request body over the node's limit (HTTP 413, or a WebSocket message
/// over it). `data` is [`InvalidParamsData`], whose reason names the bound.
pub const REQUEST_TOO_LARGE: i32 = -32007;
/// An answer over the node's limit. `data` is [`InvalidParamsData`].
pub const RESPONSE_TOO_LARGE: i32 = -32008;
/// The node serves as many connections as it may (HTTP 429). `data` is
/// [`InvalidParamsData`].
pub const TOO_MANY_CONNECTIONS: i32 = -32009;
/// A batch with more calls than the node takes, refused whole. `data` is
/// [`InvalidParamsData`].
pub const BATCH_TOO_LARGE: i32 = -32010;
/// A batch whose answers together are over the node's limit. `data` is
/// [`InvalidParamsData`].
pub const BATCH_RESPONSE_TOO_LARGE: i32 = -32011;
/// A WebSocket connection holding as many subscriptions as it may. `data`
/// is [`InvalidParamsData`].
pub const TOO_MANY_SUBSCRIPTIONS: i32 = -32006;
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
/// What the `message` of a [`REQUEST_TOO_LARGE`] error starts with; the
/// rest is the reason.
pub const REQUEST_TOO_LARGE_PREFIX: &str = "Request too large: ";
/// What the `message` of a [`RESPONSE_TOO_LARGE`] error starts with.
pub const RESPONSE_TOO_LARGE_PREFIX: &str = "Response too large: ";
/// What the `message` of a [`TOO_MANY_CONNECTIONS`] error starts with.
pub const TOO_MANY_CONNECTIONS_PREFIX: &str = "Too many connections: ";
/// What the `message` of a [`BATCH_TOO_LARGE`] error starts with.
pub const BATCH_TOO_LARGE_PREFIX: &str = "Batch too large: ";
/// What the `message` of a [`BATCH_RESPONSE_TOO_LARGE`] error starts with.
pub const BATCH_RESPONSE_TOO_LARGE_PREFIX: &str = "Batch response too large: ";
/// What the `message` of a [`TOO_MANY_SUBSCRIPTIONS`] error starts with.
pub const TOO_MANY_SUBSCRIPTIONS_PREFIX: &str = "Too many subscriptions: ";

/// `data` of [`INVALID_PARAMS`] and of the errors for a request over a
/// bound: `{reason}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidParamsData {
    /// What was wrong, in words; for input over a bound, the field and
    /// the bound ("limit is 1001, at most 1000").
    pub reason: String,
}

/// `data` of [`REJECTED_TX`]: `{code, message, reason?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedTxData {
    /// The rejection code's stable name (`Malformed`, `BadSignature`, …).
    pub code: String,
    /// The rejection in plain words.
    pub message: String,
    /// What was wrong with this transaction, when the node can say more
    /// than the code: for input over a bound, the field and the bound
    /// ("memo is 257 bytes, at most 256").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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
        let mut rejected = RejectedTxData {
            code: "Malformed".into(),
            message: "The bytes are not a well-formed transaction.".into(),
            reason: None,
        };
        assert_eq!(
            serde_json::to_string(&rejected).unwrap(),
            r#"{"code":"Malformed","message":"The bytes are not a well-formed transaction."}"#
        );
        rejected.reason = Some("memo is 257 bytes, at most 256".into());
        let wire = serde_json::to_value(&rejected).unwrap();
        assert_eq!(wire["reason"], "memo is 257 bytes, at most 256");
        assert_eq!(
            serde_json::from_value::<RejectedTxData>(wire).unwrap(),
            rejected
        );
        for code in [BusyCode::MempoolFull, BusyCode::SenderQuota] {
            let data = BusyData { code };
            let wire = serde_json::to_value(data).unwrap();
            assert_eq!(wire, json!({"code": code.as_str()}));
            assert_eq!(serde_json::from_value::<BusyData>(wire).unwrap(), data);
        }
    }
}

//! A small blocking JSON-RPC 2.0 client for a Merit node. The methods,
//! error codes and the shapes of the answers are `merit-api`'s, the
//! contract the node builds its answers from (see `docs/rpc.md`).

use std::cell::Cell;
use std::io::ErrorKind;
use std::time::Duration;

use merit_api::error::{BUSY, INVALID_PARAMS, INVALID_PARAMS_PREFIX, REJECTED_TX};
use merit_api::{
    Account, BusyData, Escrow, HistoryPage, InvalidParamsData, OrderBook, PathFound, Proposal,
    RejectedTxData, Status, SubAccount, TokenInfo, TxInfo, method,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Where the CLI looks for a node unless `--rpc` or `MERIT_RPC` says otherwise.
pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8545";
/// How long to wait for a TCP connection to the node.
pub const RPC_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// How long one call may take, end to end.
pub const RPC_CALL_TIMEOUT_MS: u64 = 30_000;
/// Largest response body read from a node, in bytes.
pub const MAX_RPC_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("`{url}` is not a usable RPC URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach the node at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// -32602: the node refused the parameters, with its reason.
    #[error("{reason}")]
    InvalidParams { method: String, reason: String },
    /// -32003: the node refused the transaction before its mempool, with
    /// the reason when it gave one (which field is over which bound).
    #[error("the node refused the transaction: {code}: {message}{}", in_parens(.reason))]
    Rejected {
        code: String,
        message: String,
        reason: Option<String>,
    },
    /// -32005: mempool full or sender over quota.
    #[error("the node at {url} is busy ({code}); try again shortly")]
    Busy { url: String, code: String },
    #[error("the node at {url} answered {method} with error {code}: {message}")]
    Node {
        url: String,
        method: String,
        code: i64,
        message: String,
    },
    #[error("the node at {url} answered {method} with something unexpected: {reason}")]
    BadResponse {
        url: String,
        method: String,
        reason: String,
    },
}

/// A JSON-RPC client over plain HTTP (the node binds to 127.0.0.1 by
/// default; put TLS in front of it with a proxy if it must face a network).
#[derive(Debug)]
pub struct RpcClient {
    url: String,
    agent: ureq::Agent,
    next_id: Cell<u64>,
}

#[derive(Deserialize)]
struct Response {
    /// `Some(Value::Null)` for `"result": null` (e.g. no such escrow),
    /// `None` when the field is missing.
    #[serde(default, deserialize_with = "present")]
    result: Option<Value>,
    #[serde(default)]
    error: Option<ErrorObject>,
}

/// Reads a field that is present, even when it is `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct ErrorObject {
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<Value>,
}

impl RpcClient {
    /// A client for the node at `url` (`http://host:port`). Nothing is
    /// connected until the first call.
    pub fn new(url: &str) -> Result<Self, RpcError> {
        let bad = |reason: &str| RpcError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if url.starts_with("https://") {
            return Err(bad(
                "TLS is not supported; use http:// (the node serves plain HTTP on 127.0.0.1)",
            ));
        }
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(bad("expected http://HOST:PORT"));
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(bad("expected http://HOST:PORT"));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_connect(Some(Duration::from_millis(RPC_CONNECT_TIMEOUT_MS)))
            .timeout_global(Some(Duration::from_millis(RPC_CALL_TIMEOUT_MS)))
            .build();
        Ok(RpcClient {
            url: url.to_string(),
            agent: ureq::Agent::new_with_config(config),
            next_id: Cell::new(1),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with positional `params` and returns its raw result.
    pub fn call_value(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let bad_response = |reason: String| RpcError::BadResponse {
            url: self.url.clone(),
            method: method.to_string(),
            reason,
        };
        let mut response = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .send(request.to_string())
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RPC_RESPONSE_BYTES)
            .read_to_string()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => {
                    bad_response(format!("over {MAX_RPC_RESPONSE_BYTES} bytes"))
                }
                other => self.transport_error(other),
            })?;
        let parsed: Response = serde_json::from_str(&body).map_err(|e| {
            if status.is_success() {
                bad_response(format!("not JSON-RPC: {e}"))
            } else {
                bad_response(format!("HTTP {status}: {}", truncate(&body, 200)))
            }
        })?;
        if let Some(err) = parsed.error {
            return Err(self.node_error(method, err));
        }
        parsed
            .result
            .ok_or_else(|| bad_response("neither a result nor an error".to_string()))
    }

    /// Calls `method` and decodes its result as `T`.
    pub fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T, RpcError> {
        let value = self.call_value(method, params)?;
        serde_json::from_value(value).map_err(|e| RpcError::BadResponse {
            url: self.url.clone(),
            method: method.to_string(),
            reason: e.to_string(),
        })
    }

    fn transport_error(&self, e: ureq::Error) -> RpcError {
        let reason = match &e {
            ureq::Error::Io(io) => match io.kind() {
                ErrorKind::ConnectionRefused => "connection refused".to_string(),
                ErrorKind::ConnectionReset => "connection reset".to_string(),
                ErrorKind::ConnectionAborted => "connection aborted".to_string(),
                ErrorKind::TimedOut => "timed out".to_string(),
                ErrorKind::AddrNotAvailable => "address not available".to_string(),
                _ => io.to_string(),
            },
            ureq::Error::HostNotFound => "host not found".to_string(),
            ureq::Error::ConnectionFailed => "connection failed".to_string(),
            ureq::Error::Timeout(t) => format!("timed out ({t})"),
            ureq::Error::BadUri(reason) => {
                return RpcError::BadUrl {
                    url: self.url.clone(),
                    reason: reason.clone(),
                };
            }
            other => other.to_string(),
        };
        RpcError::Unreachable {
            url: self.url.clone(),
            reason,
        }
    }

    fn node_error(&self, method: &str, err: ErrorObject) -> RpcError {
        match i32::try_from(err.code) {
            Ok(INVALID_PARAMS) => RpcError::InvalidParams {
                method: method.to_string(),
                // `{reason}`; a node of an older version may send the
                // decoder's words as a bare string, or none.
                reason: data::<InvalidParamsData>(&err.data)
                    .map(|d| d.reason)
                    .or_else(|| data::<String>(&err.data))
                    .unwrap_or_else(|| {
                        err.message
                            .strip_prefix(INVALID_PARAMS_PREFIX)
                            .unwrap_or(&err.message)
                            .to_string()
                    }),
            },
            Ok(REJECTED_TX) => match data::<RejectedTxData>(&err.data) {
                Some(d) => RpcError::Rejected {
                    code: d.code,
                    message: d.message,
                    reason: d.reason,
                },
                None => RpcError::Rejected {
                    code: "Unknown".to_string(),
                    message: err.message,
                    reason: None,
                },
            },
            Ok(BUSY) => RpcError::Busy {
                url: self.url.clone(),
                code: data::<BusyData>(&err.data)
                    .map_or_else(|| "Busy".to_string(), |d| d.code.to_string()),
            },
            _ => RpcError::Node {
                url: self.url.clone(),
                method: method.to_string(),
                code: err.code,
                message: err.message,
            },
        }
    }

    /// `merit_status`.
    pub fn status(&self) -> Result<Status, RpcError> {
        self.call(method::STATUS, json!([]))
    }

    /// `merit_sendTransaction`: submits signed bytes (hex); returns the hash.
    pub fn send_transaction(&self, tx_hex: &str) -> Result<String, RpcError> {
        self.call(method::SEND_TRANSACTION, json!([tx_hex]))
    }

    /// `merit_getTransaction`.
    pub fn get_transaction(&self, hash: &str) -> Result<TxInfo, RpcError> {
        self.call(method::GET_TRANSACTION, json!([hash]))
    }

    /// `merit_getAccount`.
    pub fn get_account(&self, address: &str) -> Result<Account, RpcError> {
        self.call(method::GET_ACCOUNT, json!([address]))
    }

    /// `merit_getSubAccounts`: the sub-accounts `address` opened, first
    /// opened first.
    pub fn get_sub_accounts(&self, address: &str) -> Result<Vec<SubAccount>, RpcError> {
        self.call(method::GET_SUB_ACCOUNTS, json!([address]))
    }

    /// `merit_getToken`. An unknown symbol is [`RpcError::InvalidParams`].
    pub fn get_token(&self, symbol: &str) -> Result<TokenInfo, RpcError> {
        self.call(method::GET_TOKEN, json!([symbol]))
    }

    /// `merit_listTokens`.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, RpcError> {
        self.call(method::LIST_TOKENS, json!([]))
    }

    /// `merit_getHistory` of `address`'s account `sub` (0 for its own),
    /// newest first.
    pub fn get_history(
        &self,
        address: &str,
        cursor: Option<&str>,
        limit: u64,
        token: Option<&str>,
        sub: u32,
    ) -> Result<HistoryPage, RpcError> {
        let mut options = json!({"limit": limit});
        if sub > 0 {
            options["sub"] = json!(sub);
        }
        if let Some(c) = cursor {
            options["cursor"] = json!(c);
        }
        if let Some(t) = token {
            options["token"] = json!(t);
        }
        self.call(method::GET_HISTORY, json!([address, options]))
    }

    /// `merit_getOrderBook(sell, buy, limit)`: both sides of a market, each
    /// in matching order. An unknown token is [`RpcError::InvalidParams`].
    pub fn get_order_book(&self, sell: &str, buy: &str, limit: u64) -> Result<OrderBook, RpcError> {
        self.call(method::GET_ORDER_BOOK, json!([sell, buy, limit]))
    }

    /// `merit_findPaths(send_token, dest_token, dest_amount)`: the routes
    /// that can deliver the amount now, cheapest first.
    pub fn find_paths(
        &self,
        send_token: &str,
        dest_token: &str,
        dest_amount: &str,
    ) -> Result<Vec<PathFound>, RpcError> {
        self.call(
            method::FIND_PATHS,
            json!([send_token, dest_token, dest_amount]),
        )
    }

    /// `merit_getEscrow(id)`; `None` when no escrow has that id.
    pub fn get_escrow(&self, id: &str) -> Result<Option<Escrow>, RpcError> {
        self.call(method::GET_ESCROW, json!([id]))
    }

    /// `merit_getProposal(id)`; `None` when no proposal has that id.
    pub fn get_proposal(&self, id: u64) -> Result<Option<Proposal>, RpcError> {
        self.call(method::GET_PROPOSAL, json!([id]))
    }

    /// `merit_listProposals({status?})`, oldest first; every proposal when
    /// `status` is `None`.
    pub fn list_proposals(&self, status: Option<&str>) -> Result<Vec<Proposal>, RpcError> {
        let params = match status {
            Some(s) => json!([{ "status": s }]),
            None => json!([]),
        };
        self.call(method::LIST_PROPOSALS, params)
    }
}

/// ` (reason)`, or nothing.
fn in_parens(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

/// An error's `data` as `T`, if it has that shape.
fn data<T: DeserializeOwned>(data: &Option<Value>) -> Option<T> {
    data.as_ref().and_then(|d| T::deserialize(d).ok())
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_http_are_refused() {
        assert!(matches!(
            RpcClient::new("https://x:1"),
            Err(RpcError::BadUrl { .. })
        ));
        assert!(matches!(
            RpcClient::new("127.0.0.1:8545"),
            Err(RpcError::BadUrl { .. })
        ));
        assert!(RpcClient::new(DEFAULT_RPC_URL).is_ok());
    }

    #[test]
    fn error_objects_map_to_their_kinds() {
        let c = RpcClient::new(DEFAULT_RPC_URL).unwrap();
        let e = c.node_error(
            "merit_getToken",
            ErrorObject {
                code: -32602,
                message: "Invalid params: unknown token NOPE".into(),
                data: Some(json!({"reason": "unknown token NOPE"})),
            },
        );
        assert_eq!(e.to_string(), "unknown token NOPE");
        let e = c.node_error(
            "merit_sendTransaction",
            ErrorObject {
                code: -32003,
                message: "Transaction rejected".into(),
                data: Some(json!({"code": "BadSignature", "message": "The signature …"})),
            },
        );
        assert!(matches!(e, RpcError::Rejected { ref code, .. } if code == "BadSignature"));
        let e = c.node_error(
            "merit_sendTransaction",
            ErrorObject {
                code: -32003,
                message: "Transaction rejected: …".into(),
                data: Some(json!({"code": "Malformed", "message": "The bytes are not a well-formed transaction.",
                    "reason": "memo is 257 bytes, at most 256"})),
            },
        );
        assert_eq!(
            e.to_string(),
            "the node refused the transaction: Malformed: The bytes are not a well-formed \
             transaction. (memo is 257 bytes, at most 256)"
        );
        let e = c.node_error(
            "merit_sendTransaction",
            ErrorObject {
                code: -32005,
                message: "Node busy: the mempool is full".into(),
                data: Some(json!({"code": "MempoolFull"})),
            },
        );
        assert!(matches!(e, RpcError::Busy { ref code, .. } if code == "MempoolFull"));
        // An older node's shape for a param it could not decode: `data` is
        // the decoder's text.
        let e = c.node_error(
            "merit_getToken",
            ErrorObject {
                code: -32602,
                message: "Invalid params".into(),
                data: Some(json!("invalid type: integer `5`, expected a string")),
            },
        );
        assert_eq!(
            e.to_string(),
            "invalid type: integer `5`, expected a string"
        );
        let e = c.node_error(
            "merit_status",
            ErrorObject {
                code: -32603,
                message: "Internal error: disk".into(),
                data: None,
            },
        );
        assert!(matches!(e, RpcError::Node { code: -32603, .. }));
    }

    #[test]
    fn a_null_result_is_a_result() {
        let r: Response =
            serde_json::from_str(r#"{"jsonrpc":"2.0","id":1,"result":null}"#).unwrap();
        assert_eq!(r.result, Some(Value::Null));
        let r: Response = serde_json::from_str(r#"{"jsonrpc":"2.0","id":1}"#).unwrap();
        assert_eq!(r.result, None);
        let none: Option<Escrow> = serde_json::from_value(Value::Null).unwrap();
        assert_eq!(none, None);
    }
}

//! A small blocking JSON-RPC 2.0 client for a Merit node, and the JSON
//! shapes of its answers (see `docs/rpc.md`).
//!
//! The types are `Serialize` too: the CLI's `--json` output re-emits them,
//! so their field names are a stable contract for scripts and tests.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Where the CLI looks for a node unless `--rpc` or `MERIT_RPC` says otherwise.
pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8545";
/// How long to wait for a TCP connection to the node.
pub const RPC_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// How long one call may take, end to end.
pub const RPC_CALL_TIMEOUT_MS: u64 = 30_000;
/// Largest response body read from a node, in bytes.
pub const MAX_RPC_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Most offers per side `merit_getOrderBook` returns (the node's limit).
pub const MAX_BOOK_PAGE: u64 = 100;

/// JSON-RPC error code for bad params (bad address, unknown token, …).
pub const CODE_INVALID_PARAMS: i64 = -32602;
/// JSON-RPC error code for a transaction refused before the mempool.
pub const CODE_REJECTED_TX: i64 = -32003;
/// JSON-RPC error code for a node too busy to take a transaction.
pub const CODE_BUSY: i64 = -32005;

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
    /// -32003: the node refused the transaction before its mempool.
    #[error("the node refused the transaction: {code}: {message}")]
    Rejected { code: String, message: String },
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
        let data_str = |key: &str| {
            err.data
                .as_ref()
                .and_then(|d| d.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        match err.code {
            CODE_INVALID_PARAMS => RpcError::InvalidParams {
                method: method.to_string(),
                reason: data_str("reason").unwrap_or_else(|| {
                    err.message
                        .strip_prefix("Invalid params: ")
                        .unwrap_or(&err.message)
                        .to_string()
                }),
            },
            CODE_REJECTED_TX => RpcError::Rejected {
                code: data_str("code").unwrap_or_else(|| "Unknown".to_string()),
                message: data_str("message").unwrap_or(err.message),
            },
            CODE_BUSY => RpcError::Busy {
                url: self.url.clone(),
                code: data_str("code").unwrap_or_else(|| "Busy".to_string()),
            },
            code => RpcError::Node {
                url: self.url.clone(),
                method: method.to_string(),
                code,
                message: err.message,
            },
        }
    }

    /// `merit_status`.
    pub fn status(&self) -> Result<Status, RpcError> {
        self.call("merit_status", json!([]))
    }

    /// `merit_sendTransaction`: submits signed bytes (hex); returns the hash.
    pub fn send_transaction(&self, tx_hex: &str) -> Result<String, RpcError> {
        self.call("merit_sendTransaction", json!([tx_hex]))
    }

    /// `merit_getTransaction`, with [`TxInfo::offer_id`] and
    /// [`TxInfo::escrow_id`] filled in from its events.
    pub fn get_transaction(&self, hash: &str) -> Result<TxInfo, RpcError> {
        let mut info: TxInfo = self.call("merit_getTransaction", json!([hash]))?;
        info.annotate();
        Ok(info)
    }

    /// `merit_getAccount`.
    pub fn get_account(&self, address: &str) -> Result<Account, RpcError> {
        self.call("merit_getAccount", json!([address]))
    }

    /// `merit_getToken`. An unknown symbol is [`RpcError::InvalidParams`].
    pub fn get_token(&self, symbol: &str) -> Result<TokenInfo, RpcError> {
        self.call("merit_getToken", json!([symbol]))
    }

    /// `merit_listTokens`.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, RpcError> {
        self.call("merit_listTokens", json!([]))
    }

    /// `merit_getHistory`, newest first.
    pub fn get_history(
        &self,
        address: &str,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<History, RpcError> {
        self.call("merit_getHistory", json!([address, cursor, limit]))
    }

    /// `merit_getOrderBook(sell, buy, limit)`: both sides of a market, each
    /// in matching order. An unknown token is [`RpcError::InvalidParams`].
    pub fn get_order_book(&self, sell: &str, buy: &str, limit: u64) -> Result<OrderBook, RpcError> {
        self.call("merit_getOrderBook", json!([sell, buy, limit]))
    }

    /// `merit_getEscrow(id)`; `None` when no escrow has that id.
    pub fn get_escrow(&self, id: &str) -> Result<Option<EscrowInfo>, RpcError> {
        self.call("merit_getEscrow", json!([id]))
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `merit_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub chain_id: String,
    pub height: u64,
    #[serde(default)]
    pub block_hash: String,
    #[serde(default)]
    pub block_time_ms: u64,
    #[serde(default)]
    pub state_root: String,
    #[serde(default)]
    pub round: u64,
    #[serde(default)]
    pub validators: u64,
    #[serde(default)]
    pub validator_index: Option<u64>,
    #[serde(default)]
    pub peers: u64,
    #[serde(default)]
    pub mempool_size: u64,
    #[serde(default)]
    pub syncing: bool,
    #[serde(default)]
    pub genesis_hash: String,
    #[serde(default)]
    pub version: String,
}

/// `merit_getTransaction`, and what every submitting command prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxInfo {
    pub hash: String,
    /// `pending`, `committed`, `rejected` or `unknown`.
    pub status: String,
    #[serde(default)]
    pub height: Option<u64>,
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub sender: Option<String>,
    /// The rejection code's stable name, when rejected.
    #[serde(default)]
    pub code: Option<String>,
    /// The rejection in plain words, when rejected.
    #[serde(default)]
    pub message: Option<String>,
    /// For `DuplicateOrderId`: the original payment's hash.
    #[serde(default)]
    pub original: Option<String>,
    #[serde(default)]
    pub events: Vec<Value>,
    /// The id of the offer a `PlaceOffer` placed (from its `OfferPlaced`
    /// event). Added by the wallet; absent for other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<u64>,
    /// The id of the escrow an `EscrowCreate` opened: the transaction's
    /// hash. Added by the wallet; absent for other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow_id: Option<String>,
}

impl TxInfo {
    pub const PENDING: &'static str = "pending";
    pub const COMMITTED: &'static str = "committed";
    pub const REJECTED: &'static str = "rejected";
    pub const UNKNOWN: &'static str = "unknown";

    /// A transaction the node has not reported on yet.
    pub fn new(hash: &str, status: &str) -> Self {
        TxInfo {
            hash: hash.to_string(),
            status: status.to_string(),
            height: None,
            index: None,
            kind: None,
            sender: None,
            code: None,
            message: None,
            original: None,
            events: Vec::new(),
            offer_id: None,
            escrow_id: None,
        }
    }

    /// Final: committed or rejected in a block.
    pub fn is_final(&self) -> bool {
        self.status == Self::COMMITTED || self.status == Self::REJECTED
    }

    /// Fills in [`Self::offer_id`] and [`Self::escrow_id`] from the events.
    pub fn annotate(&mut self) {
        for e in &self.events {
            match e.get("type").and_then(Value::as_str) {
                Some("OfferPlaced") => {
                    self.offer_id = e.get("offer").and_then(Value::as_u64).or(self.offer_id);
                }
                Some("EscrowCreated") => {
                    if let Some(id) = e.get("escrow").and_then(Value::as_str) {
                        self.escrow_id = Some(id.to_string());
                    }
                }
                _ => {}
            }
        }
    }
}

/// `merit_getAccount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub address: String,
    /// Spendable balance per token, in token units.
    #[serde(default)]
    pub balances: BTreeMap<String, String>,
    /// Locked in offers and escrows, per token.
    #[serde(default)]
    pub locked: BTreeMap<String, String>,
    /// Lots that will expire, soonest first.
    #[serde(default)]
    pub expiring: Vec<Expiring>,
    /// The account's open offers, oldest first.
    #[serde(default)]
    pub offers: Vec<OfferInfo>,
    /// The open escrows the account pays into or is the payee of.
    #[serde(default)]
    pub escrows: Vec<EscrowInfo>,
}

/// An open offer in the book, as `merit_getOrderBook` and
/// `merit_getAccount` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferInfo {
    pub id: u64,
    pub owner: String,
    /// The token sold (locked in the offer).
    pub sell: String,
    /// The token wanted in return.
    pub buy: String,
    /// The exact limit price `N/D` in base units: N base units of `buy`
    /// per D base units of `sell`, in lowest terms.
    pub price: String,
    /// The amount first offered, in `sell` token units.
    pub amount: String,
    /// What is left to trade, in `sell` token units.
    pub remaining: String,
    /// The transaction that placed it.
    #[serde(default)]
    pub tx: String,
    #[serde(default)]
    pub height: u64,
    /// The price in token units (`buy` per one `sell`), rounded to
    /// [`crate::price::DISPLAY_PRICE_DECIMALS`] places. Added by the wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<String>,
}

/// `merit_getOrderBook(sell, buy)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBook {
    pub sell: String,
    pub buy: String,
    /// Offers selling `sell` for `buy`, best price (lowest) first, then oldest.
    pub offers: Vec<OfferInfo>,
    /// Offers selling `buy` for `sell`: the side a new `sell` offer crosses.
    pub opposite: Vec<OfferInfo>,
}

/// An escrow, open or closed; its id is the hash of the creating transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscrowInfo {
    pub id: String,
    pub payer: String,
    pub payee: String,
    pub token: String,
    /// The amount locked at creation, in token units.
    pub amount: String,
    /// What is still locked (0 once closed; less if points expired).
    pub remaining: String,
    /// From this block time on the payer may take the funds back.
    pub deadline_ms: u64,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub height: u64,
    /// `open`, `released`, `refunded` or `expired`.
    pub status: String,
}

/// Points of one token that expire at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiring {
    pub token: String,
    pub amount: String,
    pub expires_at_ms: u64,
}

/// `merit_getToken`, and each entry of `merit_listTokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub symbol: String,
    #[serde(default)]
    pub name: String,
    pub decimals: u8,
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub max_supply: String,
    #[serde(default)]
    pub minted: String,
    #[serde(default)]
    pub circulating: String,
    #[serde(default)]
    pub redeemed: String,
    #[serde(default)]
    pub expired: String,
    #[serde(default)]
    pub locked_in_offers: String,
    #[serde(default)]
    pub locked_in_escrow: String,
    #[serde(default)]
    pub expiry_days: Option<u32>,
    #[serde(default)]
    pub created_height: u64,
}

/// `merit_getHistory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub entries: Vec<HistoryEntry>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// One transaction touching an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub hash: String,
    pub height: u64,
    #[serde(default)]
    pub index: u64,
    #[serde(default)]
    pub kind: Option<String>,
    pub status: String,
    #[serde(default)]
    pub code: Option<String>,
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
    }

    #[test]
    fn the_documented_shapes_decode() {
        let tx: TxInfo = serde_json::from_str(
            r#"{"hash":"ab","status":"committed","height":43,"index":0,"kind":"Transfer",
                "sender":"mrt1x","code":null,"message":null,"original":null,
                "events":[{"type":"Transferred","token":"BEAN","from":"a","to":"b","amount":"5.00"}]}"#,
        )
        .unwrap();
        assert!(tx.is_final());
        let acct: Account = serde_json::from_str(
            r#"{"address":"mrt1x","balances":{"BEAN":"120.00"},"locked":{"BEAN":"5.00"},
                "expiring":[{"token":"FUEL","amount":"10.00","expires_at_ms":1769817600000}]}"#,
        )
        .unwrap();
        assert_eq!(acct.balances["BEAN"], "120.00");
        let status: Status =
            serde_json::from_str(r#"{"chain_id":"merit-devnet","height":42}"#).unwrap();
        assert_eq!(status.validator_index, None);
        let mut tx: TxInfo = serde_json::from_str(
            r#"{"hash":"ab","status":"committed","events":[
                {"type":"OfferPlaced","offer":7,"owner":"mrt1x","sell":"BEAN","buy":"BOOK",
                 "amount":"1.00","price":"1/2"}]}"#,
        )
        .unwrap();
        tx.annotate();
        assert_eq!(tx.offer_id, Some(7));
        assert_eq!(tx.escrow_id, None);
    }

    #[test]
    fn a_null_result_is_a_result() {
        let r: Response =
            serde_json::from_str(r#"{"jsonrpc":"2.0","id":1,"result":null}"#).unwrap();
        assert_eq!(r.result, Some(Value::Null));
        let r: Response = serde_json::from_str(r#"{"jsonrpc":"2.0","id":1}"#).unwrap();
        assert_eq!(r.result, None);
        let none: Option<EscrowInfo> = serde_json::from_value(Value::Null).unwrap();
        assert_eq!(none, None);
    }
}

//! Method names, subscription topics and the HTTP route of the health check.

/// `merit_health()` → [`crate::Health`].
pub const HEALTH: &str = "merit_health";
/// `merit_status()` → [`crate::Status`].
pub const STATUS: &str = "merit_status";
/// `merit_sendTransaction(tx_hex)` → the transaction's hash.
pub const SEND_TRANSACTION: &str = "merit_sendTransaction";
/// `merit_getTransaction(hash)` → [`crate::TxInfo`].
pub const GET_TRANSACTION: &str = "merit_getTransaction";
/// `merit_getAccount(address)` → [`crate::Account`].
pub const GET_ACCOUNT: &str = "merit_getAccount";
/// `merit_getToken(symbol)` → [`crate::TokenInfo`].
pub const GET_TOKEN: &str = "merit_getToken";
/// `merit_listTokens()` → an array of [`crate::TokenInfo`].
pub const LIST_TOKENS: &str = "merit_listTokens";
/// `merit_getBlock(height | "latest", {full?})` → [`crate::Block`] or `null`.
pub const GET_BLOCK: &str = "merit_getBlock";
/// `merit_getOrderBook(sell, buy, limit?)` → [`crate::OrderBook`].
pub const GET_ORDER_BOOK: &str = "merit_getOrderBook";
/// `merit_findPaths(send_token, dest_token, dest_amount)` → an array of
/// [`crate::PathFound`], cheapest first.
pub const FIND_PATHS: &str = "merit_findPaths";
/// `merit_getEscrow(id)` → [`crate::Escrow`] or `null`.
pub const GET_ESCROW: &str = "merit_getEscrow";
/// `merit_getHistory(address, cursor?, limit?)` → [`crate::HistoryPage`].
pub const GET_HISTORY: &str = "merit_getHistory";
/// `merit_audit(token?)` → an array of [`crate::AuditEntry`].
pub const AUDIT: &str = "merit_audit";
/// `merit_getEvidence({from_height?, limit?})` → an array of
/// [`crate::EvidenceEntry`].
pub const GET_EVIDENCE: &str = "merit_getEvidence";
/// `merit_validators({height?})` → [`crate::ValidatorSetInfo`].
pub const VALIDATORS: &str = "merit_validators";
/// `merit_getValidatorChanges(from_height)` → an array of
/// [`crate::ValidatorChange`].
pub const GET_VALIDATOR_CHANGES: &str = "merit_getValidatorChanges";
/// `merit_getProof(address, {tokens?, height?})` → [`crate::StateProof`].
pub const GET_PROOF: &str = "merit_getProof";
/// `merit_getTokenProof(symbol, {height?})` → [`crate::StateProof`].
pub const GET_TOKEN_PROOF: &str = "merit_getTokenProof";
/// `merit_getTxProof(hash)` → [`crate::TxProofInfo`] or `null`.
pub const GET_TX_PROOF: &str = "merit_getTxProof";
/// `merit_getNonceProof(address, nonce, {height?})` → [`crate::StateProof`].
pub const GET_NONCE_PROOF: &str = "merit_getNonceProof";
/// `merit_getDayEnds()` → an array of [`crate::DayEnd`]: the day ends
/// whose state the node proves.
pub const GET_DAY_ENDS: &str = "merit_getDayEnds";
/// `merit_getStatement(address, {from_ms, to_ms, token?, sub?})` →
/// [`crate::Statement`].
pub const GET_STATEMENT: &str = "merit_getStatement";
/// `merit_getProposal(id)` → [`crate::Proposal`] or `null`.
pub const GET_PROPOSAL: &str = "merit_getProposal";
/// `merit_listProposals({status?})` → an array of [`crate::Proposal`].
pub const LIST_PROPOSALS: &str = "merit_listProposals";
/// `merit_subscribe(topic, …)` → a subscription id (WebSocket only).
pub const SUBSCRIBE: &str = "merit_subscribe";
/// The method of every subscription notification.
pub const SUBSCRIPTION: &str = "merit_subscription";
/// `merit_unsubscribe(id)`.
pub const UNSUBSCRIBE: &str = "merit_unsubscribe";

/// Every method a node answers, in the order `docs/rpc.md` lists them.
pub const ALL: &[&str] = &[
    STATUS,
    SEND_TRANSACTION,
    GET_TRANSACTION,
    GET_ACCOUNT,
    GET_TOKEN,
    LIST_TOKENS,
    GET_BLOCK,
    GET_ORDER_BOOK,
    FIND_PATHS,
    GET_HISTORY,
    GET_STATEMENT,
    GET_ESCROW,
    AUDIT,
    VALIDATORS,
    GET_VALIDATOR_CHANGES,
    GET_PROOF,
    GET_TOKEN_PROOF,
    GET_TX_PROOF,
    GET_NONCE_PROOF,
    GET_DAY_ENDS,
    GET_PROPOSAL,
    LIST_PROPOSALS,
    GET_EVIDENCE,
    HEALTH,
    SUBSCRIBE,
    UNSUBSCRIBE,
];

/// `merit_subscribe("newBlocks")`: one [`crate::BlockNotification`] per block.
pub const TOPIC_NEW_BLOCKS: &str = "newBlocks";
/// `merit_subscribe("account", address)`: one
/// [`crate::AccountNotification`] per transaction touching the address.
pub const TOPIC_ACCOUNT: &str = "account";

/// `GET` on this path answers what [`HEALTH`] does, as a plain JSON body.
pub const HEALTH_PATH: &str = "/health";

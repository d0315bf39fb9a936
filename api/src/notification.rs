//! What `merit_subscription` notifications carry as `params.result`.

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::response::TxStatus;

/// `newBlocks`: one per committed block, every block once, in height order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockNotification {
    pub height: u64,
    pub hash: String,
    pub timestamp_ms: u64,
    pub state_root: String,
    /// Every transaction of the block, in block order.
    pub txs: Vec<String>,
    /// Those recorded with a rejection code.
    pub rejected: Vec<RejectedTx>,
    /// The memo of each transaction that carries one, by hash: public
    /// forever.
    #[serde(default)]
    pub memos: std::collections::BTreeMap<String, String>,
}

/// A transaction of a block recorded with a rejection code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedTx {
    pub hash: String,
    /// The rejection code's stable name.
    pub code: String,
}

/// `account`: one per transaction sent by the address or touching it
/// through an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountNotification {
    pub height: u64,
    pub hash: String,
    pub status: TxStatus,
    #[serde(default)]
    pub code: Option<String>,
    /// The order id the transaction carries, if any.
    #[serde(default)]
    pub order_id: Option<String>,
    /// The memo the transaction carries, if any: public forever.
    #[serde(default)]
    pub memo: Option<String>,
    #[serde(default)]
    pub events: Vec<Event>,
}

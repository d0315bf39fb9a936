//! The answers of the methods.
//!
//! Amounts are decimal strings in token units, addresses `mrt1…`, hashes 64
//! hex digits, times milliseconds since the Unix epoch. An `Option` field
//! is `null` on the wire when empty, never absent. Fields a client may go
//! without decode to their default when missing, so a client keeps working
//! against a node that sends less.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::params::HistoryCursor;

/// `merit_health`, and the body of `GET /health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    /// The committed height.
    pub height: u64,
    /// Connected peers.
    pub peers: u64,
}

/// What a node that answers says of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthStatus {
    #[serde(rename = "ok")]
    Ok,
}

/// `merit_status`: the node's view of the chain.
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
    /// The consensus round the node is in.
    #[serde(default)]
    pub round: u64,
    /// Validators in genesis.
    #[serde(default)]
    pub validators: u64,
    /// This node's validator index; `null` on an observer.
    #[serde(default)]
    pub validator_index: Option<u64>,
    #[serde(default)]
    pub peers: u64,
    #[serde(default)]
    pub mempool_size: u64,
    /// True while the node fetches blocks from peers.
    #[serde(default)]
    pub syncing: bool,
    #[serde(default)]
    pub genesis_hash: String,
    /// The node's software version.
    #[serde(default)]
    pub version: String,
}

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxStatus {
    /// In the node's mempool.
    Pending,
    /// In a block, executed.
    Committed,
    /// In a block, with a rejection code.
    Rejected,
    /// Neither in a block nor in this node's mempool.
    Unknown,
}

impl TxStatus {
    /// The status as it is on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TxStatus::Pending => "pending",
            TxStatus::Committed => "committed",
            TxStatus::Rejected => "rejected",
            TxStatus::Unknown => "unknown",
        }
    }

    /// In a block, committed or rejected: it will not change.
    pub fn is_final(self) -> bool {
        matches!(self, TxStatus::Committed | TxStatus::Rejected)
    }
}

impl fmt::Display for TxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `merit_getTransaction`. For `pending` and `unknown`, every field but
/// `hash` and `status` is `null` and `events` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxInfo {
    pub hash: String,
    pub status: TxStatus,
    #[serde(default)]
    pub height: Option<u64>,
    /// The index in its block.
    #[serde(default)]
    pub index: Option<u32>,
    /// The kind's name (`Transfer`, `PlaceOffer`, …).
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub sender: Option<String>,
    #[serde(default)]
    pub sub: Option<u32>,
    /// The rejection code's stable name, when rejected.
    #[serde(default)]
    pub code: Option<String>,
    /// The rejection in plain words, when rejected.
    #[serde(default)]
    pub message: Option<String>,
    /// For `DuplicateOrderId`: the first transaction with that order id.
    #[serde(default)]
    pub original: Option<String>,
    /// The order id the transaction carries, if any.
    #[serde(default)]
    pub order_id: Option<String>,
    /// The memo the transaction carries, if any: public forever.
    #[serde(default)]
    pub memo: Option<String>,
    #[serde(default)]
    pub events: Vec<Event>,
}

impl TxInfo {
    /// A transaction that is not in a block: only its hash and status.
    pub fn new(hash: impl Into<String>, status: TxStatus) -> Self {
        TxInfo {
            hash: hash.into(),
            status,
            height: None,
            index: None,
            kind: None,
            sender: None,
            sub: None,
            code: None,
            message: None,
            original: None,
            order_id: None,
            memo: None,
            events: Vec::new(),
        }
    }
}

/// `merit_getAccount`. Generic over its offers, so that a client can show
/// them with fields of its own; on the wire they are [`Offer`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "O: Deserialize<'de>"))]
pub struct Account<O = Offer> {
    pub address: String,
    /// Spendable balance per token; tokens at zero are left out.
    #[serde(default)]
    pub balances: BTreeMap<String, String>,
    /// Frozen by the token's issuer, per token: the holder's, but it cannot
    /// move. Tokens with nothing frozen are left out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub frozen: BTreeMap<String, String>,
    /// Locked in offers and escrows, per token.
    #[serde(default)]
    pub locked: BTreeMap<String, String>,
    /// Lots that will expire, soonest first.
    #[serde(default)]
    pub expiring: Vec<Expiring>,
    /// The account's open offers, oldest first.
    #[serde(default)]
    pub offers: Vec<O>,
    /// The open escrows the account pays into or is the payee of.
    #[serde(default)]
    pub escrows: Vec<Escrow>,
    /// How many sub-accounts the address opened (`ADDRESS/1` to
    /// `ADDRESS/N`), whichever of its accounts this is.
    #[serde(default)]
    pub sub_accounts: u32,
    /// A sub-account's label; absent for the address itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One opened sub-account, as `merit_getSubAccounts` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubAccount {
    pub sub: u32,
    /// `ADDRESS/N`.
    pub account: String,
    pub label: String,
    pub opened_height: u64,
}

impl<O> Account<O> {
    /// The account with each offer replaced by `f` of it.
    pub fn map_offers<P>(self, f: impl FnMut(O) -> P) -> Account<P> {
        Account {
            address: self.address,
            balances: self.balances,
            frozen: self.frozen,
            locked: self.locked,
            expiring: self.expiring,
            offers: self.offers.into_iter().map(f).collect(),
            escrows: self.escrows,
            sub_accounts: self.sub_accounts,
            label: self.label,
        }
    }
}

/// Points of one token that expire at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiring {
    pub token: String,
    pub amount: String,
    pub expires_at_ms: u64,
}

/// An open offer, as `merit_getOrderBook` and `merit_getAccount` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
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
}

/// `merit_getOrderBook(sell, buy)`. Generic over its offers like
/// [`Account`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBook<O = Offer> {
    pub sell: String,
    pub buy: String,
    /// Offers selling `sell` for `buy`, best price (lowest) first, then oldest.
    pub offers: Vec<O>,
    /// Offers selling `buy` for `sell`: the side a new `sell` offer crosses.
    pub opposite: Vec<O>,
}

impl<O> OrderBook<O> {
    /// The book with each offer replaced by `f` of it.
    pub fn map_offers<P>(self, mut f: impl FnMut(O) -> P) -> OrderBook<P> {
        OrderBook {
            sell: self.sell,
            buy: self.buy,
            offers: self.offers.into_iter().map(&mut f).collect(),
            opposite: self.opposite.into_iter().map(&mut f).collect(),
        }
    }
}

/// One route `merit_findPaths` suggests, with what it costs now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathFound {
    /// The tokens between the send and the dest token, in order (empty
    /// for a direct trade): a `PayPath`'s `path`.
    pub path: Vec<String>,
    /// What the sender would pay, in `send_token` units: a `send_max` at
    /// least this delivers now.
    pub send_amount: String,
    /// The same in base units.
    pub send_amount_units: u64,
    /// Resting offers the payment would cross, over all hops.
    pub offers_crossed: usize,
}

/// `merit_getEscrow`: an escrow, open or closed; its id is the hash of the
/// creating transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escrow {
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
    pub status: EscrowStatus,
}

/// Where an escrow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EscrowStatus {
    Open,
    Released,
    Refunded,
    /// Its points expired while locked.
    Expired,
}

impl EscrowStatus {
    /// The status as it is on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EscrowStatus::Open => "open",
            EscrowStatus::Released => "released",
            EscrowStatus::Refunded => "refunded",
            EscrowStatus::Expired => "expired",
        }
    }
}

impl fmt::Display for EscrowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// Days after minting that points expire; `null` for never.
    #[serde(default)]
    pub expiry_days: Option<u32>,
    #[serde(default)]
    pub created_height: u64,
    /// Whether the issuer may freeze holders' points.
    #[serde(default)]
    pub freezable: bool,
    /// Whether the issuer may take points back.
    #[serde(default)]
    pub clawback: bool,
    #[serde(default)]
    pub frozen: String,
    #[serde(default)]
    pub clawed_back: String,
}

/// `merit_getHistory`: one page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// Where the next page starts; `null` on the last page.
    #[serde(default)]
    pub next_cursor: Option<HistoryCursor>,
}

/// One transaction touching an account, or a block's own events (its lots
/// expired), with the account's postings in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The transaction; `null` for the block's own events.
    pub hash: Option<String>,
    pub height: u64,
    /// The transaction's index in its block; 4294967295 for the block's
    /// own events.
    #[serde(default)]
    pub index: u32,
    /// The block's time.
    #[serde(default)]
    pub time_ms: u64,
    /// The kind's name; `LotExpired` for the block's own events.
    #[serde(default)]
    pub kind: Option<String>,
    pub status: TxStatus,
    #[serde(default)]
    pub code: Option<String>,
    /// The order id the transaction carries, if any.
    #[serde(default)]
    pub order_id: Option<String>,
    /// The memo the transaction carries, if any: public forever.
    #[serde(default)]
    pub memo: Option<String>,
    /// What the entry moved in the account (and sub-account) asked for.
    #[serde(default)]
    pub postings: Vec<Posting>,
}

/// `merit_getStatement`: what moved in an account over the half-open period
/// `[from_ms, to_ms)` of block time, per token (DESIGN §11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// `ADDRESS`, or `ADDRESS/N` for a sub-account.
    pub account: String,
    pub from_ms: u64,
    pub to_ms: u64,
    /// The last block before the period (0: genesis): the balances it
    /// leaves are the opening balances.
    pub opening_height: u64,
    /// The last block of the period: the balances it leaves are the
    /// closing balances. Equal to `opening_height` when no block fell in
    /// the period.
    pub closing_height: u64,
    /// Whether the period is over on chain: a block at or after `to_ms` has
    /// committed. Until then the closing balances are those of the tip.
    pub complete: bool,
    /// Every token the account held or moved, by symbol.
    pub tokens: Vec<TokenStatement>,
}

/// One token of a [`Statement`]: `closing = opening + credits − debits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenStatement {
    pub token: String,
    pub opening: String,
    pub credits: String,
    pub debits: String,
    pub closing: String,
    /// Oldest first.
    pub postings: Vec<StatementLine>,
}

/// One posting of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    pub height: u64,
    pub time_ms: u64,
    /// The transaction; `null` for the block's own events (expiries).
    pub hash: Option<String>,
    pub kind: String,
    pub side: PostingSide,
    pub amount: String,
    pub counterparty: String,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub memo: Option<String>,
}

/// One side of a movement of points, seen from the account it is on
/// (DESIGN §11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub token: String,
    /// `debit` (points left the account) or `credit` (points reached it).
    pub side: PostingSide,
    pub amount: String,
    /// The other side: an address (`ADDRESS/N` for a sub-account), or a
    /// system account: `issuance`, `redemption`, `expiry`, `clawback`,
    /// `offer_locks` or `escrow_locks`.
    pub counterparty: String,
}

/// Which side of an account a posting is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostingSide {
    Debit,
    Credit,
}

/// `merit_getBlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub height: u64,
    pub hash: String,
    pub round: u32,
    pub parent_hash: String,
    pub timestamp_ms: u64,
    pub proposer: String,
    pub tx_root: String,
    pub receipts_root: String,
    pub state_root: String,
    /// The hash of the validator set that signs this block.
    pub validators_hash: String,
    /// The hash of the set that signs the next one.
    pub next_validators_hash: String,
    /// The hashes of its transactions, in block order.
    pub txs: Vec<String>,
    /// The memo of each transaction that carries one, by hash: public
    /// forever.
    #[serde(default)]
    pub memos: BTreeMap<String, String>,
    /// The block's own events, after its receipts under `receipts_root`:
    /// the lots that expired as it began (`LotExpired`).
    #[serde(default)]
    pub events: Vec<Event>,
    /// What makes the block final; `null` when the node has none for it.
    pub certificate: Option<Certificate>,
    /// The canonical bytes, with `{full: true}` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<BlockBytes>,
}

/// A block in canonical bytes, each in hex: what a client re-hashes and
/// verifies instead of trusting the readable fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockBytes {
    pub header: String,
    /// Each transaction, in block order.
    pub txs: Vec<String>,
    /// The commit certificate with its signatures; `null` without one.
    pub certificate: Option<String>,
    /// Each transaction's receipt, in block order: with `events`, what
    /// `receipts_root` commits to.
    #[serde(default)]
    pub receipts: Vec<String>,
    /// The block's own events (lot expiries), in order.
    #[serde(default)]
    pub events: Vec<String>,
}

/// The Commit signatures that make a block final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub round: u32,
    /// The validator keys that signed, `mrt1…`.
    pub signers: Vec<String>,
}

/// One token's supply invariant, as `merit_audit` recomputes it:
/// `minted = circulating + locked_in_offers + locked_in_escrow + redeemed + expired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub token: String,
    pub minted: String,
    pub circulating: String,
    pub locked_in_offers: String,
    pub locked_in_escrow: String,
    pub redeemed: String,
    pub expired: String,
    /// Frozen in holders' accounts.
    #[serde(default)]
    pub frozen: String,
    /// Taken back by the issuer and burnt.
    #[serde(default)]
    pub clawed_back: String,
    /// Whether the invariant holds.
    pub holds: bool,
}

/// One validator of a set, as `merit_validators` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorEntry {
    /// Its place in the set: the proposer order.
    pub index: u64,
    /// The merchant's name; `null` if the merchant has left the alliance
    /// since.
    pub name: Option<String>,
    /// The merchant's account.
    pub account: String,
    /// The key that signs consensus messages, `mrt1…`.
    pub validator_key: String,
    /// The libp2p peer id of the validator's p2p key (a key of its own).
    pub peer_id: Option<String>,
    /// The multiaddr peers dial; `null` if the merchant has left.
    pub p2p: Option<String>,
}

/// The validator set in force at one height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorSetInfo {
    pub height: u64,
    /// What headers carry for this set: `validators_hash` of a block of
    /// this height.
    pub validators_hash: String,
    /// How many of them must sign a certificate: n − f.
    pub quorum: u64,
    pub validators: Vec<ValidatorEntry>,
    /// The set as canonical bytes (a `ValidatorList`: account, validator
    /// key and p2p key of each), in hex: what `validators_hash` hashes and
    /// what a verifying client reads instead of the fields above.
    pub bytes: String,
}

/// State entries with their proof, as `merit_getProof` and
/// `merit_getTokenProof` serve them. The readable fields are for people; a
/// verifying client decodes `proof` and trusts nothing else here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateProof {
    /// The height of the state proven: the header `proof` carries.
    pub height: u64,
    pub block_hash: String,
    pub timestamp_ms: u64,
    pub state_root: String,
    /// The holdings proven, by token (`merit_getProof`); an absent one
    /// shows a zero balance.
    #[serde(default)]
    pub holdings: Vec<ProvenHolding>,
    /// The token proven (`merit_getTokenProof`); `null` if it is absent.
    #[serde(default)]
    pub token: Option<TokenInfo>,
    /// Whether the nonce proven was used by that height
    /// (`merit_getNonceProof` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce_used: Option<bool>,
    /// The canonical bytes of the `EntriesProof`, in hex: each entry or its
    /// absence with its path to `state_root`, the header and its commit
    /// certificate (`docs/protocol.md`).
    pub proof: String,
}

/// One holding in a [`StateProof`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenHolding {
    pub token: String,
    pub sub: u32,
    /// Frozen points included.
    pub balance: String,
    pub frozen: String,
    /// The balance's lots, soonest first (an expiring token only).
    #[serde(default)]
    pub lots: Vec<Expiring>,
}

/// The last block of a UTC day whose state the node proves, as
/// `merit_getDayEnds` lists them (ADR 014).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayEnd {
    /// The UTC day, `YYYY-MM-DD`.
    pub date: String,
    /// The height of its last block.
    pub height: u64,
}

/// A transaction's proof, as `merit_getTxProof` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxProofInfo {
    pub hash: String,
    pub height: u64,
    pub index: u64,
    /// `committed` or `rejected`, as the receipt says.
    pub status: TxStatus,
    /// The rejection code, if rejected.
    #[serde(default)]
    pub code: Option<String>,
    /// The canonical bytes of the `TxProof`, in hex: the transaction and its
    /// receipt with their paths to `tx_root` and `receipts_root`, the header
    /// and its commit certificate (`docs/protocol.md`).
    pub proof: String,
}

/// A change of the validator set, with what proves it from the set
/// before: the last header of the old set, which names the new set's hash
/// in `next_validators_hash`, and that header's certificate, signed by the
/// old set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorChange {
    /// The first height the new set signs.
    pub height: u64,
    /// The block at `height - 1`, with its certificate's signers.
    pub boundary: Block,
    /// That block's header, canonical bytes in hex.
    pub header: String,
    /// Its commit certificate, canonical bytes in hex (the signatures).
    pub certificate: String,
    /// The set in force from `height`.
    pub set: ValidatorSetInfo,
}

/// What a proposal would change, tagged with `"type"`: the action's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ProposalAction {
    AddMerchant {
        account: String,
        name: String,
        /// The validator key it brings, if it runs a validator.
        validator_key: Option<String>,
        p2p: Option<String>,
    },
    RemoveMerchant {
        account: String,
    },
    RotateValidatorKey {
        account: String,
        validator_key: Option<String>,
        p2p: Option<String>,
    },
    ReassignIssuer {
        token: String,
        new_issuer: String,
    },
    SetConsensusParams {
        timeout_base_ms: u64,
        timeout_max_ms: u64,
        precision_ms: u64,
        message_delay_ms: u64,
    },
    ScheduleUpgrade {
        protocol_version: u32,
        height: u64,
    },
}

/// A governance proposal and its votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: u64,
    pub proposer: String,
    pub action: ProposalAction,
    pub created_height: u64,
    /// Votes count in blocks below this height.
    pub voting_ends_height: u64,
    /// `open`, `passed`, `rejected`, `failed` or `expired`.
    pub status: String,
    /// Merchant accounts that approved, in vote order.
    pub approvals: Vec<String>,
    /// Merchant accounts that voted no, in vote order.
    pub rejections: Vec<String>,
    /// Approvals it needs: the quorum of the set voting on the next block
    /// while open; of the set that decided it once decided.
    pub quorum: u64,
    /// The block that decided it (passed, rejected or failed).
    pub decided_height: Option<u64>,
    /// When passed: the first height it is in force.
    pub activation_height: Option<u64>,
    /// When failed: the rule it would have broken.
    pub failure: Option<String>,
}

/// Evidence that a validator signed two different blocks at one
/// `(height, round)` and kind, as `merit_getEvidence` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceEntry {
    /// The faulty validator's key, `mrt1…`.
    pub validator: String,
    pub height: u64,
    pub round: u32,
    /// `pre-prepare`, `prepare` or `commit`.
    pub kind: String,
    /// The two blocks it signed, in the order this node saw them.
    pub blocks: [String; 2],
    /// The two signed statements, canonically encoded in hex: anyone can
    /// check both signatures against the validator set.
    pub evidence: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_are_lower_case_words() {
        for s in [
            TxStatus::Pending,
            TxStatus::Committed,
            TxStatus::Rejected,
            TxStatus::Unknown,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
        for s in [
            EscrowStatus::Open,
            EscrowStatus::Released,
            EscrowStatus::Refunded,
            EscrowStatus::Expired,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
        assert_eq!(serde_json::to_value(HealthStatus::Ok).unwrap(), json!("ok"));
        assert!(TxStatus::Rejected.is_final() && !TxStatus::Pending.is_final());
    }

    #[test]
    fn empty_options_are_null_not_absent() {
        let wire = serde_json::to_value(TxInfo::new("ab", TxStatus::Unknown)).unwrap();
        assert_eq!(
            wire,
            json!({"hash": "ab", "status": "unknown", "height": null, "index": null,
                   "kind": null, "sender": null, "sub": null, "code": null, "message": null,
                   "original": null, "order_id": null, "memo": null, "events": []})
        );
    }

    #[test]
    fn partial_answers_decode_with_defaults() {
        let status: Status =
            serde_json::from_str(r#"{"chain_id":"merit-devnet","height":42}"#).unwrap();
        assert_eq!(status.validator_index, None);
        let acct: Account = serde_json::from_str(
            r#"{"address":"mrt1x","balances":{"BEAN":"120.00"},"locked":{"BEAN":"5.00"},
                "expiring":[{"token":"FUEL","amount":"10.00","expires_at_ms":1769817600000}]}"#,
        )
        .unwrap();
        assert_eq!(acct.balances["BEAN"], "120.00");
        assert!(acct.offers.is_empty());
        let page: HistoryPage = serde_json::from_str(
            r#"{"entries":[{"hash":"ab","height":4,"status":"committed"}],"next_cursor":"4:0"}"#,
        )
        .unwrap();
        assert_eq!(
            page.next_cursor,
            Some(HistoryCursor {
                height: 4,
                index: 0
            })
        );
        let none: Option<Escrow> = serde_json::from_value(serde_json::Value::Null).unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn offers_map_in_place() {
        let offer = |id| Offer {
            id,
            owner: "mrt1x".into(),
            sell: "BEAN".into(),
            buy: "BOOK".into(),
            price: "1/2".into(),
            amount: "1.00".into(),
            remaining: "1.00".into(),
            tx: String::new(),
            height: 0,
        };
        let book = OrderBook {
            sell: "BEAN".into(),
            buy: "BOOK".into(),
            offers: vec![offer(1), offer(2)],
            opposite: vec![offer(3)],
        };
        let ids = book.map_offers(|o| o.id);
        assert_eq!((ids.offers, ids.opposite), (vec![1, 2], vec![3]));
    }
}

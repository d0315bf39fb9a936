//! The ledger's state as key-value entries. Every entry is committed to by
//! the state root (see [`crate::commitment`]) and stored under its canonical
//! key bytes (see [`crate::storage`]).

use std::collections::BTreeMap;

use crate::crypto::{Address, Hash32};
use crate::encoding::{BoundedVec, Decode, Encode};
use crate::governance::{
    MAX_OPEN_PROPOSALS, MAX_PENDING_ACTIVATIONS, ProposalRecord, UpgradePlan, ValidatorList,
};
use crate::merchant::ValidatorRecord;
use crate::params::ConsensusParams;
use crate::tx::{OrderId, PAY_LEGS_DECODE_BOUND, Price, Symbol, TokenName};

/// Where an entry lives. The derived order is the canonical order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub enum StateKey {
    Merchant(Address),
    Token(Symbol),
    Balance(Address, Symbol),
    /// A `(sender, nonce)` pair used while its transaction's TTL window is open.
    Nonce(Address, u64),
    /// A `(sender, order_id)` pair, kept forever.
    Order(Address, OrderId),
    /// A settled split payment, by its transaction hash.
    Payment(Hash32),
    /// An open offer, by its id.
    Offer(u64),
    /// The order book: `(sell, buy, price in lowest terms, offer id)`. The
    /// key order is match order: cheapest first, then oldest.
    BookEntry(Symbol, Symbol, Price, u64),
    /// The id the next offer gets.
    NextOfferId,
    /// An escrow, by the hash of the transaction that created it. Kept after
    /// it closes, so a second release or refund has a stable answer.
    Escrow(Hash32),
    /// Points of an expiring token that expire at the given block time (ms),
    /// held by an account, an offer or an escrow. The lots of a holder sum to
    /// its balance, the offer's remaining amount or the escrow's amount.
    Lot(LotHolder, Symbol, u64),
    /// The chain's consensus parameters.
    ConsensusParams,
    /// The validator set in force from this height on (until the next such
    /// entry). Written when a change passes, kept forever.
    ValidatorsFrom(u64),
    /// A governance proposal, by its id.
    Proposal(u64),
    /// The id the next proposal gets.
    NextProposalId,
    /// The protocol upgrade the alliance scheduled, if any.
    Upgrade,
    /// The ids of the proposals open for voting, oldest first.
    OpenProposals,
    /// Passed proposals waiting for their activation height:
    /// `(activation_height, id)`, in that order.
    Activations,
}

/// What an entry holds. Each key kind has exactly one value kind.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum StateValue {
    Merchant(MerchantInfo),
    Token(TokenInfo),
    Balance(u64),
    /// The height at which the nonce's window closes.
    Nonce(u64),
    /// The payment or escrow that used the order id.
    Order(Hash32),
    Payment(PaymentRecord),
    Offer(OfferRecord),
    BookEntry,
    NextOfferId(u64),
    Escrow(EscrowRecord),
    Lot(u64),
    ConsensusParams(ConsensusParams),
    Validators(ValidatorList),
    Proposal(ProposalRecord),
    NextProposalId(u64),
    Upgrade(UpgradePlan),
    ProposalIds(BoundedVec<u64, MAX_OPEN_PROPOSALS>),
    Activations(BoundedVec<(u64, u64), MAX_PENDING_ACTIVATIONS>),
}

/// Who holds a lot of expiring points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum LotHolder {
    Account(Address),
    /// Locked in an open offer.
    Offer(u64),
    /// Locked in an open escrow.
    Escrow(Hash32),
}

/// An offer resting in the book.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct OfferRecord {
    pub id: u64,
    pub owner: Address,
    pub sell: Symbol,
    pub buy: Symbol,
    /// Units of `buy` per unit of `sell`, in lowest terms.
    pub price: Price,
    /// What the owner offered when placing it.
    pub amount: u64,
    /// What is still locked and for sale.
    pub remaining: u64,
    /// The placing transaction.
    pub tx: Hash32,
    pub height: u64,
}

/// Where an escrow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum EscrowStatus {
    Open,
    Released,
    Refunded,
    /// Everything it held expired before it was released or refunded.
    Expired,
}

/// Funds locked by a payer for a payee.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct EscrowRecord {
    pub payer: Address,
    pub payee: Address,
    pub token: Symbol,
    /// What the payer locked.
    pub amount: u64,
    /// What is still locked: `amount` less expired points while open, 0 once closed.
    pub remaining: u64,
    pub deadline_ms: u64,
    pub order_id: Option<OrderId>,
    pub height: u64,
    pub status: EscrowStatus,
}

/// A merchant of the alliance, registered in genesis or by a vote.
/// Merchants may create tokens.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct MerchantInfo {
    pub name: crate::merchant::MerchantName,
    /// The validator it runs, if any: its keys and where peers reach it.
    pub validator: Option<ValidatorRecord>,
}

/// A token and its supply counters.
///
/// Supply invariant: `minted = circulating + locked_in_offers + locked_in_escrow + redeemed + expired`,
/// where circulating is the sum of all balances.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TokenInfo {
    pub symbol: Symbol,
    pub name: TokenName,
    pub decimals: u8,
    pub max_supply: u64,
    pub expiry_days: Option<u32>,
    pub issuer: Address,
    pub created_height: u64,
    pub minted: u64,
    pub redeemed: u64,
    pub expired: u64,
    pub locked_in_offers: u64,
    pub locked_in_escrow: u64,
}

impl TokenInfo {
    /// What the counters say circulates. The audit checks it against the
    /// sum of balances.
    pub fn expected_circulating(&self) -> Option<u64> {
        self.minted
            .checked_sub(self.redeemed)?
            .checked_sub(self.expired)?
            .checked_sub(self.locked_in_offers)?
            .checked_sub(self.locked_in_escrow)
    }
}

/// One receiver's share of a payment and what it has refunded so far.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PaymentShare {
    pub to: Address,
    pub received: u64,
    pub refunded: u64,
}

/// A settled split payment, kept so its receivers can refund it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PaymentRecord {
    pub payer: Address,
    pub token: Symbol,
    pub order_id: OrderId,
    pub height: u64,
    /// One share per distinct receiver, in address order.
    pub shares: BoundedVec<PaymentShare, PAY_LEGS_DECODE_BOUND>,
}

/// The state changes of one block: a new value, or `None` for a deletion.
pub type StateChanges = BTreeMap<StateKey, Option<StateValue>>;

/// The whole ledger state, in memory.
pub type StateMap = BTreeMap<StateKey, StateValue>;

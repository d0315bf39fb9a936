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
use crate::tx::{
    AccountRef, OrderId, PAY_LEGS_DECODE_BOUND, Price, SubAccountLabel, Symbol, TokenName,
};

/// Where an entry lives. The derived order is the canonical order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub enum StateKey {
    Merchant(Address),
    Token(Symbol),
    /// What an account (`sub` 0) or one of its sub-accounts holds of a
    /// token: the balance, the frozen part of it and its lots, in one entry,
    /// so that one proof shows all of it (DESIGN §10, ADR 013).
    Holding(Address, SubId, Symbol),
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
    /// How many sub-accounts an address has opened: its sub-accounts are
    /// exactly `1..=count`, so a proof of this entry bounds them all.
    SubAccounts(Address),
    /// One opened sub-account, `ADDRESS/N` with `N > 0`.
    SubAccount(Address, SubId),
}

/// What an entry holds. Each key kind has exactly one value kind.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum StateValue {
    Merchant(MerchantInfo),
    Token(TokenInfo),
    Holding(Holding),
    /// The height at which the nonce's window closes.
    Nonce(u64),
    /// The payment or escrow that used the order id.
    Order(Hash32),
    Payment(PaymentRecord),
    Offer(OfferRecord),
    BookEntry,
    NextOfferId(u64),
    Escrow(EscrowRecord),
    ConsensusParams(ConsensusParams),
    Validators(ValidatorList),
    Proposal(ProposalRecord),
    NextProposalId(u64),
    Upgrade(UpgradePlan),
    ProposalIds(BoundedVec<u64, MAX_OPEN_PROPOSALS>),
    Activations(BoundedVec<(u64, u64), MAX_PENDING_ACTIVATIONS>),
    /// The number of sub-accounts opened.
    SubAccounts(SubId),
    SubAccount(SubAccountInfo),
}

/// An opened sub-account.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SubAccountInfo {
    pub label: SubAccountLabel,
    /// The height of the block that opened it.
    pub opened_height: u64,
}

/// Which of an address's accounts: 0 is the account itself, `N > 0` its
/// sub-account `ADDRESS/N`.
pub type SubId = u32;

/// Most lots one holder keeps of one token. A holder that would keep more
/// merges its two lots closest in time into the earlier one; see
/// [`Lots::add`] and ADR 013.
pub const MAX_LOTS_PER_HOLDING: usize = 256;

/// Points of an expiring token that expire together, at a block time in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub struct Lot {
    pub expires_at_ms: u64,
    pub amount: u64,
}

/// A holder's lots of one token: soonest first, expiry times distinct,
/// amounts above 0, at most [`MAX_LOTS_PER_HOLDING`]. They sum to what the
/// holder holds of an expiring token; a token that does not expire has none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct Lots(BoundedVec<Lot, MAX_LOTS_PER_HOLDING>);

impl Lots {
    pub fn as_slice(&self) -> &[Lot] {
        self.0.as_slice()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sum of the amounts, wide enough never to overflow.
    pub fn sum(&self) -> u128 {
        self.0.iter().map(|l| u128::from(l.amount)).sum()
    }

    /// Whether the lots keep their rules: ordered by distinct expiry times,
    /// none empty.
    pub fn well_formed(&self) -> bool {
        self.0.iter().all(|l| l.amount > 0)
            && self
                .0
                .windows(2)
                .all(|w| w[0].expires_at_ms < w[1].expires_at_ms)
    }

    fn set(&mut self, lots: Vec<Lot>) {
        // Callers keep the bound; a longer list would be a bug in this module.
        self.0 = BoundedVec::new(lots).unwrap_or_else(|lots| {
            unreachable!("{} lots kept, at most {MAX_LOTS_PER_HOLDING}", lots.len())
        });
    }

    /// Takes `amount`, soonest-expiring lots first, or `None` (and changes
    /// nothing) if the lots hold less.
    pub fn take(&mut self, amount: u64) -> Option<Vec<Lot>> {
        if self.sum() < u128::from(amount) {
            return None;
        }
        let mut lots = std::mem::take(&mut self.0).into_inner();
        let taken = take_soonest(&mut lots, amount);
        self.set(lots);
        Some(taken)
    }

    /// Adds lots, merging those of equal expiry, or `None` (and changes
    /// nothing) if an amount would overflow. Past [`MAX_LOTS_PER_HOLDING`]
    /// the two neighbouring lots closest in time merge into the earlier one,
    /// the earliest such pair first: points may expire a little sooner, never
    /// later, and the entry stays bounded.
    pub fn add(&mut self, incoming: &[Lot]) -> Option<()> {
        let mut lots = self.0.as_slice().to_vec();
        for lot in incoming.iter().filter(|l| l.amount > 0) {
            match lots.binary_search_by_key(&lot.expires_at_ms, |l| l.expires_at_ms) {
                Ok(i) => lots[i].amount = lots[i].amount.checked_add(lot.amount)?,
                Err(i) => lots.insert(i, *lot),
            }
        }
        while lots.len() > MAX_LOTS_PER_HOLDING {
            let i = (0..lots.len() - 1)
                .min_by_key(|&i| lots[i + 1].expires_at_ms - lots[i].expires_at_ms)?;
            let later = lots.remove(i + 1);
            lots[i].amount = lots[i].amount.checked_add(later.amount)?;
        }
        self.set(lots);
        Some(())
    }

    /// Removes the lot that expires at `at`, returning its amount.
    pub fn expire(&mut self, at: u64) -> Option<u64> {
        let mut lots = self.0.as_slice().to_vec();
        let i = lots.iter().position(|l| l.expires_at_ms == at)?;
        let lot = lots.remove(i);
        self.set(lots);
        Some(lot.amount)
    }
}

/// Takes up to `amount` from `lots` (soonest first, as [`Lots`] keeps
/// them), dropping the lots it empties; returns what it took, in order.
pub(crate) fn take_soonest(lots: &mut Vec<Lot>, amount: u64) -> Vec<Lot> {
    let mut taken = Vec::new();
    let mut need = amount;
    let mut used = 0;
    for lot in lots.iter_mut() {
        if need == 0 {
            break;
        }
        let t = lot.amount.min(need);
        taken.push(Lot {
            expires_at_ms: lot.expires_at_ms,
            amount: t,
        });
        lot.amount -= t;
        need -= t;
        if lot.amount == 0 {
            used += 1;
        }
    }
    lots.drain(..used);
    taken
}

/// What an account holds of one token, in one state entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct Holding {
    /// Spendable and frozen points together.
    pub balance: u64,
    /// The part of `balance` an issuer has frozen, at most `balance`: the
    /// first `frozen` points of the lots, soonest-expiring first, for a
    /// token that expires.
    pub frozen: u64,
    /// The balance's lots, for a token that expires.
    pub lots: Lots,
}

impl Holding {
    /// Whether the entry holds nothing and is deleted.
    pub fn is_empty(&self) -> bool {
        self.balance == 0 && self.frozen == 0 && self.lots.is_empty()
    }
}

/// Who holds a lot of expiring points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum LotHolder {
    Account(AccountRef),
    /// Locked in an open offer.
    Offer(u64),
    /// Locked in an open escrow.
    Escrow(Hash32),
}

/// An offer resting in the book.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct OfferRecord {
    pub id: u64,
    /// The account that placed it: what is left returns there, and what it
    /// buys is paid there.
    pub owner: AccountRef,
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
    /// The lots of `remaining`, for a `sell` token that expires.
    pub lots: Lots,
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
    pub payer: AccountRef,
    pub payee: AccountRef,
    pub token: Symbol,
    /// What the payer locked.
    pub amount: u64,
    /// What is still locked: `amount` less expired points while open, 0 once closed.
    pub remaining: u64,
    pub deadline_ms: u64,
    pub order_id: Option<OrderId>,
    pub height: u64,
    pub status: EscrowStatus,
    /// The lots of `remaining`, for a token that expires.
    pub lots: Lots,
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
    /// The issuer may freeze holders' points. Fixed at creation.
    pub freezable: bool,
    /// The issuer may take points back. Fixed at creation.
    pub clawback: bool,
    pub issuer: Address,
    pub created_height: u64,
    pub minted: u64,
    pub redeemed: u64,
    pub expired: u64,
    pub locked_in_offers: u64,
    pub locked_in_escrow: u64,
    /// Points frozen in holdings: still their holders', but not circulating.
    pub frozen: u64,
    /// Points taken back by the issuer and burnt.
    pub clawed_back: u64,
}

impl TokenInfo {
    /// What the counters say circulates: free to move. The audit checks it
    /// against the sum of balances less their frozen parts.
    pub fn expected_circulating(&self) -> Option<u64> {
        self.minted
            .checked_sub(self.redeemed)?
            .checked_sub(self.expired)?
            .checked_sub(self.clawed_back)?
            .checked_sub(self.locked_in_offers)?
            .checked_sub(self.locked_in_escrow)?
            .checked_sub(self.frozen)
    }
}

/// One receiver's share of a payment in one token, and what it has
/// refunded of it so far.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PaymentShare {
    pub to: AccountRef,
    pub token: Symbol,
    pub received: u64,
    pub refunded: u64,
}

/// A settled payment, kept so its receivers can refund it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PaymentRecord {
    /// The account that paid, where refunds go back.
    pub payer: AccountRef,
    pub order_id: OrderId,
    pub height: u64,
    /// One share per distinct receiver and token, in (account, token) order.
    pub shares: BoundedVec<PaymentShare, PAY_LEGS_DECODE_BOUND>,
}

/// The state changes of one block: a new value, or `None` for a deletion.
pub type StateChanges = BTreeMap<StateKey, Option<StateValue>>;

/// The whole ledger state, in memory.
pub type StateMap = BTreeMap<StateKey, StateValue>;

#[cfg(test)]
mod tests {
    use super::*;

    fn lot(expires_at_ms: u64, amount: u64) -> Lot {
        Lot {
            expires_at_ms,
            amount,
        }
    }

    fn lots(items: &[(u64, u64)]) -> Lots {
        let mut l = Lots::default();
        let items: Vec<Lot> = items.iter().map(|(e, a)| lot(*e, *a)).collect();
        l.add(&items).unwrap();
        l
    }

    #[test]
    fn taking_spends_the_soonest_lots_first_and_refuses_more_than_held() {
        let mut l = lots(&[(30, 5), (10, 5), (20, 5)]);
        assert_eq!(l.take(7), Some(vec![lot(10, 5), lot(20, 2)]));
        assert_eq!(l.as_slice(), &[lot(20, 3), lot(30, 5)]);
        assert_eq!(l.take(9), None);
        assert_eq!(
            l.as_slice(),
            &[lot(20, 3), lot(30, 5)],
            "a refusal changes nothing"
        );
        assert!(l.well_formed());
    }

    #[test]
    fn lots_of_equal_expiry_merge_and_a_full_holding_merges_its_closest_pair_into_the_earlier() {
        let mut l = lots(&[(10, 1), (10, 2)]);
        assert_eq!(l.as_slice(), &[lot(10, 3)]);
        // Fill to the bound with lots 100 ms apart, then add one 1 ms after
        // the third: that pair is the closest and merges into the earlier.
        let far: Vec<Lot> = (1..MAX_LOTS_PER_HOLDING as u64)
            .map(|i| lot(10 + 100 * i, 1))
            .collect();
        l.add(&far).unwrap();
        assert_eq!(l.as_slice().len(), MAX_LOTS_PER_HOLDING);
        l.add(&[lot(211, 4)]).unwrap();
        assert_eq!(l.as_slice().len(), MAX_LOTS_PER_HOLDING);
        assert_eq!(
            l.as_slice()[2],
            lot(210, 5),
            "merged into the earlier expiry"
        );
        assert_eq!(l.sum(), 3 + (MAX_LOTS_PER_HOLDING as u128 - 1) + 4);
        assert!(l.well_formed());
    }

    #[test]
    fn an_overflowing_add_changes_nothing() {
        let mut l = lots(&[(10, u64::MAX)]);
        assert_eq!(l.add(&[lot(10, 1)]), None);
        assert_eq!(l.as_slice(), &[lot(10, u64::MAX)]);
    }

    #[test]
    fn expiring_removes_exactly_the_lot_of_that_time() {
        let mut l = lots(&[(10, 1), (20, 2)]);
        assert_eq!(l.expire(15), None);
        assert_eq!(l.expire(20), Some(2));
        assert_eq!(l.as_slice(), &[lot(10, 1)]);
    }
}

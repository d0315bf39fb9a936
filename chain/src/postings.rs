//! The finance journal: every committed movement of points as double-entry
//! postings (DESIGN §11).
//!
//! Postings are derived, never stored as consensus state: a pure function of
//! a block, its receipts and its own events, so any node, indexer or client
//! holding those (they are all under the header's roots) derives the same
//! journal. Each movement of `amount` of a token from one account to another
//! is two postings: a debit of the account it leaves and a credit of the
//! account it reaches, each naming the other as counterparty. Per token, a
//! transaction's debits therefore equal its credits.
//!
//! Points that enter or leave circulation, or are held by no account, move
//! to and from system accounts:
//! - [`PostingAccount::Issuance`]: debited by every mint (and genesis
//!   balance), so its net is minus the minted supply;
//! - [`PostingAccount::Redemption`], [`PostingAccount::Expiry`] and
//!   [`PostingAccount::Clawback`]: credited with what is redeemed, expires
//!   or is clawed back;
//! - [`PostingAccount::OfferLocks`] and [`PostingAccount::EscrowLocks`]:
//!   credited when points are locked in an offer or escrow and debited when
//!   they leave it (traded, returned, released, refunded or expired).
//!
//! Summing an account's postings from genesis (credits minus debits) gives
//! its balance; summing a system account's gives the token counter it stands
//! for.

use std::collections::BTreeMap;

use crate::block::{BlockHeader, Event, Receipt};
use crate::crypto::{Address, Hash32};
use crate::state::{LotHolder, StateKey, StateMap, StateValue, SubId};
use crate::tx::{AccountRef, Memo, OrderId, Symbol, Transaction, TxKind};

/// Whose points a posting moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PostingAccount {
    /// An account, or one of its sub-accounts (0: the account itself).
    Account(Address, SubId),
    /// Where minted points come from.
    Issuance,
    /// Where redeemed points go.
    Redemption,
    /// Where expired points go.
    Expiry,
    /// Where clawed-back points go.
    Clawback,
    /// Points locked in open offers.
    OfferLocks,
    /// Points locked in open escrows.
    EscrowLocks,
    /// Points an issuer has frozen in their holders' accounts.
    Frozen,
}

impl PostingAccount {
    /// The name of a system account (`issuance`, `redemption`, `expiry`,
    /// `clawback`, `offer_locks`, `escrow_locks`); `None` for an account.
    pub fn system_name(&self) -> Option<&'static str> {
        match self {
            PostingAccount::Account(..) => None,
            PostingAccount::Issuance => Some("issuance"),
            PostingAccount::Redemption => Some("redemption"),
            PostingAccount::Expiry => Some("expiry"),
            PostingAccount::Clawback => Some("clawback"),
            PostingAccount::OfferLocks => Some("offer_locks"),
            PostingAccount::EscrowLocks => Some("escrow_locks"),
            PostingAccount::Frozen => Some("frozen"),
        }
    }
}

/// An account as the journal's readers write it: `ADDRESS`, `ADDRESS/N`
/// for a sub-account, or a system account's name.
impl std::fmt::Display for PostingAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PostingAccount::Account(a, 0) => write!(f, "{}", a.to_bech32()),
            PostingAccount::Account(a, sub) => write!(f, "{}/{sub}", a.to_bech32()),
            other => f.write_str(other.system_name().unwrap_or("system")),
        }
    }
}

/// Which side of the account a posting is on: a debit takes points from
/// it, a credit gives it points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Debit,
    Credit,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub height: u64,
    /// Its position among the block's postings: `(height, index)` names a
    /// posting once and for all.
    pub index: u32,
    /// The transaction that moved the points and its index in the block;
    /// `None` for a block event (an expiry) or a genesis balance.
    pub tx_hash: Option<Hash32>,
    pub tx_index: Option<u32>,
    /// The block's time.
    pub time_ms: u64,
    pub token: Symbol,
    pub account: PostingAccount,
    pub side: Side,
    pub amount: u64,
    /// The other side of the movement.
    pub counterparty: PostingAccount,
    /// The transaction kind's name (`Transfer`, `Pay`, …), `LotExpired`
    /// for an expiry, `Genesis` for a genesis balance.
    pub kind: &'static str,
    pub order_id: Option<OrderId>,
    pub memo: Option<Memo>,
}

impl Posting {
    /// What the posting adds to its account's net: the amount, negative for
    /// a debit.
    pub fn signed(&self) -> i128 {
        match self.side {
            Side::Debit => -i128::from(self.amount),
            Side::Credit => i128::from(self.amount),
        }
    }
}

/// What the postings of one movement share.
struct Origin<'a> {
    tx_hash: Option<Hash32>,
    tx_index: Option<u32>,
    kind: &'static str,
    order_id: Option<&'a OrderId>,
    memo: Option<&'a Memo>,
}

/// Builds a block's postings in order.
struct Journal {
    height: u64,
    time_ms: u64,
    out: Vec<Posting>,
}

impl Journal {
    fn new(height: u64, time_ms: u64) -> Self {
        Journal {
            height,
            time_ms,
            out: Vec::new(),
        }
    }

    /// `amount` of `token` from `from` to `to`: a debit and a credit.
    fn movement(
        &mut self,
        origin: &Origin<'_>,
        token: &Symbol,
        from: PostingAccount,
        to: PostingAccount,
        amount: u64,
    ) {
        if amount == 0 {
            return;
        }
        for (account, side, counterparty) in [(from, Side::Debit, to), (to, Side::Credit, from)] {
            let index = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
            self.out.push(Posting {
                height: self.height,
                index,
                tx_hash: origin.tx_hash,
                tx_index: origin.tx_index,
                time_ms: self.time_ms,
                token: *token,
                account,
                side,
                amount,
                counterparty,
                kind: origin.kind,
                order_id: origin.order_id.cloned(),
                memo: origin.memo.cloned(),
            });
        }
    }

    /// The movements one event stands for. `Paid` stands for none: its legs
    /// are `Transferred` events of their own. A path payment's `PathTrade`s
    /// pass the points through the payer's account hop by hop, so only the
    /// payer's send token and the receiver's dest token move on net.
    fn event(&mut self, origin: &Origin<'_>, event: &Event) {
        use PostingAccount as P;
        let acct = |a: &AccountRef| P::Account(a.address, a.sub);
        match event {
            Event::Minted { token, to, amount } => {
                self.movement(origin, token, P::Issuance, acct(to), *amount)
            }
            Event::Transferred {
                token,
                from,
                to,
                amount,
            }
            | Event::Refunded {
                token,
                from,
                to,
                amount,
                ..
            } => self.movement(origin, token, acct(from), acct(to), *amount),
            Event::Redeemed {
                token,
                from,
                amount,
            } => self.movement(origin, token, acct(from), P::Redemption, *amount),
            Event::OfferPlaced {
                owner,
                sell,
                amount,
                ..
            } => self.movement(origin, sell, acct(owner), P::OfferLocks, *amount),
            // The taker's payment leaves the lock its new offer made; what
            // it gets leaves the maker's.
            Event::Trade {
                taker,
                maker,
                pay_token,
                paid,
                get_token,
                got,
                ..
            } => {
                self.movement(origin, pay_token, P::OfferLocks, acct(maker), *paid);
                self.movement(origin, get_token, P::OfferLocks, acct(taker), *got);
            }
            Event::PathTrade {
                payer,
                maker,
                pay_token,
                paid,
                get_token,
                got,
                ..
            } => {
                self.movement(origin, pay_token, acct(payer), acct(maker), *paid);
                self.movement(origin, get_token, P::OfferLocks, acct(payer), *got);
            }
            Event::PathPaid {
                payer,
                to,
                dest_token,
                received,
                ..
            } => self.movement(origin, dest_token, acct(payer), acct(to), *received),
            Event::OfferCancelled {
                owner,
                token,
                returned,
                ..
            } => self.movement(origin, token, P::OfferLocks, acct(owner), *returned),
            Event::EscrowCreated {
                token,
                payer,
                amount,
                ..
            } => self.movement(origin, token, acct(payer), P::EscrowLocks, *amount),
            Event::EscrowReleased {
                token,
                payee,
                amount,
                ..
            } => self.movement(origin, token, P::EscrowLocks, acct(payee), *amount),
            Event::EscrowRefunded {
                token,
                payer,
                amount,
                ..
            } => self.movement(origin, token, P::EscrowLocks, acct(payer), *amount),
            Event::LotExpired {
                token,
                holder,
                amount,
                frozen,
                ..
            } => {
                let from = match holder {
                    LotHolder::Account(a) => acct(a),
                    LotHolder::Offer(_) => P::OfferLocks,
                    LotHolder::Escrow(_) => P::EscrowLocks,
                };
                let free = amount.saturating_sub(*frozen);
                self.movement(origin, token, P::Frozen, P::Expiry, *frozen);
                self.movement(origin, token, from, P::Expiry, free)
            }
            Event::Frozen {
                token,
                account,
                amount,
            } => self.movement(origin, token, acct(account), P::Frozen, *amount),
            Event::Unfrozen {
                token,
                account,
                amount,
            } => self.movement(origin, token, P::Frozen, acct(account), *amount),
            Event::ClawedBack {
                token,
                from,
                amount,
                frozen,
            } => {
                let free = amount.saturating_sub(*frozen);
                self.movement(origin, token, P::Frozen, P::Clawback, *frozen);
                self.movement(origin, token, acct(from), P::Clawback, free)
            }
            // The closing of an escrow moves nothing: its last points'
            // `LotExpired` did.
            Event::TokenCreated { .. }
            | Event::EscrowExpired { .. }
            | Event::Paid { .. }
            | Event::Proposed { .. }
            | Event::Voted { .. }
            | Event::ProposalPassed { .. }
            | Event::ProposalRejected { .. }
            | Event::ProposalFailed { .. }
            | Event::SubAccountOpened { .. } => {}
        }
    }
}

/// The order id and memo a transaction carries: what its postings and every
/// view of it show.
pub fn tx_tags(kind: &TxKind) -> (Option<&OrderId>, Option<&Memo>) {
    match kind {
        TxKind::Transfer { memo, .. }
        | TxKind::Redeem { memo, .. }
        | TxKind::Clawback { memo, .. } => (None, memo.as_ref()),
        TxKind::Pay { order_id, memo, .. } => (Some(order_id), memo.as_ref()),
        TxKind::EscrowCreate { order_id, .. } => (order_id.as_ref(), None),
        TxKind::PayPath { order_id, memo, .. } => (order_id.as_ref(), memo.as_ref()),
        _ => (None, None),
    }
}

/// The postings of a committed block: first its own events (the expiries
/// that ran as it began), then each committed transaction's, in block
/// order. Rejected transactions move nothing and post nothing.
pub fn block_postings(
    header: &BlockHeader,
    txs: &[Transaction],
    receipts: &[Receipt],
    block_events: &[Event],
) -> Vec<Posting> {
    let mut journal = Journal::new(header.height, header.timestamp_ms);
    let expiry = Origin {
        tx_hash: None,
        tx_index: None,
        kind: "LotExpired",
        order_id: None,
        memo: None,
    };
    for e in block_events {
        journal.event(&expiry, e);
    }
    for (i, (tx, receipt)) in txs.iter().zip(receipts).enumerate() {
        let (order_id, memo) = tx_tags(&tx.body.kind);
        let origin = Origin {
            tx_hash: Some(receipt.tx_hash),
            tx_index: u32::try_from(i).ok(),
            kind: tx.body.kind.name(),
            order_id,
            memo,
        };
        for e in receipt.events() {
            journal.event(&origin, e);
        }
    }
    journal.out
}

/// The postings of the genesis state: every balance it holds, issued.
pub fn genesis_postings(state: &StateMap, genesis_time_ms: u64) -> Vec<Posting> {
    let mut journal = Journal::new(0, genesis_time_ms);
    let origin = Origin {
        tx_hash: None,
        tx_index: None,
        kind: "Genesis",
        order_id: None,
        memo: None,
    };
    for (key, value) in state {
        if let (StateKey::Holding(who, sub, token), StateValue::Holding(h)) = (key, value) {
            journal.movement(
                &origin,
                token,
                PostingAccount::Issuance,
                PostingAccount::Account(*who, *sub),
                h.balance,
            );
        }
    }
    journal.out
}

/// Each (account, token)'s net over `postings`: credits minus debits.
pub fn net<'a>(
    postings: impl IntoIterator<Item = &'a Posting>,
) -> BTreeMap<(PostingAccount, Symbol), i128> {
    let mut out = BTreeMap::new();
    for p in postings {
        *out.entry((p.account, p.token)).or_insert(0) += p.signed();
    }
    out
}

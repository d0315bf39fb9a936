//! Lots: the expiring points of a holder (an account, an offer or an
//! escrow), expired before a block's transactions run and carried along,
//! earliest-expiring first, by every move of an expiring token.

use super::Ledger;
use super::exec::{Exec, Rejection, overflow, reject};
use super::overlay::Overlay;
use crate::block::Event;
use crate::reject::RejectCode;
use crate::state::take_soonest;
use crate::state::*;
use crate::tx::Symbol;

impl Ledger {
    /// Expires every lot whose time is at or before `now`, before any
    /// transaction of the block runs: the points leave their holder (a
    /// balance, an offer or an escrow) and are counted as `expired`. Only the
    /// expiring lots are touched.
    pub(super) fn expire_lots(&self, ov: &mut Overlay<'_>, now: u64) -> Vec<Event> {
        let mut events = Vec::new();
        for (exp, sym, holder) in self.lot_expiry.iter().take_while(|(e, _, _)| *e <= now) {
            match expire_lot(ov, *exp, sym, holder) {
                Some((event, closed)) => {
                    ov.commit_tx();
                    events.push(event);
                    events.extend(closed);
                }
                // Unreachable while the state is consistent: leave the lot.
                None => ov.rollback_tx(),
            }
        }
        events
    }
}

/// Expires one lot in its own scratch transaction, and says so in a block
/// event, with a second one when it closes an escrow; `None` leaves it (only
/// possible if the state were inconsistent).
fn expire_lot(
    ov: &mut Overlay<'_>,
    exp: u64,
    sym: &Symbol,
    holder: &LotHolder,
) -> Option<(Event, Option<Event>)> {
    let mut token = match ov.get(&StateKey::Token(*sym)) {
        Some(StateValue::Token(t)) => t.clone(),
        _ => return None,
    };
    let amount;
    let owner;
    let mut frozen = 0;
    let mut closed = None;
    match holder {
        LotHolder::Account(who) => {
            let key = StateKey::Holding(who.address, who.sub, *sym);
            let mut holding = match ov.get(&key) {
                Some(StateValue::Holding(h)) => h.clone(),
                _ => return None,
            };
            amount = holding.lots.expire(exp)?;
            owner = *who;
            holding.balance = holding.balance.checked_sub(amount)?;
            // The frozen points are the soonest lots': the expiring lot
            // holds them first.
            frozen = holding.frozen.min(amount);
            holding.frozen -= frozen;
            token.frozen = token.frozen.checked_sub(frozen)?;
            if holding.is_empty() {
                ov.delete(key);
            } else {
                ov.put(key, StateValue::Holding(holding));
            }
        }
        LotHolder::Offer(id) => {
            let mut offer = match ov.get(&StateKey::Offer(*id)) {
                Some(StateValue::Offer(o)) => o.clone(),
                _ => return None,
            };
            amount = offer.lots.expire(exp)?;
            owner = offer.owner;
            offer.remaining = offer.remaining.checked_sub(amount)?;
            token.locked_in_offers = token.locked_in_offers.checked_sub(amount)?;
            if offer.remaining == 0 {
                ov.delete(StateKey::BookEntry(
                    offer.sell,
                    offer.buy,
                    offer.price,
                    offer.id,
                ));
                ov.delete(StateKey::Offer(*id));
            } else {
                ov.put(StateKey::Offer(*id), StateValue::Offer(offer));
            }
        }
        LotHolder::Escrow(id) => {
            let mut escrow = match ov.get(&StateKey::Escrow(*id)) {
                Some(StateValue::Escrow(e)) if e.status == EscrowStatus::Open => e.clone(),
                _ => return None,
            };
            amount = escrow.lots.expire(exp)?;
            owner = escrow.payer;
            escrow.remaining = escrow.remaining.checked_sub(amount)?;
            token.locked_in_escrow = token.locked_in_escrow.checked_sub(amount)?;
            if escrow.remaining == 0 {
                escrow.status = EscrowStatus::Expired;
                closed = Some(Event::EscrowExpired {
                    escrow: *id,
                    token: *sym,
                    payer: escrow.payer,
                    payee: escrow.payee,
                });
            }
            ov.put(StateKey::Escrow(*id), StateValue::Escrow(escrow));
        }
    }
    token.expired = token.expired.checked_add(amount)?;
    ov.put(StateKey::Token(*sym), StateValue::Token(token));
    let expired = Event::LotExpired {
        token: *sym,
        holder: *holder,
        owner,
        amount,
        expires_at_ms: exp,
        frozen,
    };
    Some((expired, closed))
}

/// Points on the move: an amount and, for an expiring token, its lots,
/// soonest first, summing to the amount. A token that does not expire moves
/// with no lots.
#[derive(Debug, Default)]
pub(super) struct Parcel {
    pub(super) amount: u64,
    pub(super) lots: Vec<Lot>,
}

impl Parcel {
    /// Splits off the first `amount`: the soonest-expiring lots go first.
    /// `amount` must not exceed what the parcel holds.
    pub(super) fn split_front(&mut self, amount: u64) -> Parcel {
        let amount = amount.min(self.amount);
        self.amount -= amount;
        Parcel {
            amount,
            lots: take_soonest(&mut self.lots, amount),
        }
    }

    /// Adds another parcel of the same token, keeping the lots soonest
    /// first and merging lots of equal expiry.
    pub(super) fn join(&mut self, other: Parcel) -> Result<(), Rejection> {
        self.amount = self.amount.checked_add(other.amount).ok_or_else(overflow)?;
        for lot in other.lots {
            match self
                .lots
                .binary_search_by_key(&lot.expires_at_ms, |l| l.expires_at_ms)
            {
                Ok(i) => {
                    let held = &mut self.lots[i].amount;
                    *held = held.checked_add(lot.amount).ok_or_else(overflow)?;
                }
                Err(i) => self.lots.insert(i, lot),
            }
        }
        Ok(())
    }
}

impl Exec<'_, '_> {
    /// Takes `amount` out of a holder's lots, soonest first. What the holder
    /// holds (balance, offer or escrow record) is the caller's to update.
    pub(super) fn unlock(
        &mut self,
        lots: &mut Lots,
        token: &Symbol,
        amount: u64,
    ) -> Result<Parcel, Rejection> {
        if !self.expires(token)? {
            return Ok(Parcel {
                amount,
                lots: Vec::new(),
            });
        }
        match lots.take(amount) {
            Some(taken) => Ok(Parcel {
                amount,
                lots: taken,
            }),
            None => reject(RejectCode::InsufficientBalance),
        }
    }

    /// Takes `amount` out of a holder's lots after its first `skip` points
    /// (the frozen ones), soonest first.
    pub(super) fn unlock_after(
        &mut self,
        lots: &mut Lots,
        token: &Symbol,
        skip: u64,
        amount: u64,
    ) -> Result<Parcel, Rejection> {
        if skip == 0 || !self.expires(token)? {
            return self.unlock(lots, token, amount);
        }
        let kept = lots
            .take(skip)
            .ok_or((RejectCode::InsufficientBalance, None))?;
        let taken = lots.take(amount);
        lots.add(&kept).ok_or_else(overflow)?;
        match taken {
            Some(taken) => Ok(Parcel {
                amount,
                lots: taken,
            }),
            None => reject(RejectCode::InsufficientBalance),
        }
    }

    /// Adds a parcel's lots to a holder's, merging lots of equal expiry.
    pub(super) fn lock(lots: &mut Lots, parcel: &Parcel) -> Result<(), Rejection> {
        lots.add(&parcel.lots).ok_or_else(overflow)
    }
}

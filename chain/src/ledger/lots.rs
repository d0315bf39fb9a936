//! Lots: the expiring points of a holder (an account, an offer or an
//! escrow), expired before a block's transactions run and carried along,
//! earliest-expiring first, by every move of an expiring token.

use super::Ledger;
use super::exec::{Exec, Rejection, overflow, reject};
use super::overlay::Overlay;
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::Symbol;

impl Ledger {
    /// Expires every lot whose time is at or before `now`, before any
    /// transaction of the block runs: the points leave their holder (a
    /// balance, an offer or an escrow) and are counted as `expired`. Only the
    /// expiring lots are touched.
    pub(super) fn expire_lots(&self, ov: &mut Overlay<'_>, now: u64) {
        for (exp, sym, holder) in self.lot_expiry.iter().take_while(|(e, _, _)| *e <= now) {
            match expire_lot(ov, *exp, sym, holder) {
                Some(()) => ov.commit_tx(),
                // Unreachable while the state is consistent: leave the lot.
                None => ov.rollback_tx(),
            }
        }
    }
}

/// Expires one lot in its own scratch transaction; `None` leaves it (only
/// possible if the state were inconsistent).
fn expire_lot(ov: &mut Overlay<'_>, exp: u64, sym: &Symbol, holder: &LotHolder) -> Option<()> {
    let key = StateKey::Lot(*holder, *sym, exp);
    let amount = match ov.get(&key) {
        Some(StateValue::Lot(a)) => *a,
        _ => return None,
    };
    let mut token = match ov.get(&StateKey::Token(*sym)) {
        Some(StateValue::Token(t)) => t.clone(),
        _ => return None,
    };
    ov.delete(key);
    token.expired = token.expired.checked_add(amount)?;
    match holder {
        LotHolder::Account(who) => {
            let key = StateKey::Balance(*who, *sym);
            let balance = match ov.get(&key) {
                Some(StateValue::Balance(b)) => b.checked_sub(amount)?,
                _ => return None,
            };
            if balance == 0 {
                ov.delete(key);
            } else {
                ov.put(key, StateValue::Balance(balance));
            }
        }
        LotHolder::Offer(id) => {
            let mut offer = match ov.get(&StateKey::Offer(*id)) {
                Some(StateValue::Offer(o)) => o.clone(),
                _ => return None,
            };
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
            escrow.remaining = escrow.remaining.checked_sub(amount)?;
            token.locked_in_escrow = token.locked_in_escrow.checked_sub(amount)?;
            if escrow.remaining == 0 {
                escrow.status = EscrowStatus::Expired;
            }
            ov.put(StateKey::Escrow(*id), StateValue::Escrow(escrow));
        }
    }
    ov.put(StateKey::Token(*sym), StateValue::Token(token));
    Some(())
}

/// Points on the move: an amount and, for an expiring token, its lots
/// `(expires_at_ms, amount)`, soonest first, summing to the amount. A token
/// that does not expire moves with no lots.
#[derive(Debug, Default)]
pub(super) struct Parcel {
    pub(super) amount: u64,
    pub(super) lots: Vec<(u64, u64)>,
}

impl Parcel {
    /// Splits off the first `amount`: the soonest-expiring lots go first.
    /// `amount` must not exceed what the parcel holds.
    pub(super) fn split_front(&mut self, amount: u64) -> Parcel {
        let amount = amount.min(self.amount);
        self.amount -= amount;
        let mut taken = Vec::new();
        let mut need = amount;
        let mut used = 0;
        for lot in self.lots.iter_mut() {
            if need == 0 {
                break;
            }
            let t = lot.1.min(need);
            taken.push((lot.0, t));
            lot.1 -= t;
            need -= t;
            if lot.1 == 0 {
                used += 1;
            }
        }
        self.lots.drain(..used);
        Parcel {
            amount,
            lots: taken,
        }
    }
}

impl Exec<'_, '_> {
    /// Takes `amount` of a holder's lots, soonest first. The holder's amount
    /// (balance, offer or escrow record) is the caller's to update.
    pub(super) fn unlock(
        &mut self,
        holder: &LotHolder,
        token: &Symbol,
        amount: u64,
    ) -> Result<Parcel, Rejection> {
        if !self.expires(token)? {
            return Ok(Parcel {
                amount,
                lots: Vec::new(),
            });
        }
        let mut lots = Vec::new();
        let mut need = amount;
        for (k, v) in self.ov.range(
            &StateKey::Lot(*holder, *token, 0),
            &StateKey::Lot(*holder, *token, u64::MAX),
        ) {
            if need == 0 {
                break;
            }
            if let (StateKey::Lot(_, _, exp), StateValue::Lot(a)) = (k, v) {
                let t = (*a).min(need);
                lots.push((*exp, t, *a - t));
                need -= t;
            }
        }
        if need > 0 {
            return reject(RejectCode::InsufficientBalance);
        }
        for (exp, _, left) in &lots {
            let key = StateKey::Lot(*holder, *token, *exp);
            if *left == 0 {
                self.ov.delete(key);
            } else {
                self.ov.put(key, StateValue::Lot(*left));
            }
        }
        Ok(Parcel {
            amount,
            lots: lots.into_iter().map(|(exp, t, _)| (exp, t)).collect(),
        })
    }

    /// Adds a parcel's lots to a holder, merging lots of equal expiry.
    pub(super) fn lock(
        &mut self,
        holder: &LotHolder,
        token: &Symbol,
        parcel: Parcel,
    ) -> Result<(), Rejection> {
        for (exp, amount) in parcel.lots {
            let key = StateKey::Lot(*holder, *token, exp);
            let held = match self.ov.get(&key) {
                Some(StateValue::Lot(a)) => *a,
                _ => 0,
            };
            let total = held.checked_add(amount).ok_or_else(overflow)?;
            self.ov.put(key, StateValue::Lot(total));
        }
        Ok(())
    }
}

//! Moves between accounts: `Transfer`, `Pay` (split and combined payments),
//! `Refund` and `Redeem`.

use std::collections::BTreeMap;

use super::exec::{Exec, Rejection, overflow, reject};
use crate::block::Event;
use crate::crypto::Hash32;
use crate::encoding::BoundedVec;
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{AccountRef, OrderId, PayLeg, Symbol, pay_totals};

impl Exec<'_, '_> {
    pub(super) fn transfer(
        &mut self,
        token: &Symbol,
        to: &AccountRef,
        amount: u64,
    ) -> Result<(), Rejection> {
        self.token(token)?;
        self.check_open(to)?;
        let sender = self.payer();
        let parcel = self.debit(&sender, token, amount)?;
        self.credit(to, token, parcel)?;
        self.events.push(Event::Transferred {
            token: *token,
            from: sender,
            to: *to,
            amount,
        });
        Ok(())
    }

    /// A payment of one order, split among its legs, each in its own
    /// token: every leg is paid or none is.
    pub(super) fn pay(&mut self, order_id: &OrderId, legs: &[PayLeg]) -> Result<(), Rejection> {
        let totals = pay_totals(legs).ok_or_else(overflow)?;
        for (token, _) in &totals {
            self.token(token)?;
        }
        for leg in legs {
            self.check_open(&leg.to)?;
        }
        let order_key = self.check_order_unused(order_id)?;
        let sender = self.payer();
        let mut parcels = Vec::with_capacity(totals.len());
        for (token, total) in &totals {
            parcels.push(self.debit(&sender, token, *total)?);
        }
        let mut shares: BTreeMap<(AccountRef, Symbol), u64> = BTreeMap::new();
        for leg in legs {
            let i = totals
                .iter()
                .position(|(t, _)| *t == leg.token)
                .ok_or_else(overflow)?;
            // Legs take the soonest-expiring points first, in leg order.
            let part = parcels[i].split_front(leg.amount);
            self.credit(&leg.to, &leg.token, part)?;
            let s = shares.entry((leg.to, leg.token)).or_default();
            *s = s.checked_add(leg.amount).ok_or_else(overflow)?;
            self.events.push(Event::Transferred {
                token: leg.token,
                from: sender,
                to: leg.to,
                amount: leg.amount,
            });
        }
        let shares: Vec<PaymentShare> = shares
            .into_iter()
            .map(|((to, token), received)| PaymentShare {
                to,
                token,
                received,
                refunded: 0,
            })
            .collect();
        let record = PaymentRecord {
            payer: sender,
            order_id: order_id.clone(),
            height: self.height,
            shares: BoundedVec::new(shares).map_err(|_| (RejectCode::TooManyLegs, None))?,
        };
        self.ov
            .put(StateKey::Payment(self.hash), StateValue::Payment(record));
        self.ov.put(order_key, StateValue::Order(self.hash));
        for (token, total) in totals {
            self.events.push(Event::Paid {
                token,
                payer: sender,
                order_id: order_id.clone(),
                total,
            });
        }
        Ok(())
    }

    /// A receiver of a payment returns up to what it got of `token` from
    /// it, less earlier refunds, to the payer.
    pub(super) fn refund(
        &mut self,
        payment: &Hash32,
        token: &Symbol,
        amount: u64,
    ) -> Result<(), Rejection> {
        let mut record = match self.ov.get(&StateKey::Payment(*payment)) {
            Some(StateValue::Payment(p)) => p.clone(),
            _ => return reject(RejectCode::UnknownPayment),
        };
        let sender = self.payer();
        let mut shares = record.shares.clone().into_inner();
        let any_token = super::mutant::active(super::LedgerMutant::RefundAnyToken);
        let Some(share) = shares
            .iter_mut()
            .find(|s| s.to == sender && (s.token == *token || any_token))
        else {
            return reject(RejectCode::NotPaymentReceiver);
        };
        let remaining = share
            .received
            .checked_sub(share.refunded)
            .ok_or_else(overflow)?;
        if amount > remaining {
            return reject(RejectCode::RefundExceedsPayment);
        }
        share.refunded += amount;
        let parcel = self.debit(&sender, token, amount)?;
        let payer = if super::mutant::active(super::LedgerMutant::RefundToMainAccount) {
            AccountRef::main(record.payer.address)
        } else {
            record.payer
        };
        self.credit(&payer, token, parcel)?;
        self.events.push(Event::Refunded {
            token: *token,
            payment: *payment,
            from: sender,
            to: payer,
            amount,
        });
        record.shares = BoundedVec::new(shares).map_err(|_| (RejectCode::TooManyLegs, None))?;
        self.ov
            .put(StateKey::Payment(*payment), StateValue::Payment(record));
        Ok(())
    }

    pub(super) fn redeem(&mut self, token: &Symbol, amount: u64) -> Result<(), Rejection> {
        self.token(token)?;
        let sender = self.payer();
        self.debit(&sender, token, amount)?;
        self.update_token(token, |t| {
            t.redeemed = t.redeemed.checked_add(amount)?;
            Some(())
        })?;
        self.events.push(Event::Redeemed {
            token: *token,
            from: sender,
            amount,
        });
        Ok(())
    }
}

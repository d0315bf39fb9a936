//! Moves between accounts: `Transfer`, `Pay`, `Refund` and `Redeem`.

use std::collections::BTreeMap;

use super::exec::{Exec, Rejection, overflow, reject};
use crate::block::Event;
use crate::crypto::{Address, Hash32};
use crate::encoding::BoundedVec;
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{OrderId, PayLeg, Symbol};

impl Exec<'_, '_> {
    pub(super) fn transfer(
        &mut self,
        token: &Symbol,
        to: &Address,
        amount: u64,
    ) -> Result<(), Rejection> {
        self.token(token)?;
        let sender = self.sender;
        let parcel = self.debit(&sender, token, amount)?;
        self.credit(to, token, parcel)?;
        self.events.push(Event::Transferred {
            token: *token,
            from: self.sender,
            to: *to,
            amount,
        });
        Ok(())
    }

    pub(super) fn pay(
        &mut self,
        token: &Symbol,
        order_id: &OrderId,
        legs: &[PayLeg],
    ) -> Result<(), Rejection> {
        self.token(token)?;
        let order_key = self.check_order_unused(order_id)?;
        let total = legs
            .iter()
            .try_fold(0u64, |acc, l| acc.checked_add(l.amount))
            .ok_or_else(overflow)?;
        let sender = self.sender;
        let mut parcel = self.debit(&sender, token, total)?;
        let mut shares: BTreeMap<Address, u64> = BTreeMap::new();
        for leg in legs {
            // Legs take the soonest-expiring points first, in leg order.
            let part = parcel.split_front(leg.amount);
            self.credit(&leg.to, token, part)?;
            let s = shares.entry(leg.to).or_default();
            *s = s.checked_add(leg.amount).ok_or_else(overflow)?;
            self.events.push(Event::Transferred {
                token: *token,
                from: sender,
                to: leg.to,
                amount: leg.amount,
            });
        }
        let shares: Vec<PaymentShare> = shares
            .into_iter()
            .map(|(to, received)| PaymentShare {
                to,
                received,
                refunded: 0,
            })
            .collect();
        let record = PaymentRecord {
            payer: sender,
            token: *token,
            order_id: order_id.clone(),
            height: self.height,
            shares: BoundedVec::new(shares).map_err(|_| (RejectCode::TooManyLegs, None))?,
        };
        self.ov
            .put(StateKey::Payment(self.hash), StateValue::Payment(record));
        self.ov.put(order_key, StateValue::Order(self.hash));
        self.events.push(Event::Paid {
            token: *token,
            payer: sender,
            order_id: order_id.clone(),
            total,
        });
        Ok(())
    }

    pub(super) fn refund(&mut self, payment: &Hash32, amount: u64) -> Result<(), Rejection> {
        let mut record = match self.ov.get(&StateKey::Payment(*payment)) {
            Some(StateValue::Payment(p)) => p.clone(),
            _ => return reject(RejectCode::UnknownPayment),
        };
        let sender = self.sender;
        let mut shares = record.shares.clone().into_inner();
        let Some(share) = shares.iter_mut().find(|s| s.to == sender) else {
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
        let token = record.token;
        let parcel = self.debit(&sender, &token, amount)?;
        self.credit(&record.payer, &token, parcel)?;
        self.events.push(Event::Refunded {
            token,
            payment: *payment,
            from: sender,
            to: record.payer,
            amount,
        });
        record.shares = BoundedVec::new(shares).map_err(|_| (RejectCode::TooManyLegs, None))?;
        self.ov
            .put(StateKey::Payment(*payment), StateValue::Payment(record));
        Ok(())
    }

    pub(super) fn redeem(&mut self, token: &Symbol, amount: u64) -> Result<(), Rejection> {
        self.token(token)?;
        let sender = self.sender;
        self.debit(&sender, token, amount)?;
        self.update_token(token, |t| {
            t.redeemed = t.redeemed.checked_add(amount)?;
            Some(())
        })?;
        self.events.push(Event::Redeemed {
            token: *token,
            from: self.sender,
            amount,
        });
        Ok(())
    }
}

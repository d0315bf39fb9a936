//! Escrow: `EscrowCreate` locks points for a payee until `EscrowRelease`
//! pays them out or `EscrowRefund` returns them.

use super::exec::{Exec, Rejection, reject};
use crate::block::Event;
use crate::crypto::Hash32;
use crate::limits::MAX_ESCROW_DURATION_MS;
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{AccountRef, OrderId, Symbol};

impl Exec<'_, '_> {
    pub(super) fn escrow_create(
        &mut self,
        token: &Symbol,
        to: &AccountRef,
        amount: u64,
        deadline_ms: u64,
        order_id: Option<&OrderId>,
    ) -> Result<(), Rejection> {
        self.token(token)?;
        self.check_open(to)?;
        let ahead = deadline_ms.saturating_sub(self.time_ms);
        if ahead == 0 || ahead > MAX_ESCROW_DURATION_MS {
            return reject(RejectCode::InvalidDeadline);
        }
        let order_key = order_id.map(|o| self.check_order_unused(o)).transpose()?;
        let sender = self.payer();
        let id = self.hash;
        let parcel = self.debit(&sender, token, amount)?;
        let mut lots = Lots::default();
        Self::lock(&mut lots, &parcel)?;
        self.update_token(token, |t| {
            t.locked_in_escrow = t.locked_in_escrow.checked_add(amount)?;
            Some(())
        })?;
        let record = EscrowRecord {
            payer: sender,
            payee: *to,
            token: *token,
            amount,
            remaining: amount,
            deadline_ms,
            order_id: order_id.cloned(),
            height: self.height,
            status: EscrowStatus::Open,
            lots,
        };
        self.ov
            .put(StateKey::Escrow(id), StateValue::Escrow(record));
        if let Some(key) = order_key {
            self.ov.put(key, StateValue::Order(id));
        }
        self.events.push(Event::EscrowCreated {
            escrow: id,
            token: *token,
            payer: sender,
            payee: *to,
            amount,
            deadline_ms,
        });
        Ok(())
    }

    /// Releases an escrow to its payee, or refunds it to its payer.
    pub(super) fn escrow_close(&mut self, id: &Hash32, refund: bool) -> Result<(), Rejection> {
        let mut escrow = match self.ov.get(&StateKey::Escrow(*id)) {
            Some(StateValue::Escrow(e)) => e.clone(),
            _ => return reject(RejectCode::UnknownEscrow),
        };
        // Any of a party's accounts acts for it: the key is the address's.
        let sender = self.sender;
        let (payer, payee) = (escrow.payer.address, escrow.payee.address);
        if refund {
            if sender != payer && sender != payee {
                return reject(RejectCode::NotEscrowParty);
            }
        } else if sender != payer {
            return reject(RejectCode::NotEscrowPayer);
        }
        if escrow.status != EscrowStatus::Open {
            return reject(RejectCode::EscrowClosed);
        }
        // The payee may refund at any time; the payer only from the deadline on.
        if refund && sender != payee && self.time_ms < escrow.deadline_ms {
            return reject(RejectCode::DeadlineNotReached);
        }
        let amount = escrow.remaining;
        let to = if refund { escrow.payer } else { escrow.payee };
        let parcel = self.unlock(&mut escrow.lots, &escrow.token, amount)?;
        self.credit(&to, &escrow.token, parcel)?;
        self.update_token(&escrow.token, |t| {
            t.locked_in_escrow = t.locked_in_escrow.checked_sub(amount)?;
            Some(())
        })?;
        escrow.remaining = 0;
        escrow.status = if refund {
            EscrowStatus::Refunded
        } else {
            EscrowStatus::Released
        };
        let (token, payer, payee) = (escrow.token, escrow.payer, escrow.payee);
        self.ov
            .put(StateKey::Escrow(*id), StateValue::Escrow(escrow));
        let escrow = *id;
        self.events.push(if refund {
            Event::EscrowRefunded {
                escrow,
                token,
                payer,
                payee,
                amount,
            }
        } else {
            Event::EscrowReleased {
                escrow,
                token,
                payer,
                payee,
                amount,
            }
        });
        Ok(())
    }
}

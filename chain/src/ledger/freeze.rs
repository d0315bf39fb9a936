//! Frozen funds and clawback (DESIGN §12): `Freeze`, `Unfreeze` and
//! `Clawback`, each the token issuer's alone, each only on a token created
//! to allow it.
//!
//! A holding's frozen points are the first `frozen` of its lots, soonest
//! expiring first. Spending takes the lots after them; expiry takes the
//! soonest lot, frozen part first; clawback takes soonest first, so frozen
//! points before free ones.

use super::exec::{Exec, Rejection, overflow, reject};
use crate::block::Event;
use crate::reject::RejectCode;
use crate::state::TokenInfo;
use crate::tx::{AccountRef, Symbol};

impl Exec<'_, '_> {
    /// The token, if the sender issues it and `allowed` says its flags
    /// permit the action.
    fn issued_token(
        &self,
        token: &Symbol,
        allowed: impl Fn(&TokenInfo) -> bool,
        refused: RejectCode,
    ) -> Result<TokenInfo, Rejection> {
        let info = self.token(token)?;
        if info.issuer != self.sender && !super::mutant::active(super::LedgerMutant::AnyoneFreezes)
        {
            return reject(RejectCode::NotIssuer);
        }
        if !allowed(&info) {
            return reject(refused);
        }
        Ok(info)
    }

    /// `Freeze` (`freeze` true) or `Unfreeze` of `amount` of `account`'s
    /// points: the frozen part grows out of the free one, or shrinks back.
    pub(super) fn freeze(
        &mut self,
        token: &Symbol,
        account: &AccountRef,
        amount: u64,
        freeze: bool,
    ) -> Result<(), Rejection> {
        self.issued_token(token, |t| t.freezable, RejectCode::NotFreezable)?;
        let mut holding = self.holding(account, token);
        let (limit, short) = if freeze {
            (
                holding.balance - holding.frozen,
                RejectCode::InsufficientBalance,
            )
        } else {
            (holding.frozen, RejectCode::InsufficientFrozen)
        };
        if amount > limit {
            return reject(short);
        }
        let change = |frozen: u64| {
            if freeze {
                frozen.checked_add(amount)
            } else {
                frozen.checked_sub(amount)
            }
        };
        holding.frozen = change(holding.frozen).ok_or_else(overflow)?;
        self.update_token(token, |t| {
            t.frozen = change(t.frozen)?;
            Some(())
        })?;
        self.set_holding(account, token, holding);
        let (token, account) = (*token, *account);
        self.events.push(if freeze {
            Event::Frozen {
                token,
                account,
                amount,
            }
        } else {
            Event::Unfrozen {
                token,
                account,
                amount,
            }
        });
        Ok(())
    }

    pub(super) fn clawback(
        &mut self,
        token: &Symbol,
        from: &AccountRef,
        amount: u64,
    ) -> Result<(), Rejection> {
        self.issued_token(token, |t| t.clawback, RejectCode::ClawbackDisabled)?;
        let mut holding = self.holding(from, token);
        if amount > holding.balance {
            return reject(RejectCode::InsufficientBalance);
        }
        let frozen = holding.frozen.min(amount);
        holding.balance -= amount;
        holding.frozen -= frozen;
        // Soonest first: the frozen lots, then the free ones. The points
        // are burnt, so their lots go nowhere.
        self.unlock(&mut holding.lots, token, amount)?;
        self.update_token(token, |t| {
            t.clawed_back = t.clawed_back.checked_add(amount)?;
            t.frozen = t.frozen.checked_sub(frozen)?;
            Some(())
        })?;
        self.set_holding(from, token, holding);
        self.events.push(Event::ClawedBack {
            token: *token,
            from: *from,
            amount,
            frozen,
        });
        Ok(())
    }
}

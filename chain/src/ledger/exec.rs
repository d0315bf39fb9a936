//! One transaction's execution against the overlay: the dispatch by kind
//! and what every kind shares (tokens, balances, order ids, rejections).

use super::lots::Parcel;
use super::overlay::Overlay;
use super::path::PathPayment;
use crate::block::Event;
use crate::crypto::{Address, Hash32};
use crate::limits::MAX_SUB_ACCOUNTS;
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{AccountRef, OrderId, SubAccountLabel, Symbol, TxKind};

pub(super) type Rejection = (RejectCode, Option<Hash32>);

pub(super) fn reject<T>(code: RejectCode) -> Result<T, Rejection> {
    Err((code, None))
}

pub(super) fn overflow() -> Rejection {
    (RejectCode::Overflow, None)
}

/// One transaction's execution against the overlay.
pub(super) struct Exec<'o, 'a> {
    pub(super) ov: &'o mut Overlay<'a>,
    pub(super) sender: Address,
    /// The sender's account that pays: `TxBody::sub`, checked open.
    pub(super) sub: SubId,
    pub(super) height: u64,
    pub(super) time_ms: u64,
    pub(super) hash: Hash32,
    pub(super) events: Vec<Event>,
}

impl Exec<'_, '_> {
    pub(super) fn run(&mut self, kind: &TxKind) -> Result<(), Rejection> {
        match kind {
            TxKind::CreateToken { .. } => self.create_token(kind)?,
            TxKind::Mint { token, to, amount } => self.mint(token, to, *amount)?,
            TxKind::Transfer {
                token, to, amount, ..
            } => self.transfer(token, to, *amount)?,
            TxKind::Pay { order_id, legs, .. } => self.pay(order_id, legs)?,
            TxKind::Refund {
                payment,
                token,
                amount,
            } => self.refund(payment, token, *amount)?,
            TxKind::Redeem { token, amount, .. } => self.redeem(token, *amount)?,
            TxKind::PlaceOffer {
                sell,
                buy,
                amount,
                price,
            } => self.place_offer(sell, buy, *amount, price)?,
            TxKind::CancelOffer { offer_id } => self.cancel_offer(*offer_id)?,
            TxKind::EscrowCreate {
                token,
                to,
                amount,
                deadline_ms,
                order_id,
            } => self.escrow_create(token, to, *amount, *deadline_ms, order_id.as_ref())?,
            TxKind::EscrowRelease { id } => self.escrow_close(id, false)?,
            TxKind::EscrowRefund { id } => self.escrow_close(id, true)?,
            TxKind::Propose {
                action,
                voting_ends_height,
            } => self.propose(action, *voting_ends_height)?,
            TxKind::Vote { proposal, approve } => self.vote(*proposal, *approve)?,
            TxKind::Freeze {
                token,
                account,
                amount,
            } => self.freeze(token, account, *amount, true)?,
            TxKind::Unfreeze {
                token,
                account,
                amount,
            } => self.freeze(token, account, *amount, false)?,
            TxKind::Clawback {
                token,
                from,
                amount,
                ..
            } => self.clawback(token, from, *amount)?,
            TxKind::PayPath {
                send_token,
                send_max,
                dest_token,
                dest_amount,
                to,
                path,
                order_id,
                ..
            } => self.pay_path(PathPayment {
                route: super::path::route(send_token, path, dest_token),
                send_max: *send_max,
                dest_amount: *dest_amount,
                to,
                order_id: order_id.as_ref(),
            })?,
            TxKind::OpenSubAccount { label } => self.open_sub_account(label)?,
        }
        Ok(())
    }

    /// The sender's account that pays.
    pub(super) fn payer(&self) -> AccountRef {
        AccountRef::new(self.sender, self.sub)
    }

    /// Rejects with `UnknownSubAccount` unless the receiver `account` is an
    /// address itself or one of its opened sub-accounts.
    pub(super) fn check_open(&self, account: &AccountRef) -> Result<(), Rejection> {
        if super::mutant::active(super::LedgerMutant::PaysUnopenedSubAccount) {
            return Ok(());
        }
        self.check_opened(account)
    }

    /// [`Exec::check_open`] for the envelope's paying account.
    pub(super) fn check_payer_open(&self) -> Result<(), Rejection> {
        if super::mutant::active(super::LedgerMutant::SpendsUnopenedSubAccount) {
            return Ok(());
        }
        self.check_opened(&self.payer())
    }

    fn check_opened(&self, account: &AccountRef) -> Result<(), Rejection> {
        if account.sub == 0 || account.sub <= self.sub_accounts(&account.address) {
            Ok(())
        } else {
            reject(RejectCode::UnknownSubAccount)
        }
    }

    /// How many sub-accounts `address` has opened.
    pub(super) fn sub_accounts(&self, address: &Address) -> SubId {
        match self.ov.get(&StateKey::SubAccounts(*address)) {
            Some(StateValue::SubAccounts(n)) => *n,
            _ => 0,
        }
    }

    /// Opens the sender's next sub-account.
    fn open_sub_account(&mut self, label: &SubAccountLabel) -> Result<(), Rejection> {
        let opened = self.sub_accounts(&self.sender);
        if opened >= MAX_SUB_ACCOUNTS
            && !super::mutant::active(super::LedgerMutant::SubAccountsUnbounded)
        {
            return reject(RejectCode::TooManySubAccounts);
        }
        let sub = opened + 1;
        self.ov.put(
            StateKey::SubAccounts(self.sender),
            StateValue::SubAccounts(sub),
        );
        self.ov.put(
            StateKey::SubAccount(self.sender, sub),
            StateValue::SubAccount(SubAccountInfo {
                label: label.clone(),
                opened_height: self.height,
            }),
        );
        self.events.push(Event::SubAccountOpened {
            account: AccountRef::new(self.sender, sub),
            label: label.clone(),
        });
        Ok(())
    }

    /// Rejects with `DuplicateOrderId`, naming the original payment or
    /// escrow, if the sender used `order_id` before.
    pub(super) fn check_order_unused(&self, order_id: &OrderId) -> Result<StateKey, Rejection> {
        let order_key = StateKey::Order(self.sender, order_id.clone());
        if let Some(StateValue::Order(original)) = self.ov.get(&order_key) {
            return Err((RejectCode::DuplicateOrderId, Some(*original)));
        }
        Ok(order_key)
    }

    pub(super) fn token(&self, symbol: &Symbol) -> Result<TokenInfo, Rejection> {
        match self.ov.get(&StateKey::Token(*symbol)) {
            Some(StateValue::Token(t)) => Ok(t.clone()),
            _ => reject(RejectCode::UnknownToken),
        }
    }

    /// Changes a token's counters; `None` from `f` is an overflow.
    pub(super) fn update_token(
        &mut self,
        symbol: &Symbol,
        f: impl FnOnce(&mut TokenInfo) -> Option<()>,
    ) -> Result<(), Rejection> {
        let mut info = self.token(symbol)?;
        f(&mut info).ok_or_else(overflow)?;
        self.ov
            .put(StateKey::Token(*symbol), StateValue::Token(info));
        Ok(())
    }

    pub(super) fn expires(&self, symbol: &Symbol) -> Result<bool, Rejection> {
        match self.ov.get(&StateKey::Token(*symbol)) {
            Some(StateValue::Token(t)) => Ok(t.expiry_days.is_some()),
            _ => reject(RejectCode::UnknownToken),
        }
    }

    pub(super) fn holding(&self, who: &AccountRef, token: &Symbol) -> Holding {
        match self
            .ov
            .get(&StateKey::Holding(who.address, who.sub, *token))
        {
            Some(StateValue::Holding(h)) => h.clone(),
            _ => Holding::default(),
        }
    }

    pub(super) fn set_holding(&mut self, who: &AccountRef, token: &Symbol, holding: Holding) {
        let key = StateKey::Holding(who.address, who.sub, *token);
        if holding.is_empty() {
            self.ov.delete(key)
        } else {
            self.ov.put(key, StateValue::Holding(holding))
        }
    }

    /// Takes `amount` from an account's free points: the soonest-expiring
    /// lots after the frozen ones.
    pub(super) fn debit(
        &mut self,
        who: &AccountRef,
        token: &Symbol,
        amount: u64,
    ) -> Result<Parcel, Rejection> {
        let mut holding = self.holding(who, token);
        let frozen = if super::mutant::active(super::LedgerMutant::FrozenPointsMove) {
            0
        } else {
            holding.frozen
        };
        holding.balance = holding
            .balance
            .checked_sub(amount)
            .filter(|b| *b >= frozen)
            .ok_or((RejectCode::InsufficientBalance, None))?;
        let parcel = self.unlock_after(&mut holding.lots, token, frozen, amount)?;
        self.set_holding(who, token, holding);
        Ok(parcel)
    }

    /// Adds a parcel to an account's balance, keeping its lots' expiry.
    pub(super) fn credit(
        &mut self,
        who: &AccountRef,
        token: &Symbol,
        parcel: Parcel,
    ) -> Result<(), Rejection> {
        let mut holding = self.holding(who, token);
        holding.balance = holding
            .balance
            .checked_add(parcel.amount)
            .ok_or_else(overflow)?;
        Self::lock(&mut holding.lots, &parcel)?;
        self.set_holding(who, token, holding);
        Ok(())
    }
}

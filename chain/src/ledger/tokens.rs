//! Tokens: `CreateToken` and `Mint`.

use super::exec::{Exec, Rejection, overflow, reject};
use super::lots::Parcel;
use crate::block::Event;
use crate::crypto::Address;
use crate::limits::MS_PER_DAY;
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{AccountRef, Symbol, TxKind};

/// The entry the `CreateToken` `kind` makes, by `issuer` at `height`.
pub(super) fn new_token(kind: &TxKind, issuer: Address, height: u64) -> TokenInfo {
    let TxKind::CreateToken {
        symbol,
        name,
        decimals,
        max_supply,
        expiry_days,
        freezable,
        clawback,
    } = kind
    else {
        unreachable!("new_token is given the CreateToken it is called for");
    };
    TokenInfo {
        symbol: *symbol,
        name: name.clone(),
        decimals: *decimals,
        max_supply: *max_supply,
        expiry_days: *expiry_days,
        freezable: *freezable,
        clawback: *clawback,
        issuer,
        created_height: height,
        minted: 0,
        redeemed: 0,
        expired: 0,
        locked_in_offers: 0,
        locked_in_escrow: 0,
        frozen: 0,
        clawed_back: 0,
    }
}

impl Exec<'_, '_> {
    pub(super) fn create_token(&mut self, kind: &TxKind) -> Result<(), Rejection> {
        if self.ov.get(&StateKey::Merchant(self.sender)).is_none() {
            return reject(RejectCode::NotMerchant);
        }
        let info = new_token(kind, self.sender, self.height);
        let symbol = info.symbol;
        if self.ov.get(&StateKey::Token(symbol)).is_some() {
            return reject(RejectCode::TokenExists);
        }
        self.ov
            .put(StateKey::Token(symbol), StateValue::Token(info));
        self.events.push(Event::TokenCreated {
            token: symbol,
            issuer: self.sender,
        });
        Ok(())
    }

    pub(super) fn mint(
        &mut self,
        token: &Symbol,
        to: &AccountRef,
        amount: u64,
    ) -> Result<(), Rejection> {
        let mut info = self.token(token)?;
        if info.issuer != self.sender {
            return reject(RejectCode::NotIssuer);
        }
        self.check_open(to)?;
        info.minted = match info.minted.checked_add(amount) {
            Some(m) if m <= info.max_supply => m,
            _ => return reject(RejectCode::SupplyCapExceeded),
        };
        // Each mint of an expiring token is a lot that expires
        // `expiry_days` after the block time.
        let lots = match info.expiry_days {
            None => Vec::new(),
            Some(days) => {
                let expires_at_ms = u64::from(days)
                    .checked_mul(MS_PER_DAY)
                    .and_then(|d| d.checked_add(self.time_ms))
                    .ok_or_else(overflow)?;
                vec![Lot {
                    expires_at_ms,
                    amount,
                }]
            }
        };
        let parcel = Parcel { amount, lots };
        self.credit(to, token, parcel)?;
        self.ov
            .put(StateKey::Token(*token), StateValue::Token(info));
        self.events.push(Event::Minted {
            token: *token,
            to: *to,
            amount,
        });
        Ok(())
    }
}

//! Installing a final block's outcome: the state, its commitment, the tip
//! and the derived indexes, checked against the counters execution kept.

use std::collections::{BTreeMap, BTreeSet};

use super::{BlockOutcome, Ledger, SupplyAudit};
use crate::block::BlockHeader;
use crate::state::*;
use crate::tx::{AccountRef, Symbol};

impl Ledger {
    /// Installs the outcome of `block`, which must be the outcome of
    /// executing it on this tip.
    pub fn apply(&mut self, header: &BlockHeader, outcome: BlockOutcome) {
        assert_eq!(header.height, self.tip.height + 1, "blocks apply in order");
        assert_eq!(
            header.state_root, outcome.state_root,
            "outcome belongs to another block"
        );
        self.install(&outcome.changes);
        self.commitment.apply(outcome.delta);
        self.tip = header.clone();
        debug_assert!(
            self.audit().iter().all(SupplyAudit::holds),
            "supply invariant broken at height {}",
            header.height
        );
        #[cfg(debug_assertions)]
        if let Err(e) = self.check_consistency() {
            unreachable!("state inconsistent at height {}: {e}", header.height);
        }
    }

    pub(super) fn install(&mut self, changes: &StateChanges) {
        let mut touched: BTreeSet<Symbol> = BTreeSet::new();
        let mut holders: BTreeSet<(LotHolder, Symbol)> = BTreeSet::new();
        let mut note = |k: &StateKey, v: Option<&StateValue>| match (k, v) {
            (StateKey::Holding(a, sub, sym), _) => {
                touched.insert(*sym);
                holders.insert((LotHolder::Account(AccountRef::new(*a, *sub)), *sym));
            }
            (StateKey::Token(sym), _) => {
                touched.insert(*sym);
            }
            (StateKey::Offer(id), Some(StateValue::Offer(o))) => {
                touched.insert(o.sell);
                holders.insert((LotHolder::Offer(*id), o.sell));
            }
            (StateKey::Escrow(id), Some(StateValue::Escrow(e))) => {
                touched.insert(e.token);
                holders.insert((LotHolder::Escrow(*id), e.token));
            }
            _ => {}
        };
        for (k, v) in changes {
            note(k, v.as_ref());
            // One walk of the state per change: the old value comes back
            // from the insert or the removal.
            let old = match v {
                Some(v) => self.state.insert(k.clone(), v.clone()),
                None => self.state.remove(k),
            };
            if let Some(old) = old {
                note(k, Some(&old));
                self.index_remove(k, &old);
            }
            if let Some(v) = v {
                self.index_insert(k, v);
            }
        }
        // The counters kept by execution must agree with the balances, the
        // offers and the escrows.
        for sym in touched {
            let token = self.token(&sym);
            let expected = token
                .and_then(TokenInfo::expected_circulating)
                .map(u128::from);
            let actual = self.circulating.get(&sym).copied().unwrap_or(0);
            assert_eq!(expected, Some(actual), "supply invariant broken for {sym}");
            let get = |m: &BTreeMap<Symbol, u128>| m.get(&sym).copied().unwrap_or(0);
            let counted = (
                get(&self.locked_offers),
                get(&self.locked_escrow),
                get(&self.frozen),
            );
            let counters = token.map(|t| {
                (
                    u128::from(t.locked_in_offers),
                    u128::from(t.locked_in_escrow),
                    u128::from(t.frozen),
                )
            });
            assert_eq!(
                counters,
                Some(counted),
                "locked or frozen amounts broken for {sym}"
            );
        }
        // Every holder touched holds exactly the sum of its lots (none for a
        // token that does not expire).
        for (holder, sym) in holders {
            let sum: u128 = self
                .lots(&holder, &sym)
                .iter()
                .map(|(_, a)| u128::from(*a))
                .sum();
            let held = if self.expires(&sym) {
                u128::from(self.holder_amount(&holder, &sym))
            } else {
                0
            };
            assert_eq!(sum, held, "lots of {holder:?} in {sym} broken");
        }
    }

    pub(super) fn index_insert(&mut self, k: &StateKey, v: &StateValue) {
        match (k, v) {
            (StateKey::Nonce(a, n), StateValue::Nonce(exp)) => {
                self.nonce_expiry.insert((*exp, *a, *n));
            }
            (StateKey::Holding(a, sub, sym), StateValue::Holding(h)) => {
                let c = self.circulating.entry(*sym).or_default();
                *c += u128::from(h.balance - h.frozen.min(h.balance));
                if h.frozen > 0 {
                    *self.frozen.entry(*sym).or_default() += u128::from(h.frozen);
                }
                self.index_lots(
                    LotHolder::Account(AccountRef::new(*a, *sub)),
                    *sym,
                    &h.lots,
                    true,
                );
            }
            (StateKey::Offer(id), StateValue::Offer(o)) => {
                self.offers_by_owner.insert((o.owner.address, *id));
                *self.locked_offers.entry(o.sell).or_default() += u128::from(o.remaining);
                self.index_lots(LotHolder::Offer(*id), o.sell, &o.lots, true);
            }
            (StateKey::Escrow(id), StateValue::Escrow(e)) if e.status == EscrowStatus::Open => {
                self.escrows_by_party.insert((e.payer.address, *id));
                self.escrows_by_party.insert((e.payee.address, *id));
                *self.locked_escrow.entry(e.token).or_default() += u128::from(e.remaining);
                self.index_lots(LotHolder::Escrow(*id), e.token, &e.lots, true);
            }
            _ => {}
        }
    }

    fn index_remove(&mut self, k: &StateKey, v: &StateValue) {
        match (k, v) {
            (StateKey::Nonce(a, n), StateValue::Nonce(exp)) => {
                self.nonce_expiry.remove(&(*exp, *a, *n));
            }
            (StateKey::Holding(a, sub, sym), StateValue::Holding(h)) => {
                let c = self.circulating.entry(*sym).or_default();
                *c -= u128::from(h.balance - h.frozen.min(h.balance));
                if h.frozen > 0 {
                    *self.frozen.entry(*sym).or_default() -= u128::from(h.frozen);
                }
                self.index_lots(
                    LotHolder::Account(AccountRef::new(*a, *sub)),
                    *sym,
                    &h.lots,
                    false,
                );
            }
            (StateKey::Offer(id), StateValue::Offer(o)) => {
                self.offers_by_owner.remove(&(o.owner.address, *id));
                *self.locked_offers.entry(o.sell).or_default() -= u128::from(o.remaining);
                self.index_lots(LotHolder::Offer(*id), o.sell, &o.lots, false);
            }
            (StateKey::Escrow(id), StateValue::Escrow(e)) if e.status == EscrowStatus::Open => {
                self.escrows_by_party.remove(&(e.payer.address, *id));
                self.escrows_by_party.remove(&(e.payee.address, *id));
                *self.locked_escrow.entry(e.token).or_default() -= u128::from(e.remaining);
                self.index_lots(LotHolder::Escrow(*id), e.token, &e.lots, false);
            }
            _ => {}
        }
    }

    /// Adds a holder's lots to the expiry index, or takes them out of it.
    fn index_lots(&mut self, holder: LotHolder, sym: Symbol, lots: &Lots, add: bool) {
        for lot in lots.as_slice() {
            let entry = (lot.expires_at_ms, sym, holder);
            if add {
                self.lot_expiry.insert(entry);
            } else {
                self.lot_expiry.remove(&entry);
            }
        }
    }
}

//! Questions about the committed state, and the audits that count it
//! independently of the counters kept during execution.

use std::collections::BTreeMap;

use super::Ledger;
use crate::block::BlockHeader;
use crate::crypto::{Address, Hash32};
use crate::state::*;
use crate::tx::{AccountRef, AsAccount, ChainId, Price, Symbol};

/// A token's supply, counted two ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplyAudit {
    pub token: Symbol,
    pub minted: u64,
    /// The sum of all balances less their frozen parts.
    pub circulating: u64,
    /// The sum of the frozen parts.
    pub frozen: u64,
    pub locked_in_offers: u64,
    pub locked_in_escrow: u64,
    pub redeemed: u64,
    pub expired: u64,
    pub clawed_back: u64,
    /// A sum of balances, offers or escrows did not fit in a `u64`: the state
    /// holds more than could ever be minted, so the audit fails. The summed
    /// fields then show `u64::MAX`.
    pub overflowed: bool,
}

/// What an account has locked in one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub token: Symbol,
    /// In the account's open offers.
    pub in_offers: u64,
    /// In the open escrows the account paid into.
    pub in_escrow: u64,
}

/// A lot of an account's spendable points that expires at `expires_at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiringLot {
    pub token: Symbol,
    pub expires_at_ms: u64,
    pub amount: u64,
}

impl SupplyAudit {
    /// `minted = circulating + frozen + locked_in_offers + locked_in_escrow
    /// + redeemed + expired + clawed_back` (DESIGN §12).
    pub fn holds(&self) -> bool {
        !self.overflowed
            && [
                self.circulating,
                self.frozen,
                self.locked_in_offers,
                self.locked_in_escrow,
                self.redeemed,
                self.expired,
                self.clawed_back,
            ]
            .iter()
            .try_fold(0u64, |acc, x| acc.checked_add(*x))
                == Some(self.minted)
    }
}

impl Ledger {
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    pub fn tip(&self) -> &BlockHeader {
        &self.tip
    }

    pub fn height(&self) -> u64 {
        self.tip.height
    }

    /// The root of the commitment as it stands, computed from the data.
    pub fn state_root(&self) -> Hash32 {
        self.commitment.root()
    }

    pub fn state(&self) -> &StateMap {
        &self.state
    }

    /// `key`'s value in canonical bytes (`None`: no entry) and the proof of
    /// it against [`Ledger::state_root`], which the tip's header carries.
    pub fn prove(
        &self,
        key: &StateKey,
    ) -> Result<(Option<Vec<u8>>, crate::commitment::StateProof), crate::commitment::ProofError>
    {
        let bytes = crate::encoding::encode(key);
        let proof = self.commitment.prove(&bytes)?;
        Ok((self.state.get(key).map(crate::encoding::encode), proof))
    }

    /// Each key's entry, or its absence, with its proof against
    /// [`Ledger::state_root`]: the entries of a [`crate::proof::EntriesProof`].
    pub fn prove_entries(
        &self,
        keys: &[StateKey],
    ) -> Result<Vec<crate::proof::ProvenEntry>, crate::commitment::ProofError> {
        keys.iter()
            .map(|key| {
                let proof = self.commitment.prove(&crate::encoding::encode(key))?;
                Ok(crate::proof::ProvenEntry {
                    key: key.clone(),
                    value: self.state.get(key).cloned(),
                    proof,
                })
            })
            .collect()
    }

    /// The state commitment at the tip: what past proofs start from.
    pub fn commitment(&self) -> &crate::commitment::StateCommitment {
        &self.commitment
    }

    /// The consensus parameters in force after the tip.
    pub fn consensus_params(&self) -> crate::params::ConsensusParams {
        match self.state.get(&StateKey::ConsensusParams) {
            Some(StateValue::ConsensusParams(p)) => *p,
            // Every genesis writes them; a ledger built from bare entries
            // (tests) runs with the defaults.
            _ => crate::params::ConsensusParams::default(),
        }
    }

    /// What `who` may spend of `token`: its balance less the frozen part.
    pub fn balance(&self, who: &impl AsAccount, token: &Symbol) -> u64 {
        self.holding(who, token)
            .map_or(0, |h| h.balance.saturating_sub(h.frozen))
    }

    /// What the issuer has frozen of `who`'s `token`.
    pub fn frozen(&self, who: &impl AsAccount, token: &Symbol) -> u64 {
        self.holding(who, token).map_or(0, |h| h.frozen)
    }

    /// Every token account `sub` of `who` holds, by symbol.
    pub fn holdings(&self, who: &Address, sub: SubId) -> impl Iterator<Item = (Symbol, &Holding)> {
        self.state
            .range(
                StateKey::Holding(*who, sub, Symbol::MIN)
                    ..=StateKey::Holding(*who, sub, Symbol::MAX),
            )
            .filter_map(|(k, v)| match (k, v) {
                (StateKey::Holding(_, _, sym), StateValue::Holding(h)) => Some((*sym, h)),
                _ => None,
            })
    }

    /// What `who` holds of `token`: its balance, the frozen part and its lots.
    /// What an account (or sub-account) holds of `token`.
    pub fn holding(&self, who: &impl AsAccount, token: &Symbol) -> Option<&Holding> {
        let who = who.as_account();
        match self
            .state
            .get(&StateKey::Holding(who.address, who.sub, *token))
        {
            Some(StateValue::Holding(h)) => Some(h),
            _ => None,
        }
    }

    /// How many sub-accounts `who` has opened: they are `1..=` this.
    pub fn sub_accounts(&self, who: &Address) -> SubId {
        match self.state.get(&StateKey::SubAccounts(*who)) {
            Some(StateValue::SubAccounts(n)) => *n,
            _ => 0,
        }
    }

    /// Sub-account `sub` of `who`, if opened.
    pub fn sub_account(&self, who: &Address, sub: SubId) -> Option<&SubAccountInfo> {
        match self.state.get(&StateKey::SubAccount(*who, sub)) {
            Some(StateValue::SubAccount(s)) => Some(s),
            _ => None,
        }
    }

    pub fn token(&self, symbol: &Symbol) -> Option<&TokenInfo> {
        match self.state.get(&StateKey::Token(*symbol)) {
            Some(StateValue::Token(t)) => Some(t),
            _ => None,
        }
    }

    /// Every token, by symbol. The token entries sit together in the
    /// state's key order, right after the merchants', so this reads them
    /// alone, whatever else the state holds.
    pub fn tokens(&self) -> impl Iterator<Item = &TokenInfo> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.state
            .range((Excluded(StateKey::Merchant(Address::MAX)), Unbounded))
            .map_while(|(k, v)| match (k, v) {
                (StateKey::Token(_), StateValue::Token(t)) => Some(t),
                _ => None,
            })
    }

    pub fn is_merchant(&self, who: &Address) -> bool {
        self.state.contains_key(&StateKey::Merchant(*who))
    }

    pub fn payment(&self, id: &Hash32) -> Option<&PaymentRecord> {
        match self.state.get(&StateKey::Payment(*id)) {
            Some(StateValue::Payment(p)) => Some(p),
            _ => None,
        }
    }

    /// An open offer.
    pub fn offer(&self, id: u64) -> Option<&OfferRecord> {
        match self.state.get(&StateKey::Offer(id)) {
            Some(StateValue::Offer(o)) => Some(o),
            _ => None,
        }
    }

    /// The open offers selling `sell` for `buy`, in match order: the lowest
    /// price (fewest `buy` asked per `sell`) first, then the oldest.
    pub fn order_book(&self, sell: &Symbol, buy: &Symbol) -> impl Iterator<Item = &OfferRecord> {
        self.state
            .range(
                StateKey::BookEntry(*sell, *buy, Price::MIN, 0)
                    ..=StateKey::BookEntry(*sell, *buy, Price::MAX, u64::MAX),
            )
            .filter_map(|(k, _)| match k {
                StateKey::BookEntry(_, _, _, id) => self.offer(*id),
                _ => None,
            })
    }

    /// The open offers of `owner`, oldest first.
    pub fn offers_of(&self, owner: &Address) -> impl Iterator<Item = &OfferRecord> {
        self.offers_by_owner
            .range((*owner, 0)..=(*owner, u64::MAX))
            .filter_map(|(_, id)| self.offer(*id))
    }

    /// An escrow, open or closed, by the hash of the transaction that created it.
    pub fn escrow(&self, id: &Hash32) -> Option<&EscrowRecord> {
        match self.state.get(&StateKey::Escrow(*id)) {
            Some(StateValue::Escrow(e)) => Some(e),
            _ => None,
        }
    }

    /// The open escrows `who` pays into or is the payee of, by id.
    pub fn escrows_of(&self, who: &Address) -> impl Iterator<Item = (Hash32, &EscrowRecord)> {
        self.escrows_by_party
            .range((*who, Hash32::ZERO)..=(*who, Hash32([0xff; 32])))
            .filter_map(|(_, id)| self.escrow(id).map(|e| (*id, e)))
    }

    /// What `who` has locked, per token: in its open offers and in the open
    /// escrows it paid into. Tokens with nothing locked are left out.
    /// What an account (or sub-account) has locked in offers and escrows.
    pub fn locked(&self, who: &impl AsAccount) -> Vec<Locked> {
        let who = who.as_account();
        let mut out: BTreeMap<Symbol, Locked> = BTreeMap::new();
        let new = |token| Locked {
            token,
            in_offers: 0,
            in_escrow: 0,
        };
        for o in self.offers_of(&who.address).filter(|o| o.owner == who) {
            let l = out.entry(o.sell).or_insert_with(|| new(o.sell));
            l.in_offers = l.in_offers.saturating_add(o.remaining);
        }
        for (_, e) in self.escrows_of(&who.address) {
            if e.payer == who && e.status == EscrowStatus::Open {
                let l = out.entry(e.token).or_insert_with(|| new(e.token));
                l.in_escrow = l.in_escrow.saturating_add(e.remaining);
            }
        }
        out.into_values()
            .filter(|l| l.in_offers > 0 || l.in_escrow > 0)
            .collect()
    }

    /// The lots of `holder` in `token`, `(expires_at_ms, amount)`, soonest
    /// first. Empty for a token that does not expire.
    pub fn lots(&self, holder: &LotHolder, token: &Symbol) -> Vec<(u64, u64)> {
        let lots = match holder {
            LotHolder::Account(a) => self.holding(a, token).map(|h| &h.lots),
            LotHolder::Offer(id) => self
                .offer(*id)
                .filter(|o| o.sell == *token)
                .map(|o| &o.lots),
            LotHolder::Escrow(id) => self
                .escrow(id)
                .filter(|e| e.token == *token)
                .map(|e| &e.lots),
        };
        lots.map_or(&[][..], Lots::as_slice)
            .iter()
            .map(|l| (l.expires_at_ms, l.amount))
            .collect()
    }

    /// The expiring points in `who`'s balances, soonest first (ties by token).
    /// Points locked in offers and escrows are not included.
    pub fn expiring(&self, who: &impl AsAccount) -> Vec<ExpiringLot> {
        let AccountRef { address, sub } = who.as_account();
        let mut out: Vec<ExpiringLot> = self
            .state
            .range(
                StateKey::Holding(address, sub, Symbol::MIN)
                    ..=StateKey::Holding(address, sub, Symbol::MAX),
            )
            .filter_map(|(k, v)| match (k, v) {
                (StateKey::Holding(_, _, token), StateValue::Holding(h)) => Some((*token, h)),
                _ => None,
            })
            .flat_map(|(token, h)| {
                h.lots.as_slice().iter().map(move |l| ExpiringLot {
                    token,
                    expires_at_ms: l.expires_at_ms,
                    amount: l.amount,
                })
            })
            .collect();
        out.sort_by_key(|l| (l.expires_at_ms, l.token));
        out
    }

    /// Counts every token's supply from the state itself, independently of
    /// the counters kept during execution: circulating from the balances, the
    /// locked amounts from the open offers and escrows. `minted`, `redeemed`
    /// and `expired` are the token's counters.
    pub fn audit(&self) -> Vec<SupplyAudit> {
        // Summed in u128: a bug that created value must not hide behind a
        // saturated sum that happens to equal `minted`.
        let mut circulating: BTreeMap<Symbol, u128> = BTreeMap::new();
        let mut frozen: BTreeMap<Symbol, u128> = BTreeMap::new();
        let mut in_offers: BTreeMap<Symbol, u128> = BTreeMap::new();
        let mut in_escrow: BTreeMap<Symbol, u128> = BTreeMap::new();
        let add = |m: &mut BTreeMap<Symbol, u128>, sym: Symbol, x: u64| {
            *m.entry(sym).or_default() += u128::from(x);
        };
        for (k, v) in &self.state {
            match (k, v) {
                (StateKey::Holding(_, _, sym), StateValue::Holding(h)) => {
                    add(&mut circulating, *sym, h.balance.saturating_sub(h.frozen));
                    add(&mut frozen, *sym, h.frozen);
                }
                (StateKey::Offer(_), StateValue::Offer(o)) => {
                    add(&mut in_offers, o.sell, o.remaining)
                }
                (StateKey::Escrow(_), StateValue::Escrow(e)) if e.status == EscrowStatus::Open => {
                    add(&mut in_escrow, e.token, e.remaining)
                }
                _ => {}
            }
        }
        let get = |m: &BTreeMap<Symbol, u128>, sym: &Symbol| m.get(sym).copied().unwrap_or(0);
        self.tokens()
            .map(|t| {
                let sums = [
                    get(&circulating, &t.symbol),
                    get(&frozen, &t.symbol),
                    get(&in_offers, &t.symbol),
                    get(&in_escrow, &t.symbol),
                ];
                let [circulating, frozen, locked_in_offers, locked_in_escrow] =
                    sums.map(|x| u64::try_from(x).unwrap_or(u64::MAX));
                SupplyAudit {
                    token: t.symbol,
                    minted: t.minted,
                    circulating,
                    frozen,
                    locked_in_offers,
                    locked_in_escrow,
                    redeemed: t.redeemed,
                    expired: t.expired,
                    clawed_back: t.clawed_back,
                    overflowed: sums.iter().any(|x| *x > u128::from(u64::MAX)),
                }
            })
            .collect()
    }

    /// Checks every cross-entry rule of the state: the token counters against
    /// the offers and escrows, the book against the offers, the lots against
    /// their holders, and that no lot outlived the tip's time. A full scan;
    /// debug builds run it after every block.
    pub fn check_consistency(&self) -> Result<(), String> {
        let mut frozen: BTreeMap<Symbol, u128> = BTreeMap::new();
        let mut in_offers: BTreeMap<Symbol, u128> = BTreeMap::new();
        let mut in_escrow: BTreeMap<Symbol, u128> = BTreeMap::new();
        let mut book = 0usize;
        let mut offers = 0usize;
        let now = self.tip.timestamp_ms;
        // A holder's lots keep their rules, none outlived the tip's time, and
        // they sum to what it holds (nothing for a token that does not expire).
        let check_lots = |what: &dyn std::fmt::Display, sym: &Symbol, held: u64, lots: &Lots| {
            let expected = if self.expires(sym) { held } else { 0 };
            let stale = lots
                .as_slice()
                .first()
                .is_some_and(|l| l.expires_at_ms <= now);
            if !lots.well_formed() || stale || lots.sum() != u128::from(expected) {
                return Err(format!(
                    "{what} holds {held} {sym} but its lots are {lots:?}"
                ));
            }
            Ok(())
        };
        for (k, v) in &self.state {
            match (k, v) {
                (StateKey::Offer(id), StateValue::Offer(o)) => {
                    offers += 1;
                    if o.id != *id || o.remaining == 0 || o.price != o.price.reduced() {
                        return Err(format!("offer {id} is malformed: {o:?}"));
                    }
                    let entry = StateKey::BookEntry(o.sell, o.buy, o.price, o.id);
                    if self.state.get(&entry) != Some(&StateValue::BookEntry) {
                        return Err(format!("offer {id} is not in the book"));
                    }
                    *in_offers.entry(o.sell).or_default() += u128::from(o.remaining);
                    check_lots(&format_args!("offer {id}"), &o.sell, o.remaining, &o.lots)?;
                }
                (StateKey::BookEntry(sell, buy, price, id), StateValue::BookEntry) => {
                    book += 1;
                    match self.offer(*id) {
                        Some(o) if o.sell == *sell && o.buy == *buy && o.price == *price => {}
                        _ => return Err(format!("book entry {id} has no matching offer")),
                    }
                }
                (StateKey::Escrow(id), StateValue::Escrow(e)) => {
                    if e.status == EscrowStatus::Open {
                        *in_escrow.entry(e.token).or_default() += u128::from(e.remaining);
                    } else if e.remaining != 0 {
                        return Err(format!("closed escrow {id} still holds {}", e.remaining));
                    }
                    check_lots(&format_args!("escrow {id}"), &e.token, e.remaining, &e.lots)?;
                }
                (StateKey::Holding(who, sub, sym), StateValue::Holding(h)) => {
                    if h.is_empty() || h.frozen > h.balance {
                        return Err(format!("holding {who}/{sub} {sym} is malformed: {h:?}"));
                    }
                    if *sub > self.sub_accounts(who) {
                        return Err(format!("{who}/{sub} holds {sym} but was never opened"));
                    }
                    *frozen.entry(*sym).or_default() += u128::from(h.frozen);
                    check_lots(&format_args!("{who}/{sub}"), sym, h.balance, &h.lots)?;
                }
                // Sub-accounts are exactly 1..=count, each with its entry.
                (StateKey::SubAccounts(who), StateValue::SubAccounts(n)) => {
                    if *n == 0 || *n > crate::limits::MAX_SUB_ACCOUNTS {
                        return Err(format!("{who} counts {n} sub-accounts"));
                    }
                    if let Some(sub) = (1..=*n).find(|s| self.sub_account(who, *s).is_none()) {
                        return Err(format!("{who}/{sub} is counted but has no entry"));
                    }
                }
                (StateKey::SubAccount(who, sub), StateValue::SubAccount(_))
                    if *sub == 0 || *sub > self.sub_accounts(who) =>
                {
                    return Err(format!("{who}/{sub} has an entry but is not counted"));
                }
                _ => {}
            }
        }
        if book != offers {
            return Err(format!("{book} book entries for {offers} offers"));
        }
        for t in self.tokens() {
            let o = in_offers.get(&t.symbol).copied().unwrap_or(0);
            let e = in_escrow.get(&t.symbol).copied().unwrap_or(0);
            let f = frozen.get(&t.symbol).copied().unwrap_or(0);
            if f != u128::from(t.frozen) {
                return Err(format!(
                    "{}: the counter says {} frozen, holdings hold {f}",
                    t.symbol, t.frozen
                ));
            }
            if o != u128::from(t.locked_in_offers) || e != u128::from(t.locked_in_escrow) {
                return Err(format!(
                    "{}: counters say {} in offers and {} in escrow, records hold {o} and {e}",
                    t.symbol, t.locked_in_offers, t.locked_in_escrow
                ));
            }
        }
        if self.offers_by_owner.len() != offers {
            return Err("the offers-by-owner index is stale".to_string());
        }
        let indexed: usize = self
            .state
            .values()
            .map(|v| match v {
                StateValue::Holding(h) => h.lots.as_slice().len(),
                StateValue::Offer(o) => o.lots.as_slice().len(),
                StateValue::Escrow(e) => e.lots.as_slice().len(),
                _ => 0,
            })
            .sum();
        if self.lot_expiry.len() != indexed {
            return Err(format!(
                "the lot expiry index holds {} lots, the state {indexed}",
                self.lot_expiry.len()
            ));
        }
        Ok(())
    }

    pub(super) fn expires(&self, sym: &Symbol) -> bool {
        self.token(sym).is_some_and(|t| t.expiry_days.is_some())
    }

    /// What a lot holder holds of `sym`: a balance, an offer's remaining
    /// amount or an open escrow's amount.
    pub(super) fn holder_amount(&self, holder: &LotHolder, sym: &Symbol) -> u64 {
        match holder {
            LotHolder::Account(a) => self.holding(a, sym).map_or(0, |h| h.balance),
            LotHolder::Offer(id) => self
                .offer(*id)
                .filter(|o| o.sell == *sym)
                .map_or(0, |o| o.remaining),
            LotHolder::Escrow(id) => self
                .escrow(id)
                .filter(|e| e.token == *sym && e.status == EscrowStatus::Open)
                .map_or(0, |e| e.remaining),
        }
    }
}

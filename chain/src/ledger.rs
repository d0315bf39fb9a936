//! The ledger state machine: executes blocks of transactions deterministically.
//!
//! `execute_block` reads the committed state and returns receipts, the state
//! changes and the new state root without changing anything; `apply` installs
//! an outcome once its block is final. A rejected transaction changes no
//! ledger entry. A transaction that passes the envelope checks (chain, signature,
//! TTL, unused nonce) consumes its nonce even when its kind is rejected, so the
//! same signed bytes can never succeed later (see `docs/adr/003-rejected-transactions.md`).
//!
//! Exchange, escrow and expiring points follow `docs/adr/004-exchange-escrow-expiry.md`:
//! each block first expires the lots whose time has come, then runs its
//! transactions; locked points live in offers and escrows, and every move of an
//! expiring token carries its lots along, earliest-expiring first.

use std::collections::{BTreeMap, BTreeSet};

use crate::block::{Block, BlockHeader, Event, Receipt, TxOutcome, receipts_root, tx_root};
use crate::commitment::{CommitmentDelta, StateCommitment};
use crate::crypto::{Address, Hash32};
use crate::encoding::{self, BoundedVec};
use crate::limits::{MAX_ESCROW_DURATION_MS, MAX_OFFERS_CROSSED, MAX_TX_TTL_BLOCKS, MS_PER_DAY};
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{ChainId, OrderId, PayLeg, Price, Symbol, Transaction, TxKind, verify_signatures};

/// What a block is executed against: its height and its time, both chosen by
/// the proposer and agreed by consensus. The ledger never reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockContext {
    pub height: u64,
    pub timestamp_ms: u64,
}

/// The result of executing a block, ready to be stored and applied.
#[derive(Debug, Clone)]
pub struct BlockOutcome {
    pub height: u64,
    pub receipts: Vec<Receipt>,
    pub changes: StateChanges,
    /// `changes` in canonical bytes, for storage.
    pub encoded_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub state_root: Hash32,
    delta: CommitmentDelta,
}

/// Why a proposed block cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block height {got} does not follow {tip}")]
    WrongHeight { tip: u64, got: u64 },
    #[error("block is for chain `{0}`")]
    WrongChain(String),
    #[error("parent hash {got} is not the tip {expected}")]
    WrongParent { expected: Hash32, got: Hash32 },
    #[error("block time {got} ms is before its parent's {parent} ms")]
    TimeWentBack { parent: u64, got: u64 },
    #[error("{field} mismatch: header says {claimed}, execution gives {computed}")]
    RootMismatch {
        field: &'static str,
        claimed: Hash32,
        computed: Hash32,
    },
}

/// Errors in a genesis state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    #[error("merchant {0} is listed twice")]
    DuplicateMerchant(Address),
    #[error("token {0} is listed twice")]
    DuplicateToken(Symbol),
    #[error("token {token}: {code}")]
    InvalidToken { token: Symbol, code: RejectCode },
    #[error("token {0} is issued by {1}, which is not a merchant")]
    IssuerNotMerchant(Symbol, Address),
    #[error("balance of {0} refers to unknown token {1}")]
    UnknownToken(Address, Symbol),
    #[error("initial balances of {0} exceed its maximum supply")]
    OverCap(Symbol),
}

/// The initial state a chain starts from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GenesisState {
    pub merchants: Vec<(Address, MerchantInfo)>,
    pub tokens: Vec<GenesisToken>,
    pub balances: Vec<(Address, Symbol, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisToken {
    pub symbol: Symbol,
    pub name: crate::tx::TokenName,
    pub decimals: u8,
    pub max_supply: u64,
    pub expiry_days: Option<u32>,
    pub issuer: Address,
}

/// A token's supply, counted two ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplyAudit {
    pub token: Symbol,
    pub minted: u64,
    /// The sum of all balances.
    pub circulating: u64,
    pub locked_in_offers: u64,
    pub locked_in_escrow: u64,
    pub redeemed: u64,
    pub expired: u64,
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
    /// `minted = circulating + locked_in_offers + locked_in_escrow + redeemed + expired`.
    pub fn holds(&self) -> bool {
        !self.overflowed
            && [
                self.circulating,
                self.locked_in_offers,
                self.locked_in_escrow,
                self.redeemed,
                self.expired,
            ]
            .iter()
            .try_fold(0u64, |acc, x| acc.checked_add(*x))
                == Some(self.minted)
    }
}

/// The ledger: the committed state, its commitment and the chain tip.
#[derive(Debug, Clone)]
pub struct Ledger {
    chain_id: ChainId,
    state: StateMap,
    commitment: StateCommitment,
    /// Derived: open nonces by the height their window closes, for pruning.
    nonce_expiry: BTreeSet<(u64, Address, u64)>,
    /// Derived: the sum of balances per token. Wider than a balance so that
    /// no order of installing one block's changes can saturate it.
    circulating: BTreeMap<Symbol, u128>,
    /// Derived: the sum of open offers' remaining amounts per sold token.
    locked_offers: BTreeMap<Symbol, u128>,
    /// Derived: the sum of open escrows' remaining amounts per token.
    locked_escrow: BTreeMap<Symbol, u128>,
    /// Derived: every lot by its expiry time, so a block touches only the
    /// lots that expire in it.
    lot_expiry: BTreeSet<(u64, Symbol, LotHolder)>,
    /// Derived: open offers by owner.
    offers_by_owner: BTreeSet<(Address, u64)>,
    /// Derived: open escrows by payer and by payee.
    escrows_by_party: BTreeSet<(Address, Hash32)>,
    tip: BlockHeader,
}

impl Ledger {
    /// The ledger at height 0. Its tip is the genesis header.
    pub fn genesis(
        chain_id: ChainId,
        genesis_time_ms: u64,
        g: &GenesisState,
    ) -> Result<(Ledger, BlockOutcome), GenesisError> {
        let mut changes = StateChanges::new();
        for (addr, info) in &g.merchants {
            if changes
                .insert(
                    StateKey::Merchant(*addr),
                    Some(StateValue::Merchant(info.clone())),
                )
                .is_some()
            {
                return Err(GenesisError::DuplicateMerchant(*addr));
            }
        }
        let mut tokens: BTreeMap<Symbol, TokenInfo> = BTreeMap::new();
        for t in &g.tokens {
            let kind = TxKind::CreateToken {
                symbol: t.symbol,
                name: t.name.clone(),
                decimals: t.decimals,
                max_supply: t.max_supply,
                expiry_days: t.expiry_days,
            };
            kind.check_stateless()
                .map_err(|code| GenesisError::InvalidToken {
                    token: t.symbol,
                    code,
                })?;
            if !changes.contains_key(&StateKey::Merchant(t.issuer)) {
                return Err(GenesisError::IssuerNotMerchant(t.symbol, t.issuer));
            }
            let info = new_token(
                t.symbol,
                t.name.clone(),
                t.decimals,
                t.max_supply,
                t.expiry_days,
                t.issuer,
                0,
            );
            if tokens.insert(t.symbol, info).is_some() {
                return Err(GenesisError::DuplicateToken(t.symbol));
            }
        }
        let mut balances: BTreeMap<(Address, Symbol), u64> = BTreeMap::new();
        for (addr, sym, amount) in &g.balances {
            let token = tokens
                .get_mut(sym)
                .ok_or(GenesisError::UnknownToken(*addr, *sym))?;
            token.minted = token
                .minted
                .checked_add(*amount)
                .filter(|m| *m <= token.max_supply)
                .ok_or(GenesisError::OverCap(*sym))?;
            let b = balances.entry((*addr, *sym)).or_default();
            *b = b.checked_add(*amount).ok_or(GenesisError::OverCap(*sym))?;
        }
        for (sym, info) in tokens {
            changes.insert(StateKey::Token(sym), Some(StateValue::Token(info)));
        }
        for ((addr, sym), amount) in balances {
            if amount > 0 {
                changes.insert(
                    StateKey::Balance(addr, sym),
                    Some(StateValue::Balance(amount)),
                );
                // Genesis balances of an expiring token are minted at genesis time.
                let days = g
                    .tokens
                    .iter()
                    .find(|t| t.symbol == sym)
                    .and_then(|t| t.expiry_days);
                if let Some(days) = days {
                    let expires =
                        genesis_time_ms.saturating_add(u64::from(days).saturating_mul(MS_PER_DAY));
                    changes.insert(
                        StateKey::Lot(LotHolder::Account(addr), sym, expires),
                        Some(StateValue::Lot(amount)),
                    );
                }
            }
        }
        let empty = Ledger {
            chain_id: chain_id.clone(),
            state: StateMap::new(),
            commitment: StateCommitment::new(),
            nonce_expiry: BTreeSet::new(),
            circulating: BTreeMap::new(),
            locked_offers: BTreeMap::new(),
            locked_escrow: BTreeMap::new(),
            lot_expiry: BTreeSet::new(),
            offers_by_owner: BTreeSet::new(),
            escrows_by_party: BTreeSet::new(),
            tip: BlockHeader {
                chain_id,
                height: 0,
                round: 0,
                parent_hash: Hash32::ZERO,
                timestamp_ms: genesis_time_ms,
                proposer: Address::ZERO,
                tx_root: tx_root(&[]),
                receipts_root: receipts_root(&[]),
                state_root: Hash32::ZERO,
            },
        };
        let outcome = empty.outcome_from_changes(0, Vec::new(), changes);
        let mut ledger = empty;
        ledger.tip.state_root = outcome.state_root;
        ledger.install(&outcome.changes);
        ledger.commitment.apply(outcome.delta.clone());
        Ok((ledger, outcome))
    }

    /// Rebuilds a ledger from stored entries, recomputing the commitment and
    /// the derived indexes. The caller checks the root against the stored one.
    pub fn from_state(chain_id: ChainId, tip: BlockHeader, state: StateMap) -> Ledger {
        let encoded: Vec<(Vec<u8>, Vec<u8>)> = state
            .iter()
            .map(|(k, v)| (encoding::encode(k), encoding::encode(v)))
            .collect();
        let commitment = StateCommitment::from_entries(
            encoded.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        );
        let mut ledger = Ledger {
            chain_id,
            state: StateMap::new(),
            commitment,
            nonce_expiry: BTreeSet::new(),
            circulating: BTreeMap::new(),
            locked_offers: BTreeMap::new(),
            locked_escrow: BTreeMap::new(),
            lot_expiry: BTreeSet::new(),
            offers_by_owner: BTreeSet::new(),
            escrows_by_party: BTreeSet::new(),
            tip,
        };
        for (k, v) in state {
            ledger.index_insert(&k, &v);
            ledger.state.insert(k, v);
        }
        ledger
    }

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

    pub fn balance(&self, who: &Address, token: &Symbol) -> u64 {
        match self.state.get(&StateKey::Balance(*who, *token)) {
            Some(StateValue::Balance(b)) => *b,
            _ => 0,
        }
    }

    pub fn token(&self, symbol: &Symbol) -> Option<&TokenInfo> {
        match self.state.get(&StateKey::Token(*symbol)) {
            Some(StateValue::Token(t)) => Some(t),
            _ => None,
        }
    }

    pub fn tokens(&self) -> impl Iterator<Item = &TokenInfo> {
        self.state.values().filter_map(|v| match v {
            StateValue::Token(t) => Some(t),
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
    pub fn locked(&self, who: &Address) -> Vec<Locked> {
        let mut out: BTreeMap<Symbol, Locked> = BTreeMap::new();
        let new = |token| Locked {
            token,
            in_offers: 0,
            in_escrow: 0,
        };
        for o in self.offers_of(who) {
            let l = out.entry(o.sell).or_insert_with(|| new(o.sell));
            l.in_offers = l.in_offers.saturating_add(o.remaining);
        }
        for (_, e) in self.escrows_of(who) {
            if e.payer == *who && e.status == EscrowStatus::Open {
                let l = out.entry(e.token).or_insert_with(|| new(e.token));
                l.in_escrow = l.in_escrow.saturating_add(e.remaining);
            }
        }
        out.into_values()
            .filter(|l| l.in_offers > 0 || l.in_escrow > 0)
            .collect()
    }

    /// The lots of `holder` in `token`, `(expires_at_ms, amount)`, soonest first.
    /// Empty for a token that does not expire.
    pub fn lots(&self, holder: &LotHolder, token: &Symbol) -> Vec<(u64, u64)> {
        self.state
            .range(StateKey::Lot(*holder, *token, 0)..=StateKey::Lot(*holder, *token, u64::MAX))
            .filter_map(|(k, v)| match (k, v) {
                (StateKey::Lot(_, _, exp), StateValue::Lot(a)) => Some((*exp, *a)),
                _ => None,
            })
            .collect()
    }

    /// The expiring points in `who`'s balances, soonest first (ties by token).
    /// Points locked in offers and escrows are not included.
    pub fn expiring(&self, who: &Address) -> Vec<ExpiringLot> {
        let holder = LotHolder::Account(*who);
        let mut out: Vec<ExpiringLot> = self
            .state
            .range(
                StateKey::Lot(holder, Symbol::MIN, 0)
                    ..=StateKey::Lot(holder, Symbol::MAX, u64::MAX),
            )
            .filter_map(|(k, v)| match (k, v) {
                (StateKey::Lot(_, token, exp), StateValue::Lot(a)) => Some(ExpiringLot {
                    token: *token,
                    expires_at_ms: *exp,
                    amount: *a,
                }),
                _ => None,
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
        let mut in_offers: BTreeMap<Symbol, u128> = BTreeMap::new();
        let mut in_escrow: BTreeMap<Symbol, u128> = BTreeMap::new();
        let add = |m: &mut BTreeMap<Symbol, u128>, sym: Symbol, x: u64| {
            *m.entry(sym).or_default() += u128::from(x);
        };
        for (k, v) in &self.state {
            match (k, v) {
                (StateKey::Balance(_, sym), StateValue::Balance(b)) => {
                    add(&mut circulating, *sym, *b)
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
                    get(&in_offers, &t.symbol),
                    get(&in_escrow, &t.symbol),
                ];
                let [circulating, locked_in_offers, locked_in_escrow] =
                    sums.map(|x| u64::try_from(x).unwrap_or(u64::MAX));
                SupplyAudit {
                    token: t.symbol,
                    minted: t.minted,
                    circulating,
                    locked_in_offers,
                    locked_in_escrow,
                    redeemed: t.redeemed,
                    expired: t.expired,
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
        let mut in_offers: BTreeMap<Symbol, u128> = BTreeMap::new();
        let mut in_escrow: BTreeMap<Symbol, u128> = BTreeMap::new();
        let mut lot_sums: BTreeMap<(LotHolder, Symbol), u128> = BTreeMap::new();
        let mut book = 0usize;
        let mut offers = 0usize;
        let now = self.tip.timestamp_ms;
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
                    if self.expires(&o.sell) {
                        lot_sums.entry((LotHolder::Offer(*id), o.sell)).or_default();
                    }
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
                        if self.expires(&e.token) {
                            lot_sums
                                .entry((LotHolder::Escrow(*id), e.token))
                                .or_default();
                        }
                    } else if e.remaining != 0 {
                        return Err(format!("closed escrow {id} still holds {}", e.remaining));
                    }
                }
                (StateKey::Balance(who, sym), StateValue::Balance(_)) if self.expires(sym) => {
                    lot_sums
                        .entry((LotHolder::Account(*who), *sym))
                        .or_default();
                }
                (StateKey::Lot(holder, sym, exp), StateValue::Lot(a)) => {
                    if *a == 0 || *exp <= now {
                        return Err(format!("lot {holder:?} {sym} {exp}: {a} should be gone"));
                    }
                    *lot_sums.entry((*holder, *sym)).or_default() += u128::from(*a);
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
            if o != u128::from(t.locked_in_offers) || e != u128::from(t.locked_in_escrow) {
                return Err(format!(
                    "{}: counters say {} in offers and {} in escrow, records hold {o} and {e}",
                    t.symbol, t.locked_in_offers, t.locked_in_escrow
                ));
            }
        }
        for ((holder, sym), sum) in lot_sums {
            let held = self.holder_amount(&holder, &sym);
            if !self.expires(&sym) || sum != u128::from(held) {
                return Err(format!(
                    "{holder:?} holds {held} {sym} but its lots sum to {sum}"
                ));
            }
        }
        if self.offers_by_owner.len() != offers {
            return Err("the offers-by-owner index is stale".to_string());
        }
        Ok(())
    }

    fn expires(&self, sym: &Symbol) -> bool {
        self.token(sym).is_some_and(|t| t.expiry_days.is_some())
    }

    /// What a lot holder holds of `sym`: a balance, an offer's remaining
    /// amount or an open escrow's amount.
    fn holder_amount(&self, holder: &LotHolder, sym: &Symbol) -> u64 {
        match holder {
            LotHolder::Account(a) => self.balance(a, sym),
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

    /// Executes `txs` as the block at `ctx.height`, checking signatures in a batch.
    pub fn execute_block(&self, ctx: &BlockContext, txs: &[Transaction]) -> BlockOutcome {
        let verdicts = verify_signatures(txs);
        self.execute_block_with_verdicts(ctx, txs, &verdicts)
    }

    /// Executes `txs` with signature verdicts already known, one per
    /// transaction, from [`verify_signatures`] or a cache of its results.
    pub fn execute_block_with_verdicts(
        &self,
        ctx: &BlockContext,
        txs: &[Transaction],
        sig_ok: &[bool],
    ) -> BlockOutcome {
        let hashes: Vec<Hash32> = txs.iter().map(Transaction::hash).collect();
        self.execute_hashed(ctx, txs, &hashes, sig_ok)
    }

    /// [`Ledger::execute_block_with_verdicts`] with the transactions' hashes
    /// already computed, one per transaction.
    fn execute_hashed(
        &self,
        ctx: &BlockContext,
        txs: &[Transaction],
        hashes: &[Hash32],
        sig_ok: &[bool],
    ) -> BlockOutcome {
        let mut ov = Overlay::new(&self.state);
        // Close the nonce windows that ended at or before this height.
        for (_, sender, nonce) in self
            .nonce_expiry
            .range(..=(ctx.height, Address::MAX, u64::MAX))
        {
            ov.block.insert(StateKey::Nonce(*sender, *nonce), None);
        }
        self.expire_lots(&mut ov, ctx.timestamp_ms);
        let mut receipts = Vec::with_capacity(txs.len());
        for (i, (tx, &hash)) in txs.iter().zip(hashes).enumerate() {
            let outcome = self.execute_tx(
                &mut ov,
                ctx,
                tx,
                hash,
                sig_ok.get(i).copied().unwrap_or(false),
            );
            receipts.push(Receipt {
                tx_hash: hash,
                outcome,
            });
        }
        self.outcome_from_changes(ctx.height, receipts, ov.block)
    }

    /// Expires every lot whose time is at or before `now`, before any
    /// transaction of the block runs: the points leave their holder (a
    /// balance, an offer or an escrow) and are counted as `expired`. Only the
    /// expiring lots are touched.
    fn expire_lots(&self, ov: &mut Overlay<'_>, now: u64) {
        for (exp, sym, holder) in self.lot_expiry.iter().take_while(|(e, _, _)| *e <= now) {
            match expire_lot(ov, *exp, sym, holder) {
                Some(()) => ov.commit_tx(),
                // Unreachable while the state is consistent: leave the lot.
                None => ov.rollback_tx(),
            }
        }
    }

    fn outcome_from_changes(
        &self,
        height: u64,
        receipts: Vec<Receipt>,
        changes: StateChanges,
    ) -> BlockOutcome {
        let encoded_changes: Vec<(Vec<u8>, Option<Vec<u8>>)> = changes
            .iter()
            .map(|(k, v)| (encoding::encode(k), v.as_ref().map(encoding::encode)))
            .collect();
        let delta = self.commitment.prepare(
            encoded_changes
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_deref())),
        );
        BlockOutcome {
            height,
            receipts,
            changes,
            encoded_changes,
            state_root: delta.root(),
            delta,
        }
    }

    /// Builds the block a proposer would propose on the current tip.
    pub fn build_block(
        &self,
        round: u32,
        timestamp_ms: u64,
        proposer: Address,
        txs: Vec<Transaction>,
    ) -> (Block, BlockOutcome) {
        let verdicts = verify_signatures(&txs);
        self.build_block_with_verdicts(round, timestamp_ms, proposer, txs, &verdicts)
    }

    /// [`Ledger::build_block`] with the signature verdicts of `txs` already
    /// known (a mempool verified them on admission).
    pub fn build_block_with_verdicts(
        &self,
        round: u32,
        timestamp_ms: u64,
        proposer: Address,
        mut txs: Vec<Transaction>,
        sig_ok: &[bool],
    ) -> (Block, BlockOutcome) {
        // Packing within the block limits is the proposer's job; anything
        // past the hard bound is left out before execution.
        txs.truncate(crate::limits::MAX_BLOCK_TXS);
        let ctx = BlockContext {
            height: self.tip.height + 1,
            timestamp_ms: timestamp_ms.max(self.tip.timestamp_ms),
        };
        let outcome = self.execute_block_with_verdicts(&ctx, &txs, sig_ok);
        let hashes: Vec<Hash32> = outcome.receipts.iter().map(|r| r.tx_hash).collect();
        let header = BlockHeader {
            chain_id: self.chain_id.clone(),
            height: ctx.height,
            round,
            parent_hash: self.tip.hash(),
            timestamp_ms: ctx.timestamp_ms,
            proposer,
            tx_root: tx_root(&hashes),
            receipts_root: receipts_root(&outcome.receipts),
            state_root: outcome.state_root,
        };
        let txs = BoundedVec::new(txs).unwrap_or_else(|_| BoundedVec::default());
        (Block { header, txs }, outcome)
    }

    /// Re-executes a proposed block and checks every root its header claims.
    pub fn verify_block(&self, block: &Block) -> Result<BlockOutcome, BlockError> {
        self.verify_block_with_verdicts(block, &verify_signatures(&block.txs))
    }

    /// [`Ledger::verify_block`] with the signature verdicts of the block's
    /// transactions already known, one per transaction. A verdict may come
    /// from any earlier check: the signature rule gives every signature the
    /// same verdict alone or in any batch (`crypto::verify_batch`).
    pub fn verify_block_with_verdicts(
        &self,
        block: &Block,
        sig_ok: &[bool],
    ) -> Result<BlockOutcome, BlockError> {
        let h = &block.header;
        if h.chain_id != self.chain_id {
            return Err(BlockError::WrongChain(h.chain_id.to_string()));
        }
        if h.height != self.tip.height + 1 {
            return Err(BlockError::WrongHeight {
                tip: self.tip.height,
                got: h.height,
            });
        }
        let parent = self.tip.hash();
        if h.parent_hash != parent {
            return Err(BlockError::WrongParent {
                expected: parent,
                got: h.parent_hash,
            });
        }
        if h.timestamp_ms < self.tip.timestamp_ms {
            return Err(BlockError::TimeWentBack {
                parent: self.tip.timestamp_ms,
                got: h.timestamp_ms,
            });
        }
        let hashes: Vec<Hash32> = block.txs.iter().map(Transaction::hash).collect();
        let computed = tx_root(&hashes);
        if computed != h.tx_root {
            return Err(BlockError::RootMismatch {
                field: "tx_root",
                claimed: h.tx_root,
                computed,
            });
        }
        let ctx = BlockContext {
            height: h.height,
            timestamp_ms: h.timestamp_ms,
        };
        let outcome = self.execute_hashed(&ctx, &block.txs, &hashes, sig_ok);
        let computed = receipts_root(&outcome.receipts);
        if computed != h.receipts_root {
            return Err(BlockError::RootMismatch {
                field: "receipts_root",
                claimed: h.receipts_root,
                computed,
            });
        }
        if outcome.state_root != h.state_root {
            return Err(BlockError::RootMismatch {
                field: "state_root",
                claimed: h.state_root,
                computed: outcome.state_root,
            });
        }
        Ok(outcome)
    }

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

    fn install(&mut self, changes: &StateChanges) {
        let mut touched: BTreeSet<Symbol> = BTreeSet::new();
        let mut holders: BTreeSet<(LotHolder, Symbol)> = BTreeSet::new();
        let mut note = |k: &StateKey, v: Option<&StateValue>| match (k, v) {
            (StateKey::Balance(a, sym), _) => {
                touched.insert(*sym);
                holders.insert((LotHolder::Account(*a), *sym));
            }
            (StateKey::Token(sym), _) => {
                touched.insert(*sym);
            }
            (StateKey::Lot(h, sym, _), _) => {
                touched.insert(*sym);
                holders.insert((*h, *sym));
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
            if let Some(old) = self.state.remove(k) {
                note(k, Some(&old));
                self.index_remove(k, &old);
            }
            if let Some(v) = v {
                self.index_insert(k, v);
                self.state.insert(k.clone(), v.clone());
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
            let counted = (get(&self.locked_offers), get(&self.locked_escrow));
            let counters = token.map(|t| {
                (
                    u128::from(t.locked_in_offers),
                    u128::from(t.locked_in_escrow),
                )
            });
            assert_eq!(counters, Some(counted), "locked amounts broken for {sym}");
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

    fn index_insert(&mut self, k: &StateKey, v: &StateValue) {
        match (k, v) {
            (StateKey::Nonce(a, n), StateValue::Nonce(exp)) => {
                self.nonce_expiry.insert((*exp, *a, *n));
            }
            (StateKey::Balance(_, sym), StateValue::Balance(b)) => {
                let c = self.circulating.entry(*sym).or_default();
                *c += u128::from(*b);
            }
            (StateKey::Offer(id), StateValue::Offer(o)) => {
                self.offers_by_owner.insert((o.owner, *id));
                *self.locked_offers.entry(o.sell).or_default() += u128::from(o.remaining);
            }
            (StateKey::Escrow(id), StateValue::Escrow(e)) if e.status == EscrowStatus::Open => {
                self.escrows_by_party.insert((e.payer, *id));
                self.escrows_by_party.insert((e.payee, *id));
                *self.locked_escrow.entry(e.token).or_default() += u128::from(e.remaining);
            }
            (StateKey::Lot(holder, sym, exp), StateValue::Lot(_)) => {
                self.lot_expiry.insert((*exp, *sym, *holder));
            }
            _ => {}
        }
    }

    fn index_remove(&mut self, k: &StateKey, v: &StateValue) {
        match (k, v) {
            (StateKey::Nonce(a, n), StateValue::Nonce(exp)) => {
                self.nonce_expiry.remove(&(*exp, *a, *n));
            }
            (StateKey::Balance(_, sym), StateValue::Balance(b)) => {
                let c = self.circulating.entry(*sym).or_default();
                *c -= u128::from(*b);
            }
            (StateKey::Offer(id), StateValue::Offer(o)) => {
                self.offers_by_owner.remove(&(o.owner, *id));
                *self.locked_offers.entry(o.sell).or_default() -= u128::from(o.remaining);
            }
            (StateKey::Escrow(id), StateValue::Escrow(e)) if e.status == EscrowStatus::Open => {
                self.escrows_by_party.remove(&(e.payer, *id));
                self.escrows_by_party.remove(&(e.payee, *id));
                *self.locked_escrow.entry(e.token).or_default() -= u128::from(e.remaining);
            }
            (StateKey::Lot(holder, sym, exp), StateValue::Lot(_)) => {
                self.lot_expiry.remove(&(*exp, *sym, *holder));
            }
            _ => {}
        }
    }

    fn execute_tx(
        &self,
        ov: &mut Overlay<'_>,
        ctx: &BlockContext,
        tx: &Transaction,
        hash: Hash32,
        sig_ok: bool,
    ) -> TxOutcome {
        let b = &tx.body;
        let envelope = if b.chain_id != self.chain_id {
            Err(RejectCode::WrongChainId)
        } else if !sig_ok {
            Err(RejectCode::BadSignature)
        } else if b.expires_at_height <= ctx.height {
            Err(RejectCode::Expired)
        } else if b.expires_at_height > ctx.height.saturating_add(MAX_TX_TTL_BLOCKS) {
            Err(RejectCode::ExpiryTooFar)
        } else if ov.get(&StateKey::Nonce(b.sender, b.nonce)).is_some() {
            Err(RejectCode::NonceReused)
        } else {
            Ok(())
        };
        if let Err(code) = envelope {
            return TxOutcome::Rejected {
                code,
                original: None,
            };
        }
        let result = b
            .kind
            .check_stateless()
            .map_err(|c| (c, None))
            .and_then(|()| {
                let mut exec = Exec {
                    ov,
                    sender: b.sender,
                    height: ctx.height,
                    time_ms: ctx.timestamp_ms,
                    hash,
                    events: Vec::new(),
                };
                exec.run(&b.kind).map(|()| exec.events)
            });
        let outcome = match result {
            Ok(events) => {
                ov.commit_tx();
                match BoundedVec::new(events) {
                    Ok(events) => TxOutcome::Committed { events },
                    Err(_) => TxOutcome::Rejected {
                        code: RejectCode::TooManyLegs,
                        original: None,
                    },
                }
            }
            Err((code, original)) => {
                ov.rollback_tx();
                TxOutcome::Rejected { code, original }
            }
        };
        // The nonce is spent whatever the kind's verdict.
        ov.put(
            StateKey::Nonce(b.sender, b.nonce),
            StateValue::Nonce(b.expires_at_height),
        );
        ov.commit_tx();
        outcome
    }
}

fn new_token(
    symbol: Symbol,
    name: crate::tx::TokenName,
    decimals: u8,
    max_supply: u64,
    expiry_days: Option<u32>,
    issuer: Address,
    height: u64,
) -> TokenInfo {
    TokenInfo {
        symbol,
        name,
        decimals,
        max_supply,
        expiry_days,
        issuer,
        created_height: height,
        minted: 0,
        redeemed: 0,
        expired: 0,
        locked_in_offers: 0,
        locked_in_escrow: 0,
    }
}

/// Writes of the block so far, and of the transaction being executed.
struct Overlay<'a> {
    base: &'a StateMap,
    block: StateChanges,
    tx: StateChanges,
}

impl<'a> Overlay<'a> {
    fn new(base: &'a StateMap) -> Self {
        Overlay {
            base,
            block: StateChanges::new(),
            tx: StateChanges::new(),
        }
    }

    fn get(&self, k: &StateKey) -> Option<&StateValue> {
        if let Some(v) = self.tx.get(k) {
            return v.as_ref();
        }
        match self.block.get(k) {
            Some(v) => v.as_ref(),
            None => self.base.get(k),
        }
    }

    /// The live entries with keys in `lo..=hi`, in key order, as the
    /// transaction sees them: the three layers merged, deletions hidden.
    fn range(&self, lo: &StateKey, hi: &StateKey) -> OverlayRange<'_> {
        let r = (
            std::ops::Bound::Included(lo.clone()),
            std::ops::Bound::Included(hi.clone()),
        );
        OverlayRange {
            tx: self.tx.range(r.clone()).peekable(),
            block: self.block.range(r.clone()).peekable(),
            base: self.base.range(r).peekable(),
        }
    }

    fn put(&mut self, k: StateKey, v: StateValue) {
        self.tx.insert(k, Some(v));
    }

    fn delete(&mut self, k: StateKey) {
        self.tx.insert(k, None);
    }

    fn commit_tx(&mut self) {
        // One insert per write: `BTreeMap::append` would rebuild the whole
        // block map on every transaction.
        for (k, v) in std::mem::take(&mut self.tx) {
            self.block.insert(k, v);
        }
    }

    fn rollback_tx(&mut self) {
        self.tx.clear();
    }
}

type Layer<'s, V> = std::iter::Peekable<std::collections::btree_map::Range<'s, StateKey, V>>;

/// A merged, ordered walk over the overlay's layers; see [`Overlay::range`].
struct OverlayRange<'s> {
    tx: Layer<'s, Option<StateValue>>,
    block: Layer<'s, Option<StateValue>>,
    base: Layer<'s, StateValue>,
}

impl<'s> Iterator for OverlayRange<'s> {
    type Item = (&'s StateKey, &'s StateValue);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let in_tx = self.tx.peek().map(|(k, _)| *k);
            let in_block = self.block.peek().map(|(k, _)| *k);
            let in_base = self.base.peek().map(|(k, _)| *k);
            let key = [in_tx, in_block, in_base].into_iter().flatten().min()?;
            // Every layer holding `key` moves on; the top-most one decides.
            let mut value: Option<Option<&'s StateValue>> = None;
            if in_tx == Some(key) {
                value = self.tx.next().map(|(_, v)| v.as_ref());
            }
            if in_block == Some(key) {
                let v = self.block.next().map(|(_, v)| v.as_ref());
                value = value.or(v);
            }
            if in_base == Some(key) {
                let v = self.base.next().map(|(_, v)| Some(v));
                value = value.or(v);
            }
            if let Some(Some(v)) = value {
                return Some((key, v));
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
struct Parcel {
    amount: u64,
    lots: Vec<(u64, u64)>,
}

impl Parcel {
    /// Splits off the first `amount`: the soonest-expiring lots go first.
    /// `amount` must not exceed what the parcel holds.
    fn split_front(&mut self, amount: u64) -> Parcel {
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

type Rejection = (RejectCode, Option<Hash32>);

fn reject<T>(code: RejectCode) -> Result<T, Rejection> {
    Err((code, None))
}

fn overflow() -> Rejection {
    (RejectCode::Overflow, None)
}

/// Whether an offer at `taker` (units of B per unit of A, selling A) crosses
/// a resting offer at `maker` (units of A per unit of B, selling B): the
/// taker asks no more B per A than the maker gives, `taker <= 1 / maker`.
fn crosses(taker: &Price, maker: &Price) -> bool {
    u128::from(taker.n) * u128::from(maker.n) <= u128::from(taker.d) * u128::from(maker.d)
}

/// One transaction's execution against the overlay.
struct Exec<'o, 'a> {
    ov: &'o mut Overlay<'a>,
    sender: Address,
    height: u64,
    time_ms: u64,
    hash: Hash32,
    events: Vec<Event>,
}

impl Exec<'_, '_> {
    fn run(&mut self, kind: &TxKind) -> Result<(), Rejection> {
        match kind {
            TxKind::CreateToken {
                symbol,
                name,
                decimals,
                max_supply,
                expiry_days,
            } => {
                if self.ov.get(&StateKey::Merchant(self.sender)).is_none() {
                    return reject(RejectCode::NotMerchant);
                }
                if self.ov.get(&StateKey::Token(*symbol)).is_some() {
                    return reject(RejectCode::TokenExists);
                }
                let info = new_token(
                    *symbol,
                    name.clone(),
                    *decimals,
                    *max_supply,
                    *expiry_days,
                    self.sender,
                    self.height,
                );
                self.ov
                    .put(StateKey::Token(*symbol), StateValue::Token(info));
                self.events.push(Event::TokenCreated {
                    token: *symbol,
                    issuer: self.sender,
                });
            }
            TxKind::Mint { token, to, amount } => {
                let mut info = self.token(token)?;
                if info.issuer != self.sender {
                    return reject(RejectCode::NotIssuer);
                }
                info.minted = match info.minted.checked_add(*amount) {
                    Some(m) if m <= info.max_supply => m,
                    _ => return reject(RejectCode::SupplyCapExceeded),
                };
                // Each mint of an expiring token is a lot that expires
                // `expiry_days` after the block time.
                let lots = match info.expiry_days {
                    None => Vec::new(),
                    Some(days) => {
                        let expires = u64::from(days)
                            .checked_mul(MS_PER_DAY)
                            .and_then(|d| d.checked_add(self.time_ms))
                            .ok_or_else(overflow)?;
                        vec![(expires, *amount)]
                    }
                };
                let parcel = Parcel {
                    amount: *amount,
                    lots,
                };
                self.credit(to, token, parcel)?;
                self.ov
                    .put(StateKey::Token(*token), StateValue::Token(info));
                self.events.push(Event::Minted {
                    token: *token,
                    to: *to,
                    amount: *amount,
                });
            }
            TxKind::Transfer {
                token, to, amount, ..
            } => {
                self.token(token)?;
                let sender = self.sender;
                let parcel = self.debit(&sender, token, *amount)?;
                self.credit(to, token, parcel)?;
                self.events.push(Event::Transferred {
                    token: *token,
                    from: self.sender,
                    to: *to,
                    amount: *amount,
                });
            }
            TxKind::Pay {
                token,
                order_id,
                legs,
                ..
            } => self.pay(token, order_id, legs)?,
            TxKind::Refund { payment, amount } => self.refund(payment, *amount)?,
            TxKind::Redeem { token, amount, .. } => {
                self.token(token)?;
                let sender = self.sender;
                self.debit(&sender, token, *amount)?;
                self.update_token(token, |t| {
                    t.redeemed = t.redeemed.checked_add(*amount)?;
                    Some(())
                })?;
                self.events.push(Event::Redeemed {
                    token: *token,
                    from: self.sender,
                    amount: *amount,
                });
            }
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
        }
        Ok(())
    }

    /// Rejects with `DuplicateOrderId`, naming the original payment or
    /// escrow, if the sender used `order_id` before.
    fn check_order_unused(&self, order_id: &OrderId) -> Result<StateKey, Rejection> {
        let order_key = StateKey::Order(self.sender, order_id.clone());
        if let Some(StateValue::Order(original)) = self.ov.get(&order_key) {
            return Err((RejectCode::DuplicateOrderId, Some(*original)));
        }
        Ok(order_key)
    }

    fn pay(
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

    fn refund(&mut self, payment: &Hash32, amount: u64) -> Result<(), Rejection> {
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

    /// Places an offer selling `amount` of `sell` for `buy`; see ADR 004.
    ///
    /// The new (taker) offer walks the opposite book in match order and
    /// trades at each resting (maker) offer's price, rounded in the maker's
    /// favour: the taker gets `got` units, as many as its remainder pays for
    /// and the maker holds, and pays `ceil(got * maker price)`. A trade that
    /// would give the taker nothing ends the walk (no later offer is cheaper);
    /// one whose rounding would leave the taker below its own price is
    /// skipped. Every offer visited counts toward [`MAX_OFFERS_CROSSED`];
    /// what is left rests in the book.
    fn place_offer(
        &mut self,
        sell: &Symbol,
        buy: &Symbol,
        amount: u64,
        price: &Price,
    ) -> Result<(), Rejection> {
        self.token(sell)?;
        self.token(buy)?;
        let price = price.reduced();
        let id = match self.ov.get(&StateKey::NextOfferId) {
            Some(StateValue::NextOfferId(n)) => *n,
            _ => 1,
        };
        let next = id.checked_add(1).ok_or_else(overflow)?;
        self.ov
            .put(StateKey::NextOfferId, StateValue::NextOfferId(next));
        let sender = self.sender;
        let mut parcel = self.debit(&sender, sell, amount)?;
        self.events.push(Event::OfferPlaced {
            offer: id,
            owner: sender,
            sell: *sell,
            buy: *buy,
            amount,
            price,
        });
        // The resting offers this one crosses, best first, at most the bound.
        let candidates: Vec<(Price, u64)> = self
            .ov
            .range(
                &StateKey::BookEntry(*buy, *sell, Price::MIN, 0),
                &StateKey::BookEntry(*buy, *sell, Price::MAX, u64::MAX),
            )
            .filter_map(|(k, _)| match k {
                StateKey::BookEntry(_, _, q, maker) => Some((*q, *maker)),
                _ => None,
            })
            .take_while(|(q, _)| crosses(&price, q))
            .take(MAX_OFFERS_CROSSED)
            .collect();
        for (q, maker_id) in candidates {
            if parcel.amount == 0 {
                break;
            }
            let mut maker = self.offer(maker_id)?;
            if maker.owner == sender {
                return reject(RejectCode::SelfCross);
            }
            // Units of `buy` the taker's remainder pays for at the maker's price.
            let affordable = u128::from(parcel.amount) * u128::from(q.d) / u128::from(q.n);
            let got = u64::try_from(affordable.min(u128::from(maker.remaining)))
                .map_err(|_| overflow())?;
            if got == 0 {
                break;
            }
            let paid = u64::try_from((u128::from(got) * u128::from(q.n)).div_ceil(u128::from(q.d)))
                .map_err(|_| overflow())?;
            if paid > parcel.amount {
                return Err(overflow());
            }
            // The taker never gets less than its own price.
            if u128::from(got) * u128::from(price.d) < u128::from(paid) * u128::from(price.n) {
                continue;
            }
            let to_maker = parcel.split_front(paid);
            self.credit(&maker.owner, sell, to_maker)?;
            let to_taker = self.unlock(&LotHolder::Offer(maker_id), buy, got)?;
            self.credit(&sender, buy, to_taker)?;
            maker.remaining -= got;
            self.update_token(buy, |t| {
                t.locked_in_offers = t.locked_in_offers.checked_sub(got)?;
                Some(())
            })?;
            self.events.push(Event::Trade {
                taker_offer: id,
                maker_offer: maker_id,
                taker: sender,
                maker: maker.owner,
                pay_token: *sell,
                paid,
                get_token: *buy,
                got,
                maker_remaining: maker.remaining,
            });
            if maker.remaining == 0 {
                self.ov
                    .delete(StateKey::BookEntry(*buy, *sell, q, maker_id));
                self.ov.delete(StateKey::Offer(maker_id));
            } else {
                self.ov
                    .put(StateKey::Offer(maker_id), StateValue::Offer(maker));
            }
        }
        if parcel.amount > 0 {
            let remaining = parcel.amount;
            self.lock(&LotHolder::Offer(id), sell, parcel)?;
            self.update_token(sell, |t| {
                t.locked_in_offers = t.locked_in_offers.checked_add(remaining)?;
                Some(())
            })?;
            let record = OfferRecord {
                id,
                owner: sender,
                sell: *sell,
                buy: *buy,
                price,
                amount,
                remaining,
                tx: self.hash,
                height: self.height,
            };
            self.ov.put(
                StateKey::BookEntry(*sell, *buy, price, id),
                StateValue::BookEntry,
            );
            self.ov.put(StateKey::Offer(id), StateValue::Offer(record));
        }
        Ok(())
    }

    fn cancel_offer(&mut self, id: u64) -> Result<(), Rejection> {
        let offer = self.offer(id)?;
        if offer.owner != self.sender {
            return reject(RejectCode::NotOfferOwner);
        }
        let parcel = self.unlock(&LotHolder::Offer(id), &offer.sell, offer.remaining)?;
        self.credit(&offer.owner, &offer.sell, parcel)?;
        self.update_token(&offer.sell, |t| {
            t.locked_in_offers = t.locked_in_offers.checked_sub(offer.remaining)?;
            Some(())
        })?;
        self.ov.delete(StateKey::BookEntry(
            offer.sell,
            offer.buy,
            offer.price,
            offer.id,
        ));
        self.ov.delete(StateKey::Offer(id));
        self.events.push(Event::OfferCancelled {
            offer: id,
            owner: offer.owner,
            token: offer.sell,
            returned: offer.remaining,
        });
        Ok(())
    }

    fn offer(&self, id: u64) -> Result<OfferRecord, Rejection> {
        match self.ov.get(&StateKey::Offer(id)) {
            Some(StateValue::Offer(o)) => Ok(o.clone()),
            _ => reject(RejectCode::UnknownOffer),
        }
    }

    fn escrow_create(
        &mut self,
        token: &Symbol,
        to: &Address,
        amount: u64,
        deadline_ms: u64,
        order_id: Option<&OrderId>,
    ) -> Result<(), Rejection> {
        self.token(token)?;
        let ahead = deadline_ms.saturating_sub(self.time_ms);
        if ahead == 0 || ahead > MAX_ESCROW_DURATION_MS {
            return reject(RejectCode::InvalidDeadline);
        }
        let order_key = order_id.map(|o| self.check_order_unused(o)).transpose()?;
        let sender = self.sender;
        let id = self.hash;
        let parcel = self.debit(&sender, token, amount)?;
        self.lock(&LotHolder::Escrow(id), token, parcel)?;
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
    fn escrow_close(&mut self, id: &Hash32, refund: bool) -> Result<(), Rejection> {
        let mut escrow = match self.ov.get(&StateKey::Escrow(*id)) {
            Some(StateValue::Escrow(e)) => e.clone(),
            _ => return reject(RejectCode::UnknownEscrow),
        };
        let sender = self.sender;
        if refund {
            if sender != escrow.payer && sender != escrow.payee {
                return reject(RejectCode::NotEscrowParty);
            }
        } else if sender != escrow.payer {
            return reject(RejectCode::NotEscrowPayer);
        }
        if escrow.status != EscrowStatus::Open {
            return reject(RejectCode::EscrowClosed);
        }
        // The payee may refund at any time; the payer only from the deadline on.
        if refund && sender != escrow.payee && self.time_ms < escrow.deadline_ms {
            return reject(RejectCode::DeadlineNotReached);
        }
        let amount = escrow.remaining;
        let to = if refund { escrow.payer } else { escrow.payee };
        let parcel = self.unlock(&LotHolder::Escrow(*id), &escrow.token, amount)?;
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

    fn token(&self, symbol: &Symbol) -> Result<TokenInfo, Rejection> {
        match self.ov.get(&StateKey::Token(*symbol)) {
            Some(StateValue::Token(t)) => Ok(t.clone()),
            _ => reject(RejectCode::UnknownToken),
        }
    }

    /// Changes a token's counters; `None` from `f` is an overflow.
    fn update_token(
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

    fn expires(&self, symbol: &Symbol) -> Result<bool, Rejection> {
        match self.ov.get(&StateKey::Token(*symbol)) {
            Some(StateValue::Token(t)) => Ok(t.expiry_days.is_some()),
            _ => reject(RejectCode::UnknownToken),
        }
    }

    fn balance(&self, who: &Address, token: &Symbol) -> u64 {
        match self.ov.get(&StateKey::Balance(*who, *token)) {
            Some(StateValue::Balance(b)) => *b,
            _ => 0,
        }
    }

    fn set_balance(&mut self, who: &Address, token: &Symbol, amount: u64) {
        let key = StateKey::Balance(*who, *token);
        if amount == 0 {
            self.ov.delete(key)
        } else {
            self.ov.put(key, StateValue::Balance(amount))
        }
    }

    /// Takes `amount` from an account's balance, soonest-expiring lots first.
    fn debit(&mut self, who: &Address, token: &Symbol, amount: u64) -> Result<Parcel, Rejection> {
        let b = self
            .balance(who, token)
            .checked_sub(amount)
            .ok_or((RejectCode::InsufficientBalance, None))?;
        self.set_balance(who, token, b);
        self.unlock(&LotHolder::Account(*who), token, amount)
    }

    /// Adds a parcel to an account's balance, keeping its lots' expiry.
    fn credit(&mut self, who: &Address, token: &Symbol, parcel: Parcel) -> Result<(), Rejection> {
        let b = self
            .balance(who, token)
            .checked_add(parcel.amount)
            .ok_or_else(overflow)?;
        self.set_balance(who, token, b);
        self.lock(&LotHolder::Account(*who), token, parcel)
    }

    /// Takes `amount` of a holder's lots, soonest first. The holder's amount
    /// (balance, offer or escrow record) is the caller's to update.
    fn unlock(
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
    fn lock(
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

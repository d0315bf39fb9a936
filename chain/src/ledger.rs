//! The ledger state machine: executes blocks of transactions deterministically.
//!
//! `execute_block` reads the committed state and returns receipts, the state
//! changes and the new state root without changing anything; `apply` installs
//! an outcome once its block is final. A rejected transaction changes no
//! ledger entry. A transaction that passes the envelope checks (chain, signature,
//! TTL, unused nonce) consumes its nonce even when its kind is rejected, so the
//! same signed bytes can never succeed later (see `docs/adr/003-rejected-transactions.md`).

use std::collections::{BTreeMap, BTreeSet};

use crate::block::{Block, BlockHeader, Event, Receipt, TxOutcome, receipts_root, tx_root};
use crate::commitment::{CommitmentDelta, StateCommitment};
use crate::crypto::{Address, Hash32};
use crate::encoding::{self, BoundedVec};
use crate::limits::MAX_TX_TTL_BLOCKS;
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{ChainId, PayLeg, Symbol, Transaction, TxKind, verify_signatures};

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
}

impl SupplyAudit {
    /// `minted = circulating + locked_in_offers + locked_in_escrow + redeemed + expired`.
    pub fn holds(&self) -> bool {
        [
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
            }
        }
        let empty = Ledger {
            chain_id: chain_id.clone(),
            state: StateMap::new(),
            commitment: StateCommitment::new(),
            nonce_expiry: BTreeSet::new(),
            circulating: BTreeMap::new(),
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

    /// Counts every token's supply from the balances themselves, independently
    /// of the counters kept during execution.
    pub fn audit(&self) -> Vec<SupplyAudit> {
        let mut circulating: BTreeMap<Symbol, u64> = BTreeMap::new();
        for (k, v) in &self.state {
            if let (StateKey::Balance(_, sym), StateValue::Balance(b)) = (k, v) {
                let c = circulating.entry(*sym).or_default();
                *c = c.saturating_add(*b);
            }
        }
        self.tokens()
            .map(|t| SupplyAudit {
                token: t.symbol,
                minted: t.minted,
                circulating: circulating.get(&t.symbol).copied().unwrap_or(0),
                locked_in_offers: t.locked_in_offers,
                locked_in_escrow: t.locked_in_escrow,
                redeemed: t.redeemed,
                expired: t.expired,
            })
            .collect()
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
        let mut ov = Overlay::new(&self.state);
        // Close the nonce windows that ended at or before this height.
        for (_, sender, nonce) in self
            .nonce_expiry
            .range(..=(ctx.height, Address::MAX, u64::MAX))
        {
            ov.block.insert(StateKey::Nonce(*sender, *nonce), None);
        }
        let mut receipts = Vec::with_capacity(txs.len());
        for (i, tx) in txs.iter().enumerate() {
            let hash = tx.hash();
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
        mut txs: Vec<Transaction>,
    ) -> (Block, BlockOutcome) {
        // Packing within the block limits is the proposer's job; anything
        // past the hard bound is left out before execution.
        txs.truncate(crate::limits::MAX_BLOCK_TXS);
        let ctx = BlockContext {
            height: self.tip.height + 1,
            timestamp_ms: timestamp_ms.max(self.tip.timestamp_ms),
        };
        let outcome = self.execute_block(&ctx, &txs);
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
        let outcome = self.execute_block(&ctx, &block.txs);
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
    }

    fn install(&mut self, changes: &StateChanges) {
        let mut touched: BTreeSet<Symbol> = BTreeSet::new();
        for (k, v) in changes {
            if let StateKey::Balance(_, sym) | StateKey::Token(sym) = k {
                touched.insert(*sym);
            }
            if let Some(old) = self.state.remove(k) {
                self.index_remove(k, &old);
            }
            if let Some(v) = v {
                self.index_insert(k, v);
                self.state.insert(k.clone(), v.clone());
            }
        }
        // The counters kept by execution must agree with the balances.
        for sym in touched {
            let expected = self
                .token(&sym)
                .and_then(TokenInfo::expected_circulating)
                .map(u128::from);
            let actual = self.circulating.get(&sym).copied().unwrap_or(0);
            assert_eq!(expected, Some(actual), "supply invariant broken for {sym}");
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
    tx: Vec<(StateKey, Option<StateValue>)>,
}

impl<'a> Overlay<'a> {
    fn new(base: &'a StateMap) -> Self {
        Overlay {
            base,
            block: StateChanges::new(),
            tx: Vec::new(),
        }
    }

    fn get(&self, k: &StateKey) -> Option<&StateValue> {
        if let Some((_, v)) = self.tx.iter().rev().find(|(k2, _)| k2 == k) {
            return v.as_ref();
        }
        match self.block.get(k) {
            Some(v) => v.as_ref(),
            None => self.base.get(k),
        }
    }

    fn put(&mut self, k: StateKey, v: StateValue) {
        self.tx.push((k, Some(v)));
    }

    fn delete(&mut self, k: StateKey) {
        self.tx.push((k, None));
    }

    fn commit_tx(&mut self) {
        for (k, v) in self.tx.drain(..) {
            self.block.insert(k, v);
        }
    }

    fn rollback_tx(&mut self) {
        self.tx.clear();
    }
}

type Rejection = (RejectCode, Option<Hash32>);

fn reject<T>(code: RejectCode) -> Result<T, Rejection> {
    Err((code, None))
}

/// One transaction's execution against the overlay.
struct Exec<'o, 'a> {
    ov: &'o mut Overlay<'a>,
    sender: Address,
    height: u64,
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
                self.credit(to, token, *amount)?;
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
                self.debit(&sender, token, *amount)?;
                self.credit(to, token, *amount)?;
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
                let mut info = self.token(token)?;
                let sender = self.sender;
                self.debit(&sender, token, *amount)?;
                info.redeemed = info
                    .redeemed
                    .checked_add(*amount)
                    .ok_or((RejectCode::Overflow, None))?;
                self.ov
                    .put(StateKey::Token(*token), StateValue::Token(info));
                self.events.push(Event::Redeemed {
                    token: *token,
                    from: self.sender,
                    amount: *amount,
                });
            }
        }
        Ok(())
    }

    fn pay(
        &mut self,
        token: &Symbol,
        order_id: &crate::tx::OrderId,
        legs: &[PayLeg],
    ) -> Result<(), Rejection> {
        self.token(token)?;
        let order_key = StateKey::Order(self.sender, order_id.clone());
        if let Some(StateValue::Order(original)) = self.ov.get(&order_key) {
            return Err((RejectCode::DuplicateOrderId, Some(*original)));
        }
        let total = legs
            .iter()
            .try_fold(0u64, |acc, l| acc.checked_add(l.amount))
            .ok_or((RejectCode::Overflow, None))?;
        let sender = self.sender;
        self.debit(&sender, token, total)?;
        let mut shares: BTreeMap<Address, u64> = BTreeMap::new();
        for leg in legs {
            self.credit(&leg.to, token, leg.amount)?;
            let s = shares.entry(leg.to).or_default();
            *s = s
                .checked_add(leg.amount)
                .ok_or((RejectCode::Overflow, None))?;
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
            .ok_or((RejectCode::Overflow, None))?;
        if amount > remaining {
            return reject(RejectCode::RefundExceedsPayment);
        }
        share.refunded += amount;
        let token = record.token;
        self.debit(&sender, &token, amount)?;
        self.credit(&record.payer, &token, amount)?;
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

    fn token(&self, symbol: &Symbol) -> Result<TokenInfo, Rejection> {
        match self.ov.get(&StateKey::Token(*symbol)) {
            Some(StateValue::Token(t)) => Ok(t.clone()),
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

    fn debit(&mut self, who: &Address, token: &Symbol, amount: u64) -> Result<(), Rejection> {
        let b = self
            .balance(who, token)
            .checked_sub(amount)
            .ok_or((RejectCode::InsufficientBalance, None))?;
        self.set_balance(who, token, b);
        Ok(())
    }

    fn credit(&mut self, who: &Address, token: &Symbol, amount: u64) -> Result<(), Rejection> {
        let b = self
            .balance(who, token)
            .checked_add(amount)
            .ok_or((RejectCode::Overflow, None))?;
        self.set_balance(who, token, b);
        Ok(())
    }
}

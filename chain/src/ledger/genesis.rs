//! The first state of a chain, and a ledger rebuilt from stored entries.

use std::collections::{BTreeMap, BTreeSet};

use super::tokens::new_token;
use super::{BlockOutcome, Ledger};
use crate::block::{BlockHeader, receipts_root, tx_root};
use crate::commitment::StateCommitment;
use crate::crypto::{Address, Hash32};
use crate::encoding;
use crate::encoding::BoundedVec;
use crate::governance::{ValidatorEntry, validators_hash};
use crate::limits::MS_PER_DAY;
use crate::params::{ConsensusParams, ParamOutOfBounds};
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{ChainId, Symbol, TxKind};

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
    #[error("more than {} validators", crate::limits::MAX_VALIDATORS)]
    TooManyValidators,
    #[error("consensus parameter {0}")]
    Params(#[from] ParamOutOfBounds),
}

/// The initial state a chain starts from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GenesisState {
    pub merchants: Vec<(Address, MerchantInfo)>,
    pub tokens: Vec<GenesisToken>,
    pub balances: Vec<(Address, Symbol, u64)>,
    /// Timeouts, block-time precision, message delay and heartbeat.
    pub consensus: ConsensusParams,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisToken {
    pub symbol: Symbol,
    pub name: crate::tx::TokenName,
    pub decimals: u8,
    pub max_supply: u64,
    pub expiry_days: Option<u32>,
    /// The issuer may freeze holders' points.
    pub freezable: bool,
    /// The issuer may take points back.
    pub clawback: bool,
    pub issuer: Address,
}

impl Ledger {
    /// The ledger at height 0. Its tip is the genesis header.
    pub fn genesis(
        chain_id: ChainId,
        genesis_time_ms: u64,
        g: &GenesisState,
    ) -> Result<(Ledger, BlockOutcome), GenesisError> {
        g.consensus.check()?;
        let mut changes = StateChanges::new();
        // The validators of genesis, in merchant order, from height 0 on.
        let validators: Vec<ValidatorEntry> = g
            .merchants
            .iter()
            .filter_map(|(account, m)| {
                m.validator.as_ref().map(|v| ValidatorEntry {
                    account: *account,
                    key: v.key,
                    p2p_key: v.p2p_key,
                })
            })
            .collect();
        let validators =
            BoundedVec::new(validators).map_err(|_| GenesisError::TooManyValidators)?;
        changes.insert(
            StateKey::ValidatorsFrom(0),
            Some(StateValue::Validators(validators.clone())),
        );
        changes.insert(
            StateKey::ConsensusParams,
            Some(StateValue::ConsensusParams(g.consensus)),
        );
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
                freezable: t.freezable,
                clawback: t.clawback,
            };
            kind.check_stateless()
                .map_err(|code| GenesisError::InvalidToken {
                    token: t.symbol,
                    code,
                })?;
            if !changes.contains_key(&StateKey::Merchant(t.issuer)) {
                return Err(GenesisError::IssuerNotMerchant(t.symbol, t.issuer));
            }
            let info = new_token(&kind, t.issuer, 0);
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
                // Genesis balances of an expiring token are minted at genesis time.
                let days = g
                    .tokens
                    .iter()
                    .find(|t| t.symbol == sym)
                    .and_then(|t| t.expiry_days);
                let mut holding = Holding {
                    balance: amount,
                    ..Holding::default()
                };
                if let Some(days) = days {
                    let expires_at_ms =
                        genesis_time_ms.saturating_add(u64::from(days).saturating_mul(MS_PER_DAY));
                    holding.lots.add(&[Lot {
                        expires_at_ms,
                        amount,
                    }]);
                }
                changes.insert(
                    StateKey::Holding(addr, 0, sym),
                    Some(StateValue::Holding(holding)),
                );
            }
        }
        let empty = Ledger {
            chain_id: chain_id.clone(),
            state: StateMap::new(),
            commitment: StateCommitment::new(),
            nonce_expiry: BTreeSet::new(),
            circulating: BTreeMap::new(),
            frozen: BTreeMap::new(),
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
                receipts_root: receipts_root(&[], &[]),
                state_root: Hash32::ZERO,
                validators_hash: validators_hash(&validators),
                next_validators_hash: validators_hash(&validators),
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
            frozen: BTreeMap::new(),
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
}

//! From a [`GenesisFile`] to a validated [`Genesis`].
//!
//! Every rule names the field that breaks it (`merchants[2].account: …`).
//! Validation stops at the first problem. After the per-field rules, the
//! resulting state is run through [`Ledger::genesis`], so a file that
//! validates here is a state every node accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use merit_chain::address::AddressError;
use merit_chain::amount::{AmountError, format_amount, parse_amount};
use merit_chain::encoding::BoundedString;
use merit_chain::ledger::{BlockOutcome, GenesisError, GenesisToken};
use merit_chain::limits::{
    MAX_CHAIN_ID_BYTES, MAX_DECIMALS, MAX_EXPIRY_DAYS, MAX_MERCHANT_NAME_BYTES,
    MAX_P2P_ADDRESS_BYTES, MAX_TOKEN_NAME_BYTES, MAX_VALIDATORS,
};
use merit_chain::merchant::{
    KeyRole, MerchantProofs, MerchantRecord, RecordError, SignedMerchant, ValidatorRecord,
};
use merit_chain::params::{ConsensusParams, ParamOutOfBounds};
use merit_chain::state::MerchantInfo;
use merit_chain::tx::{ChainId, SymbolError, TokenName};
use merit_chain::{Address, GenesisState, Hash32, Ledger, PublicKey, Signature, Symbol};

use crate::file::{BalanceEntry, GenesisFile, MerchantEntry, TokenEntry};
use crate::fsutil::FileError;
use crate::netaddr::{P2pAddress, P2pAddressError, RpcAddress, RpcAddressError};
use crate::record::MerchantFile;
use crate::{MAX_GENESIS_BALANCES, MAX_GENESIS_MERCHANTS, MAX_GENESIS_TOKENS, canonical};

/// A genesis file that breaks a rule: which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    /// The JSON path of the field, e.g. `merchants[2].account`.
    pub field: String,
    pub problem: Problem,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("must not be empty")]
    Empty,
    #[error("is {len} bytes, over the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("must not start or end with whitespace")]
    OuterWhitespace,
    #[error("contains the control character {0:?}")]
    ControlCharacter(char),
    #[error("contains {0:?}; a chain id uses only ASCII letters, digits, `-`, `_` and `.`")]
    ChainIdCharacter(char),
    #[error("a genesis needs at least one merchant to run a validator")]
    NoMerchants,
    #[error("names {count} validators, over the limit of {max}")]
    TooManyValidators { count: usize, max: usize },
    #[error("has {count} entries, over the limit of {max}")]
    TooMany { count: usize, max: usize },
    #[error("{0}")]
    Address(AddressError),
    #[error("{0} is not a usable ed25519 public key")]
    UnusableKey(PublicKey),
    #[error(
        "{key} is already used as {other}; every account, validator and p2p key must be distinct"
    )]
    DuplicateKey { key: PublicKey, other: String },
    #[error("{0}")]
    Record(RecordError),
    #[error("is not a signature: expected 128 hexadecimal digits")]
    BadSignature,
    #[error(
        "a merchant that runs a validator names its validator_key, p2p_key and p2p_address together; {missing} is missing"
    )]
    IncompleteValidator { missing: &'static str },
    #[error("is signed as written, so it must be in normal form: write `{normal}`")]
    NotNormalForm { normal: String },
    #[error("`{name}` is already the name of {other}")]
    DuplicateName { name: String, other: String },
    #[error("{0}")]
    P2pAddress(P2pAddressError),
    #[error("{address} is already the p2p address of {other}")]
    DuplicateP2pAddress { address: P2pAddress, other: String },
    #[error("{0}")]
    RpcAddress(RpcAddressError),
    #[error("{0}")]
    Symbol(SymbolError),
    #[error("token {symbol} is already defined by {other}")]
    DuplicateSymbol { symbol: Symbol, other: String },
    #[error("{0} is over the maximum of {MAX_DECIMALS}")]
    Decimals(u8),
    #[error("{0}")]
    Amount(AmountError),
    #[error("must be greater than zero")]
    Zero,
    #[error("{0} is outside the allowed range 1 to {MAX_EXPIRY_DAYS}")]
    ExpiryDays(u32),
    #[error("{0} is not a merchant account")]
    NotMerchant(Address),
    #[error("unknown token `{0}`; it is not listed in tokens")]
    UnknownToken(String),
    #[error("{address} already has a {token} balance in {other}")]
    DuplicateBalance {
        address: Address,
        token: Symbol,
        other: String,
    },
    #[error("brings the initial supply of {token} to {total}, over its max_supply of {max_supply}")]
    OverCap {
        token: Symbol,
        total: String,
        max_supply: String,
    },
    #[error("the ledger refuses this state: {0}")]
    Ledger(GenesisError),
    #[error("{0}")]
    Param(ParamOutOfBounds),
}

fn err<T>(field: impl Into<String>, problem: Problem) -> Result<T, ValidationError> {
    Err(ValidationError {
        field: field.into(),
        problem,
    })
}

/// A merchant of the alliance, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub name: merit_chain::merchant::MerchantName,
    pub account: Address,
    /// The validator it runs, if any.
    pub validator: Option<MerchantValidator>,
    pub rpc_address: Option<RpcAddress>,
    /// The record with its proofs, as signed; every proof checked.
    pub signed: SignedMerchant,
}

/// A merchant's validator, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantValidator {
    /// Signs consensus messages.
    pub key: PublicKey,
    /// The node's libp2p identity: its peer id derives from this key.
    pub p2p_key: PublicKey,
    pub p2p_address: P2pAddress,
}

/// A signed merchant record whose every proof holds, with its parts parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedMerchant {
    pub signed: SignedMerchant,
    pub validator: Option<MerchantValidator>,
}

impl VerifiedMerchant {
    pub fn name(&self) -> &str {
        &self.signed.record.name
    }

    pub fn account(&self) -> Address {
        self.signed.record.account
    }

    /// The keys the record names, account first.
    pub fn keys(&self) -> Vec<(KeyRole, PublicKey)> {
        self.signed.record.keys()
    }
}

/// A validated genesis: every rule holds and the ledger accepts its state.
///
/// Built only by [`Genesis::from_file`], so holding one is proof of validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    chain_id: ChainId,
    genesis_time_ms: u64,
    merchants: Vec<Merchant>,
    validators: Vec<PublicKey>,
    tokens: Vec<GenesisToken>,
    balances: Vec<(Address, Symbol, u64)>,
    consensus: ConsensusParams,
    hash: Hash32,
    state_root: Hash32,
}

impl Genesis {
    /// Checks every rule of the file, then the resulting state.
    pub fn from_file(file: &GenesisFile) -> Result<Genesis, ValidationError> {
        let chain_id = check_chain_id(&file.chain_id)?;
        let merchants = check_merchants(&file.merchants)?;
        let tokens = check_tokens(&file.tokens, &merchants)?;
        let balances = check_balances(&file.balances, &tokens)?;
        let consensus = ConsensusParams::from(file.consensus);
        if let Err(e) = consensus.check() {
            return err(format!("consensus.{}", e.field), Problem::Param(e));
        }
        let mut genesis = Genesis {
            chain_id,
            genesis_time_ms: file.genesis_time_ms,
            validators: merchants
                .iter()
                .filter_map(|m| m.validator.as_ref().map(|v| v.key))
                .collect(),
            merchants,
            tokens,
            balances,
            consensus,
            hash: Hash32::ZERO,
            state_root: Hash32::ZERO,
        };
        let (ledger, _) = genesis.ledger().map_err(|e| ValidationError {
            field: "genesis".into(),
            problem: Problem::Ledger(e),
        })?;
        genesis.state_root = ledger.state_root();
        genesis.hash = canonical::hash(&genesis);
        Ok(genesis)
    }

    /// Reads, parses and validates a genesis file.
    pub fn load(path: &Path) -> Result<Genesis, FileError> {
        let file = GenesisFile::load(path)?;
        file.validate().map_err(|source| FileError::Invalid {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    pub fn genesis_time_ms(&self) -> u64 {
        self.genesis_time_ms
    }

    /// The merchants in file order.
    pub fn merchants(&self) -> &[Merchant] {
        &self.merchants
    }

    /// The validator set in order: the proposer for `(height, round)` is
    /// `validators[(height + round) mod n]`.
    pub fn validators(&self) -> &[PublicKey] {
        &self.validators
    }

    /// The merchants that run a validator, with their validators, in
    /// validator order: the i-th is `validators()[i]`.
    pub fn validator_merchants(&self) -> impl Iterator<Item = (&Merchant, &MerchantValidator)> {
        self.merchants
            .iter()
            .filter_map(|m| m.validator.as_ref().map(|v| (m, v)))
    }

    /// The most faulty validators the alliance tolerates: `f = (n - 1) / 3`.
    pub fn max_faulty(&self) -> usize {
        self.validators.len().saturating_sub(1) / 3
    }

    pub fn tokens(&self) -> &[GenesisToken] {
        &self.tokens
    }

    /// Initial balances in file order, in base units.
    pub fn balances(&self) -> &[(Address, Symbol, u64)] {
        &self.balances
    }

    /// The sum of the initial balances of `token`, in base units.
    pub fn initial_supply(&self, token: &Symbol) -> u64 {
        // Validation checked that each sum stays within its token's cap.
        self.balances
            .iter()
            .filter(|(_, t, _)| t == token)
            .map(|(_, _, a)| *a)
            .fold(0u64, u64::saturating_add)
    }

    /// The consensus parameters the chain starts with.
    pub fn consensus_params(&self) -> ConsensusParams {
        self.consensus
    }

    /// SHA-256 of the canonical encoding (see [`Genesis::canonical_bytes`]).
    /// Nodes of one chain must agree on it.
    pub fn hash(&self) -> Hash32 {
        self.hash
    }

    /// The canonical encoding the hash is taken over.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical::encode(self)
    }

    /// The state root of the ledger at height 0.
    pub fn state_root(&self) -> Hash32 {
        self.state_root
    }

    /// The initial ledger state.
    pub fn to_state(&self) -> GenesisState {
        GenesisState {
            merchants: self
                .merchants
                .iter()
                .map(|m| {
                    (
                        m.account,
                        MerchantInfo {
                            name: m.name.clone(),
                            validator: m.signed.record.validator.clone(),
                        },
                    )
                })
                .collect(),
            tokens: self.tokens.clone(),
            balances: self.balances.clone(),
            consensus: self.consensus,
        }
    }

    /// The ledger at height 0, with the outcome to store for it.
    pub fn ledger(&self) -> Result<(Ledger, BlockOutcome), GenesisError> {
        Ledger::genesis(
            self.chain_id.clone(),
            self.genesis_time_ms,
            &self.to_state(),
        )
    }

    /// The file form, with every value in normal form (addresses re-encoded,
    /// amounts with exactly `decimals` places). It validates to an equal
    /// genesis with the same hash.
    pub fn to_file(&self) -> GenesisFile {
        let decimals: BTreeMap<Symbol, u8> =
            self.tokens.iter().map(|t| (t.symbol, t.decimals)).collect();
        GenesisFile {
            chain_id: self.chain_id.to_string(),
            genesis_time_ms: self.genesis_time_ms,
            merchants: self
                .merchants
                .iter()
                .map(|m| {
                    MerchantEntry::new(
                        MerchantFile::from_signed(&m.signed),
                        m.rpc_address.as_ref().map(ToString::to_string),
                    )
                })
                .collect(),
            tokens: self
                .tokens
                .iter()
                .map(|t| TokenEntry {
                    symbol: t.symbol.to_string(),
                    name: t.name.to_string(),
                    decimals: t.decimals,
                    max_supply: format_amount(t.max_supply, t.decimals),
                    expiry_days: t.expiry_days,
                    freezable: t.freezable,
                    clawback: t.clawback,
                    issuer: t.issuer.to_bech32(),
                })
                .collect(),
            balances: self
                .balances
                .iter()
                .map(|(address, token, amount)| BalanceEntry {
                    address: address.to_bech32(),
                    token: token.to_string(),
                    amount: format_amount(*amount, decimals.get(token).copied().unwrap_or(0)),
                })
                .collect(),
            consensus: self.consensus.into(),
        }
    }
}

fn check_chain_id(s: &str) -> Result<ChainId, ValidationError> {
    const FIELD: &str = "chain_id";
    if s.is_empty() {
        return err(FIELD, Problem::Empty);
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return err(FIELD, Problem::ChainIdCharacter(c));
    }
    ChainId::new(s).or_else(|_| {
        err(
            FIELD,
            Problem::TooLong {
                len: s.len(),
                max: MAX_CHAIN_ID_BYTES,
            },
        )
    })
}

/// A display name: not blank, no control characters, no outer whitespace,
/// at most `max` bytes.
fn check_name(field: &str, s: &str, max: usize) -> Result<(), ValidationError> {
    if s.trim().is_empty() {
        return err(field, Problem::Empty);
    }
    if s.len() > max {
        return err(field, Problem::TooLong { len: s.len(), max });
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return err(field, Problem::ControlCharacter(c));
    }
    if s.trim() != s {
        return err(field, Problem::OuterWhitespace);
    }
    Ok(())
}

/// Parses an `mrt1…` key and checks that it is a point ed25519 can verify
/// signatures against (not malformed, not of small order).
fn check_key(field: &str, s: &str) -> Result<PublicKey, ValidationError> {
    let key = PublicKey::from_bech32(s).or_else(|e| err(field, Problem::Address(e)))?;
    match ed25519_dalek::VerifyingKey::from_bytes(&key.0) {
        Ok(vk) if !vk.is_weak() => Ok(key),
        _ => err(field, Problem::UnusableKey(key)),
    }
}

/// Parses a signed merchant record and checks it and every proof. Fields
/// are named relative to the record.
pub(crate) fn check_record(m: &MerchantFile) -> Result<VerifiedMerchant, ValidationError> {
    check_name("name", &m.name, MAX_MERCHANT_NAME_BYTES)?;
    let name = BoundedString::new(m.name.as_str()).or_else(|s| {
        err(
            "name",
            Problem::TooLong {
                len: s.len(),
                max: MAX_MERCHANT_NAME_BYTES,
            },
        )
    })?;
    let account = check_key("account", &m.account)?;
    let validator = match (&m.validator_key, &m.p2p_key, &m.p2p_address) {
        (None, None, None) => None,
        (Some(key), Some(p2p_key), Some(address)) => {
            let key = check_key("validator_key", key)?;
            let p2p_key = check_key("p2p_key", p2p_key)?;
            let p2p_address = P2pAddress::parse(address)
                .or_else(|e| err("p2p_address", Problem::P2pAddress(e)))?;
            let normal = p2p_address.to_string();
            if normal != *address {
                return err("p2p_address", Problem::NotNormalForm { normal });
            }
            let text = BoundedString::new(normal).or_else(|s| {
                err(
                    "p2p_address",
                    Problem::TooLong {
                        len: s.len(),
                        max: MAX_P2P_ADDRESS_BYTES,
                    },
                )
            })?;
            Some((
                ValidatorRecord {
                    key,
                    p2p_key,
                    p2p_address: text,
                },
                p2p_address,
            ))
        }
        (v, k, a) => {
            let missing = if v.is_none() {
                "validator_key"
            } else if k.is_none() {
                "p2p_key"
            } else {
                "p2p_address"
            };
            let field = [("validator_key", v), ("p2p_key", k), ("p2p_address", a)]
                .into_iter()
                .find_map(|(f, x)| x.as_ref().map(|_| f))
                .unwrap_or("validator_key");
            return err(field, Problem::IncompleteValidator { missing });
        }
    };
    let sig = |field: &str, s: &Option<String>| -> Result<Option<Signature>, ValidationError> {
        match s {
            None => Ok(None),
            Some(s) => {
                let mut bytes = [0u8; 64];
                hex::decode_to_slice(s, &mut bytes)
                    .or_else(|_| err(format!("proofs.{field}"), Problem::BadSignature))?;
                Ok(Some(Signature(bytes)))
            }
        }
    };
    let proofs = MerchantProofs {
        account: sig("account", &m.proofs.account)?,
        validator_key: sig("validator_key", &m.proofs.validator_key)?,
        p2p_key: sig("p2p_key", &m.proofs.p2p_key)?,
    };
    let (validator_record, parsed) = match validator {
        Some((r, a)) => (Some(r), Some(a)),
        None => (None, None),
    };
    let signed = SignedMerchant {
        record: MerchantRecord {
            name,
            account,
            validator: validator_record,
        },
        proofs,
    };
    if let Err(e) = signed.verify() {
        let field = match &e {
            RecordError::EmptyName | RecordError::NameWhitespace | RecordError::NameControl(_) => {
                "name".to_string()
            }
            RecordError::EmptyP2pAddress | RecordError::P2pAddressCharacter(_) => {
                "p2p_address".to_string()
            }
            RecordError::UnusableKey { role, .. } | RecordError::DuplicateKey { role, .. } => {
                role.field().to_string()
            }
            RecordError::MissingProof { role }
            | RecordError::UnexpectedProof { role }
            | RecordError::ForgedProof { role, .. } => format!("proofs.{}", role.field()),
            RecordError::ChangedAfterSigning => "proofs".to_string(),
        };
        return err(field, Problem::Record(e));
    }
    let validator = match (&signed.record.validator, parsed) {
        (Some(v), Some(p2p_address)) => Some(MerchantValidator {
            key: v.key,
            p2p_key: v.p2p_key,
            p2p_address,
        }),
        _ => None,
    };
    Ok(VerifiedMerchant { signed, validator })
}

/// Prefixes a record's field with `merchants[i].`.
fn in_merchant(i: usize, e: ValidationError) -> ValidationError {
    ValidationError {
        field: format!("merchants[{i}].{}", e.field),
        problem: e.problem,
    }
}

fn check_merchants(entries: &[MerchantEntry]) -> Result<Vec<Merchant>, ValidationError> {
    if entries.len() > MAX_GENESIS_MERCHANTS {
        return err(
            "merchants",
            Problem::TooMany {
                count: entries.len(),
                max: MAX_GENESIS_MERCHANTS,
            },
        );
    }
    let mut names: BTreeMap<&str, String> = BTreeMap::new();
    let mut keys: BTreeMap<PublicKey, String> = BTreeMap::new();
    let mut p2p: BTreeMap<P2pAddress, String> = BTreeMap::new();
    let mut merchants = Vec::with_capacity(entries.len());
    for (i, m) in entries.iter().enumerate() {
        let at = |f: &str| format!("merchants[{i}].{f}");
        let verified = check_record(&m.record()).map_err(|e| in_merchant(i, e))?;

        if let Some(other) = names.insert(m.name.as_str(), at("name")) {
            return err(
                at("name"),
                Problem::DuplicateName {
                    name: m.name.clone(),
                    other,
                },
            );
        }
        for (role, key) in verified.keys() {
            let field = at(role.field());
            if let Some(other) = keys.insert(key, field.clone()) {
                return err(field, Problem::DuplicateKey { key, other });
            }
        }
        if let Some(v) = &verified.validator
            && let Some(other) = p2p.insert(v.p2p_address.clone(), at("p2p_address"))
        {
            return err(
                at("p2p_address"),
                Problem::DuplicateP2pAddress {
                    address: v.p2p_address.clone(),
                    other,
                },
            );
        }
        let rpc_address = match &m.rpc_address {
            Some(s) => Some(
                RpcAddress::parse(s).or_else(|e| err(at("rpc_address"), Problem::RpcAddress(e)))?,
            ),
            None => None,
        };
        merchants.push(Merchant {
            name: verified.signed.record.name.clone(),
            account: verified.account(),
            validator: verified.validator,
            rpc_address,
            signed: verified.signed,
        });
    }
    let validators = merchants.iter().filter(|m| m.validator.is_some()).count();
    if validators == 0 {
        return err("merchants", Problem::NoMerchants);
    }
    if validators > MAX_VALIDATORS {
        return err(
            "merchants",
            Problem::TooManyValidators {
                count: validators,
                max: MAX_VALIDATORS,
            },
        );
    }
    Ok(merchants)
}

fn check_tokens(
    entries: &[TokenEntry],
    merchants: &[Merchant],
) -> Result<Vec<GenesisToken>, ValidationError> {
    if entries.len() > MAX_GENESIS_TOKENS {
        return err(
            "tokens",
            Problem::TooMany {
                count: entries.len(),
                max: MAX_GENESIS_TOKENS,
            },
        );
    }
    let accounts: BTreeSet<Address> = merchants.iter().map(|m| m.account).collect();
    let mut symbols: BTreeMap<Symbol, String> = BTreeMap::new();
    let mut tokens = Vec::with_capacity(entries.len());
    for (i, t) in entries.iter().enumerate() {
        let at = |f: &str| format!("tokens[{i}].{f}");

        let symbol = Symbol::new(&t.symbol).or_else(|e| err(at("symbol"), Problem::Symbol(e)))?;
        if let Some(other) = symbols.insert(symbol, format!("tokens[{i}]")) {
            return err(at("symbol"), Problem::DuplicateSymbol { symbol, other });
        }
        check_name(&at("name"), &t.name, MAX_TOKEN_NAME_BYTES)?;
        let name = TokenName::new(t.name.as_str()).or_else(|s| {
            err(
                at("name"),
                Problem::TooLong {
                    len: s.len(),
                    max: MAX_TOKEN_NAME_BYTES,
                },
            )
        })?;
        if t.decimals > MAX_DECIMALS {
            return err(at("decimals"), Problem::Decimals(t.decimals));
        }
        let max_supply = parse_amount(&t.max_supply, t.decimals)
            .or_else(|e| err(at("max_supply"), Problem::Amount(e)))?;
        if max_supply == 0 {
            return err(at("max_supply"), Problem::Zero);
        }
        if let Some(days) = t.expiry_days
            && !(1..=MAX_EXPIRY_DAYS).contains(&days)
        {
            return err(at("expiry_days"), Problem::ExpiryDays(days));
        }
        let issuer = PublicKey::from_bech32(&t.issuer)
            .or_else(|e| err(at("issuer"), Problem::Address(e)))?;
        if !accounts.contains(&issuer) {
            return err(at("issuer"), Problem::NotMerchant(issuer));
        }
        tokens.push(GenesisToken {
            symbol,
            name,
            decimals: t.decimals,
            max_supply,
            expiry_days: t.expiry_days,
            freezable: t.freezable,
            clawback: t.clawback,
            issuer,
        });
    }
    Ok(tokens)
}

fn check_balances(
    entries: &[BalanceEntry],
    tokens: &[GenesisToken],
) -> Result<Vec<(Address, Symbol, u64)>, ValidationError> {
    if entries.len() > MAX_GENESIS_BALANCES {
        return err(
            "balances",
            Problem::TooMany {
                count: entries.len(),
                max: MAX_GENESIS_BALANCES,
            },
        );
    }
    let by_symbol: BTreeMap<&str, &GenesisToken> =
        tokens.iter().map(|t| (t.symbol.as_str(), t)).collect();
    let mut seen: BTreeMap<(Address, Symbol), String> = BTreeMap::new();
    let mut totals: BTreeMap<Symbol, u64> = BTreeMap::new();
    let mut balances = Vec::with_capacity(entries.len());
    for (i, b) in entries.iter().enumerate() {
        let at = |f: &str| format!("balances[{i}].{f}");

        let address = check_key(&at("address"), &b.address)?;
        let Some(token) = by_symbol.get(b.token.as_str()) else {
            let shown: String = b.token.chars().take(32).collect();
            return err(at("token"), Problem::UnknownToken(shown));
        };
        let amount = parse_amount(&b.amount, token.decimals)
            .or_else(|e| err(at("amount"), Problem::Amount(e)))?;
        if amount == 0 {
            return err(at("amount"), Problem::Zero);
        }
        if let Some(other) = seen.insert((address, token.symbol), format!("balances[{i}]")) {
            return err(
                format!("balances[{i}]"),
                Problem::DuplicateBalance {
                    address,
                    token: token.symbol,
                    other,
                },
            );
        }
        let total = totals.entry(token.symbol).or_default();
        match total.checked_add(amount) {
            Some(t) if t <= token.max_supply => *total = t,
            sum => {
                let total = match sum {
                    Some(t) => format_amount(t, token.decimals),
                    None => "more than the largest amount".to_string(),
                };
                return err(
                    at("amount"),
                    Problem::OverCap {
                        token: token.symbol,
                        total,
                        max_supply: format_amount(token.max_supply, token.decimals),
                    },
                );
            }
        }
        balances.push((address, token.symbol, amount));
    }
    Ok(balances)
}

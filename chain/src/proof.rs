//! Proofs of state a wallet checks without trusting the node that served
//! them: entries with their Merkle paths to the `state_root` of a header,
//! and the header's commit certificate. The rules are DESIGN §10's:
//!
//! - the certificate is for the header's height and hash, and a quorum of
//!   the set in force at that height signed it ([`LightClient`]);
//! - every entry's value, or its absence, leads to that `state_root`;
//! - each value is of its key's kind, and a holding's lots keep their rules
//!   and sum to its balance;
//! - a proof of the current state is no older than the freshness bound,
//!   measured by the header's block time.
//!
//! Pure code: no clock, no I/O. The caller passes the time it reads.

use bincode::{Decode, Encode};

use crate::block::{BlockHeader, CommitCertificate};
use crate::commitment::{ProofError, StateProof, verify_state_proof};
use crate::crypto::Address;
use crate::encoding::{self, BoundedVec};
use crate::light::{LightClient, LightError};
use crate::state::{Holding, StateKey, StateValue, SubId, TokenInfo};
use crate::tx::Symbol;

/// How many blocks back a node proves past states: every height from
/// `tip - PROOF_RETENTION_BLOCKS` to the tip (ADR 014).
pub const PROOF_RETENTION_BLOCKS: u64 = 10_000;

/// How many UTC days back a node proves the state at each day's last block,
/// beyond the block window: a month of day-end states for reconciliation
/// (ADR 014).
pub const PROOF_RETENTION_DAYS: u64 = 31;

/// The UTC day (days since 1970-01-01) a block time falls in.
pub fn utc_day(time_ms: u64) -> u64 {
    time_ms / crate::limits::MS_PER_DAY
}

/// Most entries one proof carries: the tokens one `merit_getProof` asks for.
pub const MAX_PROVEN_ENTRIES: usize = 64;

/// The largest encoded [`EntriesProof`].
pub const MAX_ENTRIES_PROOF_BYTES: usize = 8 * 1024 * 1024;

/// How many heartbeats old a proof of the current state may be. A live
/// chain makes a block at least every heartbeat, so an honest node always
/// has a header younger than this; an older one hides what came after it.
pub const PROOF_MAX_AGE_HEARTBEATS: u64 = 6;

/// `PROOF_MAX_AGE_MS`: the age past which a proof of the current state is
/// refused, for a chain with this heartbeat.
pub fn proof_max_age_ms(heartbeat_ms: u64) -> u64 {
    heartbeat_ms.saturating_mul(PROOF_MAX_AGE_HEARTBEATS)
}

/// One entry of the state, or its absence, and the path that ties it to
/// the header's `state_root`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ProvenEntry {
    pub key: StateKey,
    pub value: Option<StateValue>,
    pub proof: StateProof,
}

/// What `merit_getProof` and `merit_getTokenProof` serve, canonically
/// encoded: entries of one state, the header that commits to it and the
/// header's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct EntriesProof {
    pub entries: BoundedVec<ProvenEntry, MAX_PROVEN_ENTRIES>,
    pub header: BlockHeader,
    pub certificate: CommitCertificate,
}

impl EntriesProof {
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, encoding::DecodeError> {
        encoding::decode(bytes, MAX_ENTRIES_PROOF_BYTES)
    }
}

/// Which state the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The current state: the header may be at most `max_age_ms` older
    /// than `now_ms`.
    Current { now_ms: u64, max_age_ms: u64 },
    /// The state after block `height`, whatever its age.
    AtHeight(u64),
    /// The genesis state, under the genesis header whose hash this is: the
    /// `parent_hash` of a certified block 1. Genesis has no certificate of
    /// its own; the proof's certificate is not read.
    Genesis(crate::crypto::Hash32),
}

/// Why a proof proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Header(#[from] LightError),
    #[error(
        "the proof is stale: its block at height {height} is from {header_ms} ms, \
         more than {max_age_ms} ms before now ({now_ms} ms)"
    )]
    Stale {
        height: u64,
        header_ms: u64,
        now_ms: u64,
        max_age_ms: u64,
    },
    #[error("the proof is for height {got}, not the height {asked} asked for")]
    WrongHeight { asked: u64, got: u64 },
    #[error("the proof's header hashes to {got}, not to the genesis {expected} block 1 names")]
    WrongGenesis {
        expected: crate::crypto::Hash32,
        got: crate::crypto::Hash32,
    },
    #[error("entry {index} does not lead to the certified state root: {source}")]
    Entry { index: usize, source: ProofError },
    #[error("entry {index} holds a value of another kind than its key")]
    WrongKind { index: usize },
    #[error("entry {index} breaks the rules of lots: {detail}")]
    Lots { index: usize, detail: String },
    #[error("entry {index} is not one asked for: {key:?}")]
    NotAsked { index: usize, key: Box<StateKey> },
    #[error("the proof leaves out {0:?}, which was asked for")]
    Omitted(Box<StateKey>),
}

/// Checks a proof's header against the client and every entry against the
/// header's state root, by the rules of this module. On success the
/// entries are what the certified state holds.
pub fn verify_entries(
    client: &mut LightClient,
    proof: &EntriesProof,
    freshness: Freshness,
) -> Result<(), VerifyError> {
    let header = &proof.header;
    match freshness {
        Freshness::Current { now_ms, max_age_ms } => {
            if now_ms.saturating_sub(header.timestamp_ms) > max_age_ms {
                return Err(VerifyError::Stale {
                    height: header.height,
                    header_ms: header.timestamp_ms,
                    now_ms,
                    max_age_ms,
                });
            }
        }
        Freshness::AtHeight(asked) if asked != header.height => {
            return Err(VerifyError::WrongHeight {
                asked,
                got: header.height,
            });
        }
        Freshness::AtHeight(_) => {}
        Freshness::Genesis(_) if header.height != 0 => {
            return Err(VerifyError::WrongHeight {
                asked: 0,
                got: header.height,
            });
        }
        Freshness::Genesis(expected) if header.hash() != expected => {
            return Err(VerifyError::WrongGenesis {
                expected,
                got: header.hash(),
            });
        }
        Freshness::Genesis(_) => {}
    }
    if !matches!(freshness, Freshness::Genesis(_)) {
        client.verify_header(header, &proof.certificate)?;
    }
    for (index, entry) in proof.entries.iter().enumerate() {
        let value = entry.value.as_ref().map(encoding::encode);
        verify_state_proof(
            &header.state_root,
            &encoding::encode(&entry.key),
            value.as_deref(),
            &entry.proof,
        )
        .map_err(|source| VerifyError::Entry { index, source })?;
        if let Some(value) = &entry.value {
            check_value(index, &entry.key, value)?;
        }
    }
    Ok(())
}

/// The value-level rules: the kind matches the key, and a holding's lots
/// are ordered, non-empty, at most its balance's worth and sum to it.
fn check_value(index: usize, key: &StateKey, value: &StateValue) -> Result<(), VerifyError> {
    match (key, value) {
        (StateKey::Holding(..), StateValue::Holding(h)) => check_holding(index, h),
        (StateKey::Token(sym), StateValue::Token(t)) if t.symbol == *sym => Ok(()),
        (StateKey::Nonce(..), StateValue::Nonce(_)) => Ok(()),
        (StateKey::Merchant(_), StateValue::Merchant(_)) => Ok(()),
        (StateKey::ConsensusParams, StateValue::ConsensusParams(_)) => Ok(()),
        (StateKey::SubAccounts(_), StateValue::SubAccounts(n))
            if (1..=crate::limits::MAX_SUB_ACCOUNTS).contains(n) =>
        {
            Ok(())
        }
        (StateKey::SubAccount(..), StateValue::SubAccount(_)) => Ok(()),
        (
            StateKey::Token(_)
            | StateKey::SubAccounts(_)
            | StateKey::SubAccount(..)
            | StateKey::Holding(..)
            | StateKey::Nonce(..)
            | StateKey::Merchant(_)
            | StateKey::ConsensusParams,
            _,
        ) => Err(VerifyError::WrongKind { index }),
        // Other kinds are not served as proofs; their values pass as proven.
        _ => Ok(()),
    }
}

fn check_holding(index: usize, h: &Holding) -> Result<(), VerifyError> {
    let lots = |detail: String| Err(VerifyError::Lots { index, detail });
    if !h.lots.well_formed() {
        return lots("out of order, repeated or empty".into());
    }
    if h.frozen > h.balance {
        return lots(format!("{} frozen of a balance of {}", h.frozen, h.balance));
    }
    if !h.lots.is_empty() && h.lots.sum() != u128::from(h.balance) {
        return lots(format!(
            "they sum to {}, the balance is {}",
            h.lots.sum(),
            h.balance
        ));
    }
    Ok(())
}

/// Checks a proof of `owner`'s holdings in `tokens` (account `sub`): every
/// token asked for is proven, present or absent, and nothing else is.
/// Returns each token's holding; absence is an empty holding.
pub fn verify_holdings(
    client: &mut LightClient,
    proof: &EntriesProof,
    owner: &Address,
    sub: SubId,
    tokens: &[Symbol],
    freshness: Freshness,
) -> Result<Vec<(Symbol, Holding)>, VerifyError> {
    verify_entries(client, proof, freshness)?;
    let asked: Vec<StateKey> = tokens
        .iter()
        .map(|t| StateKey::Holding(*owner, sub, *t))
        .collect();
    for (index, entry) in proof.entries.iter().enumerate() {
        if !asked.contains(&entry.key) {
            return Err(VerifyError::NotAsked {
                index,
                key: Box::new(entry.key.clone()),
            });
        }
    }
    asked
        .into_iter()
        .zip(tokens)
        .map(|(key, token)| {
            let entry = proof
                .entries
                .iter()
                .find(|e| e.key == key)
                .ok_or_else(|| VerifyError::Omitted(Box::new(key.clone())))?;
            let holding = match &entry.value {
                Some(StateValue::Holding(h)) => h.clone(),
                _ => Holding::default(),
            };
            Ok((*token, holding))
        })
        .collect()
}

/// Checks a proof of how many sub-accounts `owner` has opened (0 when the
/// entry is absent): its sub-accounts are exactly `1..=` that. With proofs
/// of each one's holdings at the same height, a roll-up over them is
/// complete.
pub fn verify_sub_accounts(
    client: &mut LightClient,
    proof: &EntriesProof,
    owner: &Address,
    freshness: Freshness,
) -> Result<SubId, VerifyError> {
    let value = verify_one(client, proof, StateKey::SubAccounts(*owner), freshness)?;
    Ok(match value {
        Some(StateValue::SubAccounts(n)) => *n,
        _ => 0,
    })
}

/// Checks a proof of the one entry `key`, present or absent, and nothing
/// else; returns its value.
fn verify_one<'p>(
    client: &mut LightClient,
    proof: &'p EntriesProof,
    key: StateKey,
    freshness: Freshness,
) -> Result<Option<&'p StateValue>, VerifyError> {
    verify_entries(client, proof, freshness)?;
    for (index, entry) in proof.entries.iter().enumerate() {
        if entry.key != key {
            return Err(VerifyError::NotAsked {
                index,
                key: Box::new(entry.key.clone()),
            });
        }
    }
    let entry = proof
        .entries
        .first()
        .ok_or_else(|| VerifyError::Omitted(Box::new(key)))?;
    Ok(entry.value.as_ref())
}

/// Checks a proof of token `symbol`'s entry; `None` if the certified state
/// has no such token.
pub fn verify_token(
    client: &mut LightClient,
    proof: &EntriesProof,
    symbol: &Symbol,
    freshness: Freshness,
) -> Result<Option<TokenInfo>, VerifyError> {
    let value = verify_one(client, proof, StateKey::Token(*symbol), freshness)?;
    Ok(match value {
        Some(StateValue::Token(t)) => Some(t.clone()),
        _ => None,
    })
}

/// Checks a proof that `(sender, nonce)` was never used up to the proof's
/// height: its `Nonce` entry is absent. Proven at `expires_at_height - 1`,
/// the last height that could have included the transaction, it shows the
/// transaction can never commit, so signing it again cannot pay twice.
pub fn verify_nonce_unused(
    client: &mut LightClient,
    proof: &EntriesProof,
    sender: &Address,
    nonce: u64,
    height: u64,
) -> Result<bool, VerifyError> {
    verify_entries(client, proof, Freshness::AtHeight(height))?;
    let key = StateKey::Nonce(*sender, nonce);
    let entry = proof
        .entries
        .iter()
        .find(|e| e.key == key)
        .ok_or_else(|| VerifyError::Omitted(Box::new(key)))?;
    Ok(entry.value.is_none())
}

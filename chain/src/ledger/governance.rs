//! Governance: `Propose` and `Vote`, passing, and the activation of what
//! passed at the end of the block before its height. See
//! `docs/adr/011-governance.md`.

use super::Ledger;
use super::exec::{Exec, Rejection, overflow, reject};
use super::overlay::Overlay;
use crate::block::Event;
use crate::consensus::{ValidatorSchedule, ValidatorSet, max_faulty, quorum_size};
use crate::crypto::{Address, PublicKey};
use crate::encoding::{BoundedString, BoundedVec};
use crate::governance::*;
use crate::limits::MAX_VALIDATORS;
use crate::merchant::SignedMerchant;
use crate::params::ConsensusParams;
use crate::reject::RejectCode;
use crate::state::*;

/// The sets of `ValidatorsFrom` entries in `range`, as `(from, set)`.
fn sets_in<'s>(
    entries: impl Iterator<Item = (&'s StateKey, &'s StateValue)>,
) -> impl Iterator<Item = (u64, &'s ValidatorList)> {
    entries.filter_map(|(k, v)| match (k, v) {
        (StateKey::ValidatorsFrom(h), StateValue::Validators(l)) => Some((*h, l)),
        _ => None,
    })
}

impl Ledger {
    /// The validator set in force at `height`, as far as it is decided
    /// (up to the tip's height plus [`ACTIVATION_DELAY_BLOCKS`]).
    pub fn validators_at(&self, height: u64) -> Option<&ValidatorList> {
        if height > self.validators_known_until() {
            return None;
        }
        let range = self
            .state
            .range(StateKey::ValidatorsFrom(0)..=StateKey::ValidatorsFrom(height));
        sets_in(range).last().map(|(_, l)| l)
    }

    /// The last height whose validator set is decided: a change that
    /// passes in the next block takes effect after the tip plus the delay,
    /// and after every change already scheduled.
    pub fn validators_known_until(&self) -> u64 {
        let scheduled = self
            .state
            .range(StateKey::ValidatorsFrom(0)..=StateKey::ValidatorsFrom(u64::MAX))
            .next_back()
            .map_or(0, |(k, _)| match k {
                StateKey::ValidatorsFrom(h) => *h,
                _ => 0,
            });
        self.tip
            .height
            .saturating_add(ACTIVATION_DELAY_BLOCKS)
            .max(scheduled)
    }

    /// Every validator set, with the height it is in force from, in order;
    /// the last ones may not be in force yet.
    pub fn validator_history(&self) -> Vec<(u64, &ValidatorList)> {
        let range = self
            .state
            .range(StateKey::ValidatorsFrom(0)..=StateKey::ValidatorsFrom(u64::MAX));
        sets_in(range).collect()
    }

    /// The sets a replica judges messages by: every set of the history, as
    /// far ahead as they are decided. `None` if a set is not a valid
    /// validator set (a ledger built without validators, in tests).
    pub fn validator_schedule(&self) -> Option<ValidatorSchedule> {
        let mut sets = std::collections::BTreeMap::new();
        for (from, list) in self.validator_history() {
            let keys: Vec<PublicKey> = list.iter().map(|v| v.key).collect();
            sets.insert(from, ValidatorSet::new(keys).ok()?);
        }
        Some(ValidatorSchedule::new(sets, self.validators_known_until()))
    }

    pub fn merchant(&self, account: &Address) -> Option<&MerchantInfo> {
        match self.state.get(&StateKey::Merchant(*account)) {
            Some(StateValue::Merchant(m)) => Some(m),
            _ => None,
        }
    }

    /// Every merchant, by account.
    pub fn merchants(&self) -> impl Iterator<Item = (&Address, &MerchantInfo)> {
        // The merchant entries come first in the state's key order.
        self.state
            .range(..=StateKey::Merchant(Address::MAX))
            .filter_map(|(k, v)| match (k, v) {
                (StateKey::Merchant(a), StateValue::Merchant(m)) => Some((a, m)),
                _ => None,
            })
    }

    pub fn proposal(&self, id: u64) -> Option<&ProposalRecord> {
        match self.state.get(&StateKey::Proposal(id)) {
            Some(StateValue::Proposal(p)) => Some(p),
            _ => None,
        }
    }

    /// Every proposal, oldest first.
    pub fn proposals(&self) -> impl Iterator<Item = &ProposalRecord> {
        self.state
            .range(StateKey::Proposal(0)..=StateKey::Proposal(u64::MAX))
            .filter_map(|(_, v)| match v {
                StateValue::Proposal(p) => Some(p),
                _ => None,
            })
    }

    /// The protocol upgrade the alliance scheduled, if any.
    pub fn upgrade(&self) -> Option<UpgradePlan> {
        match self.state.get(&StateKey::Upgrade) {
            Some(StateValue::Upgrade(u)) => Some(*u),
            _ => None,
        }
    }

    /// Carries out what takes effect from the height after `height`: at the
    /// end of block `height`, every passed proposal whose activation height
    /// has come.
    pub(super) fn activate(&self, ov: &mut Overlay<'_>, height: u64) {
        let Some(StateValue::Activations(pending)) = ov.get(&StateKey::Activations).cloned() else {
            return;
        };
        let next = height.saturating_add(1);
        let (due, later): (Vec<_>, Vec<_>) =
            pending.iter().copied().partition(|(at, _)| *at <= next);
        if due.is_empty() {
            return;
        }
        for (_, id) in due {
            let Some(StateValue::Proposal(p)) = ov.get(&StateKey::Proposal(id)).cloned() else {
                continue;
            };
            take_effect(ov, &p.action);
        }
        match BoundedVec::new(later) {
            Ok(later) if !later.is_empty() => {
                ov.put(StateKey::Activations, StateValue::Activations(later))
            }
            _ => ov.delete(StateKey::Activations),
        }
        ov.commit_tx();
    }
}

/// What a passed action changes at its activation, beside the validator set
/// (written when it passed).
fn take_effect(ov: &mut Overlay<'_>, action: &GovAction) {
    match action {
        GovAction::AddMerchant { merchant } | GovAction::RotateValidatorKey { merchant } => {
            let r = &merchant.record;
            ov.put(
                StateKey::Merchant(r.account),
                StateValue::Merchant(MerchantInfo {
                    name: r.name.clone(),
                    validator: r.validator.clone(),
                }),
            );
        }
        GovAction::RemoveMerchant { account } => ov.delete(StateKey::Merchant(*account)),
        GovAction::ReassignIssuer { token, new_issuer } => {
            if let Some(StateValue::Token(t)) = ov.get(&StateKey::Token(*token)).cloned() {
                ov.put(
                    StateKey::Token(*token),
                    StateValue::Token(TokenInfo {
                        issuer: *new_issuer,
                        ..t
                    }),
                );
            }
        }
        GovAction::SetConsensusParams {
            timeout_base_ms,
            timeout_max_ms,
            precision_ms,
            message_delay_ms,
        } => {
            let current = match ov.get(&StateKey::ConsensusParams) {
                Some(StateValue::ConsensusParams(p)) => *p,
                _ => ConsensusParams::default(),
            };
            let params = ConsensusParams {
                timeout_base_ms: *timeout_base_ms,
                timeout_max_ms: *timeout_max_ms,
                precision_ms: *precision_ms,
                message_delay_ms: *message_delay_ms,
                ..current
            };
            ov.put(
                StateKey::ConsensusParams,
                StateValue::ConsensusParams(params),
            );
        }
        GovAction::ScheduleUpgrade {
            protocol_version,
            height,
        } => ov.put(
            StateKey::Upgrade,
            StateValue::Upgrade(UpgradePlan {
                protocol_version: *protocol_version,
                height: *height,
            }),
        ),
    }
}

/// A change to the validator set that passing an action makes.
enum SetChange {
    None,
    /// The set as it will be.
    To(ValidatorList),
}

impl Exec<'_, '_> {
    /// The validator sets of the overlay, `(from, set)`, in order.
    fn validator_sets(&self) -> Vec<(u64, ValidatorList)> {
        let range = self.ov.range(
            &StateKey::ValidatorsFrom(0),
            &StateKey::ValidatorsFrom(u64::MAX),
        );
        sets_in(range).map(|(h, l)| (h, l.clone())).collect()
    }

    /// The set in force at this block.
    fn current_set(&self) -> ValidatorList {
        self.validator_sets()
            .into_iter()
            .rev()
            .find(|(from, _)| *from <= self.height)
            .map(|(_, l)| l)
            .unwrap_or_default()
    }

    /// The last set scheduled, and the height it is in force from.
    fn latest_set(&self) -> (u64, ValidatorList) {
        self.validator_sets().pop().unwrap_or_default()
    }

    fn require_validator_merchant(&self, set: &ValidatorList) -> Result<(), Rejection> {
        if set.iter().any(|v| v.account == self.sender) {
            Ok(())
        } else {
            reject(RejectCode::NotValidatorMerchant)
        }
    }

    fn is_merchant(&self, account: &Address) -> bool {
        self.ov.get(&StateKey::Merchant(*account)).is_some()
    }

    /// Whether `key` is taken by any merchant or validator other than
    /// `except`'s: accounts, validator keys and p2p keys of the merchants
    /// and of the last set scheduled, and merchants that passed and wait
    /// for their activation.
    fn key_in_use(&self, key: &PublicKey, except: Option<&Address>) -> bool {
        let (_, latest) = self.latest_set();
        let in_set = latest.iter().any(|v| {
            Some(&v.account) != except && (v.key == *key || v.p2p_key == *key || v.account == *key)
        });
        let merchants = self.ov.range(
            &StateKey::Merchant(Address::ZERO),
            &StateKey::Merchant(Address::MAX),
        );
        let in_merchants = merchants.into_iter().any(|(k, v)| match (k, v) {
            (StateKey::Merchant(a), StateValue::Merchant(m)) if Some(a) != except => {
                a == key
                    || m.validator
                        .as_ref()
                        .is_some_and(|v| v.key == *key || v.p2p_key == *key)
            }
            _ => false,
        });
        in_set || in_merchants || self.pending_merchant(key)
    }

    /// Whether a passed `AddMerchant` not yet in force names `account`.
    fn pending_merchant(&self, account: &Address) -> bool {
        let Some(StateValue::Activations(pending)) = self.ov.get(&StateKey::Activations) else {
            return false;
        };
        pending.iter().any(|(_, id)| {
            matches!(
                self.ov.get(&StateKey::Proposal(*id)),
                Some(StateValue::Proposal(ProposalRecord {
                    action: GovAction::AddMerchant { merchant },
                    ..
                })) if merchant.record.account == *account
            )
        })
    }

    /// The checks an action must pass against the state, when it is
    /// proposed and again when it passes; the change of the validator set
    /// it makes.
    fn check_action(&self, action: &GovAction) -> Result<SetChange, Rejection> {
        let (_, latest) = self.latest_set();
        match action {
            GovAction::AddMerchant { merchant } => {
                let r = &merchant.record;
                if self.is_merchant(&r.account) || self.pending_merchant(&r.account) {
                    return reject(RejectCode::MerchantExists);
                }
                if merchant_keys(merchant)
                    .iter()
                    .any(|k| self.key_in_use(k, None))
                {
                    return reject(RejectCode::KeyInUse);
                }
                let Some(v) = &r.validator else {
                    return Ok(SetChange::None);
                };
                if latest.len() >= MAX_VALIDATORS {
                    return reject(RejectCode::TooManyValidators);
                }
                let mut next = latest.into_inner();
                next.push(ValidatorEntry {
                    account: r.account,
                    key: v.key,
                    p2p_key: v.p2p_key,
                });
                Ok(SetChange::To(
                    BoundedVec::new(next).map_err(|_| overflow())?,
                ))
            }
            GovAction::RemoveMerchant { account } => {
                if !self.is_merchant(account) {
                    return reject(RejectCode::UnknownMerchant);
                }
                if !latest.iter().any(|v| v.account == *account) {
                    return Ok(SetChange::None);
                }
                let next: Vec<ValidatorEntry> = latest
                    .iter()
                    .filter(|v| v.account != *account)
                    .copied()
                    .collect();
                if next.is_empty() {
                    return reject(RejectCode::NoValidatorLeft);
                }
                Ok(SetChange::To(
                    BoundedVec::new(next).map_err(|_| overflow())?,
                ))
            }
            GovAction::RotateValidatorKey { merchant } => {
                let r = &merchant.record;
                if !self.is_merchant(&r.account) {
                    return reject(RejectCode::UnknownMerchant);
                }
                let Some(v) = &r.validator else {
                    return reject(RejectCode::InvalidMerchant);
                };
                if [v.key, v.p2p_key]
                    .iter()
                    .any(|k| self.key_in_use(k, Some(&r.account)))
                    || latest
                        .iter()
                        .any(|e| e.account == r.account && e.key == v.key)
                {
                    return reject(RejectCode::KeyInUse);
                }
                let entry = ValidatorEntry {
                    account: r.account,
                    key: v.key,
                    p2p_key: v.p2p_key,
                };
                let mut next = latest.into_inner();
                match next.iter().position(|e| e.account == r.account) {
                    Some(i) => next[i] = entry,
                    None if next.len() >= MAX_VALIDATORS => {
                        return reject(RejectCode::TooManyValidators);
                    }
                    None => next.push(entry),
                }
                Ok(SetChange::To(
                    BoundedVec::new(next).map_err(|_| overflow())?,
                ))
            }
            GovAction::ReassignIssuer { token, .. } => {
                self.token(token)?;
                Ok(SetChange::None)
            }
            GovAction::SetConsensusParams { .. } => Ok(SetChange::None),
            GovAction::ScheduleUpgrade { .. } => Ok(SetChange::None),
        }
    }

    pub(super) fn propose(
        &mut self,
        action: &GovAction,
        voting_ends_height: u64,
    ) -> Result<(), Rejection> {
        let set = self.current_set();
        self.require_validator_merchant(&set)?;
        let longest = self.height.saturating_add(MAX_VOTING_PERIOD_BLOCKS);
        if voting_ends_height <= self.height || voting_ends_height > longest {
            return reject(RejectCode::InvalidVotingPeriod);
        }
        if let GovAction::ScheduleUpgrade { height, .. } = action
            && *height <= voting_ends_height.saturating_add(ACTIVATION_DELAY_BLOCKS)
        {
            return reject(RejectCode::InvalidUpgrade);
        }
        self.check_action(action)?;
        let mut open = self.open_proposals();
        if open.len() >= MAX_OPEN_PROPOSALS {
            return reject(RejectCode::TooManyProposals);
        }
        let id = match self.ov.get(&StateKey::NextProposalId) {
            Some(StateValue::NextProposalId(n)) => *n,
            _ => 1,
        };
        let record = ProposalRecord {
            id,
            proposer: self.sender,
            action: action.clone(),
            created_height: self.height,
            voting_ends_height,
            approvals: BoundedVec::default(),
            rejections: BoundedVec::default(),
            status: ProposalStatus::Open,
        };
        self.ov
            .put(StateKey::Proposal(id), StateValue::Proposal(record));
        self.ov.put(
            StateKey::NextProposalId,
            StateValue::NextProposalId(id.checked_add(1).ok_or_else(overflow)?),
        );
        open.push(id);
        self.put_open(open)?;
        self.events.push(Event::Proposed {
            proposal: id,
            proposer: self.sender,
            action: BoundedString::new(action.name()).unwrap_or_default(),
            voting_ends_height,
        });
        Ok(())
    }

    /// The proposals still open for votes in this block.
    fn open_proposals(&self) -> Vec<u64> {
        let Some(StateValue::ProposalIds(ids)) = self.ov.get(&StateKey::OpenProposals) else {
            return Vec::new();
        };
        ids.iter()
            .copied()
            .filter(|id| {
                matches!(
                    self.ov.get(&StateKey::Proposal(*id)),
                    Some(StateValue::Proposal(p)) if p.is_open_at(self.height)
                )
            })
            .collect()
    }

    fn put_open(&mut self, open: Vec<u64>) -> Result<(), Rejection> {
        if open.is_empty() {
            self.ov.delete(StateKey::OpenProposals);
        } else {
            let ids = BoundedVec::new(open).map_err(|_| (RejectCode::TooManyProposals, None))?;
            self.ov
                .put(StateKey::OpenProposals, StateValue::ProposalIds(ids));
        }
        Ok(())
    }

    pub(super) fn vote(&mut self, id: u64, approve: bool) -> Result<(), Rejection> {
        let set = self.current_set();
        self.require_validator_merchant(&set)?;
        let mut p = match self.ov.get(&StateKey::Proposal(id)) {
            Some(StateValue::Proposal(p)) => p.clone(),
            _ => return reject(RejectCode::UnknownProposal),
        };
        if p.status != ProposalStatus::Open {
            return reject(RejectCode::ProposalClosed);
        }
        if self.height >= p.voting_ends_height {
            return reject(RejectCode::VotingEnded);
        }
        if p.approvals.contains(&self.sender) || p.rejections.contains(&self.sender) {
            return reject(RejectCode::AlreadyVoted);
        }
        let side = if approve {
            &mut p.approvals
        } else {
            &mut p.rejections
        };
        let mut votes = std::mem::take(side).into_inner();
        votes.push(self.sender);
        *side = BoundedVec::new(votes).map_err(|_| overflow())?;
        self.events.push(Event::Voted {
            proposal: id,
            voter: self.sender,
            approve,
        });
        // Only the votes of merchants whose validator is in force count.
        let counts = |votes: &BoundedVec<Address, MAX_VALIDATORS>| {
            votes
                .iter()
                .filter(|a| set.iter().any(|v| v.account == **a))
                .count()
        };
        let n = set.len();
        if counts(&p.approvals) >= quorum_size(n) {
            self.pass(&mut p)?;
        } else if counts(&p.rejections) > max_faulty(n) {
            p.status = ProposalStatus::Rejected {
                height: self.height,
            };
            self.events.push(Event::ProposalRejected { proposal: id });
        }
        if p.status != ProposalStatus::Open {
            let open: Vec<u64> = self
                .open_proposals()
                .into_iter()
                .filter(|o| *o != id)
                .collect();
            self.put_open(open)?;
        }
        self.ov.put(StateKey::Proposal(id), StateValue::Proposal(p));
        Ok(())
    }

    /// A quorum approved `p`: schedule it, with the validator set it makes
    /// if it changes the set, or record why it can no longer be done.
    fn pass(&mut self, p: &mut ProposalRecord) -> Result<(), Rejection> {
        let change = match self.check_action(&p.action) {
            Ok(change) => change,
            Err((code, _)) => {
                p.status = ProposalStatus::Failed {
                    height: self.height,
                    code,
                };
                self.events.push(Event::ProposalFailed {
                    proposal: p.id,
                    code,
                });
                return Ok(());
            }
        };
        let mut activation = self.height.saturating_add(ACTIVATION_DELAY_BLOCKS);
        if let SetChange::To(next) = change {
            // At most one change of the set per height, in the order they pass.
            let (latest_from, _) = self.latest_set();
            activation = activation.max(latest_from.saturating_add(1));
            self.ov.put(
                StateKey::ValidatorsFrom(activation),
                StateValue::Validators(next),
            );
        }
        let mut pending = match self.ov.get(&StateKey::Activations) {
            Some(StateValue::Activations(a)) => a.clone().into_inner(),
            _ => Vec::new(),
        };
        pending.push((activation, p.id));
        pending.sort_unstable();
        let pending = BoundedVec::new(pending).map_err(|_| (RejectCode::TooManyProposals, None))?;
        self.ov
            .put(StateKey::Activations, StateValue::Activations(pending));
        p.status = ProposalStatus::Passed {
            height: self.height,
            activation_height: activation,
        };
        self.events.push(Event::ProposalPassed {
            proposal: p.id,
            activation_height: activation,
        });
        Ok(())
    }
}

/// Every key a signed merchant record names.
fn merchant_keys(merchant: &SignedMerchant) -> Vec<PublicKey> {
    merchant.record.keys().into_iter().map(|(_, k)| k).collect()
}

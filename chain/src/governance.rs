//! Alliance governance: proposals, votes, and the validator set as state.
//!
//! The merchants whose validators are in force propose and vote. A proposal
//! passes in the block of the vote that brings its approvals to a quorum
//! (n − f) of the set in force at that block, and takes effect
//! [`ACTIVATION_DELAY_BLOCKS`] later; a change of the validator set is
//! written as the whole new set, in force from its activation height, the
//! moment it passes. Since the delay is longer than the heights a replica
//! buffers ahead ([`crate::consensus::MAX_FUTURE_HEIGHTS`]), every message is
//! judged by a set that is already decided. See
//! `docs/adr/011-governance.md`.

use crate::crypto::{Address, Hash32, PublicKey, sha256};
use crate::encoding::{self, BoundedVec, Decode, Encode};
use crate::limits::MAX_VALIDATORS;
use crate::merchant::SignedMerchant;
use crate::reject::RejectCode;
use crate::tx::Symbol;

/// Blocks between the one that passes a proposal and the first it is in
/// force at. Above [`crate::consensus::MAX_FUTURE_HEIGHTS`].
pub const ACTIVATION_DELAY_BLOCKS: u64 = 8;
const _: () = assert!(ACTIVATION_DELAY_BLOCKS > crate::consensus::MAX_FUTURE_HEIGHTS);
/// Proposals open for voting at once.
pub const MAX_OPEN_PROPOSALS: usize = 16;
/// Passed proposals waiting for their activation height at once. Every one
/// was open when it passed, and one passes per vote, so within the delay
/// there are never more than this.
pub const MAX_PENDING_ACTIVATIONS: usize = 4 * MAX_OPEN_PROPOSALS;
/// How far ahead of its block a proposal's voting may end.
pub const MAX_VOTING_PERIOD_BLOCKS: u64 = 100_000;
/// The protocol this software runs. A `ScheduleUpgrade` to a later version
/// stops it at the upgrade's height.
pub const PROTOCOL_VERSION: u32 = 1;

/// One validator of a set: whose it is, the key that signs its votes and
/// the p2p key its node is known by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct ValidatorEntry {
    /// The merchant account that runs it; it votes in governance.
    pub account: Address,
    pub key: PublicKey,
    pub p2p_key: PublicKey,
}

/// A validator set as state holds it, in proposer order.
pub type ValidatorList = BoundedVec<ValidatorEntry, MAX_VALIDATORS>;

/// The hash a header carries for a set: SHA-256 of its canonical bytes.
pub fn validators_hash(list: &ValidatorList) -> Hash32 {
    sha256(&encoding::encode(list))
}

/// What a proposal would change.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum GovAction {
    /// A new merchant, from its signed record (key ceremony). With a
    /// validator in the record, the validator joins the set.
    AddMerchant { merchant: Box<SignedMerchant> },
    /// A merchant leaves; its validator, if any, leaves the set.
    RemoveMerchant { account: Address },
    /// A current merchant's new validator (and p2p) key, from a record it
    /// signed with them.
    RotateValidatorKey { merchant: Box<SignedMerchant> },
    /// A token's issuer key changes (the old one was lost or leaked).
    ReassignIssuer { token: Symbol, new_issuer: Address },
    /// New consensus timings; the heartbeat stays.
    SetConsensusParams {
        timeout_base_ms: u64,
        timeout_max_ms: u64,
        precision_ms: u64,
        message_delay_ms: u64,
    },
    /// From `height` on, the chain needs software of `protocol_version`.
    ScheduleUpgrade { protocol_version: u32, height: u64 },
}

impl GovAction {
    /// The action's name as users and RPC see it.
    pub fn name(&self) -> &'static str {
        match self {
            GovAction::AddMerchant { .. } => "AddMerchant",
            GovAction::RemoveMerchant { .. } => "RemoveMerchant",
            GovAction::RotateValidatorKey { .. } => "RotateValidatorKey",
            GovAction::ReassignIssuer { .. } => "ReassignIssuer",
            GovAction::SetConsensusParams { .. } => "SetConsensusParams",
            GovAction::ScheduleUpgrade { .. } => "ScheduleUpgrade",
        }
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum ProposalStatus {
    /// Voting goes on until `voting_ends_height`; past it, it expired.
    Open,
    /// A quorum approved it in block `height`; it is in force from
    /// `activation_height`.
    Passed { height: u64, activation_height: u64 },
    /// More than f of the set voted no in block `height`.
    Rejected { height: u64 },
    /// A quorum approved it in block `height`, but by then it could no
    /// longer be carried out (another change came first): nothing changed.
    Failed { height: u64, code: RejectCode },
}

/// A proposal and its votes.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ProposalRecord {
    pub id: u64,
    /// The merchant account that proposed it.
    pub proposer: Address,
    pub action: GovAction,
    pub created_height: u64,
    /// Votes are taken in blocks below this height.
    pub voting_ends_height: u64,
    /// Merchant accounts that approved, in vote order.
    pub approvals: BoundedVec<Address, MAX_VALIDATORS>,
    /// Merchant accounts that voted no, in vote order.
    pub rejections: BoundedVec<Address, MAX_VALIDATORS>,
    pub status: ProposalStatus,
}

impl ProposalRecord {
    /// Whether votes are still taken in block `height`.
    pub fn is_open_at(&self, height: u64) -> bool {
        self.status == ProposalStatus::Open && height < self.voting_ends_height
    }

    /// The status as shown: an open proposal whose voting ended before
    /// `height` expired.
    pub fn shown_status(&self, height: u64) -> &'static str {
        match self.status {
            ProposalStatus::Open if height >= self.voting_ends_height => "expired",
            ProposalStatus::Open => "open",
            ProposalStatus::Passed { .. } => "passed",
            ProposalStatus::Rejected { .. } => "rejected",
            ProposalStatus::Failed { .. } => "failed",
        }
    }
}

/// A protocol upgrade the alliance scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct UpgradePlan {
    pub protocol_version: u32,
    /// The first height that needs it.
    pub height: u64,
}

impl UpgradePlan {
    /// Whether this software can execute block `height`.
    pub fn supports(&self, height: u64) -> bool {
        height < self.height || self.protocol_version <= PROTOCOL_VERSION
    }
}

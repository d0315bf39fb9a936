//! Blocks, receipts and commit certificates.

use crate::crypto::{Address, Hash32, PublicKey, Signature, sha256};
use crate::encoding::{self, BoundedString, BoundedVec, Decode, DecodeError, Encode};
use crate::limits::*;
use crate::merkle;
use crate::reject::RejectCode;
use crate::state::LotHolder;
use crate::tx::{AccountRef, ChainId, OrderId, Price, SubAccountLabel, Symbol, Transaction};

/// Decode bound on the events of one receipt (a 50-leg payment emits 51).
pub const RECEIPT_EVENTS_DECODE_BOUND: usize = 1024;

/// The header of DESIGN §3. Its hash names the block.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct BlockHeader {
    pub chain_id: ChainId,
    pub height: u64,
    pub round: u32,
    pub parent_hash: Hash32,
    pub timestamp_ms: u64,
    pub proposer: Address,
    /// Merkle root of the transaction hashes.
    pub tx_root: Hash32,
    /// Merkle root of the receipts.
    pub receipts_root: Hash32,
    /// Commitment to the whole state after this block.
    pub state_root: Hash32,
    /// The validator set in force at this height: the one that signs this
    /// block's certificate (`governance::validators_hash`).
    pub validators_hash: Hash32,
    /// The validator set in force at the next height.
    pub next_validators_hash: Hash32,
}

impl BlockHeader {
    pub fn hash(&self) -> Hash32 {
        sha256(&encoding::encode(self))
    }
}

/// A header and its transactions.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: BoundedVec<Transaction, MAX_BLOCK_TXS>,
}

impl Block {
    pub fn hash(&self) -> Hash32 {
        self.header.hash()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode(bytes, MAX_BLOCK_BYTES)
    }
}

/// The Merkle root over transaction hashes.
pub fn tx_root(tx_hashes: &[Hash32]) -> Hash32 {
    let leaves: Vec<Hash32> = tx_hashes.iter().map(|h| merkle::leaf_hash(&h.0)).collect();
    merkle::root(&leaves)
}

/// The Merkle root over a block's receipts, then its block events
/// ([`receipt_leaves`]).
pub fn receipts_root(receipts: &[Receipt], block_events: &[Event]) -> Hash32 {
    merkle::root(&receipt_leaves(receipts, block_events))
}

/// The first byte of a leaf of block events: no receipt's encoding is read
/// as one, since a receipt's leaf sits at a transaction's index.
pub const BLOCK_EVENTS_LEAF: u8 = 0xEB;

/// One leaf's worth of block events.
pub type BlockEventChunk = BoundedVec<Event, RECEIPT_EVENTS_DECODE_BOUND>;

/// The leaves under `receipts_root`: one per receipt, in transaction order,
/// then the block's own events (lot expiries, DESIGN §11) in chunks of
/// [`RECEIPT_EVENTS_DECODE_BOUND`], each `BLOCK_EVENTS_LEAF ‖ chunk`. A
/// block without events has exactly its receipts' leaves.
pub fn receipt_leaves(receipts: &[Receipt], block_events: &[Event]) -> Vec<Hash32> {
    let mut leaves: Vec<Hash32> = receipts
        .iter()
        .map(|r| merkle::leaf_hash(&encoding::encode(r)))
        .collect();
    for chunk in block_events.chunks(RECEIPT_EVENTS_DECODE_BOUND) {
        // A `Vec` encodes as a `BlockEventChunk` does.
        let mut bytes = vec![BLOCK_EVENTS_LEAF];
        bytes.extend(encoding::encode(&chunk.to_vec()));
        leaves.push(merkle::leaf_hash(&bytes));
    }
    leaves
}

/// What a committed transaction did, for receipts, history and subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    TokenCreated {
        token: Symbol,
        issuer: Address,
    },
    Minted {
        token: Symbol,
        to: AccountRef,
        amount: u64,
    },
    Transferred {
        token: Symbol,
        from: AccountRef,
        to: AccountRef,
        amount: u64,
    },
    Paid {
        token: Symbol,
        payer: AccountRef,
        order_id: OrderId,
        total: u64,
    },
    Refunded {
        token: Symbol,
        payment: Hash32,
        from: AccountRef,
        to: AccountRef,
        amount: u64,
    },
    Redeemed {
        token: Symbol,
        from: AccountRef,
        amount: u64,
    },
    /// An offer was placed and `amount` of `sell` locked. Its trades follow.
    OfferPlaced {
        offer: u64,
        owner: AccountRef,
        sell: Symbol,
        buy: Symbol,
        amount: u64,
        price: Price,
    },
    /// The taker's new offer crossed a resting (maker) offer: the taker gave
    /// `paid` of `pay_token` and got `got` of `get_token`, at the maker's
    /// price rounded in the maker's favour. `maker_remaining` is what the
    /// maker offer still holds; at 0 it has left the book.
    Trade {
        taker_offer: u64,
        maker_offer: u64,
        taker: AccountRef,
        maker: AccountRef,
        pay_token: Symbol,
        paid: u64,
        get_token: Symbol,
        got: u64,
        maker_remaining: u64,
    },
    /// The owner cancelled an offer and got `returned` of `token` back.
    OfferCancelled {
        offer: u64,
        owner: AccountRef,
        token: Symbol,
        returned: u64,
    },
    EscrowCreated {
        escrow: Hash32,
        token: Symbol,
        payer: AccountRef,
        payee: AccountRef,
        amount: u64,
        deadline_ms: u64,
    },
    EscrowReleased {
        escrow: Hash32,
        token: Symbol,
        payer: AccountRef,
        payee: AccountRef,
        amount: u64,
    },
    EscrowRefunded {
        escrow: Hash32,
        token: Symbol,
        payer: AccountRef,
        payee: AccountRef,
        amount: u64,
    },
    /// A merchant proposed a change to the alliance.
    Proposed {
        proposal: u64,
        proposer: Address,
        /// The action's name, e.g. `AddMerchant`.
        action: BoundedString<32>,
        voting_ends_height: u64,
    },
    /// A merchant voted on a proposal.
    Voted {
        proposal: u64,
        voter: Address,
        approve: bool,
    },
    /// The vote brought the approvals to a quorum: the proposal is in force
    /// from `activation_height`.
    ProposalPassed {
        proposal: u64,
        activation_height: u64,
    },
    /// More than f of the validators voted no.
    ProposalRejected {
        proposal: u64,
    },
    /// A quorum approved it, but it could no longer be carried out.
    ProposalFailed {
        proposal: u64,
        code: RejectCode,
    },
    /// A block event, not a transaction's: a lot of `token` reached its
    /// expiry time and its points left `holder` (an account, or the open
    /// offer or escrow that locked them) for good. `owner` is the account,
    /// the offer's owner or the escrow's payer.
    LotExpired {
        token: Symbol,
        holder: LotHolder,
        owner: AccountRef,
        amount: u64,
        expires_at_ms: u64,
        /// The part of `amount` that was frozen (for an account's lot).
        frozen: u64,
    },
    /// A block event: the last of an open escrow's points expired, and the
    /// escrow closed as `expired` (its `LotExpired` event comes first).
    EscrowExpired {
        escrow: Hash32,
        token: Symbol,
        payer: AccountRef,
        payee: AccountRef,
    },
    /// The issuer froze `amount` of the account's points.
    Frozen {
        token: Symbol,
        account: AccountRef,
        amount: u64,
    },
    /// The issuer unfroze `amount` of the account's points.
    Unfrozen {
        token: Symbol,
        account: AccountRef,
        amount: u64,
    },
    /// The issuer took `amount` back from the account and burnt it;
    /// `frozen` of it had been frozen.
    ClawedBack {
        token: Symbol,
        from: AccountRef,
        amount: u64,
        frozen: u64,
    },
    /// A path payment crossed a resting (maker) offer on one hop: the
    /// payer paid `paid` of `pay_token` and got `got` of `get_token`, which
    /// pay the next hop or, on the last, the receiver.
    PathTrade {
        payer: AccountRef,
        maker: AccountRef,
        maker_offer: u64,
        pay_token: Symbol,
        paid: u64,
        get_token: Symbol,
        got: u64,
        maker_remaining: u64,
    },
    /// A path payment delivered `received` of `dest_token` to `to`, and the
    /// payer spent `sent` of `send_token` on it (its trades come first).
    PathPaid {
        payer: AccountRef,
        to: AccountRef,
        send_token: Symbol,
        sent: u64,
        dest_token: Symbol,
        received: u64,
    },
    /// The sender opened sub-account `account`.
    SubAccountOpened {
        account: AccountRef,
        label: SubAccountLabel,
    },
}

impl Event {
    /// Every address the event touches (an account or one of its
    /// sub-accounts).
    pub fn accounts(&self) -> Vec<Address> {
        let refs: Vec<AccountRef> = match self {
            Event::TokenCreated { issuer, .. } => vec![AccountRef::main(*issuer)],
            Event::Minted { to, .. } => vec![*to],
            Event::Transferred { from, to, .. } | Event::Refunded { from, to, .. } => {
                vec![*from, *to]
            }
            Event::Paid { payer, .. } => vec![*payer],
            Event::Redeemed { from, .. } => vec![*from],
            Event::OfferPlaced { owner, .. } | Event::OfferCancelled { owner, .. } => vec![*owner],
            Event::Trade { taker, maker, .. } => vec![*taker, *maker],
            Event::EscrowCreated { payer, payee, .. }
            | Event::EscrowReleased { payer, payee, .. }
            | Event::EscrowRefunded { payer, payee, .. }
            | Event::EscrowExpired { payer, payee, .. } => vec![*payer, *payee],
            Event::Proposed { proposer, .. } => vec![AccountRef::main(*proposer)],
            Event::Voted { voter, .. } => vec![AccountRef::main(*voter)],
            Event::LotExpired { owner, .. } => vec![*owner],
            Event::Frozen { account, .. } | Event::Unfrozen { account, .. } => vec![*account],
            Event::ClawedBack { from, .. } => vec![*from],
            Event::PathTrade { payer, maker, .. } => vec![*payer, *maker],
            Event::PathPaid { payer, to, .. } => vec![*payer, *to],
            Event::SubAccountOpened { account, .. } => vec![*account],
            Event::ProposalPassed { .. }
            | Event::ProposalRejected { .. }
            | Event::ProposalFailed { .. } => vec![],
        };
        refs.into_iter().map(|a| a.address).collect()
    }
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum TxOutcome {
    Committed {
        events: BoundedVec<Event, RECEIPT_EVENTS_DECODE_BOUND>,
    },
    /// Nothing changed. `original` names the earlier transaction a
    /// `DuplicateOrderId` collides with.
    Rejected {
        code: RejectCode,
        original: Option<Hash32>,
    },
}

/// The receipt of one transaction in a block.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Receipt {
    pub tx_hash: Hash32,
    pub outcome: TxOutcome,
}

impl Receipt {
    pub fn code(&self) -> Option<RejectCode> {
        match &self.outcome {
            TxOutcome::Committed { .. } => None,
            TxOutcome::Rejected { code, .. } => Some(*code),
        }
    }

    pub fn events(&self) -> &[Event] {
        match &self.outcome {
            TxOutcome::Committed { events } => events.as_slice(),
            TxOutcome::Rejected { .. } => &[],
        }
    }
}

/// One validator's signature in a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ValidatorSignature {
    pub validator: PublicKey,
    pub signature: Signature,
}

/// Proof that 2f+1 validators committed a block: their Commit votes for
/// `(height, round, block_hash)`. The consensus module defines the signed
/// bytes and checks certificates.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CommitCertificate {
    pub height: u64,
    pub round: u32,
    pub block_hash: Hash32,
    pub signatures: BoundedVec<ValidatorSignature, MAX_VALIDATORS>,
}

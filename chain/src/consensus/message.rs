//! Consensus messages, the bytes validators sign, and their size bounds.
//!
//! A validator signs a [`Statement`]. The signed bytes are
//! `SIGNING_DOMAIN ‖ 0 ‖ kind ‖ 0 ‖ chain_id ‖ statement` (see
//! [`signing_bytes`]), so a signature is bound to one chain and one message
//! type and can never be replayed as another. Blocks travel beside the
//! statement, outside the signature: a statement names its block by hash
//! and the receiver checks that the attached block hashes to it.

use crate::block::{Block, CommitCertificate, ValidatorSignature};
use crate::crypto::{Hash32, Keypair, PublicKey, Signature};
use crate::encoding::{self, BoundedVec, Decode, DecodeError, Encode};
use crate::limits::{MAX_BLOCK_BYTES, MAX_VALIDATORS};
use crate::tx::ChainId;

/// The prefix of every signed consensus statement.
pub const SIGNING_DOMAIN: &[u8] = b"merit/consensus/v1";

/// Largest encoded signed statement, without its block. The largest legal
/// one is a NewView from [`MAX_VALIDATORS`] view changes that each carry a
/// full prepared certificate, under 1 MB.
pub const MAX_STATEMENT_BYTES: usize = 1024 * 1024;

/// Largest encoded [`Message`]: a statement and at most one block. Checked
/// before decoding.
pub const MAX_MESSAGE_BYTES: usize = MAX_BLOCK_BYTES + MAX_STATEMENT_BYTES;

/// A validator's statement about one block at `(height, round)`: a
/// PrePrepare, Prepare or Commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub struct Vote {
    pub height: u64,
    pub round: u32,
    pub block_hash: Hash32,
}

/// Proof that a quorum sent Prepare for `block_hash` at `(height, round)`:
/// their Prepare signatures.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PreparedCertificate {
    pub height: u64,
    pub round: u32,
    pub block_hash: Hash32,
    pub signatures: BoundedVec<ValidatorSignature, MAX_VALIDATORS>,
}

impl PreparedCertificate {
    /// The Prepare vote every signature in the certificate signs.
    pub fn vote(&self) -> Vote {
        Vote {
            height: self.height,
            round: self.round,
            block_hash: self.block_hash,
        }
    }
}

/// A replica's request to move to `round` at `height`, with the highest
/// prepared certificate it holds.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ViewChange {
    pub height: u64,
    pub round: u32,
    pub prepared: Option<PreparedCertificate>,
}

/// A view change with its sender's signature, as carried inside a NewView.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SignedViewChange {
    pub view_change: ViewChange,
    pub validator: PublicKey,
    pub signature: Signature,
}

/// The proposal of a round above 0: the block, justified by a quorum of
/// view changes for that round. If any of them carries a prepared
/// certificate, the block must be the one of the highest.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct NewView {
    pub height: u64,
    pub round: u32,
    pub block_hash: Hash32,
    pub view_changes: BoundedVec<SignedViewChange, MAX_VALIDATORS>,
}

/// What a validator signs. New variants are only ever appended.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Statement {
    /// The round-0 proposal of the proposer for `(height, 0)`.
    PrePrepare(Vote),
    Prepare(Vote),
    Commit(Vote),
    ViewChange(ViewChange),
    NewView(NewView),
    /// The commit certificate of a final block, sent to validators still
    /// working on that height so they fetch it by block sync.
    Decision(CommitCertificate),
}

/// The type of a statement, as it appears in the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MessageKind {
    PrePrepare,
    Prepare,
    Commit,
    ViewChange,
    NewView,
    Decision,
}

impl MessageKind {
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::PrePrepare => "pre-prepare",
            MessageKind::Prepare => "prepare",
            MessageKind::Commit => "commit",
            MessageKind::ViewChange => "view-change",
            MessageKind::NewView => "new-view",
            MessageKind::Decision => "decision",
        }
    }
}

impl Statement {
    pub fn kind(&self) -> MessageKind {
        match self {
            Statement::PrePrepare(_) => MessageKind::PrePrepare,
            Statement::Prepare(_) => MessageKind::Prepare,
            Statement::Commit(_) => MessageKind::Commit,
            Statement::ViewChange(_) => MessageKind::ViewChange,
            Statement::NewView(_) => MessageKind::NewView,
            Statement::Decision(_) => MessageKind::Decision,
        }
    }

    pub fn height(&self) -> u64 {
        match self {
            Statement::PrePrepare(v) | Statement::Prepare(v) | Statement::Commit(v) => v.height,
            Statement::ViewChange(vc) => vc.height,
            Statement::NewView(nv) => nv.height,
            Statement::Decision(cert) => cert.height,
        }
    }

    pub fn round(&self) -> u32 {
        match self {
            Statement::PrePrepare(v) | Statement::Prepare(v) | Statement::Commit(v) => v.round,
            Statement::ViewChange(vc) => vc.round,
            Statement::NewView(nv) => nv.round,
            Statement::Decision(cert) => cert.round,
        }
    }

    /// The block the statement is about, if it names one.
    pub fn block_hash(&self) -> Option<Hash32> {
        match self {
            Statement::PrePrepare(v) | Statement::Prepare(v) | Statement::Commit(v) => {
                Some(v.block_hash)
            }
            Statement::ViewChange(vc) => vc.prepared.as_ref().map(|c| c.block_hash),
            Statement::NewView(nv) => Some(nv.block_hash),
            Statement::Decision(cert) => Some(cert.block_hash),
        }
    }
}

/// The exact bytes a validator signs for `statement` on `chain_id`.
pub fn signing_bytes(chain_id: &ChainId, statement: &Statement) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIGNING_DOMAIN.len() + 160);
    out.extend_from_slice(SIGNING_DOMAIN);
    out.push(0);
    out.extend_from_slice(statement.kind().name().as_bytes());
    out.push(0);
    encoding::encode_into(chain_id, &mut out);
    encoding::encode_into(statement, &mut out);
    out
}

/// A statement with its validator's signature.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SignedStatement {
    pub statement: Statement,
    pub validator: PublicKey,
    pub signature: Signature,
}

impl SignedStatement {
    /// Signs `statement` for `chain_id` with `key`.
    pub fn sign(chain_id: &ChainId, key: &Keypair, statement: Statement) -> Self {
        let signature = key.sign(&signing_bytes(chain_id, &statement));
        SignedStatement {
            statement,
            validator: key.public(),
            signature,
        }
    }
}

/// What travels between validators: a signed statement and, for a
/// PrePrepare, a NewView or a ViewChange with a prepared certificate, the
/// block it names.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Message {
    pub signed: SignedStatement,
    pub block: Option<Block>,
}

impl Message {
    /// Signs `statement` and attaches `block`.
    pub fn sign(
        chain_id: &ChainId,
        key: &Keypair,
        statement: Statement,
        block: Option<Block>,
    ) -> Self {
        Message {
            signed: SignedStatement::sign(chain_id, key, statement),
            block,
        }
    }

    pub fn statement(&self) -> &Statement {
        &self.signed.statement
    }

    pub fn sender(&self) -> &PublicKey {
        &self.signed.validator
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a message from untrusted bytes, at most [`MAX_MESSAGE_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode(bytes, MAX_MESSAGE_BYTES)
    }

    /// The height the statement of an encoded message names, read from its
    /// first [`PEEK_BYTES`] bytes alone: the statement's variant, then the
    /// height every variant begins with. Nothing else is read, so a host can
    /// tell which heights a message is about before it decodes (or hashes)
    /// a block attached to it. `None` if the bytes cannot start a message.
    /// The height is the sender's claim; nothing is verified.
    pub fn peek_height(bytes: &[u8]) -> Option<u64> {
        let tag = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?);
        if tag >= STATEMENT_VARIANTS {
            return None;
        }
        Some(u64::from_le_bytes(
            bytes.get(4..PEEK_BYTES)?.try_into().ok()?,
        ))
    }
}

/// Bytes [`Message::peek_height`] reads: a `u32` variant and a `u64` height.
pub const PEEK_BYTES: usize = 12;
/// The variants of [`Statement`] (appended to, never reordered).
const STATEMENT_VARIANTS: u32 = 6;

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(id: &str) -> ChainId {
        ChainId::new(id).unwrap()
    }

    #[test]
    fn signing_bytes_separate_chains_and_message_types() {
        let v = Vote {
            height: 3,
            round: 1,
            block_hash: Hash32([7; 32]),
        };
        let prepare = signing_bytes(&chain("merit-a"), &Statement::Prepare(v));
        let commit = signing_bytes(&chain("merit-a"), &Statement::Commit(v));
        let other_chain = signing_bytes(&chain("merit-b"), &Statement::Prepare(v));
        assert_ne!(prepare, commit);
        assert_ne!(prepare, other_chain);
        assert!(prepare.starts_with(b"merit/consensus/v1\0prepare\0"));
        assert!(commit.starts_with(b"merit/consensus/v1\0commit\0"));
    }

    #[test]
    fn a_message_round_trips_and_oversized_input_is_refused_before_decoding() {
        let key = Keypair::insecure_from_label("v0");
        let m = Message::sign(
            &chain("merit"),
            &key,
            Statement::Commit(Vote {
                height: 1,
                round: 0,
                block_hash: Hash32([1; 32]),
            }),
            None,
        );
        assert_eq!(Message::from_bytes(&m.to_bytes()).unwrap(), m);
        let huge = vec![0u8; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(
            Message::from_bytes(&huge),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn peek_height_reads_the_height_of_every_statement_kind_from_the_front() {
        let key = Keypair::insecure_from_label("v0");
        let chain_id = chain("merit");
        let v = Vote {
            height: 0x0102_0304_0506_0708,
            round: 9,
            block_hash: Hash32([1; 32]),
        };
        let cert = CommitCertificate {
            height: 77,
            round: 1,
            block_hash: Hash32([2; 32]),
            signatures: BoundedVec::default(),
        };
        let statements = [
            Statement::PrePrepare(v),
            Statement::Prepare(v),
            Statement::Commit(v),
            Statement::ViewChange(ViewChange {
                height: 5,
                round: 2,
                prepared: None,
            }),
            Statement::NewView(NewView {
                height: 6,
                round: 3,
                block_hash: Hash32([3; 32]),
                view_changes: BoundedVec::default(),
            }),
            Statement::Decision(cert),
        ];
        assert_eq!(statements.len() as u32, STATEMENT_VARIANTS);
        for s in statements {
            let bytes = Message::sign(&chain_id, &key, s.clone(), None).to_bytes();
            assert_eq!(
                Message::peek_height(&bytes),
                Some(s.height()),
                "{:?}",
                s.kind()
            );
            // Only the front is read: whatever follows is not looked at.
            assert_eq!(Message::peek_height(&bytes[..PEEK_BYTES]), Some(s.height()));
        }
        assert_eq!(Message::peek_height(&[0; PEEK_BYTES - 1]), None);
        let mut unknown = vec![0u8; PEEK_BYTES];
        unknown[..4].copy_from_slice(&STATEMENT_VARIANTS.to_le_bytes());
        assert_eq!(Message::peek_height(&unknown), None);
    }

    #[test]
    fn the_largest_legal_new_view_fits_the_statement_bound() {
        let sig = ValidatorSignature {
            validator: PublicKey([1; 32]),
            signature: Signature([2; 64]),
        };
        let cert = PreparedCertificate {
            height: u64::MAX,
            round: u32::MAX,
            block_hash: Hash32([3; 32]),
            signatures: BoundedVec::new(vec![sig; MAX_VALIDATORS]).unwrap(),
        };
        let vc = SignedViewChange {
            view_change: ViewChange {
                height: u64::MAX,
                round: u32::MAX,
                prepared: Some(cert),
            },
            validator: PublicKey([4; 32]),
            signature: Signature([5; 64]),
        };
        let nv = Statement::NewView(NewView {
            height: u64::MAX,
            round: u32::MAX,
            block_hash: Hash32([6; 32]),
            view_changes: BoundedVec::new(vec![vc; MAX_VALIDATORS]).unwrap(),
        });
        let signed = SignedStatement {
            statement: nv,
            validator: PublicKey([7; 32]),
            signature: Signature([8; 64]),
        };
        let len = encoding::encode(&signed).len();
        assert!(len <= MAX_STATEMENT_BYTES, "{len} bytes");
    }
}

//! A node that answers block sync requests dishonestly. It runs consensus
//! like everyone else; only the blocks it serves to a syncing peer are bad
//! (or never come).

use merit_chain::encoding::BoundedVec;
use merit_chain::{Keypair, TxBody, TxKind};
use merit_node::network::{SyncResponse, SyncedBlock};

use super::super::fixtures;

/// How a byzantine sync server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncFault {
    /// The real headers and certificates, with a transaction slipped into
    /// every block: the certificates verify, the transactions are not the
    /// ones the headers commit to.
    ForgedBlocks,
    /// Blocks altered (their time moved by a millisecond) and named by
    /// certificates whose signatures are over the real blocks.
    BadCertificate,
    /// Takes the request and never answers.
    Stall,
}

impl SyncFault {
    pub fn name(self) -> &'static str {
        match self {
            SyncFault::ForgedBlocks => "forged-blocks",
            SyncFault::BadCertificate => "bad-certificate",
            SyncFault::Stall => "stall",
        }
    }

    /// The answer it gives instead of `honest` (a stalling server gives
    /// none: the world lets the request time out).
    pub fn forge(self, honest: SyncResponse) -> SyncResponse {
        let blocks = honest
            .blocks
            .into_inner()
            .into_iter()
            .map(|SyncedBlock { block, certificate }| {
                let (mut block, mut certificate) = (block, certificate);
                match self {
                    SyncFault::ForgedBlocks => {
                        let mut txs = block.txs.into_inner();
                        txs.push(slipped_in(block.header.height));
                        block.txs = BoundedVec::new(txs).unwrap_or_default();
                    }
                    SyncFault::BadCertificate => {
                        block.header.timestamp_ms += 1;
                        certificate.block_hash = block.hash();
                    }
                    SyncFault::Stall => {}
                }
                SyncedBlock { block, certificate }
            })
            .collect();
        SyncResponse {
            blocks: BoundedVec::new(blocks).unwrap_or_default(),
        }
    }
}

/// A well-signed transfer from a shopper that no validator ever saw.
fn slipped_in(height: u64) -> merit_chain::Transaction {
    let shopper = fixtures::shopper_key(0);
    let thief = Keypair::insecure_from_label("sim-sync-forger");
    TxBody {
        chain_id: fixtures::chain_id(),
        sender: shopper.public(),
        sub: 0,
        nonce: u64::MAX - height,
        expires_at_height: height + 10,
        kind: TxKind::Transfer {
            token: fixtures::token(),
            to: thief.public().into(),
            amount: 1,
            memo: None,
        },
    }
    .sign(&shopper)
}

//! A validator the alliance voted out that keeps voting: on each tick it
//! signs a Prepare and a Commit for the block the others work on at the
//! height after its ledger's tip, as if it were still in the set. Honest
//! replicas must ignore those votes: no certificate may count them.

use std::rc::Rc;

use merit_chain::Hash32;
use merit_chain::consensus::{Message, Statement, Vote};

use super::super::fixtures;
use super::{Byzantine, Ctx, Send};

#[derive(Debug, Default)]
pub struct RemovedVoter {
    /// The last proposal it saw: height, round and block.
    proposal: Option<(u64, u32, Hash32)>,
}

impl RemovedVoter {
    pub const NAME: &'static str = "removed-voter";
}

impl Byzantine for RemovedVoter {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe(&mut self, msg: &Rc<Message>) {
        let proposal = match msg.statement() {
            Statement::PrePrepare(v) => Some((v.height, v.round, v.block_hash)),
            Statement::NewView(nv) => Some((nv.height, nv.round, nv.block_hash)),
            _ => None,
        };
        if proposal.is_some() {
            self.proposal = proposal;
        }
    }

    fn ticks(&self) -> bool {
        true
    }

    fn tick(&mut self, ctx: &mut Ctx<'_>) -> Vec<Send> {
        let height = ctx.ledger.height() + 1;
        let vote = match self.proposal {
            Some((h, round, block_hash)) if h >= height => Vote {
                height: h,
                round,
                block_hash,
            },
            _ => {
                let mut bytes = [0u8; 32];
                bytes[..8].copy_from_slice(&ctx.rng.next_u64().to_le_bytes());
                Vote {
                    height,
                    round: ctx.round,
                    block_hash: Hash32(bytes),
                }
            }
        };
        [Statement::Prepare(vote), Statement::Commit(vote)]
            .into_iter()
            .map(|s| {
                let msg = Message::sign(&fixtures::chain_id(), ctx.key, s, None);
                (ctx.others(), Rc::new(msg))
            })
            .collect()
    }
}

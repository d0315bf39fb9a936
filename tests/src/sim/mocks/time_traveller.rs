//! A proposer that stamps its blocks with a time of its choosing: a day
//! ahead of its clock, or as far back as validity lets it (one millisecond
//! after the parent), alternating from one proposal to the next.
//!
//! Its blocks are valid, so only timeliness stands between it and a chain
//! whose expiring points and escrow deadlines it could move at will. The
//! honest replicas must refuse to prepare its proposals, take the next
//! proposer's, and keep the chain live.

use std::rc::Rc;

use merit_chain::consensus::{Message, NewView, Statement, Vote};
use merit_chain::limits::MS_PER_DAY;

use super::super::fixtures;
use super::{Byzantine, Ctx, Send};

#[derive(Debug, Default)]
pub struct TimeTraveller {
    /// Proposals it has made; even ones go forward, odd ones back.
    proposals: u64,
}

impl TimeTraveller {
    pub const NAME: &'static str = "time-traveller";
    /// How far ahead of its clock a forward proposal is stamped.
    pub const AHEAD_MS: u64 = MS_PER_DAY;
}

impl Byzantine for TimeTraveller {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn outgoing(&mut self, ctx: &mut Ctx<'_>, msg: Rc<Message>) -> Vec<Send> {
        let (height, round) = (msg.statement().height(), msg.statement().round());
        let Some(block) = msg.block.as_ref() else {
            return vec![(ctx.others(), msg)];
        };
        let fresh = match msg.statement() {
            Statement::PrePrepare(_) => true,
            // A NewView that re-proposes a prepared block cannot change it.
            Statement::NewView(nv) => nv
                .view_changes
                .iter()
                .all(|vc| vc.view_change.prepared.is_none()),
            _ => false,
        };
        if !fresh || ctx.ledger.height() + 1 != height {
            return vec![(ctx.others(), msg)];
        }
        let timestamp_ms = if self.proposals.is_multiple_of(2) {
            ctx.now_ms.saturating_add(Self::AHEAD_MS)
        } else {
            ctx.ledger.tip().timestamp_ms + 1
        };
        self.proposals += 1;
        let txs: Vec<_> = block.txs.iter().cloned().collect();
        let verdicts = vec![true; txs.len()];
        let (forged, _) = ctx.ledger.build_block_with_verdicts(
            round,
            timestamp_ms,
            ctx.key.public(),
            txs,
            &verdicts,
        );
        let block_hash = forged.hash();
        let statement = match msg.statement() {
            Statement::NewView(nv) => Statement::NewView(NewView {
                block_hash,
                ..nv.clone()
            }),
            _ => Statement::PrePrepare(Vote {
                height,
                round,
                block_hash,
            }),
        };
        let forged = Message::sign(&fixtures::chain_id(), ctx.key, statement, Some(forged));
        vec![(ctx.others(), Rc::new(forged))]
    }
}

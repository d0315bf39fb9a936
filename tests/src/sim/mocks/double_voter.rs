//! A validator that sends its Prepare and Commit to half the validators
//! and a vote for a different block to the other half.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use merit_chain::Hash32;
use merit_chain::consensus::{Message, Statement, Vote};

use super::super::fixtures;
use super::{Byzantine, Ctx, Send};

#[derive(Debug, Default)]
pub struct DoubleVoter {
    /// Proposals seen at each `(height, round)`, to vote for a real one.
    seen: BTreeMap<(u64, u32), BTreeSet<Hash32>>,
}

impl DoubleVoter {
    pub const NAME: &'static str = "double-voter";

    /// A block hash other than `v.block_hash`: another proposal seen at the
    /// same `(height, round)` if there is one, else made up.
    fn conflicting_hash(&self, ctx: &mut Ctx<'_>, v: &Vote) -> Hash32 {
        let seen = self.seen.get(&(v.height, v.round));
        if let Some(h) = seen.and_then(|s| s.iter().find(|h| **h != v.block_hash)) {
            return *h;
        }
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&ctx.rng.next_u64().to_le_bytes());
        Hash32(bytes)
    }
}

impl Byzantine for DoubleVoter {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn outgoing(&mut self, ctx: &mut Ctx<'_>, msg: Rc<Message>) -> Vec<Send> {
        let (vote, is_prepare) = match msg.statement() {
            Statement::Prepare(v) => (*v, true),
            Statement::Commit(v) => (*v, false),
            _ => return vec![(ctx.others(), msg)],
        };
        let (a, b) = ctx.halves();
        let forged = Vote {
            block_hash: self.conflicting_hash(ctx, &vote),
            ..vote
        };
        let forged = if is_prepare {
            Statement::Prepare(forged)
        } else {
            Statement::Commit(forged)
        };
        let forged = Message::sign(&fixtures::chain_id(), ctx.key, forged, None);
        vec![(a, msg), (b, Rc::new(forged))]
    }

    fn observe(&mut self, msg: &Rc<Message>) {
        let proposal = match msg.statement() {
            Statement::PrePrepare(v) => Some((v.height, v.round, v.block_hash)),
            Statement::NewView(nv) => Some((nv.height, nv.round, nv.block_hash)),
            _ => None,
        };
        if let Some((h, r, hash)) = proposal {
            self.seen.entry((h, r)).or_default().insert(hash);
            // Forget what is long past.
            let keep_from = h.saturating_sub(2);
            self.seen.retain(|(height, _), _| *height >= keep_from);
        }
    }
}

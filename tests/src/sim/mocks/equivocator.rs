//! A proposer that sends one block to half the validators and another to
//! the other half, and votes for each toward its half.

use std::collections::BTreeMap;
use std::rc::Rc;

use merit_chain::consensus::{Message, NewView, Statement, Vote};

use super::super::fixtures;
use super::{Byzantine, Ctx, Send};

#[derive(Debug, Default)]
pub struct Equivocator {
    /// Where it showed its second block: the validators of the second
    /// half, by `(height, round)`.
    second_half: BTreeMap<(u64, u32), Vec<usize>>,
}

impl Equivocator {
    pub const NAME: &'static str = "equivocator";
}

impl Byzantine for Equivocator {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn outgoing(&mut self, ctx: &mut Ctx<'_>, msg: Rc<Message>) -> Vec<Send> {
        let (height, round) = (msg.statement().height(), msg.statement().round());
        match (msg.statement(), msg.block.as_ref()) {
            (Statement::PrePrepare(_) | Statement::NewView(_), Some(_))
                if ctx.ledger.height() + 1 == height =>
            {
                let (a, b) = ctx.halves();
                // A second block for the same (height, round): other
                // transactions, a later time.
                let txs = fixtures::transfers(ctx.rng, ctx.ledger.height(), ctx.next_nonce);
                let (second, _) =
                    ctx.ledger
                        .build_block(round, ctx.now_ms + 1, ctx.key.public(), txs);
                let hash = second.hash();
                let proposal = match msg.statement() {
                    Statement::NewView(nv) => Statement::NewView(NewView {
                        block_hash: hash,
                        ..nv.clone()
                    }),
                    _ => Statement::PrePrepare(Vote {
                        height,
                        round,
                        block_hash: hash,
                    }),
                };
                let vote = Vote {
                    height,
                    round,
                    block_hash: hash,
                };
                let chain = fixtures::chain_id();
                let sign = |s: Statement, block| Rc::new(Message::sign(&chain, ctx.key, s, block));
                let second_msgs = [
                    sign(proposal, Some(second)),
                    sign(Statement::Prepare(vote), None),
                    sign(Statement::Commit(vote), None),
                ];
                self.second_half.insert((height, round), b.clone());
                self.second_half.retain(|(h, _), _| *h + 2 >= height);
                let mut out = vec![(a, msg)];
                out.extend(second_msgs.into_iter().map(|m| (b.clone(), m)));
                out
            }
            (Statement::Prepare(_) | Statement::Commit(_), _) => {
                // Its own votes go only to the half that saw its first block.
                let second = self
                    .second_half
                    .get(&(height, round))
                    .cloned()
                    .unwrap_or_default();
                let to = ctx
                    .others()
                    .into_iter()
                    .filter(|j| !second.contains(j))
                    .collect();
                vec![(to, msg)]
            }
            _ => vec![(ctx.others(), msg)],
        }
    }
}

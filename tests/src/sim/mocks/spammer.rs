//! A validator that acts honestly and also sends votes with invalid
//! signatures, votes that claim another validator's key, and votes signed
//! by keys outside the validator set.

use std::rc::Rc;

use merit_chain::consensus::{Message, Statement, Vote};
use merit_chain::{Hash32, Keypair};

use super::super::fixtures;
use super::{Byzantine, Ctx, Send};

#[derive(Debug, Clone, Copy, Default)]
pub struct Spammer;

impl Spammer {
    pub const NAME: &'static str = "spammer";
}

impl Byzantine for Spammer {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn ticks(&self) -> bool {
        true
    }

    fn tick(&mut self, ctx: &mut Ctx<'_>) -> Vec<Send> {
        let mut junk = [0u8; 32];
        junk[..8].copy_from_slice(&ctx.rng.next_u64().to_le_bytes());
        let vote = Vote {
            height: ctx.height,
            round: ctx.round,
            block_hash: Hash32(junk),
        };
        let statement = if ctx.rng.chance(500) {
            Statement::Prepare(vote)
        } else {
            Statement::Commit(vote)
        };
        let chain = fixtures::chain_id();
        let mut msg = Message::sign(&chain, ctx.key, statement.clone(), None);
        match ctx.rng.below(3) {
            // Its own vote with a corrupted signature.
            0 => {
                let byte = ctx.rng.index(64);
                msg.signed.signature.0[byte] ^= 1 << ctx.rng.below(8);
            }
            // Claims to come from another validator. Never its own key: that
            // would make its junk a vote it really signed, which gossip
            // relays back to its own replica as a vote it never cast.
            1 => {
                let own = ctx.key.public();
                let keys: Vec<_> = ctx
                    .validators
                    .keys()
                    .iter()
                    .copied()
                    .filter(|k| *k != own)
                    .collect();
                if let Some(k) = keys.get(ctx.rng.index(keys.len())) {
                    msg.signed.validator = *k;
                }
            }
            // Signed by a key outside the validator set.
            _ => {
                let outsider =
                    Keypair::insecure_from_label(&format!("sim-outsider-{}", ctx.rng.below(4)));
                msg = Message::sign(&chain, &outsider, statement, None);
            }
        }
        vec![(ctx.others(), Rc::new(msg))]
    }
}

//! Byzantine validators, one behaviour per module.
//!
//! A byzantine validator runs the real driver like every other node; its
//! behaviour sits between that driver and the network. It decides what
//! becomes of each consensus message its driver broadcasts
//! ([`Byzantine::outgoing`]), watches what is delivered to it
//! ([`Byzantine::observe`]), and may send messages of its own making on a
//! tick ([`Byzantine::tick`]). Everything it does draws on the run's seed.
//!
//! A byzantine sync server ([`SyncFault`]) is honest in consensus and
//! lies only in the blocks it serves to a node that syncs from it.

mod double_voter;
mod equivocator;
mod removed_voter;
mod replayer;
mod silent;
mod spammer;
mod sync_server;
mod time_traveller;

use std::rc::Rc;

use merit_chain::consensus::{Message, ValidatorSet};
use merit_chain::{Keypair, Ledger};

pub use double_voter::DoubleVoter;
pub use equivocator::Equivocator;
pub use removed_voter::RemovedVoter;
pub use replayer::Replayer;
pub use silent::Silent;
pub use spammer::Spammer;
pub use sync_server::SyncFault;
pub use time_traveller::TimeTraveller;

use super::rng::SimRng;

/// What a byzantine validator may look at and use when it acts.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Its index among the validators.
    pub me: usize,
    /// Validators in all.
    pub n: usize,
    pub rng: &'a mut SimRng,
    pub key: &'a Keypair,
    pub validators: &'a ValidatorSet,
    /// Its own committed ledger.
    pub ledger: &'a Ledger,
    /// The height and round its replica is at.
    pub height: u64,
    pub round: u32,
    /// Its wall clock.
    pub now_ms: u64,
    /// Hands out transaction nonces no one else uses.
    pub next_nonce: &'a mut u64,
}

impl Ctx<'_> {
    /// Every validator but this one.
    pub fn others(&self) -> Vec<usize> {
        (0..self.n).filter(|j| *j != self.me).collect()
    }

    /// The other validators in two random halves. Gossip relays what a
    /// validator sends, so in half the cases one validator of the first
    /// half is reached by the second half's messages too, and sees both.
    pub fn halves(&mut self) -> (Vec<usize>, Vec<usize>) {
        let mut others = self.others();
        self.rng.shuffle(&mut others);
        let mut b = others.split_off(others.len() / 2);
        if !others.is_empty() && self.rng.chance(500) {
            b.push(others[0]);
        }
        (others, b)
    }
}

/// A message and the validators it goes to.
pub type Send = (Vec<usize>, Rc<Message>);

/// A faulty validator's behaviour between its driver and the network.
pub trait Byzantine: std::fmt::Debug {
    /// Which byzantine role this is.
    fn name(&self) -> &'static str;

    /// What becomes of a message its driver broadcast.
    fn outgoing(&mut self, ctx: &mut Ctx<'_>, msg: Rc<Message>) -> Vec<Send> {
        vec![(ctx.others(), msg)]
    }

    /// Whether it passes on the transactions clients submit to it.
    fn relays_transactions(&self) -> bool {
        true
    }

    /// A consensus message delivered to it.
    fn observe(&mut self, _msg: &Rc<Message>) {}

    /// Whether it acts on a tick of its own.
    fn ticks(&self) -> bool {
        false
    }

    /// Messages of its own making, sent on its tick.
    fn tick(&mut self, _ctx: &mut Ctx<'_>) -> Vec<Send> {
        Vec::new()
    }
}

/// The byzantine roles that scenarios without roles of their own rotate
/// through, in order.
pub const ROLES: [&str; 5] = [
    Equivocator::NAME,
    DoubleVoter::NAME,
    Silent::NAME,
    Replayer::NAME,
    Spammer::NAME,
];

/// A fresh behaviour of the role named `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Byzantine>> {
    Some(match name {
        Equivocator::NAME => Box::new(Equivocator::default()),
        DoubleVoter::NAME => Box::new(DoubleVoter::default()),
        Silent::NAME => Box::new(Silent),
        Replayer::NAME => Box::new(Replayer::default()),
        Spammer::NAME => Box::new(Spammer),
        TimeTraveller::NAME => Box::new(TimeTraveller::default()),
        _ => return None,
    })
}

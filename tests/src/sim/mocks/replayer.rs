//! A validator that acts honestly and also re-sends old messages it
//! received, to random validators.

use std::collections::VecDeque;
use std::rc::Rc;

use merit_chain::consensus::Message;

use super::{Byzantine, Ctx, Send};

/// Messages a replayer remembers.
pub const REPLAY_LOG_LEN: usize = 512;

#[derive(Debug, Default)]
pub struct Replayer {
    log: VecDeque<Rc<Message>>,
}

impl Replayer {
    pub const NAME: &'static str = "replayer";
}

impl Byzantine for Replayer {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe(&mut self, msg: &Rc<Message>) {
        if self.log.len() >= REPLAY_LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back(msg.clone());
    }

    fn ticks(&self) -> bool {
        true
    }

    fn tick(&mut self, ctx: &mut Ctx<'_>) -> Vec<Send> {
        let mut out = Vec::new();
        for _ in 0..ctx.rng.range(1, 3) {
            if self.log.is_empty() {
                break;
            }
            let msg = self.log[ctx.rng.index(self.log.len())].clone();
            out.push((vec![ctx.rng.index(ctx.n)], msg));
        }
        out
    }
}

//! A validator that never sends anything.

use std::rc::Rc;

use merit_chain::consensus::Message;

use super::{Byzantine, Ctx, Send};

#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Silent {
    pub const NAME: &'static str = "silent";
}

impl Byzantine for Silent {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn outgoing(&mut self, _ctx: &mut Ctx<'_>, _msg: Rc<Message>) -> Vec<Send> {
        Vec::new()
    }

    fn relays_transactions(&self) -> bool {
        false
    }
}

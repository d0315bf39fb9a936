//! View change: a round's timeout, ViewChanges carrying the lock, joining
//! a later round once f + 1 validators moved there, and the NewView that
//! the next proposer justifies with a quorum of them.

use super::{CastVotes, Effect, Exec, Replica};
use crate::block::Block;
use crate::consensus::message::{
    Message, NewView, PreparedCertificate, SignedViewChange, Statement, ViewChange,
};
use crate::encoding::BoundedVec;

/// The highest prepared certificate among view changes; ties (only possible
/// with a broken quorum) go to the smaller hash, so every replica picks the
/// same one.
pub(super) fn highest_prepared<'a>(
    vcs: impl Iterator<Item = &'a SignedViewChange>,
) -> Option<&'a PreparedCertificate> {
    vcs.filter_map(|s| s.view_change.prepared.as_ref())
        .max_by(|a, b| {
            a.round
                .cmp(&b.round)
                .then_with(|| b.block_hash.cmp(&a.block_hash))
        })
}

impl Replica {
    pub(super) fn on_view_change(
        &mut self,
        sender: usize,
        svc: SignedViewChange,
        block: Option<Block>,
    ) {
        let round = svc.view_change.round;
        if self
            .hs
            .view_changes
            .get(&sender)
            .is_some_and(|old| old.view_change.round >= round)
        {
            self.stats.duplicates += 1;
            return;
        }
        if let Some(block) = block {
            // Checked against the certificate's hash by `check_message`.
            self.store_block(block, Exec::Unknown);
        }
        self.hs.view_changes.insert(sender, svc);
        // Join a round once f + 1 validators, so at least one honest one,
        // have moved past ours.
        let mut rounds: Vec<u32> = self
            .hs
            .view_changes
            .values()
            .map(|s| s.view_change.round)
            .collect();
        rounds.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(&r) = rounds.get(self.validators.max_faulty())
            && r > self.round
        {
            self.start_view_change(r);
            return;
        }
        self.progress();
    }

    pub(super) fn on_timeout(&mut self, height: u64, round: u32) {
        if height != self.height || round != self.round {
            return;
        }
        // A lost sync answer is asked for again.
        self.sync_target = None;
        self.request_sync_if_behind();
        match round.checked_add(1) {
            Some(next) => self.start_view_change(next),
            None => self.schedule_timeout(),
        }
    }

    pub(super) fn try_new_view(&mut self) {
        let round = self.round;
        if round == 0
            || self.validators.proposer_index(self.height, round) != self.me
            || self.hs.new_view_round == Some(round)
            || self.votes.proposal.is_some()
        {
            return;
        }
        let vcs: Vec<SignedViewChange> = self
            .hs
            .view_changes
            .values()
            .filter(|s| s.view_change.round == round)
            .cloned()
            .collect();
        if vcs.len() < self.quorum {
            return;
        }
        self.hs.new_view_round = Some(round);
        match highest_prepared(vcs.iter()).map(|c| c.block_hash) {
            Some(hash) => {
                // The view change that carried the certificate carried its block.
                if let Some(block) = self.hs.blocks.get(&hash).map(|s| s.block.clone()) {
                    self.send_new_view(round, vcs, block, false);
                }
            }
            None => {
                self.hs.pending_new_view = Some((round, vcs));
                self.out.push(Effect::BuildProposal {
                    height: self.height,
                    round,
                });
            }
        }
    }

    pub(super) fn send_new_view(
        &mut self,
        round: u32,
        vcs: Vec<SignedViewChange>,
        block: Block,
        built_here: bool,
    ) {
        let Ok(view_changes) = BoundedVec::new(vcs) else {
            return;
        };
        let hash = block.hash();
        self.votes.proposal = Some(hash);
        self.persist();
        let statement = Statement::NewView(NewView {
            height: self.height,
            round,
            block_hash: hash,
            view_changes,
        });
        let msg = Message::sign(&self.chain_id, &self.key, statement, Some(block.clone()));
        self.out.push(Effect::Broadcast(Box::new(msg)));
        self.on_proposal(round, hash, block, built_here, true);
    }

    fn start_view_change(&mut self, round: u32) {
        // The lock may only hold a certificate from below the new round.
        self.update_lock(round.saturating_sub(1));
        self.enter_round(round);
        let prepared = self.lock.as_ref().map(|l| l.certificate.clone());
        let block = self.lock.as_ref().map(|l| l.block.clone());
        let view_change = ViewChange {
            height: self.height,
            round,
            prepared,
        };
        self.persist();
        let msg = Message::sign(
            &self.chain_id,
            &self.key,
            Statement::ViewChange(view_change.clone()),
            block,
        );
        let svc = SignedViewChange {
            view_change,
            validator: msg.signed.validator,
            signature: msg.signed.signature,
        };
        self.out.push(Effect::Broadcast(Box::new(msg)));
        self.hs.view_changes.insert(self.me, svc);
        self.progress();
    }

    pub(super) fn enter_round(&mut self, round: u32) {
        self.round = round;
        self.votes = CastVotes::default();
        self.stats.rounds_started += 1;
        self.schedule_timeout();
    }

    pub(super) fn schedule_timeout(&mut self) {
        self.out.push(Effect::ScheduleTimeout {
            height: self.height,
            round: self.round,
            duration_ms: self.config.timeout_ms(self.round),
        });
    }
}

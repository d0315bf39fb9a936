//! Height and sync: moving to the next height after a commit or a sync,
//! replaying the messages buffered for it, answering a validator stuck on
//! a finalized height with its certificate, and asking the host for blocks
//! once f + 1 validators are ahead.

use super::{CastVotes, Effect, HeightState, Replica};
use crate::block::CommitCertificate;
use crate::consensus::cert::verify_certificate_with;
use crate::consensus::message::{Message, Statement};

impl Replica {
    /// Broadcasts the last commit certificate, at most once per own
    /// `(height, round)`, in answer to a valid stale ViewChange.
    pub(super) fn send_decision(&mut self, stale: &Message) {
        let Some(cert) = self.last_commit.clone() else {
            return;
        };
        if self.decision_sent == Some((self.height, self.round))
            || self.check_message(stale).is_err()
        {
            return;
        }
        self.decision_sent = Some((self.height, self.round));
        let msg = Message::sign(&self.chain_id, &self.key, Statement::Decision(cert), None);
        self.out.push(Effect::Broadcast(Box::new(msg)));
    }

    pub(super) fn on_synced(&mut self, cert: CommitCertificate) {
        if cert.height < self.height {
            return;
        }
        // The certificate of a height is judged by that height's set.
        let Some(set) = self.schedule.at(cert.height) else {
            self.stats.rejected_invalid += 1;
            return;
        };
        let quorum = set.quorum_for(self.config.quorum_rule);
        if verify_certificate_with(&self.chain_id, set, &cert, quorum, self.verifier.as_ref())
            .is_err()
        {
            self.stats.rejected_invalid += 1;
            return;
        }
        if let Some(next) = cert.height.checked_add(1) {
            self.last_commit = Some(cert);
            self.advance_height(next);
        }
    }

    pub(super) fn advance_height(&mut self, height: u64) {
        self.height = height;
        // The set of the new height: a vote of the alliance may have
        // changed it. A replica whose key is not in it retires.
        match self.schedule.at(height).cloned() {
            Some(set) => {
                self.member = set.contains(&self.key.public());
                self.me = set.index_of(&self.key.public()).unwrap_or(0);
                self.quorum = set.quorum_for(self.config.quorum_rule);
                self.validators = set;
            }
            None => self.member = false,
        }
        self.round = 0;
        self.votes = CastVotes::default();
        self.lock = None;
        self.hs = HeightState::default();
        if self.sync_target.is_some_and(|t| t < height) {
            self.sync_target = None;
        }
        if !self.member {
            self.future.clear();
            self.future_per_sender.clear();
            return;
        }
        self.schedule_timeout();
        self.propose_if_leader();
        let mut replay = Vec::new();
        let done: Vec<u64> = self.future.range(..=height).map(|(h, _)| *h).collect();
        for h in done {
            for (sender, msg, arrival_ms) in self.future.remove(&h).unwrap_or_default() {
                if let Some(c) = self.future_per_sender.get_mut(&sender) {
                    *c = c.saturating_sub(1);
                }
                if h == height {
                    replay.push((sender, msg, arrival_ms));
                }
            }
        }
        for (signer, msg, arrival_ms) in replay {
            if self.height != height {
                break;
            }
            // Buffered against this height's set: the signer is in it.
            let Some(sender) = self.validators.index_of(&signer) else {
                continue;
            };
            self.stats.accepted += 1;
            self.process(sender, msg, arrival_ms);
        }
        if self.height == height {
            self.request_sync_if_behind();
        }
    }

    /// If f + 1 validators, so at least one honest one, have sent messages
    /// for heights above ours, the height below the lowest of them is
    /// committed somewhere: ask for it.
    pub(super) fn request_sync_if_behind(&mut self) {
        let mut heights: Vec<u64> = self
            .highest_seen
            .values()
            .copied()
            .filter(|h| *h > self.height)
            .collect();
        heights.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(&h) = heights.get(self.validators.max_faulty()) {
            self.request_sync(h - 1);
        }
    }

    pub(super) fn request_sync(&mut self, target_height: u64) {
        if self.sync_target.is_some_and(|t| t >= target_height) {
            return;
        }
        self.sync_target = Some(target_height);
        self.stats.sync_requests += 1;
        self.out.push(Effect::RequestSync {
            from_height: self.height,
            target_height,
        });
    }
}

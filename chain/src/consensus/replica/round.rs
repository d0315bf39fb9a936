//! Round progress: a proposal is stored and executed, then Prepared, then
//! Committed once a quorum prepared it, and finalized on a quorum of
//! Commits; the lock follows the highest prepared certificate.

use std::collections::BTreeMap;

use super::{Effect, Exec, MAX_BLOCKS_PER_HEIGHT, PreparedProof, Replica, Slot, VoteKind};
use crate::block::{Block, CommitCertificate, ValidatorSignature};
use crate::consensus::evidence::Evidence;
use crate::consensus::message::SignedStatement;
use crate::consensus::message::{Message, PreparedCertificate, Statement, Vote};
use crate::consensus::validators::ValidatorSet;
use crate::crypto::{Hash32, Signature};
use crate::encoding::BoundedVec;

#[derive(Debug, PartialEq, Eq)]
enum Added {
    New,
    Duplicate,
    /// A different vote was counted first: its block and signature.
    Conflict((Hash32, Signature)),
}

/// The first vote of each validator in each round.
#[derive(Debug, Default)]
pub(super) struct Tally {
    rounds: BTreeMap<u32, BTreeMap<usize, (Hash32, Signature)>>,
}

impl Tally {
    fn add(&mut self, round: u32, who: usize, hash: Hash32, sig: Signature) -> Added {
        let votes = self.rounds.entry(round).or_default();
        match votes.get(&who) {
            Some((h, _)) if *h == hash => Added::Duplicate,
            Some(first) => Added::Conflict(*first),
            None => {
                votes.insert(who, (hash, sig));
                Added::New
            }
        }
    }

    /// The block `who` voted for in `round`, if its vote was counted.
    fn vote_of(&self, round: u32, who: usize) -> Option<Hash32> {
        self.rounds
            .get(&round)
            .and_then(|votes| votes.get(&who))
            .map(|(h, _)| *h)
    }

    /// `(round, hash)` pairs with at least `quorum` votes, highest round first.
    fn quorums(&self, quorum: usize) -> Vec<(u32, Hash32)> {
        let mut out = Vec::new();
        for (round, votes) in self.rounds.iter().rev() {
            let mut counts: BTreeMap<Hash32, usize> = BTreeMap::new();
            for (hash, _) in votes.values() {
                *counts.entry(*hash).or_default() += 1;
            }
            out.extend(
                counts
                    .into_iter()
                    .filter(|(_, c)| *c >= quorum)
                    .map(|(h, _)| (*round, h)),
            );
        }
        out
    }

    /// Up to `limit` signatures for `(round, hash)`, in validator order.
    fn signatures(
        &self,
        round: u32,
        hash: Hash32,
        set: &ValidatorSet,
        limit: usize,
    ) -> Vec<ValidatorSignature> {
        self.rounds
            .get(&round)
            .into_iter()
            .flat_map(|votes| votes.iter())
            .filter(|(_, (h, _))| *h == hash)
            .filter_map(|(i, (_, s))| {
                set.get(*i).map(|k| ValidatorSignature {
                    validator: *k,
                    signature: *s,
                })
            })
            .take(limit)
            .collect()
    }
}

impl Replica {
    /// A proposal for `round`: its own (`built_here`) or a checked one from
    /// the proposer; `timely` says whether this replica may Prepare it.
    pub(super) fn on_proposal(
        &mut self,
        round: u32,
        hash: Hash32,
        block: Block,
        built_here: bool,
        timely: bool,
    ) {
        if round != self.round {
            self.stats.ignored_stale += 1;
            return;
        }
        match self.hs.proposals.get(&round) {
            Some(h) if *h == hash => {
                self.stats.duplicates += 1;
                return;
            }
            Some(_) => {
                self.stats.equivocations += 1;
                return;
            }
            None => {}
        }
        if !self.store_block(
            block,
            if built_here {
                Exec::Valid
            } else {
                Exec::Unknown
            },
        ) {
            return;
        }
        self.hs.proposals.insert(round, hash);
        if !timely {
            self.hs.untimely.insert(round);
        }
        self.request_execution(hash);
        self.progress();
    }

    pub(super) fn on_vote(
        &mut self,
        kind: VoteKind,
        sender: usize,
        vote: Vote,
        signature: Signature,
    ) {
        let tally = match kind {
            VoteKind::Prepare => &mut self.hs.prepares,
            VoteKind::Commit => &mut self.hs.commits,
        };
        let first = match tally.add(vote.round, sender, vote.block_hash, signature) {
            Added::New => return self.progress(),
            Added::Duplicate => {
                self.stats.duplicates += 1;
                return;
            }
            Added::Conflict(first) => first,
        };
        self.stats.equivocations += 1;
        let statement = |block_hash| {
            let v = Vote { block_hash, ..vote };
            match kind {
                VoteKind::Prepare => Statement::Prepare(v),
                VoteKind::Commit => Statement::Commit(v),
            }
        };
        let Some(validator) = self.validators.get(sender).copied() else {
            return;
        };
        let signed = |block_hash, signature| SignedStatement {
            statement: statement(block_hash),
            validator,
            signature,
        };
        self.report(
            sender,
            signed(first.0, first.1),
            signed(vote.block_hash, signature),
        );
    }

    /// Keeps a pair of conflicting statements of `sender` as evidence, once
    /// per sender and height.
    pub(super) fn report(
        &mut self,
        sender: usize,
        first: SignedStatement,
        second: SignedStatement,
    ) {
        if !self.hs.reported.insert(sender) {
            return;
        }
        if let Ok(e) = Evidence::of(first, second) {
            self.stats.evidence += 1;
            self.out.push(Effect::Evidence(Box::new(e)));
        }
    }

    pub(super) fn on_own_proposal(&mut self, block: Block) {
        let (height, round) = (block.header.height, block.header.round);
        if height != self.height
            || round != self.round
            || self.votes.proposal.is_some()
            || block.header.proposer != self.key.public()
        {
            self.stats.ignored_stale += 1;
            return;
        }
        if round == 0 {
            if !self.hs.awaiting_proposal {
                self.stats.ignored_stale += 1;
                return;
            }
            let hash = block.hash();
            self.votes.proposal = Some(hash);
            self.persist();
            let statement = Statement::PrePrepare(Vote {
                height,
                round,
                block_hash: hash,
            });
            let msg = Message::sign(&self.chain_id, &self.key, statement, Some(block.clone()));
            self.out.push(Effect::Broadcast(Box::new(msg)));
            self.on_proposal(round, hash, block, true, true);
        } else {
            match self.hs.pending_new_view.take() {
                Some((r, vcs)) if r == round => self.send_new_view(round, vcs, block, true),
                other => {
                    self.hs.pending_new_view = other;
                    self.stats.ignored_stale += 1;
                }
            }
        }
    }

    pub(super) fn on_executed(&mut self, height: u64, hash: Hash32, valid: bool) {
        if height != self.height {
            return;
        }
        let Some(slot) = self.hs.blocks.get_mut(&hash) else {
            return;
        };
        if slot.exec != Exec::Pending {
            return;
        }
        slot.exec = if valid { Exec::Valid } else { Exec::Invalid };
        self.progress();
    }

    /// Stores a block of the current height; false if the bound is reached.
    pub(super) fn store_block(&mut self, block: Block, exec: Exec) -> bool {
        let hash = block.hash();
        if let Some(slot) = self.hs.blocks.get_mut(&hash) {
            if exec == Exec::Valid && slot.exec == Exec::Unknown {
                slot.exec = Exec::Valid;
            }
            return true;
        }
        if self.hs.blocks.len() >= MAX_BLOCKS_PER_HEIGHT {
            self.stats.dropped_future += 1;
            return false;
        }
        self.hs.blocks.insert(hash, Slot { block, exec });
        true
    }

    fn exec_of(&self, hash: &Hash32) -> Option<Exec> {
        self.hs.blocks.get(hash).map(|s| s.exec)
    }

    fn request_execution(&mut self, hash: Hash32) {
        if let Some(slot) = self.hs.blocks.get_mut(&hash)
            && slot.exec == Exec::Unknown
        {
            slot.exec = Exec::Pending;
            self.out
                .push(Effect::ExecuteBlock(Box::new(slot.block.clone())));
        }
    }

    /// Takes every step the current knowledge allows.
    pub(super) fn progress(&mut self) {
        let height = self.height;
        self.try_finalize();
        if self.height != height {
            return;
        }
        self.update_lock(self.round);
        self.try_prepare();
        self.try_commit_vote();
        self.try_finalize();
        if self.height != height {
            return;
        }
        self.try_new_view();
    }

    fn try_finalize(&mut self) {
        for (round, hash) in self.hs.commits.quorums(self.quorum) {
            match self.exec_of(&hash) {
                Some(Exec::Valid) => {
                    self.finalize(round, hash);
                    return;
                }
                Some(Exec::Unknown) => self.request_execution(hash),
                Some(Exec::Pending) => {}
                // A quorum committed a block this replica lacks, or finds
                // invalid: fetch it with its certificate. Sync re-executes
                // it and halts the node loudly if the ledger disagrees.
                Some(Exec::Invalid) | None => self.request_sync(self.height),
            }
        }
    }

    /// Raises the lock to the highest prepared certificate of a round up to
    /// `max_round` whose block is known.
    pub(super) fn update_lock(&mut self, max_round: u32) {
        for (round, hash) in self.hs.prepares.quorums(self.quorum) {
            if round > max_round {
                continue;
            }
            if self
                .lock
                .as_ref()
                .is_some_and(|l| l.certificate.round >= round)
            {
                return;
            }
            let Some(slot) = self.hs.blocks.get(&hash) else {
                continue;
            };
            let sigs = self
                .hs
                .prepares
                .signatures(round, hash, &self.validators, self.quorum);
            let Ok(signatures) = BoundedVec::new(sigs) else {
                continue;
            };
            let certificate = PreparedCertificate {
                height: self.height,
                round,
                block_hash: hash,
                signatures,
            };
            self.lock = Some(PreparedProof {
                certificate,
                block: slot.block.clone(),
            });
            return;
        }
    }

    fn try_prepare(&mut self) {
        if self.votes.prepare.is_some() {
            return;
        }
        let Some(&hash) = self.hs.proposals.get(&self.round) else {
            return;
        };
        if self.hs.untimely.contains(&self.round) {
            return;
        }
        if self.exec_of(&hash) == Some(Exec::Valid) {
            self.cast(VoteKind::Prepare, hash);
        }
    }

    fn try_commit_vote(&mut self) {
        if self.votes.commit.is_some() {
            return;
        }
        let round = self.round;
        for (r, hash) in self.hs.prepares.quorums(self.quorum) {
            if r != round {
                continue;
            }
            match self.exec_of(&hash) {
                Some(Exec::Valid) => {
                    self.update_lock(round);
                    self.cast(VoteKind::Commit, hash);
                    return;
                }
                Some(Exec::Unknown) => self.request_execution(hash),
                _ => {}
            }
        }
    }

    /// Signs, persists and counts this replica's own vote at the current
    /// `(height, round)`.
    ///
    /// Safety rests on a replica never signing two different blocks of one
    /// kind in one round. Both records of its own vote, `votes` (what it
    /// persists) and the tally (what certificates are built from), must hold
    /// no other block for it there; if either does, it stops before signing.
    fn cast(&mut self, kind: VoteKind, hash: Hash32) {
        let (height, round) = (self.height, self.round);
        let (cast, tally) = match kind {
            VoteKind::Prepare => (self.votes.prepare, &self.hs.prepares),
            VoteKind::Commit => (self.votes.commit, &self.hs.commits),
        };
        assert!(
            cast.is_none_or(|h| h == hash),
            "own {kind:?} at height {height} round {round}: cast for {cast:?}, now for {hash}"
        );
        let counted = tally.vote_of(round, self.me);
        assert!(
            counted.is_none_or(|h| h == hash),
            "own {kind:?} at height {height} round {round}: tally holds {counted:?}, now for {hash}"
        );
        let vote = Vote {
            height,
            round,
            block_hash: hash,
        };
        let statement = match kind {
            VoteKind::Prepare => {
                self.votes.prepare = Some(hash);
                Statement::Prepare(vote)
            }
            VoteKind::Commit => {
                self.votes.commit = Some(hash);
                Statement::Commit(vote)
            }
        };
        self.persist();
        let msg = Message::sign(&self.chain_id, &self.key, statement, None);
        let signature = msg.signed.signature;
        self.out.push(Effect::Broadcast(Box::new(msg)));
        let tally = match kind {
            VoteKind::Prepare => &mut self.hs.prepares,
            VoteKind::Commit => &mut self.hs.commits,
        };
        let added = tally.add(round, self.me, hash, signature);
        debug_assert!(
            !matches!(added, Added::Conflict(_)),
            "checked before signing"
        );
    }

    /// Casts a vote at the current `(height, round)` as `cast`
    /// does, without the conditions of `try_prepare` and `try_commit_vote`:
    /// lets a test drive the replica into a second, different own vote.
    #[cfg(test)]
    pub(super) fn cast_unchecked(&mut self, kind: VoteKind, hash: Hash32) {
        self.cast(kind, hash);
    }

    pub(super) fn propose_if_leader(&mut self) {
        if self.round == 0
            && self.votes.proposal.is_none()
            && self.validators.proposer_index(self.height, 0) == self.me
        {
            self.hs.awaiting_proposal = true;
            self.out.push(Effect::BuildProposal {
                height: self.height,
                round: 0,
            });
        }
    }

    pub(super) fn persist(&mut self) {
        self.out
            .push(Effect::PersistVote(Box::new(self.persisted_state())));
    }

    fn finalize(&mut self, round: u32, hash: Hash32) {
        let Some(block) = self.hs.blocks.get(&hash).map(|s| s.block.clone()) else {
            return;
        };
        let sigs = self
            .hs
            .commits
            .signatures(round, hash, &self.validators, self.quorum);
        let Ok(signatures) = BoundedVec::new(sigs) else {
            return;
        };
        let Some(next) = self.height.checked_add(1) else {
            return;
        };
        let certificate = CommitCertificate {
            height: self.height,
            round,
            block_hash: hash,
            signatures,
        };
        self.stats.commits += 1;
        self.last_commit = Some(certificate.clone());
        self.out.push(Effect::Commit {
            block: Box::new(block),
            certificate,
        });
        self.advance_height(next);
    }
}

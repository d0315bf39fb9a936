//! Message admission: the checks a message must pass, stale and
//! far-ahead messages turned away, messages of later heights buffered, and
//! the hand-off of an admitted message to the round or the view change.

use std::collections::BTreeSet;

use super::view_change::highest_prepared;
use super::{
    MAX_FUTURE_HEIGHTS, MAX_FUTURE_MESSAGES_PER_VALIDATOR, MAX_ROUNDS_AHEAD, Rejection, Replica,
    VoteKind,
};
use crate::block::{Block, tx_root};
use crate::consensus::cert::{verify_certificate_with, verify_prepared_certificate};
use crate::consensus::message::{
    Message, NewView, PreparedCertificate, SignedViewChange, Statement, ViewChange, signing_bytes,
};
use crate::consensus::validators::ValidatorSet;
use crate::crypto::{Hash32, PublicKey, Signature};
use crate::tx::Transaction;

impl Replica {
    /// Checks everything about a message that does not depend on the
    /// replica's progress: the sender is a validator, the attached block
    /// fits the statement, the signature verifies, and a ViewChange's
    /// certificate or a NewView's justification holds. Returns the sender's
    /// index. A host may call it to decide whether to relay a message.
    ///
    /// The signature is checked before an attached block is hashed, so a
    /// large block from anyone but its signer costs one signature check.
    pub fn check_message(&self, msg: &Message) -> Result<usize, Rejection> {
        let sender_key = msg.signed.validator;
        // Every message is judged by the set of its own height.
        let height = msg.signed.statement.height();
        let set = self
            .schedule
            .at(height)
            .ok_or(Rejection::CannotJudgeYet(height))?;
        let quorum = set.quorum_for(self.config.quorum_rule);
        let sender = set.index_of(&sender_key).ok_or(Rejection::NotAValidator)?;
        // The block to hash once the signature holds, and the hash its
        // statement names.
        let mut attached: Option<(&Block, u64, Hash32)> = None;
        match (&msg.signed.statement, &msg.block) {
            (Statement::PrePrepare(v), Some(block)) => {
                attached = Some((block, v.height, v.block_hash));
                if v.round != 0 {
                    return Err(Rejection::Malformed(
                        "a PrePrepare is only for round 0; later rounds use NewView",
                    ));
                }
                if set.proposer_index(v.height, 0) != sender {
                    return Err(Rejection::WrongProposer);
                }
                if block.header.round != 0 || block.header.proposer != sender_key {
                    return Err(Rejection::Malformed(
                        "the block header does not name this round and proposer",
                    ));
                }
            }
            (Statement::NewView(nv), Some(block)) => {
                attached = Some((block, nv.height, nv.block_hash));
                if nv.round == 0 {
                    return Err(Rejection::Malformed("a NewView is for a round above 0"));
                }
                if set.proposer_index(nv.height, nv.round) != sender {
                    return Err(Rejection::WrongProposer);
                }
            }
            (Statement::ViewChange(vc), block) => {
                if vc.round == 0 {
                    return Err(Rejection::Malformed("a ViewChange is for a round above 0"));
                }
                match (&vc.prepared, block) {
                    (Some(cert), Some(block)) => {
                        if cert.height != vc.height || cert.round >= vc.round {
                            return Err(Rejection::Malformed(
                                "the prepared certificate is not from an earlier round",
                            ));
                        }
                        attached = Some((block, vc.height, cert.block_hash));
                    }
                    (None, None) => {}
                    _ => {
                        return Err(Rejection::Malformed(
                            "a ViewChange carries a block exactly when it is prepared",
                        ));
                    }
                }
            }
            (Statement::Prepare(_) | Statement::Commit(_) | Statement::Decision(_), None) => {}
            _ => {
                return Err(Rejection::Malformed(
                    "the attached block does not fit the message type",
                ));
            }
        }
        let bytes = signing_bytes(&self.chain_id, &msg.signed.statement);
        if !self
            .verifier
            .verify(&sender_key, &bytes, &msg.signed.signature)
        {
            return Err(Rejection::BadSignature);
        }
        if let Some((block, height, hash)) = attached {
            self.check_block(block, height, hash)?;
        }
        match (&msg.signed.statement, &msg.block) {
            (
                Statement::ViewChange(ViewChange {
                    prepared: Some(cert),
                    ..
                }),
                _,
            ) => {
                verify_prepared_certificate(
                    &self.chain_id,
                    set,
                    cert,
                    quorum,
                    self.verifier.as_ref(),
                )
                .map_err(Rejection::BadCertificate)?;
            }
            (Statement::NewView(nv), Some(block)) => {
                self.check_new_view(nv, &sender_key, block, set)?
            }
            (Statement::Decision(cert), _) => {
                verify_certificate_with(&self.chain_id, set, cert, quorum, self.verifier.as_ref())
                    .map_err(Rejection::BadCertificate)?;
            }
            _ => {}
        }
        Ok(sender)
    }

    fn check_block(&self, block: &Block, height: u64, hash: Hash32) -> Result<(), Rejection> {
        if block.header.height != height {
            return Err(Rejection::Malformed("the block is for another height"));
        }
        if block.header.chain_id != self.chain_id {
            return Err(Rejection::Malformed("the block is for another chain"));
        }
        if block.hash() != hash {
            return Err(Rejection::Malformed(
                "the block does not hash to the one the statement names",
            ));
        }
        let hashes: Vec<Hash32> = block.txs.iter().map(Transaction::hash).collect();
        if tx_root(&hashes) != block.header.tx_root {
            return Err(Rejection::Malformed(
                "the block's transactions do not match its tx_root",
            ));
        }
        Ok(())
    }

    fn check_new_view(
        &self,
        nv: &NewView,
        proposer: &PublicKey,
        block: &Block,
        set: &ValidatorSet,
    ) -> Result<(), Rejection> {
        let quorum = set.quorum_for(self.config.quorum_rule);
        let mut signers = BTreeSet::new();
        let mut certs: Vec<&PreparedCertificate> = Vec::new();
        for svc in nv.view_changes.iter() {
            let vc = &svc.view_change;
            if !set.contains(&svc.validator) {
                return Err(Rejection::BadJustification(
                    "a view change is from a non-validator",
                ));
            }
            if !signers.insert(svc.validator) {
                return Err(Rejection::BadJustification(
                    "two view changes from one validator",
                ));
            }
            if vc.height != nv.height || vc.round != nv.round {
                return Err(Rejection::BadJustification(
                    "a view change is for another height or round",
                ));
            }
            if let Some(cert) = &vc.prepared {
                if cert.height != nv.height || cert.round >= nv.round {
                    return Err(Rejection::BadJustification(
                        "a prepared certificate is not from an earlier round",
                    ));
                }
                if !certs.contains(&cert) {
                    certs.push(cert);
                }
            }
        }
        if signers.len() < quorum {
            return Err(Rejection::BadJustification(
                "fewer view changes than a quorum",
            ));
        }
        let bytes: Vec<Vec<u8>> = nv
            .view_changes
            .iter()
            .map(|s| {
                signing_bytes(
                    &self.chain_id,
                    &Statement::ViewChange(s.view_change.clone()),
                )
            })
            .collect();
        let items: Vec<(&PublicKey, &[u8], &Signature)> = nv
            .view_changes
            .iter()
            .zip(&bytes)
            .map(|(s, b)| (&s.validator, b.as_slice(), &s.signature))
            .collect();
        let verdicts = self.verifier.verify_batch(&items);
        if verdicts.len() != items.len() || !verdicts.iter().all(|ok| *ok) {
            return Err(Rejection::BadJustification(
                "a view change signature does not verify",
            ));
        }
        for cert in certs {
            verify_prepared_certificate(&self.chain_id, set, cert, quorum, self.verifier.as_ref())
                .map_err(Rejection::BadCertificate)?;
        }
        match highest_prepared(nv.view_changes.iter()) {
            Some(cert) if cert.block_hash != nv.block_hash => Err(Rejection::BadJustification(
                "the NewView does not re-propose the highest prepared block",
            )),
            Some(_) => Ok(()),
            None if block.header.round != nv.round || block.header.proposer != *proposer => Err(
                Rejection::Malformed("a fresh proposal must name its round and proposer"),
            ),
            None => Ok(()),
        }
    }

    /// Admits a message and counts a rejection; returns the verdict.
    pub(super) fn on_message(&mut self, msg: Message, arrival_ms: u64) -> Result<(), Rejection> {
        let result = self.admit(msg, arrival_ms);
        if let Err(rejection) = &result {
            match rejection {
                Rejection::NotAValidator => self.stats.rejected_not_validator += 1,
                Rejection::BadSignature => self.stats.rejected_bad_signature += 1,
                Rejection::Stale { .. } => self.stats.ignored_stale += 1,
                Rejection::TooFarAhead { .. }
                | Rejection::BufferFull
                | Rejection::RoundTooFarAhead { .. }
                | Rejection::CannotJudgeYet(_) => self.stats.dropped_future += 1,
                Rejection::Malformed(_)
                | Rejection::WrongProposer
                | Rejection::BadCertificate(_)
                | Rejection::BadJustification(_) => self.stats.rejected_invalid += 1,
            }
        }
        result
    }

    fn admit(&mut self, msg: Message, arrival_ms: u64) -> Result<(), Rejection> {
        let height = msg.signed.statement.height();
        if height < self.height {
            // A ViewChange for a height this replica has finalized comes
            // from a validator stuck there: show it the certificate.
            if matches!(msg.signed.statement, Statement::ViewChange(_)) {
                self.send_decision(&msg);
            }
            return Err(Rejection::Stale {
                height,
                current: self.height,
            });
        }
        let sender = self.check_message(&msg)?;
        if let Statement::Decision(cert) = &msg.signed.statement {
            // Verified by `check_message`: the block at `cert.height` is final.
            self.stats.accepted += 1;
            self.request_sync(cert.height);
            return Ok(());
        }
        if height > self.height {
            let signer = msg.signed.validator;
            let seen = self.highest_seen.entry(signer).or_default();
            *seen = (*seen).max(height);
            let buffered = self.buffer(signer, height, msg, arrival_ms);
            self.request_sync_if_behind();
            return buffered;
        }
        if let Statement::Prepare(v) | Statement::Commit(v) = &msg.signed.statement
            && v.round > self.round.saturating_add(MAX_ROUNDS_AHEAD)
        {
            return Err(Rejection::RoundTooFarAhead {
                round: v.round,
                current: self.round,
            });
        }
        self.stats.accepted += 1;
        self.process(sender, msg, arrival_ms);
        Ok(())
    }

    fn buffer(
        &mut self,
        sender: PublicKey,
        height: u64,
        msg: Message,
        arrival_ms: u64,
    ) -> Result<(), Rejection> {
        if height > self.height.saturating_add(MAX_FUTURE_HEIGHTS) {
            return Err(Rejection::TooFarAhead {
                height,
                current: self.height,
            });
        }
        if self.future.get(&height).is_some_and(|l| {
            l.iter()
                .any(|(s, m, _)| *s == sender && m.signed == msg.signed)
        }) {
            self.stats.duplicates += 1;
            return Ok(());
        }
        let count = self.future_per_sender.entry(sender).or_default();
        if *count >= MAX_FUTURE_MESSAGES_PER_VALIDATOR {
            return Err(Rejection::BufferFull);
        }
        *count += 1;
        self.future
            .entry(height)
            .or_default()
            .push((sender, msg, arrival_ms));
        self.stats.buffered_future += 1;
        Ok(())
    }

    /// Whether a fresh proposal's block time lies in this replica's
    /// timeliness window; an untimely one is logged in the counters.
    fn judge_time(&mut self, block: &Block, round: u32, arrival_ms: u64) -> bool {
        #[cfg(feature = "mutants")]
        if self.config.mutant == Some(super::ReplicaMutant::IgnoreBlockTime) {
            return true;
        }
        let timely = self
            .config
            .is_timely(block.header.timestamp_ms, arrival_ms, round);
        if !timely {
            self.stats.untimely_proposals += 1;
        }
        timely
    }

    /// Re-proposals of prepared blocks skip the timeliness check (always,
    /// but in the mutant that proves a test needs the exemption).
    fn reproposals_exempt(&self) -> bool {
        #[cfg(feature = "mutants")]
        if self.config.mutant == Some(super::ReplicaMutant::NoReproposalExemption) {
            return false;
        }
        true
    }

    /// Handles a checked message for the current height.
    pub(super) fn process(&mut self, sender: usize, msg: Message, arrival_ms: u64) {
        let Message { signed, block } = msg;
        if let Statement::PrePrepare(v) = signed.statement {
            match self.hs.pre_prepare.clone() {
                Some(first) if first.statement.block_hash() != Some(v.block_hash) => {
                    self.stats.equivocations += 1;
                    self.report(sender, first, signed);
                    return;
                }
                Some(_) => {}
                None => self.hs.pre_prepare = Some(signed.clone()),
            }
        }
        match signed.statement {
            Statement::PrePrepare(v) => {
                if let Some(block) = block {
                    let timely = self.judge_time(&block, v.round, arrival_ms);
                    self.on_proposal(v.round, v.block_hash, block, false, timely);
                }
            }
            Statement::NewView(nv) => {
                let Some(block) = block else { return };
                if nv.round < self.round {
                    self.stats.ignored_stale += 1;
                    return;
                }
                if nv.round > self.round {
                    // The NewView's quorum of view changes justifies the jump.
                    self.enter_round(nv.round);
                }
                // A block re-proposed because it was prepared is exempt from
                // timeliness however old it is: a quorum may be locked on it.
                let reproposal = highest_prepared(nv.view_changes.iter()).is_some();
                let timely = (reproposal && self.reproposals_exempt())
                    || self.judge_time(&block, nv.round, arrival_ms);
                self.on_proposal(nv.round, nv.block_hash, block, false, timely);
            }
            Statement::Prepare(v) => self.on_vote(VoteKind::Prepare, sender, v, signed.signature),
            Statement::Commit(v) => self.on_vote(VoteKind::Commit, sender, v, signed.signature),
            Statement::ViewChange(vc) => {
                let svc = SignedViewChange {
                    view_change: vc,
                    validator: signed.validator,
                    signature: signed.signature,
                };
                self.on_view_change(sender, svc, block);
            }
            // Handled in `admit`.
            Statement::Decision(_) => {}
        }
    }
}

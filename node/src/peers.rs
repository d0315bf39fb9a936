//! Peers: who may send consensus messages, how much any peer may send, and
//! what sending invalid data costs it.
//!
//! The merchants of an alliance do not trust each other, and anyone may
//! connect to a node. So:
//!
//! - Consensus messages are taken only from the libp2p identities of the
//!   validator sets in force at the heights a replica can use
//!   ([`consensus_heights`]); [`ConsensusPeers`] answers for a message
//!   before anything of it is decoded. Everyone else may sync and relay
//!   transactions.
//! - Every peer has a budget per second ([`PeerBudget`]) for consensus
//!   messages, transaction gossip and sync requests, checked before a byte
//!   of the message is decoded.
//! - A message is judged [`Verdict::Accept`] (use and relay it),
//!   [`Verdict::Ignore`] (it cannot be judged yet, or is of no use: drop it,
//!   blame no one) or [`Verdict::Reject`] with the [`Offence`] it proves.
//!   A node that is behind ignores what it cannot judge, so it never bans
//!   an honest peer that is ahead of it.
//! - An offence costs the peer points ([`PeerBook`]); at [`BAN_SCORE`] it is
//!   disconnected and banned for [`BAN_MS`]. Points recover with time, so
//!   an honest peer's rare misfortune (a stalled sync) never adds up to a
//!   ban.
//!
//! Everything here is bookkeeping over a clock the caller passes in
//! (milliseconds), so the node's network task and the deterministic
//! simulation run the same rules.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Bound, RangeInclusive};

use libp2p::PeerId;
use merit_chain::consensus::{MAX_FUTURE_HEIGHTS, Message, Rejection};

use crate::network::MAX_GOSSIP_BYTES;

/// A score at or below this bans the peer.
pub const BAN_SCORE: i64 = -100;
/// How long a ban lasts, in milliseconds.
pub const BAN_MS: u64 = 10 * 60 * 1_000;
/// Points a penalized score recovers per second, back up to 0.
pub const SCORE_RECOVERY_PER_SEC: i64 = 2;
/// What data that is invalid in itself costs the peer that sent it: two
/// such messages within ten seconds ban it.
pub const PENALTY_INVALID: i64 = 60;
/// What a provably forged sync answer costs: a ban at once.
pub const PENALTY_FORGED: i64 = -BAN_SCORE;
/// What one message over a rate limit costs: a peer that keeps flooding
/// is banned within a second or two; a short burst is forgiven.
pub const PENALTY_OVER_RATE: i64 = 5;
/// What a sync request left unanswered until its timeout costs. At one
/// request in flight per timeout, stalls alone never reach a ban: the
/// score recovers faster than they add up.
pub const PENALTY_STALL: i64 = 10;
/// Peers with a penalized score kept at most; past it, the one nearest to
/// a clean score is forgotten.
pub const MAX_SCORED_PEERS: usize = 4_096;
/// Bans kept at most; past it, the one that ends first is lifted.
pub const MAX_BANNED_PEERS: usize = 4_096;
/// How long a peer that let a sync request time out is not asked again
/// while another can be, in milliseconds.
pub const SYNC_STALL_COOLDOWN_MS: u64 = 60_000;

/// Messages and bytes a peer may send per second, beyond a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_sec: u64,
    pub burst: u64,
}

/// Consensus messages per peer. A validator relays every validator's
/// messages: about `2n + 1` per height, at tens of heights a second.
pub const CONSENSUS_MSGS_PER_PEER: RateLimit = RateLimit {
    per_sec: 2_000,
    burst: 4_000,
};
/// Consensus bytes per peer: a couple of full proposals a second.
pub const CONSENSUS_BYTES_PER_PEER: RateLimit = RateLimit {
    per_sec: 2 * MAX_GOSSIP_BYTES as u64,
    burst: 4 * MAX_GOSSIP_BYTES as u64,
};
/// Transaction gossip messages per peer (each a batch of transactions).
/// A node publishes at most one batch per admission round (2 ms), and a
/// peer relays the batches it received first.
pub const TX_GOSSIP_MSGS_PER_PEER: RateLimit = RateLimit {
    per_sec: 4_000,
    burst: 8_000,
};
/// Transaction gossip bytes per peer: several times what a saturated
/// alliance gossips.
pub const TX_GOSSIP_BYTES_PER_PEER: RateLimit = RateLimit {
    per_sec: 16 * 1024 * 1024,
    burst: 2 * MAX_GOSSIP_BYTES as u64,
};
/// Block sync requests a peer may make of this node. Each may cost a read
/// of up to `MAX_SYNC_RESPONSE_BYTES`.
pub const SYNC_REQUESTS_PER_PEER: RateLimit = RateLimit {
    per_sec: 10,
    burst: 20,
};

/// What a message or answer proves against the peer that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Offence {
    /// Gossip that does not decode.
    GarbageGossip,
    /// A consensus message that is invalid in itself: a bad signature, a
    /// signer outside the validator set, the wrong proposer, a malformed
    /// message, certificate or justification.
    InvalidConsensusMessage,
    /// A consensus message from a peer outside the validator identities,
    /// for a height whose validator set this node knows.
    NotAConsensusPeer,
    /// A gossiped transaction with a bad signature, or one that fails the
    /// checks that need no state.
    InvalidTransaction,
    /// A message or request over the peer's rate limit.
    OverRateLimit,
    /// A sync answer whose certificate does not verify.
    SyncBadCertificate,
    /// A sync answer with blocks other than the certified ones, or other
    /// than those asked for.
    SyncForgedBlocks,
    /// A sync answer that does not decode.
    SyncGarbage,
    /// A sync request left unanswered until it timed out.
    SyncStalled,
}

impl Offence {
    /// The points it costs.
    pub fn penalty(self) -> i64 {
        match self {
            Offence::GarbageGossip
            | Offence::InvalidConsensusMessage
            | Offence::NotAConsensusPeer
            | Offence::InvalidTransaction => PENALTY_INVALID,
            Offence::SyncBadCertificate | Offence::SyncForgedBlocks | Offence::SyncGarbage => {
                PENALTY_FORGED
            }
            Offence::OverRateLimit => PENALTY_OVER_RATE,
            Offence::SyncStalled => PENALTY_STALL,
        }
    }

    /// What it is, for logs.
    pub fn describe(self) -> &'static str {
        match self {
            Offence::GarbageGossip => "sent gossip that does not decode",
            Offence::InvalidConsensusMessage => "sent an invalid consensus message",
            Offence::NotAConsensusPeer => {
                "sent consensus messages but is not a validator of the heights in force"
            }
            Offence::InvalidTransaction => "sent an invalid transaction",
            Offence::OverRateLimit => "sent more than its rate limit",
            Offence::SyncBadCertificate => "answered a sync request with a bad certificate",
            Offence::SyncForgedBlocks => "answered a sync request with forged blocks",
            Offence::SyncGarbage => "answered a sync request with bytes that do not decode",
            Offence::SyncStalled => "let a sync request time out",
        }
    }
}

impl std::fmt::Display for Offence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// The judgement of one gossip message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: use it and relay it.
    Accept,
    /// Not judged, or of no use: drop it and blame no one.
    Ignore,
    /// Invalid: drop it and score down the peer that sent it.
    Reject(Offence),
}

/// The heights whose validator sets may send consensus messages when the
/// committed tip is `tip`: from `tip − 1` (a validator finishing the last
/// height) to the furthest height a replica buffers
/// (`tip + 1 + MAX_FUTURE_HEIGHTS`). Governance changes a set only
/// `ACTIVATION_DELAY_BLOCKS > MAX_FUTURE_HEIGHTS` blocks after it passes,
/// so at `tip` every set of these heights is known.
pub fn consensus_heights(tip: u64) -> RangeInclusive<u64> {
    tip.saturating_sub(1)..=tip.saturating_add(1).saturating_add(MAX_FUTURE_HEIGHTS)
}

/// Which peers may send consensus messages now: the libp2p identities of
/// the validator sets in force at `heights`. Built by
/// [`crate::shared::Shared::consensus_peers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusPeers {
    pub heights: RangeInclusive<u64>,
    pub peers: BTreeSet<PeerId>,
}

impl Default for ConsensusPeers {
    /// Nobody, for no height.
    fn default() -> Self {
        ConsensusPeers {
            heights: RangeInclusive::new(1, 0),
            peers: BTreeSet::new(),
        }
    }
}

impl ConsensusPeers {
    /// Screens a consensus message from `from` before any of it is
    /// decoded: `None` passes it on to the replica. From a peer outside the
    /// identities, a message for a height in `heights` is rejected; one
    /// for another height is ignored (this node cannot judge who may send
    /// it: it may be behind), and bytes that cannot start a message are
    /// garbage. Only the first [`merit_chain::consensus::PEEK_BYTES`] bytes
    /// are read.
    pub fn screen(&self, from: &PeerId, bytes: &[u8]) -> Option<Verdict> {
        if self.peers.contains(from) {
            return None;
        }
        Some(match Message::peek_height(bytes) {
            None => Verdict::Reject(Offence::GarbageGossip),
            Some(h) if self.heights.contains(&h) => Verdict::Reject(Offence::NotAConsensusPeer),
            Some(_) => Verdict::Ignore,
        })
    }
}

/// The verdict on a consensus message for `height` that the replica
/// judged: invalid in itself and for a height whose validator set is known
/// is a rejection; too early, too late or over a buffer is ignored.
pub fn consensus_verdict(
    result: &Result<(), Rejection>,
    height: u64,
    heights: &RangeInclusive<u64>,
) -> Verdict {
    match result {
        Ok(()) => Verdict::Accept,
        Err(r) if r.is_invalid() && heights.contains(&height) => {
            Verdict::Reject(Offence::InvalidConsensusMessage)
        }
        Err(_) => Verdict::Ignore,
    }
}

/// A token bucket, in thousandths of a token so that slow refills are not
/// lost to rounding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    milli: u64,
    at_ms: u64,
}

impl Bucket {
    /// A full bucket.
    pub fn full(limit: RateLimit, now_ms: u64) -> Self {
        Bucket {
            milli: limit.burst.saturating_mul(1_000),
            at_ms: now_ms,
        }
    }

    fn refill(&mut self, limit: RateLimit, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.at_ms);
        // tokens/s × ms = thousandths of a token.
        let added = limit.per_sec.saturating_mul(elapsed);
        self.milli = self
            .milli
            .saturating_add(added)
            .min(limit.burst.saturating_mul(1_000));
        self.at_ms = self.at_ms.max(now_ms);
    }

    fn has(&self, amount: u64) -> bool {
        self.milli >= amount.saturating_mul(1_000)
    }

    fn take(&mut self, amount: u64) {
        self.milli = self.milli.saturating_sub(amount.saturating_mul(1_000));
    }
}

/// What a peer sends that is rate-limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    Consensus,
    Txs,
    SyncRequest,
}

/// One peer's budgets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerBudget {
    consensus_msgs: Bucket,
    consensus_bytes: Bucket,
    tx_msgs: Bucket,
    tx_bytes: Bucket,
    sync_requests: Bucket,
}

impl PeerBudget {
    /// Full budgets for a peer that just connected.
    pub fn new(now_ms: u64) -> Self {
        PeerBudget {
            consensus_msgs: Bucket::full(CONSENSUS_MSGS_PER_PEER, now_ms),
            consensus_bytes: Bucket::full(CONSENSUS_BYTES_PER_PEER, now_ms),
            tx_msgs: Bucket::full(TX_GOSSIP_MSGS_PER_PEER, now_ms),
            tx_bytes: Bucket::full(TX_GOSSIP_BYTES_PER_PEER, now_ms),
            sync_requests: Bucket::full(SYNC_REQUESTS_PER_PEER, now_ms),
        }
    }

    /// Spends one message of `bytes` of `traffic` if both its budgets
    /// allow; false (and nothing spent) if either does not.
    pub fn admit(&mut self, traffic: Traffic, bytes: usize, now_ms: u64) -> bool {
        let bytes = bytes as u64;
        match traffic {
            Traffic::Consensus => take_both(
                (&mut self.consensus_msgs, CONSENSUS_MSGS_PER_PEER),
                (&mut self.consensus_bytes, CONSENSUS_BYTES_PER_PEER),
                bytes,
                now_ms,
            ),
            Traffic::Txs => take_both(
                (&mut self.tx_msgs, TX_GOSSIP_MSGS_PER_PEER),
                (&mut self.tx_bytes, TX_GOSSIP_BYTES_PER_PEER),
                bytes,
                now_ms,
            ),
            Traffic::SyncRequest => {
                self.sync_requests.refill(SYNC_REQUESTS_PER_PEER, now_ms);
                let ok = self.sync_requests.has(1);
                if ok {
                    self.sync_requests.take(1);
                }
                ok
            }
        }
    }
}

fn take_both(
    (msgs, msg_limit): (&mut Bucket, RateLimit),
    (bytes_bucket, byte_limit): (&mut Bucket, RateLimit),
    bytes: u64,
    now_ms: u64,
) -> bool {
    msgs.refill(msg_limit, now_ms);
    bytes_bucket.refill(byte_limit, now_ms);
    if !msgs.has(1) || !bytes_bucket.has(bytes) {
        return false;
    }
    msgs.take(1);
    bytes_bucket.take(bytes);
    true
}

/// A peer's penalized score, in thousandths of a point, and when it was
/// last brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Score {
    milli: i64,
    at_ms: u64,
}

impl Score {
    /// The score at `now_ms`, recovered toward 0.
    fn at(self, now_ms: u64) -> i64 {
        let elapsed = i64::try_from(now_ms.saturating_sub(self.at_ms)).unwrap_or(i64::MAX);
        // points/s × ms = thousandths of a point.
        self.milli
            .saturating_add(SCORE_RECOVERY_PER_SEC.saturating_mul(elapsed))
            .min(0)
    }
}

/// A ban in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ban {
    pub until_ms: u64,
    /// The offence that crossed the threshold.
    pub offence: Offence,
}

/// What a penalty did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penalized {
    /// The peer's score after it.
    Scored(i64),
    /// It crossed the threshold: ban the peer until `until_ms`. `lifted`
    /// is an older ban dropped to keep [`MAX_BANNED_PEERS`].
    Banned {
        until_ms: u64,
        lifted: Option<PeerId>,
    },
    /// The peer is banned already.
    AlreadyBanned,
}

/// Every peer's score and every ban in force.
#[derive(Debug, Default)]
pub struct PeerBook {
    scores: BTreeMap<PeerId, Score>,
    bans: BTreeMap<PeerId, Ban>,
}

impl PeerBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// The peer's score at `now_ms`: 0 for a peer with nothing against it.
    pub fn score(&self, peer: &PeerId, now_ms: u64) -> i64 {
        self.scores.get(peer).map_or(0, |s| s.at(now_ms) / 1_000)
    }

    /// Whether the peer is banned at `now_ms`.
    pub fn is_banned(&self, peer: &PeerId, now_ms: u64) -> bool {
        self.bans.get(peer).is_some_and(|b| b.until_ms > now_ms)
    }

    /// The ban of a peer, ended or not, until [`PeerBook::lift_expired`].
    pub fn ban(&self, peer: &PeerId) -> Option<Ban> {
        self.bans.get(peer).copied()
    }

    /// Bans in force or not yet lifted.
    pub fn banned(&self) -> usize {
        self.bans.len()
    }

    /// Charges `offence` to `peer` at `now_ms`.
    pub fn penalize(&mut self, peer: PeerId, offence: Offence, now_ms: u64) -> Penalized {
        if self.is_banned(&peer, now_ms) {
            return Penalized::AlreadyBanned;
        }
        let before = self.scores.get(&peer).map_or(0, |s| s.at(now_ms));
        let milli = before.saturating_sub(offence.penalty().saturating_mul(1_000));
        if milli <= BAN_SCORE.saturating_mul(1_000) {
            self.scores.remove(&peer);
            let until_ms = now_ms.saturating_add(BAN_MS);
            self.bans.insert(peer, Ban { until_ms, offence });
            let lifted = if self.bans.len() > MAX_BANNED_PEERS {
                self.bans
                    .iter()
                    .filter(|(p, _)| **p != peer)
                    .min_by_key(|(p, b)| (b.until_ms, **p))
                    .map(|(p, _)| *p)
            } else {
                None
            };
            if let Some(p) = lifted {
                self.bans.remove(&p);
            }
            return Penalized::Banned { until_ms, lifted };
        }
        if !self.scores.contains_key(&peer) && self.scores.len() >= MAX_SCORED_PEERS {
            // Forget the peer nearest to a clean score.
            let forgive = self
                .scores
                .iter()
                .max_by_key(|(p, s)| (s.at(now_ms), **p))
                .map(|(p, _)| *p);
            if let Some(p) = forgive {
                self.scores.remove(&p);
            }
        }
        self.scores.insert(
            peer,
            Score {
                milli,
                at_ms: now_ms,
            },
        );
        Penalized::Scored(milli / 1_000)
    }

    /// Lifts the bans that ended by `now_ms` and forgets fully recovered
    /// scores; returns the peers no longer banned.
    pub fn lift_expired(&mut self, now_ms: u64) -> Vec<PeerId> {
        let ended: Vec<PeerId> = self
            .bans
            .iter()
            .filter(|(_, b)| b.until_ms <= now_ms)
            .map(|(p, _)| *p)
            .collect();
        for p in &ended {
            self.bans.remove(p);
        }
        self.scores.retain(|_, s| s.at(now_ms) < 0);
        ended
    }
}

/// The rotation of peers that block sync asks: each request goes to the
/// next candidate after the last one asked, skipping peers that let a
/// request time out in the last [`SYNC_STALL_COOLDOWN_MS`] while another
/// candidate is left.
#[derive(Debug, Clone, Default)]
pub struct SyncPeers {
    last: Option<PeerId>,
    resting: BTreeMap<PeerId, u64>,
}

impl SyncPeers {
    pub fn new() -> Self {
        Self::default()
    }

    /// The peer to ask next among `candidates` (connected, not banned).
    pub fn pick(&mut self, candidates: &BTreeSet<PeerId>, now_ms: u64) -> Option<PeerId> {
        self.resting.retain(|_, until| *until > now_ms);
        let order: Vec<PeerId> = match self.last {
            Some(last) => candidates
                .range((Bound::Excluded(last), Bound::Unbounded))
                .chain(candidates.range(..=last))
                .copied()
                .collect(),
            None => candidates.iter().copied().collect(),
        };
        let choice = order
            .iter()
            .find(|p| !self.resting.contains_key(p))
            .or_else(|| order.first())
            .copied();
        if choice.is_some() {
            self.last = choice;
        }
        choice
    }

    /// Rests a peer that stalled.
    pub fn rest(&mut self, peer: PeerId, now_ms: u64) {
        if !self.resting.contains_key(&peer) && self.resting.len() >= MAX_SCORED_PEERS {
            let soonest = self
                .resting
                .iter()
                .min_by_key(|(p, until)| (**until, **p))
                .map(|(p, _)| *p);
            if let Some(p) = soonest {
                self.resting.remove(&p);
            }
        }
        self.resting
            .insert(peer, now_ms.saturating_add(SYNC_STALL_COOLDOWN_MS));
    }

    /// Whether the peer rests at `now_ms`.
    pub fn is_resting(&self, peer: &PeerId, now_ms: u64) -> bool {
        self.resting.get(peer).is_some_and(|until| *until > now_ms)
    }
}

/// Heartbeats in a row in which gossip to a peer found its send queue full
/// before [`SlowPeers`] resets the link.
pub const SLOW_PEER_HEARTBEATS: u32 = 6;
/// A report further than this from the peer's last one starts a new run.
pub const SLOW_PEER_GAP_MS: u64 = 1_500;

/// Links whose gossip no longer drains.
///
/// gossipsub queues what it sends a peer and reports the peer slow, once a
/// heartbeat, while that queue is full. A queue stays full when the peer
/// reads too slowly, or when the link is stuck for good: a stream the
/// peer stopped reading leaves the sender waiting forever, and every
/// message to that peer, consensus votes too, is dropped from then on.
/// After [`SLOW_PEER_HEARTBEATS`] reports in a row the network task closes
/// the peer's connections; the redial (or the peer's own) opens fresh ones
/// with an empty queue. Nobody is blamed: an overloaded honest peer is slow
/// too, and only the slow peer's own link is touched.
#[derive(Debug, Clone, Default)]
pub struct SlowPeers {
    /// Per peer: reports in the current run, and the last one's time.
    runs: BTreeMap<PeerId, (u32, u64)>,
}

impl SlowPeers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a slow-peer report at `now_ms`; true when the link should be
    /// reset now (the run then starts over).
    pub fn report(&mut self, peer: PeerId, now_ms: u64) -> bool {
        self.runs
            .retain(|_, (_, last)| now_ms.saturating_sub(*last) <= SLOW_PEER_GAP_MS);
        let run = self.runs.entry(peer).or_insert((0, now_ms));
        run.0 += 1;
        run.1 = now_ms;
        if run.0 >= SLOW_PEER_HEARTBEATS {
            self.runs.remove(&peer);
            return true;
        }
        false
    }

    /// Forgets a peer whose connections all closed.
    pub fn forget(&mut self, peer: &PeerId) {
        self.runs.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use merit_chain::consensus::{Statement, Vote};
    use merit_chain::tx::ChainId;
    use merit_chain::{Hash32, Keypair};

    use super::*;

    fn peer(i: u8) -> PeerId {
        let key = Keypair::insecure_from_label(&format!("peers-test/{i}"));
        crate::network::peer_id_of(&key.public()).unwrap()
    }

    #[test]
    fn a_link_that_stays_full_is_reset_and_a_passing_burst_is_not() {
        let mut slow = SlowPeers::new();
        let (p, q) = (peer(1), peer(2));
        // A burst: a few full heartbeats, then the queue drains.
        for k in 0..u64::from(SLOW_PEER_HEARTBEATS - 1) {
            assert!(!slow.report(p, 1_000 + k * 500));
        }
        // A report after a quiet gap starts a new run.
        let later = 1_000 + 10_000;
        for k in 0..u64::from(SLOW_PEER_HEARTBEATS - 1) {
            assert!(!slow.report(p, later + k * 500), "report {k}");
        }
        // Another peer's reports do not count towards this one's.
        assert!(!slow.report(q, later + 2_000));
        // The run's last heartbeat resets the link, and the run starts over.
        assert!(slow.report(p, later + u64::from(SLOW_PEER_HEARTBEATS - 1) * 500));
        assert!(!slow.report(p, later + u64::from(SLOW_PEER_HEARTBEATS) * 500));
        // Closed links are forgotten; stale runs are dropped on the way.
        slow.forget(&p);
        assert_eq!(slow.runs.len(), 1);
        assert!(!slow.report(p, later + 60_000));
        assert_eq!(slow.runs.len(), 1, "q's stale run was dropped");
    }

    #[test]
    fn two_invalid_messages_ban_a_peer_and_the_ban_ends() {
        let mut book = PeerBook::new();
        let p = peer(1);
        assert_eq!(
            book.penalize(p, Offence::InvalidConsensusMessage, 1_000),
            Penalized::Scored(-PENALTY_INVALID)
        );
        assert!(!book.is_banned(&p, 1_000));
        match book.penalize(p, Offence::GarbageGossip, 10_000) {
            Penalized::Banned { until_ms, lifted } => {
                assert_eq!(until_ms, 10_000 + BAN_MS);
                assert_eq!(lifted, None);
            }
            other => panic!("not banned: {other:?}"),
        }
        assert!(book.is_banned(&p, 10_000));
        assert_eq!(book.banned(), 1);
        assert_eq!(
            book.ban(&p).map(|b| b.offence),
            Some(Offence::GarbageGossip)
        );
        // More offences while banned change nothing.
        assert_eq!(
            book.penalize(p, Offence::GarbageGossip, 11_000),
            Penalized::AlreadyBanned
        );
        assert!(book.lift_expired(10_000 + BAN_MS - 1).is_empty());
        assert_eq!(book.lift_expired(10_000 + BAN_MS), vec![p]);
        assert!(!book.is_banned(&p, 10_000 + BAN_MS));
        assert_eq!(book.banned(), 0);
        // It comes back with a clean score.
        assert_eq!(book.score(&p, 10_000 + BAN_MS), 0);
        // Two invalid messages more than ten seconds apart do not ban.
        let q = peer(2);
        book.penalize(q, Offence::InvalidTransaction, 0);
        assert!(matches!(
            book.penalize(q, Offence::InvalidTransaction, 10_001),
            Penalized::Scored(_)
        ));
    }

    #[test]
    fn a_forged_sync_answer_bans_at_once_and_other_peers_are_untouched() {
        let mut book = PeerBook::new();
        for offence in [
            Offence::SyncBadCertificate,
            Offence::SyncForgedBlocks,
            Offence::SyncGarbage,
        ] {
            let mut book2 = PeerBook::new();
            assert!(matches!(
                book2.penalize(peer(1), offence, 0),
                Penalized::Banned { .. }
            ));
        }
        assert!(matches!(
            book.penalize(peer(1), Offence::SyncForgedBlocks, 0),
            Penalized::Banned { .. }
        ));
        assert!(!book.is_banned(&peer(2), 0));
        assert_eq!(book.score(&peer(2), 0), 0);
    }

    #[test]
    fn scores_recover_so_that_stalls_alone_never_ban() {
        let mut book = PeerBook::new();
        let p = peer(3);
        // One stall per sync timeout, for an hour.
        let timeout_ms = crate::network::SYNC_TIMEOUT.as_millis() as u64;
        let mut now = 0;
        while now < 3_600_000 {
            assert!(matches!(
                book.penalize(p, Offence::SyncStalled, now),
                Penalized::Scored(_)
            ));
            now += timeout_ms;
        }
        assert!(book.score(&p, now) > BAN_SCORE / 2);
        // Recovery: 60 points back in 30 s.
        let mut book = PeerBook::new();
        book.penalize(p, Offence::InvalidTransaction, 0);
        assert_eq!(book.score(&p, 0), -60);
        assert_eq!(book.score(&p, 15_000), -30);
        assert_eq!(book.score(&p, 30_000), 0);
        assert_eq!(book.score(&p, 90_000), 0);
        // So two invalid messages far apart do not ban ...
        assert_eq!(
            book.penalize(p, Offence::InvalidTransaction, 30_000),
            Penalized::Scored(-PENALTY_INVALID)
        );
        // ... and a flood over the rate limit does.
        let mut n = 0;
        while !book.is_banned(&p, 30_000) {
            book.penalize(p, Offence::OverRateLimit, 30_000);
            n += 1;
        }
        assert_eq!(
            n as i64,
            (-BAN_SCORE - PENALTY_INVALID + PENALTY_OVER_RATE - 1) / PENALTY_OVER_RATE
        );
        // A fully recovered score is forgotten.
        let q = peer(4);
        book.penalize(q, Offence::OverRateLimit, 0);
        book.lift_expired(10_000);
        assert_eq!(book.score(&q, 10_000), 0);
        assert!(!book.scores.contains_key(&q));
    }

    #[test]
    fn the_book_is_bounded() {
        let mut book = PeerBook::new();
        let peers: Vec<PeerId> = (0..MAX_SCORED_PEERS + 10)
            .map(|_| PeerId::random())
            .collect();
        for (i, p) in peers.iter().enumerate() {
            let offence = if i == 0 {
                Offence::InvalidTransaction
            } else {
                Offence::OverRateLimit
            };
            book.penalize(*p, offence, 0);
        }
        assert_eq!(book.scores.len(), MAX_SCORED_PEERS);
        // The worst one is kept.
        assert_eq!(book.score(&peers[0], 0), -PENALTY_INVALID);
        let mut book = PeerBook::new();
        let mut lifted = Vec::new();
        for (i, p) in peers.iter().take(MAX_BANNED_PEERS + 1).enumerate() {
            if let Penalized::Banned {
                lifted: Some(l), ..
            } = book.penalize(*p, Offence::SyncForgedBlocks, i as u64)
            {
                lifted.push(l);
            }
        }
        assert_eq!(book.banned(), MAX_BANNED_PEERS);
        // The ban that ended first made room.
        assert_eq!(lifted, vec![peers[0]]);
    }

    #[test]
    fn budgets_refuse_a_flood_and_refill_with_time() {
        let mut b = PeerBudget::new(0);
        let mut sent = 0;
        while b.admit(Traffic::SyncRequest, 64, 0) {
            sent += 1;
        }
        assert_eq!(sent, SYNC_REQUESTS_PER_PEER.burst);
        assert!(!b.admit(Traffic::SyncRequest, 64, 99));
        // 10 per second: one every 100 ms.
        assert!(b.admit(Traffic::SyncRequest, 64, 100));
        assert!(!b.admit(Traffic::SyncRequest, 64, 100));

        // Bytes bound consensus traffic before messages do for big ones.
        let big = MAX_GOSSIP_BYTES;
        let mut b = PeerBudget::new(0);
        let mut sent = 0;
        while b.admit(Traffic::Consensus, big, 0) {
            sent += 1;
        }
        assert_eq!(sent as u64, CONSENSUS_BYTES_PER_PEER.burst / big as u64);
        // Half a second refills exactly one full proposal, so the refused
        // ones spent nothing.
        assert!(!b.admit(Traffic::Consensus, big, 499));
        assert!(b.admit(Traffic::Consensus, big, 500));
        assert!(!b.admit(Traffic::Consensus, 1, 500));

        // Transactions have their own budget.
        let mut b = PeerBudget::new(0);
        let mut sent = 0;
        while b.admit(Traffic::Txs, 200, 0) {
            sent += 1;
        }
        assert_eq!(sent, TX_GOSSIP_MSGS_PER_PEER.burst);
        assert!(b.admit(Traffic::Consensus, 200, 0));
        assert!(b.admit(Traffic::Txs, 200, 1));
    }

    fn message_bytes(height: u64) -> Vec<u8> {
        let key = Keypair::insecure_from_label("peers-test/outsider");
        Message::sign(
            &ChainId::new("merit-test").unwrap(),
            &key,
            Statement::Prepare(Vote {
                height,
                round: 0,
                block_hash: Hash32([1; 32]),
            }),
            None,
        )
        .to_bytes()
    }

    #[test]
    fn consensus_messages_only_from_the_validator_identities_of_known_heights() {
        let validator = peer(1);
        let outsider = peer(9);
        let tip = 10;
        let allowed = ConsensusPeers {
            heights: consensus_heights(tip),
            peers: [validator].into_iter().collect(),
        };
        assert_eq!(allowed.heights, 9..=(11 + MAX_FUTURE_HEIGHTS));
        // A validator's message goes on to the replica, whatever it is.
        assert_eq!(allowed.screen(&validator, &message_bytes(10)), None);
        assert_eq!(allowed.screen(&validator, b"garbage"), None);
        // An outsider's message for a height whose set is known is refused,
        // and so is garbage.
        for h in [9, 11, 11 + MAX_FUTURE_HEIGHTS] {
            assert_eq!(
                allowed.screen(&outsider, &message_bytes(h)),
                Some(Verdict::Reject(Offence::NotAConsensusPeer)),
                "height {h}"
            );
        }
        assert_eq!(
            allowed.screen(&outsider, b"garbage"),
            Some(Verdict::Reject(Offence::GarbageGossip))
        );
        // Cannot be judged yet: the outsider may validate a later set this
        // node, behind, does not know yet. Or not any more: a removed
        // validator still finishing an old height. Ignored, not punished.
        for h in [12 + MAX_FUTURE_HEIGHTS, 1_000_000, 8, 0] {
            assert_eq!(
                allowed.screen(&outsider, &message_bytes(h)),
                Some(Verdict::Ignore),
                "height {h}"
            );
        }
        // Only the front of the message is read.
        let mut truncated = message_bytes(10);
        truncated.truncate(merit_chain::consensus::PEEK_BYTES);
        assert_eq!(
            allowed.screen(&outsider, &truncated),
            Some(Verdict::Reject(Offence::NotAConsensusPeer))
        );
    }

    #[test]
    fn what_cannot_be_judged_yet_is_ignored_not_punished() {
        let heights = consensus_heights(10);
        let far = 12 + MAX_FUTURE_HEIGHTS;
        // Too far ahead for this node: not the sender's fault.
        let ahead = Err(Rejection::TooFarAhead {
            height: far,
            current: 11,
        });
        assert_eq!(consensus_verdict(&ahead, far, &heights), Verdict::Ignore);
        // An unknown signer for a height whose set this node does not know
        // yet is no proof either.
        let unknown = Err(Rejection::NotAValidator);
        assert_eq!(consensus_verdict(&unknown, far, &heights), Verdict::Ignore);
        // Stale, a full buffer, rounds far ahead: ignored.
        for r in [
            Rejection::Stale {
                height: 3,
                current: 11,
            },
            Rejection::BufferFull,
            Rejection::RoundTooFarAhead {
                round: 40,
                current: 0,
            },
        ] {
            assert_eq!(consensus_verdict(&Err(r), 11, &heights), Verdict::Ignore);
        }
        // Judged: invalid messages for known heights are rejected.
        for r in [
            Rejection::NotAValidator,
            Rejection::BadSignature,
            Rejection::WrongProposer,
        ] {
            assert_eq!(
                consensus_verdict(&Err(r), 11, &heights),
                Verdict::Reject(Offence::InvalidConsensusMessage)
            );
        }
        assert_eq!(consensus_verdict(&Ok(()), 11, &heights), Verdict::Accept);
    }

    #[test]
    fn sync_rotates_through_peers_and_rests_one_that_stalled() {
        let a = peer(1);
        let b = peer(2);
        let c = peer(3);
        let all: BTreeSet<PeerId> = [a, b, c].into_iter().collect();
        let order: Vec<PeerId> = all.iter().copied().collect();
        let mut s = SyncPeers::new();
        let picks: Vec<PeerId> = (0..4).filter_map(|_| s.pick(&all, 0)).collect();
        assert_eq!(picks, vec![order[0], order[1], order[2], order[0]]);
        // order[1] stalls: it is skipped while it rests.
        s.rest(order[1], 0);
        assert!(s.is_resting(&order[1], 1));
        let picks: Vec<PeerId> = (0..4).filter_map(|_| s.pick(&all, 1)).collect();
        assert_eq!(picks, vec![order[2], order[0], order[2], order[0]]);
        // After the cooldown it is asked again.
        let later = SYNC_STALL_COOLDOWN_MS;
        assert!(!s.is_resting(&order[1], later));
        assert_eq!(s.pick(&all, later), Some(order[1]));
        // The only candidate is asked even while it rests.
        let only: BTreeSet<PeerId> = [order[1]].into_iter().collect();
        s.rest(order[1], later);
        assert_eq!(s.pick(&only, later + 1), Some(order[1]));
        assert_eq!(s.pick(&BTreeSet::new(), later + 1), None);
    }
}

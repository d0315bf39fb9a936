//! The deterministic runtime each simulated node's real driver runs on.
//!
//! It holds the node's clock, set by the world before every event, and
//! records what the driver asks for: timers, gossip, sync requests, and
//! its verdicts on gossip and on peers. The world turns those into events
//! on its one queue, and scores and bans peers, after the driver returns.
//! Gossiped transactions are judged and admitted at once, on the calling
//! thread, through the node's own admission code.

use std::sync::Arc;

use libp2p::PeerId;
use merit_node::driver::Timer;
use merit_node::network::{GossipId, SyncRequest};
use merit_node::peers::{Offence, Verdict};
use merit_node::runtime::{Runtime, Topic};
use merit_node::shared::{Shared, admit_now, check_gossip_txs};

/// What a driver asked of its runtime while handling one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Timer {
        after_ms: u64,
        timer: Timer,
    },
    Publish {
        topic: Topic,
        bytes: Vec<u8>,
    },
    Sync(SyncRequest),
    /// The verdict on a gossip message the world delivered.
    Verdict {
        id: GossipId,
        verdict: Verdict,
    },
    /// An offence of a peer outside gossip (a sync answer).
    Report {
        peer: PeerId,
        offence: Offence,
    },
}

/// One node's clock and outbox.
#[derive(Debug, Default)]
pub struct SimRuntime {
    wall_ms: u64,
    monotonic_ms: u64,
    actions: Vec<Action>,
}

impl SimRuntime {
    /// Sets the node's clocks before the world hands its driver an event:
    /// `wall_ms` is its (possibly skewed) wall clock, `monotonic_ms` the
    /// simulated time.
    pub fn set_clock(&mut self, wall_ms: u64, monotonic_ms: u64) {
        self.wall_ms = wall_ms;
        self.monotonic_ms = monotonic_ms;
    }

    /// Everything asked for since the last call, in order.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }
}

impl Runtime for SimRuntime {
    fn now_ms(&self) -> u64 {
        self.wall_ms
    }

    fn monotonic_ms(&self) -> u64 {
        self.monotonic_ms
    }

    fn set_timer(&mut self, after_ms: u64, timer: Timer) {
        self.actions.push(Action::Timer { after_ms, timer });
    }

    fn publish(&mut self, topic: Topic, bytes: Vec<u8>) {
        self.actions.push(Action::Publish { topic, bytes });
    }

    fn request_sync(&mut self, request: SyncRequest) {
        self.actions.push(Action::Sync(request));
    }

    fn admit_gossip(&mut self, shared: &Arc<Shared>, bytes: Vec<u8>, _from: PeerId, id: GossipId) {
        let (verdict, requests) = check_gossip_txs(shared, &bytes);
        self.actions.push(Action::Verdict { id, verdict });
        if !requests.is_empty() {
            admit_now(shared, requests);
        }
    }

    fn report_gossip(&mut self, id: GossipId, verdict: Verdict) {
        self.actions.push(Action::Verdict { id, verdict });
    }

    fn report_peer(&mut self, peer: PeerId, offence: Offence) {
        self.actions.push(Action::Report { peer, offence });
    }

    fn blocking<T>(&mut self, work: impl FnOnce() -> T) -> T {
        work()
    }
}

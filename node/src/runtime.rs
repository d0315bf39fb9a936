//! What the consensus driver needs from the world, behind one small trait.
//!
//! The [`Driver`](crate::driver::Driver) reads no clock, sleeps on no timer
//! and touches no socket itself: it asks its [`Runtime`]. A node runs it on
//! [`TokioRuntime`]: the system clock, tokio timers and the libp2p swarm.
//! The deterministic simulation in `merit-tests` runs the very same driver on
//! a runtime of its own: a simulated clock per node (skewed as it likes),
//! timers on its event queue, and an in-memory network that drops, delays,
//! duplicates and partitions. Storage is the other half of the world; the
//! driver reaches it through [`merit_store::Storage`], RocksDB on a node and
//! memory in the simulation.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot, watch};

use crate::driver::{Driver, DriverError, Event, Timer};
use crate::network::{
    GossipId, NetCommand, NetEvent, PeerReport, SyncAnswer, SyncFailure, SyncRequest,
};
use crate::peers::{Offence, Verdict};
use crate::shared::{Shared, check_gossip_txs, queue_for_admission};

/// The gossip topics a driver publishes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Signed consensus messages.
    Consensus,
    /// Batches of signed transactions.
    Txs,
}

/// The clock, timers and network of one node, as its driver sees them.
pub trait Runtime {
    /// Wall-clock time in milliseconds since the Unix epoch: what a proposer
    /// stamps on its blocks.
    fn now_ms(&self) -> u64;
    /// A monotonic clock in milliseconds from an arbitrary origin, for waits.
    fn monotonic_ms(&self) -> u64;
    /// Hands `timer` back to the driver as [`Event::Timer`] after `after_ms`.
    /// Timers are never cancelled: the driver ignores stale ones.
    fn set_timer(&mut self, after_ms: u64, timer: Timer);
    /// Gossips `bytes` on `topic`.
    fn publish(&mut self, topic: Topic, bytes: Vec<u8>);
    /// Asks the next peer of the sync rotation for blocks; the answer,
    /// naming the peer that gave it, comes back as [`Event::Synced`]. A
    /// peer that does not answer within the runtime's timeout is answered
    /// for with [`SyncFailure::Timeout`].
    fn request_sync(&mut self, request: SyncRequest);
    /// Judges and admits a batch of transactions gossiped by `from` (in the
    /// background where that is possible), and reports the verdict on the
    /// gossip message `id` as [`Runtime::report_gossip`] would.
    fn admit_gossip(&mut self, shared: &Arc<Shared>, bytes: Vec<u8>, from: PeerId, id: GossipId);
    /// The verdict on the gossip message `id`: the network relays it,
    /// drops it, or drops it and scores down the peer it came from. Taken
    /// at once, not after the event is handled: a valid proposal is relayed
    /// while it is executed here.
    fn report_gossip(&mut self, id: GossipId, verdict: Verdict);
    /// Charges an offence outside gossip, such as a bad sync answer, to
    /// `peer`.
    fn report_peer(&mut self, peer: PeerId, offence: Offence);
    /// Runs CPU-bound or blocking work (execution, an fsync) and returns its
    /// result.
    fn blocking<T>(&mut self, work: impl FnOnce() -> T) -> T;
}

/// A node's wall clock: the system clock, moved by a test-only offset.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock {
    offset_ms: i64,
}

/// The environment variable that moves a test node's clock, in signed
/// milliseconds. Read only by builds with the `mutants` feature, which only
/// the test crate turns on.
pub const TEST_CLOCK_OFFSET_ENV: &str = "MERIT_TEST_CLOCK_OFFSET_MS";

impl WallClock {
    /// The node's clock: the system clock, unless a test moved it.
    pub fn new() -> Self {
        #[cfg(feature = "mutants")]
        if let Some(offset_ms) = std::env::var(TEST_CLOCK_OFFSET_ENV)
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
        {
            tracing::warn!(offset_ms, "test build: this node's clock is moved");
            return WallClock { offset_ms };
        }
        WallClock::default()
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        system.saturating_add_signed(self.offset_ms)
    }
}

/// The runtime of a real node: the system clock, tokio timers and the
/// libp2p swarm task.
#[derive(Debug)]
pub struct TokioRuntime {
    clock: WallClock,
    origin: Instant,
    events: mpsc::UnboundedSender<Event>,
    /// Verdicts and offences, straight to the swarm task.
    reports: mpsc::UnboundedSender<PeerReport>,
    /// Gossip waiting to be handed to the swarm task once the event that
    /// produced it is handled.
    outbox: Vec<NetCommand>,
    syncs: Vec<SyncRequest>,
}

impl TokioRuntime {
    /// A runtime on `clock` whose timers and sync answers arrive on
    /// `events`, and whose verdicts on peers go to `reports`.
    pub fn new(
        clock: WallClock,
        events: mpsc::UnboundedSender<Event>,
        reports: mpsc::UnboundedSender<PeerReport>,
    ) -> Self {
        TokioRuntime {
            clock,
            origin: Instant::now(),
            events,
            reports,
            outbox: Vec::new(),
            syncs: Vec::new(),
        }
    }

    /// Hands what the driver published to the swarm, and starts the sync
    /// requests it made. Waits while the swarm's queue is full.
    async fn flush(&mut self, net: &mpsc::Sender<NetCommand>) -> bool {
        for cmd in self.outbox.drain(..) {
            if net.send(cmd).await.is_err() {
                return false;
            }
        }
        for request in self.syncs.drain(..) {
            let net = net.clone();
            let events = self.events.clone();
            tokio::spawn(async move {
                let stopped = || SyncAnswer {
                    peer: None,
                    result: Err(SyncFailure::Failed("network stopped".to_string())),
                };
                let (reply, response) = oneshot::channel();
                let answer = if net.send(NetCommand::Sync { request, reply }).await.is_err() {
                    stopped()
                } else {
                    response.await.unwrap_or_else(|_| stopped())
                };
                let _ = events.send(Event::Synced(answer));
            });
        }
        true
    }
}

impl Runtime for TokioRuntime {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn monotonic_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn set_timer(&mut self, after_ms: u64, timer: Timer) {
        let events = self.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            let _ = events.send(Event::Timer(timer));
        });
    }

    fn publish(&mut self, topic: Topic, bytes: Vec<u8>) {
        self.outbox.push(match topic {
            Topic::Consensus => NetCommand::PublishConsensus(bytes),
            Topic::Txs => NetCommand::PublishTxs(bytes),
        });
    }

    fn request_sync(&mut self, request: SyncRequest) {
        self.syncs.push(request);
    }

    fn admit_gossip(&mut self, shared: &Arc<Shared>, bytes: Vec<u8>, _from: PeerId, id: GossipId) {
        let shared = shared.clone();
        let reports = self.reports.clone();
        tokio::spawn(async move {
            // Decoding and signature checks are CPU work.
            let checked = tokio::task::spawn_blocking(move || {
                let (verdict, requests) = check_gossip_txs(&shared, &bytes);
                (shared, verdict, requests)
            })
            .await;
            let Ok((shared, verdict, requests)) = checked else {
                return;
            };
            let _ = reports.send(PeerReport::Gossip { id, verdict });
            queue_for_admission(&shared, requests).await;
        });
    }

    fn report_gossip(&mut self, id: GossipId, verdict: Verdict) {
        let _ = self.reports.send(PeerReport::Gossip { id, verdict });
    }

    fn report_peer(&mut self, peer: PeerId, offence: Offence) {
        let _ = self.reports.send(PeerReport::Offence { peer, offence });
    }

    fn blocking<T>(&mut self, work: impl FnOnce() -> T) -> T {
        tokio::task::block_in_place(work)
    }
}

/// Runs a node's driver until `stop` turns true or the network goes away.
/// Returns an error only for faults that must stop the node.
pub async fn run_driver(
    mut driver: Driver<TokioRuntime>,
    mut timers: mpsc::UnboundedReceiver<Event>,
    net: mpsc::Sender<NetCommand>,
    mut events: mpsc::Receiver<NetEvent>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), DriverError> {
    driver.start()?;
    driver.runtime_mut().flush(&net).await;
    loop {
        let event = tokio::select! {
            biased;
            _ = stop.changed() => break,
            timer = timers.recv() => match timer {
                Some(e) => e,
                None => break,
            },
            event = events.recv() => match event {
                Some(NetEvent::Consensus { bytes, from, arrival_ms, id }) => {
                    Event::Consensus { bytes, from, arrival_ms, id }
                }
                Some(NetEvent::Txs { bytes, from, id }) => Event::Txs { bytes, from, id },
                None => break,
            },
        };
        driver.handle(event)?;
        if !driver.runtime_mut().flush(&net).await {
            break;
        }
    }
    tracing::info!("consensus driver stopped");
    Ok(())
}

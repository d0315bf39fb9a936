//! libp2p networking: TCP with noise and yamux; gossipsub for transactions
//! and consensus messages; request-response for block sync.
//!
//! The swarm runs in its own task. The driver talks to it through
//! [`NetCommand`]s and hears from it through [`NetEvent`]s; verdicts on
//! gossip and offences of peers come back as [`PeerReport`]s. Every inbound
//! message is size-checked before it is decoded: gossipsub refuses frames
//! over [`MAX_GOSSIP_BYTES`], and the sync codec refuses lengths over its
//! bounds before reading them.
//!
//! Peers are judged by the rules of [`crate::peers`]:
//!
//! - gossipsub validates before it relays (`validate_messages`): a message
//!   is forwarded only once this node accepted it, so an honest relay never
//!   passes on what it has not checked, and the peer a message came from
//!   answers for it;
//! - every peer's consensus and transaction gossip and sync requests are
//!   counted against its [`crate::peers::PeerBudget`] before anything is
//!   decoded;
//! - a consensus message from a peer outside
//!   [`crate::shared::Shared::consensus_peers`] never reaches the driver;
//! - the driver's verdicts (the replica's checks, the transactions'
//!   signatures, sync answers) score the peer that sent the data, and a peer
//!   past [`crate::peers::BAN_SCORE`] is disconnected and refused for
//!   [`crate::peers::BAN_MS`] (`merit_p2p_banned_peers`).
//!
//! Before any of that the transport reads each gossip frame and hashes it
//! once (SHA-256, its message id for de-duplication); that pass is bounded
//! by [`MAX_GOSSIP_BYTES`], the sender's budget and its ban.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::prelude::*;
use libp2p::gossipsub::{
    self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId, ValidationMode,
};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, connection_limits, identity, noise,
    tcp, yamux,
};
use merit_chain::consensus::MAX_MESSAGE_BYTES;
use merit_chain::encoding::{self, BoundedVec, Decode, Encode};
use merit_chain::{Block, CommitCertificate, Keypair};
use merit_store::Storage;
use tokio::sync::{mpsc, oneshot};

use crate::peers::{
    BAN_MS, ConsensusPeers, Offence, PeerBook, PeerBudget, Penalized, SlowPeers, SyncPeers,
    Traffic, Verdict,
};
use crate::runtime::WallClock;
use crate::shared::Shared;

/// Largest gossip message: a consensus message with a full block.
pub const MAX_GOSSIP_BYTES: usize = MAX_MESSAGE_BYTES + 64 * 1024;
/// Blocks one sync response carries at most.
pub const MAX_SYNC_BLOCKS: u32 = 64;
/// Bytes one sync response carries at most (it stops early when the next
/// block would pass this; the first block always fits).
pub const MAX_SYNC_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Bytes of a sync request.
pub const MAX_SYNC_REQUEST_BYTES: usize = 64;
/// How long a sync request may take before the peer counts as stalled.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// Commands queued for the swarm task.
pub const NET_COMMAND_QUEUE: usize = 4096;
/// Gossip messages waiting for the node's verdict at most; past it the
/// oldest is dropped unjudged.
pub const MAX_PENDING_VERDICTS: usize = 65_536;
/// Inbound connections at most.
pub const MAX_INBOUND_CONNECTIONS: u32 = 256;
/// Connections with one peer at most (both directions).
pub const MAX_CONNECTIONS_PER_PEER: u32 = 4;
/// How often gossipsub runs its heartbeat (mesh upkeep, IHAVE gossip, slow
/// peer reports).
pub const GOSSIP_HEARTBEAT: Duration = Duration::from_millis(500);
/// Message ids one IHAVE or IWANT carries at most.
pub const MAX_GOSSIP_CONTROL_IDS: usize = 2_048;
/// Bytes of control (IHAVE, IWANT, IDONTWANT, GRAFT, PRUNE) one gossip frame
/// may carry: the largest IHAVE this node sends, 2,048 ids of 34 bytes
/// (a SHA-256 with its protobuf tag and length) and the topic, fits twice.
pub const MAX_GOSSIP_CONTROL_BYTES: usize = 128 * 1024;
/// Gossip messages queued for one peer at most. A healthy link drains in
/// milliseconds; a queue this long is seconds behind, and gossipsub then
/// reports the peer slow (see [`crate::peers::SlowPeers`]).
pub const GOSSIP_PEER_QUEUE: usize = 5_000;
/// How often the swarm task redials missing peers and lifts ended bans.
pub const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(2);

const SYNC_PROTOCOL: &str = "/merit/sync/1";

/// Asks a peer for committed blocks from `from_height` on.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SyncRequest {
    pub from_height: u64,
    pub max_blocks: u32,
}

/// A committed block with its certificate.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SyncedBlock {
    pub block: Block,
    pub certificate: CommitCertificate,
}

/// Consecutive committed blocks from the requested height, possibly none.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SyncResponse {
    pub blocks: BoundedVec<SyncedBlock, { MAX_SYNC_BLOCKS as usize }>,
}

/// Why a sync request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncFailure {
    /// No peer to ask.
    NoPeer,
    /// The peer did not answer within [`SYNC_TIMEOUT`].
    Timeout,
    /// The peer answered bytes that do not decode, or too many of them.
    Garbage(String),
    /// The request failed for another reason (the connection closed, the
    /// peer does not serve sync): nobody's fault.
    Failed(String),
}

impl std::fmt::Display for SyncFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncFailure::NoPeer => f.write_str("no connected peer"),
            SyncFailure::Timeout => write!(f, "no answer within {} s", SYNC_TIMEOUT.as_secs()),
            SyncFailure::Garbage(e) => write!(f, "an answer that does not decode: {e}"),
            SyncFailure::Failed(e) => f.write_str(e),
        }
    }
}

/// The answer to a sync request, and the peer that gave it (none when
/// there was no peer to ask).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAnswer {
    pub peer: Option<PeerId>,
    pub result: Result<SyncResponse, SyncFailure>,
}

/// A gossip message held back from relaying until the node judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GossipId(pub u64);

/// What the node tells the network about its peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerReport {
    /// The verdict on a gossip message: relay it, drop it, or drop it and
    /// score down the peer it came from.
    Gossip { id: GossipId, verdict: Verdict },
    /// An offence outside gossip, such as a bad sync answer.
    Offence { peer: PeerId, offence: Offence },
}

/// What the driver asks of the network.
#[derive(Debug)]
pub enum NetCommand {
    /// Gossip a batch of transactions (an encoded [`TxBatch`]).
    PublishTxs(Vec<u8>),
    /// Gossip an encoded consensus message.
    PublishConsensus(Vec<u8>),
    /// Ask the next peer of the sync rotation for blocks.
    Sync {
        request: SyncRequest,
        reply: oneshot::Sender<SyncAnswer>,
    },
}

/// What the network hands the node. Each message waits for its
/// [`PeerReport::Gossip`] verdict before it is relayed.
#[derive(Debug)]
pub enum NetEvent {
    /// Stamped with the node's wall clock as it came off the wire.
    Consensus {
        bytes: Vec<u8>,
        from: PeerId,
        arrival_ms: u64,
        id: GossipId,
    },
    Txs {
        bytes: Vec<u8>,
        from: PeerId,
        id: GossipId,
    },
}

/// Transactions gossiped together.
pub type TxBatch = BoundedVec<merit_chain::Transaction, { crate::shared::MAX_GOSSIP_BATCH_TXS }>;

/// The libp2p identity of a node's p2p key: the same ed25519 key. The p2p
/// key is a key of its own, never the validator key (ADR 008).
pub fn libp2p_identity(p2p_key: &Keypair) -> Result<identity::Keypair, String> {
    identity::Keypair::ed25519_from_bytes(p2p_key.seed()).map_err(|e| e.to_string())
}

/// The peer id of a p2p public key.
pub fn peer_id_of(p2p_key: &merit_chain::PublicKey) -> Option<PeerId> {
    let pk = identity::ed25519::PublicKey::try_from_bytes(&p2p_key.0).ok()?;
    Some(PeerId::from_public_key(&identity::PublicKey::from(pk)))
}

/// Every validator of `genesis` with the libp2p peer id of the p2p key its
/// signed record names, in validator order. The one mapping from the
/// validator set to peer identities.
pub fn validator_peer_ids(
    genesis: &merit_genesis::Genesis,
) -> Vec<(merit_chain::PublicKey, PeerId)> {
    genesis
        .validator_merchants()
        // A validated genesis holds only usable keys, which are all valid
        // libp2p ed25519 keys.
        .filter_map(|(_, v)| Some((v.key, peer_id_of(&v.p2p_key)?)))
        .collect()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SyncCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, limit: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the limit of {limit}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_frame(io, MAX_SYNC_REQUEST_BYTES).await?;
        encoding::decode(&bytes, MAX_SYNC_REQUEST_BYTES).map_err(invalid)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let limit = MAX_SYNC_RESPONSE_BYTES + MAX_GOSSIP_BYTES;
        let bytes = read_frame(io, limit).await?;
        encoding::decode(&bytes, limit).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &encoding::encode(&req)).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &encoding::encode(&res)).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    limits: connection_limits::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
}

/// Reads the blocks a peer asked for from storage.
pub fn serve_sync(storage: &dyn Storage, req: &SyncRequest) -> SyncResponse {
    let mut blocks = Vec::new();
    let mut bytes = 0usize;
    let max = req.max_blocks.min(MAX_SYNC_BLOCKS);
    for i in 0..u64::from(max) {
        let Some(h) = req.from_height.checked_add(i) else {
            break;
        };
        let (Ok(Some(block)), Ok(Some(certificate))) = (storage.block(h), storage.certificate(h))
        else {
            break;
        };
        let size = block.to_bytes().len();
        if !blocks.is_empty() && bytes + size > MAX_SYNC_RESPONSE_BYTES {
            break;
        }
        bytes += size;
        blocks.push(SyncedBlock { block, certificate });
    }
    SyncResponse {
        blocks: BoundedVec::new(blocks).unwrap_or_default(),
    }
}

/// The pieces the swarm task needs.
pub struct NetworkParams {
    pub identity: identity::Keypair,
    pub listen: Multiaddr,
    pub peers: Vec<Multiaddr>,
    pub chain_id: String,
    /// The node's wall clock, which stamps consensus messages on arrival.
    pub clock: WallClock,
}

impl std::fmt::Debug for NetworkParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkParams")
            .field("peer_id", &self.identity.public().to_peer_id())
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("chain_id", &self.chain_id)
            .field("clock", &self.clock)
            .finish()
    }
}

/// The running swarm's channels.
#[derive(Debug)]
pub struct NetworkChannels {
    pub commands: mpsc::Sender<NetCommand>,
    pub events: mpsc::Receiver<NetEvent>,
    /// Verdicts and offences, judged as soon as they arrive.
    pub reports: mpsc::UnboundedSender<PeerReport>,
    pub local_peer_id: PeerId,
}

fn topic(chain_id: &str, what: &str) -> IdentTopic {
    IdentTopic::new(format!("merit/{chain_id}/{what}/1"))
}

/// The gossipsub topic of transactions on `chain_id`.
pub fn tx_topic(chain_id: &str) -> IdentTopic {
    topic(chain_id, "txs")
}

/// The gossipsub topic of consensus messages on `chain_id`.
pub fn consensus_topic(chain_id: &str) -> IdentTopic {
    topic(chain_id, "consensus")
}

/// The id gossipsub gives a message: the SHA-256 of its bytes, so the same
/// bytes from any peer are one message.
pub fn message_id(m: &gossipsub::Message) -> MessageId {
    MessageId::from(merit_chain::crypto::sha256(&m.data).0.to_vec())
}

/// The gossipsub settings every node runs with.
pub fn gossip_config() -> anyhow::Result<gossipsub::Config> {
    gossipsub::ConfigBuilder::default()
        .max_transmit_size(MAX_GOSSIP_BYTES)
        // Gossip carries no libp2p signatures: every transaction is signed by
        // its sender and every consensus message by its validator, and both
        // are verified by the node itself. Signing each gossip message again
        // (and verifying every copy a peer forwards) cost about a tenth of a
        // loaded node's CPU. Noise already authenticates each link.
        .validation_mode(ValidationMode::Anonymous)
        // Relay only what this node checked and accepted: a peer answers
        // for what it forwards, and an honest one forwards nothing invalid.
        .validate_messages()
        .heartbeat_interval(GOSSIP_HEARTBEAT)
        .message_id_fn(message_id)
        .duplicate_cache_time(Duration::from_secs(120))
        .mesh_n_low(2)
        .mesh_n(4)
        .mesh_n_high(8)
        .mesh_outbound_min(1)
        // What this node sends and what it accepts must agree: an IHAVE or
        // IWANT names up to MAX_GOSSIP_CONTROL_IDS ids, and a peer refuses
        // a frame whose control part is over MAX_GOSSIP_CONTROL_BYTES. With
        // the library's defaults (5,000 ids, 16 KiB) a loaded node's IHAVE
        // was refused, the stream it rode on was dropped unread, and the
        // link between two validators stopped carrying gossip for good.
        .max_control_messages_sent(MAX_GOSSIP_CONTROL_IDS)
        .max_control_message_size(MAX_GOSSIP_CONTROL_BYTES)
        .connection_handler_queue_len(GOSSIP_PEER_QUEUE)
        .build()
        .map_err(|e| anyhow::anyhow!("gossipsub config: {e}"))
}

/// Builds the swarm, starts listening and dialing, and spawns its task.
pub async fn start(params: NetworkParams, shared: Arc<Shared>) -> anyhow::Result<NetworkChannels> {
    let local_peer_id = params.identity.public().to_peer_id();
    let gossip_config = gossip_config()?;
    let tx_topic = tx_topic(&params.chain_id);
    let consensus_topic = consensus_topic(&params.chain_id);

    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(params.identity)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_dns()?
        .with_behaviour(|_| {
            let gossipsub =
                gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gossip_config.clone())
                    .map_err(|e| io::Error::other(e.to_string()))?;
            let sync = request_response::Behaviour::with_codec(
                SyncCodec,
                [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(SYNC_TIMEOUT),
            );
            let limits = connection_limits::Behaviour::new(
                connection_limits::ConnectionLimits::default()
                    .with_max_established_incoming(Some(MAX_INBOUND_CONNECTIONS))
                    .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER)),
            );
            Ok(Behaviour {
                blocked: allow_block_list::Behaviour::default(),
                limits,
                gossipsub,
                sync,
            })
        })
        .map_err(|e| anyhow::anyhow!("building the network: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm.behaviour_mut().gossipsub.subscribe(&tx_topic)?;
    swarm
        .listen_on(params.listen.clone())
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", params.listen))?;
    for peer in &params.peers {
        if let Err(e) = swarm.dial(peer.clone()) {
            tracing::warn!(%peer, "cannot dial: {e}");
        }
    }

    let (cmd_tx, cmd_rx) = mpsc::channel(NET_COMMAND_QUEUE);
    let (ev_tx, ev_rx) = mpsc::channel(NET_COMMAND_QUEUE);
    let (report_tx, report_rx) = mpsc::unbounded_channel();
    let (served_tx, served_rx) = mpsc::channel(NET_COMMAND_QUEUE);
    let task = SwarmTask {
        swarm,
        shared,
        tx_topic,
        consensus_topic,
        peers: params.peers,
        events: ev_tx,
        served: served_tx,
        pending_sync: BTreeMap::new(),
        pending_gossip: BTreeMap::new(),
        next_gossip: 0,
        clock: params.clock,
        origin: Instant::now(),
        book: PeerBook::new(),
        budgets: BTreeMap::new(),
        sync_peers: SyncPeers::new(),
        slow_peers: SlowPeers::new(),
        consensus_peers: (u64::MAX, ConsensusPeers::default()),
        in_consensus: (u64::MAX, false),
    };
    tokio::spawn(task.run(cmd_rx, report_rx, served_rx));
    Ok(NetworkChannels {
        commands: cmd_tx,
        events: ev_rx,
        reports: report_tx,
        local_peer_id,
    })
}

/// An answer read from storage, on its way back to the swarm.
type Served = (ResponseChannel<SyncResponse>, SyncResponse);

struct SwarmTask {
    swarm: Swarm<Behaviour>,
    shared: Arc<Shared>,
    tx_topic: IdentTopic,
    consensus_topic: IdentTopic,
    peers: Vec<Multiaddr>,
    events: mpsc::Sender<NetEvent>,
    served: mpsc::Sender<Served>,
    pending_sync: BTreeMap<OutboundRequestId, (PeerId, oneshot::Sender<SyncAnswer>)>,
    /// Gossip handed to the node, waiting for its verdict.
    pending_gossip: BTreeMap<u64, (MessageId, PeerId)>,
    next_gossip: u64,
    clock: WallClock,
    /// The origin of the monotonic clock scores and budgets run on.
    origin: Instant,
    book: PeerBook,
    budgets: BTreeMap<PeerId, PeerBudget>,
    sync_peers: SyncPeers,
    slow_peers: SlowPeers,
    /// The consensus peers, and the tip they were computed at.
    consensus_peers: (u64, ConsensusPeers),
    /// The tip membership was last judged at, and whether the node is
    /// subscribed to the consensus topic: a key of this node is in a set of
    /// the heights around that tip.
    in_consensus: (u64, bool),
}

impl SwarmTask {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<NetCommand>,
        mut reports: mpsc::UnboundedReceiver<PeerReport>,
        mut served: mpsc::Receiver<Served>,
    ) {
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.follow_membership();
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                Some(report) = reports.recv() => self.on_report(report),
                Some((channel, response)) = served.recv() => {
                    let _ = self.swarm.behaviour_mut().sync.send_response(channel, response);
                }
                event = self.swarm.select_next_some() => self.on_event(event).await,
                _ = housekeeping.tick() => self.housekeeping(),
            }
        }
        tracing::debug!("network task stopped");
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn housekeeping(&mut self) {
        let now = self.now_ms();
        for peer in self.book.lift_expired(now) {
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
            tracing::info!(%peer, "ban lifted");
        }
        self.shared
            .metrics
            .p2p_banned_peers
            .set(self.book.banned() as i64);
        let connected = self.swarm.connected_peers().count();
        self.shared.metrics.p2p_peers.set(connected as i64);
        if connected >= self.peers.len() {
            return;
        }
        for peer in self.peers.clone() {
            // Dialing a connected (or banned) peer is refused cheaply.
            let _ = self.swarm.dial(peer);
        }
    }

    fn publish(&mut self, consensus: bool, bytes: Vec<u8>) {
        let topic = if consensus {
            self.consensus_topic.clone()
        } else {
            self.tx_topic.clone()
        };
        match self.swarm.behaviour_mut().gossipsub.publish(topic, bytes) {
            Ok(_) | Err(gossipsub::PublishError::Duplicate) => {}
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                tracing::debug!("no peer to gossip to yet");
            }
            Err(e) => {
                self.shared.metrics.gossip_publish_failures.inc();
                tracing::warn!("gossip publish failed: {e}");
            }
        }
    }

    fn on_command(&mut self, cmd: NetCommand) {
        match cmd {
            NetCommand::PublishTxs(bytes) => self.publish(false, bytes),
            NetCommand::PublishConsensus(bytes) => self.publish(true, bytes),
            NetCommand::Sync { request, reply } => {
                let now = self.now_ms();
                let candidates: BTreeSet<PeerId> = self
                    .swarm
                    .connected_peers()
                    .filter(|p| !self.book.is_banned(p, now))
                    .copied()
                    .collect();
                let Some(peer) = self.sync_peers.pick(&candidates, now) else {
                    let _ = reply.send(SyncAnswer {
                        peer: None,
                        result: Err(SyncFailure::NoPeer),
                    });
                    return;
                };
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending_sync.insert(id, (peer, reply));
            }
        }
    }

    fn on_report(&mut self, report: PeerReport) {
        match report {
            PeerReport::Gossip { id, verdict } => {
                if let Some((msg_id, source)) = self.pending_gossip.remove(&id.0) {
                    self.judge(&msg_id, source, verdict);
                }
            }
            PeerReport::Offence { peer, offence } => {
                if offence == Offence::SyncStalled {
                    let now = self.now_ms();
                    self.sync_peers.rest(peer, now);
                }
                self.penalize(peer, offence);
            }
        }
    }

    /// Tells gossipsub what to do with a message and scores its sender.
    fn judge(&mut self, msg_id: &MessageId, source: PeerId, verdict: Verdict) {
        let acceptance = match verdict {
            Verdict::Accept => MessageAcceptance::Accept,
            Verdict::Ignore => MessageAcceptance::Ignore,
            Verdict::Reject(_) => MessageAcceptance::Reject,
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(msg_id, &source, acceptance);
        if let Verdict::Reject(offence) = verdict {
            self.penalize(source, offence);
        }
    }

    /// Charges an offence to a peer; past the threshold, bans it.
    fn penalize(&mut self, peer: PeerId, offence: Offence) {
        let now = self.now_ms();
        let m = &self.shared.metrics;
        match self.book.penalize(peer, offence, now) {
            Penalized::Scored(score) => {
                m.p2p_peer_penalties.inc();
                tracing::debug!(%peer, score, "peer {offence}");
            }
            Penalized::Banned { lifted, .. } => {
                m.p2p_peer_penalties.inc();
                tracing::warn!(
                    %peer,
                    reason = %offence,
                    ban_secs = BAN_MS / 1_000,
                    "banned peer {peer}: it {offence}"
                );
                self.swarm.behaviour_mut().blocked.block_peer(peer);
                self.budgets.remove(&peer);
                if let Some(old) = lifted {
                    self.swarm.behaviour_mut().blocked.unblock_peer(old);
                }
                m.p2p_banned_peers.set(self.book.banned() as i64);
            }
            Penalized::AlreadyBanned => {}
        }
    }

    /// Only validators take part in consensus; everyone else syncs. A node
    /// joins the consensus topic as soon as a set of the heights around its
    /// tip names one of its keys (a vote of the alliance decides a set
    /// `ACTIVATION_DELAY_BLOCKS` ahead, so it joins before it must vote),
    /// and leaves it once none does.
    fn follow_membership(&mut self) {
        let tip = self.shared.read_ledger().height();
        if self.in_consensus.0 == tip {
            return;
        }
        let member = self.shared.takes_part_in_consensus();
        self.in_consensus.0 = tip;
        if member == self.in_consensus.1 {
            return;
        }
        let gossip = &mut self.swarm.behaviour_mut().gossipsub;
        if member {
            match gossip.subscribe(&self.consensus_topic) {
                Ok(_) => {
                    tracing::info!("joined the consensus topic: a key of this node is in the set");
                    self.in_consensus.1 = true;
                }
                Err(e) => tracing::warn!("cannot join the consensus topic: {e}"),
            }
        } else {
            gossip.unsubscribe(&self.consensus_topic);
            tracing::info!("left the consensus topic: no key of this node is in the set");
            self.in_consensus.1 = false;
        }
    }

    /// The peers that may send consensus messages, computed again when the
    /// tip moves.
    fn consensus_peers(&mut self) -> &ConsensusPeers {
        let tip = self.shared.read_ledger().height();
        if self.consensus_peers.0 != tip {
            self.consensus_peers = (tip, self.shared.consensus_peers());
        }
        &self.consensus_peers.1
    }

    /// Spends a peer's budget for a message; false if it is over.
    fn within_budget(&mut self, peer: PeerId, traffic: Traffic, bytes: usize) -> bool {
        let now = self.now_ms();
        let ok = self
            .budgets
            .entry(peer)
            .or_insert_with(|| PeerBudget::new(now))
            .admit(traffic, bytes, now);
        if !ok {
            self.shared.metrics.p2p_rate_limited.inc();
        }
        ok
    }

    /// Holds a message for the node's verdict.
    fn hold(&mut self, msg_id: MessageId, source: PeerId) -> GossipId {
        let id = self.next_gossip;
        self.next_gossip = self.next_gossip.wrapping_add(1);
        self.pending_gossip.insert(id, (msg_id, source));
        while self.pending_gossip.len() > MAX_PENDING_VERDICTS {
            if let Some((_, (old, from))) = self.pending_gossip.pop_first() {
                self.judge(&old, from, Verdict::Ignore);
            }
        }
        GossipId(id)
    }

    /// A gossip message: budget, screen, then on to the node.
    async fn on_gossip(&mut self, source: PeerId, msg_id: MessageId, message: gossipsub::Message) {
        let now = self.now_ms();
        let consensus = message.topic == self.consensus_topic.hash();
        if !consensus && message.topic != self.tx_topic.hash() {
            return self.judge(&msg_id, source, Verdict::Ignore);
        }
        if self.book.is_banned(&source, now) {
            return self.judge(&msg_id, source, Verdict::Ignore);
        }
        let traffic = if consensus {
            Traffic::Consensus
        } else {
            Traffic::Txs
        };
        if !self.within_budget(source, traffic, message.data.len()) {
            return self.judge(&msg_id, source, Verdict::Reject(Offence::OverRateLimit));
        }
        if consensus && let Some(verdict) = self.consensus_peers().screen(&source, &message.data) {
            if matches!(verdict, Verdict::Reject(_)) {
                self.shared.metrics.consensus_non_validator_messages.inc();
            }
            return self.judge(&msg_id, source, verdict);
        }
        let id = self.hold(msg_id, source);
        let ev = if consensus {
            NetEvent::Consensus {
                bytes: message.data,
                from: source,
                arrival_ms: self.clock.now_ms(),
                id,
            }
        } else {
            NetEvent::Txs {
                bytes: message.data,
                from: source,
                id,
            }
        };
        if self.events.send(ev).await.is_err() {
            tracing::debug!("node stopped; dropping gossip");
        }
    }

    /// A peer asks for blocks: within its budget, read them off the swarm
    /// task and answer when they are read.
    fn on_sync_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        let now = self.now_ms();
        if self.book.is_banned(&peer, now) {
            return;
        }
        if !self.within_budget(peer, Traffic::SyncRequest, MAX_SYNC_REQUEST_BYTES) {
            // Dropping the channel refuses the request.
            return self.penalize(peer, Offence::OverRateLimit);
        }
        let storage = self.shared.storage.clone();
        let served = self.served.clone();
        tokio::spawn(async move {
            let response = tokio::task::spawn_blocking(move || serve_sync(&*storage, &request))
                .await
                .unwrap_or(SyncResponse {
                    blocks: BoundedVec::default(),
                });
            let _ = served.send((channel, response)).await;
        });
    }

    fn on_sync_failure(
        &mut self,
        request_id: OutboundRequestId,
        error: request_response::OutboundFailure,
    ) {
        let Some((peer, reply)) = self.pending_sync.remove(&request_id) else {
            return;
        };
        let failure = match error {
            request_response::OutboundFailure::Timeout => SyncFailure::Timeout,
            request_response::OutboundFailure::Io(e) if e.kind() == io::ErrorKind::InvalidData => {
                SyncFailure::Garbage(e.to_string())
            }
            other => SyncFailure::Failed(other.to_string()),
        };
        let _ = reply.send(SyncAnswer {
            peer: Some(peer),
            result: Err(failure),
        });
    }

    async fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                self.on_gossip(propagation_source, message_id, message)
                    .await
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                peer,
                message,
                ..
            })) => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.on_sync_request(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((peer, reply)) = self.pending_sync.remove(&request_id) {
                        let _ = reply.send(SyncAnswer {
                            peer: Some(peer),
                            result: Ok(response),
                        });
                    }
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::OutboundFailure {
                    request_id, error, ..
                },
            )) => self.on_sync_failure(request_id, error),
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            })) => {
                let now = self.now_ms();
                if self.slow_peers.report(peer_id, now) {
                    tracing::warn!(
                        peer = %peer_id,
                        ?failed_messages,
                        "gossip to this peer has not drained for {} heartbeats: closing its connections to open fresh ones",
                        crate::peers::SLOW_PEER_HEARTBEATS
                    );
                    self.shared.metrics.p2p_slow_peer_resets.inc();
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                }
            }
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                tracing::debug!(%peer_id, "peer connected");
                self.shared
                    .metrics
                    .p2p_peers
                    .set(self.swarm.connected_peers().count() as i64);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                ..
            } => {
                tracing::debug!(%peer_id, "peer disconnected");
                if num_established == 0 {
                    self.budgets.remove(&peer_id);
                    self.slow_peers.forget(&peer_id);
                }
                self.shared
                    .metrics
                    .p2p_peers
                    .set(self.swarm.connected_peers().count() as i64);
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening for peers");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of an IHAVE naming `ids` message ids on a topic of
    /// `topic_bytes`, as protobuf encodes it: a length-delimited field per
    /// id (tag, one or two length bytes, the id) inside the IHAVE, inside
    /// the control message, inside the frame.
    fn ihave_bytes(ids: usize, topic_bytes: usize) -> usize {
        let id = 32;
        let varint = |n: usize| match n {
            0..128 => 1,
            128..16_384 => 2,
            _ => 3,
        };
        let field = |len: usize| 1 + varint(len) + len;
        let ihave = field(topic_bytes) + ids * field(id);
        field(field(ihave))
    }

    #[test]
    fn the_largest_ihave_a_node_sends_is_one_its_peers_accept() {
        let config = gossip_config().unwrap();
        let longest_chain_id = "x".repeat(merit_chain::limits::MAX_CHAIN_ID_BYTES);
        let topic = consensus_topic(&longest_chain_id)
            .hash()
            .into_string()
            .len();
        let largest = ihave_bytes(config.max_control_messages_sent(), topic);
        assert!(
            largest <= config.max_control_message_size(),
            "an IHAVE of {} ids is {largest} bytes: peers refuse control over {}",
            config.max_control_messages_sent(),
            config.max_control_message_size()
        );
        assert!(config.max_control_message_size() <= config.max_transmit_size());
        // The ids are SHA-256 hashes: the size above assumes 32 bytes.
        let m = gossipsub::Message {
            source: None,
            data: vec![1, 2, 3],
            sequence_number: None,
            topic: tx_topic("merit-test").hash(),
        };
        assert_eq!(message_id(&m).0.len(), 32);
    }
}

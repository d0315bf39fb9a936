//! libp2p networking: TCP with noise and yamux; gossipsub for transactions
//! and consensus messages; request-response for block sync.
//!
//! The swarm runs in its own task. The driver talks to it through
//! [`NetCommand`]s and hears from it through [`NetEvent`]s. Every inbound
//! message is size-checked before it is decoded: gossipsub refuses frames
//! over [`MAX_GOSSIP_BYTES`], and the sync codec refuses lengths over its
//! bounds before reading them.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::prelude::*;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, identity, noise, tcp, yamux};
use merit_chain::consensus::MAX_MESSAGE_BYTES;
use merit_chain::encoding::{self, BoundedVec, Decode, Encode};
use merit_chain::{Block, CommitCertificate, Keypair};
use merit_store::Storage;
use tokio::sync::{mpsc, oneshot};

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
/// How long a sync request may take.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(20);
/// Commands queued for the swarm task.
pub const NET_COMMAND_QUEUE: usize = 4096;

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

/// What the driver asks of the network.
#[derive(Debug)]
pub enum NetCommand {
    /// Gossip a batch of transactions (an encoded [`TxBatch`]).
    PublishTxs(Vec<u8>),
    /// Gossip an encoded consensus message.
    PublishConsensus(Vec<u8>),
    /// Ask some connected peer for blocks.
    Sync {
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, String>>,
    },
}

/// What the network hands the node.
#[derive(Debug)]
pub enum NetEvent {
    /// Stamped with the node's wall clock as it came off the wire.
    Consensus {
        bytes: Vec<u8>,
        from: PeerId,
        arrival_ms: u64,
    },
    Txs {
        bytes: Vec<u8>,
        from: PeerId,
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
    pub local_peer_id: PeerId,
}

fn topic(chain_id: &str, what: &str) -> IdentTopic {
    IdentTopic::new(format!("merit/{chain_id}/{what}/1"))
}

/// Builds the swarm, starts listening and dialing, and spawns its task.
pub async fn start(params: NetworkParams, shared: Arc<Shared>) -> anyhow::Result<NetworkChannels> {
    let local_peer_id = params.identity.public().to_peer_id();
    let gossip_config = gossipsub::ConfigBuilder::default()
        .max_transmit_size(MAX_GOSSIP_BYTES)
        // Gossip carries no libp2p signatures: every transaction is signed by
        // its sender and every consensus message by its validator, and both
        // are verified by the node itself. Signing each gossip message again
        // (and verifying every copy a peer forwards) cost about a tenth of a
        // loaded node's CPU. Noise already authenticates each link.
        .validation_mode(ValidationMode::Anonymous)
        .heartbeat_interval(Duration::from_millis(500))
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(merit_chain::crypto::sha256(&m.data).0.to_vec())
        })
        .duplicate_cache_time(Duration::from_secs(120))
        .mesh_n_low(2)
        .mesh_n(4)
        .mesh_n_high(8)
        .mesh_outbound_min(1)
        .connection_handler_queue_len(20_000)
        .build()
        .map_err(|e| anyhow::anyhow!("gossipsub config: {e}"))?;
    let tx_topic = topic(&params.chain_id, "txs");
    let consensus_topic = topic(&params.chain_id, "consensus");

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
            Ok(Behaviour { gossipsub, sync })
        })
        .map_err(|e| anyhow::anyhow!("building the network: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm.behaviour_mut().gossipsub.subscribe(&tx_topic)?;
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&consensus_topic)?;
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
    let task = SwarmTask {
        swarm,
        shared,
        tx_topic,
        consensus_topic,
        peers: params.peers,
        events: ev_tx,
        pending_sync: BTreeMap::new(),
        next_sync_peer: 0,
        clock: params.clock,
    };
    tokio::spawn(task.run(cmd_rx));
    Ok(NetworkChannels {
        commands: cmd_tx,
        events: ev_rx,
        local_peer_id,
    })
}

struct SwarmTask {
    swarm: Swarm<Behaviour>,
    shared: Arc<Shared>,
    tx_topic: IdentTopic,
    consensus_topic: IdentTopic,
    peers: Vec<Multiaddr>,
    events: mpsc::Sender<NetEvent>,
    pending_sync: BTreeMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, String>>>,
    next_sync_peer: usize,
    clock: WallClock,
}

impl SwarmTask {
    async fn run(mut self, mut commands: mpsc::Receiver<NetCommand>) {
        let mut redial = tokio::time::interval(Duration::from_secs(2));
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.on_event(event).await,
                _ = redial.tick() => self.redial(),
            }
        }
        tracing::debug!("network task stopped");
    }

    fn redial(&mut self) {
        let connected = self.swarm.connected_peers().count();
        self.shared.metrics.p2p_peers.set(connected as i64);
        if connected >= self.peers.len() {
            return;
        }
        for peer in self.peers.clone() {
            // Dialing a connected peer is refused cheaply by the swarm.
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
                let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                if peers.is_empty() {
                    let _ = reply.send(Err("no connected peer".into()));
                    return;
                }
                let peer = peers[self.next_sync_peer % peers.len()];
                self.next_sync_peer = self.next_sync_peer.wrapping_add(1);
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending_sync.insert(id, reply);
            }
        }
    }

    async fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message,
                ..
            })) => {
                let ev = if message.topic == self.consensus_topic.hash() {
                    NetEvent::Consensus {
                        bytes: message.data,
                        from: propagation_source,
                        arrival_ms: self.clock.now_ms(),
                    }
                } else if message.topic == self.tx_topic.hash() {
                    NetEvent::Txs {
                        bytes: message.data,
                        from: propagation_source,
                    }
                } else {
                    return;
                };
                if self.events.send(ev).await.is_err() {
                    tracing::debug!("node stopped; dropping gossip");
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                message,
                ..
            })) => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let storage = self.shared.storage.clone();
                    // Reading blocks touches the disk; keep the swarm responsive.
                    let response =
                        tokio::task::spawn_blocking(move || serve_sync(&*storage, &request))
                            .await
                            .unwrap_or(SyncResponse {
                                blocks: BoundedVec::default(),
                            });
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .sync
                        .send_response(channel, response);
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.pending_sync.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::OutboundFailure {
                    request_id, error, ..
                },
            )) => {
                if let Some(reply) = self.pending_sync.remove(&request_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                tracing::debug!(%peer_id, "peer connected");
                self.shared
                    .metrics
                    .p2p_peers
                    .set(self.swarm.connected_peers().count() as i64);
            }
            SwarmEvent::ConnectionClosed { peer_id, .. } => {
                tracing::debug!(%peer_id, "peer disconnected");
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

//! A rogue peer for the flood test (`merit-rogue`).
//!
//! It speaks the node's transport (TCP, noise, yamux, gossipsub on the
//! node's topic names, with the node's message ids), joins an alliance as
//! an outsider and floods every node it reaches with fake proposals of
//! nearly [`MAX_BLOCK_BYTES`], Prepare and Commit votes with bad signatures,
//! and transaction gossip that is garbage or carries bad signatures. It
//! learns the working height and a real validator's key from the consensus
//! messages it overhears, so its fakes name the right height and a real
//! proposer. Banned (no connection left for a while), it can come back under
//! a fresh identity, as many times as it is allowed.
//!
//! A harness for tests: it reports what it sent and never judges anything.

use std::time::{Duration, Instant};

use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, Swarm, noise, tcp, yamux};
use merit_chain::block::BlockHeader;
use merit_chain::consensus::{Message, SignedStatement, Statement, Vote};
use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::limits::{MAX_BLOCK_BYTES, MAX_MEMO_BYTES, MAX_PAY_LEGS};
use merit_chain::tx::{ChainId, Memo, OrderId, PayLeg};
use merit_chain::{Block, Hash32, Keypair, PublicKey, Signature, Symbol, TxBody, TxKind};
use merit_node::network::{MAX_GOSSIP_BYTES, TxBatch, consensus_topic, message_id, tx_topic};
use serde::Serialize;

/// How often the rogue looks at its schedule.
const TICK: Duration = Duration::from_millis(20);
/// How often it dials every peer again while it has no connection.
const REDIAL: Duration = Duration::from_millis(500);
/// Transactions in one of its bad-signature batches.
const BAD_BATCH_TXS: usize = 16;
/// Blocks its bad-signature transactions claim to stay valid.
const BAD_TX_TTL_BLOCKS: u64 = 20;
/// Bytes of one garbage transaction message.
const GARBAGE_BYTES: usize = 512;
/// Where a consensus message's block hash begins: after the statement's
/// variant (4 bytes), the vote's height (8) and round (4).
const VOTE_HASH_OFFSET: usize = 16;

/// What the rogue does, and for how long.
#[derive(Debug, Clone)]
pub struct RogueOptions {
    pub peers: Vec<Multiaddr>,
    pub chain_id: String,
    pub duration: Duration,
    /// Fake proposals of nearly `MAX_BLOCK_BYTES` per second.
    pub proposals_per_sec: f64,
    /// Votes with bad signatures per second.
    pub votes_per_sec: f64,
    /// Garbage transaction messages, and as many batches of transactions
    /// with bad signatures, per second.
    pub garbage_per_sec: f64,
    /// Identities it may use in all (1: it never comes back).
    pub identities: u32,
    /// How long without any connection before it comes back under a fresh
    /// identity.
    pub respawn_after: Duration,
}

/// What the rogue did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RogueReport {
    pub identities: u32,
    /// Connections established with nodes, over all identities.
    pub connections: u64,
    /// Connections the nodes closed or refused.
    pub closed: u64,
    /// Messages handed to gossipsub with at least one peer to send them to.
    pub proposals: u64,
    pub votes: u64,
    pub garbage_txs: u64,
    pub bad_signature_batches: u64,
    /// Bytes of those messages (once per message, not per peer).
    pub bytes: u64,
    /// The highest consensus height it overheard.
    pub height_seen: u64,
}

/// A fresh identity on the node's transport, subscribed to both topics.
fn swarm(chain_id: &str) -> Result<Swarm<gossipsub::Behaviour>, String> {
    let config = gossipsub::ConfigBuilder::default()
        .max_transmit_size(MAX_GOSSIP_BYTES)
        .validation_mode(ValidationMode::Anonymous)
        .message_id_fn(message_id)
        .heartbeat_interval(Duration::from_millis(500))
        .build()
        .map_err(|e| format!("gossipsub config: {e}"))?;
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| format!("transport: {e}"))?
        .with_behaviour(|_| {
            gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config.clone())
                .map_err(Box::<dyn std::error::Error + Send + Sync>::from)
        })
        .map_err(|e| format!("behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    for topic in [tx_topic(chain_id), consensus_topic(chain_id)] {
        swarm
            .behaviour_mut()
            .subscribe(&topic)
            .map_err(|e| format!("subscribe: {e}"))?;
    }
    Ok(swarm)
}

/// The rogue's messages, built once and varied per send so that no two
/// are the same gossip message.
struct Flood {
    chain_id: ChainId,
    consensus: IdentTopic,
    txs: IdentTopic,
    /// An encoded fake proposal.
    proposal: Vec<u8>,
    /// The validator key the fakes claim, and whether it is a real one.
    claimed: PublicKey,
    learned_key: bool,
    bad_tx: merit_chain::Transaction,
    height: u64,
    counter: u64,
}

impl Flood {
    fn new(chain_id: &str) -> Result<Flood, String> {
        let chain =
            BoundedString::new(chain_id.to_string()).map_err(|_| "the chain id is too long")?;
        let payer = Keypair::insecure_from_label("merit-rogue/payer");
        let bad_tx = TxBody {
            chain_id: chain.clone(),
            sender: payer.public(),
            sub: 0,
            nonce: 0,
            expires_at_height: u64::MAX,
            kind: TxKind::Transfer {
                token: Symbol::new("FAKE").map_err(|_| "symbol")?,
                to: Keypair::insecure_from_label("merit-rogue/to")
                    .public()
                    .into(),
                amount: 1,
                memo: None,
            },
        }
        .sign(&payer);
        let mut flood = Flood {
            chain_id: chain,
            consensus: consensus_topic(chain_id),
            txs: tx_topic(chain_id),
            proposal: Vec::new(),
            claimed: Keypair::insecure_from_label("merit-rogue/claimed").public(),
            learned_key: false,
            bad_tx,
            height: 1,
            counter: 0,
        };
        flood.proposal = flood.build_proposal()?;
        Ok(flood)
    }

    /// A PrePrepare claiming `claimed`, with a junk signature and a block
    /// of 50-leg split payments filling nearly `MAX_BLOCK_BYTES`.
    fn build_proposal(&self) -> Result<Vec<u8>, String> {
        let payer = Keypair::insecure_from_label("merit-rogue/payer");
        let fake = Symbol::new("FAKE").map_err(|_| "symbol")?;
        let legs: Vec<PayLeg> = (0..MAX_PAY_LEGS)
            .map(|i| PayLeg {
                to: Keypair::insecure_from_label(&format!("merit-rogue/leg-{i}"))
                    .public()
                    .into(),
                token: fake,
                amount: 1,
            })
            .collect();
        let tx = TxBody {
            chain_id: self.chain_id.clone(),
            sender: payer.public(),
            sub: 0,
            nonce: 1,
            expires_at_height: u64::MAX,
            kind: TxKind::Pay {
                order_id: OrderId::new("rogue").map_err(|_| "order id")?,
                legs: BoundedVec::new(legs).map_err(|_| "legs")?,
                memo: Some(Memo::new("r".repeat(MAX_MEMO_BYTES)).map_err(|_| "memo")?),
            },
        }
        .sign(&payer);
        let count = (MAX_BLOCK_BYTES - 8 * 1024) / tx.to_bytes().len();
        let block = Block {
            header: BlockHeader {
                chain_id: self.chain_id.clone(),
                height: self.height,
                round: 0,
                parent_hash: Hash32([7; 32]),
                timestamp_ms: 0,
                proposer: self.claimed,
                tx_root: Hash32([8; 32]),
                receipts_root: Hash32::ZERO,
                state_root: Hash32::ZERO,
                validators_hash: Hash32::ZERO,
                next_validators_hash: Hash32::ZERO,
            },
            txs: BoundedVec::new(vec![tx; count]).map_err(|_| "too many transactions")?,
        };
        let msg = Message {
            signed: SignedStatement {
                statement: Statement::PrePrepare(Vote {
                    height: self.height,
                    round: 0,
                    block_hash: Hash32([9; 32]),
                }),
                validator: self.claimed,
                signature: Signature([0x5a; 64]),
            },
            block: Some(block),
        };
        Ok(msg.to_bytes())
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Learns the height, and once a real validator's key, from an
    /// overheard consensus message.
    fn overhear(&mut self, bytes: &[u8]) {
        if let Some(h) = Message::peek_height(bytes) {
            self.height = self.height.max(h);
        }
        if !self.learned_key
            && bytes.len() < 4 * 1024
            && let Ok(m) = Message::from_bytes(bytes)
        {
            self.learned_key = true;
            self.claimed = m.signed.validator;
            if let Ok(p) = self.build_proposal() {
                self.proposal = p;
            }
        }
    }

    fn proposal(&mut self) -> Vec<u8> {
        let n = self.next();
        let mut bytes = self.proposal.clone();
        bytes[4..12].copy_from_slice(&self.height.to_le_bytes());
        bytes[VOTE_HASH_OFFSET..VOTE_HASH_OFFSET + 8].copy_from_slice(&n.to_le_bytes());
        bytes
    }

    fn vote(&mut self) -> Vec<u8> {
        let n = self.next();
        let vote = Vote {
            height: self.height,
            round: 0,
            block_hash: Hash32([(n % 251) as u8; 32]),
        };
        let statement = if n.is_multiple_of(2) {
            Statement::Prepare(vote)
        } else {
            Statement::Commit(vote)
        };
        let mut signature = [0u8; 64];
        signature[..8].copy_from_slice(&n.to_le_bytes());
        Message {
            signed: SignedStatement {
                statement,
                validator: self.claimed,
                signature: Signature(signature),
            },
            block: None,
        }
        .to_bytes()
    }

    fn garbage(&mut self) -> Vec<u8> {
        let n = self.next();
        let mut bytes = vec![0xab; GARBAGE_BYTES];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        bytes
    }

    /// A batch of transfers whose bodies no longer match their signature,
    /// valid for the next blocks (so a node checks their signatures).
    fn bad_signatures(&mut self) -> Vec<u8> {
        let expires = self.height.saturating_add(BAD_TX_TTL_BLOCKS);
        let txs: Vec<merit_chain::Transaction> = (0..BAD_BATCH_TXS)
            .map(|_| {
                let mut tx = self.bad_tx.clone();
                tx.body.nonce = self.next();
                tx.body.expires_at_height = expires;
                tx
            })
            .collect();
        match TxBatch::new(txs) {
            Ok(batch) => merit_chain::encoding::encode(&batch),
            Err(_) => Vec::new(),
        }
    }
}

/// How many messages of each kind are due (garbage counts garbage
/// messages and bad-signature batches together). A fresh identity owes one
/// of each at once, the fake proposal first.
#[derive(Debug)]
struct Due {
    proposals: f64,
    votes: f64,
    garbage: f64,
}

impl Due {
    fn fresh() -> Self {
        Due {
            proposals: 1.0,
            votes: 1.0,
            garbage: 2.0,
        }
    }
}

fn dial_all(swarm: &mut Swarm<gossipsub::Behaviour>, peers: &[Multiaddr]) {
    for p in peers {
        let _ = swarm.dial(p.clone());
    }
}

/// Publishes one message; true if gossipsub had a peer for it.
fn publish(
    swarm: &mut Swarm<gossipsub::Behaviour>,
    topic: &IdentTopic,
    bytes: Vec<u8>,
    report: &mut RogueReport,
) -> bool {
    let len = bytes.len() as u64;
    let ok = swarm.behaviour_mut().publish(topic.clone(), bytes).is_ok();
    if ok {
        report.bytes += len;
    }
    ok
}

/// Sends what is due of one kind; stops at the first message gossipsub
/// has no peer for (it is tried again next tick).
fn send_due(
    swarm: &mut Swarm<gossipsub::Behaviour>,
    due: &mut f64,
    rate: f64,
    mut next: impl FnMut() -> (IdentTopic, Vec<u8>),
    report: &mut RogueReport,
) -> u64 {
    // Never more than a second's worth at once.
    *due = due.min(rate.max(1.0));
    let mut sent = 0;
    while *due >= 1.0 {
        let (topic, bytes) = next();
        if !publish(swarm, &topic, bytes, report) {
            break;
        }
        *due -= 1.0;
        sent += 1;
    }
    sent
}

/// Runs the rogue for `opts.duration`.
pub async fn run(opts: &RogueOptions) -> Result<RogueReport, String> {
    let mut flood = Flood::new(&opts.chain_id)?;
    let mut report = RogueReport {
        identities: 1,
        ..RogueReport::default()
    };
    let mut swarm = swarm(&opts.chain_id)?;
    dial_all(&mut swarm, &opts.peers);
    let end = tokio::time::Instant::now() + opts.duration;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut due = Due::fresh();
    // The last time a message went out (or the identity was new).
    let mut last_sent = Instant::now();
    let mut last_dial = Instant::now();
    let consensus_hash = flood.consensus.hash();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { .. } => report.connections += 1,
                SwarmEvent::ConnectionClosed { .. } => report.closed += 1,
                SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. })
                    if message.topic == consensus_hash =>
                {
                    flood.overhear(&message.data);
                    report.height_seen = report.height_seen.max(flood.height);
                }
                _ => {}
            },
            _ = tick.tick() => {
                let now = Instant::now();
                let dt = TICK.as_secs_f64();
                due.proposals += opts.proposals_per_sec * dt;
                due.votes += opts.votes_per_sec * dt;
                due.garbage += 2.0 * opts.garbage_per_sec * dt;
                let consensus = flood.consensus.clone();
                let txs = flood.txs.clone();
                let mut sent = send_due(
                    &mut swarm,
                    &mut due.proposals,
                    opts.proposals_per_sec,
                    || (consensus.clone(), flood.proposal()),
                    &mut report,
                );
                report.proposals += sent;
                let votes = send_due(
                    &mut swarm,
                    &mut due.votes,
                    opts.votes_per_sec,
                    || (consensus.clone(), flood.vote()),
                    &mut report,
                );
                report.votes += votes;
                sent += votes;
                // Garbage and bad signatures in turns.
                let mut turn = 0u64;
                let garbage = send_due(
                    &mut swarm,
                    &mut due.garbage,
                    opts.garbage_per_sec * 2.0,
                    || {
                        turn += 1;
                        if !turn.is_multiple_of(2) {
                            (txs.clone(), flood.garbage())
                        } else {
                            (txs.clone(), flood.bad_signatures())
                        }
                    },
                    &mut report,
                );
                report.garbage_txs += garbage.div_ceil(2);
                report.bad_signature_batches += garbage / 2;
                sent += garbage;
                if sent > 0 {
                    last_sent = now;
                    continue;
                }
                // Nothing went out: no node takes it any more.
                if now.duration_since(last_sent) >= opts.respawn_after
                    && report.identities < opts.identities
                {
                    swarm = self::swarm(&opts.chain_id)?;
                    report.identities += 1;
                    last_sent = now;
                    last_dial = now;
                    due = Due::fresh();
                    dial_all(&mut swarm, &opts.peers);
                } else if swarm.connected_peers().next().is_none()
                    && now.duration_since(last_dial) >= REDIAL
                {
                    last_dial = now;
                    dial_all(&mut swarm, &opts.peers);
                }
            }
        }
    }
    Ok(report)
}

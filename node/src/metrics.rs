//! Prometheus metrics, served as text at `GET /metrics` on their own port.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Bytes of an HTTP request head the metrics server reads at most.
pub const MAX_METRICS_REQUEST_BYTES: usize = 8 * 1024;

/// Every metric the node exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub consensus_height: Gauge,
    pub consensus_round: Gauge,
    pub consensus_rounds: Counter,
    pub consensus_commits: Counter,
    pub consensus_rejected_messages: Counter,
    pub consensus_non_validator_messages: Counter,
    pub consensus_untimely_proposals: Counter,
    pub consensus_evidence: Counter,
    pub mempool_size: Gauge,
    pub mempool_bytes: Gauge,
    pub verified_txs: Gauge,
    pub key_cache_keys: Gauge,
    pub p2p_peers: Gauge,
    /// Peers banned now for sending invalid data.
    pub p2p_banned_peers: Gauge,
    pub p2p_peer_penalties: Counter,
    pub p2p_rate_limited: Counter,
    /// Peers whose connections were closed because gossip to them stopped
    /// draining.
    pub p2p_slow_peer_resets: Counter,
    pub txs_committed: Counter,
    pub txs_rejected: Counter,
    pub txs_admitted: Counter,
    pub txs_refused: Counter,
    pub gossip_publish_failures: Counter,
    pub sync_blocks: Counter,
    /// From a transaction's admission to this node to its commit here.
    pub commit_latency_seconds: Histogram,
    /// From a block's proposal time to its commit here.
    pub block_latency_seconds: Histogram,
    pub block_txs: Histogram,
    pub block_execution_seconds: Histogram,
    /// Each token's supply in base units, one bucket per term of the
    /// supply invariant (DESIGN §11).
    pub token_supply: Family<SupplyLabels, Gauge>,
}

/// The labels of `merit_token_supply`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SupplyLabels {
    pub token: String,
    pub bucket: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("merit");
        let latency_buckets = || {
            Histogram::new([
                0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
            ])
        };
        let m = Metrics {
            consensus_height: Gauge::default(),
            consensus_round: Gauge::default(),
            consensus_rounds: Counter::default(),
            consensus_commits: Counter::default(),
            consensus_rejected_messages: Counter::default(),
            consensus_non_validator_messages: Counter::default(),
            consensus_untimely_proposals: Counter::default(),
            consensus_evidence: Counter::default(),
            mempool_size: Gauge::default(),
            mempool_bytes: Gauge::default(),
            verified_txs: Gauge::default(),
            key_cache_keys: Gauge::default(),
            p2p_peers: Gauge::default(),
            p2p_banned_peers: Gauge::default(),
            p2p_peer_penalties: Counter::default(),
            p2p_rate_limited: Counter::default(),
            p2p_slow_peer_resets: Counter::default(),
            txs_committed: Counter::default(),
            txs_rejected: Counter::default(),
            txs_admitted: Counter::default(),
            txs_refused: Counter::default(),
            gossip_publish_failures: Counter::default(),
            sync_blocks: Counter::default(),
            commit_latency_seconds: latency_buckets(),
            block_latency_seconds: latency_buckets(),
            block_txs: Histogram::new([
                1.0, 10.0, 100.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 20000.0,
            ]),
            block_execution_seconds: latency_buckets(),
            token_supply: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "consensus_height",
            "Height of the last committed block",
            m.consensus_height.clone(),
        );
        registry.register(
            "consensus_round",
            "Current consensus round at the working height",
            m.consensus_round.clone(),
        );
        registry.register(
            "consensus_rounds",
            "Round changes (view changes) started",
            m.consensus_rounds.clone(),
        );
        registry.register(
            "consensus_commits",
            "Blocks committed by consensus",
            m.consensus_commits.clone(),
        );
        registry.register(
            "consensus_rejected_messages",
            "Consensus messages refused (bad signature, invalid, malformed)",
            m.consensus_rejected_messages.clone(),
        );
        registry.register(
            "consensus_non_validator_messages",
            "Consensus messages from non-validators, dropped",
            m.consensus_non_validator_messages.clone(),
        );
        registry.register(
            "consensus_untimely_proposals",
            "Fresh proposals not prepared because their block time was outside the timeliness window",
            m.consensus_untimely_proposals.clone(),
        );
        registry.register(
            "consensus_evidence",
            "Pairs of conflicting votes signed by one validator, kept as evidence",
            m.consensus_evidence.clone(),
        );
        registry.register(
            "mempool_size",
            "Transactions waiting in the mempool",
            m.mempool_size.clone(),
        );
        registry.register(
            "mempool_bytes",
            "Encoded bytes waiting in the mempool",
            m.mempool_bytes.clone(),
        );
        registry.register(
            "verified_txs",
            "Transaction hashes remembered with a good signature (bounded)",
            m.verified_txs.clone(),
        );
        registry.register(
            "key_cache_keys",
            "Decompressed signer keys cached (bounded)",
            m.key_cache_keys.clone(),
        );
        registry.register("p2p_peers", "Connected peers", m.p2p_peers.clone());
        registry.register(
            "p2p_banned_peers",
            "Peers banned now for sending invalid data",
            m.p2p_banned_peers.clone(),
        );
        registry.register(
            "p2p_peer_penalties",
            "Offences charged to peers (invalid data, over a rate limit, stalled sync)",
            m.p2p_peer_penalties.clone(),
        );
        registry.register(
            "p2p_rate_limited",
            "Messages and requests refused for being over their peer's rate limit",
            m.p2p_rate_limited.clone(),
        );
        registry.register(
            "p2p_slow_peer_resets",
            "Links to a peer closed and reopened because gossip to it stopped draining",
            m.p2p_slow_peer_resets.clone(),
        );
        registry.register(
            "txs_committed",
            "Transactions committed with success",
            m.txs_committed.clone(),
        );
        registry.register(
            "txs_rejected",
            "Transactions committed with a rejection code",
            m.txs_rejected.clone(),
        );
        registry.register(
            "txs_admitted",
            "Transactions admitted to the mempool",
            m.txs_admitted.clone(),
        );
        registry.register(
            "txs_refused",
            "Transactions refused at admission",
            m.txs_refused.clone(),
        );
        registry.register(
            "gossip_publish_failures",
            "Gossip messages that could not be published",
            m.gossip_publish_failures.clone(),
        );
        registry.register(
            "sync_blocks",
            "Blocks applied through block sync",
            m.sync_blocks.clone(),
        );
        registry.register(
            "commit_latency_seconds",
            "From admission of a transaction at this node to its commit",
            m.commit_latency_seconds.clone(),
        );
        registry.register(
            "block_latency_seconds",
            "From a block's timestamp to its commit at this node",
            m.block_latency_seconds.clone(),
        );
        registry.register("block_txs", "Transactions per block", m.block_txs.clone());
        registry.register(
            "block_execution_seconds",
            "Time to execute a block",
            m.block_execution_seconds.clone(),
        );
        registry.register(
            "token_supply",
            "Each token's supply in base units by term of the supply invariant: minted = \
             circulating + locked_in_offers + locked_in_escrow + redeemed + expired",
            m.token_supply.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Sets `merit_token_supply` from the tokens' counters.
    pub fn set_token_supply<'a>(
        &self,
        tokens: impl Iterator<Item = &'a merit_chain::state::TokenInfo>,
    ) {
        for t in tokens {
            let circulating = t.expected_circulating().unwrap_or(0);
            for (bucket, units) in [
                ("minted", t.minted),
                ("circulating", circulating),
                ("locked_in_offers", t.locked_in_offers),
                ("locked_in_escrow", t.locked_in_escrow),
                ("redeemed", t.redeemed),
                ("expired", t.expired),
                ("frozen", t.frozen),
                ("clawed_back", t.clawed_back),
            ] {
                let labels = SupplyLabels {
                    token: t.symbol.to_string(),
                    bucket,
                };
                self.token_supply
                    .get_or_create(&labels)
                    .set(i64::try_from(units).unwrap_or(i64::MAX));
            }
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Serves `GET /metrics` on `addr` until the task is dropped.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; MAX_METRICS_REQUEST_BYTES];
                let mut len = 0;
                // Read the request head, bounded in size and time.
                let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                    while len < buf.len() {
                        match stream.read(&mut buf[len..]).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => len += n,
                        }
                        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                })
                .await;
                if read.is_err() {
                    return;
                }
                let head = String::from_utf8_lossy(&buf[..len]);
                let (status, body, kind) = if head.starts_with("GET /metrics ") {
                    (
                        "200 OK",
                        metrics.render(),
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )
                } else {
                    ("404 Not Found", "not found\n".to_string(), "text/plain")
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok(local)
}

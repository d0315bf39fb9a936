//! Starting and stopping one node: storage, network, admission, the
//! consensus driver, JSON-RPC and metrics, wired together.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context, bail};
use jsonrpsee::server::ServerHandle;
use libp2p::{Multiaddr, PeerId};
use merit_chain::consensus::ValidatorSet;
use merit_chain::storage::{RocksStorage, Storage};
use merit_genesis::{Genesis, MerchantKeys};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::NodeConfig;
use crate::driver::{Driver, DriverError};
use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::network::{self, NetworkParams};
use crate::shared::{ADMISSION_QUEUE, BLOCK_STREAM_CAPACITY, Shared, run_admission};

/// A node being set up.
#[derive(Debug)]
pub struct Node;

/// A running node.
#[derive(Debug)]
pub struct NodeHandle {
    pub shared: Arc<Shared>,
    pub rpc_addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub peer_id: PeerId,
    rpc: ServerHandle,
    stop: watch::Sender<bool>,
    driver: JoinHandle<Result<(), DriverError>>,
}

/// Opens the store, writing the genesis state on first start, and checks
/// that the stored chain is this genesis' chain and its state intact.
pub fn open_chain(
    genesis: &Genesis,
    data_dir: &Path,
) -> anyhow::Result<(RocksStorage, merit_chain::Ledger)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let storage = RocksStorage::open(&data_dir.join("chain"))?;
    let ledger = match storage.open_ledger(genesis.chain_id())? {
        Some(ledger) => ledger,
        None => {
            let (ledger, outcome) = genesis.ledger()?;
            storage.commit_genesis(ledger.tip(), &outcome)?;
            ledger
        }
    };
    // The block at height 0 is the genesis state; a store written from
    // another genesis file with the same chain id must not start.
    if ledger.height() == 0 && ledger.state_root() != genesis.state_root() {
        bail!(
            "the data directory {} holds a different genesis state (root {}) than {} (root {})",
            data_dir.display(),
            ledger.state_root(),
            "the genesis file",
            genesis.state_root()
        );
    }
    Ok((storage, ledger))
}

fn parse_multiaddr(s: &str) -> anyhow::Result<Multiaddr> {
    s.parse()
        .with_context(|| format!("`{s}` is not a valid multiaddr"))
}

impl Node {
    /// Starts a node from its configuration.
    pub async fn start(config: &NodeConfig) -> anyhow::Result<NodeHandle> {
        let genesis = Genesis::load(&config.genesis)
            .with_context(|| format!("cannot load genesis {}", config.genesis.display()))?;
        let keys = match &config.key_file {
            Some(path) => Some(
                MerchantKeys::load(path)
                    .with_context(|| format!("cannot load key file {}", path.display()))?,
            ),
            None => None,
        };
        let validators = ValidatorSet::new(genesis.validators().to_vec())
            .map_err(|e| anyhow::anyhow!("genesis validator set: {e}"))?;
        let validator_index = match &keys {
            Some(k) => Some(
                validators
                    .index_of(&k.validator.public())
                    .with_context(|| {
                        format!(
                            "the validator key {} of {} is not in the genesis validator set",
                            k.validator.public(),
                            config
                                .key_file
                                .as_deref()
                                .unwrap_or(Path::new("?"))
                                .display()
                        )
                    })?,
            ),
            None => None,
        };
        let (storage, ledger) = open_chain(&genesis, &config.data_dir)?;
        tracing::info!(
            chain = genesis.chain_id().as_str(),
            height = ledger.height(),
            state_root = %ledger.state_root(),
            validator = ?validator_index,
            "opened chain"
        );

        let metrics = Arc::new(Metrics::new());
        metrics.consensus_height.set(ledger.height() as i64);
        let (admission_tx, admission_rx) = mpsc::channel(ADMISSION_QUEUE);
        let (blocks, _) = broadcast::channel(BLOCK_STREAM_CAPACITY);
        let shared = Arc::new(Shared {
            chain_id: genesis.chain_id().clone(),
            validators,
            validator_index,
            ledger: RwLock::new(ledger),
            storage: Arc::new(storage),
            mempool: Mutex::new(Mempool::new(
                config.mempool.max_txs,
                config.mempool.max_per_sender,
            )),
            mempool_notify: tokio::sync::Notify::new(),
            metrics: metrics.clone(),
            blocks,
            round: AtomicU64::new(0),
            syncing: AtomicBool::new(false),
            admission: admission_tx,
            verified: Mutex::new(crate::verified::VerifiedTxs::new(
                crate::verified::MAX_VERIFIED_TXS,
            )),
            keys: Mutex::new(merit_chain::crypto::KeyCache::new()),
            genesis,
        });

        // Network identity: the validator key, or a fresh key for an observer.
        let (identity, default_listen) = match (&keys, validator_index) {
            (Some(k), Some(i)) => {
                let port = shared.genesis.merchants()[i].p2p_address.port;
                (
                    network::libp2p_identity(&k.validator).map_err(anyhow::Error::msg)?,
                    format!("/ip4/0.0.0.0/tcp/{port}"),
                )
            }
            _ => (
                libp2p::identity::Keypair::generate_ed25519(),
                "/ip4/0.0.0.0/tcp/0".to_string(),
            ),
        };
        let listen = parse_multiaddr(config.p2p.listen.as_deref().unwrap_or(&default_listen))?;
        let peers: Vec<Multiaddr> = if config.p2p.peers.is_empty() {
            shared
                .genesis
                .merchants()
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != validator_index)
                .filter_map(|(_, m)| {
                    let addr = parse_multiaddr(&m.p2p_address.to_string()).ok()?;
                    let peer = network::peer_id_of(&m.validator_key)?;
                    Some(addr.with(libp2p::multiaddr::Protocol::P2p(peer)))
                })
                .collect()
        } else {
            config
                .p2p
                .peers
                .iter()
                .map(|p| parse_multiaddr(p))
                .collect::<anyhow::Result<_>>()?
        };
        let net = network::start(
            NetworkParams {
                identity,
                listen,
                peers,
                chain_id: shared.chain_id.to_string(),
            },
            shared.clone(),
        )
        .await?;
        tokio::spawn(run_admission(
            shared.clone(),
            admission_rx,
            net.commands.clone(),
        ));

        let driver = Driver::new(
            shared.clone(),
            keys.map(|k| k.validator),
            config.consensus,
            net.commands.clone(),
        )?;
        let (stop, stop_rx) = watch::channel(false);
        let events = net.events;
        let driver = tokio::spawn(async move {
            let result = driver.run(events, stop_rx).await;
            if let Err(e) = &result {
                tracing::error!("the consensus driver stopped: {e}");
            }
            result
        });

        let (rpc_addr, rpc) = crate::rpc::serve(
            config.rpc.listen,
            config.rpc.max_connections,
            shared.clone(),
        )
        .await?;
        tracing::info!(%rpc_addr, "JSON-RPC listening (HTTP and WebSocket, GET /health)");
        let metrics_addr = if config.metrics.enabled {
            let addr = crate::metrics::serve(config.metrics.listen, metrics)
                .await
                .with_context(|| format!("cannot serve metrics on {}", config.metrics.listen))?;
            tracing::info!(%addr, "metrics at GET /metrics");
            Some(addr)
        } else {
            None
        };
        Ok(NodeHandle {
            shared,
            rpc_addr,
            metrics_addr,
            peer_id: net.local_peer_id,
            rpc,
            stop,
            driver,
        })
    }
}

impl NodeHandle {
    /// Stops the node: RPC first, then the driver, which finishes the
    /// effect it is carrying out. Every committed block is already on disk.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.rpc.stop();
        let _ = self.stop.send(true);
        self.rpc.stopped().await;
        match self.driver.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(anyhow::anyhow!("the consensus driver panicked: {e}")),
        }
    }

    /// Resolves when the driver stops by itself (a fatal fault).
    pub fn driver_finished(&self) -> bool {
        self.driver.is_finished()
    }
}

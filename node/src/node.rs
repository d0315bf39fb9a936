//! Starting and stopping one node: storage, network, admission, the
//! consensus driver, JSON-RPC and metrics, wired together.
//!
//! Starting a node needs the RocksDB store (the `rocksdb` feature, on by
//! default); without it only the shared pieces below are built.
#![cfg_attr(not(feature = "rocksdb"), allow(unused_imports, dead_code))]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use jsonrpsee::server::ServerHandle;
use libp2p::{Multiaddr, PeerId};
use merit_genesis::{Genesis, MerchantKeys};
#[cfg(feature = "rocksdb")]
use merit_store::RocksStorage;
use merit_store::Storage;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::NodeConfig;
use crate::driver::{Driver, DriverError, DriverOptions};
use crate::network::{self, NetworkParams};
use crate::runtime::{TokioRuntime, WallClock, run_driver};
use crate::shared::{Shared, run_admission};

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

#[cfg(feature = "rocksdb")]
/// Opens the RocksDB store in `data_dir`, writing the genesis state on first
/// start, and checks that the stored chain is this genesis' chain and its
/// state intact.
pub fn open_chain(
    genesis: &Genesis,
    data_dir: &Path,
) -> anyhow::Result<(RocksStorage, merit_chain::Ledger)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let storage = RocksStorage::open(&data_dir.join("chain"))?;
    let ledger = open_ledger(genesis, &storage)
        .with_context(|| format!("the data directory {}", data_dir.display()))?;
    Ok((storage, ledger))
}

/// Rebuilds the committed ledger from `storage`, or writes the genesis
/// state into an empty store, and checks that the store holds this
/// genesis' chain.
pub fn open_ledger(
    genesis: &Genesis,
    storage: &dyn Storage,
) -> anyhow::Result<merit_chain::Ledger> {
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
            "the store holds a different genesis state (root {}) than the genesis file (root {})",
            ledger.state_root(),
            genesis.state_root()
        );
    }
    Ok(ledger)
}

fn parse_multiaddr(s: &str) -> anyhow::Result<Multiaddr> {
    s.parse()
        .with_context(|| format!("`{s}` is not a valid multiaddr"))
}

#[cfg(feature = "rocksdb")]
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
        let validator_index = match &keys {
            Some(k) => Some(
                genesis
                    .validators()
                    .iter()
                    .position(|v| *v == k.validator.public())
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

        let (shared, admission_rx) = Shared::new(
            genesis,
            Arc::new(storage),
            ledger,
            validator_index,
            config.mempool,
        )?;
        let shared = Arc::new(shared);
        let metrics = shared.metrics.clone();

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
        let clock = WallClock::new();
        let net = network::start(
            NetworkParams {
                identity,
                listen,
                peers,
                chain_id: shared.chain_id.to_string(),
                clock,
            },
            shared.clone(),
        )
        .await?;
        tokio::spawn(run_admission(
            shared.clone(),
            admission_rx,
            net.commands.clone(),
        ));

        let (timers_tx, timers_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(
            shared.clone(),
            keys.map(|k| k.validator),
            config.consensus,
            TokioRuntime::new(clock, timers_tx, net.reports.clone()),
            DriverOptions::default(),
        )?;
        let (stop, stop_rx) = watch::channel(false);
        let events = net.events;
        let commands = net.commands.clone();
        let driver = tokio::spawn(async move {
            let result = run_driver(driver, timers_rx, commands, events, stop_rx).await;
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

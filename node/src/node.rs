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
use merit_chain::Keypair;
use merit_genesis::Genesis;
use merit_genesis::keystore::{self, KeyFileError};
use merit_genesis::p2p_key::{self, P2P_KEY_FILE_NAME};
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

/// The environment variable that may hold the validator key's password.
pub const ENV_NODE_PASSWORD: &str = "MERIT_NODE_PASSWORD";

/// Decrypts the validator key at `path` with the password of
/// `password_file`, or else of `MERIT_NODE_PASSWORD`. A wrong password is
/// an error: the node does not start.
pub fn load_validator_key(path: &Path, password_file: Option<&Path>) -> anyhow::Result<Keypair> {
    let password = match password_file {
        Some(file) => keystore::read_password_file(file)
            .with_context(|| format!("cannot read the password file {}", file.display()))?,
        None => match std::env::var(ENV_NODE_PASSWORD) {
            Ok(p) if !p.is_empty() => zeroize::Zeroizing::new(p),
            _ => bail!(
                "the validator key {} is encrypted: set {ENV_NODE_PASSWORD}, or give a password \
                 file (password_file in the config, --password-file)",
                path.display()
            ),
        },
    };
    keystore::open(path, &password).map_err(|e| match e {
        KeyFileError::WrongPassword { .. } => anyhow::anyhow!(
            "wrong password for the validator key {}; the node does not start",
            path.display()
        ),
        other => anyhow::anyhow!("cannot load the validator key: {other}"),
    })
}

/// The node's p2p key: the configured file, which must exist, or
/// `DATA_DIR/p2p_key.json`, made on first start if missing.
fn load_p2p_key(config: &NodeConfig) -> anyhow::Result<Keypair> {
    match &config.p2p_key_file {
        Some(path) => {
            p2p_key::load_p2p_key(path).map_err(|e| anyhow::anyhow!("cannot load the p2p key: {e}"))
        }
        None => {
            let path = config.data_dir.join(P2P_KEY_FILE_NAME);
            let (key, made) = p2p_key::load_or_create_p2p_key(&path)
                .map_err(|e| anyhow::anyhow!("cannot load or make the p2p key: {e}"))?;
            if made {
                tracing::info!(path = %path.display(), "made a new p2p key");
            }
            Ok(key)
        }
    }
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
        let validator_key = match &config.validator_key_file {
            Some(path) => Some(load_validator_key(path, config.password_file.as_deref())?),
            None => None,
        };
        let validator_index = match &validator_key {
            Some(k) => Some(
                genesis
                    .validators()
                    .iter()
                    .position(|v| *v == k.public())
                    .with_context(|| {
                        format!(
                            "the validator key {} of {} is not in the genesis validator set",
                            k.public(),
                            config
                                .validator_key_file
                                .as_deref()
                                .unwrap_or(Path::new("?"))
                                .display()
                        )
                    })?,
            ),
            None => None,
        };
        let p2p_key = load_p2p_key(config)?;
        if let Some(i) = validator_index
            && let Some((_, v)) = genesis.validator_merchants().nth(i)
            && v.p2p_key != p2p_key.public()
        {
            bail!(
                "the p2p key {} is not the p2p key {} that validator {i}'s genesis record names; \
                 give the p2p_key.json made with its validator key (p2p_key_file, --p2p-key-file)",
                p2p_key.public(),
                v.p2p_key
            );
        }
        let (storage, ledger) = open_chain(&genesis, &config.data_dir)?;
        let identity = network::libp2p_identity(&p2p_key).map_err(anyhow::Error::msg)?;
        tracing::info!(
            chain = genesis.chain_id().as_str(),
            genesis_hash = %genesis.hash(),
            height = ledger.height(),
            state_root = %ledger.state_root(),
            validator = ?validator_index,
            peer_id = %identity.public().to_peer_id(),
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

        // A validator listens on its genesis p2p port; an observer anywhere.
        let default_listen =
            match validator_index.and_then(|i| shared.genesis.validator_merchants().nth(i)) {
                Some((_, v)) => format!("/ip4/0.0.0.0/tcp/{}", v.p2p_address.port),
                None => "/ip4/0.0.0.0/tcp/0".to_string(),
            };
        let listen = parse_multiaddr(config.p2p.listen.as_deref().unwrap_or(&default_listen))?;
        let peers: Vec<Multiaddr> = if config.p2p.peers.is_empty() {
            shared
                .genesis
                .validator_merchants()
                .zip(network::validator_peer_ids(&shared.genesis))
                .enumerate()
                .filter(|(i, _)| Some(*i) != validator_index)
                .filter_map(|(_, ((_, v), (_, peer)))| {
                    let addr = parse_multiaddr(&v.p2p_address.to_string()).ok()?;
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
            validator_key,
            config.consensus,
            TokioRuntime::new(clock, timers_tx),
            DriverOptions::from_env(),
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

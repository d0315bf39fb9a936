//! Node configuration: a TOML file, every key of which a command-line flag
//! can override. See `docs/operations.md` for every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Largest configuration file read, in bytes.
pub const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;

/// Everything a node needs to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The chain's `genesis.json`.
    pub genesis: PathBuf,
    /// Where RocksDB keeps the chain.
    pub data_dir: PathBuf,
    /// The merchant key file (`merchant-N.keys.json`) of a validator. Without
    /// it the node is an observer: it follows the chain and relays
    /// transactions but does not vote.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub p2p: P2pConfig,
    #[serde(default)]
    pub rpc: RpcConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub mempool: MempoolConfig,
    #[serde(default)]
    pub consensus: ConsensusTimings,
    /// A `tracing` filter such as `info` or `merit_node=debug,info`.
    #[serde(default = "default_log")]
    pub log: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    /// The multiaddr to listen on. Default: this validator's genesis p2p
    /// port on 0.0.0.0, or an ephemeral port for an observer.
    #[serde(default)]
    pub listen: Option<String>,
    /// Peers to dial, as multiaddrs. Default: every other merchant's
    /// genesis p2p address.
    #[serde(default)]
    pub peers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcConfig {
    /// JSON-RPC over HTTP and WebSocket, and `GET /health`.
    #[serde(default = "default_rpc_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_rpc_connections")]
    pub max_connections: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            listen: default_rpc_listen(),
            max_connections: default_rpc_connections(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Prometheus `GET /metrics`. `null`/absent in TOML keeps the default;
    /// set `enabled = false` to turn it off.
    #[serde(default = "default_metrics_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: default_metrics_listen(),
            enabled: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolConfig {
    /// Transactions held at most.
    #[serde(default = "default_mempool_max_txs")]
    pub max_txs: usize,
    /// Transactions one sender may have waiting.
    #[serde(default = "default_mempool_per_sender")]
    pub max_per_sender: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: default_mempool_max_txs(),
            max_per_sender: default_mempool_per_sender(),
        }
    }
}

/// Timings of the consensus driver. Every validator of a chain should use
/// the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusTimings {
    /// Round-0 timeout; round r waits `min(base * 2^r, max)`.
    #[serde(default = "default_timeout_base_ms")]
    pub timeout_base_ms: u64,
    #[serde(default = "default_timeout_max_ms")]
    pub timeout_max_ms: u64,
    /// An idle chain makes no blocks, except one empty heartbeat block this
    /// often, so that block time (and with it point expiry) moves on.
    #[serde(default = "default_heartbeat_ms")]
    pub empty_block_interval_ms: u64,
    /// How long a proposer waits for more transactions before it proposes a
    /// block that is not full.
    #[serde(default = "default_batch_wait_ms")]
    pub proposal_wait_ms: u64,
}

impl Default for ConsensusTimings {
    fn default() -> Self {
        ConsensusTimings {
            timeout_base_ms: default_timeout_base_ms(),
            timeout_max_ms: default_timeout_max_ms(),
            empty_block_interval_ms: default_heartbeat_ms(),
            proposal_wait_ms: default_batch_wait_ms(),
        }
    }
}

fn default_log() -> String {
    "info".to_string()
}
fn default_rpc_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8545))
}
fn default_rpc_connections() -> u32 {
    crate::rpc::MAX_RPC_CONNECTIONS
}
fn default_metrics_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9615))
}
fn default_true() -> bool {
    true
}
fn default_mempool_max_txs() -> usize {
    crate::mempool::MAX_MEMPOOL_TXS
}
fn default_mempool_per_sender() -> usize {
    crate::mempool::MAX_MEMPOOL_TXS_PER_SENDER
}
fn default_timeout_base_ms() -> u64 {
    merit_chain::consensus::TIMEOUT_BASE_MS
}
fn default_timeout_max_ms() -> u64 {
    merit_chain::consensus::TIMEOUT_MAX_MS
}
fn default_heartbeat_ms() -> u64 {
    10_000
}
fn default_batch_wait_ms() -> u64 {
    20
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is larger than {MAX_CONFIG_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("the config file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
}

impl NodeConfig {
    /// Reads a TOML config file. Relative paths inside it are taken
    /// relative to the file's directory.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > MAX_CONFIG_FILE_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        let mut config: NodeConfig =
            toml::from_str(&text).map_err(|source| ConfigError::Parse {
                path: path.to_path_buf(),
                source: Box::new(source),
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.genesis = base.join(&config.genesis);
        config.data_dir = base.join(&config.data_dir);
        config.key_file = config.key_file.map(|k| base.join(k));
        Ok(config)
    }

    /// A config with every default and the given files.
    pub fn new(genesis: PathBuf, data_dir: PathBuf, key_file: Option<PathBuf>) -> NodeConfig {
        NodeConfig {
            genesis,
            data_dir,
            key_file,
            p2p: P2pConfig::default(),
            rpc: RpcConfig::default(),
            metrics: MetricsConfig::default(),
            mempool: MempoolConfig::default(),
            consensus: ConsensusTimings::default(),
            log: default_log(),
        }
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_file_gets_every_default_and_paths_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "genesis = \"genesis.json\"\ndata_dir = \"data\"\n").unwrap();
        let c = NodeConfig::load(&path).unwrap();
        assert_eq!(c.genesis, dir.path().join("genesis.json"));
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(c.key_file, None);
        assert_eq!(c.rpc.listen, default_rpc_listen());
        assert!(
            c.rpc.listen.ip().is_loopback(),
            "RPC binds to loopback by default"
        );
        assert_eq!(c.mempool, MempoolConfig::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "genesis = \"g\"\ndata_dir = \"d\"\nrpc_port = 1\n").unwrap();
        let e = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("rpc_port"), "{e}");
        std::fs::write(
            &path,
            "genesis = \"g\"\ndata_dir = \"d\"\n[rpc]\nlisten = \"nope\"\n",
        )
        .unwrap();
        let e = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("listen"), "{e}");
    }

    #[test]
    fn a_written_config_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = NodeConfig::new("genesis.json".into(), "data".into(), Some("k.json".into()));
        c.p2p.peers = vec!["/ip4/127.0.0.1/tcp/1".into()];
        let path = dir.path().join("node.toml");
        std::fs::write(&path, c.to_toml()).unwrap();
        let back = NodeConfig::load(&path).unwrap();
        assert_eq!(back.p2p, c.p2p);
        assert_eq!(back.key_file, Some(dir.path().join("k.json")));
    }
}

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
    /// The validator key file (`validator_key.json` of `merit-genesis
    /// keygen`), encrypted at rest. Without it the node is an observer: it
    /// follows the chain and relays transactions but does not vote.
    #[serde(default)]
    pub validator_key_file: Option<PathBuf>,
    /// The file holding the validator key's password. Without it the
    /// password comes from `MERIT_NODE_PASSWORD`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The p2p key file: the node's libp2p identity (`p2p_key.json` of
    /// `merit-genesis keygen`). A validator's must be the p2p key its
    /// genesis record names. Default: `DATA_DIR/p2p_key.json`, made on
    /// first start if missing.
    #[serde(default)]
    pub p2p_key_file: Option<PathBuf>,
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

/// This node's own consensus timing. Round timeouts, block-time precision
/// and the heartbeat are the chain's (its genesis `consensus` parameters),
/// the same for every validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusTimings {
    /// How long into its height a proposer waits for more transactions
    /// before it proposes a block that is not full. A transaction that
    /// arrives later than that is proposed at once.
    #[serde(default = "default_batch_wait_ms")]
    pub proposal_wait_ms: u64,
}

impl Default for ConsensusTimings {
    fn default() -> Self {
        ConsensusTimings {
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
fn default_batch_wait_ms() -> u64 {
    20
}

/// The flags of `merit-node start`: one for every key of the config file.
/// A flag that is given wins over the file.
///
/// Paths given by flags are taken as given (relative to the working
/// directory); paths inside the file are relative to the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct ConfigFlags {
    /// The chain's genesis.json (`genesis`).
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// Where the chain is stored (`data_dir`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The encrypted validator key file; without one the node is an observer (`validator_key_file`).
    #[arg(long, value_name = "FILE")]
    pub validator_key_file: Option<PathBuf>,
    /// A file holding the validator key's password; else MERIT_NODE_PASSWORD (`password_file`).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The p2p key file, the node's libp2p identity (`p2p_key_file`).
    #[arg(long, value_name = "FILE")]
    pub p2p_key_file: Option<PathBuf>,
    /// Multiaddr to listen on for peers (`p2p.listen`).
    #[arg(long, value_name = "MULTIADDR")]
    pub p2p_listen: Option<String>,
    /// A peer multiaddr to dial; repeat for more. Replaces the file's list (`p2p.peers`).
    #[arg(long = "peer", value_name = "MULTIADDR")]
    pub peers: Vec<String>,
    /// JSON-RPC address (`rpc.listen`).
    #[arg(long, value_name = "ADDR")]
    pub rpc_listen: Option<SocketAddr>,
    /// Most JSON-RPC connections at once (`rpc.max_connections`).
    #[arg(long, value_name = "N")]
    pub rpc_max_connections: Option<u32>,
    /// Metrics address (`metrics.listen`).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve metrics or not (`metrics.enabled`).
    #[arg(long, value_name = "BOOL", conflicts_with = "no_metrics")]
    pub metrics_enabled: Option<bool>,
    /// Turn off the metrics server: the same as `--metrics-enabled false`.
    #[arg(long)]
    pub no_metrics: bool,
    /// Mempool capacity (`mempool.max_txs`).
    #[arg(long, value_name = "N")]
    pub mempool_max_txs: Option<usize>,
    /// Per-sender mempool quota (`mempool.max_per_sender`).
    #[arg(long, value_name = "N")]
    pub mempool_max_per_sender: Option<usize>,
    /// How long a proposer gathers transactions, in ms (`consensus.proposal_wait_ms`).
    #[arg(long, value_name = "MS")]
    pub proposal_wait_ms: Option<u64>,
    /// Log filter, e.g. `info` or `merit_node=debug` (`log`).
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
}

impl ConfigFlags {
    /// Sets every key whose flag was given.
    pub fn apply(self, c: &mut NodeConfig) {
        let ConfigFlags {
            genesis,
            data_dir,
            validator_key_file,
            password_file,
            p2p_key_file,
            p2p_listen,
            peers,
            rpc_listen,
            rpc_max_connections,
            metrics_listen,
            metrics_enabled,
            no_metrics,
            mempool_max_txs,
            mempool_max_per_sender,
            proposal_wait_ms,
            log,
        } = self;
        if let Some(v) = genesis {
            c.genesis = v;
        }
        if let Some(v) = data_dir {
            c.data_dir = v;
        }
        if let Some(v) = validator_key_file {
            c.validator_key_file = Some(v);
        }
        if let Some(v) = password_file {
            c.password_file = Some(v);
        }
        if let Some(v) = p2p_key_file {
            c.p2p_key_file = Some(v);
        }
        if let Some(v) = p2p_listen {
            c.p2p.listen = Some(v);
        }
        if !peers.is_empty() {
            c.p2p.peers = peers;
        }
        if let Some(v) = rpc_listen {
            c.rpc.listen = v;
        }
        if let Some(v) = rpc_max_connections {
            c.rpc.max_connections = v;
        }
        if let Some(v) = metrics_listen {
            c.metrics.listen = v;
        }
        if let Some(v) = metrics_enabled {
            c.metrics.enabled = v;
        }
        if no_metrics {
            c.metrics.enabled = false;
        }
        if let Some(v) = mempool_max_txs {
            c.mempool.max_txs = v;
        }
        if let Some(v) = mempool_max_per_sender {
            c.mempool.max_per_sender = v;
        }
        if let Some(v) = proposal_wait_ms {
            c.consensus.proposal_wait_ms = v;
        }
        if let Some(v) = log {
            c.log = v;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("give --config FILE, or at least --genesis FILE and --data-dir DIR")]
    NoConfig,
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
        config.validator_key_file = config.validator_key_file.map(|k| base.join(k));
        config.password_file = config.password_file.map(|k| base.join(k));
        config.p2p_key_file = config.p2p_key_file.map(|k| base.join(k));
        Ok(config)
    }

    /// The config of `merit-node start`: the file if one is given (else
    /// every default, which needs the genesis and data directory flags),
    /// then every flag that was given.
    pub fn resolve(file: Option<&Path>, flags: ConfigFlags) -> Result<NodeConfig, ConfigError> {
        let mut c = match file {
            Some(path) => NodeConfig::load(path)?,
            None => match (&flags.genesis, &flags.data_dir) {
                (Some(genesis), Some(data_dir)) => {
                    NodeConfig::new(genesis.clone(), data_dir.clone(), None)
                }
                _ => return Err(ConfigError::NoConfig),
            },
        };
        flags.apply(&mut c);
        Ok(c)
    }

    /// A config with every default and the given files: an observer
    /// without a validator key file.
    pub fn new(
        genesis: PathBuf,
        data_dir: PathBuf,
        validator_key_file: Option<PathBuf>,
    ) -> NodeConfig {
        NodeConfig {
            genesis,
            data_dir,
            validator_key_file,
            password_file: None,
            p2p_key_file: None,
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
        assert_eq!(c.validator_key_file, None);
        assert_eq!(c.p2p_key_file, None);
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

    /// `merit-node start`'s flags, parsed as clap parses them.
    #[derive(Debug, clap::Parser)]
    struct Start {
        #[command(flatten)]
        flags: ConfigFlags,
    }

    fn flags(args: &[&str]) -> ConfigFlags {
        use clap::Parser;
        Start::try_parse_from(std::iter::once("merit-node").chain(args.iter().copied()))
            .unwrap()
            .flags
    }

    /// A file that sets every key to a value other than its default.
    const EVERY_KEY: &str = r#"
genesis = "file-genesis.json"
data_dir = "file-data"
validator_key_file = "file-validator.json"
password_file = "file-password"
p2p_key_file = "file-p2p.json"
log = "warn"

[p2p]
listen = "/ip4/0.0.0.0/tcp/1111"
peers = ["/ip4/10.0.0.1/tcp/1111"]

[rpc]
listen = "127.0.0.1:1112"
max_connections = 11

[metrics]
listen = "127.0.0.1:1113"
enabled = false

[mempool]
max_txs = 111
max_per_sender = 11

[consensus]
proposal_wait_ms = 11
"#;

    #[test]
    fn a_flag_overrides_every_key_of_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, EVERY_KEY).unwrap();
        let given = flags(&[
            "--genesis",
            "/flag/genesis.json",
            "--data-dir",
            "/flag/data",
            "--validator-key-file",
            "/flag/k.json",
            "--password-file",
            "/flag/pw",
            "--p2p-key-file",
            "/flag/p2p.json",
            "--p2p-listen",
            "/ip4/127.0.0.1/tcp/2221",
            "--peer",
            "/ip4/10.0.0.2/tcp/2221",
            "--peer",
            "/ip4/10.0.0.3/tcp/2221",
            "--rpc-listen",
            "127.0.0.1:2222",
            "--rpc-max-connections",
            "22",
            "--metrics-listen",
            "127.0.0.1:2223",
            "--metrics-enabled",
            "true",
            "--mempool-max-txs",
            "222",
            "--mempool-max-per-sender",
            "22",
            "--proposal-wait-ms",
            "22",
            "--log",
            "debug",
        ]);
        let got = NodeConfig::resolve(Some(&path), given).unwrap();
        // Every field is spelled out, so a new key cannot be added without
        // its flag being tested here.
        let want = NodeConfig {
            genesis: "/flag/genesis.json".into(),
            data_dir: "/flag/data".into(),
            validator_key_file: Some("/flag/k.json".into()),
            password_file: Some("/flag/pw".into()),
            p2p_key_file: Some("/flag/p2p.json".into()),
            p2p: P2pConfig {
                listen: Some("/ip4/127.0.0.1/tcp/2221".into()),
                peers: vec![
                    "/ip4/10.0.0.2/tcp/2221".into(),
                    "/ip4/10.0.0.3/tcp/2221".into(),
                ],
            },
            rpc: RpcConfig {
                listen: "127.0.0.1:2222".parse().unwrap(),
                max_connections: 22,
            },
            metrics: MetricsConfig {
                listen: "127.0.0.1:2223".parse().unwrap(),
                enabled: true,
            },
            mempool: MempoolConfig {
                max_txs: 222,
                max_per_sender: 22,
            },
            consensus: ConsensusTimings {
                proposal_wait_ms: 22,
            },
            log: "debug".into(),
        };
        assert_eq!(got, want);
    }

    #[test]
    fn without_flags_the_config_file_is_used_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, EVERY_KEY).unwrap();
        let got = NodeConfig::resolve(Some(&path), flags(&[])).unwrap();
        assert_eq!(got, NodeConfig::load(&path).unwrap());
        assert_eq!(got.consensus.proposal_wait_ms, 11);
        assert!(!got.metrics.enabled);
        assert_eq!(got.genesis, dir.path().join("file-genesis.json"));

        // One flag changes its key and nothing else.
        let got = NodeConfig::resolve(Some(&path), flags(&["--proposal-wait-ms", "5"])).unwrap();
        let mut want = NodeConfig::load(&path).unwrap();
        want.consensus.proposal_wait_ms = 5;
        assert_eq!(got, want);
    }

    #[test]
    fn paths_in_the_file_are_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, EVERY_KEY).unwrap();
        let c = NodeConfig::load(&path).unwrap();
        assert_eq!(
            c.validator_key_file,
            Some(dir.path().join("file-validator.json"))
        );
        assert_eq!(c.password_file, Some(dir.path().join("file-password")));
        assert_eq!(c.p2p_key_file, Some(dir.path().join("file-p2p.json")));
    }

    #[test]
    fn the_old_plain_key_file_is_refused_by_name() {
        // Key files held plain seeds; a config that still names one must
        // not start a node that silently ignores it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "genesis = \"g\"\ndata_dir = \"d\"\nkey_file = \"k.json\"\n",
        )
        .unwrap();
        let e = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("key_file"), "{e}");
    }

    #[test]
    fn chain_timings_are_not_node_settings() {
        // Round timeouts and the heartbeat are the chain's, in its genesis:
        // a config that still sets them is refused, not silently ignored.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "genesis = \"g\"\ndata_dir = \"d\"\n[consensus]\ntimeout_base_ms = 5\n",
        )
        .unwrap();
        let e = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("timeout_base_ms"), "{e}");
    }

    #[test]
    fn no_metrics_turns_off_metrics_that_the_file_turns_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "genesis = \"g\"\ndata_dir = \"d\"\n").unwrap();
        let on = NodeConfig::resolve(Some(&path), flags(&[])).unwrap();
        assert!(on.metrics.enabled);
        let off = NodeConfig::resolve(Some(&path), flags(&["--no-metrics"])).unwrap();
        assert!(!off.metrics.enabled);
        let off = NodeConfig::resolve(Some(&path), flags(&["--metrics-enabled", "false"])).unwrap();
        assert!(!off.metrics.enabled);
        // Contradicting flags are a usage error, not a silent choice.
        use clap::Parser;
        let e = Start::try_parse_from(["merit-node", "--no-metrics", "--metrics-enabled", "true"])
            .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn flags_alone_need_a_genesis_and_a_data_directory() {
        let e = NodeConfig::resolve(None, flags(&["--genesis", "g.json"])).unwrap_err();
        assert!(e.to_string().contains("give --config FILE"), "{e}");
        let c = NodeConfig::resolve(
            None,
            flags(&[
                "--genesis",
                "g.json",
                "--data-dir",
                "d",
                "--proposal-wait-ms",
                "9",
            ]),
        )
        .unwrap();
        let mut want = NodeConfig::new("g.json".into(), "d".into(), None);
        want.consensus.proposal_wait_ms = 9;
        assert_eq!(c, want);
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
        assert_eq!(back.validator_key_file, Some(dir.path().join("k.json")));
    }
}

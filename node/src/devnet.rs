//! `merit-node devnet`: a local alliance of validators on 127.0.0.1 with the
//! deterministic demo keys of `merit_genesis::devnet`, in one process.
//!
//! Its files live in one directory (default `.devnet`): the genesis, each
//! merchant's validator key (encrypted under the public devnet password,
//! which `node-password` holds, so the devnet starts with no prompt) and p2p
//! key in `merchant-N/`, one config and one data directory per validator.
//! State survives restarts; `--reset` wipes the directory first. The demo
//! keys are public: a devnet is for trying Merit, never for value.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use merit_chain::amount::format_amount;
use merit_genesis::devnet::DEVNET_NODE_PASSWORD;
use merit_genesis::keys::{VALIDATOR_KEY_FILE_NAME, VALIDATOR_KEY_NAME};
use merit_genesis::keystore::{self, EncryptedKey, KdfParams};
use merit_genesis::p2p_key::{self, P2P_KEY_FILE_NAME};
use merit_genesis::{DevnetLayout, Genesis, GenesisFile};

use crate::config::NodeConfig;
#[cfg(feature = "rocksdb")]
use crate::node::Node;
use crate::node::NodeHandle;

/// The file in the devnet directory that holds the public password of the
/// devnet's validator keys.
pub const DEVNET_PASSWORD_FILE: &str = "node-password";

/// The devnet's first metrics port; validator i uses this plus i.
pub const DEVNET_METRICS_BASE_PORT: u16 = 9615;

/// What `merit-node devnet` was asked for.
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    pub dir: PathBuf,
    pub validators: usize,
    pub reset: bool,
    pub p2p_base_port: u16,
    pub rpc_base_port: u16,
    pub metrics_base_port: u16,
    pub log: String,
}

/// Writes (or checks) the devnet's files and returns one config per
/// validator.
pub fn prepare(opts: &DevnetOptions) -> anyhow::Result<(DevnetLayout, Vec<NodeConfig>)> {
    let layout = merit_genesis::try_devnet(opts.validators, opts.p2p_base_port, opts.rpc_base_port)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if opts.reset && opts.dir.exists() {
        std::fs::remove_dir_all(&opts.dir)
            .with_context(|| format!("cannot remove {}", opts.dir.display()))?;
    }
    std::fs::create_dir_all(&opts.dir)
        .with_context(|| format!("cannot create {}", opts.dir.display()))?;
    let genesis_path = opts.dir.join("genesis.json");
    let wanted = layout.genesis.to_json_pretty();
    if genesis_path.exists() {
        let existing = GenesisFile::load(&genesis_path)?;
        if existing != layout.genesis {
            bail!(
                "{} holds another devnet (a different size or ports, or an older version). \
                 Start it with `merit-node devnet --reset` to wipe it and begin again.",
                opts.dir.display()
            );
        }
    } else {
        std::fs::write(&genesis_path, &wanted)
            .with_context(|| format!("cannot write {}", genesis_path.display()))?;
    }
    // The devnet's validator keys are encrypted at rest like every node's,
    // under a public password kept in a file beside them, so that the
    // devnet starts without a prompt. The cheapest KDF costs: stretching a
    // public password protects nothing.
    let password_path = opts.dir.join(DEVNET_PASSWORD_FILE);
    write_private(&password_path, DEVNET_NODE_PASSWORD)?;
    let mut configs = Vec::new();
    for (i, m) in layout.merchants.iter().enumerate() {
        let merchant_dir = opts.dir.join(merit_genesis::merchant_dir_name(i));
        keystore::create_private_dir(&merchant_dir)?;
        let key_path = merchant_dir.join(VALIDATOR_KEY_FILE_NAME);
        EncryptedKey::encrypt(
            VALIDATOR_KEY_NAME,
            &m.validator,
            DEVNET_NODE_PASSWORD,
            KdfParams::INSECURE_FAST,
        )?
        .write(&key_path, true)?;
        let p2p_path = merchant_dir.join(P2P_KEY_FILE_NAME);
        p2p_key::write_p2p_key(&p2p_path, &m.p2p, true)?;
        let mut c = NodeConfig::new(
            genesis_path.clone(),
            opts.dir.join(format!("node-{i}")),
            Some(key_path),
        );
        c.password_file = Some(password_path.clone());
        c.p2p_key_file = Some(p2p_path);
        c.p2p.listen = Some(format!("/ip4/127.0.0.1/tcp/{}", m.p2p_address.port));
        c.rpc.listen = SocketAddr::from(([127, 0, 0, 1], opts.rpc_base_port + i as u16));
        c.metrics.listen = SocketAddr::from(([127, 0, 0, 1], opts.metrics_base_port + i as u16));
        c.log = opts.log.clone();
        let config_path = opts.dir.join(format!("node-{i}.toml"));
        std::fs::write(&config_path, relative_config(&c, &opts.dir))
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        configs.push(c);
    }
    Ok((layout, configs))
}

/// The config as a file inside `dir`, with paths relative to it, so that
/// `merit-node start --config DIR/node-0.toml` runs the same validator.
fn relative_config(c: &NodeConfig, dir: &Path) -> String {
    let rel = |p: &Path| p.strip_prefix(dir).unwrap_or(p).to_path_buf();
    let mut r = c.clone();
    r.genesis = rel(&c.genesis);
    r.data_dir = rel(&c.data_dir);
    r.validator_key_file = c.validator_key_file.as_deref().map(rel);
    r.password_file = c.password_file.as_deref().map(rel);
    r.p2p_key_file = c.p2p_key_file.as_deref().map(rel);
    r.to_toml()
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Starts every validator of the devnet in this process.
#[cfg(feature = "rocksdb")]
pub async fn start(configs: &[NodeConfig]) -> anyhow::Result<Vec<NodeHandle>> {
    let mut nodes = Vec::new();
    for c in configs {
        nodes.push(Node::start(c).await?);
    }
    Ok(nodes)
}

/// What a new user needs to see: where to connect and who holds what.
pub fn banner(layout: &DevnetLayout, genesis: &Genesis, nodes: &[NodeHandle]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Merit devnet `{}` is running: {} validators on 127.0.0.1 (genesis {}).\n\n",
        genesis.chain_id().as_str(),
        nodes.len(),
        genesis.hash()
    ));
    out.push_str("JSON-RPC (HTTP and WebSocket):\n");
    for (i, (n, m)) in nodes.iter().zip(&layout.merchants).enumerate() {
        out.push_str(&format!(
            "  validator {i}  {:<22} http://{}   metrics http://{}/metrics\n",
            m.name,
            n.rpc_addr,
            n.metrics_addr.map_or("off".to_string(), |a| a.to_string())
        ));
    }
    if let Some(n) = nodes.first() {
        out.push_str(&format!(
            "\nBlock explorer: http://{}{}\n",
            n.rpc_addr,
            crate::rpc::explorer::PATH
        ));
    }
    out.push_str("\nMerchants (token, account):\n");
    for m in &layout.merchants {
        out.push_str(&format!(
            "  {:<22} {:<6} {}\n",
            m.name,
            m.token.as_str(),
            m.account.public().to_bech32()
        ));
    }
    out.push_str("\nDemo shoppers (public demo keys; never use them for value):\n");
    for s in &layout.shoppers {
        let holdings: Vec<String> = genesis
            .balances()
            .iter()
            .filter(|(a, _, _)| *a == s.key.public())
            .map(|(_, sym, units)| {
                let decimals = genesis
                    .tokens()
                    .iter()
                    .find(|t| t.symbol == *sym)
                    .map_or(0, |t| t.decimals);
                format!("{} {}", format_amount(*units, decimals), sym.as_str())
            })
            .collect();
        out.push_str(&format!(
            "  {:<6} {}  {}\n",
            s.name,
            s.key.public().to_bech32(),
            holdings.join(", ")
        ));
    }
    out.push_str(
        "\nTry: curl -s -X POST -H 'content-type: application/json' \\\n   \
         -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"merit_status\",\"params\":[]}' http://",
    );
    if let Some(n) = nodes.first() {
        out.push_str(&n.rpc_addr.to_string());
    }
    out.push_str("\nOr the wallet: merit keys import-devnet && merit balance alice\nStop with Ctrl-C; state is kept for the next start (--reset wipes it).\n");
    out
}

//! Real `merit-node` processes on 127.0.0.1, for cluster tests.
//!
//! A [`Cluster`] writes a devnet-style alliance (genesis, key files, one
//! config per validator) into a temporary directory on ports no other
//! cluster of this machine uses, starts one `merit-node start` process per
//! validator, and can kill (-9), stop (SIGTERM), wipe and restart each.
//! [`Rpc`] is a small blocking JSON-RPC client over HTTP.
//!
//! A harness for tests: a node that cannot start fails the test loudly.
#![allow(clippy::panic)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use merit_chain::encoding::BoundedString;
use merit_chain::{Keypair, Transaction, TxBody, TxKind};
use merit_genesis::DevnetLayout;
use merit_node::NodeConfig;
use merit_node::devnet::DevnetOptions;
use serde_json::{Value, json};

/// The `merit-node` binary built next to the running test
/// (`MERIT_NODE_BIN` overrides it).
///
/// Cargo builds it for `cargo test --workspace` (and for `cargo test -p
/// merit-node`), not for `cargo test -p merit-tests` alone: then the tests
/// run whatever binary is in target/<profile>/, which may be stale. Run
/// `cargo build -p merit-node -p merit-wallet --bins` first.
///
/// # Panics
/// When there is no such file, with a message that says how to build it.
pub fn node_binary() -> PathBuf {
    built_binary("merit-node", "MERIT_NODE_BIN")
}

/// The `merit` wallet binary, next to [`node_binary`] (`MERIT_WALLET_BIN`
/// overrides it). Built, or not, like [`node_binary`].
///
/// # Panics
/// When there is no such file, with a message that says how to build it.
pub fn wallet_binary() -> PathBuf {
    built_binary("merit", "MERIT_WALLET_BIN")
}

/// The `merit-genesis` binary, next to [`node_binary`]
/// (`MERIT_GENESIS_BIN` overrides it). Built, or not, like [`node_binary`].
///
/// # Panics
/// When there is no such file, with a message that says how to build it.
pub fn genesis_binary() -> PathBuf {
    built_binary("merit-genesis", "MERIT_GENESIS_BIN")
}

/// The binary `name` of the running test's profile, or the file `env` names.
fn built_binary(name: &str, env: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        let path = PathBuf::from(p);
        assert!(
            path.is_file(),
            "{env} is {}, which is not a file",
            path.display()
        );
        return path;
    }
    // target/<profile>/deps/<test binary> -> target/<profile>/<name>
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --workspace --bins` \
         (`cargo test --workspace` builds it too), or set {env}",
        path.display()
    );
    path
}

/// Validators of one test cluster: each kind of port has 10 in a block.
const MAX_VALIDATORS: usize = 10;
/// Observers of one test cluster.
const MAX_OBSERVERS: u16 = 5;
/// Ports one cluster's nodes bind, from the base of its block: p2p, RPC
/// and metrics of up to 10 validators (+0, +10, +20) and p2p and RPC of up
/// to 5 observers (+30, +35).
const CLUSTER_PORTS: u16 = 40;
/// The port of a block right after the nodes' ports: nothing binds it, so
/// a connection to it is refused ([`Cluster::closed_port`]).
const CLOSED_PORT_OFFSET: u16 = CLUSTER_PORTS;
/// Ports in one cluster's block.
const BLOCK_PORTS: u16 = CLUSTER_PORTS + 1;
/// Blocks lie in `[PORTS_FIRST, PORTS_END)`: below the ephemeral ports of
/// Linux (32768 to 60999) and of most systems, so no outgoing connection of
/// any process on the machine is given one of them while a killed node is
/// down and must bind its ports again.
const PORTS_FIRST: u16 = 20_000;
const PORTS_END: u16 = 32_768;
/// Blocks in that range.
const BLOCKS: u16 = (PORTS_END - PORTS_FIRST) / BLOCK_PORTS;

/// Where this process looks for its next block, so that it does not take
/// the block of a cluster it just dropped (whose ports may still be in
/// TIME_WAIT) when others are free. Starts at a place that depends on the
/// process id, so that test processes running at once try different
/// blocks first.
static NEXT_BLOCK: AtomicU16 = AtomicU16::new(u16::MAX);

/// A block of ports held for one cluster. Other processes are kept out by
/// a UDP socket bound to the block's first port: nodes use TCP only, so the
/// claim costs them nothing, and another test process (which claims its
/// block the same way) skips a block whose claim it cannot bind. A block is
/// taken only when no process listens on any of its TCP ports.
#[derive(Debug)]
struct PortBlock {
    base: u16,
    _claim: UdpSocket,
}

impl PortBlock {
    fn reserve() -> Result<PortBlock, String> {
        let pid_start = (std::process::id() % u32::from(BLOCKS)) as u16;
        let _ =
            NEXT_BLOCK.compare_exchange(u16::MAX, pid_start, Ordering::Relaxed, Ordering::Relaxed);
        let start = NEXT_BLOCK.load(Ordering::Relaxed) % BLOCKS;
        for k in 0..BLOCKS {
            let block = (start + k) % BLOCKS;
            let base = PORTS_FIRST + block * BLOCK_PORTS;
            let Ok(claim) = UdpSocket::bind((Ipv4Addr::LOCALHOST, base)) else {
                continue;
            };
            let free = (base..base + BLOCK_PORTS)
                .all(|port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok());
            if free {
                NEXT_BLOCK.store((block + 1) % BLOCKS, Ordering::Relaxed);
                return Ok(PortBlock {
                    base,
                    _claim: claim,
                });
            }
        }
        Err(format!(
            "no block of {BLOCK_PORTS} free ports between {PORTS_FIRST} and {PORTS_END}"
        ))
    }
}

/// A blocking JSON-RPC client.
#[derive(Debug, Clone)]
pub struct Rpc {
    pub addr: SocketAddr,
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Value,
}

impl Rpc {
    pub fn new(addr: SocketAddr) -> Self {
        Rpc { addr }
    }

    /// Posts a raw body and returns the HTTP status and body.
    pub fn post_raw(&self, body: &[u8]) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let head = format!(
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        read_response(&mut s)
    }

    /// Sends only the head of a POST whose `content-length` declares
    /// `declared_len` bytes, and reads the answer. A server that refuses a
    /// body by its declared size answers before any of it arrives; sending
    /// the body as well races the server's close, whose unread bytes turn
    /// into a reset that can lose the answer.
    pub fn post_declared(&self, declared_len: usize) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let head = format!(
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {declared_len}\r\nconnection: close\r\n\r\n",
            self.addr
        );
        s.write_all(head.as_bytes())?;
        read_response(&mut s)
    }

    /// A GET request.
    pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let head = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
        s.write_all(head.as_bytes())?;
        read_response(&mut s)
    }

    /// Calls `method`; an I/O failure is an error with code 0.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (_, text) = self
            .post_raw(body.to_string().as_bytes())
            .map_err(|e| RpcError {
                code: 0,
                message: e.to_string(),
                data: Value::Null,
            })?;
        let v: Value = serde_json::from_str(&text).map_err(|e| RpcError {
            code: 0,
            message: format!("not JSON ({e}): {text}"),
            data: Value::Null,
        })?;
        if let Some(err) = v.get("error") {
            return Err(RpcError {
                code: err["code"].as_i64().unwrap_or(0),
                message: err["message"].as_str().unwrap_or("").to_string(),
                data: err.get("data").cloned().unwrap_or(Value::Null),
            });
        }
        Ok(v["result"].clone())
    }

    pub fn height(&self) -> Option<u64> {
        self.call("merit_status", json!([])).ok()?["height"].as_u64()
    }

    pub fn status(&self) -> Option<Value> {
        self.call("merit_status", json!([])).ok()
    }

    /// The state root of the block at `height`.
    pub fn state_root_at(&self, height: u64) -> Option<String> {
        let b = self.call("merit_getBlock", json!([height])).ok()?;
        b["state_root"].as_str().map(str::to_string)
    }

    pub fn balance(&self, who: &Keypair, token: &str) -> Option<String> {
        let a = self
            .call("merit_getAccount", json!([who.public().to_bech32()]))
            .ok()?;
        Some(a["balances"][token].as_str().unwrap_or("0").to_string())
    }

    pub fn send(&self, tx: &Transaction) -> Result<String, RpcError> {
        let v = self.call("merit_sendTransaction", json!([hex::encode(tx.to_bytes())]))?;
        Ok(v.as_str().unwrap_or("").to_string())
    }

    /// Waits until the transaction is committed or rejected in a block.
    pub fn wait_final(&self, hash: &str, timeout: Duration) -> Option<Value> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(v) = self.call("merit_getTransaction", json!([hash]))
                && matches!(v["status"].as_str(), Some("committed") | Some("rejected"))
            {
                return Some(v);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

fn read_response(s: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = match text.split_once("\r\n\r\n") {
        Some((head, body))
            if head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked") =>
        {
            dechunk(body)
        }
        Some((_, body)) => body.to_string(),
        None => String::new(),
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(len.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The key files of a merchant that joins a running alliance (from
/// `merit-genesis keygen`) and the password of its validator key.
#[derive(Debug, Clone)]
pub struct JoiningKeys {
    pub validator_key_file: PathBuf,
    pub p2p_key_file: PathBuf,
    pub password: String,
}

/// One validator process.
#[derive(Debug)]
pub struct NodeProc {
    pub config_path: PathBuf,
    pub config: NodeConfig,
    pub child: Option<Child>,
    pub log_path: PathBuf,
    /// Extra environment of the process, e.g. the test-only clock offset.
    pub env: Vec<(String, String)>,
}

/// A cluster of validator processes (and observers, after the validators).
#[derive(Debug)]
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub layout: DevnetLayout,
    pub nodes: Vec<NodeProc>,
    ports: PortBlock,
    /// Clusters of one test binary run one at a time: on a small machine,
    /// two clusters at once starve each other's consensus timeouts.
    _turn: Turn,
}

/// Whether a cluster of this process holds the turn.
static TURN_TAKEN: Mutex<bool> = Mutex::new(false);
static TURN_FREED: Condvar = Condvar::new();

/// The right to run a cluster in this process, released on drop. Unlike a
/// `MutexGuard` it may move to another thread, so a cluster may be kept in
/// a `static` and shared by the tests of one module.
#[derive(Debug)]
struct Turn(());

impl Turn {
    fn take() -> Turn {
        let mut taken = TURN_TAKEN.lock().unwrap_or_else(|e| e.into_inner());
        while *taken {
            taken = TURN_FREED.wait(taken).unwrap_or_else(|e| e.into_inner());
        }
        *taken = true;
        Turn(())
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        *TURN_TAKEN.lock().unwrap_or_else(|e| e.into_inner()) = false;
        TURN_FREED.notify_one();
    }
}

/// The turn and a block of ports of a test that runs node processes of
/// its own rather than a [`Cluster`]: while it lives, no cluster of this
/// test binary runs, and no other test process takes these ports.
#[derive(Debug)]
pub struct OwnPorts {
    ports: PortBlock,
    _turn: Turn,
}

impl OwnPorts {
    /// Waits for the turn, then holds a block of ports.
    ///
    /// # Panics
    /// When no block of ports is free.
    pub fn take() -> OwnPorts {
        let turn = Turn::take();
        let ports = PortBlock::reserve().unwrap_or_else(|e| panic!("{e}"));
        OwnPorts { ports, _turn: turn }
    }

    /// The first of the block's ports, laid out as a cluster's: p2p from
    /// `base`, RPC from `base + 10`, metrics from `base + 20`, 10 of each.
    pub fn base(&self) -> u16 {
        self.ports.base
    }
}

impl Cluster {
    /// Writes an `n`-validator alliance and starts every validator.
    pub fn start(n: usize) -> Cluster {
        let mut c = Cluster::prepare(n).unwrap_or_else(|e| panic!("cannot set up a cluster: {e}"));
        for i in 0..n {
            c.start_node(i);
        }
        c
    }

    /// Adds and starts an observer: no key, it follows the chain by sync
    /// and relays transactions. Returns its index.
    pub fn add_observer(&mut self) -> usize {
        let i = self.add_node(None);
        self.start_node(i);
        i
    }

    /// The p2p port of the next node [`Cluster::add_node`] adds, for the
    /// record of a merchant that joins later.
    pub fn next_node_p2p_port(&self) -> u16 {
        self.ports.base + 30 + self.extra_nodes()
    }

    fn extra_nodes(&self) -> u16 {
        let k = self.nodes.len() - self.layout.merchants.len();
        assert!(
            k < usize::from(MAX_OBSERVERS),
            "a test cluster has at most {MAX_OBSERVERS} nodes beyond its genesis validators"
        );
        k as u16
    }

    /// Adds a node that is not in the genesis, without starting it: an
    /// observer, or with `keys` a merchant's node that joins by a vote. It
    /// listens on [`Cluster::next_node_p2p_port`] and dials the genesis
    /// validators. Returns its index.
    pub fn add_node(&mut self, keys: Option<JoiningKeys>) -> usize {
        let i = self.nodes.len();
        let k = self.extra_nodes();
        let genesis = self.nodes[0].config.genesis.clone();
        let mut config =
            NodeConfig::new(genesis, self.dir.path().join(format!("observer-{k}")), None);
        config.p2p.listen = Some(format!("/ip4/127.0.0.1/tcp/{}", self.next_node_p2p_port()));
        config.rpc.listen = SocketAddr::from(([127, 0, 0, 1], self.ports.base + 35 + k));
        config.metrics.enabled = false;
        config.log = "warn,merit_node=info".into();
        let mut env = Vec::new();
        if let Some(keys) = keys {
            config.validator_key_file = Some(keys.validator_key_file);
            config.p2p_key_file = Some(keys.p2p_key_file);
            env.push(("MERIT_NODE_PASSWORD".to_string(), keys.password));
        }
        let config_path = self.dir.path().join(format!("observer-{k}.toml"));
        std::fs::write(&config_path, config.to_toml()).expect("node config");
        self.nodes.push(NodeProc {
            config_path,
            log_path: self.dir.path().join(format!("observer-{k}.log")),
            config,
            child: None,
            env,
        });
        i
    }

    /// Rewrites the genesis file of a prepared, not yet started cluster
    /// with a heartbeat of `ms`: an idle chain then makes a block that
    /// often, so that tests waiting for heights need not send anything.
    pub fn set_heartbeat_ms(&mut self, ms: u64) -> Result<(), String> {
        self.layout.genesis.consensus.heartbeat_ms = ms;
        let path = &self.nodes[0].config.genesis;
        std::fs::write(path, self.layout.genesis.to_json_pretty())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    pub fn rpc(&self, i: usize) -> Rpc {
        Rpc::new(self.nodes[i].config.rpc.listen)
    }

    /// Asserts that the nodes `which` hold the same block hash and
    /// `state_root` at every height from 1 to `height`.
    pub fn assert_same_chain(&self, which: &[usize], height: u64) {
        self.assert_same_blocks(which, 1..=height);
    }

    /// Asserts that the nodes `which` hold the same block hash and
    /// `state_root` at every height of `heights`.
    pub fn assert_same_blocks(&self, which: &[usize], heights: std::ops::RangeInclusive<u64>) {
        for h in heights {
            let seen: std::collections::BTreeSet<(String, String)> = which
                .iter()
                .map(|&i| {
                    let b = self
                        .rpc(i)
                        .call("merit_getBlock", json!([h]))
                        .unwrap_or_else(|e| panic!("node {i} block {h}: {e:?}"));
                    (
                        b["hash"].as_str().unwrap_or("").to_string(),
                        b["state_root"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            assert_eq!(
                seen.len(),
                1,
                "nodes {which:?} disagree at height {h}: {seen:?}"
            );
        }
    }

    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log_path)
            .expect("log file");
        let child = Command::new(node_binary())
            .arg("start")
            .arg("--config")
            .arg(&node.config_path)
            .envs(node.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", node_binary().display()));
        node.child = Some(child);
    }

    /// kill -9.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for a clean exit; returns its success.
    pub fn terminate(&mut self, i: usize) -> bool {
        let Some(mut c) = self.nodes[i].child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok(Some(status)) = c.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        false
    }

    /// Deletes a stopped validator's data directory.
    pub fn wipe(&mut self, i: usize) {
        let _ = std::fs::remove_dir_all(&self.nodes[i].config.data_dir);
    }

    pub fn is_running(&mut self, i: usize) -> bool {
        match self.nodes[i].child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The value of a Prometheus metric of node `i` (summed over its
    /// labels), if the node serves metrics and has it.
    pub fn metric(&self, i: usize, name: &str) -> Option<f64> {
        let addr = self.nodes[i].config.metrics.listen;
        let (status, body) = Rpc::get(addr, "/metrics").ok()?;
        if status != 200 {
            return None;
        }
        let values: Vec<f64> = body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (key, value) = l.rsplit_once(' ')?;
                let bare = key.split('{').next()?;
                (bare == name).then(|| value.parse::<f64>().ok())?
            })
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }

    /// The last lines of a validator's log, for failure messages.
    pub fn log_tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(&self.nodes[i].log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until every listed validator answers RPC.
    pub fn wait_rpc(&self, which: &[usize], timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        which.iter().all(|&i| {
            while Instant::now() < end {
                if self.rpc(i).height().is_some() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            false
        })
    }

    /// Waits until every listed validator is at `height` or above.
    pub fn wait_height(&self, which: &[usize], height: u64, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if which
                .iter()
                .all(|&i| self.rpc(i).height().is_some_and(|h| h >= height))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// A signed transaction for this cluster's chain.
    pub fn tx(
        &self,
        key: &Keypair,
        nonce: u64,
        expires_at_height: u64,
        kind: TxKind,
    ) -> Transaction {
        self.tx_from(key, 0, nonce, expires_at_height, kind)
    }

    /// [`Cluster::tx`], paid by the key's sub-account `sub` (0: the address
    /// itself).
    pub fn tx_from(
        &self,
        key: &Keypair,
        sub: u32,
        nonce: u64,
        expires_at_height: u64,
        kind: TxKind,
    ) -> Transaction {
        TxBody {
            chain_id: BoundedString::new(self.layout.genesis.chain_id.clone()).expect("chain id"),
            sender: key.public(),
            sub,
            nonce,
            expires_at_height,
            kind,
        }
        .sign(key)
    }

    pub fn shopper(&self, name: &str) -> Keypair {
        self.layout.shopper(name).cloned().expect("demo shopper")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// For clusters whose peer connections go through a proxy (see
/// [`crate::chaos`]): prepare first, point each validator's `p2p.peers`
/// elsewhere, then start.
impl Cluster {
    /// Writes an `n`-validator alliance like [`Cluster::start`], but starts
    /// no validator.
    pub fn prepare(n: usize) -> Result<Cluster, String> {
        if n > MAX_VALIDATORS {
            return Err(format!(
                "a test cluster has at most {MAX_VALIDATORS} validators, not {n}"
            ));
        }
        let turn = Turn::take();
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let ports = PortBlock::reserve()?;
        let base = ports.base;
        let opts = DevnetOptions {
            dir: dir.path().to_path_buf(),
            validators: n,
            reset: false,
            p2p_base_port: base,
            rpc_base_port: base + 10,
            metrics_base_port: base + 20,
            log: "warn,merit_node=info".into(),
        };
        let (layout, configs) =
            merit_node::devnet::prepare(&opts).map_err(|e| format!("devnet files: {e:#}"))?;
        let nodes = configs
            .into_iter()
            .enumerate()
            .map(|(i, config)| NodeProc {
                config_path: dir.path().join(format!("node-{i}.toml")),
                log_path: dir.path().join(format!("node-{i}.log")),
                config,
                child: None,
                env: Vec::new(),
            })
            .collect();
        Ok(Cluster {
            dir,
            layout,
            nodes,
            ports,
            _turn: turn,
        })
    }

    /// The ports held for this cluster: those its nodes bind (p2p, RPC,
    /// metrics, observers) and [`Cluster::closed_port`].
    pub fn port_range(&self) -> std::ops::Range<u16> {
        self.ports.base..self.ports.base + BLOCK_PORTS
    }

    /// A port of 127.0.0.1 that nothing listens on while this cluster
    /// lives: a connection to it is refused.
    pub fn closed_port(&self) -> u16 {
        self.ports.base + CLOSED_PORT_OFFSET
    }

    /// Validator `i`'s p2p port on 127.0.0.1.
    pub fn p2p_port(&self, i: usize) -> u16 {
        self.layout.merchants[i].p2p_address.port
    }

    /// The multiaddr that reaches validator `i` at `port` of 127.0.0.1.
    pub fn peer_multiaddr(&self, i: usize, port: u16) -> Option<String> {
        let peer = merit_node::network::peer_id_of(&self.layout.merchants[i].p2p.public())?;
        Some(format!("/ip4/127.0.0.1/tcp/{port}/p2p/{peer}"))
    }

    /// Sets the peers node `i` dials and rewrites its config file; takes
    /// effect at its next start.
    pub fn set_peers(&mut self, i: usize, peers: Vec<String>) -> Result<(), String> {
        let node = &mut self.nodes[i];
        node.config.p2p.peers = peers;
        std::fs::write(&node.config_path, node.config.to_toml())
            .map_err(|e| format!("cannot write {}: {e}", node.config_path.display()))
    }
}

//! `merit-node`: runs a Merit validator or observer node, or a whole local
//! alliance with `merit-node devnet`.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use merit_node::NodeConfig;
use merit_node::config::ConfigFlags;
use merit_node::devnet::{DEVNET_METRICS_BASE_PORT, DevnetOptions};
use tracing_subscriber::EnvFilter;

// A node allocates and frees many small buffers per transaction (decoding,
// gossip, execution overlays, batches). Under load, glibc's allocator took
// about 12% of a devnet's CPU and mimalloc about 3% (docs/benchmarks.md).
// Without transparent huge pages (`no_thp`): zeroing fresh 2 MiB pages on
// every arena refill cost another 10%.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MAIN_EXAMPLES: &str = "\
Examples:
  # A local 4-validator alliance with demo tokens and shoppers
  merit-node devnet

  # One validator of a real alliance
  merit-node start --config /etc/merit/node.toml";

const START_EXAMPLES: &str = "\
Examples:
  merit-node start --config node.toml
  merit-node start --config node.toml --rpc-listen 127.0.0.1:9545 --log debug

  # A validator from the files of `merit-genesis keygen`; the password of its
  # validator key comes from MERIT_NODE_PASSWORD or --password-file
  MERIT_NODE_PASSWORD=... merit-node start --genesis genesis.json --data-dir ./data \\
      --validator-key-file keys/validator_key.json --p2p-key-file keys/p2p_key.json

  # Without a config file: an observer that follows the chain
  merit-node start --genesis genesis.json --data-dir ./data --peer /ip4/10.0.0.5/tcp/26601

Every key of the config file can be set by a flag, and flags win.
See docs/operations.md for the config keys.";

const DEVNET_EXAMPLES: &str = "\
Examples:
  merit-node devnet            # start, or continue, the devnet in ./.devnet
  merit-node devnet --reset    # wipe it and start from genesis
  merit-node devnet --validators 7 --dir /tmp/devnet7
  merit-node devnet --init-only  # write the configs; start each validator yourself

Ports: p2p 26601+i, JSON-RPC 8545+i, metrics 9615+i for validator i.";

/// The Merit node.
#[derive(Debug, Parser)]
#[command(name = "merit-node", version, after_help = MAIN_EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up, so the size of the larger variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    Start(StartArgs),
    Devnet(DevnetArgs),
    VerifyChain(VerifyChainArgs),
}

const VERIFY_CHAIN_EXAMPLES: &str = "\
Examples:
  merit-node verify-chain --data-dir ./data --genesis genesis.json
  merit-node verify-chain --data-dir .devnet/node-0 --genesis .devnet/genesis.json

Stop the node first: the store is opened for writing by one process at a time.
Exit status: 0 when every block verifies, 3 at the first bad block, 1 when the
store or the genesis cannot be read.";

/// The exit status of `verify-chain` at a bad block.
const EXIT_BAD_CHAIN: u8 = 3;

/// Re-verifies a stored chain from genesis: parent links, every
/// certificate against the validator set in force at its height, and every
/// root by re-execution. Prints the verified tip, or the first bad height.
#[derive(Debug, clap::Args)]
#[command(after_help = VERIFY_CHAIN_EXAMPLES)]
struct VerifyChainArgs {
    /// The node's data directory (the `data_dir` of its config).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// The alliance's genesis file.
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
}

fn run_verify_chain(args: &VerifyChainArgs) -> anyhow::Result<ExitCode> {
    use merit_node::verify::{VerifyError, verify_chain};
    let genesis = merit_genesis::Genesis::load(&args.genesis)
        .with_context(|| format!("cannot load genesis {}", args.genesis.display()))?;
    let chain = args.data_dir.join("chain");
    if !chain.is_dir() {
        anyhow::bail!(
            "{} holds no chain (no {} directory)",
            args.data_dir.display(),
            chain.display()
        );
    }
    let storage = merit_store::RocksStorage::open(&chain).with_context(|| {
        format!(
            "cannot open the store in {} (is the node still running?)",
            chain.display()
        )
    })?;
    match verify_chain(&genesis, &storage) {
        Ok(tip) => {
            println!("verified: height {} hash {}", tip.height, tip.hash);
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (VerifyError::BadBlock { .. } | VerifyError::BadState { .. })) => {
            println!("bad chain: {e}");
            Ok(ExitCode::from(EXIT_BAD_CHAIN))
        }
        Err(VerifyError::Unreadable(e)) => Err(anyhow::anyhow!(e)),
    }
}

/// Runs one node from a TOML config file; flags override its keys.
#[derive(Debug, clap::Args)]
#[command(after_help = START_EXAMPLES)]
struct StartArgs {
    /// The TOML config file.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    flags: ConfigFlags,
}

/// Starts a local alliance of validators on 127.0.0.1 with demo keys, a
/// demo token per merchant and funded demo shoppers.
#[derive(Debug, clap::Args)]
#[command(after_help = DEVNET_EXAMPLES)]
struct DevnetArgs {
    /// Where the devnet keeps its files and state.
    #[arg(long, default_value = ".devnet")]
    dir: PathBuf,
    /// Wipe the devnet's state first and start from genesis.
    #[arg(long)]
    reset: bool,
    /// Number of validators (merchants).
    #[arg(long, default_value_t = merit_genesis::devnet::DEVNET_MERCHANTS)]
    validators: usize,
    /// First p2p port.
    #[arg(long, default_value_t = merit_genesis::devnet::DEVNET_P2P_BASE_PORT)]
    p2p_base_port: u16,
    /// First JSON-RPC port.
    #[arg(long, default_value_t = merit_genesis::devnet::DEVNET_RPC_BASE_PORT)]
    rpc_base_port: u16,
    /// First metrics port.
    #[arg(long, default_value_t = DEVNET_METRICS_BASE_PORT)]
    metrics_base_port: u16,
    /// Log filter.
    #[arg(long, default_value = "warn,merit_node=info")]
    log: String,
    /// Write the genesis, the keys and one config per validator, then exit
    /// without starting anything: run each validator as a process of its
    /// own with `merit-node start --config DIR/node-N.toml`.
    #[arg(long)]
    init_only: bool,
}

impl StartArgs {
    fn into_config(self) -> anyhow::Result<NodeConfig> {
        Ok(NodeConfig::resolve(self.config.as_deref(), self.flags)?)
    }
}

fn init_logging(filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a terminal only, not for a log file or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run_start(args: StartArgs) -> anyhow::Result<()> {
    let config = args.into_config()?;
    init_logging(&config.log);
    let node = merit_node::Node::start(&config).await?;
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("shutting down"),
        _ = wait_for_fault(&node) => {}
    }
    node.stop().await
}

async fn wait_for_fault(node: &merit_node::NodeHandle) {
    loop {
        if node.driver_finished() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn run_devnet(args: DevnetArgs) -> anyhow::Result<()> {
    init_logging(&args.log);
    let opts = DevnetOptions {
        dir: args.dir,
        validators: args.validators,
        reset: args.reset,
        p2p_base_port: args.p2p_base_port,
        rpc_base_port: args.rpc_base_port,
        metrics_base_port: args.metrics_base_port,
        log: args.log,
    };
    let (layout, configs) = merit_node::devnet::prepare(&opts)?;
    if args.init_only {
        for i in 0..configs.len() {
            println!(
                "merit-node start --config {}",
                opts.dir.join(format!("node-{i}.toml")).display()
            );
        }
        return Ok(());
    }
    let genesis = layout
        .validate()
        .map_err(|e| anyhow::anyhow!("devnet genesis: {e}"))?;
    let nodes = merit_node::devnet::start(&configs)
        .await
        .context("starting the devnet (is another devnet already running on these ports?)")?;
    println!("{}", merit_node::devnet::banner(&layout, &genesis, &nodes));
    tokio::select! {
        _ = shutdown_signal() => {}
        _ = async {
            loop {
                if nodes.iter().any(|n| n.driver_finished()) {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        } => {}
    }
    println!(
        "stopping the devnet; its state stays in {}",
        opts.dir.display()
    );
    let mut result = Ok(());
    for n in nodes {
        if let Err(e) = n.stop().await {
            result = Err(e);
        }
    }
    result
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Reading a store needs no async runtime.
    if let Command::VerifyChain(args) = &cli.command {
        return run_verify_chain(args).unwrap_or_else(|e| {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        });
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Start(args) => run_start(args).await,
            Command::Devnet(args) => run_devnet(args).await,
            // Handled above, without a runtime.
            Command::VerifyChain(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! `merit-indexer --rpc URL --postgres URL --genesis FILE`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use merit_genesis::Genesis;
use merit_indexer::{Config, run};
use tracing_subscriber::EnvFilter;

/// Follows a Merit chain and writes its verified blocks, transactions,
/// postings, balances and token supply into PostgreSQL, each block once.
#[derive(Debug, Parser)]
#[command(name = "merit-indexer", version)]
struct Cli {
    /// The node to follow: `http://HOST:PORT` or `ws://HOST:PORT`. It need
    /// not be trusted: every block is verified before it is written.
    #[arg(long, env = "MERIT_RPC", value_name = "URL")]
    rpc: String,
    /// The database: `postgresql://USER@HOST:PORT/DB` or `host=… dbname=…`.
    #[arg(long, env = "MERIT_POSTGRES", value_name = "URL")]
    postgres: String,
    /// The chain's genesis file: the database is bound to its hash, and
    /// its validator set is where certificate checks start.
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
    /// How often to ask the node for new blocks once caught up.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    poll_ms: u64,
    /// Log filter (`RUST_LOG` overrides it).
    #[arg(long, default_value = "info")]
    log: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cli.log))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();

    let genesis = match Genesis::load(&cli.genesis) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("merit-indexer: error: {}: {e}", cli.genesis.display());
            return ExitCode::from(2);
        }
    };
    let config = Config {
        rpc: cli.rpc,
        postgres: cli.postgres,
        genesis,
        poll: Duration::from_millis(cli.poll_ms.max(1)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("merit-indexer: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run(&config) => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    match outcome {
        None => ExitCode::SUCCESS,
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(e)) => {
            eprintln!("merit-indexer: error: {e}");
            ExitCode::from(3)
        }
    }
}

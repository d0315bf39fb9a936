//! `merit-indexer --rpc URL --postgres URL --genesis FILE`.
//!
//! Exit codes: 0 after SIGINT or SIGTERM, 2 for arguments or a genesis
//! file that cannot be used, 3 when a block does not verify or the
//! database belongs to another chain (nothing of it is written).

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
    if let Err(e) = merit_indexer::check(&config) {
        eprintln!("merit-indexer: error: {e}");
        return ExitCode::from(2);
    }
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
            _ = shutdown_signal() => None,
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

/// Resolves on SIGINT or SIGTERM: a block being written is rolled back by
/// PostgreSQL when the connection closes, and written again next time.
async fn shutdown_signal() {
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

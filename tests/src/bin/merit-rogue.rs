//! A rogue libp2p peer that floods an alliance (see `merit_tests::rogue`).
//!
//! ```text
//! merit-rogue --chain-id ID --peer MULTIADDR... [--duration-secs N]
//!             [--proposals-per-sec P] [--votes-per-sec V] [--garbage-per-sec G]
//!             [--identities K] [--respawn-after-ms MS]
//! ```
//!
//! It prints what it sent as one JSON object when it ends. For tests only:
//! it exists to be banned.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use libp2p::Multiaddr;
use merit_tests::rogue::{self, RogueOptions};

/// Floods an alliance with fake proposals, invalid votes and garbage.
#[derive(Debug, Parser)]
#[command(name = "merit-rogue", version)]
struct Cli {
    /// The chain id of the alliance (its gossip topics carry it).
    #[arg(long)]
    chain_id: String,
    /// A node to dial (repeat for more).
    #[arg(long = "peer", value_name = "MULTIADDR", required = true)]
    peers: Vec<Multiaddr>,
    /// Seconds to run.
    #[arg(long, default_value_t = 30)]
    duration_secs: u64,
    /// Fake proposals of nearly 8 MiB per second.
    #[arg(long, default_value_t = 2.0)]
    proposals_per_sec: f64,
    /// Votes with bad signatures per second.
    #[arg(long, default_value_t = 50.0)]
    votes_per_sec: f64,
    /// Garbage transaction messages (and as many batches of transactions
    /// with bad signatures) per second.
    #[arg(long, default_value_t = 50.0)]
    garbage_per_sec: f64,
    /// Identities to use in all: banned, it comes back under a fresh one.
    #[arg(long, default_value_t = 1)]
    identities: u32,
    /// Milliseconds without a connection before it takes a fresh identity.
    #[arg(long, default_value_t = 1_000)]
    respawn_after_ms: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let opts = RogueOptions {
        peers: cli.peers,
        chain_id: cli.chain_id,
        duration: Duration::from_secs(cli.duration_secs),
        proposals_per_sec: cli.proposals_per_sec,
        votes_per_sec: cli.votes_per_sec,
        garbage_per_sec: cli.garbage_per_sec,
        identities: cli.identities.max(1),
        respawn_after: Duration::from_millis(cli.respawn_after_ms),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rogue::run(&opts)) {
        Ok(report) => {
            println!("{}", serde_json::json!(report));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

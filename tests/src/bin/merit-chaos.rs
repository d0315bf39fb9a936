//! The long chaos run: a real 4-validator cluster under load, kill -9,
//! wiped data directories, partitions, delays and dropped bytes, for as
//! many kill cycles as asked.
//!
//! ```text
//! cargo build --release -p merit-node -p merit-tests && target/release/merit-chaos --cycles 100
//! ```
//!
//! It uses the `merit-node` next to itself (`MERIT_NODE_BIN` overrides it),
//! prints a line per fault and the report, and exits non-zero if any
//! guarantee broke. See docs/reliability.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use merit_tests::chaos::{self, ChaosOptions};

/// Chaos test of a real Merit cluster.
#[derive(Debug, Parser)]
#[command(
    name = "merit-chaos",
    version,
    after_help = "\
Examples:
  # The long run: 100 kill cycles on release nodes
  cargo build --release -p merit-node -p merit-tests && target/release/merit-chaos --cycles 100

  # Replay the faults of a failed run
  target/release/merit-chaos --cycles 100 --seed 123456"
)]
struct Cli {
    /// Kill cycles to run.
    #[arg(long, default_value_t = 100)]
    cycles: u64,
    /// The seed of every random choice (default: from the clock).
    #[arg(long, env = chaos::SEED_ENV)]
    seed: Option<u64>,
    /// Transactions per second offered by the load.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Validators (at least 4).
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Start no new cycle after this many seconds.
    #[arg(long)]
    max_secs: Option<u64>,
    /// Chance, per mille, that a killed validator is wiped.
    #[arg(long, default_value_t = 250)]
    wipe_per_mille: u32,
    /// Chance, per mille, of a partition in a cycle.
    #[arg(long, default_value_t = 350)]
    partition_per_mille: u32,
    /// Seconds the cluster may take to recover from a fault.
    #[arg(long, default_value_t = 120)]
    recovery_secs: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Print only the report.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let seed = cli.seed.unwrap_or_else(chaos::random_seed);
    let options = ChaosOptions {
        validators: cli.validators,
        rate: cli.rate,
        max_duration: cli.max_secs.map(Duration::from_secs),
        wipe_per_mille: cli.wipe_per_mille.min(1000),
        partition_per_mille: cli.partition_per_mille.min(1000),
        recovery: Duration::from_secs(cli.recovery_secs.max(1)),
        verbose: !cli.quiet,
        ..ChaosOptions::long(seed, cli.cycles)
    };
    match chaos::run(&options) {
        Ok(report) => {
            if cli.json {
                println!("{}", serde_json::json!(report));
            } else {
                print!("{report}");
            }
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                eprintln!("merit-chaos: FAILED; replay the faults with --seed {seed}");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("merit-chaos: error (seed {seed}): {e}");
            ExitCode::FAILURE
        }
    }
}

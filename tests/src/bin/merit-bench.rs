//! The Merit load generator and benchmark.
//!
//! ```text
//! merit-bench load  [--rpc URL]... [--rate TPS | --max] [--duration SECS] [--mix M] [--sweep] [--json]
//! merit-bench suite [--validators N] [--mix M] [--accounts N] [--steady-secs SECS] [--json]
//! merit-bench soak  --rate TPS [--minutes M] [--validators N] [--json]
//! ```
//!
//! `load` drives running nodes (by default the local devnet of
//! `merit-node devnet`); `suite` starts a fresh release devnet itself. Both
//! exit non-zero if an acknowledged transaction was never committed, or was
//! committed twice. See docs/benchmarks.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use merit_tests::bench::indexer;
use merit_tests::bench::load::{DEFAULT_ACCOUNTS, describe};
use merit_tests::bench::suite::{self, DEFAULT_NODE_LOG, SuiteOptions};
use merit_tests::bench::{Bench, LoadSpec, Mix, Report, sweep};

/// Load generator and benchmark for a Merit chain.
#[derive(Debug, Parser)]
#[command(
    name = "merit-bench",
    version,
    after_help = "\
Examples:
  # Against a running `merit-node devnet`: 10 s at 5,000 transfers/s
  merit-bench load --rate 5000 --duration 10

  # Find the saturation point of a running devnet
  merit-bench load --sweep

  # The whole benchmark on a fresh 4-validator release devnet
  cargo build --release -p merit-node -p merit-tests && target/release/merit-bench suite

  # The mixed workload, and a state of a million funded accounts
  target/release/merit-bench suite --mix mixed
  target/release/merit-bench suite --accounts 1000000

  # 30 minutes at 2,500 tx/s, watching the nodes' memory
  target/release/merit-bench soak --rate 2500 --minutes 30

  # How far the indexer lags behind a release devnet under load
  cargo build --release -p merit-node -p merit-indexer -p merit-tests && target/release/merit-bench indexer"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Load running nodes.
    Load(LoadArgs),
    /// Start a fresh release devnet, sweep, then run steady loads at
    /// saturation and at half of it.
    Suite(SuiteArgs),
    /// Start a fresh release devnet and load it at one rate for a long
    /// time, sampling each node's memory, mempool and bounded sets.
    Soak(SoakArgs),
    /// Start a fresh release devnet, a throwaway PostgreSQL and
    /// `merit-indexer`; load at saturation and at half of it, and measure
    /// how far the indexer lags.
    Indexer(IndexerArgs),
}

#[derive(Debug, clap::Args)]
struct SoakArgs {
    /// Transactions offered per second.
    #[arg(long)]
    rate: u64,
    /// Minutes of load.
    #[arg(long, default_value_t = 30)]
    minutes: u64,
    /// Seconds of each load run (a sample is taken after each).
    #[arg(long, default_value_t = 60)]
    run_secs: u64,
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// transfer, pay or mixed.
    #[arg(long, default_value = "transfer")]
    mix: Mix,
    #[arg(long, default_value_t = DEFAULT_ACCOUNTS)]
    accounts: usize,
    /// Where the devnet's state and logs go (wiped first).
    #[arg(long, default_value = "target/bench-soak")]
    dir: PathBuf,
    /// The merit-node binary (default: next to this one).
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// The validators' log filter, e.g. `warn,libp2p_gossipsub=debug`
    /// (each validator logs to DIR/node-N.log).
    #[arg(long, default_value = DEFAULT_NODE_LOG)]
    node_log: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct IndexerArgs {
    /// Seconds of each load.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// transfer, pay or mixed.
    #[arg(long, default_value = "transfer")]
    mix: Mix,
    #[arg(long, default_value_t = DEFAULT_ACCOUNTS)]
    accounts: usize,
    /// Where the devnet's state and the logs go (wiped first).
    #[arg(long, default_value = "target/bench-indexer")]
    dir: PathBuf,
    /// The merit-node binary (default: next to this one).
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// The merit-indexer binary (default: next to this one).
    #[arg(long)]
    indexer_bin: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// A node's JSON-RPC address (repeat for more; load is spread over all).
    /// Default: the devnet's 127.0.0.1:8545..8548.
    #[arg(long = "rpc", value_name = "URL")]
    rpc: Vec<String>,
    /// Transactions offered per second.
    #[arg(long, default_value_t = 5_000, conflicts_with = "max")]
    rate: u64,
    /// Submit as fast as the nodes answer instead of at a fixed rate.
    #[arg(long)]
    max: bool,
    /// Seconds of submission.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// transfer, pay (3-leg split payments) or mixed (transfers of two tokens,
    /// 5-leg splits, combined payments and crossing offers).
    #[arg(long, default_value = "transfer")]
    mix: Mix,
    /// Funded accounts the load is spread over.
    #[arg(long, default_value_t = DEFAULT_ACCOUNTS)]
    accounts: usize,
    /// Raise the rate step by step until the chain stops keeping up.
    #[arg(long)]
    sweep: bool,
    /// First rate of a sweep.
    #[arg(long, default_value_t = 2_000)]
    sweep_start: u64,
    /// Rate factor between sweep steps.
    #[arg(long, default_value_t = 1.25)]
    sweep_factor: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct SuiteArgs {
    /// Validators of the devnet.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Seconds of each steady run.
    #[arg(long, default_value_t = 60)]
    steady_secs: u64,
    /// Seconds of load at half of saturation before the measured run at
    /// half, repeated (at most 5 times) until the transactions' TTL window
    /// of 1,000 blocks has turned over since the saturation runs (0: none).
    #[arg(long, default_value_t = 90)]
    warmup_secs: u64,
    /// Seconds of each sweep step.
    #[arg(long, default_value_t = 10)]
    step_secs: u64,
    /// First rate of the sweep.
    #[arg(long, default_value_t = 2_000)]
    sweep_start: u64,
    /// Rate factor between sweep steps.
    #[arg(long, default_value_t = 1.25)]
    sweep_factor: f64,
    /// transfer, pay or mixed.
    #[arg(long, default_value = "transfer")]
    mix: Mix,
    #[arg(long, default_value_t = DEFAULT_ACCOUNTS)]
    accounts: usize,
    /// Where the devnet's state and logs go (wiped first).
    #[arg(long, default_value = "target/bench-devnet")]
    dir: PathBuf,
    /// The merit-node binary (default: next to this one).
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// The validators' log filter, e.g. `warn,libp2p_gossipsub=debug`
    /// (each validator logs to DIR/node-N.log).
    #[arg(long, default_value = DEFAULT_NODE_LOG)]
    node_log: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let t = s
        .trim_start_matches("http://")
        .trim_start_matches("ws://")
        .trim_end_matches('/');
    t.parse()
        .map_err(|_| format!("`{s}` is not an address like http://127.0.0.1:8545"))
}

fn node_bin_next_to_me() -> PathBuf {
    bin_next_to_me("merit-node")
}

fn bin_next_to_me(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

async fn run_indexer(a: IndexerArgs) -> Result<bool, String> {
    let o = indexer::IndexerOptions {
        devnet: indexer::devnet_options(
            a.dir,
            a.node_bin.unwrap_or_else(node_bin_next_to_me),
            a.accounts.max(2),
            a.mix,
            a.json,
        ),
        indexer_bin: a
            .indexer_bin
            .unwrap_or_else(|| bin_next_to_me("merit-indexer")),
        duration: Duration::from_secs(a.duration.max(1)),
    };
    let result = indexer::run(&o).await?;
    if a.json {
        println!("{}", serde_json::json!(result));
    } else {
        println!("{}", indexer::table(&result));
    }
    Ok(result.at_saturation.load.passed() && result.at_half.load.passed())
}

fn print_reports(json: bool, reports: &[Report]) {
    if json {
        println!("{}", serde_json::json!(reports));
    } else {
        for r in reports {
            println!("{}", describe(r));
        }
    }
}

async fn load(a: LoadArgs) -> Result<bool, String> {
    let nodes: Vec<SocketAddr> = if a.rpc.is_empty() {
        (0..4)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], 8545 + i)))
            .collect()
    } else {
        a.rpc
            .iter()
            .map(|s| parse_addr(s))
            .collect::<Result<_, _>>()?
    };
    if a.duration == 0 {
        return Err("--duration must be at least 1".into());
    }
    let bench = tokio::task::block_in_place(|| Bench::prepare(nodes, a.accounts.max(2), a.mix))?;
    let spec = LoadSpec {
        rate: if a.max { None } else { Some(a.rate.max(1)) },
        duration: Duration::from_secs(a.duration),
        mix: a.mix,
        ..LoadSpec::default()
    };
    if a.sweep {
        let json = a.json;
        let s = sweep(
            &bench,
            &spec,
            a.sweep_start,
            a.sweep_factor,
            1_000_000,
            spec.duration,
            |r| {
                if !json {
                    println!("{}", describe(r));
                }
            },
        )
        .await?;
        if json {
            println!("{}", serde_json::json!(s));
        } else {
            println!(
                "saturation: kept up with {} tx/s; peak committed {:.0} tx/s",
                s.saturation_tps, s.peak_committed_tps
            );
        }
        return Ok(s.steps.iter().all(Report::passed));
    }
    let report = bench.run(&spec).await?;
    print_reports(a.json, std::slice::from_ref(&report));
    Ok(report.passed())
}

async fn run_suite(a: SuiteArgs) -> Result<bool, String> {
    let o = SuiteOptions {
        validators: a.validators,
        steady: Duration::from_secs(a.steady_secs.max(1)),
        warmup: Duration::from_secs(a.warmup_secs),
        sweep_step: Duration::from_secs(a.step_secs.max(1)),
        sweep_start: a.sweep_start,
        sweep_factor: a.sweep_factor,
        sweep_max: 1_000_000,
        accounts: a.accounts.max(2),
        mix: a.mix,
        dir: a.dir,
        node_bin: a.node_bin.unwrap_or_else(node_bin_next_to_me),
        node_log: a.node_log,
        quiet: a.json,
    };
    let result = suite::run(&o).await?;
    let passed = result
        .sweep
        .steps
        .iter()
        .chain(&result.fell_behind)
        .chain(&result.half_warmup)
        .chain([&result.at_saturation, &result.at_half])
        .all(Report::passed);
    if a.json {
        println!("{}", serde_json::json!(result));
    } else {
        println!("{}", suite::table(std::slice::from_ref(&result)));
    }
    Ok(passed)
}

async fn run_soak(a: SoakArgs) -> Result<bool, String> {
    if a.rate == 0 || a.minutes == 0 || a.run_secs == 0 {
        return Err("--rate, --minutes and --run-secs must be at least 1".into());
    }
    let mut devnet = indexer::devnet_options(
        a.dir,
        a.node_bin.unwrap_or_else(node_bin_next_to_me),
        a.accounts.max(2),
        a.mix,
        a.json,
    );
    devnet.validators = a.validators;
    devnet.node_log = a.node_log;
    let o = suite::SoakOptions {
        devnet,
        rate: a.rate,
        duration: Duration::from_secs(a.minutes * 60),
        run: Duration::from_secs(a.run_secs),
    };
    let result = suite::soak(&o).await?;
    if a.json {
        println!("{}", serde_json::json!(result));
    } else {
        println!("{}", suite::soak_table(&result));
    }
    Ok(result.passed())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Cmd::Load(a) => load(a).await,
            Cmd::Suite(a) => run_suite(a).await,
            Cmd::Soak(a) => run_soak(a).await,
            Cmd::Indexer(a) => run_indexer(a).await,
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("FAILED: acknowledged transactions were lost or committed twice");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `merit-genesis`: creates the keys and genesis file of a new merchant
//! alliance, and checks a genesis file before a node trusts it.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use merit_chain::Hash32;
use merit_chain::amount::format_amount;
use merit_chain::limits::MAX_VALIDATORS;
use merit_genesis::{FileError, Genesis, Host, NetworkPlan, NewNetwork};

const MAIN_EXAMPLES: &str = "\
Examples:
  # Keys and a genesis file for a 4-merchant alliance on this machine
  merit-genesis new --merchants 4 --out ./alliance

  # Check a genesis file you were given against the hash you were told
  merit-genesis verify ./alliance/genesis.json --hash <64 hex digits>";

const NEW_EXAMPLES: &str = "\
Examples:
  # 4 merchants on 127.0.0.1, p2p ports 26601-26604, RPC ports 8545-8548
  merit-genesis new --out ./alliance

  # 7 merchants (tolerates 2 faulty validators) on a shared host name
  merit-genesis new --merchants 7 --chain-id loyalty-1 --p2p-host node.example.com --out ./alliance

  # Replace the files of an earlier run
  merit-genesis new --out ./alliance --force

Files written:
  DIR/genesis.json            the genesis: merchants in validator order, no tokens, no balances
  DIR/merchant-N.keys.json    merchant N's account and validator seeds (mode 0600; secret)

Next steps: add tokens and initial balances to genesis.json if you want any, run
`merit-genesis verify DIR/genesis.json`, give each merchant its key file privately,
and share genesis.json and its hash with every merchant.";

const VERIFY_EXAMPLES: &str = "\
Examples:
  # Check a file and print its hash and a summary
  merit-genesis verify genesis.json

  # Also check that it is exactly the genesis the alliance agreed on
  merit-genesis verify genesis.json --hash 3b0f...e1c2

Exit status: 0 when the file is valid (and matches --hash), 1 otherwise.";

/// Creates and checks Merit genesis files.
///
/// A genesis file fixes a chain's id, its merchants and their validators,
/// and the tokens and balances it starts with. Every node of a chain must
/// load the same genesis; compare genesis hashes to be sure.
#[derive(Debug, Parser)]
#[command(name = "merit-genesis", version, after_help = MAIN_EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    New(NewArgs),
    Verify(VerifyArgs),
}

/// Creates fresh keys and a genesis file for a new merchant alliance.
///
/// Each merchant gets a random account key (owns its points, issues its
/// tokens) and a random validator key (signs consensus messages; also the
/// node's libp2p identity). Merchant i (from 0) listens for peers on
/// p2p-base-port + i and serves JSON-RPC on rpc-base-port + i.
#[derive(Debug, clap::Args)]
#[command(after_help = NEW_EXAMPLES)]
struct NewArgs {
    /// Number of merchants, each running one validator (n = 3f + 1 tolerates f faulty)
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=MAX_VALIDATORS as i64))]
    merchants: u16,
    /// Directory to write the files to; created if missing
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The chain id: 1 to 32 ASCII letters, digits, '-', '_' or '.'
    #[arg(long, value_name = "ID", default_value = "merit-1")]
    chain_id: String,
    /// Host (IP address or DNS name) of every validator's p2p and RPC address
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1", value_parser = parse_host)]
    p2p_host: Host,
    /// P2P port of the first merchant; the others follow
    #[arg(long, value_name = "PORT", default_value_t = 26601,
          value_parser = clap::value_parser!(u16).range(1..))]
    p2p_base_port: u16,
    /// JSON-RPC port of the first merchant; the others follow
    #[arg(long, value_name = "PORT", default_value_t = 8545,
          value_parser = clap::value_parser!(u16).range(1..))]
    rpc_base_port: u16,
    /// Genesis time in milliseconds since the Unix epoch [default: now]
    #[arg(long, value_name = "MS")]
    genesis_time_ms: Option<u64>,
    /// Replace genesis.json and key files that already exist in DIR
    #[arg(long)]
    force: bool,
}

/// Checks a genesis file and prints its hash and a summary.
///
/// The file must be well-formed JSON in the genesis format, every field must
/// be valid, and the ledger must accept the state it describes. With --hash,
/// the file must also hash to exactly that value; any edit to its content,
/// however small, changes the hash (formatting and whitespace do not).
#[derive(Debug, clap::Args)]
#[command(after_help = VERIFY_EXAMPLES)]
struct VerifyArgs {
    /// The genesis file to check
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The genesis hash the file must have (64 hex digits, as printed by `new` or `verify`)
    #[arg(long, value_name = "HEX", value_parser = parse_hash)]
    hash: Option<Hash32>,
}

fn parse_host(s: &str) -> Result<Host, String> {
    Host::parse_plain(s)
}

fn parse_hash(s: &str) -> Result<Hash32, String> {
    Hash32::from_hex(s.trim()).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::New(args) => run_new(args),
        Command::Verify(args) => run_verify(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn now_ms() -> anyhow::Result<u64> {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    u64::try_from(since_epoch.as_millis()).context("the system clock is out of range")
}

fn run_new(args: NewArgs) -> anyhow::Result<()> {
    let plan = NetworkPlan {
        chain_id: args.chain_id,
        genesis_time_ms: match args.genesis_time_ms {
            Some(ms) => ms,
            None => now_ms()?,
        },
        host: args.p2p_host,
        p2p_base_port: args.p2p_base_port,
        rpc_base_port: args.rpc_base_port,
    };
    let net = NewNetwork::generate(&plan, usize::from(args.merchants))
        .context("cannot lay out the alliance")?;
    let written = net.write(&args.out, args.force).map_err(|e| match e {
        FileError::AlreadyExists { .. } => {
            anyhow::anyhow!("{e}; pass --force to replace the existing files")
        }
        other => anyhow::Error::new(other).context("cannot write the alliance's files"),
    })?;

    let g = &net.genesis;
    let mut out = String::new();
    out += &format!(
        "Created chain `{}` with {} merchants (n={}, f={}).\n",
        g.chain_id(),
        g.merchants().len(),
        g.validators().len(),
        g.max_faulty()
    );
    out += &format!("genesis hash: {}\n", g.hash());
    out += "wrote:\n";
    for path in &written {
        out += &format!("  {}\n", path.display());
    }
    out += "Each merchant-N.keys.json holds secret seeds: give it only to merchant N, privately.\n";
    out += &format!(
        "Share {} and its hash with every merchant; they check it with `merit-genesis verify`.\n",
        written
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    print_stdout(&out)
}

fn run_verify(args: VerifyArgs) -> anyhow::Result<()> {
    let genesis = load_genesis(&args.file)?;
    if let Some(expected) = args.hash
        && expected != genesis.hash()
    {
        bail!(
            "genesis hash mismatch: {} is not the agreed genesis; it may have been tampered with\n  \
             expected: {expected}\n  actual:   {}",
            args.file.display(),
            genesis.hash()
        );
    }
    let mut out = summary(&genesis);
    if args.hash.is_some() {
        out += "The genesis hash matches the expected hash.\n";
    }
    print_stdout(&out)
}

/// Loads and validates a genesis file, saying whether it was unreadable or invalid.
fn load_genesis(path: &Path) -> anyhow::Result<Genesis> {
    Genesis::load(path).map_err(|e| match e {
        FileError::Io { .. } | FileError::TooLarge { .. } => {
            anyhow::anyhow!("cannot read genesis file {e}")
        }
        other => anyhow::anyhow!("invalid genesis file {other}"),
    })
}

fn summary(g: &Genesis) -> String {
    let name_of = |account: merit_chain::Address| {
        g.merchants()
            .iter()
            .find(|m| m.account == account)
            .map(|m| m.name.to_string())
            .unwrap_or_default()
    };
    let mut s = String::new();
    s += &format!("genesis hash: {}\n", g.hash());
    s += &format!("chain id:     {}\n", g.chain_id());
    s += &format!(
        "genesis time: {} ms ({})\n",
        g.genesis_time_ms(),
        utc_datetime(g.genesis_time_ms())
    );
    s += &format!(
        "validators:   n={}, f={}\n",
        g.validators().len(),
        g.max_faulty()
    );
    s += &format!("state root:   {}\n", g.state_root());
    s += &format!("merchants:    {}\n", g.merchants().len());
    for (i, m) in g.merchants().iter().enumerate() {
        s += &format!("  {}. {}\n", i + 1, m.name);
        s += &format!("     account        {}\n", m.account);
        s += &format!("     validator key  {}\n", m.validator_key);
        s += &format!("     p2p            {}\n", m.p2p_address);
        if let Some(rpc) = &m.rpc_address {
            s += &format!("     rpc            {rpc}\n");
        }
    }
    s += &format!("tokens:       {}\n", g.tokens().len());
    for t in g.tokens() {
        let expiry = t
            .expiry_days
            .map(|d| format!(", points expire after {d} days"))
            .unwrap_or_default();
        s += &format!(
            "  {} ({}), {} decimals, issued by {}: {} of max {} held at genesis{expiry}\n",
            t.symbol,
            t.name,
            t.decimals,
            name_of(t.issuer),
            format_amount(g.initial_supply(&t.symbol), t.decimals),
            format_amount(t.max_supply, t.decimals),
        );
    }
    let holders: std::collections::BTreeSet<_> = g.balances().iter().map(|(a, _, _)| *a).collect();
    s += &format!(
        "balances:     {} entries held by {} accounts\n",
        g.balances().len(),
        holders.len()
    );
    s
}

/// Formats milliseconds since the Unix epoch as a UTC date and time.
fn utc_datetime(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    // Civil date from a day count (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Writes to stdout, treating a closed pipe as the reader's choice.
fn print_stdout(s: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(s.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn utc_datetime_matches_known_instants() {
        assert_eq!(utc_datetime(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_datetime(1_767_225_600_000), "2026-01-01 00:00:00 UTC");
        assert_eq!(
            utc_datetime(951_782_400_000 + 3_723_000),
            "2000-02-29 01:02:03 UTC"
        );
        assert_eq!(utc_datetime(4_107_542_399_999), "2100-02-28 23:59:59 UTC");
    }
}

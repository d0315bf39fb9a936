//! `merit-genesis`: the key ceremony of a merchant alliance (`keygen` on
//! each merchant's machine, `assemble` with no secret, `verify`), and `new`,
//! every merchant's keys on one machine for tests and local trials.
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
use merit_genesis::keys::VALIDATOR_KEY_FILE_NAME;
use merit_genesis::keystore::{self, KdfParams};
use merit_genesis::netaddr::P2pAddress;
use merit_genesis::record::MERCHANT_FILE_NAME;
use merit_genesis::{
    FileError, Genesis, GenesisExtras, Host, KeyPasswords, MerchantFile, MerchantKeys, NetworkPlan,
    NewNetwork, WriteKeysError,
};
use zeroize::Zeroizing;

/// A password, wiped from memory when dropped.
type Password = Zeroizing<String>;

const MAIN_EXAMPLES: &str = "\
Examples: the key ceremony (no secret ever leaves the merchant that owns it)
  # 1. Every merchant, on its own machine: keys and the signed public record
  merit-genesis keygen --name \"Bean Counter Coffee\" --p2p-address /dns/bean.example.com/tcp/26601 --out ./bean

  # 2. Any one merchant, with every merchant.json it was sent: the genesis
  merit-genesis assemble --chain-id loyalty-1 --merchant bean.json --merchant books.json \\
      --merchant fuel.json --merchant air.json --tokens tokens.json --out genesis.json

  # 3. Every merchant: check the genesis against the hash agreed out of band
  merit-genesis verify genesis.json --hash <64 hex digits>

For tests and local trials only (every merchant's secrets on one machine):
  merit-genesis new --merchants 4 --out ./alliance";

const KEYGEN_EXAMPLES: &str = "\
Examples:
  # A merchant that runs a validator
  merit-genesis keygen --name \"Bean Counter Coffee\" --p2p-address /dns/bean.example.com/tcp/26601 --out ./bean

  # Passwords from a file and the environment instead of prompts
  MERIT_PASSWORD=... merit-genesis keygen --name Bean --p2p-address /ip4/203.0.113.7/tcp/26601 \\
      --password-file /etc/merit/node-password --out ./bean

  # A merchant that issues tokens but runs no validator
  merit-genesis keygen --name \"Corner Shop\" --no-validator --out ./corner

  # A new validator key for a merchant already in the alliance, keeping its account and
  # peer id; the alliance then votes on `merit gov propose rotate-key ./bean-next/merchant.json`
  merit-genesis keygen --name \"Bean Counter Coffee\" --p2p-address /dns/bean.example.com/tcp/26601 \\
      --issuer-key ./bean/issuer.json --p2p-key ./bean/p2p_key.json --out ./bean-next

Files written (key files mode 0600):
  DIR/validator_key.json   the validator key, encrypted with the node password (secret)
  DIR/p2p_key.json         the node's libp2p identity, not encrypted (secret; it signs no vote)
  DIR/issuer.json          the issuer key, a `merit` wallet key file encrypted with the issuer password (secret)
  DIR/merchant.json        the public record, signed by every key: send it to whoever assembles the genesis

Passwords: the node password comes from --password-file, else MERIT_NODE_PASSWORD, else a
prompt; the issuer password from --issuer-password-file, else MERIT_PASSWORD, else a prompt.";

const ASSEMBLE_EXAMPLES: &str = "\
Examples:
  merit-genesis assemble --chain-id loyalty-1 \\
      --merchant bean.json --merchant books.json --merchant fuel.json --merchant air.json \\
      --tokens tokens.json --out genesis.json

The merchants are the validator set in the order given. --tokens FILE holds
{\"tokens\": [...], \"balances\": [...]} (and optionally \"consensus\": {...}) in the
genesis file's own shapes. Every proof of possession is checked; a forged or
missing proof, a key used twice, or a field changed after signing is refused,
naming the file.

Next: send genesis.json to every merchant, and tell them its hash out of band
(a call, not the same e-mail); each runs `merit-genesis verify genesis.json --hash H`.";

const NEW_EXAMPLES: &str = "\
For tests and local trials only: it makes every merchant's secret keys on this
one machine, so whoever runs it can sign for the whole alliance. A real
alliance runs the key ceremony: `keygen` on each merchant's machine, then
`assemble` and `verify`.

Examples:
  # 4 merchants on 127.0.0.1, p2p ports 26601-26604, RPC ports 8545-8548
  MERIT_NODE_PASSWORD=test MERIT_PASSWORD=test merit-genesis new --out ./alliance

  # 7 merchants (tolerates 2 faulty validators) on a shared host name
  merit-genesis new --merchants 7 --chain-id loyalty-1 --p2p-host node.example.com --out ./alliance

  # Replace the files of an earlier run
  merit-genesis new --out ./alliance --force

Files written:
  DIR/genesis.json       the genesis: merchants in validator order, no tokens, no balances
  DIR/merchant-N/        merchant N's files, as `keygen` writes them (key files mode 0600; secret)";

const VERIFY_EXAMPLES: &str = "\
Examples:
  # Check a file and print its hash and a summary
  merit-genesis verify genesis.json

  # Also check that it is exactly the genesis the alliance agreed on
  merit-genesis verify genesis.json --hash 3b0f...e1c2

Every merchant's proofs of possession are checked again.
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
    Keygen(KeygenArgs),
    Assemble(AssembleArgs),
    Verify(VerifyArgs),
    New(NewArgs),
}

/// Makes one merchant's keys on this machine and its signed public record.
///
/// Run it on the merchant's own machine: the secret keys never leave it.
/// Only merchant.json, which holds no secret, is sent to the others.
#[derive(Debug, clap::Args)]
#[command(after_help = KEYGEN_EXAMPLES)]
struct KeygenArgs {
    /// The merchant's name, as the alliance will see it
    #[arg(long, value_name = "NAME")]
    name: String,
    /// Where this merchant's validator listens for peers, e.g. /dns/node.example.com/tcp/26601
    #[arg(long, value_name = "MULTIADDR", value_parser = parse_p2p_address,
          required_unless_present = "no_validator")]
    p2p_address: Option<P2pAddress>,
    /// Issue tokens without running a validator: no validator or p2p key
    #[arg(long, conflicts_with = "p2p_address")]
    no_validator: bool,
    /// Directory to write the files to; created (mode 0700) if missing
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// File holding the password of the validator key [default: MERIT_NODE_PASSWORD, else a prompt]
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// File holding the password of the issuer key [default: MERIT_PASSWORD, else a prompt]
    #[arg(long, value_name = "FILE")]
    issuer_password_file: Option<PathBuf>,
    /// Sign the record with this existing issuer key instead of making a new account: new
    /// validator keys for a merchant already in the alliance (`merit gov propose rotate-key`).
    /// No issuer.json is written
    #[arg(long, value_name = "FILE", conflicts_with = "no_validator")]
    issuer_key: Option<PathBuf>,
    /// Keep this p2p key (a p2p_key.json) instead of making a new one, so that the node keeps
    /// its peer id across a validator key rotation
    #[arg(long, value_name = "FILE", conflicts_with = "no_validator")]
    p2p_key: Option<PathBuf>,
    /// Replace files that already exist in DIR
    #[arg(long)]
    force: bool,
}

/// Assembles a genesis file from the merchants' signed records.
///
/// It needs no secret. Every merchant's proofs of possession are checked,
/// and no key, name or p2p address may appear twice.
#[derive(Debug, clap::Args)]
#[command(after_help = ASSEMBLE_EXAMPLES)]
struct AssembleArgs {
    /// The chain id: 1 to 32 ASCII letters, digits, '-', '_' or '.'
    #[arg(long, value_name = "ID")]
    chain_id: String,
    /// A merchant.json from `keygen`; repeat once per merchant, in validator order
    #[arg(long = "merchant", value_name = "FILE", required = true)]
    merchants: Vec<PathBuf>,
    /// Tokens and initial balances, in the genesis file's own JSON shapes
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// The genesis file to write
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Genesis time in milliseconds since the Unix epoch [default: now]
    #[arg(long, value_name = "MS")]
    genesis_time_ms: Option<u64>,
    /// Replace the output file if it exists
    #[arg(long)]
    force: bool,
}

/// Creates every merchant's keys and a genesis file on this one machine.
///
/// FOR TESTS AND LOCAL TRIALS ONLY: whoever runs it holds every merchant's
/// secrets. Each merchant gets the files `keygen` writes, in DIR/merchant-N/.
/// Merchant i (from 0) listens for peers on p2p-base-port + i and serves
/// JSON-RPC on rpc-base-port + i.
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
    /// File holding the password of every validator key [default: MERIT_NODE_PASSWORD, else a prompt]
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// File holding the password of every issuer key [default: MERIT_PASSWORD, else a prompt]
    #[arg(long, value_name = "FILE")]
    issuer_password_file: Option<PathBuf>,
    /// Replace genesis.json and key files that already exist in DIR
    #[arg(long)]
    force: bool,
}

/// Checks a genesis file and prints its hash and a summary.
///
/// The file must be well-formed JSON in the genesis format, every field must
/// be valid, every merchant's proofs of possession must hold, and the ledger
/// must accept the state it describes. With --hash, the file must also hash
/// to exactly that value; any edit to its content, however small, changes
/// the hash (formatting and whitespace do not).
#[derive(Debug, clap::Args)]
#[command(after_help = VERIFY_EXAMPLES)]
struct VerifyArgs {
    /// The genesis file to check
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The genesis hash the file must have (64 hex digits, as printed by `assemble`, `verify` and `merit-node`)
    #[arg(long, value_name = "HEX", value_parser = parse_hash)]
    hash: Option<Hash32>,
}

/// The environment variable of the validator key's password.
const ENV_NODE_PASSWORD: &str = "MERIT_NODE_PASSWORD";
/// The environment variable of the issuer key's password (the wallet's).
const ENV_ISSUER_PASSWORD: &str = "MERIT_PASSWORD";

fn parse_p2p_address(s: &str) -> Result<P2pAddress, String> {
    P2pAddress::parse(s).map_err(|e| e.to_string())
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
        Command::Keygen(args) => run_keygen(args),
        Command::Assemble(args) => run_assemble(args),
        Command::Verify(args) => run_verify(args),
        Command::New(args) => run_new(args),
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

/// A password for new key files: from `file`, else `env`, else asked twice
/// on the terminal.
fn new_password(
    file: Option<&Path>,
    env: &str,
    flag: &str,
    what: &str,
) -> anyhow::Result<Password> {
    if let Some(path) = file {
        return keystore::read_password_file(path).with_context(|| format!("the {what} password"));
    }
    if let Ok(p) = std::env::var(env) {
        if p.is_empty() {
            bail!("{env} is empty");
        }
        return Ok(Password::new(p));
    }
    let no_terminal = || {
        anyhow::anyhow!(
            "cannot ask for the {what} password without a terminal; set {env} or pass {flag}"
        )
    };
    let first = rpassword::prompt_password(format!("New password for the {what}: "))
        .map(Password::new)
        .map_err(|_| no_terminal())?;
    if first.is_empty() {
        bail!("the password must not be empty");
    }
    let second = rpassword::prompt_password("Repeat the password: ")
        .map(Password::new)
        .map_err(|_| no_terminal())?;
    if *first != *second {
        bail!("the passwords do not match");
    }
    Ok(first)
}

/// The password of an existing key file: from `file`, else `env`, else
/// asked once on the terminal.
fn existing_password(
    file: Option<&Path>,
    env: &str,
    flag: &str,
    what: &str,
) -> anyhow::Result<Password> {
    if let Some(path) = file {
        return keystore::read_password_file(path).with_context(|| format!("the {what} password"));
    }
    if let Ok(p) = std::env::var(env) {
        return Ok(Password::new(p));
    }
    rpassword::prompt_password(format!("Password of the {what}: "))
        .map(Password::new)
        .map_err(|_| {
            anyhow::anyhow!(
                "cannot ask for the {what} password without a terminal; set {env} or pass {flag}"
            )
        })
}

fn write_error(e: WriteKeysError) -> anyhow::Error {
    match e {
        WriteKeysError::File(FileError::AlreadyExists { .. })
        | WriteKeysError::Key(keystore::KeyFileError::Exists { .. }) => {
            anyhow::anyhow!("{e}; pass --force to replace the existing files")
        }
        other => anyhow::Error::new(other).context("cannot write the key files"),
    }
}

fn run_keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let mut keys = MerchantKeys::generate(args.name.clone(), !args.no_validator)?;
    if let Some(path) = &args.p2p_key {
        let p2p = merit_genesis::p2p_key::load_p2p_key(path)
            .with_context(|| format!("the p2p key {}", path.display()))?;
        if let Some(node) = &mut keys.node {
            node.p2p = p2p;
        }
    }
    if let Some(path) = &args.issuer_key {
        let password = existing_password(
            args.issuer_password_file.as_deref(),
            ENV_ISSUER_PASSWORD,
            "--issuer-password-file",
            "issuer key",
        )?;
        keys.account = keystore::open(path, &password)
            .with_context(|| format!("the issuer key {}", path.display()))?;
    }
    let record = keys
        .sign(args.p2p_address.as_ref())
        .map_err(|e| anyhow::anyhow!("invalid merchant: {e}"))?;
    let node_password = if args.no_validator {
        Password::new(String::new())
    } else {
        new_password(
            args.password_file.as_deref(),
            ENV_NODE_PASSWORD,
            "--password-file",
            "validator key",
        )?
    };
    let issuer_password = if args.issuer_key.is_some() {
        Password::new(String::new())
    } else {
        new_password(
            args.issuer_password_file.as_deref(),
            ENV_ISSUER_PASSWORD,
            "--issuer-password-file",
            "issuer key",
        )?
    };
    let passwords = KeyPasswords {
        node: &node_password,
        issuer: &issuer_password,
        kdf: KdfParams::DEFAULT,
    };
    let written = if args.issuer_key.is_some() {
        keys.write_without_issuer(&args.out, &record, &passwords, args.force)
    } else {
        keys.write(&args.out, &record, &passwords, args.force)
    }
    .map_err(write_error)?;

    let mut out = String::new();
    out += &format!("Made the keys of `{}`.\n", record.name());
    out += &format!("  account (issuer)  {}\n", record.account());
    if let Some(v) = &record.validator {
        out += &format!("  validator key     {}\n", v.key);
        out += &format!("  p2p key           {}\n", v.p2p_key);
        out += &format!("  p2p address       {}\n", v.p2p_address);
    }
    out += "wrote:\n";
    for path in &written {
        out += &format!("  {}\n", path.display());
    }
    let record_path = args.out.join(MERCHANT_FILE_NAME);
    out += &if args.issuer_key.is_some() {
        format!(
            "Propose the rotation with it (it holds no secret):\n  \
             merit gov propose rotate-key {}\n\
             Once it passes, start the node with --next-validator-key-file {}\n",
            record_path.display(),
            args.out.join(VALIDATOR_KEY_FILE_NAME).display()
        )
    } else {
        format!(
            "Send {} to whoever assembles the genesis, or, to join a running alliance, to a\n\
             merchant of it, who proposes it with `merit gov propose add-merchant`: it holds no secret.\n",
            record_path.display()
        )
    };
    out += "Keep every other file on this machine; never send or copy them anywhere else.\n";
    print_stdout(&out)
}

fn run_assemble(args: AssembleArgs) -> anyhow::Result<()> {
    let mut merchants = Vec::with_capacity(args.merchants.len());
    for path in &args.merchants {
        let file = MerchantFile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        merchants.push((path.display().to_string(), file));
    }
    let extras = match &args.tokens {
        Some(path) => Some((
            path.display().to_string(),
            GenesisExtras::load(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        )),
        None => None,
    };
    let genesis_time_ms = match args.genesis_time_ms {
        Some(ms) => ms,
        None => now_ms()?,
    };
    let (file, genesis) =
        merit_genesis::assemble(&args.chain_id, genesis_time_ms, &merchants, extras)?;
    fsutil_write(&args.out, &file.to_json_pretty(), args.force)?;
    let mut out = summary(&genesis);
    out += &format!("wrote {}\n", args.out.display());
    out += "Every merchant's proofs of possession hold.\n";
    out += &format!(
        "Send {} to every merchant and tell them the genesis hash out of band; each runs\n  \
         merit-genesis verify {} --hash {}\n",
        args.out.display(),
        args.out.display(),
        genesis.hash()
    );
    print_stdout(&out)
}

/// Writes a new public file, refusing to replace one unless `force`.
fn fsutil_write(path: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    use std::io::ErrorKind;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut f = options.open(path).map_err(|e| match e.kind() {
        ErrorKind::AlreadyExists => anyhow::anyhow!(
            "{} already exists; pass --force to replace it",
            path.display()
        ),
        _ => anyhow::anyhow!("cannot write {}: {e}", path.display()),
    })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
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
    let node_password = new_password(
        args.password_file.as_deref(),
        ENV_NODE_PASSWORD,
        "--password-file",
        "validator keys",
    )?;
    let issuer_password = new_password(
        args.issuer_password_file.as_deref(),
        ENV_ISSUER_PASSWORD,
        "--issuer-password-file",
        "issuer keys",
    )?;
    let passwords = KeyPasswords {
        node: &node_password,
        issuer: &issuer_password,
        kdf: KdfParams::DEFAULT,
    };
    let written = net
        .write(&args.out, &passwords, args.force)
        .map_err(write_error)?;

    let g = &net.genesis;
    let mut out = String::new();
    out += &format!(
        "Created chain `{}` with {} merchants (n={}, f={}) FOR TESTS AND LOCAL TRIALS.\n",
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
    out += "Each merchant-N directory holds merchant N's secret keys, all made on this machine.\n";
    eprintln!(
        "WARNING: `merit-genesis new` makes EVERY merchant's secret keys on this one machine:\n\
         whoever runs it can sign for the whole alliance. Use it for tests and local trials only;\n\
         a real alliance runs the key ceremony (keygen on each merchant's machine, then\n\
         assemble and verify; see docs/operations.md)."
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
    s += &format!(
        "merchants:    {} (every proof of possession holds)\n",
        g.merchants().len()
    );
    for (i, m) in g.merchants().iter().enumerate() {
        s += &format!("  {}. {}\n", i + 1, m.name);
        s += &format!("     account        {}\n", m.account);
        match &m.validator {
            Some(v) => {
                s += &format!("     validator key  {}\n", v.key);
                s += &format!("     p2p key        {}\n", v.p2p_key);
                s += &format!("     p2p            {}\n", v.p2p_address);
            }
            None => s += "     validator      none (issues tokens only)\n",
        }
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

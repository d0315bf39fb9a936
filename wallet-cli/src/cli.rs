//! The command line: every command, flag and `--help` example.

use clap::{Args, Parser, Subcommand};

use merit_api::params::PROPOSAL_STATUSES;

use crate::gov::DEFAULT_VOTING_BLOCKS;
use crate::rpc::DEFAULT_RPC_URL;
use crate::submit::{DEFAULT_TX_TTL_BLOCKS, DEFAULT_WAIT_TIMEOUT_SECS};

const MAIN_EXAMPLES: &str = "\
Examples:
  merit keys import-devnet                  # the devnet's public demo keys
  merit --from alice balance
  merit --from alice send BEAN 12.50 bob
  merit --from alice pay BEAN --order A-1001 --split merchant-1=90,carol=10
  merit --from merchant-1/2 send BEAN 5 alice  # pay from sub-account 2
  merit --from alice offer place --sell BEAN --buy BOOK --amount 10 --price 0.5
  merit book BOOK BEAN
  merit gov list --status open              # alliance proposals
  merit status --rpc http://127.0.0.1:8546

Environment:
  MERIT_RPC        node URL (default http://127.0.0.1:8545)
  MERIT_FROM       key that signs, when --from is not given
  MERIT_PASSWORD   key password, instead of the prompt (for scripts)
  MERIT_CHAIN      pinned chain to check the node against, when several are
  MERIT_HOME       wallet directory (default ~/.merit; keys in $MERIT_HOME/keys,
                   pinned chains in $MERIT_HOME/chains)

Exit codes: 0 ok, 1 rejected or failed, 2 usage error, 3 node unreachable or
node error, 4 submitted but still pending when the wait timed out, 5 the node
cannot be trusted (its answer failed a check against the pinned chain).";

/// The Merit wallet: keys, points, payments and merchant tokens.
#[derive(Debug, Parser)]
#[command(name = "merit", version, after_help = MAIN_EXAMPLES)]
pub struct Cli {
    /// JSON-RPC URL of a Merit node.
    #[arg(long, global = true, env = "MERIT_RPC", default_value = DEFAULT_RPC_URL, value_name = "URL")]
    pub rpc: String,

    /// The key that signs (a name from `merit keys list`); NAME/N pays from
    /// its sub-account N.
    #[arg(long, global = true, env = "MERIT_FROM", value_name = "NAME[/N]")]
    pub from: Option<String>,

    /// Print machine-readable JSON on stdout (shapes in docs/cli.md).
    #[arg(long, global = true)]
    pub json: bool,

    /// The pinned chain to check the node's answers against (see `merit
    /// chain list`); needed only when several are pinned.
    #[arg(long, global = true, env = "MERIT_CHAIN", value_name = "NAME")]
    pub chain: Option<String>,

    /// Believe the node without checking its proofs (balances, decimals
    /// and outcomes are then only as honest as the node).
    #[arg(long, global = true)]
    pub trust_node: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, import, list and export keys.
    #[command(
        subcommand,
        after_help = "\
Examples:
  merit keys new alice
  merit keys list
  MERIT_PASSWORD=devnet merit keys import-devnet
Key files live in $MERIT_HOME/keys (default ~/.merit/keys), encrypted with the password."
    )]
    Keys(KeysCommand),

    /// Show balances, locked points and points about to expire.
    #[command(after_help = "\
Examples:
  merit --from alice balance
  merit balance bob
  merit balance merchant-1/2            # its sub-account 2
  merit balance merchant-1 --all        # the address and every sub-account, totalled
  merit balance mrt1… --json
With --all, the count of sub-accounts and every account's holdings are proven
at one certified block, so the total leaves none out.")]
    Balance {
        /// A key name or an address, with /N for a sub-account (default: --from).
        #[arg(value_name = "NAME|ADDRESS[/N]")]
        who: Option<String>,
        /// Every account of the address: itself and each opened
        /// sub-account, and their total per token.
        #[arg(long)]
        all: bool,
    },

    /// Transfer points to a key name or an address.
    #[command(after_help = "\
Examples:
  merit --from alice send BEAN 12.50 bob
  merit --from alice send BEAN 5 mrt1… --memo \"thanks\"
  merit --from alice send BEAN 5 merchant-1/2      # to its sub-account 2
  merit --from alice send BEAN 5 bob --no-wait")]
    Send {
        /// Token symbol, e.g. BEAN.
        token: String,
        /// Amount in token units, e.g. 12.50.
        amount: String,
        /// Receiver: a key name or an address, with /N for a sub-account.
        #[arg(value_name = "TO")]
        to: String,
        /// Free text (at most 256 bytes).
        #[arg(long)]
        memo: Option<String>,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Pay an order, split atomically among up to 50 receivers, in up to 5
    /// tokens at once (a combined payment).
    #[command(after_help = "\
Examples:
  merit --from alice pay BEAN --order A-1001 --split merchant-1=90,carol=10
  merit --from alice pay BEAN --order A-1002 --split mrt1…=45.50 --split mrt1…=4.50
  merit --from alice pay --order A-1003 --split merchant-1=30:BEAN,merchant-1=20:BOOK
  merit --from alice pay BEAN --order A-1004 --split merchant-1/2=45,carol=5
Every leg is paid or none is. A repeated order id is rejected with DuplicateOrderId.")]
    Pay {
        /// Token symbol of the legs that name none. Omit it when every leg
        /// names its own.
        token: Option<String>,
        /// The merchant's order id, unique per payer forever (at most 64 bytes).
        #[arg(long = "order", value_name = "ID")]
        order: String,
        /// Receivers and their shares: ADDR=AMOUNT, or ADDR=AMOUNT:TOKEN for a
        /// leg in its own token; comma-separated or repeated. ADDR may be a
        /// key name, and ADDR/N (NAME/N) is sub-account N.
        #[arg(
            long,
            value_name = "ADDR=AMOUNT[:TOKEN],...",
            value_delimiter = ',',
            required = true
        )]
        split: Vec<String>,
        /// Free text (at most 256 bytes).
        #[arg(long)]
        memo: Option<String>,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Pay exactly an amount of one token, paying for it in another at the
    /// market's price: the payment crosses the order books on its way (a
    /// path payment).
    #[command(
        name = "pay-path",
        after_help = "\
Examples:
  merit --from alice pay-path BOOK 5 bookshop --send-token BEAN --send-max 12
  merit --from alice pay-path BOOK 5 bookshop --send-token BEAN --send-max 12 --path FUEL
  merit --from alice pay-path BOOK 5 bookshop --send-token BEAN --send-max 12 --path ''
TO gets exactly the amount, or nothing happens: the payment is rejected with
SendMaxExceeded if it would cost more than --send-max, and with NoPath if the
books cannot deliver it. Without --path the wallet takes the cheapest route that
merit_findPaths finds now; --path '' trades directly."
    )]
    PayPath {
        /// The token TO receives.
        dest_token: String,
        /// What TO receives, in DEST_TOKEN units.
        dest_amount: String,
        /// Receiver: a key name or an address, with /N for a sub-account.
        #[arg(value_name = "TO")]
        to: String,
        /// The token you pay with.
        #[arg(long, value_name = "TOKEN")]
        send_token: String,
        /// The most you will pay, in --send-token units.
        #[arg(long, value_name = "AMOUNT")]
        send_max: String,
        /// The tokens to trade through, in order, comma-separated (at most 3).
        #[arg(long, value_name = "TOKEN,...", value_delimiter = ',')]
        path: Option<Vec<String>>,
        /// The merchant's order id, unique per payer forever (at most 64 bytes).
        #[arg(long = "order", value_name = "ID")]
        order: Option<String>,
        /// Free text (at most 256 bytes).
        #[arg(long)]
        memo: Option<String>,
        /// The decimals of --send-token, instead of asking the node (for
        /// offline signing; --token-decimals gives DEST_TOKEN's).
        #[arg(long, value_name = "N")]
        send_decimals: Option<u8>,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Refund part of a payment you received, to its payer.
    #[command(after_help = "\
Examples:
  merit --from merchant-1 refund 3f2a…c9 10
  merit --from merchant-1 refund 3f2a…c9 5 --token BOOK
  merit --from merchant-1 refund 3f2a…c9 10 --token BEAN --token-decimals 2 --sign-only \\
      --chain-id merit-devnet --expires-at-height 500")]
    Refund {
        /// The payment's transaction hash.
        payment: String,
        /// Amount in units of the token refunded.
        amount: String,
        /// Which of the payment's tokens to refund. Needed when it paid in
        /// several, or to sign offline.
        #[arg(long)]
        token: Option<String>,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Redeem (burn) points.
    #[command(after_help = "\
Examples:
  merit --from alice redeem BEAN 25 --memo \"free coffee\"")]
    Redeem {
        /// Token symbol.
        token: String,
        /// Amount in token units.
        amount: String,
        /// Free text (at most 256 bytes).
        #[arg(long)]
        memo: Option<String>,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// List what moved in an account, newest first: amounts, counterparties, memos.
    #[command(after_help = "\
Examples:
  merit --from alice history
  merit history bob --limit 5
  merit history bob --token BEAN      # only what moved BEAN
  merit history merchant-1/2          # what moved in its sub-account 2
  merit history bob --cursor 43:0    # the next page, from a previous next_cursor")]
    History {
        /// A key name or an address, with /N for a sub-account (default: --from).
        #[arg(value_name = "NAME|ADDRESS[/N]")]
        who: Option<String>,
        /// Entries per page (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Continue after this cursor (HEIGHT:INDEX).
        #[arg(long)]
        cursor: Option<String>,
        /// Only entries that moved this token.
        #[arg(long, value_name = "SYMBOL")]
        token: Option<String>,
    },

    /// What moved in an account over a UTC period: opening and closing balances per token and every posting.
    #[command(after_help = "\
Examples:
  merit statement merchant-1 --day 2026-12-04
  merit statement alice --since 2026-12-01 --until 2026-12-04T12:00Z --token BEAN
  merit statement merchant-1 --day 2026-12-04 --csv > 2026-12-04.csv
  merit statement merchant-1/2 --day 2026-12-04      # sub-account 2 only")]
    Statement {
        /// A key name or an address, with /N for a sub-account (default: --from).
        #[arg(value_name = "NAME|ADDRESS[/N]")]
        who: Option<String>,
        /// One UTC day, YYYY-MM-DD.
        #[arg(long, conflicts_with_all = ["since", "until"])]
        day: Option<String>,
        /// The start of the period (included): YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z or milliseconds.
        #[arg(long, value_name = "TIME", requires = "until")]
        since: Option<String>,
        /// The end of the period (excluded), in the same forms.
        #[arg(long, value_name = "TIME", alias = "to", requires = "since")]
        until: Option<String>,
        /// Only this token.
        #[arg(long, value_name = "SYMBOL")]
        token: Option<String>,
        /// One CSV row per posting, between an opening and a closing row per token.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },

    /// Check a day's statement against balances proven at both ends of the day and every posting against its certified receipt.
    #[command(after_help = "\
Examples:
  merit reconcile merchant-1 --day 2026-12-04

Exits 5 and lists each discrepancy when the node's statement does not add up to what its proofs show.")]
    Reconcile {
        /// A key name or an address, with /N for a sub-account (default: --from).
        #[arg(value_name = "NAME|ADDRESS[/N]")]
        who: Option<String>,
        /// The UTC day, YYYY-MM-DD.
        #[arg(long)]
        day: String,
    },

    /// Exchange one merchant's points for another's: place, cancel and list offers.
    #[command(
        subcommand,
        after_help = "\
Examples:
  merit --from alice offer place --sell BEAN --buy BOOK --amount 10 --price 0.5
  merit --from alice offer list
  merit --from alice offer cancel 3
  merit book BEAN BOOK"
    )]
    Offer(OfferCommand),

    /// Show the order book of a pair of tokens: both sides, best price first.
    #[command(after_help = "\
Examples:
  merit book BEAN BOOK            # offers selling BEAN for BOOK, and BOOK for BEAN
  merit book BEAN BOOK --limit 5 --json
Prices are shown as units of the second token per one unit of the first.")]
    Book {
        /// The token the listed offers sell.
        sell: String,
        /// The token they want in return.
        buy: String,
        /// Offers shown per side (1 to 100).
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },

    /// Guaranteed trades: lock points for a payee until released or refunded.
    #[command(
        subcommand,
        after_help = "\
Examples:
  merit --from alice escrow create BEAN 25 merchant-1 --deadline 7d
  merit --from alice escrow release 9c41…e0
  merit --from merchant-1 escrow refund 9c41…e0
  merit escrow show 9c41…e0"
    )]
    Escrow(EscrowCommand),

    /// Merchant commands: create and mint tokens; token info.
    #[command(
        subcommand,
        after_help = "\
Examples:
  merit --from merchant-1 token create CAKE --name \"Cake Club\" --decimals 2 --max-supply 1000000
  merit --from merchant-1 token mint CAKE 50 alice
  merit token info CAKE
  merit token list"
    )]
    Token(TokenCommand),

    /// Alliance governance: propose changes, vote, list and show proposals.
    #[command(
        subcommand,
        after_help = "\
Only the merchants whose validators are in force propose and vote. A
proposal passes once a quorum (n - f) of the validator set approves it
before its voting ends, and takes effect a few blocks later.

Examples:
  merit --from merchant-1 gov propose upgrade 2 250000
  merit --from merchant-1 gov propose remove-merchant merchant-4 --voting-blocks 500
  merit --from merchant-2 gov vote 1 yes
  merit gov list --status open
  merit gov show 1"
    )]
    Gov(GovCommand),

    /// Show a transaction, submit a signed one, or decode one.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "\
Examples:
  merit tx 3f2a…c9                  # show a transaction
  merit tx send 0a0c6d65…            # submit a transaction signed with --sign-only
  merit --from alice send BEAN 1 bob --sign-only | merit tx send -
  merit tx decode 0a0c6d65…          # inspect signed bytes offline"
    )]
    Tx(TxArgs),

    /// Pin a chain, so the wallet checks its nodes against the alliance's
    /// signatures instead of believing them.
    #[command(
        subcommand,
        after_help = "\
Examples:
  merit chain add alliance --genesis genesis.json
  merit chain add alliance --rpc http://10.0.0.5:8545   # trust on first use
  merit chain list
  merit chain checkpoint alliance
Pins live in $MERIT_HOME/chains (default ~/.merit/chains)."
    )]
    Chain(ChainCommand),

    /// Sub-accounts: separate balances under one key, e.g. one per store.
    #[command(
        subcommand,
        name = "sub-account",
        after_help = "\
Examples:
  merit --from merchant-1 sub-account open \"Harbour St store\"
  merit sub-account list merchant-1
  merit --from alice send BEAN 5 merchant-1/1     # pay into sub-account 1
  merit --from merchant-1/1 send BEAN 2 bob       # pay out of it
  merit balance merchant-1 --all                  # every account, totalled
An account is written NAME/N or ADDRESS/N; NAME or ADDRESS alone is the
address's own account (N = 0)."
    )]
    SubAccount(SubAccountCommand),

    /// Show the node's chain, height and health.
    #[command(after_help = "\
Examples:
  merit status
  merit status --rpc http://127.0.0.1:8546 --json")]
    Status,

    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  merit completions bash > ~/.local/share/bash-completion/completions/merit
  merit completions zsh > \"${fpath[1]}/_merit\"
  merit completions fish > ~/.config/fish/completions/merit.fish")]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum SubAccountCommand {
    /// Open the signing key's next sub-account; prints it as ADDRESS/N.
    #[command(after_help = "\
Sub-accounts are numbered 1, 2, … in the order they are opened, and are never
closed. The label is at most 32 bytes.

Examples:
  merit --from merchant-1 sub-account open \"Harbour St store\"
  merit --from merchant-1 sub-account open kiosk --json")]
    Open {
        /// What the sub-account stands for, e.g. a store (at most 32 bytes).
        label: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// List the sub-accounts an address has opened.
    #[command(after_help = "\
Examples:
  merit --from merchant-1 sub-account list
  merit sub-account list mrt1… --json")]
    List {
        /// A key name or an address (default: --from).
        #[arg(value_name = "NAME|ADDRESS")]
        who: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Pin a chain from its genesis file, or from the node at --rpc (trust
    /// on first use: compare the genesis hash it prints with your
    /// alliance's).
    #[command(after_help = "\
Examples:
  merit chain add alliance --genesis genesis.json
  merit chain add alliance --rpc http://10.0.0.5:8545
  merit chain add alliance --genesis new-genesis.json --force")]
    Add {
        /// A name for the chain (letters, digits, '-' and '_').
        name: String,
        /// The alliance's genesis file.
        #[arg(long, value_name = "FILE")]
        genesis: Option<std::path::PathBuf>,
        /// Replace a pin of the same name.
        #[arg(long)]
        force: bool,
    },
    /// List the pinned chains and their checkpoints.
    #[command(after_help = "\
Examples:
  merit chain list
  merit chain list --json")]
    List,
    /// Show a chain's checkpoint, the last block the wallet verified, or
    /// set a fresh one from a block hash you trust (needed after the
    /// trusting period).
    #[command(after_help = "\
Examples:
  merit chain checkpoint
  merit chain checkpoint alliance --json
  merit chain checkpoint alliance --height 120500 --hash 3f2a…c9
A block hash to trust comes from a source other than the node: your alliance, or a wallet you run.")]
    Checkpoint {
        /// The chain (default: --chain, or the only one pinned).
        name: Option<String>,
        /// The height of a block to trust (with --hash).
        #[arg(long, requires = "hash")]
        height: Option<u64>,
        /// The hash of the block at --height.
        #[arg(long, requires = "height", value_name = "HEX")]
        hash: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new random key.
    #[command(after_help = "\
Examples:
  merit keys new alice
  MERIT_PASSWORD=… merit keys new pos-terminal-7 --json")]
    New {
        /// Key name: a-z, A-Z, 0-9, `-`, `_`.
        name: String,
        /// Replace an existing key of that name.
        #[arg(long)]
        force: bool,
    },

    /// List keys and their addresses (no password needed).
    #[command(after_help = "\
Examples:
  merit keys list
  merit keys list --json")]
    List,

    /// Show a key's address and file.
    #[command(after_help = "\
Examples:
  merit keys show alice")]
    Show { name: String },

    /// Import a secret seed (64 hex digits) from a hidden prompt or stdin,
    /// or an encrypted key file.
    #[command(after_help = "\
Examples:
  merit keys import cold-merchant                 # asks for the seed, hidden
  merit keys export alice | merit keys import alice-copy
  merit keys import bean-issuer --key-file ./bean/issuer.json   # from `merit-genesis keygen`")]
    Import {
        name: String,
        /// Take the key from an encrypted key file, such as the issuer.json
        /// of `merit-genesis keygen`; it keeps that file's password.
        #[arg(long, value_name = "PATH")]
        key_file: Option<std::path::PathBuf>,
        /// Replace an existing key of that name.
        #[arg(long)]
        force: bool,
    },

    /// Print a key's secret seed (hex), after the password.
    #[command(after_help = "\
Examples:
  merit keys export alice > alice.seed    # keep it offline; anyone with it owns the key")]
    Export { name: String },

    /// Import the devnet's public demo keys: merchant-1..merchant-4, alice, bob, carol.
    #[command(after_help = "\
These keys are public (derived from fixed labels): use them only on a devnet.

Examples:
  MERIT_PASSWORD=devnet merit keys import-devnet
  merit --from alice balance")]
    ImportDevnet {
        /// Replace existing keys of those names.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token (merchants only).
    #[command(after_help = "\
Examples:
  merit --from merchant-1 token create CAKE --name \"Cake Club\" --decimals 2 --max-supply 1000000
  merit --from merchant-1 token create PTS --name Points --decimals 0 --max-supply 5000 --expiry-days 365
  merit --from merchant-1 token create GIFT --name \"Gift points\" --decimals 2 --max-supply 100000 --freezable --clawback")]
    Create {
        /// 2 to 12 of A-Z and 0-9.
        symbol: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Decimals, 0 to 9.
        #[arg(long)]
        decimals: u8,
        /// The supply cap in token units, fixed forever.
        #[arg(long, value_name = "AMOUNT")]
        max_supply: String,
        /// Points expire this many days after they are minted.
        #[arg(long, value_name = "DAYS")]
        expiry_days: Option<u32>,
        /// Let the issuer freeze holders' points (fixed forever).
        #[arg(long)]
        freezable: bool,
        /// Let the issuer take points back (fixed forever).
        #[arg(long)]
        clawback: bool,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Mint points to a shopper (the issuer only).
    #[command(after_help = "\
Examples:
  merit --from merchant-1 token mint BEAN 50 alice
  merit --from merchant-1 token mint BEAN 50 mrt1…")]
    Mint {
        token: String,
        amount: String,
        /// Receiver: a key name or an address, with /N for a sub-account.
        to: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Freeze part of an account's points (the issuer of a freezable token
    /// only): they stay the holder's, and expire as usual, but cannot move.
    #[command(after_help = "\
The soonest-expiring points are frozen first. The account may be a key
name or an address, with /N for a sub-account.

Examples:
  merit --from merchant-1 token freeze BEAN 25 alice
  merit --from merchant-1 token freeze BEAN 25 mrt1…/2")]
    Freeze {
        token: String,
        amount: String,
        /// The holder: a key name or an address, `/N` for a sub-account.
        account: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Let frozen points move again (the issuer only).
    #[command(after_help = "\
Examples:
  merit --from merchant-1 token unfreeze BEAN 25 alice")]
    Unfreeze {
        token: String,
        amount: String,
        account: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Take points back from an account and burn them (the issuer of a
    /// clawback token only), frozen points first.
    #[command(after_help = "\
Examples:
  merit --from merchant-1 token clawback BEAN 25 alice --memo \"chargeback 1042\"")]
    Clawback {
        token: String,
        amount: String,
        /// The holder to take them from: a key name or an address, `/N`
        /// for a sub-account.
        #[arg(value_name = "FROM")]
        holder: String,
        /// Public text kept with the transaction forever: no personal data.
        #[arg(long)]
        memo: Option<String>,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Show a token's supply figures.
    #[command(after_help = "\
Examples:
  merit token info BEAN")]
    Info { symbol: String },

    /// List every token.
    #[command(after_help = "\
Examples:
  merit token list --json")]
    List,
}

#[derive(Debug, Subcommand)]
pub enum OfferCommand {
    /// Offer points of one token for another at a limit price.
    #[command(after_help = "\
The amount sold is locked at once. The offer trades right away with the
opposite side of the book as far as prices cross (at the resting offers'
prices, best first); whatever is left rests in the book until it is taken
or cancelled. The offer id is printed once the offer is committed.

--price is how many BUY one SELL is worth to you at least, in token units
(0.5 below: at least 0.5 BOOK for each BEAN). N/D gives an exact price in
base units instead: N base units of BUY per D base units of SELL.

Examples:
  merit --from alice offer place --sell BEAN --buy BOOK --amount 10 --price 0.5
  merit --from bob offer place --sell BOOK --buy BEAN --amount 4 --price 2
  merit --from alice offer place --sell BEAN --buy BOOK --amount 10 --price 1/2 --json")]
    Place {
        /// The token you give (locked in the offer).
        #[arg(long, value_name = "TOKEN")]
        sell: String,
        /// The token you want in return.
        #[arg(long, value_name = "TOKEN")]
        buy: String,
        /// How much of --sell to offer, in token units.
        #[arg(long, value_name = "AMOUNT")]
        amount: String,
        /// The least BUY you take per 1 SELL, in token units (e.g. 2.5), or N/D in base units.
        #[arg(long, value_name = "PRICE")]
        price: String,
        /// The --buy token's decimals, instead of asking the node (for
        /// offline signing; --token-decimals is the --sell token's).
        #[arg(long, value_name = "N")]
        buy_decimals: Option<u8>,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Cancel an offer of yours; what is left of it is unlocked.
    #[command(after_help = "\
Examples:
  merit --from alice offer cancel 3
  merit --from alice offer list        # to find the id")]
    Cancel {
        /// The offer id, as printed when it was placed.
        id: u64,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// List the open offers of an account.
    #[command(after_help = "\
Examples:
  merit --from alice offer list
  merit offer list bob --json")]
    List {
        /// A key name or an address (default: --from).
        #[arg(value_name = "NAME|ADDRESS")]
        who: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EscrowCommand {
    /// Lock points for a payee; prints the escrow id (the transaction hash).
    #[command(after_help = "\
The payer releases the funds to the payee with `merit escrow release`. The
payee can send them back at any time with `merit escrow refund`; the payer
can take them back the same way once the deadline has passed.

Examples:
  merit --from alice escrow create BEAN 25 merchant-1 --deadline 7d
  merit --from alice escrow create BEAN 25 merchant-1 --deadline 36h --order A-2001
  merit --from alice escrow create BEAN 25 mrt1… --deadline-ms 1767830400000")]
    #[command(group(clap::ArgGroup::new("when").required(true).args(["deadline", "deadline_ms"])))]
    Create {
        /// Token symbol.
        token: String,
        /// Amount in token units.
        amount: String,
        /// The payee: a key name or an address, with /N for a sub-account.
        #[arg(value_name = "TO")]
        to: String,
        /// How long until the payer may take the funds back, from now:
        /// a whole number with s, m, h or d (90s, 30m, 36h, 7d).
        #[arg(long, value_name = "DURATION")]
        deadline: Option<String>,
        /// The deadline as a block time, in milliseconds since the Unix epoch.
        #[arg(long, value_name = "MS")]
        deadline_ms: Option<u64>,
        /// An order id for the trade; it shares the payer's order ids with `pay`.
        #[arg(long = "order", value_name = "ID")]
        order: Option<String>,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Pay an escrow's funds to its payee (the payer only).
    #[command(after_help = "\
Examples:
  merit --from alice escrow release 9c41…e0")]
    Release {
        /// The escrow id: the hash of the transaction that created it.
        id: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Return an escrow's funds to the payer (the payee at any time, the payer after the deadline).
    #[command(after_help = "\
Examples:
  merit --from merchant-1 escrow refund 9c41…e0    # the payee gives it back
  merit --from alice escrow refund 9c41…e0         # the payer, after the deadline")]
    Refund {
        /// The escrow id: the hash of the transaction that created it.
        id: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// Show an escrow, open or closed.
    #[command(after_help = "\
Examples:
  merit escrow show 9c41…e0 --json")]
    Show {
        /// The escrow id: the hash of the transaction that created it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Propose a change to the alliance (merchants whose validators are in force).
    #[command(
        subcommand,
        after_help = "\
Voting ends --voting-blocks after the node's current height (default 10000,
at most 100000). The proposal id is printed once the proposal is committed;
the proposer votes like everyone else, with `merit gov vote ID yes`.

Examples:
  merit --from merchant-1 gov propose add-merchant ./harbor/merchant.json
  merit --from merchant-1 gov propose remove-merchant mrt1…
  merit --from merchant-1 gov propose rotate-key ./bean-new/merchant.json
  merit --from merchant-1 gov propose reassign-issuer MILES mrt1…
  merit --from merchant-1 gov propose params --timeout-base-ms 1000 --timeout-max-ms 30000 \\
      --precision-ms 500 --message-delay-ms 2000
  merit --from merchant-1 gov propose upgrade 2 250000 --voting-blocks 2000"
    )]
    Propose(ProposeCommand),

    /// Vote yes or no on an open proposal.
    #[command(after_help = "\
Each merchant whose validator is in force votes once per proposal. The vote
that brings the approvals to the quorum passes the proposal; more than f
votes against reject it.

Examples:
  merit --from merchant-2 gov vote 1 yes
  merit --from merchant-3 gov vote 1 no --json")]
    Vote {
        /// The proposal id, as `merit gov list` shows it.
        id: u64,
        /// yes to approve, no to reject.
        #[arg(value_enum)]
        vote: VoteChoice,
        #[command(flatten)]
        submit: SubmitArgs,
    },

    /// List proposals, oldest first.
    #[command(after_help = "\
A proposal is open while it takes votes, expired when its voting ended
without a decision, passed, rejected, or failed (it passed, but another
change came first and it could no longer be carried out).

Examples:
  merit gov list
  merit gov list --status open
  merit gov list --status passed --json")]
    List {
        /// Only proposals with this status.
        #[arg(long, value_name = "STATUS", value_parser = clap::builder::PossibleValuesParser::new(PROPOSAL_STATUSES))]
        status: Option<String>,
    },

    /// Show a proposal: its action, votes, quorum, status and heights.
    #[command(after_help = "\
Examples:
  merit gov show 1
  merit gov show 1 --json")]
    Show {
        /// The proposal id.
        id: u64,
    },
}

/// A vote on a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VoteChoice {
    Yes,
    No,
}

#[derive(Debug, Subcommand)]
pub enum ProposeCommand {
    /// Add a merchant, from the merchant.json its keys signed.
    #[command(after_help = "\
FILE is the merchant.json `merit-genesis keygen` wrote on the new merchant's
machine. Every proof of possession in it is checked before anything is
signed. With a validator key in it, the merchant's validator joins the set.

Examples:
  merit --from merchant-1 gov propose add-merchant ./harbor/merchant.json
  merit --from merchant-1 gov propose add-merchant merchant.json --voting-blocks 2000")]
    AddMerchant {
        /// The new merchant's signed merchant.json.
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        #[command(flatten)]
        propose: ProposeArgs,
    },

    /// Remove a merchant; its validator, if any, leaves the set.
    #[command(after_help = "\
Examples:
  merit --from merchant-1 gov propose remove-merchant mrt1…
  merit --from merchant-1 gov propose remove-merchant merchant-4")]
    RemoveMerchant {
        /// The merchant's account: an address or a key name.
        #[arg(value_name = "ADDR")]
        account: String,
        #[command(flatten)]
        propose: ProposeArgs,
    },

    /// Give a current merchant a new validator key, from a merchant.json it signed.
    #[command(after_help = "\
FILE is a merchant.json for the merchant's existing account that names the
new validator key, p2p key and p2p address, signed by all three keys (run
`merit-genesis keygen` for the new keys). The node preloads the new key and
switches to it at the activation height.

Examples:
  merit --from merchant-1 gov propose rotate-key ./bean-new/merchant.json")]
    RotateKey {
        /// The merchant's signed merchant.json with the new validator key.
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        #[command(flatten)]
        propose: ProposeArgs,
    },

    /// Give a token a new issuer (its issuer key was lost or leaked).
    #[command(after_help = "\
Examples:
  merit --from merchant-1 gov propose reassign-issuer MILES mrt1…
  merit --from merchant-1 gov propose reassign-issuer MILES new-harbor-issuer")]
    ReassignIssuer {
        /// The token's symbol.
        token: String,
        /// The new issuer: an address or a key name.
        #[arg(value_name = "ADDR")]
        new_issuer: String,
        #[command(flatten)]
        propose: ProposeArgs,
    },

    /// Set the consensus timings: all four values, in milliseconds.
    #[command(after_help = "\
No RPC serves the parameters in force, so all four are required: give the
current value of any you do not mean to change. Each has a minimum and a
maximum the chain enforces, so no vote can set one that halts the chain:
timeout base 100 to 60000, timeout max 1000 to 600000 (and not below the
base), precision 10 to 60000, message delay 10 to 60000.

Examples:
  merit --from merchant-1 gov propose params --timeout-base-ms 1000 --timeout-max-ms 30000 \\
      --precision-ms 500 --message-delay-ms 2000")]
    Params {
        /// Round-0 timeout; round r waits min(base * 2^r, max).
        #[arg(long, value_name = "MS")]
        timeout_base_ms: u64,
        /// The longest round timeout.
        #[arg(long, value_name = "MS")]
        timeout_max_ms: u64,
        /// The largest skew between two honest clocks.
        #[arg(long, value_name = "MS")]
        precision_ms: u64,
        /// How long a message takes to reach a validator in round 0, at most.
        #[arg(long, value_name = "MS")]
        message_delay_ms: u64,
        #[command(flatten)]
        propose: ProposeArgs,
    },

    /// Schedule a protocol upgrade: from HEIGHT on, nodes need VERSION.
    #[command(after_help = "\
A node that does not support VERSION stops cleanly at HEIGHT and says which
version it needs. HEIGHT must come after the proposal could take effect:
above the height its voting ends at plus the activation delay (8 blocks).

Examples:
  merit --from merchant-1 gov propose upgrade 2 250000
  merit --from merchant-1 gov propose upgrade 2 15000 --voting-blocks 1000")]
    Upgrade {
        /// The protocol version needed from HEIGHT on.
        version: u32,
        /// The first height that needs it.
        height: u64,
        #[command(flatten)]
        propose: ProposeArgs,
    },
}

/// Flags shared by every `gov propose` command.
#[derive(Debug, Clone, Args)]
pub struct ProposeArgs {
    /// Blocks the proposal takes votes for, from the node's current height
    /// (1 to 100000).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_VOTING_BLOCKS)]
    pub voting_blocks: u64,
    /// The height voting ends at, instead of --voting-blocks (to sign
    /// without a node).
    #[arg(long, value_name = "HEIGHT", conflicts_with = "voting_blocks")]
    pub voting_ends_height: Option<u64>,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct TxArgs {
    /// The transaction hash to show.
    pub hash: Option<String>,
    #[command(subcommand)]
    pub command: Option<TxCommand>,
}

#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Show a transaction (same as `merit tx HASH`).
    #[command(after_help = "\
Examples:
  merit tx show 3f2a…c9 --json")]
    Show { hash: String },
    /// Submit a signed transaction (hex, or `-` for stdin) and wait for it.
    #[command(after_help = "\
Examples:
  merit tx send 0a0c6d65…
  merit tx send - < signed.hex
Submitting the same bytes again is a no-op that reports the same transaction.")]
    Send {
        /// The signed transaction's hex, or `-` to read it from stdin.
        hex: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Decode signed bytes and check the signature, offline.
    #[command(after_help = "\
Examples:
  merit tx decode 0a0c6d65…")]
    Decode {
        /// The signed transaction's hex, or `-` to read it from stdin.
        hex: String,
    },
}

/// How a submitting command waits for the outcome.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Return right after the node accepted the transaction.
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting for commit after this many seconds (exit code 4).
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_WAIT_TIMEOUT_SECS)]
    pub wait_timeout: u64,
}

/// Flags shared by every command that signs a transaction.
#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Print the signed transaction as hex instead of submitting it.
    #[arg(long)]
    pub sign_only: bool,
    /// Chain id to sign for (default: from the node's merit_status).
    #[arg(long, value_name = "ID")]
    pub chain_id: Option<String>,
    /// Last height + 1 at which the transaction is valid (default: node height + --ttl-blocks).
    #[arg(long, value_name = "HEIGHT")]
    pub expires_at_height: Option<u64>,
    /// Blocks the transaction stays valid, when --expires-at-height is not given.
    #[arg(long, value_name = "BLOCKS", default_value_t = DEFAULT_TX_TTL_BLOCKS)]
    pub ttl_blocks: u64,
    /// Use this nonce instead of a random one.
    #[arg(long, value_name = "N")]
    pub nonce: Option<u64>,
    /// The token's decimals, instead of asking the node (for offline signing).
    #[arg(long, value_name = "N")]
    pub token_decimals: Option<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Cli {
        Cli::try_parse_from(std::iter::once("merit").chain(line.split_whitespace()))
            .unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn from_and_receivers_take_a_sub_account() {
        let cli = parse("--from alice/2 send BEAN 5 merchant-1/3");
        assert_eq!(cli.from.as_deref(), Some("alice/2"));
        let Command::Send { to, .. } = cli.command else {
            panic!("not send");
        };
        assert_eq!(to, "merchant-1/3");
        let cli = parse("--from alice pay BEAN --order A-1 --split merchant-1/1=9,carol=1");
        let Command::Pay { split, .. } = cli.command else {
            panic!("not pay");
        };
        assert_eq!(split, ["merchant-1/1=9", "carol=1"]);
    }

    #[test]
    fn balance_all_and_sub_account_commands_parse() {
        let Command::Balance { who, all } = parse("balance merchant-1 --all").command else {
            panic!("not balance");
        };
        assert_eq!((who.as_deref(), all), (Some("merchant-1"), true));
        let Command::Balance { who, all } = parse("balance merchant-1/2").command else {
            panic!("not balance");
        };
        assert_eq!((who.as_deref(), all), (Some("merchant-1/2"), false));
        let cli =
            Cli::try_parse_from(["merit", "sub-account", "open", "Harbour St store"]).unwrap();
        let Command::SubAccount(SubAccountCommand::Open { label, .. }) = cli.command else {
            panic!("not sub-account open");
        };
        assert_eq!(label, "Harbour St store");
        let Command::SubAccount(SubAccountCommand::List { who }) =
            parse("sub-account list bob").command
        else {
            panic!("not sub-account list");
        };
        assert_eq!(who.as_deref(), Some("bob"));
        assert!(Cli::try_parse_from(["merit", "sub-account", "open"]).is_err());
    }
}

//! One function per command.

use std::io::Read;

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use merit_api::params::MAX_BOOK_PAGE;
use merit_api::{Account, Escrow, Event, TxStatus};
use merit_chain::amount::{format_amount, parse_amount};
use merit_chain::encoding::BoundedVec;
use merit_chain::limits::{
    MAX_ESCROW_DURATION_MS, MAX_HISTORY_PAGE, MAX_PATH_TOKENS, MAX_PAY_LEGS, MAX_PAY_TOKENS,
};
use merit_chain::tx::{AccountRef, Memo, OrderId, PayLeg, TokenName};
use merit_chain::{Hash32, Keypair, Symbol, TxKind};
use merit_genesis::devnet::{DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT};
use serde::Serialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::{
    ChainCommand, Cli, Command, EscrowCommand, KeysCommand, OfferCommand, SubmitArgs, TokenCommand,
    TxArgs, TxCommand,
};
use crate::ctx::{Ctx, new_password, parse_units, password_for, read_secret_line};
use crate::error::usage;
use crate::keystore::{KeyEntry, KeystoreError, generate_key};
use crate::output::{self, format_time_ms, table};
use crate::price::parse_price;
use crate::submit::{self, decode_hex, kind_json, sign_and_submit, submit_and_wait};
use crate::trust::{DEVNET_CHAIN_NAME, PinnedChain, Verifier};
use crate::view::TxView;

/// Runs one parsed command line.
pub fn run(ctx: &Ctx, command: Command) -> Result<()> {
    match command {
        Command::Keys(k) => keys(ctx, k),
        Command::Balance { who, all } => balance(ctx, who.as_deref(), all),
        Command::Send {
            token,
            amount,
            to,
            memo,
            submit,
        } => send(ctx, &token, &amount, &to, memo, &submit),
        Command::Pay {
            token,
            order,
            split,
            memo,
            submit,
        } => pay(ctx, token.as_deref(), &order, &split, memo, &submit),
        Command::PayPath {
            dest_token,
            dest_amount,
            to,
            send_token,
            send_max,
            path,
            order,
            memo,
            send_decimals,
            submit,
        } => pay_path(
            ctx,
            PayPathArgs {
                dest_token: &dest_token,
                dest_amount: &dest_amount,
                to: &to,
                send_token: &send_token,
                send_max: &send_max,
                path: path.as_deref(),
                order: order.as_deref(),
                send_decimals,
            },
            memo,
            &submit,
        ),
        Command::Refund {
            payment,
            amount,
            token,
            submit,
        } => refund(ctx, &payment, &amount, token.as_deref(), &submit),
        Command::Redeem {
            token,
            amount,
            memo,
            submit,
        } => redeem(ctx, &token, &amount, memo, &submit),
        Command::History {
            who,
            limit,
            cursor,
            token,
        } => history(ctx, who.as_deref(), limit, cursor, token),
        Command::Offer(o) => offer(ctx, o),
        Command::Book { sell, buy, limit } => book(ctx, &sell, &buy, limit),
        Command::Escrow(e) => escrow(ctx, e),
        Command::Token(t) => token(ctx, t),
        Command::Gov(g) => crate::gov::run(ctx, g),
        Command::Statement {
            who,
            day,
            since,
            until,
            token,
            csv,
        } => {
            let period =
                crate::finance::period(day.as_deref(), since.as_deref(), until.as_deref())?;
            crate::finance::statement(ctx, who.as_deref(), period, token, csv)
        }
        Command::Reconcile { who, day } => crate::finance::reconcile(ctx, who.as_deref(), &day),
        Command::Tx(t) => tx(ctx, t),
        Command::Chain(c) => chain(ctx, c),
        Command::SubAccount(c) => crate::subaccounts::run(ctx, c),
        Command::Status => status(ctx),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            // Through a buffer, so a closed stdout ends it like any other
            // output (see `quiet_on_closed_stdout`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "merit", &mut script);
            print!("{}", String::from_utf8_lossy(&script));
            Ok(())
        }
    }
}

// ---------------------------------------------------------------- keys

fn keys(ctx: &Ctx, command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::New { name, force } => {
            let path = ctx.keystore.path_of(&name)?;
            if !force && path.exists() {
                return Err(KeystoreError::Exists { name, path }.into());
            }
            let key = generate_key()?;
            let password = new_password(&format!("key `{name}`"))?;
            let path = ctx.keystore.save(&name, &key, &password, force)?;
            show_entry(
                ctx,
                &KeyEntry {
                    name,
                    address: key.public().to_bech32(),
                    path,
                },
                "created",
            )
        }
        KeysCommand::List => {
            let entries = ctx.keystore.list()?;
            if ctx.json {
                return output::json(&entries);
            }
            if entries.is_empty() {
                println!(
                    "no keys in {}; create one with `merit keys new NAME` or `merit keys import-devnet`",
                    ctx.keystore.dir().display()
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| vec![e.name.clone(), e.address.clone()])
                .collect();
            println!("{}", table(&["NAME", "ADDRESS"], &rows));
            Ok(())
        }
        KeysCommand::Show { name } => {
            let entry = ctx.keystore.entry(&name)?;
            show_entry(ctx, &entry, "")
        }
        KeysCommand::Import {
            name,
            key_file,
            force,
        } => {
            let path = ctx.keystore.path_of(&name)?;
            if !force && path.exists() {
                return Err(KeystoreError::Exists { name, path }.into());
            }
            let (key, path) = match key_file {
                Some(file) => {
                    let password = password_for(&file.display().to_string())?;
                    ctx.keystore.import_file(&name, &file, &password, force)?
                }
                None => {
                    let line = read_secret_line("Secret seed (64 hex digits): ", 1024)?;
                    let key = seed_from_hex(&line)?;
                    let password = new_password(&format!("key `{name}`"))?;
                    let path = ctx.keystore.save(&name, &key, &password, force)?;
                    (key, path)
                }
            };
            show_entry(
                ctx,
                &KeyEntry {
                    name,
                    address: key.public().to_bech32(),
                    path,
                },
                "imported",
            )
        }
        KeysCommand::Export { name } => {
            ctx.keystore.address(&name)?;
            let password = password_for(&name)?;
            let key = ctx.keystore.load(&name, &password)?;
            eprintln!(
                "warning: this is the secret seed of `{name}`. Anyone who sees it controls the account; keep it offline."
            );
            let seed = Zeroizing::new(hex::encode(key.seed()));
            if ctx.json {
                output::json(&json!({
                    "name": name,
                    "address": key.public().to_bech32(),
                    "seed": seed.as_str(),
                }))
            } else {
                println!("{}", seed.as_str());
                Ok(())
            }
        }
        KeysCommand::ImportDevnet { force } => import_devnet(ctx, force),
    }
}

fn show_entry(ctx: &Ctx, entry: &KeyEntry, verb: &str) -> Result<()> {
    if ctx.json {
        return output::json(entry);
    }
    if !verb.is_empty() {
        println!("{verb} key `{}`", entry.name);
    }
    println!("name     {}", entry.name);
    println!("address  {}", entry.address);
    println!("file     {}", entry.path.display());
    Ok(())
}

fn seed_from_hex(text: &str) -> Result<Keypair> {
    let text = text.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, seed.as_mut_slice())
        .map_err(|_| usage("a secret seed is 64 hexadecimal digits"))?;
    Ok(Keypair::from_seed(*seed))
}

/// One demo key as `keys import-devnet` reports it.
#[derive(Debug, Serialize)]
struct DevnetKey {
    name: String,
    address: String,
    role: &'static str,
    /// The merchant's display name, for merchants.
    merchant: Option<String>,
    /// The merchant's demo token, for merchants.
    token: Option<String>,
    /// `imported`, `replaced`, or `present` (already there with this address).
    state: &'static str,
}

/// A demo key to import: name, key, role, merchant name, token.
type WantedKey = (
    String,
    Keypair,
    &'static str,
    Option<String>,
    Option<String>,
);

fn import_devnet(ctx: &Ctx, force: bool) -> Result<()> {
    let layout =
        merit_genesis::devnet(DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT);
    let mut wanted: Vec<WantedKey> = Vec::new();
    for (i, m) in layout.merchants.iter().enumerate() {
        wanted.push((
            format!("merchant-{}", i + 1),
            m.account.clone(),
            "merchant",
            Some(m.name.clone()),
            Some(m.token.to_string()),
        ));
    }
    for s in &layout.shoppers {
        wanted.push((s.name.clone(), s.key.clone(), "shopper", None, None));
    }
    // Refuse before asking for a password if a name holds another key.
    for (name, key, ..) in &wanted {
        if !force && ctx.keystore.exists(name) && ctx.keystore.address(name)? != key.public() {
            return Err(usage(format!(
                "a different key named `{name}` already exists; pass --force to replace it"
            )));
        }
    }
    let todo = wanted
        .iter()
        .filter(|(name, ..)| force || !ctx.keystore.exists(name))
        .count();
    let password = if todo > 0 {
        Some(new_password("the devnet demo keys")?)
    } else {
        None
    };
    let mut report = Vec::new();
    for (name, key, role, merchant, token) in wanted {
        let existed = ctx.keystore.exists(&name);
        let state = match &password {
            Some(pw) if force || !existed => {
                ctx.keystore.save(&name, &key, pw, force)?;
                if existed { "replaced" } else { "imported" }
            }
            _ => "present",
        };
        report.push(DevnetKey {
            name,
            address: key.public().to_bech32(),
            role,
            merchant,
            token,
            state,
        });
    }
    let pinned = pin_devnet(ctx)?;
    if ctx.json {
        return output::json(&report);
    }
    eprintln!(
        "note: these demo keys are public (anyone can derive them); use them only on a devnet"
    );
    if pinned {
        eprintln!(
            "pinned the devnet as chain `{DEVNET_CHAIN_NAME}`: balances, decimals and outcomes \
             are checked against its validators' signatures"
        );
    }
    let rows: Vec<Vec<String>> = report
        .iter()
        .map(|k| {
            vec![
                k.name.clone(),
                k.address.clone(),
                match (&k.merchant, &k.token) {
                    (Some(m), Some(t)) => format!("{m} ({t})"),
                    _ => k.role.to_string(),
                },
                k.state.to_string(),
            ]
        })
        .collect();
    println!("{}", table(&["NAME", "ADDRESS", "WHO", ""], &rows));
    println!("\ntry: merit --from alice balance");
    Ok(())
}

/// Pins the built-in devnet as chain `devnet` unless a chain of that name
/// is pinned; returns whether it did.
fn pin_devnet(ctx: &Ctx) -> Result<bool> {
    let chains = ctx.chains();
    if chains.exists(DEVNET_CHAIN_NAME) {
        return Ok(false);
    }
    let layout =
        merit_genesis::devnet(DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT);
    let genesis = layout
        .validate()
        .map_err(|e| anyhow::anyhow!("the built-in devnet genesis is invalid: {e}"))?;
    // The devnet's genesis file differs with its ports; its validators do not.
    let chain = PinnedChain::from_genesis(
        DEVNET_CHAIN_NAME,
        &genesis,
        "the built-in devnet".to_string(),
        false,
    )?;
    chains.save(&chain)?;
    Ok(true)
}

// ---------------------------------------------------------------- chains

fn chain(ctx: &Ctx, command: ChainCommand) -> Result<()> {
    let chains = ctx.chains();
    match command {
        ChainCommand::Add {
            name,
            genesis,
            force,
        } => {
            let path = chains.path_of(&name)?;
            if !force && path.exists() {
                return Err(usage(format!(
                    "chain `{name}` is already pinned; pass --force to replace it"
                )));
            }
            let chain = match genesis {
                Some(file) => {
                    let g = merit_genesis::Genesis::load(&file)?;
                    PinnedChain::from_genesis(
                        &name,
                        &g,
                        format!("genesis file {}", file.display()),
                        true,
                    )?
                }
                None => pin_from_node(ctx, &name)?,
            };
            chains.save(&chain)?;
            let validators = chain
                .sets
                .first()
                .and_then(|s| {
                    merit_chain::encoding::decode::<merit_chain::governance::ValidatorList>(
                        &hex::decode(&s.validators).ok()?,
                        1 << 20,
                    )
                    .ok()
                })
                .map_or(0, |l| l.len());
            if ctx.json {
                return output::json(&json!({
                    "name": chain.name,
                    "chain_id": chain.chain_id,
                    "genesis_hash": chain.genesis_hash,
                    "validators": validators,
                    "source": chain.source,
                }));
            }
            println!("pinned chain `{}` ({})", chain.name, chain.chain_id);
            if let Some(h) = &chain.genesis_hash {
                println!("genesis hash: {h}");
            }
            println!("genesis validators: {validators}");
            println!("from: {}", chain.source);
            if chain.source.starts_with("trusted") {
                eprintln!(
                    "note: compare the genesis hash with the one your alliance published; the \
                     node's word was taken for it"
                );
            }
            Ok(())
        }
        ChainCommand::List => {
            let pinned = chains.list()?;
            let rows: Vec<Vec<String>> = pinned
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.chain_id.clone(),
                        c.checkpoint
                            .as_ref()
                            .map_or_else(|| "-".to_string(), |cp| cp.height.to_string()),
                        c.sets.len().to_string(),
                        c.source.clone(),
                    ]
                })
                .collect();
            if ctx.json {
                let docs: Vec<_> = pinned
                    .iter()
                    .map(|c| {
                        json!({
                            "name": c.name,
                            "chain_id": c.chain_id,
                            "genesis_hash": c.genesis_hash,
                            "checkpoint": c.checkpoint.as_ref().map(|cp| json!({"height": cp.height, "hash": cp.hash})),
                            "validator_sets": c.sets.len(),
                            "source": c.source,
                        })
                    })
                    .collect();
                return output::json(&docs);
            }
            if pinned.is_empty() {
                println!(
                    "no chains pinned in {}; pin one with `merit chain add NAME --genesis FILE`",
                    chains.dir().display()
                );
                return Ok(());
            }
            println!(
                "{}",
                table(&["NAME", "CHAIN ID", "CHECKPOINT", "SETS", "FROM"], &rows)
            );
            Ok(())
        }
        ChainCommand::Checkpoint { name, height, hash } => {
            let name = match name.or_else(|| ctx.chain.clone()) {
                Some(n) => n,
                None => {
                    let pinned = chains.list()?;
                    match pinned.as_slice() {
                        [only] => only.name.clone(),
                        _ => return Err(usage("name the chain (see `merit chain list`)")),
                    }
                }
            };
            let mut chain = chains.load(&name)?;
            if let (Some(height), Some(hash)) = (height, hash) {
                let hash = Hash32::from_hex(&hash).map_err(|_| {
                    usage(format!("bad block hash `{hash}`: expected 64 hex digits"))
                })?;
                crate::trust::reanchor(ctx.rpc()?, &mut chain, height, &hash)?;
                chains.save(&chain)?;
                if !ctx.json {
                    println!(
                        "chain `{}` now trusts block {height} ({hash}) and its validator set; \
                         later sets are followed from there",
                        chain.name
                    );
                }
            }
            let cp = chain
                .checkpoint
                .as_ref()
                .map(|cp| json!({"height": cp.height, "hash": cp.hash}));
            if ctx.json {
                return output::json(&json!({"name": chain.name, "checkpoint": cp}));
            }
            match &chain.checkpoint {
                Some(cp) => println!(
                    "chain `{}`: last verified block {} ({})",
                    chain.name, cp.height, cp.hash
                ),
                None => println!("chain `{}`: nothing verified yet", chain.name),
            }
            Ok(())
        }
    }
}

/// Pins the chain of the node at `--rpc`, trusting it on first use for the
/// genesis set.
fn pin_from_node(ctx: &Ctx, name: &str) -> Result<PinnedChain> {
    let rpc = ctx.rpc()?;
    let status = rpc.status()?;
    let set: merit_api::ValidatorSetInfo =
        rpc.call(merit_api::method::VALIDATORS, json!([{"height": 1}]))?;
    let list: merit_chain::governance::ValidatorList = hex::decode(&set.bytes)
        .ok()
        .and_then(|b| merit_chain::encoding::decode(&b, 1 << 20).ok())
        .ok_or_else(|| anyhow::anyhow!("the node's genesis set does not decode"))?;
    if merit_chain::governance::validators_hash(&list).to_hex() != set.validators_hash {
        return Err(anyhow::anyhow!(
            "the node's genesis set does not match its own hash"
        ));
    }
    Ok(PinnedChain {
        name: name.to_string(),
        chain_id: status.chain_id,
        genesis_hash: Some(status.genesis_hash),
        heartbeat_ms: merit_chain::params::DEFAULT_HEARTBEAT_MS,
        source: format!("trusted on first use from {}", ctx.rpc_url),
        sets: vec![crate::trust::PinnedSet {
            from_height: 1,
            validators: set.bytes,
            header: None,
            certificate: None,
        }],
        checkpoint: None,
    })
}

// ---------------------------------------------------------------- queries

/// Checks `account`'s balances and expiring lots against proofs of its
/// holdings in every token the node lists, and the decimals they are
/// shown with against each token's proof. Returns the height verified.
fn verify_account(ctx: &Ctx, v: &Verifier, who: &AccountRef, account: &Account) -> Result<u64> {
    let rpc = ctx.rpc()?;
    let symbols: Vec<Symbol> = rpc
        .list_tokens()?
        .iter()
        .filter_map(|t| Symbol::new(&t.symbol).ok())
        .collect();
    let mut shown_expiring = Vec::new();
    let mut height = 0;
    for chunk in symbols.chunks(merit_chain::proof::MAX_PROVEN_ENTRIES) {
        let (held, header) = v.holdings(rpc, who, chunk)?;
        height = height.max(header.height);
        for (sym, holding) in held {
            let shown = account.balances.get(sym.as_str());
            let shown_frozen = account.frozen.get(sym.as_str());
            let spendable = holding.balance - holding.frozen.min(holding.balance);
            if holding.balance == 0 {
                let positive = |s: &&String| parse_amount(s, 9).is_ok_and(|u| u > 0);
                if let Some(s) = shown.filter(positive).or(shown_frozen.filter(positive)) {
                    return Err(v.contradicts(format!(
                        "it shows {s} {sym}, its certified state holds none"
                    )));
                }
                continue;
            }
            let decimals = ctx.token(&sym)?.decimals;
            let shows = |amount: u64, what: &str, shown: Option<&String>| {
                let proven = format_amount(amount, decimals);
                let zero = amount == 0 && shown.is_none();
                if zero || shown == Some(&proven) {
                    return Ok(());
                }
                Err(v.contradicts(format!(
                    "it shows {what} of {} {sym}, its certified state holds {proven}",
                    shown.map_or("0", String::as_str)
                )))
            };
            shows(spendable, "a balance", shown)?;
            shows(holding.frozen, "a frozen part", shown_frozen)?;
            for lot in holding.lots.as_slice() {
                shown_expiring.push(merit_api::Expiring {
                    token: sym.to_string(),
                    amount: format_amount(lot.amount, decimals),
                    expires_at_ms: lot.expires_at_ms,
                });
            }
        }
    }
    for sym in account.balances.keys() {
        if Symbol::new(sym).is_ok_and(|s| !symbols.contains(&s)) {
            return Err(v.contradicts(format!(
                "it shows a balance of {sym}, a token it does not list"
            )));
        }
    }
    shown_expiring.sort_by(|a, b| (a.expires_at_ms, &a.token).cmp(&(b.expires_at_ms, &b.token)));
    if shown_expiring != account.expiring {
        return Err(v.contradicts(
            "the expiring points it shows are not the lots its certified state holds",
        ));
    }
    Ok(height)
}

/// How many times `balance` reads the account and its proofs before it
/// calls a difference a lie: a block may commit between the two reads.
const BALANCE_READS: usize = 3;

fn balance(ctx: &Ctx, who: Option<&str>, all: bool) -> Result<()> {
    let who = ctx.account(who)?;
    if all {
        if who.sub > 0 {
            return Err(usage(format!(
                "--all totals every account of an address: name the address, not its \
                 sub-account `{}`",
                ctx.short(&who.to_string())
            )));
        }
        return crate::subaccounts::balance_all(ctx, &who.address);
    }
    let name = who.to_string();
    let mut account = ctx.rpc()?.get_account(&name)?;
    let mut verified = None;
    if let Some(v) = ctx.verifier()? {
        let mut reads = 1;
        loop {
            match verify_account(ctx, v, &who, &account) {
                Ok(height) => {
                    verified = Some(height);
                    break;
                }
                Err(e) if reads < BALANCE_READS && e.is::<crate::trust::Untrusted>() => {
                    reads += 1;
                    account = ctx.rpc()?.get_account(&name)?;
                }
                Err(e) => return Err(e),
            }
        }
    }
    let account = account.map_offers(|o| output::offer_view(ctx, o));
    if let Some(height) = verified
        && !ctx.json
    {
        eprintln!(
            "verified: balances and expiring points as of block {height}, certified by the \
             alliance's validators"
        );
    }
    if ctx.json {
        return output::json(&account);
    }
    match &account.label {
        Some(label) if who.sub > 0 => println!("{}  \"{label}\"", ctx.label(&name)),
        _ => println!("{}", ctx.label(&name)),
    }
    let mut symbols: Vec<&String> = account.balances.keys().collect();
    for s in account.locked.keys().chain(account.frozen.keys()) {
        if !symbols.contains(&s) {
            symbols.push(s);
        }
    }
    symbols.sort();
    if symbols.is_empty() {
        println!("no points yet");
    } else {
        let rows: Vec<Vec<String>> = symbols
            .iter()
            .map(|s| {
                vec![
                    (*s).clone(),
                    account
                        .balances
                        .get(*s)
                        .cloned()
                        .unwrap_or_else(|| "0".into()),
                    account.locked.get(*s).cloned().unwrap_or_default(),
                    account.frozen.get(*s).cloned().unwrap_or_default(),
                ]
            })
            .collect();
        let mut headers = vec!["TOKEN", "BALANCE", "LOCKED"];
        if !account.frozen.is_empty() {
            headers.push("FROZEN");
        }
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|mut r| {
                r.truncate(headers.len());
                r
            })
            .collect();
        println!("{}", table(&headers, &rows));
    }
    if !account.expiring.is_empty() {
        println!("\nexpiring:");
        let rows: Vec<Vec<String>> = account
            .expiring
            .iter()
            .map(|e| {
                vec![
                    e.token.clone(),
                    e.amount.clone(),
                    format_time_ms(e.expires_at_ms),
                ]
            })
            .collect();
        println!("{}", table(&["TOKEN", "AMOUNT", "EXPIRES"], &rows));
    }
    if !account.offers.is_empty() {
        println!("\nopen offers:");
        println!("{}", output::offer_table(ctx, &account.offers, true));
    }
    if !account.escrows.is_empty() {
        println!("\nescrows:");
        println!("{}", escrow_table(ctx, &account.escrows));
    }
    if who.sub == 0 && account.sub_accounts > 0 {
        println!(
            "\n{} sub-account{} not counted here: see them all with `merit balance {} --all`",
            account.sub_accounts,
            if account.sub_accounts == 1 { "" } else { "s" },
            ctx.short(&name)
        );
    }
    Ok(())
}

fn escrow_table(ctx: &Ctx, escrows: &[Escrow]) -> String {
    let rows: Vec<Vec<String>> = escrows
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                format!("{} {}", e.remaining, e.token),
                ctx.short(&e.payer),
                ctx.short(&e.payee),
                format_time_ms(e.deadline_ms),
                e.status.to_string(),
            ]
        })
        .collect();
    table(
        &["ID", "LOCKED", "PAYER", "PAYEE", "DEADLINE", "STATUS"],
        &rows,
    )
}

fn history(
    ctx: &Ctx,
    who: Option<&str>,
    limit: u64,
    cursor: Option<String>,
    token: Option<String>,
) -> Result<()> {
    if limit == 0 || limit > MAX_HISTORY_PAGE as u64 {
        return Err(usage(format!("--limit must be 1 to {MAX_HISTORY_PAGE}")));
    }
    let token = token.map(|t| ctx.symbol(&t)).transpose()?;
    let account = ctx.account(who)?;
    let address = account.address.to_bech32();
    let page = ctx.rpc()?.get_history(
        &address,
        cursor.as_deref(),
        limit,
        token.as_ref().map(|t| t.as_str()),
        account.sub,
    )?;
    let account = account.to_string();
    if ctx.json {
        let mut doc = json!({
            "address": address,
            "entries": page.entries,
            "next_cursor": page.next_cursor,
        });
        if account != address {
            doc["account"] = json!(account);
        }
        return output::json(&doc);
    }
    println!("{}", ctx.label(&account));
    if page.entries.is_empty() {
        println!("no transactions");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = page
        .entries
        .iter()
        .map(|e| {
            let moved: Vec<String> = e
                .postings
                .iter()
                .map(|p| {
                    let (sign, dir) = match p.side {
                        merit_api::PostingSide::Debit => ("-", "to"),
                        merit_api::PostingSide::Credit => ("+", "from"),
                    };
                    let other = if p.counterparty.starts_with("mrt1") {
                        ctx.short(&p.counterparty)
                    } else {
                        p.counterparty.clone()
                    };
                    format!("{sign}{} {} {dir} {other}", p.amount, p.token)
                })
                .collect();
            let status = match &e.code {
                Some(code) => format!("{} {code}", e.status),
                None => e.status.to_string(),
            };
            vec![
                e.height.to_string(),
                format_time_ms(e.time_ms),
                e.kind.clone().unwrap_or_default(),
                status,
                moved.join(", "),
                e.memo.clone().unwrap_or_default(),
                e.hash.clone().unwrap_or_else(|| "(block)".to_string()),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &["HEIGHT", "TIME", "KIND", "STATUS", "MOVED", "MEMO", "TX"],
            &rows
        )
    );
    if let Some(next) = page.next_cursor {
        println!("\nmore: merit history {account} --cursor {next}");
    }
    Ok(())
}

fn status(ctx: &Ctx) -> Result<()> {
    let s = ctx.rpc()?.status()?;
    if ctx.json {
        return output::json(&s);
    }
    let rows = [
        ("node", ctx.rpc_url.clone()),
        ("chain", s.chain_id.clone()),
        ("height", s.height.to_string()),
        ("block", s.block_hash.clone()),
        ("block time", format_time_ms(s.block_time_ms)),
        ("round", s.round.to_string()),
        (
            "validator",
            s.validator_index
                .map(|i| format!("{i} of {}", s.validators))
                .unwrap_or_else(|| format!("observer ({} validators)", s.validators)),
        ),
        ("peers", s.peers.to_string()),
        ("mempool", s.mempool_size.to_string()),
        ("syncing", s.syncing.to_string()),
        ("genesis", s.genesis_hash.clone()),
        ("version", s.version.clone()),
    ];
    for (k, v) in rows {
        println!("{k:<11} {v}");
    }
    Ok(())
}

// ---------------------------------------------------------------- transactions

fn memo(memo: Option<String>) -> Result<Option<Memo>> {
    memo.map(|m| {
        Memo::new(m).map_err(|m| {
            usage(format!(
                "the memo is {} bytes, over the limit of {}",
                m.len(),
                merit_chain::limits::MAX_MEMO_BYTES
            ))
        })
    })
    .transpose()
}

fn send(
    ctx: &Ctx,
    token: &str,
    amount: &str,
    to: &str,
    memo_text: Option<String>,
    args: &SubmitArgs,
) -> Result<()> {
    let token = ctx.symbol(token)?;
    let to = ctx.resolve_account(to)?;
    let decimals = ctx.decimals(&token, args.token_decimals)?;
    let amount = parse_units(token.as_str(), amount, decimals)?;
    let kind = TxKind::Transfer {
        token,
        to,
        amount,
        memo: memo(memo_text)?,
    };
    sign_and_submit(ctx, args, kind)
}

/// An `--order` value: not empty, within the limit.
fn order_id(order: &str) -> Result<OrderId> {
    if order.is_empty() {
        return Err(usage("--order must not be empty"));
    }
    OrderId::new(order).map_err(|o| {
        usage(format!(
            "the order id is {} bytes, over the limit of {}",
            o.len(),
            merit_chain::limits::MAX_ORDER_ID_BYTES
        ))
    })
}

/// Parses `--split` entries (`ADDR=AMOUNT` in the default token, or
/// `ADDR=AMOUNT:TOKEN`) into legs. Their shape is checked before the node
/// is asked anything.
fn legs(
    ctx: &Ctx,
    default: Option<Symbol>,
    splits: &[String],
    decimals_given: Option<u8>,
) -> Result<Vec<PayLeg>> {
    let splits: Vec<&str> = splits
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if splits.is_empty() {
        return Err(usage("--split needs at least one ADDR=AMOUNT"));
    }
    if splits.len() > MAX_PAY_LEGS {
        return Err(usage(format!(
            "a payment has at most {MAX_PAY_LEGS} legs, got {}",
            splits.len()
        )));
    }
    let mut shaped = Vec::with_capacity(splits.len());
    let mut tokens: Vec<Symbol> = Vec::new();
    for s in &splits {
        let (who, amount) = s
            .split_once('=')
            .ok_or_else(|| usage(format!("bad --split `{s}`: expected ADDR=AMOUNT[:TOKEN]")))?;
        let (amount, token) = match amount.split_once(':') {
            Some((amount, token)) => (
                amount,
                ctx.symbol(token.trim())
                    .with_context(|| format!("in --split `{s}`"))?,
            ),
            None => (
                amount,
                default.ok_or_else(|| {
                    usage(format!(
                        "bad --split `{s}`: name its token (ADDR=AMOUNT:TOKEN) or give the payment's TOKEN"
                    ))
                })?,
            ),
        };
        if !tokens.contains(&token) {
            tokens.push(token);
        }
        shaped.push((who.trim(), amount.trim(), token, s));
    }
    if tokens.len() > MAX_PAY_TOKENS {
        return Err(usage(format!(
            "a payment pays in at most {MAX_PAY_TOKENS} tokens, got {}",
            tokens.len()
        )));
    }
    let mut decimals = Vec::with_capacity(tokens.len());
    for token in &tokens {
        decimals.push(ctx.decimals(token, decimals_given)?);
    }
    shaped
        .into_iter()
        .map(|(who, amount, token, s)| {
            let to = ctx
                .resolve_account(who)
                .with_context(|| format!("in --split `{s}`"))?;
            let d = tokens
                .iter()
                .position(|t| *t == token)
                .map_or(0, |i| decimals[i]);
            let amount = parse_units(token.as_str(), amount, d)
                .with_context(|| format!("in --split `{s}`"))?;
            Ok(PayLeg { to, token, amount })
        })
        .collect()
}

fn pay(
    ctx: &Ctx,
    token: Option<&str>,
    order: &str,
    splits: &[String],
    memo_text: Option<String>,
    args: &SubmitArgs,
) -> Result<()> {
    let token = token.map(|t| ctx.symbol(t)).transpose()?;
    let order_id = order_id(order)?;
    let legs = legs(ctx, token, splits, args.token_decimals)?;
    let legs = BoundedVec::new(legs).map_err(|l| {
        usage(format!(
            "a payment has at most {MAX_PAY_LEGS} legs, got {}",
            l.len()
        ))
    })?;
    let kind = TxKind::Pay {
        order_id,
        legs,
        memo: memo(memo_text)?,
    };
    sign_and_submit(ctx, args, kind)
}

/// The arguments of `merit pay-path`, as typed.
struct PayPathArgs<'a> {
    dest_token: &'a str,
    dest_amount: &'a str,
    to: &'a str,
    send_token: &'a str,
    send_max: &'a str,
    path: Option<&'a [String]>,
    order: Option<&'a str>,
    send_decimals: Option<u8>,
}

fn pay_path(
    ctx: &Ctx,
    a: PayPathArgs<'_>,
    memo_text: Option<String>,
    args: &SubmitArgs,
) -> Result<()> {
    let dest_token = ctx.symbol(a.dest_token)?;
    let send_token = ctx.symbol(a.send_token)?;
    if dest_token == send_token {
        return Err(usage(format!(
            "--send-token and the token paid are both {dest_token}: use `merit send`"
        )));
    }
    let to = ctx.resolve_account(a.to)?;
    let order_id = a.order.map(order_id).transpose()?;
    let given: Option<Vec<Symbol>> = a
        .path
        .map(|p| {
            p.iter()
                .map(|t| t.trim())
                .filter(|t| !t.is_empty())
                .map(|t| ctx.symbol(t))
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    if let Some(p) = &given
        && p.len() > MAX_PATH_TOKENS
    {
        return Err(usage(format!(
            "--path has {} tokens, at most {MAX_PATH_TOKENS}",
            p.len()
        )));
    }
    let dest_decimals = ctx.decimals(&dest_token, args.token_decimals)?;
    let dest_amount = parse_units(dest_token.as_str(), a.dest_amount, dest_decimals)?;
    let send_decimals = ctx.decimals_via(&send_token, a.send_decimals, "--send-decimals")?;
    let send_max = parse_units(send_token.as_str(), a.send_max, send_decimals)?;
    let path = match given {
        Some(path) => path,
        None => {
            let found = ctx
                .rpc()?
                .find_paths(send_token.as_str(), dest_token.as_str(), a.dest_amount)
                .context("finding a route (pass --path to sign offline)")?;
            let Some(best) = found.first() else {
                return Err(usage(format!(
                    "no route from {send_token} can deliver {} {dest_token} now: the order books hold too little",
                    a.dest_amount
                )));
            };
            if best.send_amount_units > send_max {
                return Err(usage(format!(
                    "the cheapest route costs {} {send_token} now, above --send-max {}",
                    best.send_amount, a.send_max
                )));
            }
            let route: Vec<&str> = std::iter::once(send_token.as_str())
                .chain(best.path.iter().map(String::as_str))
                .chain(std::iter::once(dest_token.as_str()))
                .collect();
            eprintln!(
                "route {} costs {} {send_token} now",
                route.join(" → "),
                best.send_amount
            );
            best.path
                .iter()
                .map(|t| ctx.symbol(t))
                .collect::<Result<Vec<_>>>()?
        }
    };
    let path = BoundedVec::new(path).map_err(|p| {
        usage(format!(
            "--path has {} tokens, at most {MAX_PATH_TOKENS}",
            p.len()
        ))
    })?;
    let kind = TxKind::PayPath {
        send_token,
        send_max,
        dest_token,
        dest_amount,
        to,
        path,
        order_id,
        memo: memo(memo_text)?,
    };
    sign_and_submit(ctx, args, kind)
}

fn refund(
    ctx: &Ctx,
    payment: &str,
    amount: &str,
    token: Option<&str>,
    args: &SubmitArgs,
) -> Result<()> {
    let payment_hash = Hash32::from_hex(payment).map_err(|_| {
        usage(format!(
            "bad payment hash `{payment}`: expected 64 hex digits"
        ))
    })?;
    let token = token.map(|t| ctx.symbol(t)).transpose()?;
    let symbol = match (token, args.token_decimals) {
        (Some(token), Some(_)) => token,
        (None, Some(_)) => {
            return Err(usage(
                "signing a refund offline needs --token as well as --token-decimals",
            ));
        }
        (token, None) => {
            let info = ctx.rpc()?.get_transaction(&payment_hash.to_hex())?;
            if matches!(info.status, TxStatus::Unknown | TxStatus::Pending) {
                return Err(usage(format!(
                    "payment {payment} is {} on this node",
                    info.status
                )));
            }
            let paid: Vec<&str> = info
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::Paid { token, .. } => Some(token.as_str()),
                    _ => None,
                })
                .collect();
            match (token, paid.as_slice()) {
                (_, []) => {
                    return Err(usage(format!(
                        "transaction {payment} is not a committed payment"
                    )));
                }
                (Some(token), paid) if !paid.contains(&token.as_str()) => {
                    return Err(usage(format!(
                        "payment {payment} paid in {}, not {token}",
                        paid.join(" and ")
                    )));
                }
                (Some(token), _) => token,
                (None, [one]) => ctx.symbol(one)?,
                (None, several) => {
                    return Err(usage(format!(
                        "payment {payment} paid in {}: name the one to refund with --token",
                        several.join(" and ")
                    )));
                }
            }
        }
    };
    let decimals = ctx.decimals(&symbol, args.token_decimals)?;
    let amount = parse_units(symbol.as_str(), amount, decimals)?;
    sign_and_submit(
        ctx,
        args,
        TxKind::Refund {
            payment: payment_hash,
            token: symbol,
            amount,
        },
    )
}

fn redeem(
    ctx: &Ctx,
    token: &str,
    amount: &str,
    memo_text: Option<String>,
    args: &SubmitArgs,
) -> Result<()> {
    let token = ctx.symbol(token)?;
    let decimals = ctx.decimals(&token, args.token_decimals)?;
    let amount = parse_units(token.as_str(), amount, decimals)?;
    let kind = TxKind::Redeem {
        token,
        amount,
        memo: memo(memo_text)?,
    };
    sign_and_submit(ctx, args, kind)
}

// ---------------------------------------------------------------- exchange

fn offer(ctx: &Ctx, command: OfferCommand) -> Result<()> {
    match command {
        OfferCommand::Place {
            sell,
            buy,
            amount,
            price,
            buy_decimals,
            submit,
        } => {
            let sell = ctx.symbol(&sell).context("in --sell")?;
            let buy = ctx.symbol(&buy).context("in --buy")?;
            if sell == buy {
                return Err(usage(format!(
                    "--sell and --buy are both {sell}: an offer exchanges one token for another"
                )));
            }
            let sell_decimals = ctx.decimals(&sell, submit.token_decimals)?;
            let buy_decimals = ctx.decimals_via(&buy, buy_decimals, "--buy-decimals")?;
            let amount = parse_units(sell.as_str(), &amount, sell_decimals)?;
            let price = parse_price(
                &price,
                sell.as_str(),
                sell_decimals,
                buy.as_str(),
                buy_decimals,
            )?;
            let kind = TxKind::PlaceOffer {
                sell,
                buy,
                amount,
                price,
            };
            sign_and_submit(ctx, &submit, kind)
        }
        OfferCommand::Cancel { id, submit } => {
            sign_and_submit(ctx, &submit, TxKind::CancelOffer { offer_id: id })
        }
        OfferCommand::List { who } => {
            let address = ctx.account(who.as_deref())?.address.to_bech32();
            let offers: Vec<_> = ctx
                .rpc()?
                .get_account(&address)?
                .offers
                .into_iter()
                .map(|o| output::offer_view(ctx, o))
                .collect();
            if ctx.json {
                return output::json(&json!({ "address": address, "offers": offers }));
            }
            println!("{}", ctx.label(&address));
            if offers.is_empty() {
                println!("no open offers");
            } else {
                println!("{}", output::offer_table(ctx, &offers, true));
            }
            Ok(())
        }
    }
}

fn book(ctx: &Ctx, sell: &str, buy: &str, limit: u64) -> Result<()> {
    let sell = ctx.symbol(sell)?;
    let buy = ctx.symbol(buy)?;
    if sell == buy {
        return Err(usage(format!(
            "both tokens are {sell}: a book pairs two different tokens"
        )));
    }
    if limit == 0 || limit > MAX_BOOK_PAGE as u64 {
        return Err(usage(format!("--limit must be 1 to {MAX_BOOK_PAGE}")));
    }
    // Unknown tokens are named before the node is asked for the book.
    ctx.token(&sell)?;
    ctx.token(&buy)?;
    let book = ctx
        .rpc()?
        .get_order_book(sell.as_str(), buy.as_str(), limit)?
        .map_offers(|o| output::offer_view(ctx, o));
    if ctx.json {
        return output::json(&book);
    }
    for (side, (a, b)) in [
        (&book.offers, (&sell, &buy)),
        (&book.opposite, (&buy, &sell)),
    ] {
        println!("selling {a} for {b} (price in {b} per {a}, best first)");
        if side.is_empty() {
            println!("  no offers");
        } else {
            println!("{}", output::offer_table(ctx, side, false));
        }
        println!();
    }
    println!(
        "trade: merit --from NAME offer place --sell {sell} --buy {buy} --amount AMOUNT --price PRICE"
    );
    Ok(())
}

// ---------------------------------------------------------------- escrow

/// Longest `--deadline` accepted, in bytes.
const MAX_DURATION_INPUT_BYTES: usize = 32;

/// Parses `90s`, `30m`, `36h` or `7d` into milliseconds.
fn parse_duration_ms(input: &str) -> Result<u64> {
    let text = input.trim();
    let bad = || {
        usage(format!(
            "bad --deadline `{input}`: expected a whole number with s, m, h or d, like 36h or 7d"
        ))
    };
    if text.is_empty() || text.len() > MAX_DURATION_INPUT_BYTES {
        return Err(bad());
    }
    let (digits, unit_ms) = match text.as_bytes()[text.len() - 1] {
        b's' => (&text[..text.len() - 1], 1_000u64),
        b'm' => (&text[..text.len() - 1], 60_000),
        b'h' => (&text[..text.len() - 1], 3_600_000),
        b'd' => (&text[..text.len() - 1], merit_chain::limits::MS_PER_DAY),
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let ms = n.checked_mul(unit_ms).ok_or_else(bad)?;
    if ms == 0 {
        return Err(usage("the --deadline must be in the future"));
    }
    if ms > MAX_ESCROW_DURATION_MS {
        return Err(usage(format!(
            "the --deadline is at most {} days ahead",
            MAX_ESCROW_DURATION_MS / merit_chain::limits::MS_PER_DAY
        )));
    }
    Ok(ms)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn escrow_id(id: &str) -> Result<Hash32> {
    Hash32::from_hex(id.trim()).map_err(|_| {
        usage(format!(
            "bad escrow id `{id}`: expected the 64 hex digits of the transaction that created it"
        ))
    })
}

fn escrow(ctx: &Ctx, command: EscrowCommand) -> Result<()> {
    match command {
        EscrowCommand::Create {
            token,
            amount,
            to,
            deadline,
            deadline_ms,
            order,
            submit,
        } => {
            let token = ctx.symbol(&token)?;
            let to = ctx.resolve_account(&to)?;
            let deadline_ms = match (deadline, deadline_ms) {
                (_, Some(ms)) => ms,
                (Some(d), None) => now_ms().saturating_add(parse_duration_ms(&d)?),
                (None, None) => return Err(usage("give --deadline or --deadline-ms")),
            };
            let order_id = order.as_deref().map(order_id).transpose()?;
            let decimals = ctx.decimals(&token, submit.token_decimals)?;
            let amount = parse_units(token.as_str(), &amount, decimals)?;
            let kind = TxKind::EscrowCreate {
                token,
                to,
                amount,
                deadline_ms,
                order_id,
            };
            sign_and_submit(ctx, &submit, kind)
        }
        EscrowCommand::Release { id, submit } => {
            let id = escrow_id(&id)?;
            sign_and_submit(ctx, &submit, TxKind::EscrowRelease { id })
        }
        EscrowCommand::Refund { id, submit } => {
            let id = escrow_id(&id)?;
            sign_and_submit(ctx, &submit, TxKind::EscrowRefund { id })
        }
        EscrowCommand::Show { id } => {
            let hash = escrow_id(&id)?;
            let Some(e) = ctx.rpc()?.get_escrow(&hash.to_hex())? else {
                return Err(usage(format!("no escrow has id {}", hash.to_hex())));
            };
            if ctx.json {
                return output::json(&e);
            }
            let rows = [
                ("id", e.id.clone()),
                ("status", e.status.to_string()),
                ("token", e.token.clone()),
                ("amount", e.amount.clone()),
                ("locked", e.remaining.clone()),
                ("payer", ctx.label(&e.payer)),
                ("payee", ctx.label(&e.payee)),
                ("deadline", format_time_ms(e.deadline_ms)),
                ("order", e.order_id.clone().unwrap_or_else(|| "-".into())),
                ("created at", format!("height {}", e.height)),
            ];
            for (k, v) in rows {
                println!("{k:<11} {v}");
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------- tokens

fn token(ctx: &Ctx, command: TokenCommand) -> Result<()> {
    let unfreeze = matches!(command, TokenCommand::Unfreeze { .. });
    match command {
        TokenCommand::Create {
            symbol,
            name,
            decimals,
            max_supply,
            expiry_days,
            freezable,
            clawback,
            submit,
        } => {
            let symbol = ctx.symbol(&symbol)?;
            if decimals > merit_chain::limits::MAX_DECIMALS {
                return Err(usage(format!(
                    "--decimals is at most {}",
                    merit_chain::limits::MAX_DECIMALS
                )));
            }
            let name = TokenName::new(name).map_err(|n| {
                usage(format!(
                    "the name is {} bytes, over the limit of {}",
                    n.len(),
                    merit_chain::limits::MAX_TOKEN_NAME_BYTES
                ))
            })?;
            let max_supply =
                parse_units(symbol.as_str(), &max_supply, decimals).context("in --max-supply")?;
            let kind = TxKind::CreateToken {
                symbol,
                name,
                decimals,
                max_supply,
                expiry_days,
                freezable,
                clawback,
            };
            sign_and_submit(ctx, &submit, kind)
        }
        TokenCommand::Freeze {
            token,
            amount,
            account,
            submit,
        }
        | TokenCommand::Unfreeze {
            token,
            amount,
            account,
            submit,
        } => {
            let token = ctx.symbol(&token)?;
            let account = ctx.resolve_account(&account)?;
            let decimals = ctx.decimals(&token, submit.token_decimals)?;
            let amount = parse_units(token.as_str(), &amount, decimals)?;
            let kind = if unfreeze {
                TxKind::Unfreeze {
                    token,
                    account,
                    amount,
                }
            } else {
                TxKind::Freeze {
                    token,
                    account,
                    amount,
                }
            };
            sign_and_submit(ctx, &submit, kind)
        }
        TokenCommand::Clawback {
            token,
            amount,
            holder,
            memo: text,
            submit,
        } => {
            let token = ctx.symbol(&token)?;
            let from = ctx.resolve_account(&holder)?;
            let decimals = ctx.decimals(&token, submit.token_decimals)?;
            let amount = parse_units(token.as_str(), &amount, decimals)?;
            let memo = memo(text)?;
            sign_and_submit(
                ctx,
                &submit,
                TxKind::Clawback {
                    token,
                    from,
                    amount,
                    memo,
                },
            )
        }
        TokenCommand::Mint {
            token,
            amount,
            to,
            submit,
        } => {
            let token = ctx.symbol(&token)?;
            let to = ctx.resolve_account(&to)?;
            let decimals = ctx.decimals(&token, submit.token_decimals)?;
            let amount = parse_units(token.as_str(), &amount, decimals)?;
            sign_and_submit(ctx, &submit, TxKind::Mint { token, to, amount })
        }
        TokenCommand::Info { symbol } => {
            let symbol = ctx.symbol(&symbol)?;
            let t = ctx.token(&symbol)?;
            if ctx.json {
                return output::json(&t);
            }
            let rows = [
                ("symbol", t.symbol.clone()),
                ("name", t.name.clone()),
                ("issuer", ctx.label(&t.issuer)),
                ("decimals", t.decimals.to_string()),
                ("max supply", t.max_supply.clone()),
                ("minted", t.minted.clone()),
                ("circulating", t.circulating.clone()),
                ("in offers", t.locked_in_offers.clone()),
                ("in escrow", t.locked_in_escrow.clone()),
                ("redeemed", t.redeemed.clone()),
                ("expired", t.expired.clone()),
                ("frozen", t.frozen.clone()),
                ("clawed back", t.clawed_back.clone()),
                (
                    "issuer may",
                    match (t.freezable, t.clawback) {
                        (true, true) => "freeze, claw back",
                        (true, false) => "freeze",
                        (false, true) => "claw back",
                        (false, false) => "neither freeze nor claw back",
                    }
                    .to_string(),
                ),
                (
                    "expiry",
                    t.expiry_days
                        .map(|d| format!("{d} days after minting"))
                        .unwrap_or_else(|| "never".to_string()),
                ),
                ("created at", format!("height {}", t.created_height)),
            ];
            for (k, v) in rows {
                println!("{k:<12} {v}");
            }
            Ok(())
        }
        TokenCommand::List => {
            let tokens = ctx.rpc()?.list_tokens()?;
            if ctx.json {
                return output::json(&tokens);
            }
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| {
                    vec![
                        t.symbol.clone(),
                        t.name.clone(),
                        t.decimals.to_string(),
                        t.circulating.clone(),
                        t.max_supply.clone(),
                        ctx.label(&t.issuer),
                    ]
                })
                .collect();
            println!(
                "{}",
                table(
                    &[
                        "SYMBOL",
                        "NAME",
                        "DECIMALS",
                        "CIRCULATING",
                        "MAX SUPPLY",
                        "ISSUER"
                    ],
                    &rows
                )
            );
            Ok(())
        }
    }
}

// ---------------------------------------------------------------- tx

fn read_hex_arg(arg: &str) -> Result<String> {
    if arg != "-" {
        return Ok(arg.to_string());
    }
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .take(submit::MAX_TX_HEX_CHARS as u64 + 64)
        .read_to_string(&mut text)
        .map_err(|e| usage(format!("cannot read stdin: {e}")))?;
    Ok(text)
}

fn tx(ctx: &Ctx, args: TxArgs) -> Result<()> {
    match (args.hash, args.command) {
        (Some(hash), None) | (None, Some(TxCommand::Show { hash })) => show_tx(ctx, &hash),
        (None, Some(TxCommand::Send { hex, wait })) => {
            let (bytes, tx) = decode_hex(&read_hex_arg(&hex)?)?;
            if !tx.verify_signature() {
                return Err(usage(
                    "the signature does not match the transaction; it was altered after signing",
                ));
            }
            submit_and_wait(ctx, &bytes, &tx, &wait)
        }
        (None, Some(TxCommand::Decode { hex })) => {
            let (_, tx) = decode_hex(&read_hex_arg(&hex)?)?;
            let decoded = json!({
                "hash": tx.hash().to_hex(),
                "chain_id": tx.body.chain_id.as_str(),
                "sender": tx.body.sender.to_bech32(),
                "sub": tx.body.sub,
                "nonce": tx.body.nonce,
                "expires_at_height": tx.body.expires_at_height,
                "kind": kind_json(&tx.body.kind),
                "signature_valid": tx.verify_signature(),
            });
            if ctx.json {
                return output::json(&decoded);
            }
            println!("hash               {}", tx.hash());
            println!("chain              {}", tx.body.chain_id);
            println!(
                "sender             {}",
                ctx.label(&tx.body.sender.to_bech32())
            );
            if tx.body.sub > 0 {
                println!(
                    "paying account     {}/{}",
                    ctx.short(&tx.body.sender.to_bech32()),
                    tx.body.sub
                );
            }
            println!("nonce              {}", tx.body.nonce);
            println!("expires at height  {}", tx.body.expires_at_height);
            println!("kind               {}", kind_json(&tx.body.kind));
            println!(
                "signature          {}",
                if tx.verify_signature() {
                    "valid"
                } else {
                    "INVALID"
                }
            );
            Ok(())
        }
        _ => Err(usage(
            "name a transaction: `merit tx HASH`, `merit tx send HEX` or `merit tx decode HEX`",
        )),
    }
}

fn show_tx(ctx: &Ctx, hash: &str) -> Result<()> {
    let h = Hash32::from_hex(hash).map_err(|_| {
        usage(format!(
            "bad transaction hash `{hash}`: expected 64 hex digits"
        ))
    })?;
    let info = TxView::from(ctx.rpc()?.get_transaction(&h.to_hex())?);
    submit::verify_outcome(ctx, &info)?;
    submit::show(ctx, &info)?;
    if info.tx.status == TxStatus::Unknown && !ctx.json {
        eprintln!("the node does not know transaction {hash}");
    }
    Ok(())
}

//! Sub-accounts (ADR 020): `merit sub-account open | list`, and `merit
//! balance ADDRESS --all`, the roll-up of an address and every sub-account
//! it opened, proven complete at one certified block.

use std::collections::BTreeMap;

use anyhow::Result;
use merit_api::SubAccount;
use merit_chain::amount::{format_amount, parse_amount};
use merit_chain::limits::MAX_SUB_ACCOUNT_LABEL_BYTES;
use merit_chain::proof::MAX_PROVEN_ENTRIES;
use merit_chain::tx::{AccountRef, SubAccountLabel};
use merit_chain::{Address, Symbol, TxKind};
use serde::Serialize;

use crate::cli::SubAccountCommand;
use crate::ctx::Ctx;
use crate::error::usage;
use crate::output::{self, table};
use crate::submit::sign_and_submit;
use crate::trust::Verifier;

/// How many times `sub-account list` reads the list and the proven count
/// before it calls a difference a lie: one may open between the two reads.
const LIST_READS: usize = 3;

/// A label as typed, checked before anything is signed.
pub fn label(text: &str) -> Result<SubAccountLabel> {
    SubAccountLabel::new(text.to_string()).map_err(|l| {
        usage(format!(
            "the label is {} bytes, over the limit of {MAX_SUB_ACCOUNT_LABEL_BYTES}",
            l.len()
        ))
    })
}

pub fn run(ctx: &Ctx, command: SubAccountCommand) -> Result<()> {
    match command {
        SubAccountCommand::Open {
            label: text,
            submit,
        } => {
            let label = label(&text)?;
            sign_and_submit(ctx, &submit, TxKind::OpenSubAccount { label })
        }
        SubAccountCommand::List { who } => list(ctx, who.as_deref()),
    }
}

/// `merit sub-account list [ACCOUNT]`: the node's list, its length checked
/// against the proven count unless `--trust-node`.
fn list(ctx: &Ctx, who: Option<&str>) -> Result<()> {
    let address = ctx.account(who)?.address;
    let rpc = ctx.rpc()?;
    let mut subs = rpc.get_sub_accounts(&address.to_bech32())?;
    let mut proven = None;
    if let Some(v) = ctx.verifier()? {
        let mut reads = 1;
        loop {
            let (count, header) = v.sub_accounts(rpc, &address)?;
            if numbered(&subs, count) {
                proven = Some((count, header.height));
                break;
            }
            if reads >= LIST_READS {
                return Err(v.contradicts(format!(
                    "it lists {} sub-accounts of {address}, its certified state at block {} \
                     counts {count}",
                    subs.len(),
                    header.height
                )));
            }
            reads += 1;
            subs = rpc.get_sub_accounts(&address.to_bech32())?;
        }
    }
    if ctx.json {
        return output::json(&serde_json::json!({
            "address": address.to_bech32(),
            "count": subs.len(),
            "sub_accounts": subs,
        }));
    }
    println!("{}", ctx.label(&address.to_bech32()));
    if subs.is_empty() {
        println!("no sub-accounts; open one with `merit --from NAME sub-account open LABEL`");
    } else {
        let rows: Vec<Vec<String>> = subs
            .iter()
            .map(|s| {
                vec![
                    ctx.short(&s.account),
                    s.label.clone(),
                    s.opened_height.to_string(),
                    s.account.clone(),
                ]
            })
            .collect();
        println!(
            "{}",
            table(&["ACCOUNT", "LABEL", "OPENED", "ADDRESS/N"], &rows)
        );
    }
    if let Some((count, height)) = proven {
        let opened = match count {
            1 => "1 sub-account".to_string(),
            n => format!("{n} sub-accounts"),
        };
        eprintln!(
            "verified: {opened} opened as of block {height}, certified by the alliance's \
             validators"
        );
    }
    Ok(())
}

/// Whether `subs` are exactly sub-accounts `1..=count`, in order.
fn numbered(subs: &[SubAccount], count: u32) -> bool {
    subs.len() == count as usize && subs.iter().zip(1..).all(|(s, n)| s.sub == n)
}

/// One account of a roll-up: what it holds, per token, in token units.
#[derive(Debug, Clone, Serialize)]
pub struct RolledAccount {
    /// `ADDRESS` or `ADDRESS/N`.
    pub account: String,
    pub sub: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Spendable, per token; tokens at zero are left out.
    pub balances: BTreeMap<String, String>,
    /// Frozen by the issuer, per token; tokens with none are left out.
    pub frozen: BTreeMap<String, String>,
}

/// What `merit balance ADDRESS --all --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RollUp {
    pub address: String,
    /// How many sub-accounts the address has opened: `accounts` holds the
    /// address itself and each of `1..=sub_accounts`.
    pub sub_accounts: u32,
    /// Whether the count and every holding were proven at `height`.
    pub verified: bool,
    /// The certified block all the proofs are of; `null` with `--trust-node`.
    pub height: Option<u64>,
    pub block_hash: Option<String>,
    pub accounts: Vec<RolledAccount>,
    /// The sum over `accounts`, per token.
    pub total: Totals,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub balances: BTreeMap<String, String>,
    pub frozen: BTreeMap<String, String>,
}

/// Base units per token: spendable, frozen.
type Units = BTreeMap<Symbol, (u64, u64)>;

/// `merit balance ADDRESS --all`.
pub fn balance_all(ctx: &Ctx, address: &Address) -> Result<()> {
    let rpc = ctx.rpc()?;
    let (count, held, proven, listed) = match ctx.verifier()? {
        Some(v) => {
            let (count, held, height, hash) = proven_holdings(ctx, v, address)?;
            // Only for the labels, which are the node's word: the count and
            // the holdings are proven.
            let listed = rpc
                .get_sub_accounts(&address.to_bech32())
                .unwrap_or_default();
            (count, held, Some((height, hash)), listed)
        }
        None => {
            let listed = rpc.get_sub_accounts(&address.to_bech32())?;
            let count = listed.iter().map(|s| s.sub).max().unwrap_or(0);
            (count, shown_holdings(ctx, address, count)?, None, listed)
        }
    };
    let labels: BTreeMap<u32, String> = listed.into_iter().map(|s| (s.sub, s.label)).collect();
    let mut decimals: BTreeMap<Symbol, u8> = BTreeMap::new();
    let mut sums: Units = BTreeMap::new();
    for units in &held {
        for (sym, (spendable, frozen)) in units {
            let sum = sums.entry(*sym).or_default();
            sum.0 = sum.0.saturating_add(*spendable);
            sum.1 = sum.1.saturating_add(*frozen);
            if !decimals.contains_key(sym) {
                decimals.insert(*sym, ctx.token(sym)?.decimals);
            }
        }
    }
    let format = |units: &Units| -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let mut balances = BTreeMap::new();
        let mut frozen = BTreeMap::new();
        for (sym, (s, f)) in units {
            let d = decimals.get(sym).copied().unwrap_or(0);
            if *s > 0 {
                balances.insert(sym.to_string(), format_amount(*s, d));
            }
            if *f > 0 {
                frozen.insert(sym.to_string(), format_amount(*f, d));
            }
        }
        (balances, frozen)
    };
    let accounts: Vec<RolledAccount> = held
        .iter()
        .zip(0..)
        .map(|(units, sub)| {
            let (balances, frozen) = format(units);
            RolledAccount {
                account: AccountRef::new(*address, sub).to_string(),
                sub,
                label: labels.get(&sub).cloned(),
                balances,
                frozen,
            }
        })
        .collect();
    let (balances, frozen) = format(&sums);
    let rollup = RollUp {
        address: address.to_bech32(),
        sub_accounts: count,
        verified: proven.is_some(),
        height: proven.as_ref().map(|p| p.0),
        block_hash: proven.as_ref().map(|p| p.1.clone()),
        accounts,
        total: Totals { balances, frozen },
    };
    if ctx.json {
        return output::json(&rollup);
    }
    print_rollup(ctx, &rollup);
    Ok(())
}

fn print_rollup(ctx: &Ctx, r: &RollUp) {
    let any_frozen = !r.total.frozen.is_empty();
    let mut headers = vec!["ACCOUNT", "LABEL", "TOKEN", "BALANCE"];
    if any_frozen {
        headers.push("FROZEN");
    }
    println!(
        "{}: the address and {} sub-account{}",
        ctx.label(&r.address),
        r.sub_accounts,
        if r.sub_accounts == 1 { "" } else { "s" }
    );
    let mut rows = Vec::new();
    for a in &r.accounts {
        let mut symbols: Vec<&String> = a.balances.keys().chain(a.frozen.keys()).collect();
        symbols.sort();
        symbols.dedup();
        let label = a.label.clone().unwrap_or_else(|| "-".to_string());
        if symbols.is_empty() {
            let mut row = vec![ctx.short(&a.account), label.clone(), "-".into(), "0".into()];
            if any_frozen {
                row.push(String::new());
            }
            rows.push(row);
        }
        for sym in symbols {
            let mut row = vec![
                ctx.short(&a.account),
                label.clone(),
                sym.clone(),
                a.balances.get(sym).cloned().unwrap_or_else(|| "0".into()),
            ];
            if any_frozen {
                row.push(a.frozen.get(sym).cloned().unwrap_or_default());
            }
            rows.push(row);
        }
    }
    println!("{}", table(&headers, &rows));
    println!("\ntotal:");
    let mut symbols: Vec<&String> = r
        .total
        .balances
        .keys()
        .chain(r.total.frozen.keys())
        .collect();
    symbols.sort();
    symbols.dedup();
    if symbols.is_empty() {
        println!("no points yet");
    } else {
        let mut headers = vec!["TOKEN", "BALANCE"];
        if any_frozen {
            headers.push("FROZEN");
        }
        let rows: Vec<Vec<String>> = symbols
            .iter()
            .map(|sym| {
                let mut row = vec![
                    (*sym).clone(),
                    r.total
                        .balances
                        .get(*sym)
                        .cloned()
                        .unwrap_or_else(|| "0".into()),
                ];
                if any_frozen {
                    row.push(r.total.frozen.get(*sym).cloned().unwrap_or_default());
                }
                row
            })
            .collect();
        println!("{}", table(&headers, &rows));
    }
    match (r.height, &r.block_hash) {
        (Some(height), Some(hash)) => println!(
            "\nproven complete: the count of {} sub-account{} and every account's holdings, at \
             block {height} ({hash}), certified by the alliance's validators",
            r.sub_accounts,
            if r.sub_accounts == 1 { "" } else { "s" }
        ),
        _ => println!("\nnot verified (--trust-node): the node could have left an account out"),
    }
}

/// The proven count of `address`'s sub-accounts at the current state, and
/// each account's holdings in every listed token, proven at that same
/// block: returns the count, the holdings of accounts `0..=count`, and the
/// block's height and hash.
fn proven_holdings(
    ctx: &Ctx,
    v: &Verifier,
    address: &Address,
) -> Result<(u32, Vec<Units>, u64, String)> {
    let rpc = ctx.rpc()?;
    let symbols = listed_symbols(ctx)?;
    let (count, first) = v.sub_accounts(rpc, address)?;
    let height = first.height;
    let hash = first.hash();
    let mut held = Vec::with_capacity(count as usize + 1);
    for sub in 0..=count {
        let account = AccountRef::new(*address, sub);
        let mut units = Units::new();
        for chunk in symbols.chunks(MAX_PROVEN_ENTRIES) {
            let (holdings, header) = v.holdings_at(rpc, &account, chunk, height)?;
            if header.hash() != hash {
                return Err(v.contradicts(format!(
                    "it proves {account} under block {} and the count of sub-accounts under \
                     block {hash}, both at height {height}",
                    header.hash()
                )));
            }
            for (sym, h) in holdings {
                let frozen = h.frozen.min(h.balance);
                if h.balance > 0 {
                    units.insert(sym, (h.balance - frozen, frozen));
                }
            }
        }
        held.push(units);
    }
    Ok((count, held, height, hash.to_hex()))
}

/// What the node shows, unchecked (`--trust-node`): the balances of the
/// address and of its sub-accounts `1..=count`.
fn shown_holdings(ctx: &Ctx, address: &Address, count: u32) -> Result<Vec<Units>> {
    let rpc = ctx.rpc()?;
    let mut held = Vec::with_capacity(count as usize + 1);
    for sub in 0..=count {
        let account = AccountRef::new(*address, sub).to_string();
        let shown = rpc.get_account(&account)?;
        let mut units = Units::new();
        let amounts = shown
            .balances
            .iter()
            .map(|(sym, amount)| (sym, amount, false))
            .chain(shown.frozen.iter().map(|(sym, amount)| (sym, amount, true)));
        for (sym, amount, frozen) in amounts {
            let sym = ctx.symbol(sym)?;
            let d = ctx.token(&sym)?.decimals;
            let n = parse_amount(amount, d).map_err(|e| {
                anyhow::anyhow!("the node shows `{amount}` {sym} in {account}: {e}")
            })?;
            let entry = units.entry(sym).or_default();
            if frozen {
                entry.1 = entry.1.saturating_add(n);
            } else {
                entry.0 = entry.0.saturating_add(n);
            }
        }
        held.push(units);
    }
    Ok(held)
}

/// Every token the node lists.
fn listed_symbols(ctx: &Ctx) -> Result<Vec<Symbol>> {
    Ok(ctx
        .rpc()?
        .list_tokens()?
        .iter()
        .filter_map(|t| Symbol::new(&t.symbol).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sub: u32) -> SubAccount {
        SubAccount {
            sub,
            account: format!("mrt1x/{sub}"),
            label: String::new(),
            opened_height: 1,
        }
    }

    #[test]
    fn a_label_over_32_bytes_is_refused_before_signing() {
        assert!(label("Harbour St store").is_ok());
        assert!(label(&"x".repeat(MAX_SUB_ACCOUNT_LABEL_BYTES)).is_ok());
        let e = label(&"x".repeat(MAX_SUB_ACCOUNT_LABEL_BYTES + 1)).unwrap_err();
        assert!(e.is::<crate::error::UsageError>());
        assert_eq!(e.to_string(), "the label is 33 bytes, over the limit of 32");
        // Bytes, not characters: 11 three-byte characters are 33 bytes.
        assert!(label(&"店".repeat(11)).is_err());
    }

    #[test]
    fn a_list_is_the_sub_accounts_one_to_the_count() {
        assert!(numbered(&[], 0));
        assert!(numbered(&[info(1), info(2)], 2));
        assert!(!numbered(&[info(1)], 2));
        assert!(!numbered(&[info(1), info(3)], 2));
        assert!(!numbered(&[info(2), info(1)], 2));
    }
}

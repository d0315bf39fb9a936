//! `merit statement` and `merit reconcile`: what moved in an account over a
//! UTC period, and the check that it adds up against certified balances
//! (DESIGN §11).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use merit_api::{PostingSide, Statement, method};
use merit_chain::amount::{format_amount, parse_amount};
use merit_chain::limits::MS_PER_DAY;
use merit_chain::postings::{PostingAccount, Side, block_postings};
use merit_chain::tx::AccountRef;
use merit_chain::{Hash32, Symbol};
use serde_json::json;

use crate::ctx::Ctx;
use crate::error::usage;
use crate::output::{self, format_time_ms, table};

/// `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DDTHH:MM[:SS]Z`, or milliseconds
/// since the Unix epoch.
pub fn parse_time(s: &str) -> Result<u64> {
    let bad = || {
        usage(format!(
            "`{s}` is not a time: use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or milliseconds"
        ))
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| bad());
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(bad)?)),
        None => (s, None),
    };
    let day = merit_api::parse_utc_date(date).ok_or_else(bad)?;
    let mut ms = day * MS_PER_DAY;
    if let Some(t) = time {
        let parts: Vec<&str> = t.split(':').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
            return Err(bad());
        }
        let field = |i: usize, max: u64| -> Result<u64> {
            let v: u64 = parts
                .get(i)
                .map_or(Ok(0), |p| p.parse())
                .map_err(|_| bad())?;
            if v > max { Err(bad()) } else { Ok(v) }
        };
        ms += (field(0, 23)? * 3600 + field(1, 59)? * 60 + field(2, 59)?) * 1000;
    }
    Ok(ms)
}

/// The period of `--day` or `--since`/`--until`.
pub fn period(day: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<(u64, u64)> {
    match (day, from, to) {
        (Some(d), None, None) => {
            let day = merit_api::parse_utc_date(d)
                .ok_or_else(|| usage(format!("--day `{d}` is not a date (YYYY-MM-DD)")))?;
            Ok((day * MS_PER_DAY, (day + 1) * MS_PER_DAY))
        }
        (None, Some(f), Some(t)) => {
            let (from, to) = (parse_time(f)?, parse_time(t)?);
            if from >= to {
                return Err(usage("--since must be before --until"));
            }
            Ok((from, to))
        }
        _ => Err(usage(
            "give either --day YYYY-MM-DD, or both --since and --until",
        )),
    }
}

fn fetch(
    ctx: &Ctx,
    who: &AccountRef,
    from_ms: u64,
    to_ms: u64,
    token: Option<&str>,
) -> Result<Statement> {
    let mut options = json!({"from_ms": from_ms, "to_ms": to_ms});
    if let Some(t) = token {
        options["token"] = json!(t);
    }
    if who.sub > 0 {
        options["sub"] = json!(who.sub);
    }
    Ok(ctx.rpc()?.call(
        method::GET_STATEMENT,
        json!([who.address.to_bech32(), options]),
    )?)
}

/// A CSV field, quoted when it must be.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn signed(side: PostingSide, amount: &str) -> String {
    match side {
        PostingSide::Debit => format!("-{amount}"),
        PostingSide::Credit => format!("+{amount}"),
    }
}

/// `merit statement ACCOUNT [--day D | --since T --until T] [--token T] [--csv]`.
pub fn statement(
    ctx: &Ctx,
    who: Option<&str>,
    (from_ms, to_ms): (u64, u64),
    token: Option<String>,
    csv: bool,
) -> Result<()> {
    let token = token.map(|t| ctx.symbol(&t)).transpose()?;
    let address = ctx.account(who)?;
    let s = fetch(
        ctx,
        &address,
        from_ms,
        to_ms,
        token.as_ref().map(Symbol::as_str),
    )?;
    if ctx.json {
        return output::json(&s);
    }
    if csv {
        println!("token,height,time,tx,kind,side,amount,counterparty,order_id,memo");
        for t in &s.tokens {
            let time = |ms: u64| format_time_ms(ms);
            println!(
                "{},{},{},,opening,,{},,,",
                t.token,
                s.opening_height,
                time(from_ms),
                t.opening
            );
            for l in &t.postings {
                let side = match l.side {
                    PostingSide::Debit => "debit",
                    PostingSide::Credit => "credit",
                };
                println!(
                    "{},{},{},{},{},{},{},{},{},{}",
                    t.token,
                    l.height,
                    time(l.time_ms),
                    l.hash.as_deref().unwrap_or(""),
                    l.kind,
                    side,
                    l.amount,
                    csv_field(&l.counterparty),
                    csv_field(l.order_id.as_deref().unwrap_or("")),
                    csv_field(l.memo.as_deref().unwrap_or("")),
                );
            }
            println!(
                "{},{},{},,closing,,{},,,",
                t.token,
                s.closing_height,
                time(to_ms),
                t.closing
            );
        }
        return Ok(());
    }
    println!("{}", ctx.label(&s.account));
    println!(
        "period   {} to {} (UTC, the end excluded)",
        format_time_ms(from_ms),
        format_time_ms(to_ms)
    );
    println!(
        "blocks   opening after block {}, closing after block {}{}",
        s.opening_height,
        s.closing_height,
        if s.complete {
            ""
        } else {
            " (the period is not over: closing is the latest block)"
        }
    );
    if s.tokens.is_empty() {
        println!("nothing held or moved");
    }
    for t in &s.tokens {
        println!(
            "\n{}  opening {}  +{}  -{}  closing {}",
            t.token, t.opening, t.credits, t.debits, t.closing
        );
        if t.postings.is_empty() {
            continue;
        }
        let rows: Vec<Vec<String>> = t
            .postings
            .iter()
            .map(|l| {
                let other = if l.counterparty.starts_with("mrt1") {
                    ctx.short(&l.counterparty)
                } else {
                    l.counterparty.clone()
                };
                vec![
                    format_time_ms(l.time_ms),
                    l.height.to_string(),
                    l.kind.clone(),
                    signed(l.side, &l.amount),
                    other,
                    l.order_id.clone().unwrap_or_default(),
                    l.memo.clone().unwrap_or_default(),
                    l.hash.clone().unwrap_or_else(|| "(block)".to_string()),
                ]
            })
            .collect();
        println!(
            "{}",
            table(
                &[
                    "TIME",
                    "HEIGHT",
                    "KIND",
                    "AMOUNT",
                    "COUNTERPARTY",
                    "ORDER",
                    "MEMO",
                    "TX"
                ],
                &rows
            )
        );
    }
    Ok(())
}

/// One posting as reconciliation compares them.
type Line = (Symbol, Side, u64, String);

/// `merit reconcile ACCOUNT --day D`: the day's statement against the
/// balances proven at the block before the day and at the day's last
/// block, and each posting against its transaction's certified receipt.
pub fn reconcile(ctx: &Ctx, who: Option<&str>, day: &str) -> Result<()> {
    let (from_ms, to_ms) = period(Some(day), None, None)?;
    let Some(verifier) = ctx.verifier()? else {
        return Err(usage(
            "reconcile checks the node's statement against proofs: it cannot run with --trust-node",
        ));
    };
    let rpc = ctx.rpc()?;
    let address = ctx.account(who)?;
    let me = PostingAccount::Account(address.address, address.sub);
    let s = fetch(ctx, &address, from_ms, to_ms, None)?;
    let node = &ctx.rpc_url;
    let mut problems: Vec<String> = Vec::new();

    // Every token the node lists, and any the statement names: a token the
    // statement leaves out must not have moved.
    let mut symbols: BTreeSet<Symbol> = BTreeSet::new();
    let listed: Vec<merit_api::TokenInfo> = rpc.call(method::LIST_TOKENS, json!([]))?;
    for t in listed
        .iter()
        .map(|t| t.symbol.as_str())
        .chain(s.tokens.iter().map(|t| t.token.as_str()))
    {
        symbols.insert(ctx.symbol(t)?);
    }
    let symbols: Vec<Symbol> = symbols.into_iter().collect();
    let mut decimals = BTreeMap::new();
    for sym in &symbols {
        decimals.insert(*sym, ctx.token(sym)?.decimals);
    }
    let units = |sym: &Symbol, text: &str| -> Result<u64> {
        parse_amount(text, decimals.get(sym).copied().unwrap_or(0)).map_err(|e| {
            verifier.contradicts(format!(
                "its statement has the amount `{text}` of {sym}: {e}"
            ))
        })
    };

    // The two ends, proven, and that they are the day's bounds: the block
    // after each end is certified and past the boundary.
    let bound =
        |height: u64, boundary_ms: u64, what: &str, after: bool| -> Result<BTreeMap<Symbol, u64>> {
            let (held, header) = verifier.holdings_at(rpc, &address, &symbols, height)?;
            if header.timestamp_ms >= boundary_ms {
                return Err(verifier.contradicts(format!(
                    "it names block {height} as the last before {}, but that block is at {}",
                    format_time_ms(boundary_ms),
                    format_time_ms(header.timestamp_ms)
                )));
            }
            if !after {
                return Ok(held
                    .into_iter()
                    .map(|(sym, h)| (sym, h.balance - h.frozen))
                    .collect());
            }
            match verifier.header_at(rpc, height + 1)? {
                Some(next)
                    if next.timestamp_ms < boundary_ms || next.parent_hash != header.hash() =>
                {
                    return Err(verifier.contradicts(format!(
                        "block {} follows its {what} block {height} and is before {}",
                        height + 1,
                        format_time_ms(boundary_ms)
                    )));
                }
                Some(_) => {}
                None => {
                    return Err(verifier
                        .contradicts(format!("it has no block after its {what} block {height}")));
                }
            }
            Ok(held
                .into_iter()
                .map(|(sym, h)| (sym, h.balance - h.frozen))
                .collect())
        };
    // A day with no block yet ends at its opening block.
    let after = s.complete || s.closing_height > s.opening_height;
    let opening = bound(s.opening_height, from_ms, "opening", after)?;
    // Until the day is over, its closing block is the latest one.
    let closing = bound(s.closing_height, to_ms, "closing", s.complete)?;

    // Each posting of a transaction against its certified receipt.
    let mut claimed: BTreeMap<Hash32, Vec<Line>> = BTreeMap::new();
    let mut sums: BTreeMap<Symbol, i128> = BTreeMap::new();
    for t in &s.tokens {
        let sym = ctx.symbol(&t.token)?;
        for l in &t.postings {
            let amount = units(&sym, &l.amount)?;
            let side = match l.side {
                PostingSide::Debit => Side::Debit,
                PostingSide::Credit => Side::Credit,
            };
            *sums.entry(sym).or_default() += match side {
                Side::Debit => -i128::from(amount),
                Side::Credit => i128::from(amount),
            };
            if let Some(h) = &l.hash {
                let hash = Hash32::from_hex(h)
                    .map_err(|_| verifier.contradicts(format!("its statement names tx `{h}`")))?;
                claimed
                    .entry(hash)
                    .or_default()
                    .push((sym, side, amount, l.counterparty.clone()));
            }
        }
    }
    for (hash, mut lines) in claimed {
        let Some((tx, receipt, header)) = verifier.proven_tx(rpc, &hash)? else {
            problems.push(format!(
                "transaction {hash} has no proof: the node invented it"
            ));
            continue;
        };
        if header.timestamp_ms < from_ms || header.timestamp_ms >= to_ms {
            problems.push(format!(
                "transaction {hash} committed at {}, outside the day",
                format_time_ms(header.timestamp_ms)
            ));
        }
        let mut proven: Vec<Line> = block_postings(&header, &[tx], &[receipt], &[])
            .into_iter()
            .filter(|p| p.account == me)
            .map(|p| (p.token, p.side, p.amount, p.counterparty.to_string()))
            .collect();
        proven.sort();
        lines.sort();
        if proven != lines {
            problems.push(format!(
                "transaction {hash}: the statement shows {}, its certified receipt {}",
                describe(&lines),
                describe(&proven)
            ));
        }
    }

    // opening + credits − debits = closing, per token, on proven balances.
    let mut rows = Vec::new();
    for sym in &symbols {
        let d = decimals.get(sym).copied().unwrap_or(0);
        let shown = s.tokens.iter().find(|t| t.token == sym.as_str());
        let open = opening.get(sym).copied().unwrap_or(0);
        let close = closing.get(sym).copied().unwrap_or(0);
        let net = sums.get(sym).copied().unwrap_or(0);
        if i128::from(open) + net != i128::from(close) {
            problems.push(format!(
                "{sym}: opening {} {} of postings gives {}, the proven closing balance is {}",
                format_amount(open, d),
                signed_units(net, d),
                signed_units(i128::from(open) + net, d),
                format_amount(close, d)
            ));
        }
        let shown_wrong = match shown {
            Some(t) => units(sym, &t.closing)? != close || units(sym, &t.opening)? != open,
            None => false,
        };
        if let (true, Some(t)) = (shown_wrong, shown) {
            problems.push(format!(
                "{sym}: the statement shows {} to {}, the proven balances are {} to {}",
                t.opening,
                t.closing,
                format_amount(open, d),
                format_amount(close, d)
            ));
        }
        if open != 0 || close != 0 || net != 0 {
            rows.push(vec![
                sym.to_string(),
                format_amount(open, d),
                signed_units(net, d),
                format_amount(close, d),
            ]);
        }
    }
    if ctx.json {
        output::json(&json!({
            "account": s.account,
            "day": day,
            "opening_height": s.opening_height,
            "closing_height": s.closing_height,
            "complete": s.complete,
            "reconciled": problems.is_empty(),
            "discrepancies": problems,
        }))?;
    } else {
        println!("{}  {day} (UTC)", ctx.label(&s.account));
        println!(
            "opening after block {}{} (proven), closing after block {} (proven{})",
            s.opening_height,
            if s.opening_height == 0 {
                ", genesis"
            } else {
                ""
            },
            s.closing_height,
            if s.complete {
                ""
            } else {
                "; the day is not over"
            }
        );
        println!("{}", table(&["TOKEN", "OPENING", "NET", "CLOSING"], &rows));
        if problems.is_empty() {
            println!("reconciled");
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(verifier.contradicts(format!(
        "the statement of {} for {day} does not reconcile with what {node} proves:\n  {}",
        s.account,
        problems.join("\n  ")
    )))
}

fn describe(lines: &[Line]) -> String {
    if lines.is_empty() {
        return "nothing".to_string();
    }
    lines
        .iter()
        .map(|(sym, side, amount, other)| {
            let sign = if *side == Side::Debit { "-" } else { "+" };
            format!("{sign}{amount} {sym} ({other})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn signed_units(v: i128, decimals: u8) -> String {
    let abs = u64::try_from(v.unsigned_abs()).unwrap_or(u64::MAX);
    let sign = if v < 0 { "-" } else { "+" };
    format!("{sign}{}", format_amount(abs, decimals))
}

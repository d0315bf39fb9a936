//! `merit_getStatement`: an account's postings over a half-open period of
//! block time, with the opening and closing balances per token and the
//! heights that bound the period (DESIGN §11).
//!
//! The balances come from the tip: the closing balance of a token is
//! today's minus what the account's postings after the period moved, and
//! the opening balance is the closing one minus what the period's moved.
//! Only the account's own history entries since the period began are read.

use std::collections::{BTreeMap, BTreeSet};

use jsonrpsee::types::ErrorObjectOwned;
use merit_api as api;
use merit_chain::postings::{PostingAccount, Side};
use merit_chain::{Address, Symbol};
use merit_store::{BLOCK_EVENTS_INDEX, TxLocation};

use super::{BlockJournal, amount, bad_params, internal, parse_symbol};
use crate::shared::Shared;

/// Most history entries one statement reads: a statement of a period
/// further back than that is a job for the indexer.
pub const MAX_STATEMENT_ENTRIES: usize = 100_000;

/// The last height whose block time is before `time_ms`, in `0..=tip`
/// (0 when no block after genesis is).
fn last_height_before(shared: &Shared, tip: u64, time_ms: u64) -> Result<u64, ErrorObjectOwned> {
    let time = |h: u64| -> Result<u64, ErrorObjectOwned> {
        Ok(shared
            .storage
            .block(h)
            .map_err(internal)?
            .ok_or_else(|| internal(format!("block {h} is missing")))?
            .header
            .timestamp_ms)
    };
    // Block times strictly increase: the heights before `time_ms` are a
    // prefix of 1..=tip.
    let (mut lo, mut hi) = (0u64, tip);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if time(mid)? < time_ms {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(lo)
}

/// One token's running figures.
#[derive(Default)]
struct Running {
    after: i128,
    credits: u128,
    debits: u128,
    /// Each line with its amount in base units, newest first.
    lines: Vec<(u64, api::StatementLine)>,
}

pub(super) fn get_statement(
    shared: &Shared,
    address: &Address,
    options: &api::StatementOptions,
) -> Result<api::Statement, ErrorObjectOwned> {
    if options.from_ms >= options.to_ms {
        return Err(bad_params(format!(
            "from_ms is {}, to_ms is {}: the period [from_ms, to_ms) is empty",
            options.from_ms, options.to_ms
        )));
    }
    let only = options.token.as_deref().map(parse_symbol).transpose()?;
    let sub = options.sub.unwrap_or(0);
    let me = PostingAccount::Account(*address, sub);
    // Today's balances and the tip they belong to; history entries above
    // the tip (stored, not yet installed) are left out.
    let (tip, tip_time, now) = {
        let ledger = shared.read_ledger();
        let now: BTreeMap<Symbol, u64> = ledger
            .holdings(address, sub)
            .map(|(sym, h)| (sym, h.balance - h.frozen))
            .collect();
        (ledger.height(), ledger.tip().timestamp_ms, now)
    };
    let opening_height = last_height_before(shared, tip, options.from_ms)?;
    let closing_height = last_height_before(shared, tip, options.to_ms)?;
    let mut running: BTreeMap<Symbol, Running> = BTreeMap::new();
    let mut before: Option<TxLocation> = None;
    let mut read = 0usize;
    let mut journal: Option<BlockJournal> = None;
    'walk: loop {
        let page = shared
            .storage
            .history(address, before, merit_chain::limits::MAX_HISTORY_PAGE)
            .map_err(internal)?;
        for e in &page {
            before = Some(e.location);
            let h = e.location.height;
            if h > tip {
                continue;
            }
            if h <= opening_height {
                break 'walk;
            }
            read += 1;
            if read > MAX_STATEMENT_ENTRIES {
                return Err(bad_params(format!(
                    "the account has more than {MAX_STATEMENT_ENTRIES} history entries since \
                     the period began: ask for a later period, or query the indexer"
                )));
            }
            if journal.as_ref().is_none_or(|j| j.height != h) {
                journal = Some(BlockJournal::load(shared, h)?);
            }
            let Some(j) = &journal else { continue };
            let idx = e.location.index;
            let tx_index = (idx != BLOCK_EVENTS_INDEX).then_some(idx);
            let (order_id, memo) = j.tags(tx_index);
            // Entries come newest first and the lines are reversed at the
            // end: an entry's own postings go in backwards to keep their order.
            let mine: Vec<_> = j
                .postings
                .iter()
                .filter(|p| p.tx_index == tx_index && p.account == me)
                .collect();
            for p in mine.into_iter().rev() {
                let r = running.entry(p.token).or_default();
                if h > closing_height {
                    r.after += p.signed();
                    continue;
                }
                match p.side {
                    Side::Credit => r.credits += u128::from(p.amount),
                    Side::Debit => r.debits += u128::from(p.amount),
                }
                r.lines.push((
                    p.amount,
                    api::StatementLine {
                        height: h,
                        time_ms: j.block.header.timestamp_ms,
                        hash: p.tx_hash.map(|h| h.to_hex()),
                        kind: p.kind.to_string(),
                        side: match p.side {
                            Side::Debit => api::PostingSide::Debit,
                            Side::Credit => api::PostingSide::Credit,
                        },
                        amount: String::new(),
                        counterparty: p.counterparty.to_string(),
                        order_id: order_id.clone(),
                        memo: memo.clone(),
                    },
                ));
            }
        }
        if page.len() < merit_chain::limits::MAX_HISTORY_PAGE {
            break;
        }
    }
    let ledger = shared.read_ledger();
    let symbols: BTreeSet<Symbol> = now.keys().chain(running.keys()).copied().collect();
    let mut tokens = Vec::new();
    for sym in symbols {
        if only.is_some_and(|t| t != sym) {
            continue;
        }
        let r = running.remove(&sym).unwrap_or_default();
        let held = i128::from(now.get(&sym).copied().unwrap_or(0));
        let closing = held - r.after;
        let opening = closing - i128::try_from(r.credits).unwrap_or(i128::MAX)
            + i128::try_from(r.debits).unwrap_or(i128::MAX);
        let (Ok(opening), Ok(closing)) = (u64::try_from(opening), u64::try_from(closing)) else {
            return Err(internal(format!(
                "the history of {sym} does not add up to today's balance"
            )));
        };
        if opening == 0 && closing == 0 && r.lines.is_empty() {
            continue;
        }
        let f = |units: u128| amount(&ledger, &sym, u64::try_from(units).unwrap_or(u64::MAX));
        let lines: Vec<api::StatementLine> = r
            .lines
            .into_iter()
            .rev()
            .map(|(units, line)| api::StatementLine {
                amount: f(u128::from(units)),
                ..line
            })
            .collect();
        tokens.push(api::TokenStatement {
            token: sym.to_string(),
            opening: f(u128::from(opening)),
            credits: f(r.credits),
            debits: f(r.debits),
            closing: f(u128::from(closing)),
            postings: lines,
        });
    }
    Ok(api::Statement {
        account: me.to_string(),
        from_ms: options.from_ms,
        to_ms: options.to_ms,
        opening_height,
        closing_height,
        complete: tip_time >= options.to_ms,
        tokens,
    })
}

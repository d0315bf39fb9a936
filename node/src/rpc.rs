//! JSON-RPC 2.0 over HTTP and WebSocket on one port, with `GET /health` and
//! the block explorer at `GET /explorer` ([`explorer`]).
//! The methods are documented in `docs/rpc.md`, and `rpc.discover` answers
//! their OpenRPC description ([`discover`]). Each handler reads its params
//! by the names that description gives them (`merit_api::method::ALL`).
//!
//! Every parameter from outside is parsed here into a typed value or
//! refused with -32602 and a reason; nothing reaches the ledger or the
//! mempool unchecked. Amounts leave as decimal strings in token units.
//!
//! Answers are built as the `merit-api` types, the contract the wallet
//! decodes, from the ledger's and the store's own types; only the
//! conversions that need the ledger (amounts need their token's decimals)
//! live here. Each answer is sent as a `serde_json::Value`, whose objects
//! keep their keys sorted: the bytes on the wire do not depend on the order
//! in which the types declare their fields (`rpc/golden.txt` pins them).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use jsonrpsee::server::middleware::http::ProxyGetRequestLayer;
use jsonrpsee::server::{
    BatchRequestConfig, PendingSubscriptionSink, RpcModule, ServerConfig, ServerHandle,
    SubscriptionMessage,
};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use merit_api::error::{
    BUSY, BUSY_PREFIX, INTERNAL, INTERNAL_PREFIX, INVALID_PARAMS, INVALID_PARAMS_PREFIX,
    REJECTED_TX, REJECTED_TX_PREFIX,
};
use merit_api::params::HistoryCursorError;
use merit_api::{self as api, BlockRef, BookLimit, HistoryCursor, HistoryLimit, TxStatus, method};
use merit_chain::amount::format_amount;
use merit_chain::block::{Event, TxOutcome};
use merit_chain::commitment::{BlockUndo, SnapshotTree, bucket_of_key};
use merit_chain::encoding::{self, BoundedVec};
use merit_chain::governance::{GovAction, ProposalRecord, ProposalStatus};
use merit_chain::ledger::Ledger;
use merit_chain::limits::MAX_HISTORY_PAGE;
use merit_chain::limits::MAX_STATE_VALUE_BYTES;
use merit_chain::postings::{Posting, PostingAccount, Side, block_postings, tx_tags};
use merit_chain::proof::{EntriesProof, MAX_PROVEN_ENTRIES, PROOF_RETENTION_BLOCKS, ProvenEntry};
use merit_chain::state::{
    EscrowRecord, EscrowStatus, Holding, LotHolder, OfferRecord, StateKey, StateValue,
};
use merit_chain::tx::{AccountRef, SymbolError};
use merit_chain::{Address, Block, Hash32, Receipt, Refusal, RejectCode, Symbol};
use merit_store::{BLOCK_EVENTS_INDEX, TxLocation};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::mempool::PoolRefusal;
use crate::rpc_batch::ConcurrentBatch;
use crate::shared::{AdmitError, CommittedBlock, Shared};

mod args;
pub(crate) mod bounds;
pub mod discover;
pub mod explorer;
mod statement;

use args::Args;

/// Largest request body, in bytes.
pub const MAX_RPC_BODY_BYTES: u32 = 1024 * 1024;
/// Largest response body, in bytes.
pub const MAX_RPC_RESPONSE_BYTES: u32 = 64 * 1024 * 1024;
/// Calls in one batch request.
pub const MAX_RPC_BATCH: u32 = 100;
/// Open connections at once.
pub const MAX_RPC_CONNECTIONS: u32 = 256;
/// Subscriptions one WebSocket connection may hold.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: u32 = 64;

/// Longest reason a -32602 gives: a reason that quotes a huge param is cut.
const MAX_REASON_CHARS: usize = 300;
/// Longest piece of a param a reason quotes.
const MAX_QUOTED_CHARS: usize = 64;

fn bad_params(reason: impl Into<String>) -> ErrorObjectOwned {
    let mut reason = reason.into();
    if let Some((cut, _)) = reason.char_indices().nth(MAX_REASON_CHARS) {
        reason.truncate(cut);
        reason.push('…');
    }
    ErrorObjectOwned::owned(
        INVALID_PARAMS,
        format!("{INVALID_PARAMS_PREFIX}{reason}"),
        Some(api::InvalidParamsData { reason }),
    )
}

/// A param as a reason shows it: cut if it is long.
fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((at, _)) => format!("{}… ({} bytes)", &s[..at], s.len()),
        None => s.to_string(),
    }
}

/// A param as a reason quotes it: in backticks, and cut if it is long.
fn quoted(s: &str) -> String {
    format!("`{}`", cut(s))
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL, format!("{INTERNAL_PREFIX}{e}"), None::<()>)
}

fn admit_error(e: AdmitError) -> ErrorObjectOwned {
    match e {
        AdmitError::Rejected(Refusal { code, reason }) => ErrorObjectOwned::owned(
            REJECTED_TX,
            match &reason {
                Some(reason) => format!("{REJECTED_TX_PREFIX}{} ({reason})", code.describe()),
                None => format!("{REJECTED_TX_PREFIX}{}", code.describe()),
            },
            Some(api::RejectedTxData {
                code: code.name().to_string(),
                message: code.describe().to_string(),
                reason,
            }),
        ),
        AdmitError::Busy(refusal) => {
            let code = match refusal {
                PoolRefusal::Full => api::BusyCode::MempoolFull,
                PoolRefusal::SenderQuota => api::BusyCode::SenderQuota,
                // Not a matter of load: the nonce is taken.
                PoolRefusal::NoncePending(other) => {
                    return admit_error(AdmitError::Rejected(Refusal::new(
                        RejectCode::NonceReused,
                        format!(
                            "the sender's transaction {other} with this nonce is waiting in the mempool"
                        ),
                    )));
                }
            };
            ErrorObjectOwned::owned(
                BUSY,
                format!("{BUSY_PREFIX}{refusal}"),
                Some(api::BusyData { code }),
            )
        }
        AdmitError::Stopping => internal("the node is shutting down"),
    }
}

/// An answer as it goes on the wire (see the module documentation).
fn wire<T: Serialize>(answer: &T) -> Result<Value, ErrorObjectOwned> {
    serde_json::to_value(answer).map_err(internal)
}

fn parse_hash(s: &str) -> Result<Hash32, ErrorObjectOwned> {
    Hash32::from_hex(s).map_err(|_| bad_params(format!("{} is not a 64-digit hex hash", quoted(s))))
}

fn parse_address(s: &str) -> Result<Address, ErrorObjectOwned> {
    Address::from_bech32(s).map_err(|e| bad_params(format!("{} is not an address: {e}", quoted(s))))
}

/// `ADDRESS`, or `ADDRESS/N` for its sub-account N.
fn parse_account(s: &str) -> Result<AccountRef, ErrorObjectOwned> {
    match s.split_once('/') {
        None => Ok(AccountRef::main(parse_address(s)?)),
        Some((address, n)) => {
            let address = parse_address(address)?;
            let sub = n.parse::<u32>().map_err(|_| {
                bad_params(format!(
                    "{} after the address is not a sub-account number",
                    quoted(n)
                ))
            })?;
            Ok(AccountRef::new(address, sub))
        }
    }
}

/// The account a method names by `ADDRESS[/N]` and, optionally, a `sub`
/// option: both may name the sub-account, but not two different ones.
fn account_and_sub(s: &str, sub: Option<u32>) -> Result<AccountRef, ErrorObjectOwned> {
    let who = parse_account(s)?;
    match sub {
        Some(n) if s.contains('/') && n != who.sub => Err(bad_params(format!(
            "`{s}` names sub-account {}, but the `sub` option says {n}",
            who.sub
        ))),
        Some(n) => Ok(AccountRef::new(who.address, n)),
        None => Ok(who),
    }
}

fn parse_symbol(s: &str) -> Result<Symbol, ErrorObjectOwned> {
    // The rule's words, quoting no more of the param than a reason should.
    Symbol::new(s).map_err(|_| bad_params(SymbolError(cut(s)).to_string()))
}

fn known_token(ledger: &Ledger, s: &str) -> Result<Symbol, ErrorObjectOwned> {
    let sym = parse_symbol(s)?;
    if ledger.token(&sym).is_none() {
        return Err(bad_params(format!("unknown token {sym}")));
    }
    Ok(sym)
}

/// Formats base units of `token` as a decimal string in token units.
fn amount(ledger: &Ledger, token: &Symbol, units: u64) -> String {
    let decimals = ledger.token(token).map_or(0, |t| t.decimals);
    format_amount(units, decimals)
}

/// Connected peers, as the gauge counts them.
fn peers(shared: &Shared) -> u64 {
    u64::try_from(shared.metrics.p2p_peers.get()).unwrap_or(0)
}

/// An event for the wire, amounts in token units.
fn event(ledger: &Ledger, e: &Event) -> api::Event {
    let units = |token: &Symbol, units: u64| amount(ledger, token, units);
    match e {
        Event::TokenCreated { token, issuer } => api::Event::TokenCreated {
            token: token.to_string(),
            issuer: issuer.to_bech32(),
        },
        Event::Minted { token, to, amount } => api::Event::Minted {
            token: token.to_string(),
            to: to.to_string(),
            amount: units(token, *amount),
        },
        Event::Transferred {
            token,
            from,
            to,
            amount,
        } => api::Event::Transferred {
            token: token.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            amount: units(token, *amount),
        },
        Event::Paid {
            token,
            payer,
            order_id,
            total,
        } => api::Event::Paid {
            token: token.to_string(),
            payer: payer.to_string(),
            order_id: order_id.as_str().to_string(),
            total: units(token, *total),
        },
        Event::Refunded {
            token,
            payment,
            from,
            to,
            amount,
        } => api::Event::Refunded {
            token: token.to_string(),
            payment: payment.to_hex(),
            from: from.to_string(),
            to: to.to_string(),
            amount: units(token, *amount),
        },
        Event::Redeemed {
            token,
            from,
            amount,
        } => api::Event::Redeemed {
            token: token.to_string(),
            from: from.to_string(),
            amount: units(token, *amount),
        },
        Event::OfferPlaced {
            offer,
            owner,
            sell,
            buy,
            amount,
            price,
        } => api::Event::OfferPlaced {
            offer: *offer,
            owner: owner.to_string(),
            sell: sell.to_string(),
            buy: buy.to_string(),
            amount: units(sell, *amount),
            price: price.to_string(),
        },
        Event::Trade {
            taker_offer,
            maker_offer,
            taker,
            maker,
            pay_token,
            paid,
            get_token,
            got,
            maker_remaining,
        } => api::Event::Trade {
            taker_offer: *taker_offer,
            maker_offer: *maker_offer,
            taker: taker.to_string(),
            maker: maker.to_string(),
            pay_token: pay_token.to_string(),
            paid: units(pay_token, *paid),
            get_token: get_token.to_string(),
            got: units(get_token, *got),
            maker_remaining: units(get_token, *maker_remaining),
        },
        Event::OfferCancelled {
            offer,
            owner,
            token,
            returned,
        } => api::Event::OfferCancelled {
            offer: *offer,
            owner: owner.to_string(),
            token: token.to_string(),
            returned: units(token, *returned),
        },
        Event::EscrowCreated {
            escrow,
            token,
            payer,
            payee,
            amount,
            deadline_ms,
        } => api::Event::EscrowCreated {
            escrow: escrow.to_hex(),
            token: token.to_string(),
            payer: payer.to_string(),
            payee: payee.to_string(),
            amount: units(token, *amount),
            deadline_ms: *deadline_ms,
        },
        Event::EscrowReleased {
            escrow,
            token,
            payer,
            payee,
            amount,
        } => api::Event::EscrowReleased {
            escrow: escrow.to_hex(),
            token: token.to_string(),
            payer: payer.to_string(),
            payee: payee.to_string(),
            amount: units(token, *amount),
        },
        Event::EscrowRefunded {
            escrow,
            token,
            payer,
            payee,
            amount,
        } => api::Event::EscrowRefunded {
            escrow: escrow.to_hex(),
            token: token.to_string(),
            payer: payer.to_string(),
            payee: payee.to_string(),
            amount: units(token, *amount),
        },
        Event::Proposed {
            proposal,
            proposer,
            action,
            voting_ends_height,
        } => api::Event::Proposed {
            proposal: *proposal,
            proposer: proposer.to_bech32(),
            action: action.to_string(),
            voting_ends_height: *voting_ends_height,
        },
        Event::Voted {
            proposal,
            voter,
            approve,
        } => api::Event::Voted {
            proposal: *proposal,
            voter: voter.to_bech32(),
            approve: *approve,
        },
        Event::ProposalPassed {
            proposal,
            activation_height,
        } => api::Event::ProposalPassed {
            proposal: *proposal,
            activation_height: *activation_height,
        },
        Event::ProposalRejected { proposal } => api::Event::ProposalRejected {
            proposal: *proposal,
        },
        Event::ProposalFailed { proposal, code } => api::Event::ProposalFailed {
            proposal: *proposal,
            code: code.name().to_string(),
        },
        Event::LotExpired {
            token,
            holder,
            owner,
            amount,
            expires_at_ms,
            frozen,
        } => api::Event::LotExpired {
            token: token.to_string(),
            owner: owner.to_string(),
            offer: match holder {
                LotHolder::Offer(id) => Some(*id),
                _ => None,
            },
            escrow: match holder {
                LotHolder::Escrow(id) => Some(id.to_hex()),
                _ => None,
            },
            amount: units(token, *amount),
            expires_at_ms: *expires_at_ms,
            frozen: units(token, *frozen),
        },
        Event::EscrowExpired {
            escrow,
            token,
            payer,
            payee,
        } => api::Event::EscrowExpired {
            escrow: escrow.to_hex(),
            token: token.to_string(),
            payer: payer.to_string(),
            payee: payee.to_string(),
        },
        Event::Frozen {
            token,
            account,
            amount,
        } => api::Event::Frozen {
            token: token.to_string(),
            account: account.to_string(),
            amount: units(token, *amount),
        },
        Event::Unfrozen {
            token,
            account,
            amount,
        } => api::Event::Unfrozen {
            token: token.to_string(),
            account: account.to_string(),
            amount: units(token, *amount),
        },
        Event::ClawedBack {
            token,
            from,
            amount,
            frozen,
        } => api::Event::ClawedBack {
            token: token.to_string(),
            from: from.to_string(),
            amount: units(token, *amount),
            frozen: units(token, *frozen),
        },
        Event::PathTrade {
            payer,
            maker,
            maker_offer,
            pay_token,
            paid,
            get_token,
            got,
            maker_remaining,
        } => api::Event::PathTrade {
            payer: payer.to_string(),
            maker: maker.to_string(),
            maker_offer: *maker_offer,
            pay_token: pay_token.to_string(),
            paid: units(pay_token, *paid),
            get_token: get_token.to_string(),
            got: units(get_token, *got),
            maker_remaining: units(get_token, *maker_remaining),
        },
        Event::PathPaid {
            payer,
            to,
            send_token,
            sent,
            dest_token,
            received,
        } => api::Event::PathPaid {
            payer: payer.to_string(),
            to: to.to_string(),
            send_token: send_token.to_string(),
            sent: units(send_token, *sent),
            dest_token: dest_token.to_string(),
            received: units(dest_token, *received),
        },
        Event::SubAccountOpened { account, label } => api::Event::SubAccountOpened {
            account: account.to_string(),
            label: label.as_str().to_string(),
        },
    }
}

fn events(ledger: &Ledger, receipt: &Receipt) -> Vec<api::Event> {
    receipt.events().iter().map(|e| event(ledger, e)).collect()
}

fn token_info(t: &merit_chain::state::TokenInfo) -> api::TokenInfo {
    let f = |u: u64| format_amount(u, t.decimals);
    api::TokenInfo {
        symbol: t.symbol.to_string(),
        name: t.name.as_str().to_string(),
        decimals: t.decimals,
        issuer: t.issuer.to_bech32(),
        max_supply: f(t.max_supply),
        minted: f(t.minted),
        circulating: f(t.expected_circulating().unwrap_or(0)),
        redeemed: f(t.redeemed),
        expired: f(t.expired),
        locked_in_offers: f(t.locked_in_offers),
        locked_in_escrow: f(t.locked_in_escrow),
        expiry_days: t.expiry_days,
        created_height: t.created_height,
        freezable: t.freezable,
        clawback: t.clawback,
        frozen: f(t.frozen),
        clawed_back: f(t.clawed_back),
    }
}

/// A receipt's status, rejection code and (for `DuplicateOrderId`) the
/// original transaction.
fn receipt_status(r: &Receipt) -> (TxStatus, Option<RejectCode>, Option<Hash32>) {
    match &r.outcome {
        TxOutcome::Committed { .. } => (TxStatus::Committed, None, None),
        TxOutcome::Rejected { code, original } => (TxStatus::Rejected, Some(*code), *original),
    }
}

fn code_name(code: Option<RejectCode>) -> Option<String> {
    code.map(|c| c.name().to_string())
}

/// The memo of each transaction of `block` that carries one, by hash.
fn memos(block: &Block) -> BTreeMap<String, String> {
    block
        .txs
        .iter()
        .filter_map(|t| {
            tx_tags(&t.body.kind)
                .1
                .map(|m| (t.hash().to_hex(), m.to_string()))
        })
        .collect()
}

fn block(block: &Block, cert: Option<&merit_chain::CommitCertificate>) -> api::Block {
    let h = &block.header;
    api::Block {
        height: h.height,
        hash: block.hash().to_hex(),
        round: h.round,
        parent_hash: h.parent_hash.to_hex(),
        timestamp_ms: h.timestamp_ms,
        proposer: h.proposer.to_bech32(),
        tx_root: h.tx_root.to_hex(),
        receipts_root: h.receipts_root.to_hex(),
        state_root: h.state_root.to_hex(),
        validators_hash: h.validators_hash.to_hex(),
        next_validators_hash: h.next_validators_hash.to_hex(),
        txs: block.txs.iter().map(|t| t.hash().to_hex()).collect(),
        memos: memos(block),
        events: Vec::new(),
        certificate: cert.map(|c| api::Certificate {
            round: c.round,
            signers: c
                .signatures
                .iter()
                .map(|s| s.validator.to_bech32())
                .collect(),
        }),
        bytes: None,
    }
}

/// Reads one transaction's status: committed or rejected in a block,
/// pending in the mempool, or unknown.
fn get_transaction(shared: &Shared, hash: Hash32) -> Result<api::TxInfo, ErrorObjectOwned> {
    let storage = &shared.storage;
    if let Some(loc) = storage.tx_location(&hash).map_err(internal)? {
        let block = storage.block(loc.height).map_err(internal)?;
        let receipts = storage.receipts(loc.height).map_err(internal)?;
        let idx = loc.index as usize;
        let (Some(block), Some(receipts)) = (block, receipts) else {
            return Err(internal(format!("block {} is missing", loc.height)));
        };
        let (Some(tx), Some(receipt)) = (block.txs.as_slice().get(idx), receipts.get(idx)) else {
            return Err(internal(format!("transaction index {idx} is missing")));
        };
        let (status, code, original) = receipt_status(receipt);
        let ledger = shared.read_ledger();
        return Ok(api::TxInfo {
            hash: hash.to_hex(),
            status,
            height: Some(loc.height),
            index: Some(loc.index),
            kind: Some(tx.body.kind.name().to_string()),
            sender: Some(tx.body.sender.to_bech32()),
            sub: Some(tx.body.sub),
            code: code_name(code),
            message: code.map(|c| c.describe().to_string()),
            original: original.map(|h| h.to_hex()),
            order_id: tx_tags(&tx.body.kind).0.map(|o| o.to_string()),
            memo: tx_tags(&tx.body.kind).1.map(|m| m.to_string()),
            events: events(&ledger, receipt),
        });
    }
    let status = if shared.lock_mempool().contains(&hash) {
        TxStatus::Pending
    } else {
        TxStatus::Unknown
    };
    Ok(api::TxInfo::new(hash.to_hex(), status))
}

/// Parses `merit_getHistory(address, {cursor?, limit?, token?, sub?})`, or
/// the older positional `(address, cursor?, limit?)`.
fn history_params(params: &Params<'_>) -> Result<(Address, api::HistoryOptions), ErrorObjectOwned> {
    let raw: Vec<Value> = match params.as_str() {
        None => Vec::new(),
        Some(_) => params
            .parse()
            .map_err(|e| bad_params(e.message().to_string()))?,
    };
    if raw.get(1).is_some_and(Value::is_object) {
        let mut args = Args::new(method::GET_HISTORY, params)?;
        let account: String = args.required()?;
        let mut options: api::HistoryOptions = args.optional()?.unwrap_or_default();
        let who = account_and_sub(&account, options.sub)?;
        options.sub = Some(who.sub);
        return Ok((who.address, options));
    }
    let mut args = Args::with(
        method::GET_HISTORY,
        method::GET_HISTORY_POSITIONAL_PARAMS,
        params,
    )?;
    let who = parse_account(&args.required::<String>()?)?;
    let cursor: Option<String> = args.optional()?;
    let limit: Option<u64> = args.optional()?;
    let cursor = cursor
        .as_deref()
        .map(|c| {
            c.parse::<HistoryCursor>()
                .map_err(|_| bad_params(HistoryCursorError(cut(c)).to_string()))
        })
        .transpose()?;
    Ok((
        who.address,
        api::HistoryOptions {
            cursor,
            limit,
            sub: Some(who.sub),
            ..Default::default()
        },
    ))
}

/// How many history entries one page reads at most while it looks for
/// entries in the token asked for.
const HISTORY_SCAN_PAGES: usize = 8;

/// A stored block with its receipts and its postings: what the history and
/// statements of its accounts are read from.
struct BlockJournal {
    height: u64,
    block: Block,
    receipts: Vec<Receipt>,
    postings: Vec<Posting>,
}

impl BlockJournal {
    fn load(shared: &Shared, height: u64) -> Result<Self, ErrorObjectOwned> {
        let storage = &shared.storage;
        let (Some(block), Some(receipts)) = (
            storage.block(height).map_err(internal)?,
            storage.receipts(height).map_err(internal)?,
        ) else {
            return Err(internal(format!("block {height} is missing")));
        };
        let block_events = storage.block_events(height).map_err(internal)?;
        let postings = block_postings(&block.header, &block.txs, &receipts, &block_events);
        Ok(BlockJournal {
            height,
            block,
            receipts,
            postings,
        })
    }

    /// The transaction at `index` (`None`: the block's own events).
    fn tx(&self, index: Option<u32>) -> Option<&merit_chain::Transaction> {
        index.and_then(|i| self.block.txs.as_slice().get(i as usize))
    }

    /// The order id and memo of the transaction at `index`.
    fn tags(&self, index: Option<u32>) -> (Option<String>, Option<String>) {
        self.tx(index).map_or((None, None), |t| {
            let (order, memo) = tx_tags(&t.body.kind);
            (order.map(|o| o.to_string()), memo.map(|m| m.to_string()))
        })
    }
}

fn get_history(shared: &Shared, params: Params<'_>) -> Result<api::HistoryPage, ErrorObjectOwned> {
    let (address, options) = history_params(&params)?;
    let limit = HistoryLimit::new(options.limit, MAX_HISTORY_PAGE)
        .map_err(|e| bad_params(e.to_string()))?
        .get();
    let token = options.token.as_deref().map(parse_symbol).transpose()?;
    let me = PostingAccount::Account(address, options.sub.unwrap_or(0));
    let storage = &shared.storage;
    let mut before = options.cursor.map(|c| TxLocation {
        height: c.height,
        index: c.index,
    });
    let mut out = Vec::new();
    let mut last_read = None;
    let mut exhausted = false;
    let mut cache: Option<BlockJournal> = None;
    for _ in 0..HISTORY_SCAN_PAGES {
        let entries = storage.history(&address, before, limit).map_err(internal)?;
        exhausted = entries.len() < limit;
        for e in &entries {
            let h = e.location.height;
            if cache.as_ref().is_none_or(|c| c.height != h) {
                cache = Some(BlockJournal::load(shared, h)?);
            }
            let Some(journal) = &cache else {
                continue;
            };
            let (block, receipts, postings) =
                (&journal.block, &journal.receipts, &journal.postings);
            last_read = Some(e.location);
            let idx = e.location.index;
            let tx_index = (idx != BLOCK_EVENTS_INDEX).then_some(idx);
            let mine: Vec<&Posting> = postings
                .iter()
                .filter(|p| p.tx_index == tx_index && p.account == me)
                .filter(|p| token.is_none_or(|t| p.token == t))
                .collect();
            // A filter shows only entries that moved what it names.
            if (token.is_some() || options.sub.is_some_and(|s| s != 0)) && mine.is_empty() {
                continue;
            }
            let tx = journal.tx(tx_index);
            let (status, code, _) = match tx_index {
                Some(i) => receipts
                    .get(i as usize)
                    .map_or((TxStatus::Unknown, None, None), receipt_status),
                None => (TxStatus::Committed, None, None),
            };
            let (order_id, memo) = journal.tags(tx_index);
            let ledger = shared.read_ledger();
            out.push(api::HistoryEntry {
                hash: e.tx_hash.map(|h| h.to_hex()),
                height: h,
                index: idx,
                time_ms: block.header.timestamp_ms,
                kind: Some(tx.map_or("LotExpired", |t| t.body.kind.name()).to_string()),
                status,
                code: code_name(code),
                order_id,
                memo,
                postings: mine
                    .iter()
                    .map(|p| api::Posting {
                        token: p.token.to_string(),
                        side: match p.side {
                            Side::Debit => api::PostingSide::Debit,
                            Side::Credit => api::PostingSide::Credit,
                        },
                        amount: amount(&ledger, &p.token, p.amount),
                        counterparty: p.counterparty.to_string(),
                    })
                    .collect(),
            });
            if out.len() == limit {
                break;
            }
        }
        if out.len() == limit || exhausted {
            break;
        }
        before = last_read;
    }
    let next_cursor = if out.len() == limit || !exhausted {
        last_read.map(|l| HistoryCursor {
            height: l.height,
            index: l.index,
        })
    } else {
        None
    };
    Ok(api::HistoryPage {
        entries: out,
        next_cursor,
    })
}

/// `merit_getAccount`: an address, or one of its sub-accounts, which must
/// be open.
fn get_account(shared: &Shared, who: AccountRef) -> Result<api::Account, ErrorObjectOwned> {
    let ledger = shared.read_ledger();
    let opened = ledger.sub_accounts(&who.address);
    let label = match who.sub {
        0 => None,
        n => Some(
            ledger
                .sub_account(&who.address, n)
                .ok_or_else(|| {
                    let opened = match opened {
                        0 => "no sub-accounts".to_string(),
                        1 => "1 sub-account".to_string(),
                        n => format!("{n} sub-accounts"),
                    };
                    bad_params(format!(
                        "`{who}` was never opened: the address has opened {opened}"
                    ))
                })?
                .label
                .to_string(),
        ),
    };
    let balances = ledger
        .tokens()
        .filter_map(|t| {
            let b = ledger.balance(&who, &t.symbol);
            (b > 0).then(|| (t.symbol.to_string(), format_amount(b, t.decimals)))
        })
        .collect();
    let frozen = ledger
        .tokens()
        .filter_map(|t| {
            let f = ledger.frozen(&who, &t.symbol);
            (f > 0).then(|| (t.symbol.to_string(), format_amount(f, t.decimals)))
        })
        .collect();
    let locked = ledger
        .locked(&who)
        .into_iter()
        .map(|l| {
            let total = l.in_offers.saturating_add(l.in_escrow);
            (l.token.to_string(), amount(&ledger, &l.token, total))
        })
        .collect();
    let expiring = ledger
        .expiring(&who)
        .into_iter()
        .map(|e| api::Expiring {
            token: e.token.to_string(),
            amount: amount(&ledger, &e.token, e.amount),
            expires_at_ms: e.expires_at_ms,
        })
        .collect();
    let offers = ledger
        .offers_of(&who.address)
        .filter(|o| o.owner == who)
        .map(|o| offer(&ledger, o))
        .collect();
    let escrows = ledger
        .escrows_of(&who.address)
        .filter(|(_, e)| e.payer == who || e.payee == who)
        .map(|(id, e)| escrow(&ledger, &id, e))
        .collect();
    Ok(api::Account {
        address: who.to_string(),
        balances,
        frozen,
        locked,
        expiring,
        offers,
        escrows,
        sub_accounts: opened,
        label,
    })
}

/// `merit_getSubAccounts`: every sub-account the address opened, in order.
fn get_sub_accounts(shared: &Shared, address: &Address) -> Vec<api::SubAccount> {
    let ledger = shared.read_ledger();
    (1..=ledger.sub_accounts(address))
        .filter_map(|sub| {
            let info = ledger.sub_account(address, sub)?;
            Some(api::SubAccount {
                sub,
                account: AccountRef::new(*address, sub).to_string(),
                label: info.label.to_string(),
                opened_height: info.opened_height,
            })
        })
        .collect()
}

fn offer(ledger: &Ledger, o: &OfferRecord) -> api::Offer {
    api::Offer {
        id: o.id,
        owner: o.owner.to_string(),
        sell: o.sell.to_string(),
        buy: o.buy.to_string(),
        price: o.price.to_string(),
        amount: amount(ledger, &o.sell, o.amount),
        remaining: amount(ledger, &o.sell, o.remaining),
        tx: o.tx.to_hex(),
        height: o.height,
    }
}

fn escrow(ledger: &Ledger, id: &Hash32, e: &EscrowRecord) -> api::Escrow {
    let status = match e.status {
        EscrowStatus::Open => api::EscrowStatus::Open,
        EscrowStatus::Released => api::EscrowStatus::Released,
        EscrowStatus::Refunded => api::EscrowStatus::Refunded,
        EscrowStatus::Expired => api::EscrowStatus::Expired,
    };
    api::Escrow {
        id: id.to_hex(),
        payer: e.payer.to_string(),
        payee: e.payee.to_string(),
        token: e.token.to_string(),
        amount: amount(ledger, &e.token, e.amount),
        remaining: amount(ledger, &e.token, e.remaining),
        deadline_ms: e.deadline_ms,
        order_id: e.order_id.as_ref().map(|o| o.as_str().to_string()),
        height: e.height,
        status,
    }
}

fn status(shared: &Shared) -> api::Status {
    let ledger = shared.read_ledger();
    let tip = ledger.tip();
    // The set that votes on the next block.
    let next_set = ledger.validators_at(tip.height + 1);
    api::Status {
        chain_id: shared.chain_id.to_string(),
        height: tip.height,
        block_hash: tip.hash().to_hex(),
        block_time_ms: tip.timestamp_ms,
        state_root: tip.state_root.to_hex(),
        round: shared.round.load(Ordering::Relaxed),
        validators: next_set.map_or(0, |s| s.len()) as u64,
        validator_index: next_set
            .and_then(|s| {
                s.iter()
                    .position(|v| shared.validator_keys.contains(&v.key))
            })
            .map(|i| i as u64),
        peers: peers(shared),
        mempool_size: shared.lock_mempool().len() as u64,
        syncing: shared.syncing.load(Ordering::Relaxed),
        genesis_hash: shared.genesis.hash().to_hex(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn audit(ledger: &Ledger, token: Option<Symbol>) -> Vec<api::AuditEntry> {
    ledger
        .audit()
        .into_iter()
        .filter(|a| token.is_none_or(|t| t == a.token))
        .map(|a| {
            let f = |u: u64| amount(ledger, &a.token, u);
            api::AuditEntry {
                token: a.token.to_string(),
                minted: f(a.minted),
                circulating: f(a.circulating),
                locked_in_offers: f(a.locked_in_offers),
                locked_in_escrow: f(a.locked_in_escrow),
                redeemed: f(a.redeemed),
                expired: f(a.expired),
                frozen: f(a.frozen),
                clawed_back: f(a.clawed_back),
                holds: a.holds(),
            }
        })
        .collect()
}

/// The set in force at `height`, as the ledger at the tip knows it.
fn validator_set(ledger: &Ledger, height: u64) -> Option<api::ValidatorSetInfo> {
    let list = ledger.validators_at(height)?;
    let validators = list
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let merchant = ledger.merchant(&v.account);
            api::ValidatorEntry {
                index: i as u64,
                name: merchant.map(|m| m.name.as_str().to_string()),
                account: v.account.to_bech32(),
                validator_key: v.key.to_bech32(),
                peer_id: crate::network::peer_id_of(&v.p2p_key).map(|p| p.to_string()),
                p2p: merchant
                    .and_then(|m| m.validator.as_ref())
                    .map(|r| r.p2p_address.to_string()),
            }
        })
        .collect();
    Some(api::ValidatorSetInfo {
        height,
        validators_hash: merit_chain::governance::validators_hash(list).to_hex(),
        quorum: merit_chain::consensus::quorum_size(list.len()) as u64,
        validators,
        bytes: hex::encode(encoding::encode(list)),
    })
}

/// The committed changes of the validator set from `from_height` on, each
/// with the header and certificate that prove it from the set before.
fn validator_changes(
    shared: &Shared,
    from_height: u64,
) -> Result<Vec<api::ValidatorChange>, ErrorObjectOwned> {
    let ledger = shared.read_ledger();
    let tip = ledger.height();
    let mut changes = Vec::new();
    for (height, _) in ledger.validator_history() {
        // The genesis set needs no proof, and a change whose boundary is
        // not committed yet has none.
        if height < from_height.max(2) || height - 1 > tip {
            continue;
        }
        if changes.len() == api::params::MAX_VALIDATOR_CHANGES_PAGE {
            break;
        }
        let boundary = height - 1;
        let found = shared.storage.block(boundary).map_err(internal)?;
        let cert = shared.storage.certificate(boundary).map_err(internal)?;
        let (Some(b), Some(cert)) = (found, cert) else {
            return Err(internal(format!(
                "block {boundary} or its certificate is missing from this node's store"
            )));
        };
        let Some(set) = validator_set(&ledger, height) else {
            continue;
        };
        let mut boundary_block = block(&b, Some(&cert));
        boundary_block.events = (shared.storage.block_events(boundary).map_err(internal)?)
            .iter()
            .map(|e| event(&ledger, e))
            .collect();
        changes.push(api::ValidatorChange {
            height,
            header: hex::encode(merit_chain::encoding::encode(&b.header)),
            certificate: hex::encode(merit_chain::encoding::encode(&cert)),
            boundary: boundary_block,
            set,
        });
    }
    Ok(changes)
}

/// The holdings `merit_getProof` proves: the tokens asked for, present or
/// absent, or every token the account (or sub-account) holds.
fn get_proof(
    shared: &Shared,
    address: &Address,
    options: &api::ProofOptions,
) -> Result<api::StateProof, ErrorObjectOwned> {
    let sub = options.sub.unwrap_or(0);
    if options.sub_accounts == Some(true) {
        if options.tokens.is_some() || options.sub.is_some() {
            return Err(bad_params(
                "sub_accounts proves the count alone: leave out tokens and sub, and name the \
                 address without /N",
            ));
        }
        return state_proof(shared, &[StateKey::SubAccounts(*address)], options.height);
    }
    let keys: Vec<StateKey> = match &options.tokens {
        Some(tokens) => {
            if tokens.len() > MAX_PROVEN_ENTRIES {
                return Err(bad_params(format!(
                    "tokens lists {} tokens, at most {MAX_PROVEN_ENTRIES}",
                    tokens.len()
                )));
            }
            let mut keys = Vec::new();
            for t in tokens {
                let key = StateKey::Holding(*address, sub, parse_symbol(t)?);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            keys
        }
        None => {
            let ledger = shared.read_ledger();
            let held: Vec<StateKey> = ledger
                .holdings(address, sub)
                .map(|(sym, _)| StateKey::Holding(*address, sub, sym))
                .collect();
            if held.len() > MAX_PROVEN_ENTRIES {
                return Err(bad_params(format!(
                    "the account holds {} tokens, more than one proof carries \
                     ({MAX_PROVEN_ENTRIES}): name them in `tokens`",
                    held.len()
                )));
            }
            held
        }
    };
    state_proof(shared, &keys, options.height)
}

/// Proves `keys` at `height` (the tip when `None`), with that block's header
/// and certificate: any of the last `PROOF_RETENTION_BLOCKS` blocks, or the
/// last block of one of the last `PROOF_RETENTION_DAYS` UTC days (ADR 014).
fn state_proof(
    shared: &Shared,
    keys: &[StateKey],
    height: Option<u64>,
) -> Result<api::StateProof, ErrorObjectOwned> {
    let first_tip = shared.read_ledger().height();
    let h = height.unwrap_or(first_tip);
    if h == 0 && first_tip > 0 {
        return genesis_proof(shared, keys);
    }
    // Genesis has no certificate: its proofs are the genesis ledger's.
    let oldest = first_tip
        .saturating_sub(PROOF_RETENTION_BLOCKS)
        .max(1)
        .min(first_tip);
    // A kept day end proves from its snapshot, inside the block window
    // too: that reads one record per key changed per day, not one per block.
    let ends = if h < first_tip {
        shared.storage.day_ends().map_err(internal)?
    } else {
        Vec::new()
    };
    if let Some(&(day, _)) = ends.iter().find(|(_, end)| *end == h) {
        return day_end_proof(shared, keys, day, h);
    }
    if h > first_tip || h < oldest {
        let days = match (ends.first(), ends.last()) {
            (Some((first, _)), Some((last, _))) => format!(
                ", and the last block of each UTC day from {} to {} (`merit_getDayEnds`)",
                api::utc_date(*first),
                api::utc_date(*last)
            ),
            _ => String::new(),
        };
        return Err(bad_params(format!(
            "height is {h}: this node proves the states from height {oldest} to its tip, {first_tip} \
             (the last {PROOF_RETENTION_BLOCKS} blocks){days}"
        )));
    }
    // The undo records of the blocks since `h`, read before the ledger is
    // locked so a long walk never holds up a commit; what commits meanwhile
    // is read under the lock.
    let buckets: BTreeSet<u16> = keys
        .iter()
        .map(|k| bucket_of_key(&encoding::encode(k)))
        .collect();
    let mut undo: BTreeMap<u16, Vec<BlockUndo>> = BTreeMap::new();
    let read_undo = |undo: &mut BTreeMap<u16, Vec<BlockUndo>>, from: u64, to: u64| {
        for height in (from..=to).rev() {
            for b in &buckets {
                let record = shared
                    .storage
                    .block_undo(height, *b)
                    .map_err(internal)?
                    .ok_or_else(|| {
                        bad_params(format!(
                            "height is {h}: this node no longer keeps what block {height} changed"
                        ))
                    })?;
                undo.entry(*b).or_default().push(record);
            }
        }
        Ok::<(), ErrorObjectOwned>(())
    };
    read_undo(&mut undo, h + 1, first_tip)?;
    let ledger = shared.read_ledger();
    let tip_height = ledger.height();
    if tip_height > first_tip {
        // Newer blocks go in front: the records run newest first.
        let mut newer = BTreeMap::new();
        read_undo(&mut newer, first_tip + 1, tip_height)?;
        for (b, mut records) in newer {
            let older = undo.remove(&b).unwrap_or_default();
            records.extend(older);
            undo.insert(b, records);
        }
    }
    let header = if h == tip_height {
        ledger.tip().clone()
    } else {
        shared
            .storage
            .block(h)
            .map_err(internal)?
            .ok_or_else(|| internal(format!("block {h} is missing")))?
            .header
    };
    let entries = if h == tip_height {
        ledger.prove_entries(keys).map_err(internal)?
    } else {
        past_entries(&ledger, keys, &undo, &header)?
    };
    proof_response(shared, &ledger, header, entries)
}

/// The genesis state, from the genesis file: its header has no certificate,
/// so the proof carries block 1's, whose header names the genesis header's
/// hash as its parent (`Freshness::Genesis`).
fn genesis_proof(shared: &Shared, keys: &[StateKey]) -> Result<api::StateProof, ErrorObjectOwned> {
    let genesis = match shared.genesis_ledger.get() {
        Some(l) => l,
        None => {
            let (l, _) = shared.genesis.ledger().map_err(internal)?;
            shared.genesis_ledger.get_or_init(|| l)
        }
    };
    let entries = genesis.prove_entries(keys).map_err(internal)?;
    let certificate = shared
        .storage
        .certificate(1)
        .map_err(internal)?
        .ok_or_else(|| internal("this node has no certificate for block 1"))?;
    proof_response_with(genesis, genesis.tip().clone(), certificate, entries)
}

/// The state at the last block of UTC day `day`, block `h`, from the day's
/// snapshot of bucket hashes and the day records since (ADR 014).
fn day_end_proof(
    shared: &Shared,
    keys: &[StateKey],
    day: u64,
    h: u64,
) -> Result<api::StateProof, ErrorObjectOwned> {
    let storage = &shared.storage;
    let gone = || {
        bad_params(format!(
            "height is {h}: this node no longer keeps that day's end"
        ))
    };
    let snapshot = storage
        .day_snapshot(day)
        .map_err(internal)?
        .ok_or_else(gone)?;
    let tree = SnapshotTree::new(snapshot).map_err(internal)?;
    let header = storage
        .block(h)
        .map_err(internal)?
        .ok_or_else(|| internal(format!("block {h} is missing")))?
        .header;
    if tree.root() != header.state_root {
        return Err(internal(format!(
            "the kept snapshot of day {} does not lead to the state root of block {h}",
            api::utc_date(day)
        )));
    }
    let buckets: BTreeSet<u16> = keys
        .iter()
        .map(|k| bucket_of_key(&encoding::encode(k)))
        .collect();
    // Records of days closed before the lock never change; those of the day
    // still open are read under it, so none lags the ledger (the store
    // commits a block before the ledger installs it).
    let read = |records: &mut BTreeMap<u16, Vec<BlockUndo>>, days: &[u64]| {
        for d in days.iter().rev() {
            for b in &buckets {
                let r = storage.day_records(*d, *b).map_err(internal)?;
                records.entry(*b).or_default().push(r);
            }
        }
        Ok::<(), ErrorObjectOwned>(())
    };
    let days_since = |ends: Vec<(u64, u64)>| -> Vec<u64> {
        ends.into_iter()
            .map(|(d, _)| d)
            .filter(|d| *d >= day)
            .collect()
    };
    let closed = days_since(storage.day_ends().map_err(internal)?);
    let closed = &closed[..closed.len().saturating_sub(1)];
    let mut older = BTreeMap::new();
    read(&mut older, closed)?;
    let ledger = shared.read_ledger();
    let open: Vec<u64> = days_since(storage.day_ends().map_err(internal)?)
        .into_iter()
        .filter(|d| closed.last().is_none_or(|c| d > c))
        .collect();
    if closed.first().or(open.first()) != Some(&day) {
        return Err(gone());
    }
    let mut records = BTreeMap::new();
    read(&mut records, &open)?;
    for (b, older) in older {
        records.entry(b).or_default().extend(older);
    }
    let entries = keys
        .iter()
        .map(|key| {
            let bytes = encoding::encode(key);
            let r = records
                .get(&bucket_of_key(&bytes))
                .map_or(&[][..], Vec::as_slice);
            let now = ledger.state().get(key).map(encoding::encode);
            let (value, proof, root) = ledger
                .commitment()
                .prove_key_at_day_end(&bytes, now.as_deref(), r, &tree)
                .map_err(internal)?;
            proven_entry(key, value, proof, root, &header)
        })
        .collect::<Result<Vec<_>, _>>()?;
    proof_response(shared, &ledger, header, entries)
}

/// An entry proven in the state after `header`, once its proof is checked
/// to lead to that block's state root.
fn proven_entry(
    key: &StateKey,
    value: Option<Vec<u8>>,
    proof: merit_chain::commitment::StateProof,
    root: Hash32,
    header: &merit_chain::BlockHeader,
) -> Result<ProvenEntry, ErrorObjectOwned> {
    if root != header.state_root {
        return Err(internal(format!(
            "the kept records do not lead to the state root of block {}",
            header.height
        )));
    }
    let value = value
        .map(|v| encoding::decode::<StateValue>(&v, MAX_STATE_VALUE_BYTES))
        .transpose()
        .map_err(internal)?;
    Ok(ProvenEntry {
        key: key.clone(),
        value,
        proof,
    })
}

/// The response for proven `entries` of the state after `header`, with the
/// block's certificate.
fn proof_response(
    shared: &Shared,
    ledger: &Ledger,
    header: merit_chain::BlockHeader,
    entries: Vec<ProvenEntry>,
) -> Result<api::StateProof, ErrorObjectOwned> {
    let certificate = shared
        .storage
        .certificate(header.height)
        .map_err(internal)?
        .ok_or_else(|| {
            internal(if header.height == 0 {
                "the chain has no certified block yet; ask again after its first block".to_string()
            } else {
                format!("this node has no certificate for block {}", header.height)
            })
        })?;
    proof_response_with(ledger, header, certificate, entries)
}

/// The response for proven `entries` under `header`, with `certificate`.
fn proof_response_with(
    ledger: &Ledger,
    header: merit_chain::BlockHeader,
    certificate: merit_chain::CommitCertificate,
    entries: Vec<ProvenEntry>,
) -> Result<api::StateProof, ErrorObjectOwned> {
    let tip = header;
    let mut holdings = Vec::new();
    let mut token = None;
    for e in &entries {
        match (&e.key, &e.value) {
            (StateKey::Holding(_, sub, sym), value) => {
                let decimals = ledger.token(sym).map_or(0, |t| t.decimals);
                let f = |u: u64| format_amount(u, decimals);
                let held = match value {
                    Some(StateValue::Holding(h)) => h.clone(),
                    _ => Holding::default(),
                };
                holdings.push(api::ProvenHolding {
                    token: sym.to_string(),
                    sub: *sub,
                    balance: f(held.balance),
                    frozen: f(held.frozen),
                    lots: held
                        .lots
                        .as_slice()
                        .iter()
                        .map(|l| api::Expiring {
                            token: sym.to_string(),
                            amount: f(l.amount),
                            expires_at_ms: l.expires_at_ms,
                        })
                        .collect(),
                });
            }
            (StateKey::Token(_), Some(StateValue::Token(t))) => token = Some(token_info(t)),
            _ => {}
        }
    }
    let proof = EntriesProof {
        entries: BoundedVec::new(entries)
            .map_err(|e| internal(format!("{} entries in one proof", e.len())))?,
        header: tip.clone(),
        certificate,
    };
    Ok(api::StateProof {
        height: tip.height,
        block_hash: tip.hash().to_hex(),
        timestamp_ms: tip.timestamp_ms,
        state_root: tip.state_root.to_hex(),
        holdings,
        token,
        nonce_used: None,
        proof: hex::encode(proof.to_bytes()),
    })
}

/// Proves `keys` in the state after block `header`, from today's ledger and
/// the undo records of the blocks since, newest first, by bucket.
fn past_entries(
    ledger: &Ledger,
    keys: &[StateKey],
    undo: &BTreeMap<u16, Vec<BlockUndo>>,
    header: &merit_chain::BlockHeader,
) -> Result<Vec<ProvenEntry>, ErrorObjectOwned> {
    keys.iter()
        .map(|key| {
            let bytes = encoding::encode(key);
            let records = undo
                .get(&bucket_of_key(&bytes))
                .map_or(&[][..], Vec::as_slice);
            let now = ledger.state().get(key).map(encoding::encode);
            let (value, proof, root) = ledger
                .commitment()
                .prove_key_past(&bytes, now.as_deref(), records)
                .map_err(internal)?;
            proven_entry(key, value, proof, root, header)
        })
        .collect()
}

/// A committed transaction's proof; `null` for one this node has not
/// committed.
fn get_tx_proof(
    shared: &Shared,
    hash: Hash32,
) -> Result<Option<api::TxProofInfo>, ErrorObjectOwned> {
    let storage = &shared.storage;
    let Some(loc) = storage.tx_location(&hash).map_err(internal)? else {
        return Ok(None);
    };
    let height = loc.height;
    let (Some(block), Some(receipts), Some(cert)) = (
        storage.block(height).map_err(internal)?,
        storage.receipts(height).map_err(internal)?,
        storage.certificate(height).map_err(internal)?,
    ) else {
        return Err(internal(format!(
            "block {height}, its receipts or its certificate is missing"
        )));
    };
    let block_events = storage.block_events(height).map_err(internal)?;
    let proof =
        merit_chain::light::tx_proof(&block, &receipts, &block_events, &cert, loc.index as usize)
            .ok_or_else(|| internal(format!("transaction index {} is missing", loc.index)))?;
    let (status, code, _) = receipt_status(&proof.receipt);
    Ok(Some(api::TxProofInfo {
        hash: hash.to_hex(),
        height,
        index: u64::from(loc.index),
        status,
        code: code_name(code),
        proof: hex::encode(proof.to_bytes()),
    }))
}

fn proposal_action(action: &GovAction) -> api::ProposalAction {
    match action {
        GovAction::AddMerchant { merchant } => api::ProposalAction::AddMerchant {
            account: merchant.record.account.to_bech32(),
            name: merchant.record.name.as_str().to_string(),
            validator_key: merchant
                .record
                .validator
                .as_ref()
                .map(|v| v.key.to_bech32()),
            p2p: merchant
                .record
                .validator
                .as_ref()
                .map(|v| v.p2p_address.to_string()),
        },
        GovAction::RemoveMerchant { account } => api::ProposalAction::RemoveMerchant {
            account: account.to_bech32(),
        },
        GovAction::RotateValidatorKey { merchant } => api::ProposalAction::RotateValidatorKey {
            account: merchant.record.account.to_bech32(),
            validator_key: merchant
                .record
                .validator
                .as_ref()
                .map(|v| v.key.to_bech32()),
            p2p: merchant
                .record
                .validator
                .as_ref()
                .map(|v| v.p2p_address.to_string()),
        },
        GovAction::ReassignIssuer { token, new_issuer } => api::ProposalAction::ReassignIssuer {
            token: token.to_string(),
            new_issuer: new_issuer.to_bech32(),
        },
        GovAction::SetConsensusParams {
            timeout_base_ms,
            timeout_max_ms,
            precision_ms,
            message_delay_ms,
        } => api::ProposalAction::SetConsensusParams {
            timeout_base_ms: *timeout_base_ms,
            timeout_max_ms: *timeout_max_ms,
            precision_ms: *precision_ms,
            message_delay_ms: *message_delay_ms,
        },
        GovAction::ScheduleUpgrade {
            protocol_version,
            height,
        } => api::ProposalAction::ScheduleUpgrade {
            protocol_version: *protocol_version,
            height: *height,
        },
    }
}

fn proposal(ledger: &Ledger, p: &ProposalRecord) -> api::Proposal {
    let next = ledger.height() + 1;
    let (decided_height, activation_height, failure) = match p.status {
        ProposalStatus::Open => (None, None, None),
        ProposalStatus::Passed {
            height,
            activation_height,
        } => (Some(height), Some(activation_height), None),
        ProposalStatus::Rejected { height } => (Some(height), None, None),
        ProposalStatus::Failed { height, code } => {
            (Some(height), None, Some(code.name().to_string()))
        }
    };
    let quorum_at = decided_height.unwrap_or(next);
    let quorum = ledger
        .validators_at(quorum_at)
        .map_or(0, |l| merit_chain::consensus::quorum_size(l.len()) as u64);
    api::Proposal {
        id: p.id,
        proposer: p.proposer.to_bech32(),
        action: proposal_action(&p.action),
        created_height: p.created_height,
        voting_ends_height: p.voting_ends_height,
        status: p.shown_status(next).to_string(),
        approvals: p.approvals.iter().map(Address::to_bech32).collect(),
        rejections: p.rejections.iter().map(Address::to_bech32).collect(),
        quorum,
        decided_height,
        activation_height,
        failure,
    }
}

fn evidence_entry(e: &merit_chain::consensus::Evidence) -> api::EvidenceEntry {
    let (first, second) = e.block_hashes();
    api::EvidenceEntry {
        validator: e.validator().to_bech32(),
        height: e.height(),
        round: e.round(),
        kind: e.kind().to_string(),
        blocks: [first.to_hex(), second.to_hex()],
        evidence: hex::encode(e.to_bytes()),
    }
}

/// Builds the RPC module with every method.
pub fn module(shared: Arc<Shared>) -> Result<RpcModule<Arc<Shared>>, anyhow::Error> {
    let mut m = RpcModule::new(shared);

    m.register_method(method::HEALTH, |params, s, _| {
        Args::new(method::HEALTH, &params)?;
        let height = s.read_ledger().height();
        wire(&api::Health {
            status: api::HealthStatus::Ok,
            height,
            peers: peers(s),
        })
    })?;

    m.register_method(method::STATUS, |params, s, _| {
        Args::new(method::STATUS, &params)?;
        wire(&status(s))
    })?;

    m.register_async_method(method::SEND_TRANSACTION, |params, s, _| async move {
        let hex_tx: String = Args::new(method::SEND_TRANSACTION, &params)?.required()?;
        let hex_tx = hex_tx.strip_prefix("0x").unwrap_or(&hex_tx);
        let max_digits = 2 * merit_chain::limits::MAX_TX_BYTES;
        if hex_tx.len() > max_digits {
            return Err(admit_error(AdmitError::Rejected(Refusal::new(
                RejectCode::TooLarge,
                // Two hex digits a byte: the reason the bytes would get.
                format!(
                    "the transaction is {} bytes, at most {}",
                    hex_tx.len().div_ceil(2),
                    merit_chain::limits::MAX_TX_BYTES
                ),
            ))));
        }
        let bytes =
            hex::decode(hex_tx).map_err(|e| bad_params(format!("tx_hex is not hex: {e}")))?;
        s.submit(&bytes)
            .await
            .map(|h| h.to_hex())
            .map_err(admit_error)
    })?;

    m.register_method(method::GET_TRANSACTION, |params, s, _| {
        let hash: String = Args::new(method::GET_TRANSACTION, &params)?.required()?;
        wire(&get_transaction(s, parse_hash(&hash)?)?)
    })?;

    m.register_method(method::GET_ACCOUNT, |params, s, _| {
        let account: String = Args::new(method::GET_ACCOUNT, &params)?.required()?;
        wire(&get_account(s, parse_account(&account)?)?)
    })?;

    m.register_method(method::GET_SUB_ACCOUNTS, |params, s, _| {
        let address: String = Args::new(method::GET_SUB_ACCOUNTS, &params)?.required()?;
        if address.contains('/') {
            return Err(bad_params(format!(
                "{} names a sub-account: give the address alone",
                quoted(&address)
            )));
        }
        wire(&get_sub_accounts(s, &parse_address(&address)?))
    })?;

    m.register_method(method::GET_TOKEN, |params, s, _| {
        let symbol: String = Args::new(method::GET_TOKEN, &params)?.required()?;
        let ledger = s.read_ledger();
        let sym = known_token(&ledger, &symbol)?;
        let t = ledger
            .token(&sym)
            .ok_or_else(|| bad_params(format!("unknown token {sym}")))?;
        wire(&token_info(t))
    })?;

    m.register_method(method::LIST_TOKENS, |params, s, _| {
        Args::new(method::LIST_TOKENS, &params)?;
        let ledger = s.read_ledger();
        wire(&ledger.tokens().map(token_info).collect::<Vec<_>>())
    })?;

    m.register_method(method::GET_BLOCK, |params, s, _| {
        let mut args = Args::new(method::GET_BLOCK, &params)?;
        let which: Value = args.required()?;
        let options: api::BlockOptions = args.optional()?.unwrap_or_default();
        let height = match BlockRef::from_json(&which).map_err(|e| bad_params(e.to_string()))? {
            BlockRef::Latest => s.read_ledger().height(),
            BlockRef::Height(h) => h,
        };
        let Some(found) = s.storage.block(height).map_err(internal)? else {
            return wire(&None::<api::Block>);
        };
        let cert = s.storage.certificate(height).map_err(internal)?;
        let mut answer = block(&found, cert.as_ref());
        let block_events = s.storage.block_events(height).map_err(internal)?;
        if !block_events.is_empty() {
            let ledger = s.read_ledger();
            answer.events = block_events.iter().map(|e| event(&ledger, e)).collect();
        }
        if options.full {
            answer.bytes = Some(api::BlockBytes {
                header: hex::encode(encoding::encode(&found.header)),
                txs: found
                    .txs
                    .iter()
                    .map(|t| hex::encode(t.to_bytes()))
                    .collect(),
                certificate: cert.as_ref().map(|c| hex::encode(encoding::encode(c))),
                receipts: s
                    .storage
                    .receipts(height)
                    .map_err(internal)?
                    .unwrap_or_default()
                    .iter()
                    .map(|r| hex::encode(encoding::encode(r)))
                    .collect(),
                events: block_events
                    .iter()
                    .map(|e| hex::encode(encoding::encode(e)))
                    .collect(),
            });
        }
        wire(&answer)
    })?;

    m.register_method(method::GET_ORDER_BOOK, |params, s, _| {
        let mut args = Args::new(method::GET_ORDER_BOOK, &params)?;
        let sell: String = args.required()?;
        let buy: String = args.required()?;
        let limit: Option<u64> = args.optional()?;
        let limit = BookLimit::new(limit)
            .map_err(|e| bad_params(e.to_string()))?
            .get();
        let ledger = s.read_ledger();
        let sell = known_token(&ledger, &sell)?;
        let buy = known_token(&ledger, &buy)?;
        if sell == buy {
            return Err(bad_params("sell and buy must be different tokens"));
        }
        let side = |a: &Symbol, b: &Symbol| {
            ledger
                .order_book(a, b)
                .take(limit)
                .map(|o| offer(&ledger, o))
                .collect::<Vec<_>>()
        };
        wire(&api::OrderBook {
            sell: sell.to_string(),
            buy: buy.to_string(),
            offers: side(&sell, &buy),
            opposite: side(&buy, &sell),
        })
    })?;

    m.register_method(method::FIND_PATHS, |params, s, _| {
        let mut args = Args::new(method::FIND_PATHS, &params)?;
        let send: String = args.required()?;
        let dest: String = args.required()?;
        let dest_amount: String = args.required()?;
        let ledger = s.read_ledger();
        let send = known_token(&ledger, &send)?;
        let dest = known_token(&ledger, &dest)?;
        if send == dest {
            return Err(bad_params(
                "send_token and dest_token must be different tokens",
            ));
        }
        let decimals = ledger.token(&dest).map_or(0, |t| t.decimals);
        let units = merit_chain::amount::parse_amount(&dest_amount, decimals)
            .map_err(|e| bad_params(format!("dest_amount: {e}")))?;
        if units == 0 {
            return Err(bad_params("dest_amount must be above 0"));
        }
        let found: Vec<api::PathFound> = ledger
            .find_paths(&send, &dest, units)
            .into_iter()
            .map(|(path, quote)| api::PathFound {
                path: path.iter().map(ToString::to_string).collect(),
                send_amount: amount(&ledger, &send, quote.send_amount),
                send_amount_units: quote.send_amount,
                offers_crossed: quote.offers_crossed(),
            })
            .collect();
        wire(&found)
    })?;

    m.register_method(method::GET_ESCROW, |params, s, _| {
        let id: String = Args::new(method::GET_ESCROW, &params)?.required()?;
        let id = parse_hash(&id)?;
        let ledger = s.read_ledger();
        wire(&ledger.escrow(&id).map(|e| escrow(&ledger, &id, e)))
    })?;

    m.register_method(method::GET_HISTORY, |params, s, _| {
        wire(&get_history(s, params)?)
    })?;

    m.register_method(method::AUDIT, |params, s, _| {
        let token: Option<String> = Args::new(method::AUDIT, &params)?.optional()?;
        let ledger = s.read_ledger();
        let token = token
            .as_deref()
            .map(|t| known_token(&ledger, t))
            .transpose()?;
        wire(&audit(&ledger, token))
    })?;

    m.register_method(method::VALIDATORS, |params, s, _| {
        let options: Option<api::ValidatorsOptions> =
            Args::new(method::VALIDATORS, &params)?.optional()?;
        let ledger = s.read_ledger();
        let known = ledger.validators_known_until();
        let height = options
            .and_then(|o| o.height)
            .unwrap_or(ledger.height() + 1);
        if height == 0 || height > known {
            return Err(bad_params(format!(
                "height is {height}: the sets are known from 1 to {known}"
            )));
        }
        let set = validator_set(&ledger, height)
            .ok_or_else(|| internal(format!("no validator set at height {height}")))?;
        wire(&set)
    })?;

    m.register_method(method::GET_VALIDATOR_CHANGES, |params, s, _| {
        let mut args = Args::new(method::GET_VALIDATOR_CHANGES, &params)?;
        let from: u64 = args.required()?;
        wire(&validator_changes(s, from)?)
    })?;

    m.register_method(method::GET_PROOF, |params, s, _| {
        let mut args = Args::new(method::GET_PROOF, &params)?;
        let account: String = args.required()?;
        let mut options: api::ProofOptions = args.optional()?.unwrap_or_default();
        let who = account_and_sub(&account, options.sub)?;
        if account.contains('/') {
            options.sub = Some(who.sub);
        }
        wire(&get_proof(s, &who.address, &options)?)
    })?;

    m.register_method(method::GET_TOKEN_PROOF, |params, s, _| {
        let mut args = Args::new(method::GET_TOKEN_PROOF, &params)?;
        let symbol = parse_symbol(&args.required::<String>()?)?;
        let options: api::ProofOptions = args.optional()?.unwrap_or_default();
        if options.tokens.is_some() || options.sub.is_some() {
            return Err(bad_params(
                "merit_getTokenProof takes only `height` in its options",
            ));
        }
        let keys = [StateKey::Token(symbol)];
        wire(&state_proof(s, &keys, options.height)?)
    })?;

    m.register_method(method::GET_NONCE_PROOF, |params, s, _| {
        let mut args = Args::new(method::GET_NONCE_PROOF, &params)?;
        let address = parse_address(&args.required::<String>()?)?;
        let nonce: u64 = args.required()?;
        let options: api::ProofOptions = args.optional()?.unwrap_or_default();
        if options.tokens.is_some() || options.sub.is_some() {
            return Err(bad_params(
                "merit_getNonceProof takes only `height` in its options",
            ));
        }
        let keys = [StateKey::Nonce(address, nonce)];
        let mut answer = state_proof(s, &keys, options.height)?;
        let proof = hex::decode(&answer.proof)
            .ok()
            .and_then(|b| EntriesProof::from_bytes(&b).ok())
            .ok_or_else(|| internal("the proof does not decode"))?;
        answer.nonce_used = Some(proof.entries.iter().any(|e| e.value.is_some()));
        wire(&answer)
    })?;

    m.register_method(method::GET_TX_PROOF, |params, s, _| {
        let hash: String = Args::new(method::GET_TX_PROOF, &params)?.required()?;
        wire(&get_tx_proof(s, parse_hash(&hash)?)?)
    })?;

    m.register_method(method::GET_PROPOSAL, |params, s, _| {
        let mut args = Args::new(method::GET_PROPOSAL, &params)?;
        let id: u64 = args.required()?;
        let ledger = s.read_ledger();
        wire(&ledger.proposal(id).map(|p| proposal(&ledger, p)))
    })?;

    m.register_method(method::LIST_PROPOSALS, |params, s, _| {
        let filter: Option<api::ProposalFilter> =
            Args::new(method::LIST_PROPOSALS, &params)?.optional()?;
        let filter = filter.unwrap_or_default();
        let status = filter.status().map_err(bad_params)?;
        let ledger = s.read_ledger();
        let next = ledger.height() + 1;
        let found: Vec<api::Proposal> = ledger
            .proposals()
            .filter(|p| status.is_none_or(|want| p.shown_status(next) == want))
            .map(|p| proposal(&ledger, p))
            .collect();
        wire(&found)
    })?;

    m.register_method(method::GET_STATEMENT, |params, s, _| {
        let mut args = Args::new(method::GET_STATEMENT, &params)?;
        let account: String = args.required()?;
        let mut options: api::StatementOptions = args.required()?;
        let who = account_and_sub(&account, options.sub)?;
        options.sub = Some(who.sub);
        wire(&statement::get_statement(s, &who.address, &options)?)
    })?;

    m.register_method(method::GET_DAY_ENDS, |params, s, _| {
        Args::new(method::GET_DAY_ENDS, &params)?;
        let ends = s.storage.day_ends().map_err(internal)?;
        wire(
            &ends
                .into_iter()
                .map(|(day, height)| api::DayEnd {
                    date: api::utc_date(day),
                    height,
                })
                .collect::<Vec<_>>(),
        )
    })?;

    m.register_method(method::GET_EVIDENCE, |params, s, _| {
        let options: Option<api::EvidenceOptions> =
            Args::new(method::GET_EVIDENCE, &params)?.optional()?;
        let options = options.unwrap_or_default();
        let limit = options.page().map_err(bad_params)?;
        let found = s
            .storage
            .evidence(options.from_height, limit)
            .map_err(internal)?;
        wire(&found.iter().map(evidence_entry).collect::<Vec<_>>())
    })?;

    m.register_subscription(
        method::SUBSCRIBE,
        method::SUBSCRIPTION,
        method::UNSUBSCRIBE,
        |params, pending, s, _| async move {
            subscribe(params, pending, Arc::clone(&s)).await;
            Ok(())
        },
    )?;

    // Described last, from the module as registered, itself included.
    let discovered = Arc::new(OnceLock::new());
    let document = Arc::clone(&discovered);
    m.register_method(method::RPC_DISCOVER, move |params, _, _| {
        Args::new(method::RPC_DISCOVER, &params)?;
        document
            .get()
            .cloned()
            .ok_or_else(|| internal("the OpenRPC document is not built"))
    })?;
    discovered
        .set(discover::document(m.method_names())?)
        .map_err(|_| anyhow::anyhow!("the OpenRPC document was built twice"))?;
    Ok(m)
}

enum Topic {
    Blocks,
    Account(Address),
}

/// The options of a subscription: `{from_height}` replays the committed
/// blocks from that height before the stream goes on.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeOptions {
    #[serde(default)]
    from_height: Option<u64>,
}

async fn subscribe(params: Params<'static>, pending: PendingSubscriptionSink, s: Arc<Shared>) {
    let topic = (|| {
        let raw: Vec<Value> = params.parse().unwrap_or_default();
        let blocks = raw.first().and_then(Value::as_str) == Some(method::TOPIC_NEW_BLOCKS);
        let mut args = if blocks {
            Args::with(
                method::SUBSCRIBE,
                method::SUBSCRIBE_NEW_BLOCKS_PARAMS,
                &params,
            )?
        } else {
            Args::new(method::SUBSCRIBE, &params)?
        };
        match args.required::<String>()? {
            k if k == method::TOPIC_NEW_BLOCKS => {
                if raw.get(1).is_some_and(|v| !v.is_object()) || raw.len() > 2 {
                    return Err(bad_params(format!(
                        "\"{}\" takes no address, only {{from_height}}",
                        method::TOPIC_NEW_BLOCKS
                    )));
                }
                let options: SubscribeOptions = args.optional()?.unwrap_or_default();
                Ok((Topic::Blocks, options.from_height))
            }
            k if k == method::TOPIC_ACCOUNT => {
                let address = parse_address(&args.required::<String>()?)?;
                let options: SubscribeOptions = args.optional()?.unwrap_or_default();
                Ok((Topic::Account(address), options.from_height))
            }
            k => Err(bad_params(format!(
                "unknown subscription {}: expected \"{}\" or \"{}\"",
                quoted(&k),
                method::TOPIC_NEW_BLOCKS,
                method::TOPIC_ACCOUNT
            ))),
        }
    })();
    let (topic, from_height) = match topic {
        Ok(t) => t,
        Err(e) => {
            pending.reject(e).await;
            return;
        }
    };
    // Subscribe to the stream before reading the height, so no block falls
    // between the two.
    let mut rx = s.blocks.subscribe();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let tip = s.read_ledger().height();
    // A client that reconnects names the first height it has not seen: the
    // blocks from there to the tip are replayed from storage at once.
    let mut next = from_height.map_or(tip + 1, |h| h.max(1));
    let mut latest = tip;
    loop {
        // Blocks arrive in order; any gap is read back from storage, so a
        // subscriber sees every block exactly once, in order.
        while next <= latest {
            let (Ok(Some(block)), Ok(Some(receipts))) =
                (s.storage.block(next), s.storage.receipts(next))
            else {
                break;
            };
            let committed = CommittedBlock {
                block,
                receipts,
                certificate: None,
            };
            for msg in notifications(&s, &topic, &committed) {
                let Ok(raw) = serde_json::value::to_raw_value(&msg) else {
                    continue;
                };
                if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                    return;
                }
            }
            next += 1;
        }
        latest = tokio::select! {
            _ = sink.closed() => return,
            r = rx.recv() => match r {
                Ok(b) => b.block.header.height,
                // Fell behind the buffer: catch up from storage above.
                Err(RecvError::Lagged(_)) => s.read_ledger().height(),
                Err(RecvError::Closed) => return,
            },
        };
    }
}

/// The notifications of `topic` for one block, as they go on the wire.
fn notifications(s: &Shared, topic: &Topic, b: &CommittedBlock) -> Vec<Value> {
    let h = &b.block.header;
    let sent = match topic {
        Topic::Blocks => wire(&api::BlockNotification {
            height: h.height,
            hash: b.block.hash().to_hex(),
            timestamp_ms: h.timestamp_ms,
            state_root: h.state_root.to_hex(),
            txs: b.receipts.iter().map(|r| r.tx_hash.to_hex()).collect(),
            rejected: b
                .receipts
                .iter()
                .filter_map(|r| {
                    r.code().map(|c| api::RejectedTx {
                        hash: r.tx_hash.to_hex(),
                        code: c.name().to_string(),
                    })
                })
                .collect(),
            memos: memos(&b.block),
        })
        .map(|n| vec![n]),
        Topic::Account(addr) => {
            let ledger = s.read_ledger();
            b.block
                .txs
                .iter()
                .zip(&b.receipts)
                .filter(|(tx, r)| {
                    tx.body.sender == *addr
                        || r.events().iter().any(|e| e.accounts().contains(addr))
                })
                .map(|(tx, r)| {
                    let (status, code, _) = receipt_status(r);
                    let (order_id, memo) = tx_tags(&tx.body.kind);
                    wire(&api::AccountNotification {
                        height: h.height,
                        hash: r.tx_hash.to_hex(),
                        status,
                        code: code_name(code),
                        order_id: order_id.map(|o| o.to_string()),
                        memo: memo.map(|m| m.to_string()),
                        events: events(&ledger, r),
                    })
                })
                .collect()
        }
    };
    sent.unwrap_or_else(|e| {
        tracing::error!(height = h.height, "cannot encode a notification: {e:?}");
        Vec::new()
    })
}

/// Starts the server; returns its address and a handle that stops it.
pub async fn serve(
    addr: SocketAddr,
    max_connections: u32,
    shared: Arc<Shared>,
) -> anyhow::Result<(SocketAddr, ServerHandle)> {
    let config = ServerConfig::builder()
        .max_request_body_size(MAX_RPC_BODY_BYTES)
        .max_response_body_size(MAX_RPC_RESPONSE_BYTES)
        .max_connections(max_connections)
        .max_subscriptions_per_connection(MAX_SUBSCRIPTIONS_PER_CONNECTION)
        // Batches are bounded by `ConcurrentBatch`, whose refusal names the
        // bound (the body limit bounds what jsonrpsee parses first).
        .set_batch_request_config(BatchRequestConfig::Unlimited)
        .build();
    let health = ProxyGetRequestLayer::new([(method::HEALTH_PATH, method::HEALTH)])
        .map_err(|e| anyhow::anyhow!("health route: {e}"))?;
    let batches = jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
        .layer_fn(|service| ConcurrentBatch::new(service, MAX_RPC_RESPONSE_BYTES as usize));
    let server = jsonrpsee::server::Server::builder()
        .set_config(config)
        .set_rpc_middleware(batches)
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .layer(bounds::RequestBoundsLayer { max_connections })
                .layer(explorer::ExplorerLayer)
                .layer(health),
        )
        .build(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve JSON-RPC on {addr}: {e}"))?;
    let local = server.local_addr()?;
    let handle = server.start(module(shared)?);
    Ok((local, handle))
}

#[cfg(test)]
mod tests;

//! JSON-RPC 2.0 over HTTP and WebSocket on one port, with `GET /health`.
//! The methods are documented in `docs/rpc.md`.
//!
//! Every parameter from outside is parsed here into a typed value or
//! refused with -32602 and a reason; nothing reaches the ledger or the
//! mempool unchecked. Amounts leave as decimal strings in token units.

use std::net::SocketAddr;
use std::sync::Arc;

use jsonrpsee::server::middleware::http::ProxyGetRequestLayer;
use jsonrpsee::server::{
    BatchRequestConfig, PendingSubscriptionSink, RpcModule, ServerConfig, ServerHandle,
    SubscriptionMessage,
};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use merit_chain::amount::format_amount;
use merit_chain::block::{Event, TxOutcome};
use merit_chain::ledger::Ledger;
use merit_chain::limits::MAX_HISTORY_PAGE;
use merit_chain::state::{EscrowRecord, EscrowStatus, OfferRecord};
use merit_chain::{Address, Block, Hash32, Receipt, RejectCode, Symbol};
use merit_store::TxLocation;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::rpc_batch::ConcurrentBatch;
use crate::shared::{AdmitError, CommittedBlock, Shared};

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
/// Offers per side `merit_getOrderBook` returns at most.
pub const MAX_BOOK_PAGE: usize = 100;
/// Entries `merit_getHistory` returns when no limit is given.
pub const DEFAULT_HISTORY_PAGE: usize = 50;

/// Error code of a transaction refused at submission.
pub const REJECTED_TX: i32 = -32003;
/// Error code of a node too busy to take a transaction.
pub const BUSY: i32 = -32005;
/// Error code of invalid params.
pub const INVALID_PARAMS: i32 = -32602;

fn bad_params(reason: impl Into<String>) -> ErrorObjectOwned {
    let reason = reason.into();
    ErrorObjectOwned::owned(
        INVALID_PARAMS,
        format!("Invalid params: {reason}"),
        Some(json!({ "reason": reason })),
    )
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32603, format!("Internal error: {e}"), None::<()>)
}

fn admit_error(e: AdmitError) -> ErrorObjectOwned {
    match e {
        AdmitError::Rejected(code) => ErrorObjectOwned::owned(
            REJECTED_TX,
            format!("Transaction rejected: {}", code.describe()),
            Some(json!({ "code": code.name(), "message": code.describe() })),
        ),
        AdmitError::Busy(refusal) => {
            let code = match refusal {
                crate::mempool::PoolRefusal::Full => "MempoolFull",
                crate::mempool::PoolRefusal::SenderQuota => "SenderQuota",
            };
            ErrorObjectOwned::owned(
                BUSY,
                format!("Node busy: {refusal}"),
                Some(json!({ "code": code })),
            )
        }
        AdmitError::Stopping => internal("the node is shutting down"),
    }
}

fn parse_hash(s: &str) -> Result<Hash32, ErrorObjectOwned> {
    Hash32::from_hex(s).map_err(|_| bad_params(format!("`{s}` is not a 64-digit hex hash")))
}

fn parse_address(s: &str) -> Result<Address, ErrorObjectOwned> {
    Address::from_bech32(s).map_err(|e| bad_params(format!("`{s}` is not an address: {e}")))
}

fn parse_symbol(s: &str) -> Result<Symbol, ErrorObjectOwned> {
    Symbol::new(s).map_err(|e| bad_params(e.to_string()))
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

/// An event as JSON, amounts in token units.
pub fn event_json(ledger: &Ledger, e: &Event) -> Value {
    match e {
        Event::TokenCreated { token, issuer } => json!({
            "type": "TokenCreated", "token": token.as_str(), "issuer": issuer.to_bech32(),
        }),
        Event::Minted {
            token,
            to,
            amount: a,
        } => json!({
            "type": "Minted", "token": token.as_str(), "to": to.to_bech32(),
            "amount": amount(ledger, token, *a),
        }),
        Event::Transferred {
            token,
            from,
            to,
            amount: a,
        } => json!({
            "type": "Transferred", "token": token.as_str(), "from": from.to_bech32(),
            "to": to.to_bech32(), "amount": amount(ledger, token, *a),
        }),
        Event::Paid {
            token,
            payer,
            order_id,
            total,
        } => json!({
            "type": "Paid", "token": token.as_str(), "payer": payer.to_bech32(),
            "order_id": order_id.as_str(), "total": amount(ledger, token, *total),
        }),
        Event::Refunded {
            token,
            payment,
            from,
            to,
            amount: a,
        } => json!({
            "type": "Refunded", "token": token.as_str(), "payment": payment.to_hex(),
            "from": from.to_bech32(), "to": to.to_bech32(), "amount": amount(ledger, token, *a),
        }),
        Event::Redeemed {
            token,
            from,
            amount: a,
        } => json!({
            "type": "Redeemed", "token": token.as_str(), "from": from.to_bech32(),
            "amount": amount(ledger, token, *a),
        }),
        Event::OfferPlaced {
            offer,
            owner,
            sell,
            buy,
            amount: a,
            price,
        } => json!({
            "type": "OfferPlaced", "offer": offer, "owner": owner.to_bech32(),
            "sell": sell.as_str(), "buy": buy.as_str(), "amount": amount(ledger, sell, *a),
            "price": price.to_string(),
        }),
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
        } => json!({
            "type": "Trade", "taker_offer": taker_offer, "maker_offer": maker_offer,
            "taker": taker.to_bech32(), "maker": maker.to_bech32(),
            "pay_token": pay_token.as_str(), "paid": amount(ledger, pay_token, *paid),
            "get_token": get_token.as_str(), "got": amount(ledger, get_token, *got),
            "maker_remaining": amount(ledger, get_token, *maker_remaining),
        }),
        Event::OfferCancelled {
            offer,
            owner,
            token,
            returned,
        } => json!({
            "type": "OfferCancelled", "offer": offer, "owner": owner.to_bech32(),
            "token": token.as_str(), "returned": amount(ledger, token, *returned),
        }),
        Event::EscrowCreated {
            escrow,
            token,
            payer,
            payee,
            amount: a,
            deadline_ms,
        } => json!({
            "type": "EscrowCreated", "escrow": escrow.to_hex(), "token": token.as_str(),
            "payer": payer.to_bech32(), "payee": payee.to_bech32(),
            "amount": amount(ledger, token, *a), "deadline_ms": deadline_ms,
        }),
        Event::EscrowReleased {
            escrow,
            token,
            payer,
            payee,
            amount: a,
        } => json!({
            "type": "EscrowReleased", "escrow": escrow.to_hex(), "token": token.as_str(),
            "payer": payer.to_bech32(), "payee": payee.to_bech32(),
            "amount": amount(ledger, token, *a),
        }),
        Event::EscrowRefunded {
            escrow,
            token,
            payer,
            payee,
            amount: a,
        } => json!({
            "type": "EscrowRefunded", "escrow": escrow.to_hex(), "token": token.as_str(),
            "payer": payer.to_bech32(), "payee": payee.to_bech32(),
            "amount": amount(ledger, token, *a),
        }),
    }
}

fn token_json(t: &merit_chain::state::TokenInfo) -> Value {
    let f = |u: u64| format_amount(u, t.decimals);
    let circulating = t.expected_circulating().unwrap_or(0);
    json!({
        "symbol": t.symbol.as_str(),
        "name": t.name.as_str(),
        "decimals": t.decimals,
        "issuer": t.issuer.to_bech32(),
        "max_supply": f(t.max_supply),
        "minted": f(t.minted),
        "circulating": f(circulating),
        "redeemed": f(t.redeemed),
        "expired": f(t.expired),
        "locked_in_offers": f(t.locked_in_offers),
        "locked_in_escrow": f(t.locked_in_escrow),
        "expiry_days": t.expiry_days,
        "created_height": t.created_height,
    })
}

fn receipt_status(r: &Receipt) -> (&'static str, Option<RejectCode>, Option<Hash32>) {
    match &r.outcome {
        TxOutcome::Committed { .. } => ("committed", None, None),
        TxOutcome::Rejected { code, original } => ("rejected", Some(*code), *original),
    }
}

fn block_json(block: &Block, cert: Option<&merit_chain::CommitCertificate>) -> Value {
    let h = &block.header;
    json!({
        "height": h.height,
        "hash": block.hash().to_hex(),
        "round": h.round,
        "parent_hash": h.parent_hash.to_hex(),
        "timestamp_ms": h.timestamp_ms,
        "proposer": h.proposer.to_bech32(),
        "tx_root": h.tx_root.to_hex(),
        "receipts_root": h.receipts_root.to_hex(),
        "state_root": h.state_root.to_hex(),
        "txs": block.txs.iter().map(|t| t.hash().to_hex()).collect::<Vec<_>>(),
        "certificate": cert.map(|c| json!({
            "round": c.round,
            "signers": c.signatures.iter().map(|s| s.validator.to_bech32()).collect::<Vec<_>>(),
        })),
    })
}

/// Reads one transaction's status: committed or rejected in a block,
/// pending in the mempool, or unknown.
fn get_transaction(shared: &Shared, hash: Hash32) -> Result<Value, ErrorObjectOwned> {
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
        return Ok(json!({
            "hash": hash.to_hex(),
            "status": status,
            "height": loc.height,
            "index": loc.index,
            "kind": tx.body.kind.name(),
            "sender": tx.body.sender.to_bech32(),
            "code": code.map(RejectCode::name),
            "message": code.map(RejectCode::describe),
            "original": original.map(|h| h.to_hex()),
            "events": receipt.events().iter().map(|e| event_json(&ledger, e)).collect::<Vec<_>>(),
        }));
    }
    let status = if shared.lock_mempool().contains(&hash) {
        "pending"
    } else {
        "unknown"
    };
    Ok(json!({
        "hash": hash.to_hex(), "status": status, "height": null, "index": null, "kind": null,
        "sender": null, "code": null, "message": null, "original": null, "events": [],
    }))
}

fn parse_cursor(s: &str) -> Result<TxLocation, ErrorObjectOwned> {
    let bad = || bad_params(format!("`{s}` is not a history cursor (HEIGHT:INDEX)"));
    let (h, i) = s.split_once(':').ok_or_else(bad)?;
    Ok(TxLocation {
        height: h.parse().map_err(|_| bad())?,
        index: i.parse().map_err(|_| bad())?,
    })
}

fn get_history(shared: &Shared, params: Params<'_>) -> Result<Value, ErrorObjectOwned> {
    let mut seq = params.sequence();
    let address: String = seq.next()?;
    let address = parse_address(&address)?;
    let cursor: Option<String> = seq.optional_next()?;
    let limit: Option<u64> = seq.optional_next()?;
    let before = cursor.as_deref().map(parse_cursor).transpose()?;
    let limit = match limit {
        None => DEFAULT_HISTORY_PAGE,
        Some(0) => return Err(bad_params("limit must be at least 1")),
        Some(n) if n > MAX_HISTORY_PAGE as u64 => {
            return Err(bad_params(format!("limit is at most {MAX_HISTORY_PAGE}")));
        }
        Some(n) => n as usize,
    };
    let storage = &shared.storage;
    let entries = storage.history(&address, before, limit).map_err(internal)?;
    let mut out = Vec::with_capacity(entries.len());
    let mut cache: Option<(u64, Block, Vec<Receipt>)> = None;
    for e in &entries {
        let h = e.location.height;
        if cache.as_ref().is_none_or(|(ch, _, _)| *ch != h) {
            let (Some(b), Some(r)) = (
                storage.block(h).map_err(internal)?,
                storage.receipts(h).map_err(internal)?,
            ) else {
                return Err(internal(format!("block {h} is missing")));
            };
            cache = Some((h, b, r));
        }
        let Some((_, block, receipts)) = &cache else {
            continue;
        };
        let idx = e.location.index as usize;
        let kind = block.txs.as_slice().get(idx).map(|t| t.body.kind.name());
        let (status, code, _) = receipts
            .get(idx)
            .map_or(("unknown", None, None), receipt_status);
        out.push(json!({
            "hash": e.tx_hash.to_hex(), "height": h, "index": e.location.index,
            "kind": kind, "status": status, "code": code.map(RejectCode::name),
        }));
    }
    let next = if entries.len() == limit {
        entries
            .last()
            .map(|e| format!("{}:{}", e.location.height, e.location.index))
    } else {
        None
    };
    Ok(json!({ "entries": out, "next_cursor": next }))
}

fn get_account(shared: &Shared, address: Address) -> Value {
    let ledger = shared.read_ledger();
    let mut balances = serde_json::Map::new();
    for t in ledger.tokens() {
        let b = ledger.balance(&address, &t.symbol);
        if b > 0 {
            balances.insert(
                t.symbol.as_str().to_string(),
                Value::String(format_amount(b, t.decimals)),
            );
        }
    }
    let mut locked = serde_json::Map::new();
    for l in ledger.locked(&address) {
        let total = l.in_offers.saturating_add(l.in_escrow);
        locked.insert(
            l.token.as_str().to_string(),
            Value::String(amount(&ledger, &l.token, total)),
        );
    }
    let expiring: Vec<Value> = ledger
        .expiring(&address)
        .into_iter()
        .map(|e| {
            json!({
                "token": e.token.as_str(),
                "amount": amount(&ledger, &e.token, e.amount),
                "expires_at_ms": e.expires_at_ms,
            })
        })
        .collect();
    let offers: Vec<Value> = ledger
        .offers_of(&address)
        .map(|o| offer_json(&ledger, o))
        .collect();
    let escrows: Vec<Value> = ledger
        .escrows_of(&address)
        .map(|(id, e)| escrow_json(&ledger, &id, e))
        .collect();
    json!({
        "address": address.to_bech32(),
        "balances": balances,
        "locked": locked,
        "expiring": expiring,
        "offers": offers,
        "escrows": escrows,
    })
}

fn offer_json(ledger: &Ledger, o: &OfferRecord) -> Value {
    json!({
        "id": o.id,
        "owner": o.owner.to_bech32(),
        "sell": o.sell.as_str(),
        "buy": o.buy.as_str(),
        "price": o.price.to_string(),
        "amount": amount(ledger, &o.sell, o.amount),
        "remaining": amount(ledger, &o.sell, o.remaining),
        "tx": o.tx.to_hex(),
        "height": o.height,
    })
}

fn escrow_json(ledger: &Ledger, id: &Hash32, e: &EscrowRecord) -> Value {
    let status = match e.status {
        EscrowStatus::Open => "open",
        EscrowStatus::Released => "released",
        EscrowStatus::Refunded => "refunded",
        EscrowStatus::Expired => "expired",
    };
    json!({
        "id": id.to_hex(),
        "payer": e.payer.to_bech32(),
        "payee": e.payee.to_bech32(),
        "token": e.token.as_str(),
        "amount": amount(ledger, &e.token, e.amount),
        "remaining": amount(ledger, &e.token, e.remaining),
        "deadline_ms": e.deadline_ms,
        "order_id": e.order_id.as_ref().map(|o| o.as_str().to_string()),
        "height": e.height,
        "status": status,
    })
}

fn status(shared: &Shared) -> Value {
    let ledger = shared.read_ledger();
    let tip = ledger.tip();
    json!({
        "chain_id": shared.chain_id.as_str(),
        "height": tip.height,
        "block_hash": tip.hash().to_hex(),
        "block_time_ms": tip.timestamp_ms,
        "state_root": tip.state_root.to_hex(),
        "round": shared.round.load(std::sync::atomic::Ordering::Relaxed),
        "validators": shared.validators.len(),
        "validator_index": shared.validator_index,
        "peers": shared.metrics.p2p_peers.get(),
        "mempool_size": shared.lock_mempool().len(),
        "syncing": shared.syncing.load(std::sync::atomic::Ordering::Relaxed),
        "genesis_hash": shared.genesis.hash().to_hex(),
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// Builds the RPC module with every method.
pub fn module(shared: Arc<Shared>) -> Result<RpcModule<Arc<Shared>>, anyhow::Error> {
    let mut m = RpcModule::new(shared);

    m.register_method("merit_health", |_, s, _| {
        let ledger = s.read_ledger();
        json!({ "status": "ok", "height": ledger.height(), "peers": s.metrics.p2p_peers.get() })
    })?;

    m.register_method("merit_status", |_, s, _| status(s))?;

    m.register_async_method("merit_sendTransaction", |params, s, _| async move {
        let hex_tx: String = params.one()?;
        let hex_tx = hex_tx.strip_prefix("0x").unwrap_or(&hex_tx);
        if hex_tx.len() > 2 * merit_chain::limits::MAX_TX_BYTES {
            return Err(admit_error(AdmitError::Rejected(RejectCode::TooLarge)));
        }
        let bytes =
            hex::decode(hex_tx).map_err(|e| bad_params(format!("tx_hex is not hex: {e}")))?;
        s.submit(&bytes)
            .await
            .map(|h| h.to_hex())
            .map_err(admit_error)
    })?;

    m.register_method("merit_getTransaction", |params, s, _| {
        let hash: String = params.one()?;
        get_transaction(s, parse_hash(&hash)?)
    })?;

    m.register_method("merit_getAccount", |params, s, _| {
        let address: String = params.one()?;
        Ok::<_, ErrorObjectOwned>(get_account(s, parse_address(&address)?))
    })?;

    m.register_method("merit_getToken", |params, s, _| {
        let symbol: String = params.one()?;
        let ledger = s.read_ledger();
        let sym = known_token(&ledger, &symbol)?;
        let t = ledger
            .token(&sym)
            .ok_or_else(|| bad_params(format!("unknown token {sym}")))?;
        Ok::<_, ErrorObjectOwned>(token_json(t))
    })?;

    m.register_method("merit_listTokens", |_, s, _| {
        let ledger = s.read_ledger();
        ledger.tokens().map(token_json).collect::<Vec<_>>()
    })?;

    m.register_method("merit_getBlock", |params, s, _| {
        let which: Value = params.one()?;
        let height = match &which {
            Value::String(w) if w == "latest" => s.read_ledger().height(),
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| bad_params("height must be a non-negative integer"))?,
            _ => return Err(bad_params("expected a height or \"latest\"")),
        };
        let Some(block) = s.storage.block(height).map_err(internal)? else {
            return Ok(Value::Null);
        };
        let cert = s.storage.certificate(height).map_err(internal)?;
        Ok(block_json(&block, cert.as_ref()))
    })?;

    m.register_method("merit_getOrderBook", |params, s, _| {
        let mut seq = params.sequence();
        let sell: String = seq.next()?;
        let buy: String = seq.next()?;
        let limit: Option<u64> = seq.optional_next()?;
        let limit = match limit {
            None => MAX_BOOK_PAGE,
            Some(n) if n == 0 || n > MAX_BOOK_PAGE as u64 => {
                return Err(bad_params(format!("limit must be 1 to {MAX_BOOK_PAGE}")));
            }
            Some(n) => n as usize,
        };
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
                .map(|o| offer_json(&ledger, o))
                .collect::<Vec<_>>()
        };
        Ok(json!({
            "sell": sell.as_str(),
            "buy": buy.as_str(),
            "offers": side(&sell, &buy),
            "opposite": side(&buy, &sell),
        }))
    })?;

    m.register_method("merit_getEscrow", |params, s, _| {
        let id: String = params.one()?;
        let id = parse_hash(&id)?;
        let ledger = s.read_ledger();
        Ok::<_, ErrorObjectOwned>(
            ledger
                .escrow(&id)
                .map_or(Value::Null, |e| escrow_json(&ledger, &id, e)),
        )
    })?;

    m.register_method("merit_getHistory", |params, s, _| get_history(s, params))?;

    m.register_method("merit_audit", |params, s, _| {
        let token: Option<String> = params.sequence().optional_next()?;
        let ledger = s.read_ledger();
        let filter = token
            .as_deref()
            .map(|t| known_token(&ledger, t))
            .transpose()?;
        let out: Vec<Value> = ledger
            .audit()
            .into_iter()
            .filter(|a| filter.is_none_or(|f| f == a.token))
            .map(|a| {
                let f = |u: u64| amount(&ledger, &a.token, u);
                json!({
                    "token": a.token.as_str(),
                    "minted": f(a.minted),
                    "circulating": f(a.circulating),
                    "locked_in_offers": f(a.locked_in_offers),
                    "locked_in_escrow": f(a.locked_in_escrow),
                    "redeemed": f(a.redeemed),
                    "expired": f(a.expired),
                    "holds": a.holds(),
                })
            })
            .collect();
        Ok::<_, ErrorObjectOwned>(out)
    })?;

    m.register_method("merit_validators", |_, s, _| {
        s.genesis
            .merchants()
            .iter()
            .enumerate()
            .map(|(i, mch)| {
                json!({
                    "index": i,
                    "name": mch.name.as_str(),
                    "account": mch.account.to_bech32(),
                    "validator_key": mch.validator_key.to_bech32(),
                    "peer_id": crate::network::peer_id_of(&mch.validator_key).map(|p| p.to_string()),
                    "p2p": mch.p2p_address.to_string(),
                })
            })
            .collect::<Vec<_>>()
    })?;

    m.register_subscription(
        "merit_subscribe",
        "merit_subscription",
        "merit_unsubscribe",
        |params, pending, s, _| async move {
            subscribe(params, pending, Arc::clone(&s)).await;
            Ok(())
        },
    )?;
    Ok(m)
}

enum Topic {
    Blocks,
    Account(Address),
}

async fn subscribe(params: Params<'static>, pending: PendingSubscriptionSink, s: Arc<Shared>) {
    let topic = {
        let mut seq = params.sequence();
        match seq.next::<String>() {
            Ok(k) if k == "newBlocks" => Ok(Topic::Blocks),
            Ok(k) if k == "account" => match seq.next::<String>() {
                Ok(a) => parse_address(&a).map(Topic::Account),
                Err(e) => Err(e),
            },
            Ok(k) => Err(bad_params(format!(
                "unknown subscription `{k}`: expected \"newBlocks\" or \"account\""
            ))),
            Err(e) => Err(e),
        }
    };
    let topic = match topic {
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
    let mut next = s.read_ledger().height() + 1;
    loop {
        let latest = tokio::select! {
            _ = sink.closed() => return,
            r = rx.recv() => match r {
                Ok(b) => b.block.header.height,
                // Fell behind the buffer: catch up from storage below.
                Err(RecvError::Lagged(_)) => s.read_ledger().height(),
                Err(RecvError::Closed) => return,
            },
        };
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
    }
}

fn notifications(s: &Shared, topic: &Topic, b: &CommittedBlock) -> Vec<Value> {
    let h = &b.block.header;
    match topic {
        Topic::Blocks => vec![json!({
            "height": h.height,
            "hash": b.block.hash().to_hex(),
            "timestamp_ms": h.timestamp_ms,
            "state_root": h.state_root.to_hex(),
            "txs": b.receipts.iter().map(|r| r.tx_hash.to_hex()).collect::<Vec<_>>(),
            "rejected": b.receipts.iter().filter_map(|r| r.code().map(|c| json!({
                "hash": r.tx_hash.to_hex(), "code": c.name(),
            }))).collect::<Vec<_>>(),
        })],
        Topic::Account(addr) => {
            let ledger = s.read_ledger();
            b.block
                .txs
                .iter()
                .zip(&b.receipts)
                .filter(|(tx, r)| {
                    tx.body.sender == *addr || r.events().iter().any(|e| e.accounts().contains(addr))
                })
                .map(|(_, r)| {
                    let (status, code, _) = receipt_status(r);
                    json!({
                        "height": h.height,
                        "hash": r.tx_hash.to_hex(),
                        "status": status,
                        "code": code.map(RejectCode::name),
                        "events": r.events().iter().map(|e| event_json(&ledger, e)).collect::<Vec<_>>(),
                    })
                })
                .collect()
        }
    }
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
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_RPC_BATCH))
        .build();
    let health = ProxyGetRequestLayer::new([("/health", "merit_health")])
        .map_err(|e| anyhow::anyhow!("health route: {e}"))?;
    let batches = jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
        .layer_fn(|service| ConcurrentBatch::new(service, MAX_RPC_RESPONSE_BYTES as usize));
    let server = jsonrpsee::server::Server::builder()
        .set_config(config)
        .set_rpc_middleware(batches)
        .set_http_middleware(tower::ServiceBuilder::new().layer(health))
        .build(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve JSON-RPC on {addr}: {e}"))?;
    let local = server.local_addr()?;
    let handle = server.start(module(shared)?);
    Ok((local, handle))
}

#[cfg(test)]
mod tests;

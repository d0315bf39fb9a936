//! Building, signing, submitting and waiting for transactions.
//!
//! Every submitting command ends here: it checks the kind statelessly,
//! reads the chain id and height (from flags, or `merit_status`), unlocks
//! the key, signs a [`TxBody`] with a random unordered nonce, and then
//! either prints the signed hex (`--sign-only`) or submits it and polls
//! `merit_getTransaction` until the transaction is final.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use merit_api::{TxInfo, TxStatus};
use merit_chain::governance::GovAction;
use merit_chain::limits::{MAX_TX_BYTES, MAX_TX_TTL_BLOCKS};
use merit_chain::tx::ChainId;
use merit_chain::{Hash32, RejectCode, Transaction, TxBody, TxKind};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{SubmitArgs, WaitArgs};
use crate::ctx::Ctx;
use crate::error::{Outcome, usage};
use crate::output;
use crate::rpc::RpcError;
use crate::view::TxView;

/// Blocks a new transaction stays valid unless `--ttl-blocks` says otherwise.
pub const DEFAULT_TX_TTL_BLOCKS: u64 = 100;
/// How long a command waits for commit unless `--wait-timeout` says otherwise.
pub const DEFAULT_WAIT_TIMEOUT_SECS: u64 = 30;
/// Pause between two `merit_getTransaction` polls.
pub const POLL_INTERVAL_MS: u64 = 100;
/// While the node does not know the transaction, the chain height is read
/// every this many polls to notice that it expired.
pub const EXPIRY_CHECK_EVERY_POLLS: u32 = 10;
/// Most hex characters read for one signed transaction.
pub const MAX_TX_HEX_CHARS: usize = 2 * MAX_TX_BYTES + 2;

/// What `--sign-only` prints with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct SignedTx {
    pub hash: String,
    /// The canonical signed bytes, hex: the argument of `merit tx send`.
    pub tx: String,
    pub chain_id: String,
    pub sender: String,
    /// The sender's paying account: 0 for the address itself.
    pub sub: u32,
    pub nonce: u64,
    pub expires_at_height: u64,
    pub kind: String,
}

/// Signs `kind` for the `--from` key and submits it (or prints it, with
/// `--sign-only`).
pub fn sign_and_submit(ctx: &Ctx, args: &SubmitArgs, kind: TxKind) -> Result<()> {
    kind.check_stateless_with_reason().map_err(|r| {
        let reason = r.reason.map(|r| format!(" ({r})")).unwrap_or_default();
        usage(format!(
            "this transaction would be rejected: {}: {}{reason}",
            r.code.name(),
            r.code.describe()
        ))
    })?;
    let name = ctx.sender_name()?;
    let sub = ctx.sender_sub()?;
    // Fail on a missing key before the node or the password is asked.
    let sender = ctx.keystore.address(name)?;
    if args.ttl_blocks == 0 || args.ttl_blocks > MAX_TX_TTL_BLOCKS {
        return Err(usage(format!(
            "--ttl-blocks must be 1 to {MAX_TX_TTL_BLOCKS}"
        )));
    }
    let (chain_id, expires_at_height) = match (&args.chain_id, args.expires_at_height) {
        (Some(c), Some(h)) => (c.clone(), h),
        (c, h) => {
            let status = ctx
                .status()
                .context("reading the chain id and height (pass --chain-id and --expires-at-height to sign offline)")?;
            (
                c.clone().unwrap_or(status.chain_id),
                h.unwrap_or(status.height.saturating_add(args.ttl_blocks)),
            )
        }
    };
    if expires_at_height == 0 {
        return Err(usage("--expires-at-height must be above zero"));
    }
    let chain_id = ChainId::new(chain_id.clone()).map_err(|_| {
        usage(format!(
            "chain id `{chain_id}` is longer than {} bytes",
            merit_chain::limits::MAX_CHAIN_ID_BYTES
        ))
    })?;
    let nonce = match args.nonce {
        Some(n) => n,
        None => random_nonce()?,
    };
    let key = ctx.unlock(name)?;
    if key.public() != sender {
        anyhow::bail!("key `{name}` changed while signing; try again");
    }
    let body = TxBody {
        chain_id,
        sender,
        sub,
        nonce,
        expires_at_height,
        kind,
    };
    let tx = body.sign(&key);
    let bytes = tx.to_bytes();
    if bytes.len() > MAX_TX_BYTES {
        return Err(usage(format!(
            "the transaction is {} bytes, over the limit of {MAX_TX_BYTES}",
            bytes.len()
        )));
    }
    let hash = tx.hash();
    if args.sign_only {
        let signed = SignedTx {
            hash: hash.to_hex(),
            tx: hex::encode(&bytes),
            chain_id: tx.body.chain_id.to_string(),
            sender: sender.to_bech32(),
            sub,
            nonce,
            expires_at_height,
            kind: tx.body.kind.name().to_string(),
        };
        if ctx.json {
            output::json(&signed)?;
        } else {
            println!("{}", signed.tx);
            let by = merit_chain::tx::AccountRef::new(sender, sub);
            eprintln!(
                "signed {} {} for {} by {by}, valid below height {}; submit it with `merit tx send`",
                signed.kind, signed.hash, signed.chain_id, expires_at_height
            );
        }
        return Ok(());
    }
    submit_and_wait(ctx, &bytes, &tx, &args.wait)
}

/// A random nonce: nonces are unordered, so no coordination is needed.
pub fn random_nonce() -> Result<u64> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("cannot draw a random nonce: {e}"))?;
    Ok(u64::from_le_bytes(b))
}

/// Decodes signed hex (with or without `0x`) into a transaction.
pub fn decode_hex(hex_text: &str) -> Result<(Vec<u8>, Transaction)> {
    let text = hex_text.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    if text.len() > MAX_TX_HEX_CHARS {
        return Err(usage(format!(
            "the transaction is over the limit of {MAX_TX_BYTES} bytes"
        )));
    }
    let bytes = hex::decode(text)
        .map_err(|e| usage(format!("not a signed transaction: the hex is bad: {e}")))?;
    let tx = Transaction::from_bytes(&bytes)
        .map_err(|e| usage(format!("not a signed Merit transaction: {}", e.reason())))?;
    Ok((bytes, tx))
}

/// Submits a signed transaction and, unless `--no-wait`, waits for the
/// outcome and prints it. A rejection exits 1; a wait that times out exits 4.
///
/// Submitting bytes that are already in a block is a no-op: the node's
/// answer is checked against what it already recorded, and that record is
/// shown.
pub fn submit_and_wait(ctx: &Ctx, bytes: &[u8], tx: &Transaction, wait: &WaitArgs) -> Result<()> {
    let rpc = ctx.rpc()?;
    let hash_hex = tx.hash().to_hex();
    match rpc.send_transaction(&hex::encode(bytes)) {
        Ok(h) if h != hash_hex => {
            eprintln!("warning: the node reports hash {h}, expected {hash_hex}");
        }
        Ok(_) => {}
        Err(RpcError::Rejected {
            code,
            message,
            reason,
        }) => {
            // The same bytes may already be in a block (a resubmission):
            // then that record is the outcome, not the refusal.
            if let Ok(known) = rpc.get_transaction(&hash_hex)
                && known.status.is_final()
            {
                let known = TxView::from(known);
                verify_outcome(ctx, &known)?;
                show(ctx, &known)?;
                return outcome(&known);
            }
            let mut info = local_info(&hash_hex, TxStatus::Rejected, tx);
            info.tx.code = Some(code.clone());
            info.tx.message = Some(output::describe_code(&code, Some(&message)));
            info.reason = reason;
            show(ctx, &info)?;
            return Err(Outcome::Rejected {
                hash: hash_hex,
                code,
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    }
    if wait.no_wait {
        let info = local_info(&hash_hex, TxStatus::Pending, tx);
        show(ctx, &info)?;
        if !ctx.json {
            eprintln!(
                "submitted without waiting; see what became of it with `merit tx {hash_hex}`"
            );
        }
        return Ok(());
    }
    let info = wait_for(
        ctx,
        tx,
        &hash_hex,
        tx.body.expires_at_height,
        wait.wait_timeout,
    )?;
    verify_outcome(ctx, &info)?;
    show(ctx, &info)?;
    outcome(&info)
}

/// Checks a final outcome the node reported against the transaction's
/// certified receipt (unless `--trust-node`): a node that calls a rejected
/// transaction committed, or the reverse, or changes its code, is caught.
pub fn verify_outcome(ctx: &Ctx, info: &TxView) -> Result<()> {
    if !info.tx.status.is_final() || info.tx.height.is_none() {
        return Ok(());
    }
    let Some(v) = ctx.verifier()? else {
        return Ok(());
    };
    let hash = Hash32::from_hex(&info.tx.hash)
        .map_err(|_| v.contradicts(format!("it names a bad hash `{}`", info.tx.hash)))?;
    let Some((receipt, height)) = v.receipt(ctx.rpc()?, &hash)? else {
        return Err(v.contradicts(format!(
            "it reports transaction {} as {} but serves no proof of it",
            info.tx.hash,
            info.tx.status.as_str()
        )));
    };
    let proven = receipt.code().map(|c| c.name().to_string());
    let shown_status = info.tx.status.as_str();
    let proven_status = if proven.is_some() {
        "rejected"
    } else {
        "committed"
    };
    if proven != info.tx.code || shown_status != proven_status || info.tx.height != Some(height) {
        return Err(v.contradicts(format!(
            "it reports transaction {} as {shown_status}{} at height {}, its certified receipt \
             says {proven_status}{} at height {height}",
            info.tx.hash,
            info.tx
                .code
                .as_ref()
                .map_or(String::new(), |c| format!(" ({c})")),
            info.tx.height.unwrap_or(0),
            proven.as_ref().map_or(String::new(), |c| format!(" ({c})")),
        )));
    }
    Ok(())
}

/// What the wallet knows of a transaction before the node reports on it.
fn local_info(hash: &str, status: TxStatus, tx: &Transaction) -> TxView {
    let mut info = TxInfo::new(hash, status);
    info.kind = Some(tx.body.kind.name().to_string());
    info.sender = Some(tx.body.sender.to_bech32());
    info.sub = Some(tx.body.sub);
    let mut view = TxView::from(info);
    if matches!(tx.body.kind, TxKind::EscrowCreate { .. }) {
        // The escrow id is the creating transaction's hash, known at once.
        view.escrow_id = Some(hash.to_string());
    }
    view
}

/// Prints a transaction's state, as JSON or words.
pub fn show(ctx: &Ctx, info: &TxView) -> Result<()> {
    if ctx.json {
        output::json(info)
    } else {
        output::print_tx(ctx, info);
        Ok(())
    }
}

/// The exit for a printed outcome: an error for a rejection or a pending
/// transaction, so the process exits non-zero.
pub fn outcome(info: &TxView) -> Result<()> {
    if let Some(code) = &info.tx.code {
        return Err(Outcome::Rejected {
            hash: info.tx.hash.clone(),
            code: code.clone(),
        }
        .into());
    }
    Ok(())
}

/// Polls `merit_getTransaction` until the transaction is final, it can no
/// longer be included, or `timeout_secs` pass.
fn wait_for(
    ctx: &Ctx,
    tx: &Transaction,
    hash: &str,
    expires_at: u64,
    timeout_secs: u64,
) -> Result<TxView> {
    let rpc = ctx.rpc()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(timeout_secs);
    let mut polls: u32 = 0;
    loop {
        match rpc.get_transaction(hash) {
            Ok(info) if info.status.is_final() => return Ok(TxView::from(info)),
            Ok(info) => {
                if info.status == TxStatus::Unknown
                    && polls.is_multiple_of(EXPIRY_CHECK_EVERY_POLLS)
                    && let Ok(status) = rpc.status()
                    && status.height >= expires_at
                {
                    let code = RejectCode::Expired;
                    // The nonce still unused at the last height that could
                    // include the transaction: it can never commit.
                    if let Some(v) = ctx.verifier()? {
                        let last = expires_at.saturating_sub(1);
                        if !v.nonce_unused(rpc, &tx.body.sender, tx.body.nonce, last)? {
                            // Random 64-bit nonces do not collide by chance:
                            // the node is hiding the transaction.
                            return Err(v.contradicts(format!(
                                "it does not know transaction {hash}, yet its certified state \
                                 shows the sender's nonce {} used by block {last}",
                                tx.body.nonce
                            )));
                        }
                    }
                    let mut expired = local_info(hash, TxStatus::Unknown, tx);
                    expired.tx.code = Some(code.name().to_string());
                    expired.tx.message = Some(code.describe().to_string());
                    return Ok(expired);
                }
            }
            // The node may restart while we wait; keep asking until the deadline.
            Err(RpcError::Unreachable { .. }) if Instant::now() < deadline => {}
            Err(e) => return Err(e.into()),
        }
        polls = polls.wrapping_add(1);
        if Instant::now() >= deadline {
            let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let info = local_info(hash, TxStatus::Pending, tx);
            show(ctx, &info)?;
            if !ctx.json {
                eprintln!(
                    "still pending after {timeout_secs} s; check later with `merit tx {hash}`"
                );
            }
            return Err(Outcome::StillPending {
                hash: hash.to_string(),
                waited_ms,
            }
            .into());
        }
        std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
}

/// A kind's fields as JSON, amounts in base units (offline there are no
/// decimals to format them with).
pub fn kind_json(kind: &TxKind) -> Value {
    match kind {
        TxKind::CreateToken {
            symbol,
            name,
            decimals,
            max_supply,
            expiry_days,
            freezable,
            clawback,
        } => json!({
            "type": "CreateToken", "symbol": symbol.as_str(), "name": name.as_str(),
            "decimals": decimals, "max_supply_units": max_supply, "expiry_days": expiry_days,
            "freezable": freezable, "clawback": clawback,
        }),
        TxKind::Mint { token, to, amount } => json!({
            "type": "Mint", "token": token.as_str(), "to": to.to_string(), "amount_units": amount,
        }),
        TxKind::Transfer {
            token,
            to,
            amount,
            memo,
        } => json!({
            "type": "Transfer", "token": token.as_str(), "to": to.to_string(),
            "amount_units": amount, "memo": memo.as_ref().map(|m| m.as_str()),
        }),
        TxKind::Pay {
            order_id,
            legs,
            memo,
        } => json!({
            "type": "Pay", "order_id": order_id.as_str(),
            "legs": legs.iter().map(|l| json!({"to": l.to.to_string(), "token": l.token.as_str(), "amount_units": l.amount})).collect::<Vec<_>>(),
            "memo": memo.as_ref().map(|m| m.as_str()),
        }),
        TxKind::Refund {
            payment,
            token,
            amount,
        } => json!({
            "type": "Refund", "payment": payment.to_hex(), "token": token.as_str(), "amount_units": amount,
        }),
        TxKind::Redeem {
            token,
            amount,
            memo,
        } => json!({
            "type": "Redeem", "token": token.as_str(), "amount_units": amount,
            "memo": memo.as_ref().map(|m| m.as_str()),
        }),
        TxKind::PlaceOffer {
            sell,
            buy,
            amount,
            price,
        } => json!({
            "type": "PlaceOffer", "sell": sell.as_str(), "buy": buy.as_str(),
            "amount_units": amount, "price": price.to_string(),
        }),
        TxKind::CancelOffer { offer_id } => json!({
            "type": "CancelOffer", "offer_id": offer_id,
        }),
        TxKind::EscrowCreate {
            token,
            to,
            amount,
            deadline_ms,
            order_id,
        } => json!({
            "type": "EscrowCreate", "token": token.as_str(), "to": to.to_string(),
            "amount_units": amount, "deadline_ms": deadline_ms,
            "order_id": order_id.as_ref().map(|o| o.as_str()),
        }),
        TxKind::EscrowRelease { id } => json!({ "type": "EscrowRelease", "id": id.to_hex() }),
        TxKind::EscrowRefund { id } => json!({ "type": "EscrowRefund", "id": id.to_hex() }),
        TxKind::Propose {
            action,
            voting_ends_height,
        } => json!({
            "type": "Propose", "action": action_json(action),
            "voting_ends_height": voting_ends_height,
        }),
        TxKind::Vote { proposal, approve } => json!({
            "type": "Vote", "proposal": proposal, "approve": approve,
        }),
        TxKind::Freeze {
            token,
            account,
            amount,
        } => json!({
            "type": "Freeze", "token": token.as_str(), "account": account.to_string(),
            "amount_units": amount,
        }),
        TxKind::Unfreeze {
            token,
            account,
            amount,
        } => json!({
            "type": "Unfreeze", "token": token.as_str(), "account": account.to_string(),
            "amount_units": amount,
        }),
        TxKind::Clawback {
            token,
            from,
            amount,
            memo,
        } => json!({
            "type": "Clawback", "token": token.as_str(), "from": from.to_string(),
            "amount_units": amount, "memo": memo.as_ref().map(|m| m.as_str()),
        }),
        TxKind::PayPath {
            send_token,
            send_max,
            dest_token,
            dest_amount,
            to,
            path,
            order_id,
            memo,
        } => json!({
            "type": "PayPath", "send_token": send_token.as_str(), "send_max_units": send_max,
            "dest_token": dest_token.as_str(), "dest_amount_units": dest_amount,
            "to": to.to_string(), "path": path.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "order_id": order_id.as_ref().map(|o| o.as_str()),
            "memo": memo.as_ref().map(|m| m.as_str()),
        }),
        TxKind::OpenSubAccount { label } => json!({
            "type": "OpenSubAccount", "label": label.as_str(),
        }),
    }
}

/// A governance action's fields as JSON.
pub fn action_json(action: &GovAction) -> Value {
    let record = |m: &merit_chain::merchant::SignedMerchant| {
        let v = m.record.validator.as_ref();
        json!({
            "name": m.record.name.as_str(),
            "account": m.record.account.to_bech32(),
            "validator_key": v.map(|v| v.key.to_bech32()),
            "p2p_key": v.map(|v| v.p2p_key.to_bech32()),
            "p2p_address": v.map(|v| v.p2p_address.as_str()),
        })
    };
    let mut out = match action {
        GovAction::AddMerchant { merchant } | GovAction::RotateValidatorKey { merchant } => {
            json!({ "merchant": record(merchant) })
        }
        GovAction::RemoveMerchant { account } => json!({ "account": account.to_bech32() }),
        GovAction::ReassignIssuer { token, new_issuer } => json!({
            "token": token.as_str(), "new_issuer": new_issuer.to_bech32(),
        }),
        GovAction::SetConsensusParams {
            timeout_base_ms,
            timeout_max_ms,
            precision_ms,
            message_delay_ms,
        } => json!({
            "timeout_base_ms": timeout_base_ms, "timeout_max_ms": timeout_max_ms,
            "precision_ms": precision_ms, "message_delay_ms": message_delay_ms,
        }),
        GovAction::ScheduleUpgrade {
            protocol_version,
            height,
        } => json!({ "protocol_version": protocol_version, "height": height }),
    };
    out["type"] = json!(action.name());
    out
}

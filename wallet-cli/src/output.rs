//! Printing: JSON for scripts, aligned text for people.

use anyhow::Result;
use merit_api::{Event, Offer, TxInfo, TxStatus};
use merit_chain::RejectCode;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::price::{parse_rational, show_unit_price, unit_price};
use crate::view::{OfferView, TxView};

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Renders rows under headers with columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut s = String::new();
        for (i, c) in cells.into_iter().enumerate() {
            s.push_str(c);
            if i < last {
                let pad = widths.get(i).copied().unwrap_or(0) - c.chars().count() + 2;
                s.push_str(&" ".repeat(pad));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A UTC date and time from milliseconds since the Unix epoch.
pub fn format_time_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = merit_api::date::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Width of the event name column.
const EVENT_NAME_WIDTH: usize = 14;

/// The decimals of two tokens, from the node (cached); `None` if unknown.
fn pair_decimals(ctx: &Ctx, sell: &str, buy: &str) -> Option<(u8, u8)> {
    let decimals = |t: &str| {
        let symbol = ctx.symbol(t).ok()?;
        ctx.token(&symbol).ok().map(|i| i.decimals)
    };
    Some((decimals(sell)?, decimals(buy)?))
}

/// A base-unit price `N/D` as "0.5 BOOK per BEAN", or as it stands when
/// the tokens' decimals are not known.
pub fn price_words(ctx: &Ctx, price: &str, sell: &str, buy: &str) -> String {
    match (parse_rational(price), pair_decimals(ctx, sell, buy)) {
        (Some(p), Some((ds, db))) => format!("{} {buy} per {sell}", show_unit_price(p, ds, db)),
        _ => format!("{price} (base units of {buy} per {sell})"),
    }
}

/// An offer as the CLI shows it: with its [`OfferView::unit_price`] when
/// both tokens are known.
pub fn offer_view(ctx: &Ctx, offer: Offer) -> OfferView {
    let unit_price = match (
        parse_rational(&offer.price),
        pair_decimals(ctx, &offer.sell, &offer.buy),
    ) {
        (Some(p), Some((ds, db))) => Some(unit_price(p, ds, db).0),
        _ => None,
    };
    OfferView { offer, unit_price }
}

/// Offers as a table: an account's (with the pair, without the owner) or
/// one side of a book (the reverse).
pub fn offer_table(ctx: &Ctx, offers: &[OfferView], own: bool) -> String {
    let price = |o: &Offer| match (
        parse_rational(&o.price),
        pair_decimals(ctx, &o.sell, &o.buy),
    ) {
        (Some(p), Some((ds, db))) => show_unit_price(p, ds, db),
        _ => format!("{} (base units)", o.price),
    };
    if own {
        let rows: Vec<Vec<String>> = offers
            .iter()
            .map(|v| &v.offer)
            .map(|o| {
                vec![
                    o.id.to_string(),
                    format!("{} of {} {}", o.remaining, o.amount, o.sell),
                    o.buy.clone(),
                    format!("{} {} per {}", price(o), o.buy, o.sell),
                ]
            })
            .collect();
        table(&["ID", "SELLING (LEFT OF PLACED)", "FOR", "PRICE"], &rows)
    } else {
        let rows: Vec<Vec<String>> = offers
            .iter()
            .map(|v| &v.offer)
            .map(|o| {
                vec![
                    o.id.to_string(),
                    price(o),
                    format!("{} {}", o.remaining, o.sell),
                    ctx.short(&o.owner),
                ]
            })
            .collect();
        table(&["ID", "PRICE", "AMOUNT", "OWNER"], &rows)
    }
}

/// One event in words.
pub fn event_line(ctx: &Ctx, e: &Event) -> String {
    let short = |a: &str| ctx.short(a);
    let text = match e {
        Event::TokenCreated { token, issuer } => format!("{token} issued by {}", short(issuer)),
        Event::Minted { token, to, amount } => format!("{amount} {token} to {}", short(to)),
        Event::Transferred {
            token,
            from,
            to,
            amount,
        } => format!("{amount} {token} from {} to {}", short(from), short(to)),
        Event::Paid {
            token,
            payer,
            order_id,
            total,
        } => format!("{total} {token} for order {order_id} by {}", short(payer)),
        Event::Refunded {
            token,
            payment,
            from,
            to,
            amount,
        } => format!(
            "{amount} {token} from {} to {} (payment {payment})",
            short(from),
            short(to)
        ),
        Event::Redeemed {
            token,
            from,
            amount,
        } => format!("{amount} {token} by {}", short(from)),
        Event::OfferPlaced {
            offer,
            owner,
            sell,
            buy,
            amount,
            price,
        } => format!(
            "offer {offer}: {amount} {sell} for {buy} at {} by {}",
            price_words(ctx, price, sell, buy),
            short(owner)
        ),
        Event::Trade {
            maker_offer,
            taker,
            maker,
            pay_token,
            paid,
            get_token,
            got,
            maker_remaining,
            ..
        } => format!(
            "{} paid {paid} {pay_token} to {} for {got} {get_token} (offer {maker_offer}, {maker_remaining} {get_token} left in it)",
            short(taker),
            short(maker)
        ),
        Event::OfferCancelled {
            offer,
            owner,
            token,
            returned,
        } => format!("offer {offer}: {returned} {token} back to {}", short(owner)),
        Event::EscrowCreated {
            token,
            payer,
            payee,
            amount,
            deadline_ms,
            ..
        } => format!(
            "{amount} {token} from {} for {}, refundable by the payer from {}",
            short(payer),
            short(payee),
            format_time_ms(*deadline_ms)
        ),
        Event::EscrowReleased {
            token,
            payer,
            payee,
            amount,
            ..
        } => format!("{amount} {token} to {} from {}", short(payee), short(payer)),
        Event::EscrowRefunded {
            token,
            payer,
            payee,
            amount,
            ..
        } => format!(
            "{amount} {token} back to {} from {}",
            short(payer),
            short(payee)
        ),
        Event::Proposed {
            proposal,
            proposer,
            action,
            voting_ends_height,
        } => format!(
            "proposal {proposal}: {action} by {}, voting until height {voting_ends_height}",
            short(proposer)
        ),
        Event::Voted {
            proposal,
            voter,
            approve,
        } => format!(
            "{} on proposal {proposal} by {}",
            if *approve { "yes" } else { "no" },
            short(voter)
        ),
        Event::ProposalPassed {
            proposal,
            activation_height,
        } => format!("proposal {proposal} passed: in force from height {activation_height}"),
        Event::ProposalRejected { proposal } => format!("proposal {proposal} rejected"),
        Event::ProposalFailed { proposal, code } => format!(
            "proposal {proposal} passed but could not be carried out: {}",
            describe_code(code, None)
        ),
        Event::LotExpired {
            token,
            owner,
            offer,
            escrow,
            amount,
            expires_at_ms,
            ..
        } => {
            let from = match (offer, escrow) {
                (Some(id), _) => format!("offer {id} of {}", short(owner)),
                (_, Some(id)) => format!("escrow {} of {}", short(id), short(owner)),
                _ => short(owner),
            };
            format!(
                "{amount} {token} of {from}, due {}",
                format_time_ms(*expires_at_ms)
            )
        }
        Event::EscrowExpired {
            escrow,
            token,
            payer,
            payee,
        } => format!(
            "escrow {} of {token} from {} to {} closed: its points expired",
            short(escrow),
            short(payer),
            short(payee)
        ),
        Event::Frozen {
            token,
            account,
            amount,
        } => format!("{amount} {token} of {} frozen", short(account)),
        Event::Unfrozen {
            token,
            account,
            amount,
        } => format!("{amount} {token} of {} unfrozen", short(account)),
        Event::ClawedBack {
            token,
            from,
            amount,
            frozen,
        } => format!(
            "{amount} {token} taken back from {} ({frozen} of it frozen)",
            short(from)
        ),
        Event::PathTrade {
            payer,
            maker,
            maker_offer,
            pay_token,
            paid,
            get_token,
            got,
            maker_remaining,
        } => format!(
            "{} paid {paid} {pay_token} to {} for {got} {get_token} on the path (offer {maker_offer}, {maker_remaining} {get_token} left in it)",
            short(payer),
            short(maker)
        ),
        Event::PathPaid {
            payer,
            to,
            send_token,
            sent,
            dest_token,
            received,
        } => format!(
            "{} paid {received} {dest_token} to {} for {sent} {send_token}",
            short(payer),
            short(to)
        ),
        Event::SubAccountOpened { account, label } => {
            format!("{} opened, labelled \"{label}\"", short(account))
        }
    };
    format!("{:<EVENT_NAME_WIDTH$} {text}", e.name())
}

/// The plain-words sentence for a rejection code name.
pub fn describe_code(code: &str, fallback: Option<&str>) -> String {
    RejectCode::from_name(code)
        .map(|c| c.describe().to_string())
        .or_else(|| fallback.map(str::to_string))
        .unwrap_or_else(|| code.to_string())
}

/// Prints a transaction's state for people. A rejection goes to stderr.
pub fn print_tx(ctx: &Ctx, view: &TxView) {
    let info = &view.tx;
    let kind = info.kind.as_deref().unwrap_or("transaction");
    let block = info
        .height
        .map(|h| format!(" in block {h}"))
        .unwrap_or_default();
    match info.status {
        TxStatus::Rejected | TxStatus::Unknown if info.code.is_some() => {
            let code = info.code.as_deref().unwrap_or("?");
            let mut text = format!(
                "rejected{block}: {kind}: {code}\n  {}",
                describe_code(code, info.message.as_deref()),
            );
            if let Some(reason) = &view.reason {
                text.push_str(&format!("\n  reason    {reason}"));
            }
            text.push_str(&format!("\n  hash      {}", info.hash));
            if let Some(o) = &info.original {
                text.push_str(&format!("\n  original  {o}"));
            }
            eprintln!("{text}");
        }
        status => {
            match &info.kind {
                Some(kind) => println!("{status}{block}: {kind}"),
                None => println!("{status}{block}"),
            }
            println!("  hash    {}", info.hash);
            if let Some(sender) = &info.sender {
                match info.sub {
                    Some(sub) if sub > 0 => {
                        println!("  sender  {}", ctx.label(&format!("{sender}/{sub}")));
                    }
                    _ => println!("  sender  {}", ctx.label(sender)),
                }
            }
            if let Some(order) = &info.order_id {
                println!("  order   {order}");
            }
            if let Some(memo) = &info.memo {
                println!("  memo    {memo}");
            }
            for e in &info.events {
                println!("  {}", event_line(ctx, e));
            }
            if let Some(id) = view.offer_id {
                println!("  offer id  {id}");
                let owner = info
                    .sender
                    .as_deref()
                    .and_then(|a| ctx.name_of(a))
                    .unwrap_or("NAME");
                match resting(info) {
                    Some((left, sell)) if !left.is_zero() => println!(
                        "  {left} {sell} rests in the book; cancel it with `merit --from {owner} offer cancel {id}`"
                    ),
                    Some(_) => println!("  filled completely; nothing rests in the book"),
                    None => {}
                }
            }
            if let Some(id) = &view.escrow_id {
                println!("  escrow id {id}");
            }
            if let Some(account) = &view.sub_account {
                println!("  sub-account  {}", ctx.label(account));
                println!(
                    "  receive into it as {}; pay from it with `--from {}`",
                    ctx.short(account),
                    ctx.name_of_account(account)
                        .unwrap_or_else(|| "NAME/N".to_string())
                );
            }
            if let Some(id) = view.proposal_id {
                println!("  proposal id  {id}");
                println!(
                    "  vote on it with `merit --from NAME gov vote {id} yes` (or no); see it with `merit gov show {id}`"
                );
            }
        }
    }
}

/// For a committed `PlaceOffer`: how much of the sold token rests in the
/// book (zero when the offer was filled completely), and that token.
fn resting(info: &TxInfo) -> Option<(Decimal, String)> {
    let (amount, sell) = info.events.iter().find_map(|e| match e {
        Event::OfferPlaced { amount, sell, .. } => Some((amount, sell)),
        _ => None,
    })?;
    let amount = Decimal::from_str_exact(amount).ok()?;
    let mut paid = Decimal::ZERO;
    for e in &info.events {
        if let Event::Trade { paid: p, .. } = e {
            paid = paid.checked_add(Decimal::from_str_exact(p).ok()?)?;
        }
    }
    let mut left = amount.checked_sub(paid)?;
    left.rescale(amount.scale());
    Some((left, sell.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(format_time_ms(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time_ms(1_767_225_600_000), "2026-01-01 00:00 UTC");
        assert_eq!(format_time_ms(1_709_210_096_000), "2024-02-29 12:34 UTC");
    }

    #[test]
    fn tables_align() {
        let t = table(
            &["A", "BB"],
            &[
                vec!["xxx".into(), "1".into()],
                vec!["y".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    BB\nxxx  1\ny    22");
    }
}

//! Printing: JSON for scripts, aligned text for people.

use anyhow::Result;
use merit_chain::RejectCode;
use serde::Serialize;
use serde_json::Value;

use crate::ctx::Ctx;
use crate::rpc::TxInfo;

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
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic
/// Gregorian calendar (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("?")
}

/// One event in words.
pub fn event_line(ctx: &Ctx, e: &Value) -> String {
    let token = s(e, "token");
    match s(e, "type") {
        "TokenCreated" => format!(
            "TokenCreated {token} issued by {}",
            ctx.label(s(e, "issuer"))
        ),
        "Minted" => format!(
            "Minted       {} {token} to {}",
            s(e, "amount"),
            ctx.label(s(e, "to"))
        ),
        "Transferred" => format!(
            "Transferred  {} {token} from {} to {}",
            s(e, "amount"),
            ctx.label(s(e, "from")),
            ctx.label(s(e, "to"))
        ),
        "Paid" => format!(
            "Paid         {} {token} for order {} by {}",
            s(e, "total"),
            s(e, "order_id"),
            ctx.label(s(e, "payer"))
        ),
        "Refunded" => format!(
            "Refunded     {} {token} from {} to {} (payment {})",
            s(e, "amount"),
            ctx.label(s(e, "from")),
            ctx.label(s(e, "to")),
            s(e, "payment")
        ),
        "Redeemed" => format!(
            "Redeemed     {} {token} by {}",
            s(e, "amount"),
            ctx.label(s(e, "from"))
        ),
        other => {
            let mut rest = e.clone();
            if let Some(obj) = rest.as_object_mut() {
                obj.remove("type");
            }
            format!("{other} {rest}")
        }
    }
}

/// The plain-words sentence for a rejection code name.
pub fn describe_code(code: &str, fallback: Option<&str>) -> String {
    RejectCode::from_name(code)
        .map(|c| c.describe().to_string())
        .or_else(|| fallback.map(str::to_string))
        .unwrap_or_else(|| code.to_string())
}

/// Prints a transaction's state for people. A rejection goes to stderr.
pub fn print_tx(ctx: &Ctx, info: &TxInfo) {
    let kind = info.kind.as_deref().unwrap_or("transaction");
    let block = info
        .height
        .map(|h| format!(" in block {h}"))
        .unwrap_or_default();
    match info.status.as_str() {
        TxInfo::REJECTED | TxInfo::UNKNOWN if info.code.is_some() => {
            let code = info.code.as_deref().unwrap_or("?");
            let mut text = format!(
                "rejected{block}: {kind}: {code}\n  {}\n  hash      {}",
                describe_code(code, info.message.as_deref()),
                info.hash
            );
            if let Some(o) = &info.original {
                text.push_str(&format!("\n  original  {o}"));
            }
            eprintln!("{text}");
        }
        status => {
            println!("{status}{block}: {kind}");
            println!("  hash    {}", info.hash);
            if let Some(sender) = &info.sender {
                println!("  sender  {}", ctx.label(sender));
            }
            for e in &info.events {
                println!("  {}", event_line(ctx, e));
            }
        }
    }
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

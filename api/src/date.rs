//! UTC calendar days as the wire writes them: `YYYY-MM-DD`, counted as days
//! since 1970-01-01 (a block time in milliseconds divided by 86,400,000).
//! Proleptic Gregorian calendar, Howard Hinnant's civil-date algorithms.

/// Days since 1970-01-01 to `YYYY-MM-DD`.
pub fn utc_date(day: u64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD` (a real date, from 1970-01-01 on) to days since
/// 1970-01-01; `None` for anything else.
pub fn parse_utc_date(s: &str) -> Option<u64> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let digits = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| p.parse::<u64>().ok())?
    };
    let (y, m, d) = (digits(y)?, digits(m)?, digits(d)?);
    if y < 1970 || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Days since 1970-01-01 to (year, month, day).
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
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

/// (year ≥ 1970, month, day) to days since 1970-01-01.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_known_days_match() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(parse_utc_date("1970-01-01"), Some(0));
        assert_eq!(parse_utc_date("2026-12-04"), Some(20_791));
        assert_eq!(utc_date(20_791), "2026-12-04");
        assert_eq!(parse_utc_date("2024-02-29"), Some(19_782));
        for day in (0..200_000).step_by(7) {
            assert_eq!(parse_utc_date(&utc_date(day)), Some(day), "day {day}");
        }
    }

    #[test]
    fn malformed_dates_are_refused() {
        for bad in [
            "",
            "2026-2-04",
            "2026-13-01",
            "2026-00-10",
            "2026-02-29",
            "2025-04-31",
            "1969-12-31",
            "2026-12-04-",
            "+026-12-04",
            "2026-12-0a",
            "20261204",
        ] {
            assert_eq!(parse_utc_date(bad), None, "{bad}");
        }
    }
}

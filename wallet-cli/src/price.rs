//! Offer prices: what a person types, and what the chain takes.
//!
//! The chain's [`Price`] is an exact rational `n/d` of base units: `n` base
//! units of the token bought per `d` base units of the token sold. People
//! think in token units, so `--price 2.5` on an offer selling BEAN for BOOK
//! means 2.5 BOOK per 1 BEAN. The conversion is exact: with `s` and `b` the
//! decimals of the sold and bought tokens, a decimal `m / 10^k` becomes
//! `m · 10^b / 10^(k+s)` in lowest terms, or an error when that does not
//! fit in two `u64`. `N/D` is taken as a base-unit rational as it stands.
//!
//! Showing a price goes the other way and may round: 1/3 is shown as
//! `0.333333333333` to [`DISPLAY_PRICE_DECIMALS`] places, marked inexact.

use anyhow::Result;
use merit_chain::tx::Price;
use rust_decimal::Decimal;

use crate::error::usage;

/// Decimal places shown for a price that is not a short decimal.
pub const DISPLAY_PRICE_DECIMALS: u32 = 12;
/// Longest price a person may type, in bytes.
pub const MAX_PRICE_INPUT_BYTES: usize = 64;

/// Parses `--price` for an offer selling `sell` for `buy`.
///
/// `2.5` is token units (2.5 `buy` per 1 `sell`); `N/D` is base units.
pub fn parse_price(
    input: &str,
    sell: &str,
    sell_decimals: u8,
    buy: &str,
    buy_decimals: u8,
) -> Result<Price> {
    let text = input.trim();
    let bad = |why: &str| usage(format!("bad price `{input}`: {why}"));
    if text.is_empty() {
        return Err(bad("it is empty"));
    }
    if text.len() > MAX_PRICE_INPUT_BYTES {
        return Err(bad(&format!(
            "it is longer than {MAX_PRICE_INPUT_BYTES} bytes"
        )));
    }
    if let Some((n, d)) = text.split_once('/') {
        let term = |t: &str| -> Result<u64> {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("N/D takes two whole numbers of base units, like 5/2"));
            }
            t.parse::<u64>()
                .map_err(|_| bad("a term is larger than a 64-bit number holds"))
        };
        let price = Price::new(term(n)?, term(d)?);
        if !price.is_valid() {
            return Err(bad("both terms of N/D must be above zero"));
        }
        return Ok(price.reduced());
    }
    if text.contains(['e', 'E', '_']) || text.starts_with('+') {
        return Err(bad(&format!(
            "expected a decimal number of {buy} per 1 {sell}, like 2.5, or N/D in base units"
        )));
    }
    let value = Decimal::from_str_exact(text).map_err(|_| {
        bad(&format!(
            "expected a decimal number of {buy} per 1 {sell}, like 2.5, or N/D in base units"
        ))
    })?;
    if value.is_sign_negative() || value.is_zero() {
        return Err(bad("a price must be above zero"));
    }
    let value = value.normalize();
    // value = mantissa / 10^scale token units of buy per token unit of sell.
    let mantissa = u128::try_from(value.mantissa()).map_err(|_| bad("it must be above zero"))?;
    let too_fine = || {
        bad(&format!(
            "it cannot be expressed exactly with {buy} ({buy_decimals} decimals) and {sell} ({sell_decimals} decimals); use fewer digits"
        ))
    };
    let n = mantissa
        .checked_mul(pow10(u32::from(buy_decimals)))
        .ok_or_else(too_fine)?;
    let d = pow10(value.scale() + u32::from(sell_decimals));
    let g = gcd(n, d);
    let (n, d) = (n / g, d / g);
    let n = u64::try_from(n).map_err(|_| too_fine())?;
    let d = u64::try_from(d).map_err(|_| too_fine())?;
    Ok(Price::new(n, d))
}

/// 10^e; `e` is at most 28 + 9 here, well inside a u128.
fn pow10(e: u32) -> u128 {
    10u128.saturating_pow(e)
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// Parses the node's `"N/D"` form.
pub fn parse_rational(text: &str) -> Option<Price> {
    let (n, d) = text.split_once('/')?;
    let p = Price::new(n.trim().parse().ok()?, d.trim().parse().ok()?);
    p.is_valid().then_some(p)
}

/// A base-unit price in token units (`buy` per one `sell`) as a decimal
/// string, and whether it is exact. Rounds half up at
/// [`DISPLAY_PRICE_DECIMALS`] places; trailing zeros are dropped.
pub fn unit_price(price: Price, sell_decimals: u8, buy_decimals: u8) -> (String, bool) {
    // token price = n · 10^s / (d · 10^b)
    let num = u128::from(price.n) * pow10(u32::from(sell_decimals));
    let den = (u128::from(price.d) * pow10(u32::from(buy_decimals))).max(1);
    let whole = num / den;
    let mut rem = num % den;
    let mut digits: Vec<u8> = Vec::with_capacity(DISPLAY_PRICE_DECIMALS as usize);
    for _ in 0..DISPLAY_PRICE_DECIMALS {
        // rem < den ≤ 2^64 · 10^9, so rem · 10 fits in a u128.
        rem *= 10;
        digits.push((rem / den) as u8);
        rem %= den;
    }
    let exact = rem == 0;
    let mut whole = whole;
    if rem * 2 >= den {
        // Round half up, carrying through the digits into the whole part.
        let mut i = digits.len();
        loop {
            if i == 0 {
                whole += 1;
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let mut out = whole.to_string();
    if !digits.is_empty() {
        out.push('.');
        out.extend(digits.iter().map(|d| char::from(b'0' + d)));
    }
    (out, exact)
}

/// [`unit_price`] for people: an inexact value is prefixed with `~`.
pub fn show_unit_price(price: Price, sell_decimals: u8, buy_decimals: u8) -> String {
    let (text, exact) = unit_price(price, sell_decimals, buy_decimals);
    if exact { text } else { format!("~{text}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(input: &str, s: u8, b: u8) -> Result<Price> {
        parse_price(input, "SELL", s, "BUY", b)
    }

    #[test]
    fn decimal_prices_become_exact_base_unit_rationals() {
        assert_eq!(p("2.5", 2, 2).unwrap(), Price::new(5, 2));
        assert_eq!(p("0.5", 2, 2).unwrap(), Price::new(1, 2));
        assert_eq!(p("1", 2, 2).unwrap(), Price::new(1, 1));
        assert_eq!(p("2.50", 2, 2).unwrap(), Price::new(5, 2));
        // 1 SELL (0 decimals: 1 base unit) for 2.5 BUY (2 decimals: 250).
        assert_eq!(p("2.5", 0, 2).unwrap(), Price::new(250, 1));
        // 1 SELL (9 decimals) for 3 BUY (0 decimals): 3 per 10^9.
        assert_eq!(p("3", 9, 0).unwrap(), Price::new(3, 1_000_000_000));
        assert_eq!(p(" 0.000001 ", 0, 9).unwrap(), Price::new(1000, 1));
        // Base units as they stand, in lowest terms.
        assert_eq!(p("10/4", 2, 2).unwrap(), Price::new(5, 2));
        assert_eq!(p("1/3", 2, 2).unwrap(), Price::new(1, 3));
    }

    #[test]
    fn bad_prices_are_refused_with_a_reason() {
        for bad in [
            "", "0", "0.0", "-1", "abc", "1e3", "+2", "1/0", "0/5", "1/", "/2", "1.5/2", "-1/2",
            "1/2/3",
        ] {
            let err = p(bad, 2, 2).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("bad price `{bad}`")),
                "{bad}: {err}"
            );
        }
        let err = p("99999999999999999999/1", 2, 2).unwrap_err().to_string();
        assert!(err.contains("64-bit"), "{err}");
        // 28 significant digits times 10^9 does not fit in u64 terms.
        let err = p("1.234567890123456789012345678", 0, 9)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be expressed exactly"), "{err}");
        assert!(p(&"1".repeat(65), 2, 2).is_err());
    }

    #[test]
    fn prices_show_in_token_units() {
        assert_eq!(unit_price(Price::new(5, 2), 2, 2), ("2.5".into(), true));
        assert_eq!(unit_price(Price::new(1, 1), 2, 2), ("1".into(), true));
        assert_eq!(unit_price(Price::new(250, 1), 0, 2), ("2.5".into(), true));
        assert_eq!(
            unit_price(Price::new(1, 3), 2, 2),
            ("0.333333333333".into(), false)
        );
        assert_eq!(
            unit_price(Price::new(2, 3), 2, 2),
            ("0.666666666667".into(), false)
        );
        assert_eq!(show_unit_price(Price::new(2, 3), 2, 2), "~0.666666666667");
        // Carries into the whole part.
        assert_eq!(unit_price(Price::new(u64::MAX, u64::MAX - 1), 0, 0).0, "1");
        assert_eq!(
            unit_price(Price::new(u64::MAX, 1), 9, 0).0,
            "18446744073709551615000000000"
        );
    }

    #[test]
    fn typed_prices_round_trip_through_the_display() {
        for (typed, s, b) in [
            ("2.5", 2, 2),
            ("0.125", 2, 0),
            ("1234.5678", 4, 9),
            ("7", 0, 0),
        ] {
            let price = p(typed, s, b).unwrap();
            assert_eq!(unit_price(price, s, b), (typed.to_string(), true));
        }
        assert_eq!(parse_rational("5/2"), Some(Price::new(5, 2)));
        assert_eq!(parse_rational("5/0"), None);
        assert_eq!(parse_rational("x"), None);
    }
}

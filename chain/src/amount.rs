//! Amounts are `u64` base units everywhere in state. At the JSON and CLI
//! edges they are decimal strings in token units, converted here with
//! `rust_decimal`.

use rust_decimal::Decimal;

use crate::limits::MAX_DECIMALS;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    #[error("amount must not be negative")]
    Negative,
    #[error("`{input}` has more than {decimals} decimal places")]
    TooManyDecimals { input: String, decimals: u8 },
    #[error("amount is too large")]
    TooLarge,
    #[error("a token has at most {MAX_DECIMALS} decimals")]
    BadDecimals,
}

/// Parses "12.50" into base units of a token with `decimals` places.
pub fn parse_amount(input: &str, decimals: u8) -> Result<u64, AmountError> {
    if decimals > MAX_DECIMALS {
        return Err(AmountError::BadDecimals);
    }
    let trimmed = input.trim();
    if trimmed.is_empty() || trimmed.contains(['e', 'E', '_']) {
        return Err(AmountError::NotANumber(input.to_string()));
    }
    let d =
        Decimal::from_str_exact(trimmed).map_err(|_| AmountError::NotANumber(input.to_string()))?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(AmountError::Negative);
    }
    let d = d.normalize();
    if d.scale() > u32::from(decimals) {
        return Err(AmountError::TooManyDecimals {
            input: input.to_string(),
            decimals,
        });
    }
    let factor = 10u128.pow(u32::from(decimals) - d.scale());
    let mantissa = u128::try_from(d.mantissa()).map_err(|_| AmountError::Negative)?;
    let units = mantissa.checked_mul(factor).ok_or(AmountError::TooLarge)?;
    u64::try_from(units).map_err(|_| AmountError::TooLarge)
}

/// Shows base units as a decimal string with exactly `decimals` places.
pub fn format_amount(units: u64, decimals: u8) -> String {
    Decimal::from_i128_with_scale(i128::from(units), u32::from(decimals.min(MAX_DECIMALS)))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_token_units() {
        assert_eq!(parse_amount("12.50", 2), Ok(1250));
        assert_eq!(parse_amount("12.5", 2), Ok(1250));
        assert_eq!(parse_amount("12", 2), Ok(1200));
        assert_eq!(parse_amount("0.000000001", 9), Ok(1));
        assert_eq!(
            parse_amount("12.500", 2),
            Ok(1250),
            "trailing zeros are not extra precision"
        );
        assert_eq!(format_amount(1250, 2), "12.50");
        assert_eq!(format_amount(7, 0), "7");
        assert_eq!(format_amount(u64::MAX, 9), "18446744073.709551615");
        assert_eq!(parse_amount(&format_amount(u64::MAX, 9), 9), Ok(u64::MAX));
    }

    #[test]
    fn rejects_bad_amounts() {
        assert!(matches!(
            parse_amount("1.234", 2),
            Err(AmountError::TooManyDecimals { .. })
        ));
        assert_eq!(parse_amount("-1", 2), Err(AmountError::Negative));
        assert_eq!(
            parse_amount("18446744073709551616", 0),
            Err(AmountError::TooLarge)
        );
        assert_eq!(
            parse_amount("18446744073.709551616", 9),
            Err(AmountError::TooLarge)
        );
        assert!(matches!(
            parse_amount("abc", 2),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(
            parse_amount("", 2),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(
            parse_amount("1e3", 2),
            Err(AmountError::NotANumber(_))
        ));
        assert_eq!(parse_amount("1", 10), Err(AmountError::BadDecimals));
    }
}

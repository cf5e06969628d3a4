//! The processor's fee per transaction, as an exact decimal fraction.
//!
//! The official processor parses its fee into a .NET `decimal` and answers
//! `totalFee = totalAmount × fee`. Floats would make that product drift by a
//! cent on large totals, so the fee is kept as `numerator / 10^k` and the
//! product is computed in integers, rounded half-to-even to whole cents.

use std::fmt;

/// Digits accepted after the decimal point: 10^9 as denominator keeps every
/// intermediate product below 2^64 × 10^9, far inside `u128`.
const MAX_FRACTION_DIGITS: usize = 9;

/// A fee between 0 and 1 inclusive, e.g. `0.05` (5 %).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fee {
    /// The fee as given, already checked to be a plain JSON number; it is
    /// echoed verbatim as `feePerTransaction`.
    text: String,
    /// `numerator / denominator` is the fee; `numerator <= denominator`.
    numerator: u128,
    /// A power of ten, at most 10^9.
    denominator: u128,
}

/// Why a fee given on the command line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeError {
    /// Not a plain decimal such as `0.05` (no sign, exponent or leading zeros).
    NotADecimal,
    /// More than nine digits after the point.
    TooPrecise,
    /// Greater than 1 (a fee of more than 100 %).
    AboveOne,
}

impl fmt::Display for FeeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeeError::NotADecimal => "the fee must be a plain decimal such as 0.05",
            FeeError::TooPrecise => "the fee may have at most 9 digits after the point",
            FeeError::AboveOne => "the fee must be between 0 and 1",
        })
    }
}

impl std::error::Error for FeeError {}

impl Fee {
    /// Parses `0`, `1`, `0.05`, `0.150`, ...: `(0|1)(\.[0-9]{1,9})?`, at most 1.
    pub fn parse(text: &str) -> Result<Fee, FeeError> {
        let (int, fraction) = match text.split_once('.') {
            Some((int, fraction)) => (int, Some(fraction)),
            None => (text, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || (int.len() > 1 && int.starts_with('0')) {
            return Err(FeeError::NotADecimal);
        }
        let fraction = match fraction {
            Some(fraction) if !all_digits(fraction) => return Err(FeeError::NotADecimal),
            Some(fraction) if fraction.len() > MAX_FRACTION_DIGITS => {
                return Err(FeeError::TooPrecise);
            }
            Some(fraction) => fraction,
            None => "",
        };
        if int.len() > 1 {
            return Err(FeeError::AboveOne);
        }
        let denominator = 10u128.pow(fraction.len() as u32);
        let mut numerator = u128::from(int.as_bytes()[0] - b'0') * denominator;
        if !fraction.is_empty() {
            // Cannot fail: at most nine ASCII digits.
            numerator += fraction
                .parse::<u128>()
                .map_err(|_| FeeError::NotADecimal)?;
        }
        if numerator > denominator {
            return Err(FeeError::AboveOne);
        }
        Ok(Fee {
            text: text.to_string(),
            numerator,
            denominator,
        })
    }

    /// The fee exactly as configured, for `feePerTransaction`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// `cents × fee`, rounded half-to-even to whole cents, exactly.
    ///
    /// Split as `(q·d + r)·n / d = q·n + r·n / d` so that no product exceeds
    /// `cents` or `d²`: exact for every `u128` total.
    pub fn of(&self, cents: u128) -> u128 {
        let (n, d) = (self.numerator, self.denominator);
        let (q, r) = (cents / d, cents % d);
        let whole = q * n + r * n / d;
        let rest = r * n % d;
        let round_up = 2 * rest > d || (2 * rest == d && whole % 2 == 1);
        whole + u128::from(round_up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_parse_exactly_or_are_named() {
        // (text, Ok((numerator, denominator)) or the error)
        type Case = (&'static str, Result<(u128, u128), FeeError>);
        let cases: [Case; 14] = [
            ("0.05", Ok((5, 100))),
            ("0.15", Ok((15, 100))),
            ("0.150", Ok((150, 1000))),
            ("0", Ok((0, 1))),
            ("1", Ok((1, 1))),
            ("1.000", Ok((1000, 1000))),
            ("0.000000001", Ok((1, 1_000_000_000))),
            ("0.0000000001", Err(FeeError::TooPrecise)),
            ("1.01", Err(FeeError::AboveOne)),
            ("12", Err(FeeError::AboveOne)),
            ("00.5", Err(FeeError::NotADecimal)),
            (".5", Err(FeeError::NotADecimal)),
            ("-0.05", Err(FeeError::NotADecimal)),
            ("5e-2", Err(FeeError::NotADecimal)),
        ];
        for (text, expected) in cases {
            let got = Fee::parse(text).map(|fee| (fee.numerator, fee.denominator));
            assert_eq!(got, expected, "{text:?}");
        }
        assert_eq!(Fee::parse("0.").unwrap_err(), FeeError::NotADecimal);
        assert_eq!(Fee::parse("").unwrap_err(), FeeError::NotADecimal);
        assert_eq!(Fee::parse("0.05").unwrap().text(), "0.05");
    }

    #[test]
    fn fee_rounds_half_to_even_in_cents() {
        let cases = [
            ("0.05", 1990, 100),       // 99.5 -> 100 (to even)
            ("0.05", 3980, 199),       // 199.0
            ("0.05", 5970, 298),       // 298.5 -> 298 (to even)
            ("0.05", 10, 0),           // 0.5 -> 0
            ("0.05", 30, 2),           // 1.5 -> 2
            ("0.05", 31, 2),           // 1.55 -> 2
            ("0.15", 1990, 298),       // 298.5 -> 298
            ("0.15", 333_330, 50_000), // 49 999.5 -> 50 000
            ("0", 1990, 0),
            ("1", 1990, 1990),
            ("1", u128::MAX, u128::MAX),
            ("0.5", u128::MAX / 2, 1 << 126), // 2^126 - 0.5 -> 2^126 (even)
            ("0.000000001", u128::MAX, u128::MAX / 1_000_000_000 + 1),
        ];
        for (fee, cents, expected) in cases {
            let fee = Fee::parse(fee).unwrap();
            assert_eq!(fee.of(cents), expected, "{} of {cents}", fee.text());
        }
    }
}

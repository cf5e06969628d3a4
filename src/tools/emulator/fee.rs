//! The processor's fee per transaction, as an exact decimal fraction.
//!
//! The official processor parses its fee into a .NET `decimal` and answers
//! `totalFee = totalAmount × fee` without rounding: a `decimal` product keeps
//! the sum of its factors' scales, so `19.90 × 0.05` prints `0.9950`. The fee
//! is kept as `numerator / 10^k` and the product computed in integers, in
//! units of 10^-(2+k), and printed with exactly 2 + k fraction digits.

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
    /// `k` in `denominator = 10^k`: the digits after the point as written.
    fraction_digits: u32,
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
            fraction_digits: fraction.len() as u32,
        })
    }

    /// The fee exactly as configured, for `feePerTransaction`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Appends `cents × fee` exactly as .NET's `decimal` prints it: the
    /// product has 2 + k fraction digits (k those of the fee as written),
    /// trailing zeros included, e.g. `0.9950` for 1 990 cents at `0.05`.
    ///
    /// With `D = 100 · 10^k` the product is `cents · n / D`; splitting
    /// `cents = q·D + r` gives the integer part `q·n + (r·n) / D` and the
    /// fraction `(r·n) % D`, and no product exceeds `cents` or `D · n`: exact
    /// for every `u128` total.
    pub fn write_total(&self, cents: u128, out: &mut Vec<u8>) {
        let scale = self.fraction_digits + 2;
        let big_d = 10u128.pow(scale);
        let (q, r) = (cents / big_d, cents % big_d);
        let whole = q * self.numerator + r * self.numerator / big_d;
        let fraction = r * self.numerator % big_d;
        out.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
        out.push(b'.');
        let digits = itoa::Buffer::new().format(fraction).len() as u32;
        out.extend(std::iter::repeat_n(b'0', (scale - digits) as usize));
        out.extend_from_slice(itoa::Buffer::new().format(fraction).as_bytes());
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
    fn total_fee_is_the_exact_product_with_every_digit() {
        let cases = [
            ("0.05", 1990, "0.9950"), // 19.90 × 0.05: not rounded to 1.00
            ("0.05", 5970, "2.9850"),
            ("0.05", 10, "0.0050"),
            ("0.05", 0, "0.0000"),
            ("0.15", 1990, "2.9850"),
            ("0.15", 9950, "14.9250"),
            ("0.150", 1990, "2.98500"), // the scale follows the fee as written
            ("0.07", 2005, "1.4035"),   // the final test's 20.05 at 7 %
            ("0", 1990, "0.00"),
            ("1", 1990, "19.90"),
            ("1", u128::MAX, "3402823669209384634633746074317682114.55"),
            ("0.5", 3, "0.015"),
            (
                "0.000000001",
                u128::MAX,
                "3402823669209384634633746074.31768211455",
            ),
        ];
        for (fee, cents, expected) in cases {
            let fee = Fee::parse(fee).unwrap();
            let mut out = Vec::new();
            fee.write_total(cents, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                expected,
                "{} of {cents}",
                fee.text()
            );
        }
    }
}

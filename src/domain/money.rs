//! Decimal amounts ⇔ integer cents, rounded exactly like the processors.
//!
//! One job: turn the text of a JSON number into whole cents, and cents back
//! into a two-decimal JSON number, with integer arithmetic only: no float
//! ever touches money, so `19.90` is 1990 cents, not 1989.9999….
//!
//! Decisions worth knowing:
//!
//! - The processors store amounts rounded to two decimals with round half to
//!   even (banker's rounding), so we do too: `0.125` → 12 cents,
//!   `0.135` → 14, `0.1251` → 13. Our summary then equals theirs to the cent.
//! - The number is read as significant digits `D` and a power of ten,
//!   `value·100 = D·10^shift`, from the text itself. Leading and trailing
//!   zeros are dropped first, so hundreds of digits or an exponent such as
//!   `1e-999999999999` cost nothing and cannot overflow: once the integer part
//!   would exceed 16 digits the answer is `TooLarge`, and when it has none the
//!   answer depends on one digit only.
//! - An amount that rounds to 0 cents is `NotPositive`, like a negative one
//!   (even `-0`): a payment of nothing is refused, not forwarded.
//! - The grammar is RFC 8259's, exactly: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`,
//!   so `01`, `1.`, `.5`, `+1` and surrounding spaces are `NotANumber`.

/// Why a JSON number is not an acceptable amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountError {
    /// The text is not a JSON number.
    NotANumber,
    /// Negative, zero, or rounding to 0.00.
    NotPositive,
    /// More than [`MAX_CENTS`] once rounded.
    TooLarge,
}

/// The largest amount accepted, in cents (10^13 units): sums of 2^32 of them
/// still fit a `u128` with room to spare, and it is far above any real payment.
pub const MAX_CENTS: u64 = 1_000_000_000_000_000;

/// Digits of the integer part of `value·100` beyond which it is surely above
/// [`MAX_CENTS`] (10^15 has 16 digits; anything with 17 or more is larger).
const MAX_CENTS_DIGITS: i64 = 16;

/// Parses a JSON number's text to cents, rounding half to even at the
/// second decimal.
pub fn parse_cents(json_number: &[u8]) -> Result<u64, AmountError> {
    let number = Number::parse(json_number).ok_or(AmountError::NotANumber)?;
    if number.negative {
        return Err(AmountError::NotPositive);
    }
    let cents = number.round_to_cents()?;
    match cents {
        0 => Err(AmountError::NotPositive),
        c if c > MAX_CENTS => Err(AmountError::TooLarge),
        c => Ok(c),
    }
}

/// Appends `cents` as a decimal with exactly two fraction digits:
/// `0.00`, `19.90`, `1234.05`.
pub fn write_cents(cents: u128, out: &mut Vec<u8>) {
    let mut units = itoa::Buffer::new();
    out.extend_from_slice(units.format(cents / 100).as_bytes());
    // The remainder is below 100, so both digits are ASCII digits.
    let fraction = (cents % 100) as u8;
    out.extend_from_slice(&[b'.', b'0' + fraction / 10, b'0' + fraction % 10]);
}

/// A JSON number split into its grammatical parts, borrowed from the text.
struct Number<'a> {
    negative: bool,
    /// Digits before the point (at least one).
    int: &'a [u8],
    /// Digits after the point (possibly none).
    frac: &'a [u8],
    /// The exponent, clamped to ±[`EXP_LIMIT`].
    exp: i64,
}

/// Bound on a parsed exponent's magnitude. Larger ones act the same (the
/// result is 0 or too large whatever the digits), and the bound keeps every
/// later sum of exponents and lengths far from `i64` overflow.
const EXP_LIMIT: i64 = 1 << 60;

impl<'a> Number<'a> {
    /// Splits `text` per the JSON grammar; `None` if it does not match exactly.
    fn parse(text: &'a [u8]) -> Option<Number<'a>> {
        let (negative, rest) = match text.strip_prefix(b"-") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, rest) = split_digits(rest);
        if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
            return None;
        }
        let (frac, rest) = match rest.strip_prefix(b".") {
            Some(after) => match split_digits(after) {
                (frac, rest) if !frac.is_empty() => (frac, rest),
                _ => return None,
            },
            None => (&rest[..0], rest),
        };
        let exp = match rest {
            [] => 0,
            [b'e' | b'E', tail @ ..] => parse_exponent(tail)?,
            _ => return None,
        };
        Some(Number {
            negative,
            int,
            frac,
            exp,
        })
    }

    /// The digit at `index` of the concatenation `int ++ frac`.
    fn digit(&self, index: usize) -> u8 {
        match self.int.get(index) {
            Some(d) => d - b'0',
            None => self.frac[index - self.int.len()] - b'0',
        }
    }

    /// `|value|·100` rounded half to even, or `TooLarge` when it surely
    /// exceeds [`MAX_CENTS`].
    fn round_to_cents(&self) -> Result<u64, AmountError> {
        let total = self.int.len() + self.frac.len();
        let Some(first) = (0..total).find(|&i| self.digit(i) != 0) else {
            return Ok(0);
        };
        // A nonzero digit exists, so `rfind` succeeds; the fallback is unreachable.
        let last = (0..total).rfind(|&i| self.digit(i) != 0).unwrap_or(first);
        // value·100 = D·10^shift, D = digits first..=last (no leading or trailing zeros).
        let significant = last - first + 1;
        let trailing_zeros = total - 1 - last;
        let shift = self
            .exp
            .saturating_add(2)
            .saturating_add(len_i64(trailing_zeros))
            .saturating_sub(len_i64(self.frac.len()));
        // Digits of D that land left of the decimal point of value·100.
        let int_len = len_i64(significant).saturating_add(shift);
        if int_len > MAX_CENTS_DIGITS {
            return Err(AmountError::TooLarge);
        }
        let Ok(int_len) = usize::try_from(int_len) else {
            // Negative: below 0.1 cent, so it rounds to 0 whatever the digits are.
            return Ok(0);
        };
        Ok(self.round_significant(first, significant, int_len))
    }

    /// Rounds half to even the number whose digits are the `significant`
    /// ones from `first`, with the point after `int_len` of them
    /// (`int_len` ≤ 16, so the integer part fits a `u64`).
    fn round_significant(&self, first: usize, significant: usize, int_len: usize) -> u64 {
        let kept = int_len.min(significant);
        let mut cents =
            (first..first + kept).fold(0u64, |acc, i| acc * 10 + u64::from(self.digit(i)));
        for _ in kept..int_len {
            cents *= 10;
        }
        if int_len < significant {
            let dropped = self.digit(first + int_len);
            // The last significant digit is nonzero, so any dropped digit
            // after the first makes the remainder strictly above a half.
            let more = significant - int_len > 1;
            let up = dropped > 5 || (dropped == 5 && (more || cents % 2 == 1));
            cents += u64::from(up);
        }
        cents
    }
}

/// Splits off the leading run of ASCII digits.
fn split_digits(text: &[u8]) -> (&[u8], &[u8]) {
    let count = text.iter().take_while(|b| b.is_ascii_digit()).count();
    text.split_at(count)
}

/// `[+-]?[0-9]+` to the end of `text`, saturated at ±[`EXP_LIMIT`].
fn parse_exponent(text: &[u8]) -> Option<i64> {
    let (negative, rest) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = rest.iter().fold(0i64, |acc, d| {
        // `acc` may already be EXP_LIMIT = 2^60, and 2^60·10 overflows
        // `i64`: saturate first, then clamp.
        acc.saturating_mul(10)
            .saturating_add(i64::from(d - b'0'))
            .min(EXP_LIMIT)
    });
    Some(if negative { -magnitude } else { magnitude })
}

/// A slice length as `i64`; lengths never reach `i64::MAX` in practice, and
/// saturating keeps the arithmetic panic-free if one ever did.
fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AmountError::*;

    #[test]
    fn parses_and_rounds_half_to_even() {
        let cases: &[(&str, u64)] = &[
            ("19.90", 1990),
            ("19.9", 1990),
            ("19", 1900),
            ("0.01", 1),
            ("1", 100),
            ("0.125", 12),
            ("0.135", 14),
            ("0.1251", 13),
            ("0.1250000000000000000000000000001", 13),
            ("0.12500000000000000000000000000000", 12),
            ("0.126", 13),
            ("0.124999999", 12),
            ("0.015", 2),
            ("0.025", 2),
            ("0.005000001", 1),
            ("0.0051", 1),
            ("0.0099", 1),
            ("2.675", 268),
            ("1.005", 100),
            ("1.015", 102),
            ("1e2", 10_000),
            ("1E2", 10_000),
            ("1e+2", 10_000),
            ("1.99E+1", 1990),
            ("1990e-2", 1990),
            ("199000e-4", 1990),
            ("0.1990e2", 1990),
            ("1e-2", 1),
            ("5e-3", 0), // tie to even: 0, refused below
            ("15e-3", 2),
            ("25e-3", 2),
            ("0e5", 0),
            ("10000000000000", 1_000_000_000_000_000),
            ("1e13", 1_000_000_000_000_000),
            ("9999999999999.99", 999_999_999_999_999),
            ("9999999999999.994", 999_999_999_999_999),
            ("9999999999999.995", 1_000_000_000_000_000),
            (
                "0.00000000000000000000000000000000000000000000000000000000001e59",
                100,
            ),
            (
                "100000000000000000000000000000000000000000000000000e-50",
                100,
            ),
            (
                "100000000000000000000000000000000000000000000000000e-49",
                1000,
            ),
        ];
        for &(text, expected) in cases {
            let got = parse_cents(text.as_bytes());
            if expected == 0 {
                assert_eq!(got, Err(NotPositive), "{text}");
            } else {
                assert_eq!(got, Ok(expected), "{text}");
            }
        }
    }

    #[test]
    fn refuses_non_positive_and_too_large() {
        let cases: &[(&str, AmountError)] = &[
            ("0", NotPositive),
            ("-0", NotPositive),
            ("0.0", NotPositive),
            ("0.000", NotPositive),
            ("-1", NotPositive),
            ("-19.90", NotPositive),
            ("-1e999", NotPositive),
            ("0.004", NotPositive),
            ("0.005", NotPositive),
            ("0.0049999", NotPositive),
            ("4e-3", NotPositive),
            ("1e-3", NotPositive),
            ("1e-999999999999999999999999999999", NotPositive),
            ("123456789e-999999999999999999999", NotPositive),
            ("10000000000000.01", TooLarge),
            ("10000000000000.005001", TooLarge),
            ("1e14", TooLarge),
            ("1e16", TooLarge),
            ("1e999", TooLarge),
            ("1e99999999999999999999999999999999999", TooLarge),
            ("99999999999999999999999999999999999999999999", TooLarge),
            ("0.0000000001e999999999999999", TooLarge),
        ];
        for &(text, expected) in cases {
            assert_eq!(parse_cents(text.as_bytes()), Err(expected), "{text}");
        }
        // 10000000000000.005 ties to the even 10^15 itself: exactly the maximum.
        assert_eq!(parse_cents(b"10000000000000.005"), Ok(MAX_CENTS));
    }

    #[test]
    fn refuses_what_json_does_not_call_a_number() {
        let cases = [
            "",
            "-",
            "+1",
            "01",
            "-01",
            "00",
            "1.",
            ".5",
            "-.5",
            "1.e2",
            "1e",
            "1e+",
            "1E-",
            "1ee2",
            "1e2.5",
            "1.2.3",
            " 1",
            "1 ",
            "1,5",
            "0x10",
            "NaN",
            "Infinity",
            "-Infinity",
            "1_000",
            "\"19.90\"",
            "true",
            "null",
            "19.90a",
            "١",
            "--1",
            "1e--2",
            "1e+-2",
        ];
        for text in cases {
            assert_eq!(parse_cents(text.as_bytes()), Err(NotANumber), "{text:?}");
        }
    }

    #[test]
    fn survives_long_digit_strings() {
        let mut long = String::from("0.");
        long.push_str(&"0".repeat(500));
        long.push('1');
        assert_eq!(parse_cents(long.as_bytes()), Err(NotPositive));

        let mut big = "9".repeat(600);
        assert_eq!(parse_cents(big.as_bytes()), Err(TooLarge));
        big.push_str("e-598"); // 9.99… ×10^1, i.e. 99.99…: rounds up to 100.00
        assert_eq!(parse_cents(big.as_bytes()), Ok(10_000));

        let mut precise = String::from("19.90");
        precise.push_str(&"0".repeat(1000));
        assert_eq!(parse_cents(precise.as_bytes()), Ok(1990));
        precise.push('1');
        assert_eq!(parse_cents(precise.as_bytes()), Ok(1990));

        let mut tie = String::from("0.12");
        tie.push('5');
        tie.push_str(&"0".repeat(700));
        assert_eq!(parse_cents(tie.as_bytes()), Ok(12));
        tie.push('1');
        assert_eq!(parse_cents(tie.as_bytes()), Ok(13));

        let exponent = format!("1e{}", "9".repeat(400));
        assert_eq!(parse_cents(exponent.as_bytes()), Err(TooLarge));
        let exponent = format!("1e-{}", "9".repeat(400));
        assert_eq!(parse_cents(exponent.as_bytes()), Err(NotPositive));
    }

    #[test]
    fn agrees_with_a_brute_force_oracle() {
        // Every amount with 3 decimals below 20: compare with rounding the
        // exact integer count of thousandths by hand.
        for thousandths in 1u64..20_000 {
            let text = format!("{}.{:03}", thousandths / 1000, thousandths % 1000);
            let (cents, rest) = (thousandths / 10, thousandths % 10);
            let rounded = cents + u64::from(rest > 5 || (rest == 5 && cents % 2 == 1));
            let expected = if rounded == 0 {
                Err(NotPositive)
            } else {
                Ok(rounded)
            };
            assert_eq!(parse_cents(text.as_bytes()), expected, "{text}");
            let scientific = format!("{thousandths}e-3");
            assert_eq!(parse_cents(scientific.as_bytes()), expected, "{scientific}");
        }
    }

    #[test]
    fn writes_two_decimals() {
        let cases: &[(u128, &str)] = &[
            (0, "0.00"),
            (1, "0.01"),
            (10, "0.10"),
            (99, "0.99"),
            (100, "1.00"),
            (1990, "19.90"),
            (123_405, "1234.05"),
            (333_336_650, "3333366.50"),
            (u128::MAX, "3402823669209384634633746074317682114.55"),
        ];
        for &(cents, expected) in cases {
            let mut out = b"x".to_vec();
            write_cents(cents, &mut out);
            assert_eq!(out, [b"x", expected.as_bytes()].concat(), "{cents}");
        }
    }

    #[test]
    fn written_cents_parse_back() {
        for cents in (1..MAX_CENTS).step_by(99_999_999_977) {
            let mut out = Vec::new();
            write_cents(u128::from(cents), &mut out);
            assert_eq!(
                parse_cents(&out),
                Ok(cents),
                "{}",
                String::from_utf8_lossy(&out)
            );
        }
    }
}

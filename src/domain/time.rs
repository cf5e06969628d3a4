//! ISO-8601 UTC timestamps ⇔ milliseconds since the Unix epoch.
//!
//! One job: turn the `requestedAt` we send and the `from`/`to` of a summary
//! query into `i64` milliseconds, and back, exactly and without allocating.
//!
//! Decisions worth knowing:
//!
//! - The calendar is Howard Hinnant's `days_from_civil` / `civil_from_days`
//!   (<https://howardhinnant.github.io/date_algorithms.html>): pure integer
//!   arithmetic over 400-year eras, proleptic Gregorian, exact for every date
//!   we accept (years 0000–9999). No tables, no loops, no floats.
//! - Milliseconds are our resolution, but clients may send up to nine
//!   fraction digits. The processors compare their stored timestamps with the
//!   full-precision bounds, inclusively. A stored `t` (always whole ms, since
//!   we send whole ms) satisfies `t >= from` exactly when `t >= ceil_ms(from)`
//!   and `t <= to` exactly when `t <= floor_ms(to)`, so `from` is parsed with
//!   [`Round::Up`] and `to` with [`Round::Down`]: our window then holds the
//!   same payments as theirs.
//! - An offset (`+HH:MM`/`-HH:MM`) is applied; no offset at all means UTC,
//!   since every timestamp in the contest is UTC.
//! - The formatter clamps to years 0000–9999 instead of panicking: the output
//!   is a fixed-size array, so it can never be longer than 24 bytes.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch now, UTC, from the system clock.
///
/// A clock set before 1970 yields a negative value rather than a panic.
pub fn now_millis() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// How to bring a fraction finer than a millisecond to whole milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// Floor: for an inclusive upper bound (`to`).
    Down,
    /// Ceiling: for an inclusive lower bound (`from`).
    Up,
}

/// Length of [`format_iso8601`]'s output: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub const ISO8601_LEN: usize = 24;

const MS_PER_DAY: i64 = 86_400_000;

/// The first millisecond [`format_iso8601`] can write: 0000-01-01T00:00:00.000Z.
const MIN_MS: i64 = days_from_civil(0, 1, 1) * MS_PER_DAY;

/// The last millisecond [`format_iso8601`] can write: 9999-12-31T23:59:59.999Z.
const MAX_MS: i64 = days_from_civil(10_000, 1, 1) * MS_PER_DAY - 1;

/// At most nanoseconds: more fraction digits than that are refused.
const MAX_FRACTION_DIGITS: usize = 9;

/// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z|±HH:MM]` to milliseconds since the
/// epoch, rounding a sub-millisecond fraction per `round`.
///
/// `T`/`Z` may also be lower case (RFC 3339 §5.6). Ranges are checked
/// (month 1–12, day within its month incl. 29 February of leap years,
/// hour < 24, minute < 60, second < 60, offset hours < 24); anything else,
/// including trailing bytes, is `None`.
pub fn parse_iso8601(text: &[u8], round: Round) -> Option<i64> {
    let head = text.get(..19)?;
    let year = digits(&head[0..4])?;
    let month = digits(&head[5..7])?;
    let day = digits(&head[8..10])?;
    let hour = digits(&head[11..13])?;
    let minute = digits(&head[14..16])?;
    let second = digits(&head[17..19])?;
    let separators_ok = head[4] == b'-'
        && head[7] == b'-'
        && matches!(head[10], b'T' | b't')
        && head[13] == b':'
        && head[16] == b':';
    if !separators_ok || !(1..=12).contains(&month) || hour >= 24 || minute >= 60 || second >= 60 {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (millis, rest) = parse_fraction(&text[19..], round)?;
    let offset_minutes = parse_offset(rest)?;
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// Writes `ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
///
/// Instants outside years 0000–9999 are clamped to the nearest one inside,
/// so every input gives a well-formed, parsable timestamp.
pub fn format_iso8601(ms: i64, out: &mut [u8; ISO8601_LEN]) {
    let ms = ms.clamp(MIN_MS, MAX_MS);
    let (year, month, day) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let in_day = ms.rem_euclid(MS_PER_DAY);
    *out = *b"0000-00-00T00:00:00.000Z";
    put_digits(&mut out[0..4], year);
    put_digits(&mut out[5..7], month);
    put_digits(&mut out[8..10], day);
    put_digits(&mut out[11..13], in_day / 3_600_000);
    put_digits(&mut out[14..16], in_day / 60_000 % 60);
    put_digits(&mut out[17..19], in_day / 1_000 % 60);
    put_digits(&mut out[20..23], in_day % 1_000);
}

/// The optional `.fraction` at the start of `tail`: whole milliseconds
/// (rounded per `round`) and what follows the fraction.
fn parse_fraction(tail: &[u8], round: Round) -> Option<(i64, &[u8])> {
    let Some(after_dot) = tail.strip_prefix(b".") else {
        return Some((0, tail));
    };
    let count = after_dot.iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 || count > MAX_FRACTION_DIGITS {
        return None;
    }
    let (fraction, rest) = after_dot.split_at(count);
    let mut millis = 0;
    for position in 0..3 {
        let digit = fraction.get(position).map_or(0, |b| i64::from(b - b'0'));
        millis = millis * 10 + digit;
    }
    let finer = fraction.iter().skip(3).any(|&b| b != b'0');
    let up = round == Round::Up && finer;
    Some((millis + i64::from(up), rest))
}

/// The zone designator that must end the text: `Z`, `±HH:MM` or nothing.
/// Returns the offset east of UTC in minutes.
fn parse_offset(tail: &[u8]) -> Option<i64> {
    match tail {
        [] | [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours >= 24 || minutes >= 60 {
                return None;
            }
            let east = hours * 60 + minutes;
            Some(if *sign == b'-' { -east } else { east })
        }
        _ => None,
    }
}

/// The value of a short run of ASCII digits; `None` if any byte is not one.
fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0, |value, &b| {
        b.is_ascii_digit().then(|| value * 10 + i64::from(b - b'0'))
    })
}

/// Writes the low `out.len()` decimal digits of `value` (non-negative), zero-padded.
fn put_digits(out: &mut [u8], mut value: i64) {
    for slot in out.iter_mut().rev() {
        // `value` is never negative here, so the remainder is 0..=9.
        *slot = b'0' + value.rem_euclid(10) as u8;
        value /= 10;
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
///
/// Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms",
/// `days_from_civil`: shift the year to start in March so the leap day is the
/// last day of the year, then count 400-year eras of 146 097 days, years of
/// 365 days plus leap days, and days of the year via (153·m + 2) / 5.
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400; // [0, 399]
    let march_month = if month > 2 { month - 3 } else { month + 9 }; // [0, 11]
    let day_of_year = (153 * march_month + 2) / 5 + day - 1; // [0, 365]
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`, the inverse of [`days_from_civil`].
const fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468; // days since 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097; // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153; // [0, 11], 0 = March
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    };
    let year = year_of_era + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000;

    fn format(ms: i64) -> String {
        let mut out = [0; ISO8601_LEN];
        format_iso8601(ms, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn parses_valid_timestamps() {
        // Expected seconds from `date -u -d <text> +%s`.
        let cases: &[(&str, i64)] = &[
            ("2020-07-10T12:34:56Z", 1_594_384_496 * S),
            ("2020-07-10T12:34:56", 1_594_384_496 * S),
            ("2020-07-10t12:34:56z", 1_594_384_496 * S),
            ("2020-07-10T12:34:56.000Z", 1_594_384_496 * S),
            ("2020-07-10T12:34:56.1Z", 1_594_384_496 * S + 100),
            ("2020-07-10T12:34:56.12Z", 1_594_384_496 * S + 120),
            ("2020-07-10T12:34:56.123Z", 1_594_384_496 * S + 123),
            ("2020-07-10T12:34:56.123000000Z", 1_594_384_496 * S + 123),
            ("2020-07-10T12:34:56.999Z", 1_594_384_496 * S + 999),
            ("2020-07-10T12:34:56+00:00", 1_594_384_496 * S),
            ("2020-07-10T12:34:56-00:00", 1_594_384_496 * S),
            ("2020-07-10T09:34:56-03:00", 1_594_384_496 * S),
            ("2020-07-10T14:04:56.5+01:30", 1_594_384_496 * S + 500),
            ("2020-07-11T00:34:56+12:00", 1_594_384_496 * S),
            ("2025-07-10T12:34:56.000Z", 1_752_150_896 * S),
            ("1970-01-01T00:00:00Z", 0),
            ("1969-12-31T23:59:59Z", -S),
            ("1969-12-31T23:59:59.999Z", -1),
            ("2000-02-29T00:00:00Z", 951_782_400 * S),
            ("2024-02-29T23:59:59Z", 1_709_251_199 * S),
            ("1900-03-01T00:00:00Z", -2_203_891_200 * S),
            ("0000-01-01T00:00:00Z", -62_167_219_200 * S),
            ("0000-02-29T00:00:00Z", (-62_167_219_200 + 59 * 86_400) * S),
            ("9999-12-31T23:59:59.999Z", 253_402_300_799 * S + 999),
        ];
        for &(text, expected) in cases {
            for round in [Round::Down, Round::Up] {
                assert_eq!(
                    parse_iso8601(text.as_bytes(), round),
                    Some(expected),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn rounds_sub_millisecond_fractions_per_bound() {
        let base = 1_594_384_496 * S;
        let cases: &[(&str, i64, i64)] = &[
            // text, Round::Down, Round::Up
            ("2020-07-10T12:34:56.0001Z", base, base + 1),
            ("2020-07-10T12:34:56.123000001Z", base + 123, base + 124),
            ("2020-07-10T12:34:56.1239Z", base + 123, base + 124),
            ("2020-07-10T12:34:56.1230Z", base + 123, base + 123),
            ("2020-07-10T12:34:56.999999999Z", base + 999, base + 1_000),
            ("1969-12-31T23:59:59.9995Z", -1, 0),
            ("2020-07-10T09:34:56.0000001-03:00", base, base + 1),
        ];
        for &(text, down, up) in cases {
            assert_eq!(
                parse_iso8601(text.as_bytes(), Round::Down),
                Some(down),
                "{text}"
            );
            assert_eq!(
                parse_iso8601(text.as_bytes(), Round::Up),
                Some(up),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_invalid_timestamps() {
        let cases = [
            "",
            "2020",
            "2020-07-10",
            "2020-07-10T12:34Z",
            "2020-07-10 12:34:56Z",
            "2020/07/10T12:34:56Z",
            "2020-7-10T12:34:56Z",
            "20200-07-10T12:34:56Z",
            "-2020-07-10T12:34:56Z",
            "2020-00-10T12:34:56Z",
            "2020-13-10T12:34:56Z",
            "2020-07-00T12:34:56Z",
            "2020-07-32T12:34:56Z",
            "2020-04-31T12:34:56Z",
            "2019-02-29T12:34:56Z",
            "1900-02-29T12:34:56Z",
            "2020-07-10T24:00:00Z",
            "2020-07-10T12:60:56Z",
            "2020-07-10T12:34:60Z",
            "2020-07-10T12:34:56.Z",
            "2020-07-10T12:34:56.1234567890Z",
            "2020-07-10T12:34:56,123Z",
            "2020-07-10T12:34:56ZZ",
            "2020-07-10T12:34:56Z ",
            " 2020-07-10T12:34:56Z",
            "2020-07-10T12:34:56+0300",
            "2020-07-10T12:34:56+03",
            "2020-07-10T12:34:56+24:00",
            "2020-07-10T12:34:56+03:60",
            "2020-07-10T12:34:56+3:00",
            "2020-07-10T12:34:56Z+00:00",
            "2020-07-10T1a:34:56Z",
            "2020-07-10T12:34:56.12a",
            "2020-07-10T12:34:56.123\u{0}",
            "2020-07-10T12:34:56\u{1F600}",
        ];
        for text in cases {
            for round in [Round::Down, Round::Up] {
                assert_eq!(parse_iso8601(text.as_bytes(), round), None, "{text:?}");
            }
        }
    }

    #[test]
    fn formats_known_instants() {
        let cases: &[(i64, &str)] = &[
            (0, "1970-01-01T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (1_594_384_496 * S + 7, "2020-07-10T12:34:56.007Z"),
            (1_752_150_896 * S, "2025-07-10T12:34:56.000Z"),
            (951_782_400 * S, "2000-02-29T00:00:00.000Z"),
            (1_709_251_199 * S + 999, "2024-02-29T23:59:59.999Z"),
            (-2_203_891_200 * S, "1900-03-01T00:00:00.000Z"),
            (-62_167_219_200 * S, "0000-01-01T00:00:00.000Z"),
            (253_402_300_799 * S + 999, "9999-12-31T23:59:59.999Z"),
            // Clamped to the representable years.
            (i64::MIN, "0000-01-01T00:00:00.000Z"),
            (-62_167_219_200 * S - 1, "0000-01-01T00:00:00.000Z"),
            (i64::MAX, "9999-12-31T23:59:59.999Z"),
            (253_402_300_800 * S, "9999-12-31T23:59:59.999Z"),
        ];
        for &(ms, expected) in cases {
            assert_eq!(format(ms), expected, "{ms}");
        }
    }

    #[test]
    fn format_then_parse_round_trips() {
        // A stride coprime with every calendar period visits all times of day,
        // all days of the month and both sides of every leap day over the range.
        let mut ms = MIN_MS;
        let mut count = 0;
        while ms <= MAX_MS {
            let text = format(ms);
            for round in [Round::Down, Round::Up] {
                assert_eq!(parse_iso8601(text.as_bytes(), round), Some(ms), "{text}");
            }
            ms += 3_600_017_077; // ≈ 41.7 days
            count += 1;
        }
        assert!(count > 85_000);
    }

    #[test]
    fn round_trips_around_year_and_leap_boundaries() {
        let dates = [
            (1969, 12, 31),
            (1970, 1, 1),
            (1999, 12, 31),
            (2000, 2, 28),
            (2000, 2, 29),
            (2000, 3, 1),
            (2023, 12, 31),
            (2024, 2, 29),
            (2025, 1, 1),
            (2100, 2, 28),
            (2100, 3, 1),
            (0, 2, 29),
            (9999, 12, 31),
        ];
        for (year, month, day) in dates {
            let start = days_from_civil(year, month, day) * MS_PER_DAY;
            for ms in [start - 1, start, start + 1, start + MS_PER_DAY - 1] {
                let ms = ms.clamp(MIN_MS, MAX_MS);
                let text = format(ms);
                assert_eq!(
                    parse_iso8601(text.as_bytes(), Round::Down),
                    Some(ms),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn calendar_matches_a_day_by_day_count() {
        // An independent oracle: walk every day of years 0000-9999 and compare.
        let (mut year, mut month, mut day) = (0, 1, 1);
        let mut days = days_from_civil(0, 1, 1);
        assert_eq!(days, -719_528);
        while year < 10_000 {
            assert_eq!(days_from_civil(year, month, day), days);
            assert_eq!(civil_from_days(days), (year, month, day));
            days += 1;
            day += 1;
            if day > days_in_month(year, month) {
                day = 1;
                month += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
    }

    #[test]
    fn now_is_after_this_code_was_written() {
        assert!(now_millis() > 1_750_000_000 * S);
    }
}

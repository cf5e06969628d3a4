//! The properties each fuzz target checks, one function per parser entry
//! point of the request path.
//!
//! Shared by the libFuzzer targets (`fuzz_targets/*.rs`, nightly, coverage
//! guided) and by `tests/fuzz_smoke.rs` (stable, a deterministic mutator over
//! the seed corpus), so both exercise exactly the same assertions. Each
//! function takes arbitrary bytes and panics when a property fails; a panic
//! is the crash libFuzzer reports.
//!
//! Beyond "never panics", every target checks what the server relies on:
//!
//! - [`parse_request`]: a complete request parses the same without what
//!   follows it (pipelining) and however the bytes were split across reads;
//!   an incomplete one never needs more than `MAX_HEAD + MAX_BODY` bytes;
//!   every error has a 4xx/5xx status and a one-line JSON body.
//! - [`parse_payment`]: an accepted amount is within `1..=MAX_CENTS`, and
//!   the body we forward to a processor parses back to the same payment.
//! - [`parse_window`]: a window is all-time or has both bounds inside the
//!   years the formatter can write.
//! - [`parse_iso8601`]: rounding up and down agree on validity and differ by
//!   at most a millisecond; formatting a parsed instant parses back to it.
//! - [`parse_cents`]: the result equals an independent, slow reference
//!   implementation (string arithmetic, round half to even), and
//!   `write_cents` parses back to the same cents.

use rinha::api::payment_body::{self, PaymentError};
use rinha::domain::money::{self, AmountError, MAX_CENTS};
use rinha::domain::payment;
use rinha::domain::summary::{self, Window};
use rinha::domain::time::{self, ISO8601_LEN, Round};
use rinha::http::{self, HttpError, MAX_BODY, MAX_HEAD, Method, Status};

/// The parts of a request the server acts on, owned so that parses of
/// different buffers can be compared.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Parsed {
    method: Method,
    path: Vec<u8>,
    query: Vec<u8>,
    body: Vec<u8>,
    keep_alive: bool,
    len: usize,
}

/// What a connection makes of a byte stream: the requests it answers, then
/// the error that closes it or the partial request left waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Conversation {
    requests: Vec<Parsed>,
    end: Result<usize, HttpError>,
}

fn owned(request: &http::Request<'_>) -> Parsed {
    Parsed {
        method: request.method,
        path: request.path.to_vec(),
        query: request.query.to_vec(),
        body: request.body.to_vec(),
        keep_alive: request.keep_alive,
        len: request.len,
    }
}

/// Feeds `data` to a connection buffer in reads of the given sizes (cycled;
/// the rest in one read at the end) and consumes requests as the server
/// does after every read: parse, answer, drop the request's bytes, repeat.
fn converse(data: &[u8], reads: &[usize]) -> Conversation {
    let mut buffer = Vec::new();
    let mut requests = Vec::new();
    let mut fed = 0;
    let mut turn = 0;
    loop {
        let step = match reads.get(turn % reads.len().max(1)) {
            Some(&size) if turn < 64 => size.max(1),
            _ => data.len() - fed,
        };
        turn += 1;
        let next = (fed + step).min(data.len());
        buffer.extend_from_slice(&data[fed..next]);
        fed = next;
        loop {
            match http::parse_request(&buffer) {
                Ok(Status::Complete(request)) => {
                    assert!(request.len > 0, "a request of no bytes would loop forever");
                    let parsed = owned(&request);
                    buffer.drain(..parsed.len);
                    requests.push(parsed);
                }
                Ok(Status::Partial) => break,
                Err(error) => {
                    return Conversation {
                        requests,
                        end: Err(error),
                    };
                }
            }
        }
        if fed == data.len() {
            return Conversation {
                requests,
                end: Ok(buffer.len()),
            };
        }
    }
}

fn assert_error_is_answerable(error: HttpError) {
    assert!(
        matches!(error.status(), 400 | 413 | 431 | 501),
        "{error:?} has status {}",
        error.status()
    );
    let message = error.message();
    assert!(message.starts_with(r#"{"error":""#) && message.ends_with(r#""}"#));
    assert!(!message.contains('\n'));
}

/// `http::parse_request`: pipelining and partial reads.
///
/// The first byte of `data` (if any) chooses how the rest is split into
/// reads, so the fuzzer explores segmentations too.
pub fn parse_request(data: &[u8]) {
    let (split_seed, data) = match data.split_first() {
        Some((&seed, rest)) => (seed, rest),
        None => (0, data),
    };
    match http::parse_request(data) {
        Ok(Status::Complete(request)) => {
            let first = owned(&request);
            assert!(first.len <= data.len());
            assert!(first.len <= MAX_HEAD + MAX_BODY);
            assert!(first.body.len() <= MAX_BODY);
            // The next pipelined request's bytes do not change this one.
            match http::parse_request(&data[..first.len]) {
                Ok(Status::Complete(alone)) => assert_eq!(owned(&alone), first),
                other => panic!("alone: {other:?}, with what follows: {first:?}"),
            }
            // A strict prefix is "read more", never an error nor a request.
            for cut in [first.len - 1, first.len / 2, first.len - first.body.len()] {
                if cut < first.len {
                    assert_eq!(
                        http::parse_request(&data[..cut]),
                        Ok(Status::Partial),
                        "prefix of {cut} bytes of a {}-byte request",
                        first.len
                    );
                }
            }
        }
        Ok(Status::Partial) => {
            // The server's read buffer is MAX_HEAD + MAX_BODY: a request
            // still partial at that size would wedge the connection.
            assert!(data.len() < MAX_HEAD + MAX_BODY, "{} bytes", data.len());
            if !data.is_empty() {
                let cut = data.len() / 2;
                assert_eq!(http::parse_request(&data[..cut]), Ok(Status::Partial));
            }
        }
        Err(error) => assert_error_is_answerable(error),
    }
    // However the bytes arrive, the connection sees the same conversation.
    let whole = converse(data, &[]);
    let split = usize::from(split_seed % 7) + 1;
    let sizes = [
        vec![1],
        vec![split],
        vec![split * 13, 1, split],
        vec![usize::from(split_seed) + 1, 3],
    ];
    for reads in &sizes {
        assert_eq!(converse(data, reads), whole, "reads of {reads:?}");
    }
}

/// `payment_body::parse_payment`.
pub fn parse_payment(data: &[u8]) {
    match payment_body::parse_payment(data) {
        Ok(parsed) => {
            assert!((1..=MAX_CENTS).contains(&parsed.amount_cents), "{parsed:?}");
            // What the drainer forwards is itself a valid payment body (the
            // extra `requestedAt` is an unknown field to us), with the same
            // meaning.
            let mut forwarded = Vec::new();
            payment::write_payment_json(
                parsed.correlation_id,
                parsed.amount_cents,
                1_752_150_896_000,
                &mut forwarded,
            );
            assert_eq!(payment_body::parse_payment(&forwarded), Ok(parsed));
            // JSON whitespace around the object changes nothing.
            let mut padded = b" \n".to_vec();
            padded.extend_from_slice(data);
            padded.extend_from_slice(b"\t\r");
            assert_eq!(payment_body::parse_payment(&padded), Ok(parsed));
        }
        Err(error) => {
            let message = error.message();
            assert!(message.starts_with(r#"{"error":""#) && message.ends_with(r#""}"#));
            // Bytes after a complete JSON text make it invalid JSON.
            if error != PaymentError::NotJson {
                let mut trailing = data.to_vec();
                trailing.extend_from_slice(b" x");
                assert_eq!(
                    payment_body::parse_payment(&trailing),
                    Err(PaymentError::NotJson)
                );
            }
        }
    }
}

fn first_and_last_instants() -> (i64, i64) {
    let first = time::parse_iso8601(b"0000-01-01T00:00:00.000Z", Round::Down);
    let last = time::parse_iso8601(b"9999-12-31T23:59:59.999Z", Round::Down);
    (first.expect("year 0"), last.expect("year 9999"))
}

/// `summary::parse_window`.
pub fn parse_window(data: &[u8]) {
    let (first, last) = first_and_last_instants();
    // Offsets of up to ±23:59 reach a day beyond the formattable years.
    let slack = 86_400_000;
    match summary::parse_window(data) {
        Ok(window) if window == Window::ALL => {}
        Ok(Window { from_ms, to_ms }) => {
            for bound in [from_ms, to_ms] {
                assert!(
                    (first - slack..=last + slack).contains(&bound),
                    "{bound} ms in {:?}",
                    String::from_utf8_lossy(data)
                );
            }
        }
        Err(error) => {
            let message = error.message();
            assert!(message.starts_with(r#"{"error":""#) && message.ends_with(r#""}"#));
        }
    }
}

/// `time::parse_iso8601`.
pub fn parse_iso8601(data: &[u8]) {
    let down = time::parse_iso8601(data, Round::Down);
    let up = time::parse_iso8601(data, Round::Up);
    match (down, up) {
        (None, None) => {}
        (Some(down), Some(up)) => {
            assert!(
                up == down || up == down + 1,
                "down {down} up {up} for {:?}",
                String::from_utf8_lossy(data)
            );
            let (first, last) = first_and_last_instants();
            if (first..=last).contains(&down) {
                let mut text = [0; ISO8601_LEN];
                time::format_iso8601(down, &mut text);
                for round in [Round::Down, Round::Up] {
                    assert_eq!(time::parse_iso8601(&text, round), Some(down));
                }
            }
        }
        (down, up) => panic!(
            "rounding changes validity: down {down:?} up {up:?} for {:?}",
            String::from_utf8_lossy(data)
        ),
    }
}

/// `money::parse_cents`, against [`reference_cents`].
pub fn parse_cents(data: &[u8]) {
    let got = money::parse_cents(data);
    if let Some(expected) = reference_cents(data) {
        assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(data));
    }
    if let Ok(cents) = got {
        assert!((1..=MAX_CENTS).contains(&cents));
        let mut text = Vec::new();
        money::write_cents(u128::from(cents), &mut text);
        assert_eq!(money::parse_cents(&text), Ok(cents));
    }
}

/// A deliberately naive parse of a JSON number to cents: grammar by hand,
/// then the decimal point moved in a string of digits and the dropped
/// digits rounded half to even. `None` when the exponent is too large to
/// spell out cheaply (the fast implementation is then only checked for not
/// panicking).
pub fn reference_cents(text: &[u8]) -> Option<Result<u64, AmountError>> {
    let not_a_number = Some(Err(AmountError::NotANumber));
    let (negative, rest) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let int_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (int, rest) = rest.split_at(int_len);
    if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
        return not_a_number;
    }
    let (frac, rest) = match rest.strip_prefix(b".") {
        Some(after) => {
            let n = after.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return not_a_number;
            }
            after.split_at(n)
        }
        None => (&rest[..0], rest),
    };
    let exponent: i64 = match rest {
        [] => 0,
        [b'e' | b'E', tail @ ..] => {
            let (sign, digits) = match tail {
                [b'-', d @ ..] => (-1, d),
                [b'+', d @ ..] => (1, d),
                d => (1, d),
            };
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return not_a_number;
            }
            let digits = std::str::from_utf8(digits).ok()?.trim_start_matches('0');
            if digits.len() > 4 {
                return None; // |exponent| ≥ 10 000: too long to spell out
            }
            sign * digits.parse::<i64>().unwrap_or(0)
        }
        _ => return not_a_number,
    };
    if negative {
        return Some(Err(AmountError::NotPositive));
    }
    // value·100 = 0.ALL · 10^point, ALL = int ++ frac.
    let all: Vec<u8> = int.iter().chain(frac).map(|d| d - b'0').collect();
    let point = int.len() as i64 + exponent + 2;
    let digit = |i: i64| -> u8 {
        if i < 0 || i >= all.len() as i64 {
            0
        } else {
            all[i as usize]
        }
    };
    // The integer part, digits 0..point, without leading zeros.
    let mut whole: Vec<u8> = (0..point.max(0)).map(digit).collect();
    let leading = whole.iter().take_while(|&&d| d == 0).count();
    whole.drain(..leading);
    if whole.len() > 17 {
        return Some(Err(AmountError::TooLarge));
    }
    let mut cents = whole.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d));
    let dropped = digit(point);
    let beyond = (point + 1..all.len() as i64).any(|i| digit(i) != 0);
    if dropped > 5 || (dropped == 5 && (beyond || cents % 2 == 1)) {
        cents += 1;
    }
    Some(match cents {
        0 => Err(AmountError::NotPositive),
        c if c > MAX_CENTS => Err(AmountError::TooLarge),
        c => Ok(c),
    })
}

/// A target: takes any bytes, panics when a property fails.
pub type Check = fn(&[u8]);

/// Every target by name, for harnesses that iterate over them.
pub const TARGETS: &[(&str, Check)] = &[
    ("parse_request", parse_request),
    ("parse_payment", parse_payment),
    ("parse_window", parse_window),
    ("parse_iso8601", parse_iso8601),
    ("parse_cents", parse_cents),
];

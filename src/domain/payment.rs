//! The payment a client posts, the body we forward, and the two processors.
//!
//! One job: turn a `POST /payments` body into a [`Payment`] (or a precise,
//! cheap error), and write the JSON the drainer sends to a processor.
//!
//! Decisions worth knowing:
//!
//! - The extractor is a hand-written, validating JSON scanner for exactly one
//!   object: no serde, no allocation, one pass. It validates the *whole* body
//!   (strings, escapes, UTF-8, numbers, nesting, trailing bytes) before
//!   looking at what the fields meant, so the same body always gets the same
//!   answer and invalid JSON is always [`PaymentError::NotJson`].
//! - Unknown fields of any type are skipped; nesting is bounded by
//!   [`MAX_DEPTH`] so a hostile `[[[[…` cannot overflow the stack.
//! - Keys are compared after unescaping, so `"correlation\u0049d"` *is*
//!   `correlationId`, as any JSON parser would see it. Keys are
//!   case-sensitive; `"correlationid"` is an unknown field.
//! - `correlationId` may be any text `uuid` accepts (hyphenated, simple,
//!   braced, URN, either case); we always forward it canonical, lower-case
//!   hyphenated. `amount` must be a JSON number: `"19.90"` (a string) is
//!   [`PaymentError::InvalidAmount`], not a lenient conversion.
//! - A repeated `correlationId` or `amount` is refused
//!   ([`PaymentError::DuplicateField`]) rather than letting the last one win:
//!   parsers disagree on which wins, and money should not depend on that.

use uuid::Uuid;

use crate::domain::money::{self, AmountError};
use crate::domain::time::{self, ISO8601_LEN};

/// One of the two payment processors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Processor {
    /// The cheap one (5 % fee): always preferred.
    Default = 0,
    /// The dear one (15 % fee): only when the default cannot take a payment.
    Fallback = 1,
}

impl Processor {
    /// The processor stored as `index` (its discriminant); `None` for any other value.
    pub fn from_index(index: u64) -> Option<Self> {
        match index {
            0 => Some(Processor::Default),
            1 => Some(Processor::Fallback),
            _ => None,
        }
    }

    /// Its name in the summary JSON: `"default"` or `"fallback"`.
    pub fn name(self) -> &'static str {
        match self {
            Processor::Default => "default",
            Processor::Fallback => "fallback",
        }
    }
}

/// `GET /payments/service-health`'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Health {
    /// The processor's failure flag.
    pub failing: bool,
    /// The processor's configured delay.
    pub min_response_time_ms: u64,
}

/// An accepted payment: who, and how much, in whole cents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payment {
    /// The client's idempotency key; the processors refuse a repeat with 422.
    pub correlation_id: Uuid,
    /// The amount rounded half to even to cents, in `1..=MAX_CENTS`.
    pub amount_cents: u64,
}

/// Why a body is not a payment. Each has a one-line JSON [`message`](Self::message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentError {
    /// Not valid JSON (or nested deeper than [`MAX_DEPTH`]).
    NotJson,
    /// Valid JSON, but not an object.
    NotAnObject,
    /// No `correlationId` field.
    MissingCorrelationId,
    /// `correlationId` is not a string holding a UUID.
    InvalidCorrelationId,
    /// No `amount` field.
    MissingAmount,
    /// `amount` is not a JSON number.
    InvalidAmount,
    /// `amount` is negative, zero, or rounds to 0.00.
    AmountNotPositive,
    /// `amount` is above [`money::MAX_CENTS`].
    AmountTooLarge,
    /// `correlationId` or `amount` appears more than once.
    DuplicateField,
}

impl PaymentError {
    /// The response body for this error: one line of JSON, `{"error":"…"}`.
    pub fn message(self) -> &'static str {
        match self {
            PaymentError::NotJson => r#"{"error":"body must be valid JSON"}"#,
            PaymentError::NotAnObject => r#"{"error":"body must be a JSON object"}"#,
            PaymentError::MissingCorrelationId => r#"{"error":"correlationId is required"}"#,
            PaymentError::InvalidCorrelationId => r#"{"error":"correlationId must be a UUID"}"#,
            PaymentError::MissingAmount => r#"{"error":"amount is required"}"#,
            PaymentError::InvalidAmount => r#"{"error":"amount must be a number"}"#,
            PaymentError::AmountNotPositive => r#"{"error":"amount must be a positive decimal"}"#,
            PaymentError::AmountTooLarge => r#"{"error":"amount is too large"}"#,
            PaymentError::DuplicateField => {
                r#"{"error":"correlationId and amount must appear only once"}"#
            }
        }
    }
}

/// Deepest nesting of objects and arrays accepted, the body's own object
/// included. Bounds the scanner's recursion.
pub const MAX_DEPTH: usize = 32;

/// Length of a UUID in canonical hyphenated form, as we forward it.
pub const UUID_TEXT_LEN: usize = 36;
const _: () = assert!(UUID_TEXT_LEN == uuid::fmt::Hyphenated::LENGTH);

/// The longest text form `uuid` accepts: `urn:uuid:` + 36.
const UUID_MAX_TEXT: usize = uuid::fmt::Urn::LENGTH;

/// Extracts the payment from a `POST /payments` body (see the module doc).
///
/// When several things are wrong, the first of these wins: invalid JSON,
/// not an object, a duplicate field, then `correlationId`'s problem, then
/// `amount`'s.
pub fn parse_payment(body: &[u8]) -> Result<Payment, PaymentError> {
    let mut scanner = Scanner { text: body, pos: 0 };
    scanner.skip_ws();
    if scanner.peek() != Some(b'{') {
        return Err(scanner.classify_non_object());
    }
    let fields = scanner.top_object().ok_or(PaymentError::NotJson)?;
    scanner.skip_ws();
    if !scanner.at_end() {
        return Err(PaymentError::NotJson);
    }
    fields.into_payment()
}

/// Appends the body the drainer posts to a processor:
/// `{"correlationId":"…","amount":19.90,"requestedAt":"2025-07-10T12:34:56.000Z"}`.
pub fn write_payment_json(id: Uuid, cents: u64, requested_at_ms: i64, out: &mut Vec<u8>) {
    let mut uuid_text = [0; UUID_TEXT_LEN];
    let mut time_text = [0; ISO8601_LEN];
    time::format_iso8601(requested_at_ms, &mut time_text);
    out.extend_from_slice(br#"{"correlationId":""#);
    out.extend_from_slice(id.hyphenated().encode_lower(&mut uuid_text).as_bytes());
    out.extend_from_slice(br#"","amount":"#);
    money::write_cents(u128::from(cents), out);
    out.extend_from_slice(br#","requestedAt":""#);
    out.extend_from_slice(&time_text);
    out.extend_from_slice(br#""}"#);
}

/// What the top-level object said about the two fields we care about.
/// Field-level errors wait here until the whole body is known to be JSON.
#[derive(Default)]
struct Fields {
    correlation_id: Option<Result<Uuid, PaymentError>>,
    amount: Option<Result<u64, PaymentError>>,
    duplicate: bool,
}

impl Fields {
    fn set<T>(slot: &mut Option<T>, value: T, duplicate: &mut bool) {
        *duplicate |= slot.is_some();
        *slot = Some(value);
    }

    fn into_payment(self) -> Result<Payment, PaymentError> {
        if self.duplicate {
            return Err(PaymentError::DuplicateField);
        }
        let correlation_id = self
            .correlation_id
            .ok_or(PaymentError::MissingCorrelationId)??;
        let amount_cents = self.amount.ok_or(PaymentError::MissingAmount)??;
        Ok(Payment {
            correlation_id,
            amount_cents,
        })
    }
}

/// The keys the extractor acts on.
enum Key {
    CorrelationId,
    Amount,
    Other,
}

impl Key {
    /// Classifies a key from its raw (still escaped) string content.
    fn of(raw: &[u8]) -> Key {
        if unescaped_eq(raw, b"correlationId") {
            Key::CorrelationId
        } else if unescaped_eq(raw, b"amount") {
            Key::Amount
        } else {
            Key::Other
        }
    }
}

/// A cursor over the body. Every scanning method returns `None` on a syntax
/// error, leaving `pos` wherever it stopped (the caller gives up).
struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.bump()? == byte).then_some(())
    }

    /// JSON whitespace is exactly space, tab, LF and CR.
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A body that does not start with `{`: still JSON, or not at all?
    fn classify_non_object(&mut self) -> PaymentError {
        let valid = self.skip_value(0).is_some() && {
            self.skip_ws();
            self.at_end()
        };
        if valid {
            PaymentError::NotAnObject
        } else {
            PaymentError::NotJson
        }
    }

    /// The body's object: acts on our two keys, skips every other member.
    fn top_object(&mut self) -> Option<Fields> {
        let mut fields = Fields::default();
        self.members(|scanner, key| {
            match Key::of(key) {
                Key::CorrelationId => {
                    let value = scanner.correlation_id_value()?;
                    Fields::set(&mut fields.correlation_id, value, &mut fields.duplicate);
                }
                Key::Amount => {
                    let value = scanner.amount_value()?;
                    Fields::set(&mut fields.amount, value, &mut fields.duplicate);
                }
                Key::Other => scanner.skip_value(1)?,
            }
            Some(())
        })?;
        Some(fields)
    }

    /// `{ "key": value, … }`, calling `member` with the cursor on each value
    /// (after the colon and whitespace); `member` must consume that value.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            member(self, key)?;
            self.skip_ws();
            match self.bump()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// `correlationId`'s value: a syntax error is `None`, a JSON value that
    /// is not a UUID string is `Some(Err(..))`.
    fn correlation_id_value(&mut self) -> Option<Result<Uuid, PaymentError>> {
        if self.peek() != Some(b'"') {
            self.skip_value(1)?;
            return Some(Err(PaymentError::InvalidCorrelationId));
        }
        let raw = self.string()?;
        Some(parse_uuid(raw).ok_or(PaymentError::InvalidCorrelationId))
    }

    /// `amount`'s value: a syntax error is `None`, a JSON value that is not
    /// an acceptable number is `Some(Err(..))`.
    fn amount_value(&mut self) -> Option<Result<u64, PaymentError>> {
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            self.skip_value(1)?;
            return Some(Err(PaymentError::InvalidAmount));
        }
        match money::parse_cents(self.number_text()) {
            Ok(cents) => Some(Ok(cents)),
            Err(AmountError::NotANumber) => None,
            Err(AmountError::NotPositive) => Some(Err(PaymentError::AmountNotPositive)),
            Err(AmountError::TooLarge) => Some(Err(PaymentError::AmountTooLarge)),
        }
    }

    /// Skips one JSON value that sits inside `depth` open containers.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' | b'[' if depth >= MAX_DEPTH => None,
            b'{' => self.members(|scanner, _| scanner.skip_value(depth + 1)),
            b'[' => self.skip_array(depth + 1),
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => is_number(self.number_text()).then_some(()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => None,
        }
    }

    /// `[ value, … ]` whose elements sit inside `depth` containers.
    fn skip_array(&mut self, depth: usize) -> Option<()> {
        self.expect(b'[')?;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.skip_ws();
            self.skip_value(depth)?;
            self.skip_ws();
            match self.bump()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.text.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// The longest run of bytes a number can contain. JSON requires a
    /// delimiter after a number, so the run is the whole token; whether it
    /// is a *valid* number is for [`money::parse_cents`] to say.
    fn number_text(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// A string token: returns its raw content between the quotes, escapes
    /// still escaped, after checking escapes, control characters and UTF-8.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            match self.bump()? {
                b'"' => break,
                b'\\' => self.escape()?,
                0x00..=0x1f => return None,
                _ => {}
            }
        }
        let raw = &self.text[start..self.pos - 1];
        std::str::from_utf8(raw).ok()?;
        Some(raw)
    }

    /// The rest of an escape, after its backslash.
    fn escape(&mut self) -> Option<()> {
        match self.bump()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                for _ in 0..4 {
                    self.bump().filter(u8::is_ascii_hexdigit)?;
                }
                Some(())
            }
            _ => None,
        }
    }
}

/// Whether a number token is valid JSON (its value is irrelevant here).
fn is_number(text: &[u8]) -> bool {
    money::parse_cents(text) != Err(AmountError::NotANumber)
}

/// The UUID in a string's raw content, unescaping into a stack buffer.
fn parse_uuid(raw: &[u8]) -> Option<Uuid> {
    let mut text = [0u8; UUID_MAX_TEXT];
    let mut len = 0;
    for unit in (Unescaped { raw }) {
        let slot = text.get_mut(len)?;
        *slot = u8::try_from(unit).ok().filter(u8::is_ascii)?;
        len += 1;
    }
    Uuid::try_parse_ascii(&text[..len]).ok()
}

/// Whether a string's raw content, unescaped, is exactly `ascii`.
fn unescaped_eq(raw: &[u8], ascii: &[u8]) -> bool {
    Unescaped { raw }.eq(ascii.iter().map(|&b| u32::from(b)))
}

/// The content of an already validated JSON string, unescaped: plain bytes
/// as themselves (UTF-8 bytes ≥ 0x80 stay single units), escapes as their
/// UTF-16 code unit. Surrogate pairs are not combined; that only matters for
/// non-ASCII text, which never equals anything we compare with.
struct Unescaped<'a> {
    raw: &'a [u8],
}

impl Iterator for Unescaped<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (&first, rest) = self.raw.split_first()?;
        if first != b'\\' {
            self.raw = rest;
            return Some(u32::from(first));
        }
        let (unit, tail) = match rest {
            [b'u', a, b, c, d, tail @ ..] => {
                ([a, b, c, d].iter().fold(0, |n, &&h| n * 16 + hex(h)), tail)
            }
            [escaped, tail @ ..] => (u32::from(unescape_char(*escaped)), tail),
            [] => return None,
        };
        self.raw = tail;
        Some(unit)
    }
}

fn hex(digit: u8) -> u32 {
    // Validated by the scanner, so `to_digit` always succeeds.
    char::from(digit).to_digit(16).unwrap_or(0)
}

fn unescape_char(escaped: u8) -> u8 {
    match escaped {
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        other => other, // '"', '\\' and '/' stand for themselves
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentError::*;

    const ID: &str = "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3";

    fn payment(cents: u64) -> Result<Payment, PaymentError> {
        Ok(Payment {
            correlation_id: Uuid::parse_str(ID).unwrap(),
            amount_cents: cents,
        })
    }

    #[test]
    fn extracts_valid_payments() {
        let cases: &[(&str, u64)] = &[
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90}"#,
                1990,
            ),
            (
                r#"{"amount":19.90,"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"}"#,
                1990,
            ),
            (
                " \t\r\n{ \"correlationId\" :\n\"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3\" ,\t\"amount\"\r:\n19.9 } \n",
                1990,
            ),
            (
                r#"{"correlationId":"4A7901B8-7D26-4D9D-AA19-4DC1C7CF60B3","amount":1}"#,
                100,
            ),
            (
                r#"{"correlationId":"4a7901b87d264d9daa194dc1c7cf60b3","amount":1}"#,
                100,
            ),
            (
                r#"{"correlationId":"{4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3}","amount":1}"#,
                100,
            ),
            (
                r#"{"correlationId":"urn:uuid:4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1}"#,
                100,
            ),
            (
                r#"{"correlationId":"\u0034a7901b8-7d26-4d9d-aa19-4dc1c7cf60b\u0033","amount":1}"#,
                100,
            ),
            (
                r#"{"correlation\u0049d":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","\u0061mount":1}"#,
                100,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1.99E+1}"#,
                1990,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":0.125}"#,
                12,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":0.135}"#,
                14,
            ),
            (
                r#"{"x":{"a":[1,-2.5e-3,true,false,null,{"b":[]},"s"]},"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","y":[],"amount":19.90,"z":{}}"#,
                1990,
            ),
            (
                r#"{"note":"quote \" backslash \\ slash \/ \b\f\n\r\t \u0022amount\u0022: 5 é 😀","correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90}"#,
                1990,
            ),
            (
                r#"{"Amount":"x","correlationid":5,"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90,"Amount":"again"}"#,
                1990,
            ),
            (
                r#"{"requestedAt":"2025-07-10T12:34:56.000Z","correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90}"#,
                1990,
            ),
        ];
        for &(body, cents) in cases {
            assert_eq!(parse_payment(body.as_bytes()), payment(cents), "{body}");
        }
    }

    #[test]
    fn reports_what_is_wrong() {
        let cases: &[(&str, PaymentError)] = &[
            ("", NotJson),
            ("   ", NotJson),
            ("{", NotJson),
            ("}", NotJson),
            ("{}}", NotJson),
            ("{} {}", NotJson),
            (r#"{"amount":19.90,}"#, NotJson),
            (r#"{,"amount":19.90}"#, NotJson),
            (r#"{"amount" 19.90}"#, NotJson),
            (r#"{"amount":19.90 "correlationId":"x"}"#, NotJson),
            (r#"{amount:19.90}"#, NotJson),
            (r#"{'amount':19.90}"#, NotJson),
            (r#"{"amount":01}"#, NotJson),
            (r#"{"amount":1.}"#, NotJson),
            (r#"{"amount":.5}"#, NotJson),
            (r#"{"amount":+1}"#, NotJson),
            (r#"{"amount":1-2}"#, NotJson),
            (r#"{"amount":NaN}"#, NotJson),
            (r#"{"amount":tru}"#, NotJson),
            (r#"{"amount":True}"#, NotJson),
            (r#"{"x":nul,"amount":1}"#, NotJson),
            (r#"{"x":[1,],"amount":1}"#, NotJson),
            (r#"{"x":[1 2],"amount":1}"#, NotJson),
            (r#"{"x":{"a"},"amount":1}"#, NotJson),
            (r#"{"x":"\x","amount":1}"#, NotJson),
            (r#"{"x":"\u12G4","amount":1}"#, NotJson),
            (r#"{"x":"\u12","amount":1}"#, NotJson),
            ("{\"x\":\"tab\tinside\",\"amount\":1}", NotJson),
            ("{\"x\":\"unterminated}", NotJson),
            (r#"{"x":01,"amount":1}"#, NotJson),
            (r#"{"x":1e,"amount":1}"#, NotJson),
            ("\u{feff}{}", NotJson),
            ("{\"amount\":1}\0", NotJson),
            (r#"{"amount":19.90}garbage"#, NotJson),
            // Invalid JSON wins over field errors that come before it.
            (r#"{"correlationId":5,"amount":"x","oops"}"#, NotJson),
            (r#"{"amount":1,"amount":2,"#, NotJson),
            ("[]", NotAnObject),
            (r#"["correlationId","amount"]"#, NotAnObject),
            ("\"{}\"", NotAnObject),
            ("19.90", NotAnObject),
            (" null ", NotAnObject),
            ("true", NotAnObject),
            ("{}", MissingCorrelationId),
            (r#"{"amount":19.90}"#, MissingCorrelationId),
            (
                r#"{"correlationid":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1}"#,
                MissingCorrelationId,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"}"#,
                MissingAmount,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","Amount":1}"#,
                MissingAmount,
            ),
            (
                r#"{"correlationId":"not-a-uuid","amount":1}"#,
                InvalidCorrelationId,
            ),
            (r#"{"correlationId":"","amount":1}"#, InvalidCorrelationId),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b","amount":1}"#,
                InvalidCorrelationId,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3 ","amount":1}"#,
                InvalidCorrelationId,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60bz","amount":1}"#,
                InvalidCorrelationId,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3-4a7901b8-7d26","amount":1}"#,
                InvalidCorrelationId,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b\u00e9","amount":1}"#,
                InvalidCorrelationId,
            ),
            (r#"{"correlationId":5,"amount":1}"#, InvalidCorrelationId),
            (r#"{"correlationId":null,"amount":1}"#, InvalidCorrelationId),
            (
                r#"{"correlationId":["4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"],"amount":1}"#,
                InvalidCorrelationId,
            ),
            (r#"{"correlationId":{},"amount":1}"#, InvalidCorrelationId),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":"19.90"}"#,
                InvalidAmount,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":true}"#,
                InvalidAmount,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":null}"#,
                InvalidAmount,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":[19.90]}"#,
                InvalidAmount,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":{"v":1}}"#,
                InvalidAmount,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":0}"#,
                AmountNotPositive,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":-19.90}"#,
                AmountNotPositive,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":0.004}"#,
                AmountNotPositive,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1e14}"#,
                AmountTooLarge,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1,"amount":1}"#,
                DuplicateField,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1}"#,
                DuplicateField,
            ),
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1,"\u0061mount":2}"#,
                DuplicateField,
            ),
            // Missing and invalid fields are reported correlationId first.
            (
                r#"{"correlationId":"x","amount":"x"}"#,
                InvalidCorrelationId,
            ),
            (r#"{"amount":"x"}"#, MissingCorrelationId),
        ];
        for &(body, expected) in cases {
            assert_eq!(parse_payment(body.as_bytes()), Err(expected), "{body}");
        }
    }

    #[test]
    fn survives_truncation_and_corruption() {
        let body = br#"{"x":[{"y":"\u0022"},-1.5e3,null],"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90}"#;
        for len in 0..body.len() {
            assert_eq!(parse_payment(&body[..len]), Err(NotJson), "prefix {len}");
        }
        // Every single-byte substitution: any answer but a panic, and any
        // payment still has an amount in range.
        for at in 0..body.len() {
            for byte in [
                b'"', b'\\', b'{', b'}', b'[', b',', b':', b'0', b'e', b' ', 0x00, 0x80,
            ] {
                let mut corrupt = body.to_vec();
                corrupt[at] = byte;
                if let Ok(p) = parse_payment(&corrupt) {
                    assert!(p.amount_cents > 0 && p.amount_cents <= money::MAX_CENTS);
                }
            }
        }
    }

    #[test]
    fn refuses_invalid_utf8_in_strings() {
        let mut body = br#"{"x":""#.to_vec();
        body.extend_from_slice(&[0xff, 0xfe]);
        body.extend_from_slice(
            br#"","correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1}"#,
        );
        assert_eq!(parse_payment(&body), Err(NotJson));
    }

    fn nested(depth: usize) -> String {
        format!(
            r#"{{"x":{}{},"correlationId":"{ID}","amount":1}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    }

    #[test]
    fn bounds_nesting_depth() {
        // The body's own object is one level; `depth` arrays sit inside it.
        assert_eq!(
            parse_payment(nested(MAX_DEPTH - 1).as_bytes()),
            payment(100)
        );
        assert_eq!(parse_payment(nested(MAX_DEPTH).as_bytes()), Err(NotJson));
        let mixed = format!(
            r#"{{"x":{}1{},"correlationId":"{ID}","amount":1}}"#,
            r#"{"a":["#.repeat(15),
            "]}".repeat(15)
        );
        assert_eq!(parse_payment(mixed.as_bytes()), payment(100));
        // Hostile input: no stack overflow, just an error.
        assert_eq!(parse_payment(nested(1_000_000).as_bytes()), Err(NotJson));
        assert_eq!(
            parse_payment("[".repeat(1_000_000).as_bytes()),
            Err(NotJson)
        );
        assert_eq!(
            parse_payment(r#"{"a":"#.repeat(100_000).as_bytes()),
            Err(NotJson)
        );
    }

    #[test]
    fn messages_are_one_line_json() {
        let all = [
            NotJson,
            NotAnObject,
            MissingCorrelationId,
            InvalidCorrelationId,
            MissingAmount,
            InvalidAmount,
            AmountNotPositive,
            AmountTooLarge,
            DuplicateField,
        ];
        for error in all {
            let message = error.message();
            assert!(
                message.starts_with(r#"{"error":""#) && message.ends_with(r#""}"#),
                "{message}"
            );
            assert!(!message.contains('\n'));
            // The message is itself a valid JSON object (and not a payment).
            assert_eq!(
                parse_payment(message.as_bytes()),
                Err(MissingCorrelationId),
                "{message}"
            );
        }
        assert_eq!(
            InvalidCorrelationId.message(),
            r#"{"error":"correlationId must be a UUID"}"#
        );
    }

    #[test]
    fn writes_the_processor_body() {
        let cases: &[(u64, i64, &str)] = &[
            (
                1990,
                1_752_150_896_000,
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90,"requestedAt":"2025-07-10T12:34:56.000Z"}"#,
            ),
            (
                5,
                1_594_384_496_007,
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":0.05,"requestedAt":"2020-07-10T12:34:56.007Z"}"#,
            ),
        ];
        let id = Uuid::parse_str(&ID.to_uppercase()).unwrap();
        for &(cents, ms, expected) in cases {
            let mut out = b"prefix".to_vec();
            write_payment_json(id, cents, ms, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), format!("prefix{expected}"));
        }
    }

    #[test]
    fn written_body_parses_back() {
        let id = Uuid::parse_str(ID).unwrap();
        for cents in [1, 99, 1990, 123_456_789, money::MAX_CENTS] {
            let mut out = Vec::new();
            write_payment_json(id, cents, 1_752_150_896_123, &mut out);
            assert_eq!(
                parse_payment(&out),
                Ok(Payment {
                    correlation_id: id,
                    amount_cents: cents
                })
            );
        }
    }

    #[test]
    fn processors_round_trip_through_their_index() {
        let cases = [
            (0, Some(Processor::Default), "default"),
            (1, Some(Processor::Fallback), "fallback"),
        ];
        for (index, processor, name) in cases {
            assert_eq!(Processor::from_index(index), processor);
            assert_eq!(processor.map(Processor::name), Some(name));
            assert_eq!(processor.map(|p| p as u64), Some(index));
        }
        for index in [2, 255, u64::MAX] {
            assert_eq!(Processor::from_index(index), None);
        }
    }
}

//! The `POST /payments` body: from bytes to a [`Payment`] or a precise,
//! cheap error.
//!
//! Decisions worth knowing:
//!
//! - The crate's JSON scanner ([`crate::json`]) validates the *whole* body
//!   (strings, escapes, UTF-8, numbers, nesting, trailing bytes) before we
//!   look at what the fields meant, so the same body always gets the same
//!   answer and invalid JSON is always [`PaymentError::NotJson`]. No serde,
//!   no allocation, one pass.
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
use crate::domain::payment::Payment;
use crate::json::{self, JsonError, Value};

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
/// included. Bounds the scanner's recursion on a connection's stack.
pub const MAX_DEPTH: usize = 32;

/// The longest text form `uuid` accepts: `urn:uuid:` + 36.
const UUID_MAX_TEXT: usize = uuid::fmt::Urn::LENGTH;

/// Extracts the payment from a `POST /payments` body (see the module doc).
///
/// When several things are wrong, the first of these wins: invalid JSON,
/// not an object, a duplicate field, then `correlationId`'s problem, then
/// `amount`'s.
pub fn parse_payment(body: &[u8]) -> Result<Payment, PaymentError> {
    let named =
        json::named_fields(body, MAX_DEPTH, ["correlationId", "amount"]).map_err(|error| {
            match error {
                JsonError::Invalid => PaymentError::NotJson,
                JsonError::NotAnObject => PaymentError::NotAnObject,
            }
        })?;
    if named.repeated {
        return Err(PaymentError::DuplicateField);
    }
    let [correlation_id, amount] = named.values;
    Ok(Payment {
        correlation_id: uuid_of(correlation_id.ok_or(PaymentError::MissingCorrelationId)?)?,
        amount_cents: cents_of(amount.ok_or(PaymentError::MissingAmount)?)?,
    })
}

/// `correlationId`'s value: a string holding a UUID, escapes allowed.
fn uuid_of(value: Value<'_>) -> Result<Uuid, PaymentError> {
    let Value::Str(text) = value else {
        return Err(PaymentError::InvalidCorrelationId);
    };
    let mut buffer = [0; UUID_MAX_TEXT];
    text.unescape_ascii(&mut buffer)
        .and_then(|ascii| Uuid::try_parse_ascii(ascii).ok())
        .ok_or(PaymentError::InvalidCorrelationId)
}

/// `amount`'s value: a JSON number, in range once rounded to cents.
fn cents_of(value: Value<'_>) -> Result<u64, PaymentError> {
    let Value::Number(text) = value else {
        return Err(PaymentError::InvalidAmount);
    };
    money::parse_cents(text).map_err(|error| match error {
        // Unreachable: the scanner checked the same RFC 8259 grammar.
        AmountError::NotANumber => PaymentError::NotJson,
        AmountError::NotPositive => PaymentError::AmountNotPositive,
        AmountError::TooLarge => PaymentError::AmountTooLarge,
    })
}

#[cfg(test)]
mod tests;

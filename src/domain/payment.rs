//! The payment a client posts, the body we forward, and the two processors.
//!
//! One job: the contest's payment vocabulary. Parsing a client's body is the
//! API's business (`api::payment_body`); writing the JSON the drainer sends
//! to a processor is here, since it is all the processors ever receive.

use uuid::Uuid;

use crate::domain::money;
use crate::domain::time::{self, ISO8601_LEN};

/// One of the two payment processors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Processor {
    /// The cheap one (the lower fee: 5 % in the preview, 7 % in the final):
    /// preferred whenever it can store a payment safely.
    Default = 0,
    /// The dear one (15 % in the preview, 10 % in the final): only when the
    /// default cannot take a payment soon enough.
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

/// Length of a UUID in canonical hyphenated form, as we forward it.
pub const UUID_TEXT_LEN: usize = 36;
const _: () = assert!(UUID_TEXT_LEN == uuid::fmt::Hyphenated::LENGTH);

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

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3";

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

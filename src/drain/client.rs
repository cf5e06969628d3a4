//! What each answer of a payment processor means for the money, and the
//! blocking client of its health endpoint.
//!
//! Every answer is mapped to an [`Outcome`] that the drainer can act on
//! without re-reading HTTP: the distinction that matters is between
//! answers that *prove* the payment was or was not stored by this request
//! (200, 422, 500, 429) and those that prove nothing (a timeout, a reset, a
//! garbled response), after which the processor may still store it.
//!
//! Payments and lookups go out on the drainer's non-blocking pool
//! ([`crate::drain::pool`]); the health endpoint, called once per 5 s, has
//! this small ureq client on a thread of its own.

use std::time::Duration;

use ureq::Agent;

use crate::domain::money;
use crate::domain::payment::Health;
use crate::domain::time::{self, Round};
use crate::json::{self, Value};

/// What a `POST /payments` achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200: stored now, with the `requestedAt` we sent.
    Stored,
    /// 422: a payment with this correlation id was already stored.
    AlreadyStored,
    /// 5xx or 429: this request stored nothing.
    Refused,
    /// Any other status (a 3xx, a 4xx but 422): this request was refused,
    /// not performed (see `fate` for 408 and 425, which prove nothing).
    Rejected(u16),
    /// No answer that proves anything: the processor may still store it.
    Unknown,
}

/// What `GET /payments/{id}` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Stored with this `requestedAt` and amount.
    Found {
        /// The stored `requestedAt`, ms since the epoch.
        requested_at_ms: i64,
        /// The stored amount, in cents.
        amount_cents: u64,
    },
    /// 404: not stored (yet).
    NotFound,
    /// No usable answer.
    Unknown,
}

/// A blocking client for one processor's health endpoint.
pub struct HealthClient {
    agent: Agent,
    /// `<base URL>/payments/service-health`.
    url: String,
}

/// Responses we read are a few dozen bytes; anything longer is not a processor.
const MAX_RESPONSE: u64 = 4 * 1024;

/// A processor on the same network accepts at once or not at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

impl HealthClient {
    /// A client for the processor at `base_url` (e.g.
    /// `http://payment-processor-default:8080`), each call bounded by
    /// `timeout`. The name is resolved on every call (once per 5 s): a
    /// restarted processor container may have a new address.
    pub fn new(base_url: &str, timeout: Duration) -> HealthClient {
        let agent: Agent = Agent::config_builder()
            .timeout_connect(Some(timeout.min(CONNECT_TIMEOUT)))
            .timeout_send_request(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_recv_body(Some(timeout))
            .http_status_as_error(false)
            .max_idle_connections(1)
            .proxy(None)
            .build()
            .into();
        let base = base_url.trim_end_matches('/');
        HealthClient {
            agent,
            url: format!("{base}/payments/service-health"),
        }
    }

    /// Asks for the processor's health; `None` if the answer has no
    /// `failing` and `minResponseTime`. The status is not looked at: a
    /// processor may say how it is doing in a 5xx answer too, and a 429's
    /// body (`Calm down`) simply lacks the fields.
    pub fn health(&self) -> Option<Health> {
        let (_status, body) = self.get(&self.url)?;
        parse_health_body(&body)
    }

    fn get(&self, url: &str) -> Option<(u16, Vec<u8>)> {
        let mut response = self.agent.get(url).call().ok()?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .ok()?;
        Some((status, body))
    }
}

/// What the status of an answer to `POST /payments` proves.
pub fn outcome_of(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Stored,
        422 => Outcome::AlreadyStored,
        429 | 500..=599 => Outcome::Refused,
        other => Outcome::Rejected(other),
    }
}

/// What an answer to `GET /payments/{id}` says was stored.
pub fn lookup_of(status: u16, body: &[u8]) -> Lookup {
    match status {
        200 => parse_lookup_body(body),
        404 => Lookup::NotFound,
        _ => Lookup::Unknown,
    }
}

/// Nesting accepted in a processor's answer, its object included. The
/// answers we read are flat; the room is for fields a processor may add.
const MAX_DEPTH: usize = 8;

/// What a 200 answer to `GET /payments/{id}` says was stored:
/// `{"correlationId":…,"amount":19.9,"requestedAt":"2025-07-15T12:34:56.000Z"}`.
/// [`Lookup::Unknown`] unless the body is one JSON object with a plain
/// ISO-8601 `requestedAt` string and an `amount` number in range, each once.
pub fn parse_lookup_body(body: &[u8]) -> Lookup {
    let found = match unique_fields(body, ["requestedAt", "amount"]) {
        Some([Some(Value::Str(requested_at)), Some(Value::Number(amount))]) => {
            let requested_at_ms = match requested_at.escaped {
                false => time::parse_iso8601(requested_at.raw, Round::Down),
                true => None,
            };
            requested_at_ms.zip(money::parse_cents(amount).ok())
        }
        _ => None,
    };
    match found {
        Some((requested_at_ms, amount_cents)) => Lookup::Found {
            requested_at_ms,
            amount_cents,
        },
        None => Lookup::Unknown,
    }
}

/// What a 200 answer to `GET /payments/service-health` says:
/// `{"failing":false,"minResponseTime":100}`; `None` unless the body is one
/// JSON object with a boolean `failing` and a whole-number
/// `minResponseTime`, each once.
pub fn parse_health_body(body: &[u8]) -> Option<Health> {
    let [Some(Value::Bool(failing)), Some(Value::Number(ms))] =
        unique_fields(body, ["failing", "minResponseTime"])?
    else {
        return None;
    };
    let min_response_time_ms = std::str::from_utf8(ms).ok()?.parse().ok()?;
    Some(Health {
        failing,
        min_response_time_ms,
    })
}

/// The top-level fields named in `names`, in that order (`None` for an
/// absent one). `None` when the body is not one JSON object, or when a named
/// field repeats: an answer that reads two ways about money or health is no
/// answer, whichever occurrence another parser would pick.
fn unique_fields<'a, const N: usize>(
    body: &'a [u8],
    names: [&str; N],
) -> Option<[Option<Value<'a>>; N]> {
    let named = json::named_fields(body, MAX_DEPTH, names).ok()?;
    (!named.repeated).then_some(named.values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_answers_are_read_only_when_unambiguous() {
        let found = Lookup::Found {
            requested_at_ms: 1_752_582_896_000,
            amount_cents: 1990,
        };
        let cases: &[(&str, Lookup)] = &[
            (
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3", "amount" : 19.9,"requestedAt":"2025-07-15T12:34:56.000Z"}"#,
                found,
            ),
            // Only top-level fields count: a substring search would take
            // the nested amount, which comes first.
            (
                r#"{"requestedAt":"2025-07-15T12:34:56.000Z","extra":{"amount":1},"amount":19.90}"#,
                found,
            ),
            (r#"{"amount":19.9}"#, Lookup::Unknown),
            (
                r#"{"requestedAt":"2025-07-15T12:34:56.000Z"}"#,
                Lookup::Unknown,
            ),
            (
                r#"{"requestedAt":"2025-07-15T12:34:56.000Z","amount":"19.9"}"#,
                Lookup::Unknown,
            ),
            (
                r#"{"requestedAt":"2025-07-15T12:34:56.000Z","amount":19.9,"amount":1}"#,
                Lookup::Unknown,
            ),
            (
                r#"{"requestedAt":"2025-07-15T12:34:56.000Z","amount":19.9"#,
                Lookup::Unknown,
            ),
            (
                r#"{"requestedAt":"yesterday","amount":19.9}"#,
                Lookup::Unknown,
            ),
        ];
        for &(body, expected) in cases {
            assert_eq!(parse_lookup_body(body.as_bytes()), expected, "{body}");
        }
    }

    #[test]
    fn health_answers_are_read_only_when_unambiguous() {
        let cases: &[(&str, Option<Health>)] = &[
            (
                r#"{"failing":true,"minResponseTime":100}"#,
                Some(Health {
                    failing: true,
                    min_response_time_ms: 100,
                }),
            ),
            (
                r#" {"minResponseTime":0, "failing":false} "#,
                Some(Health {
                    failing: false,
                    min_response_time_ms: 0,
                }),
            ),
            (r#"{"failing":"true","minResponseTime":100}"#, None),
            (r#"{"failing":false,"minResponseTime":1.5}"#, None),
            (r#"{"failing":false,"minResponseTime":-1}"#, None),
            (r#"{"failing":false}"#, None),
            (
                r#"{"failing":false,"failing":true,"minResponseTime":0}"#,
                None,
            ),
            (r#"{"failing":false,"minResponseTime":0"#, None),
        ];
        for &(body, expected) in cases {
            assert_eq!(parse_health_body(body.as_bytes()), expected, "{body}");
        }
    }

    #[test]
    fn statuses_prove_what_they_prove() {
        for (status, outcome) in [
            (200, Outcome::Stored),
            (201, Outcome::Stored),
            (422, Outcome::AlreadyStored),
            (429, Outcome::Refused),
            (500, Outcome::Refused),
            (503, Outcome::Refused),
            (400, Outcome::Rejected(400)),
            (408, Outcome::Rejected(408)),
        ] {
            assert_eq!(outcome_of(status), outcome, "{status}");
        }
        assert_eq!(lookup_of(404, b""), Lookup::NotFound);
        assert_eq!(lookup_of(500, b"{}"), Lookup::Unknown);
    }

    #[test]
    fn a_processor_that_is_not_there_has_no_health() {
        // Port 9 on loopback: nothing listens, the connection is refused.
        let client = HealthClient::new("http://127.0.0.1:9", Duration::from_millis(300));
        assert_eq!(client.health(), None);
    }

    /// A listener on loopback that answers each connection with the next
    /// of `responses`, raw bytes, then closes it.
    fn answering(responses: &'static [&'static str]) -> String {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for response in responses {
                let (mut stream, _) = listener.accept().unwrap();
                let mut head = [0u8; 1024];
                let _ = std::io::Read::read(&mut stream, &mut head);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        format!("http://{address}")
    }

    #[test]
    fn health_is_read_from_the_body_whatever_the_status() {
        let url = answering(&[
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 38\r\nConnection: close\r\n\r\n\
             {\"failing\":true,\"minResponseTime\":100}",
            "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 27\r\nConnection: close\r\n\r\n\
             Calm down. Try again later.",
        ]);
        let client = HealthClient::new(&url, Duration::from_secs(2));
        let health = client.health().expect("the 503's body is read");
        assert!(health.failing);
        assert_eq!(health.min_response_time_ms, 100);
        assert_eq!(client.health(), None, "a 429 has no fields");
    }
}

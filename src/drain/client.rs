//! The drainer's HTTP calls to one payment processor, and what each answer
//! means for the money.
//!
//! Every answer is mapped to an [`Outcome`] that the drainer can act on
//! without re-reading HTTP: the distinction that matters is between
//! answers that *prove* the payment was or was not stored by this request
//! (200, 422, 500, 429) and those that prove nothing (a timeout, a reset, a
//! garbled response), after which the processor may still store it.

use std::io::Read;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ureq::Agent;
use uuid::Uuid;

use crate::domain::money;
use crate::domain::payment::{Health, write_payment_json};
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
    /// Another 4xx: the processor will never take this payment as sent.
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

/// A keep-alive client for one processor, shared by the drainer's workers.
pub struct ProcessorClient {
    agent: Agent,
    /// The configured base URL, e.g. `http://payment-processor-default:8080`.
    base_url: String,
    /// The URLs in use, with the host resolved; replaced when a connection
    /// fails, since a restarted processor container may have a new address.
    urls: RwLock<Arc<Urls>>,
}

/// The processor's URLs with its host resolved to an address.
struct Urls {
    payments: String,
    health: String,
}

impl Urls {
    fn resolve(base_url: &str) -> Urls {
        let base = resolve_once(base_url);
        Urls {
            payments: format!("{base}/payments"),
            health: format!("{base}/payments/service-health"),
        }
    }
}

/// Responses we read are a few dozen bytes; anything longer is not a processor.
const MAX_RESPONSE: u64 = 4 * 1024;

/// A processor on the same network accepts at once or not at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

impl ProcessorClient {
    /// A client for the processor at `base_url` (e.g.
    /// `http://payment-processor-default:8080`) keeping up to `connections`
    /// idle connections, each call bounded by `timeout`.
    ///
    /// Two choices keep a call cheap (about 140 µs of CPU each without
    /// them, measured with `strace -c` on a draining leader): the timeout
    /// is set per phase rather than globally, because ureq resolves the
    /// host on *every* call and, under a global or per-call timeout, does
    /// so on a freshly spawned thread; and the host is resolved once, here,
    /// so those per-call resolutions are of an IP literal and never reach
    /// DNS. If the name does not resolve yet (a processor still starting),
    /// the name is kept and resolved per call instead; and after a failed
    /// connection it is resolved again (a restarted container may have a
    /// new address).
    pub fn new(base_url: &str, connections: usize, timeout: Duration) -> ProcessorClient {
        let agent: Agent = Agent::config_builder()
            .timeout_connect(Some(timeout.min(CONNECT_TIMEOUT)))
            .timeout_send_request(Some(timeout))
            .timeout_send_body(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_recv_body(Some(timeout))
            .http_status_as_error(false)
            .max_idle_connections(connections)
            .max_idle_connections_per_host(connections)
            .max_idle_age(Duration::from_secs(300))
            .proxy(None)
            .build()
            .into();
        let base_url = base_url.trim_end_matches('/').to_string();
        ProcessorClient {
            agent,
            urls: RwLock::new(Arc::new(Urls::resolve(&base_url))),
            base_url,
        }
    }

    fn urls(&self) -> Arc<Urls> {
        // A poisoned lock still holds a valid value: it is only ever replaced whole.
        self.urls.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Resolves the host again after a connection could not be made.
    fn re_resolve(&self) {
        let fresh = Arc::new(Urls::resolve(&self.base_url));
        *self.urls.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }

    /// Sends one payment stamped `requested_at_ms`. `body` is scratch space.
    pub fn pay(&self, id: Uuid, cents: u64, requested_at_ms: i64, body: &mut Vec<u8>) -> Outcome {
        body.clear();
        write_payment_json(id, cents, requested_at_ms, body);
        let sent = self
            .agent
            .post(&self.urls().payments)
            .header("Content-Type", "application/json")
            .send(&body[..]);
        let mut response = match sent {
            Ok(response) => response,
            Err(error) if never_sent(&error) => {
                self.re_resolve();
                return Outcome::Refused;
            }
            Err(_) => return Outcome::Unknown,
        };
        let status = response.status().as_u16();
        // Drain the body so the connection goes back to the pool; if that
        // fails the status line still counts: the processor has decided.
        let _ = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .reader()
            .read_to_end(body);
        match status {
            200..=299 => Outcome::Stored,
            422 => Outcome::AlreadyStored,
            429 | 500..=599 => Outcome::Refused,
            other => Outcome::Rejected(other),
        }
    }

    /// Reads what the processor stored under `id`.
    pub fn lookup(&self, id: Uuid) -> Lookup {
        let urls = self.urls();
        let mut url = String::with_capacity(urls.payments.len() + 37);
        url.push_str(&urls.payments);
        url.push('/');
        url.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        let Some((status, body)) = self.get(&url) else {
            return Lookup::Unknown;
        };
        match status {
            200 => parse_lookup_body(&body),
            404 => Lookup::NotFound,
            _ => Lookup::Unknown,
        }
    }

    /// Asks for the processor's health; `None` if the answer has no
    /// `failing` and `minResponseTime`. The status is not looked at: a
    /// processor may say how it is doing in a 5xx answer too, and a 429's
    /// body (`Calm down`) simply lacks the fields.
    pub fn health(&self) -> Option<Health> {
        let (_status, body) = self.get(&self.urls().health)?;
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

/// `http://name:port` with the name replaced by its first address, or the
/// URL unchanged if it has no such shape or the name does not resolve.
fn resolve_once(base: &str) -> String {
    use std::net::ToSocketAddrs;
    let Some(authority) = base.strip_prefix("http://") else {
        return base.to_string();
    };
    match authority.to_socket_addrs().map(|mut addrs| addrs.next()) {
        Ok(Some(address)) => format!("http://{address}"),
        _ => base.to_string(),
    }
}

/// Errors that prove no byte of the request reached the processor: the
/// name did not resolve or the connection was never established.
fn never_sent(error: &ureq::Error) -> bool {
    use ureq::Timeout;
    match error {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => true,
        ureq::Error::Io(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        _ => false,
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
    fn names_are_resolved_once_and_other_urls_kept() {
        let local = resolve_once("http://localhost:8001");
        assert!(
            ["http://127.0.0.1:8001", "http://[::1]:8001"].contains(&local.as_str()),
            "{local}"
        );
        assert_eq!(
            resolve_once("http://127.0.0.1:8001"),
            "http://127.0.0.1:8001"
        );
        let unknown = "http://no-such-host.invalid:8080";
        assert_eq!(resolve_once(unknown), unknown);
        assert_eq!(resolve_once("https://x:1"), "https://x:1");
    }

    #[test]
    fn a_refused_connection_proves_nothing_was_stored() {
        // Port 9 on loopback: nothing listens, the connection is refused.
        let client = ProcessorClient::new("http://127.0.0.1:9", 1, Duration::from_millis(300));
        let mut body = Vec::new();
        assert_eq!(
            client.pay(Uuid::nil(), 1990, 0, &mut body),
            Outcome::Refused
        );
        assert_eq!(client.lookup(Uuid::nil()), Lookup::Unknown);
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
                let _ = stream.read(&mut head);
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
        let client = ProcessorClient::new(&url, 1, Duration::from_secs(2));
        let health = client.health().expect("the 503's body is read");
        assert!(health.failing);
        assert_eq!(health.min_response_time_ms, 100);
        assert_eq!(client.health(), None, "a 429 has no fields");
    }
}

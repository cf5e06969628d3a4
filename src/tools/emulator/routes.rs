//! What each endpoint of the emulated processor does with a parsed request.
//!
//! One [`Emulator`] is shared by every connection thread. Each piece of state
//! has its own lock, held only for a copy or an insert, never across the
//! configured delay or the health limiter's wait: a slow payment must not
//! hold up a summary, exactly as rows in a database would not. The
//! `/admin/` endpoints live in the sibling `admin` module.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::fee::Fee;
use super::gate::{self, Gate};
use super::health::{Admission, HealthLimiter};
use super::json::{self, JsonStr, Value};
use super::store::{Insert, Store, Stored};
use crate::domain::money;
use crate::domain::time::{self, Round};
use crate::http::{self, Method, Request};

/// The settings the admin endpoints change at run time.
#[derive(Debug)]
pub(super) struct Settings {
    /// Required in `X-Rinha-Token` by every `/admin/` endpoint.
    pub(super) token: String,
    /// Slept by every `POST /payments` before anything else happens; 0 to
    /// `i32::MAX` ms, the range of the official processor's `int`.
    pub(super) delay_ms: u32,
    /// Whether `POST /payments` answers 500 and stores nothing.
    pub(super) failure: bool,
    /// Emulator-only: whether a stored payment's connection is closed
    /// without an answer.
    pub(super) drop: bool,
    /// Emulator-only: when not 0, the status every `POST /payments` is
    /// answered with at once, storing nothing.
    pub(super) status: u16,
}

/// The emulated processor: settings, payments, and both limiters.
#[derive(Debug)]
pub struct Emulator {
    /// Origin of the monotonic clock the health limiter counts windows on.
    pub(super) started: Instant,
    pub(super) fee: Fee,
    pub(super) settings: Mutex<Settings>,
    pub(super) store: Mutex<Store>,
    pub(super) health: Mutex<HealthLimiter>,
    /// `POST /payments` only, like the official concurrency limit.
    pub(super) gate: Gate,
}

/// What the connection must do once [`Emulator::handle`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A response is in `out`: send it.
    Send,
    /// Send nothing and close the connection (the `drop` extension).
    Drop,
}

/// A response still to be framed: status, body type and the optional
/// `Retry-After` seconds; the body itself is already in the body buffer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) json: bool,
    pub(super) retry_after_s: Option<i64>,
}

/// Why a `POST /payments` body was refused (HTTP 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PaymentBodyError {
    NotJson,
    CorrelationId,
    Amount,
    RequestedAt,
}

impl PaymentBodyError {
    fn message(self) -> &'static str {
        match self {
            PaymentBodyError::NotJson => r#"{"error":"body must be a JSON object"}"#,
            PaymentBodyError::CorrelationId => r#"{"error":"correlationId must be a UUID"}"#,
            PaymentBodyError::Amount => r#"{"error":"amount must be a positive decimal"}"#,
            PaymentBodyError::RequestedAt => {
                r#"{"error":"requestedAt must be an ISO-8601 timestamp"}"#
            }
        }
    }
}

const PROCESSED: &str = r#"{"message":"payment processed successfully"}"#;
const FAILED: &str = r#"{"message":"payment processing failed (failure simulated)"}"#;
const BUSY: &str = r#"{"error":"too many requests"}"#;
const CALM_DOWN: &str = "Calm down. Try again later.";

impl Emulator {
    /// A processor with no payments, no delay, no failure, and `token`.
    pub fn new(fee: Fee, token: String) -> Emulator {
        Emulator {
            started: Instant::now(),
            fee,
            settings: Mutex::new(Settings {
                token,
                delay_ms: 0,
                failure: false,
                drop: false,
                status: 0,
            }),
            store: Mutex::new(Store::default()),
            health: Mutex::new(HealthLimiter::default()),
            gate: Gate::new(gate::MAX_ACTIVE, gate::MAX_WAITING),
        }
    }

    /// The fee this processor charges, as configured.
    pub fn fee(&self) -> &Fee {
        &self.fee
    }

    /// Answers `request` into `out` (using `body` as scratch), possibly after
    /// blocking for the configured delay or a health window.
    pub fn handle(&self, request: &Request, body: &mut Vec<u8>, out: &mut Vec<u8>) -> Reply {
        body.clear();
        let Some(answer) = self.route(request, body) else {
            return Reply::Drop;
        };
        http::write_head(
            out,
            answer.status,
            answer.json,
            body.len(),
            request.keep_alive,
        );
        if let Some(seconds) = answer.retry_after_s {
            // write_head ends the head with an empty line; slip the header in
            // before it.
            out.truncate(out.len() - 2);
            out.extend_from_slice(b"Retry-After: ");
            out.extend_from_slice(itoa::Buffer::new().format(seconds).as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
        }
        out.extend_from_slice(body);
        Reply::Send
    }

    /// `None` means: close the connection without answering.
    fn route(&self, request: &Request, body: &mut Vec<u8>) -> Option<Answer> {
        let path = request.path;
        let method = request.method;
        if let Some(name) = path.strip_prefix(b"/admin/") {
            let allowed = match name {
                b"payments-summary" => Method::Get,
                b"purge-payments" => Method::Post,
                b"configurations/token"
                | b"configurations/delay"
                | b"configurations/failure"
                | b"configurations/drop"
                | b"configurations/status" => Method::Put,
                _ => return Some(empty(404)),
            };
            if method != allowed {
                return Some(empty(405));
            }
            return Some(self.admin(request, name, body));
        }
        match (method, path) {
            (Method::Post, b"/payments") => self.post_payment(request.body, body),
            (Method::Get, b"/payments/service-health") => Some(self.service_health(body)),
            (Method::Get, _) if path.starts_with(b"/payments/") => {
                Some(self.get_payment(&path[b"/payments/".len()..], body))
            }
            (_, b"/payments") => Some(empty(405)),
            (_, _) if path.starts_with(b"/payments/") => Some(empty(405)),
            _ => Some(empty(404)),
        }
    }

    /// `POST /payments`: limit, validate, delay, fail or store.
    fn post_payment(&self, request_body: &[u8], body: &mut Vec<u8>) -> Option<Answer> {
        let status = self.settings().status;
        if status != 0 {
            // Like something in front of the processor: nothing reaches it.
            return Some(empty(status));
        }
        let Ok(_pass) = self.gate.enter() else {
            return Some(json(429, BUSY, body));
        };
        let payment = match parse_payment(request_body) {
            Ok(payment) => payment,
            Err(error) => return Some(json(400, error.message(), body)),
        };
        let delay_ms = self.settings().delay_ms;
        if delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(u64::from(delay_ms)));
        }
        // Read after the delay: a failure switched on meanwhile applies.
        let (failure, drop) = {
            let settings = self.settings();
            (settings.failure, settings.drop)
        };
        if failure {
            return Some(json(500, FAILED, body));
        }
        let (id, stored) = payment;
        match lock(&self.store).insert(id, stored) {
            Insert::Duplicate => {
                body.extend_from_slice(b"{\"message\":\"CorrelationId already exists: ");
                push_uuid(id, body);
                body.extend_from_slice(b"\"}");
                Some(Answer {
                    status: 422,
                    json: true,
                    retry_after_s: None,
                })
            }
            Insert::Stored if drop => None,
            Insert::Stored => Some(json(200, PROCESSED, body)),
        }
    }

    /// `GET /payments/service-health`, one answer per 5 s window.
    fn service_health(&self, body: &mut Vec<u8>) -> Answer {
        let now_ms = self.clock_ms();
        let admission = lock(&self.health).admit(now_ms);
        match admission {
            Admission::Now => {}
            Admission::At(opens_ms) => {
                let wait = u64::try_from(opens_ms - now_ms).unwrap_or(0);
                std::thread::sleep(Duration::from_millis(wait));
            }
            Admission::Refused { retry_after_s } => {
                body.extend_from_slice(CALM_DOWN.as_bytes());
                return Answer {
                    status: 429,
                    json: false,
                    retry_after_s: Some(retry_after_s),
                };
            }
        }
        let (failing, delay_ms) = {
            let settings = self.settings();
            (settings.failure, settings.delay_ms)
        };
        body.extend_from_slice(b"{\"failing\":");
        body.extend_from_slice(bool_text(failing));
        body.extend_from_slice(b",\"minResponseTime\":");
        body.extend_from_slice(itoa::Buffer::new().format(delay_ms).as_bytes());
        body.push(b'}');
        ok_json()
    }

    /// `GET /payments/{id}`: 400 for an id that is no UUID, 404 if unknown.
    fn get_payment(&self, id: &[u8], body: &mut Vec<u8>) -> Answer {
        let Ok(id) = Uuid::try_parse_ascii(id) else {
            return json(400, r#"{"error":"id must be a UUID"}"#, body);
        };
        let Some(stored) = lock(&self.store).get(id) else {
            return empty(404);
        };
        let mut at = [0; time::ISO8601_LEN];
        time::format_iso8601(stored.requested_at_ms, &mut at);
        body.extend_from_slice(b"{\"correlationId\":\"");
        push_uuid(id, body);
        body.extend_from_slice(b"\",\"amount\":");
        money::write_cents(u128::from(stored.amount_cents), body);
        body.extend_from_slice(b",\"requestedAt\":\"");
        body.extend_from_slice(&at);
        body.extend_from_slice(b"\"}");
        ok_json()
    }

    pub(super) fn settings(&self) -> MutexGuard<'_, Settings> {
        lock(&self.settings)
    }

    /// Milliseconds since start on the monotonic clock.
    fn clock_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}

/// A poisoned lock only means a handler thread panicked; every update under
/// these locks is a single assignment or insert, so the data is consistent.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `{"correlationId","amount","requestedAt"}`: the three are required; the
/// amount is rounded half-to-even to cents and `requestedAt` kept to the ms
/// (a finer fraction is truncated; our drainer sends whole ms).
fn parse_payment(body: &[u8]) -> Result<(Uuid, Stored), PaymentBodyError> {
    let [id, amount, requested_at] = json::fields(body, ["correlationId", "amount", "requestedAt"])
        .map_err(|_| PaymentBodyError::NotJson)?;
    let id = match id {
        Some(Value::Str(JsonStr {
            raw,
            escaped: false,
        })) => Uuid::try_parse_ascii(raw).ok(),
        _ => None,
    }
    .ok_or(PaymentBodyError::CorrelationId)?;
    let amount_cents = match amount {
        Some(Value::Number(text)) => money::parse_cents(text).ok(),
        _ => None,
    }
    .ok_or(PaymentBodyError::Amount)?;
    let requested_at_ms = match requested_at {
        Some(Value::Str(JsonStr {
            raw,
            escaped: false,
        })) => time::parse_iso8601(raw, Round::Down),
        _ => None,
    }
    .ok_or(PaymentBodyError::RequestedAt)?;
    Ok((
        id,
        Stored {
            amount_cents,
            requested_at_ms,
        },
    ))
}

/// The canonical lower-case hyphenated form, as .NET writes a `Guid`.
fn push_uuid(id: Uuid, body: &mut Vec<u8>) {
    body.extend_from_slice(
        id.hyphenated()
            .encode_lower(&mut Uuid::encode_buffer())
            .as_bytes(),
    );
}

pub(super) fn bool_text(value: bool) -> &'static [u8] {
    match value {
        true => b"true",
        false => b"false",
    }
}

pub(super) fn ok_json() -> Answer {
    Answer {
        status: 200,
        json: true,
        retry_after_s: None,
    }
}

pub(super) fn json(status: u16, text: &str, body: &mut Vec<u8>) -> Answer {
    body.extend_from_slice(text.as_bytes());
    Answer {
        status,
        json: true,
        retry_after_s: None,
    }
}

pub(super) fn empty(status: u16) -> Answer {
    Answer {
        status,
        json: false,
        retry_after_s: None,
    }
}

/// Request builders and response readers for this module's tests and `admin`'s.
#[cfg(test)]
pub(super) mod test_support {
    use super::*;
    use crate::http::Status;

    pub(crate) fn emulator() -> Emulator {
        Emulator::new(Fee::parse("0.05").unwrap(), "123".into())
    }

    /// Sends `raw` through the router and returns the response as text, or
    /// `None` when the connection would be dropped.
    pub(crate) fn call(emulator: &Emulator, raw: &str) -> Option<String> {
        let Ok(Status::Complete(request)) = http::parse_request(raw.as_bytes()) else {
            panic!("not a complete request: {raw:?}");
        };
        let (mut body, mut out) = (Vec::new(), Vec::new());
        match emulator.handle(&request, &mut body, &mut out) {
            Reply::Send => Some(String::from_utf8(out).unwrap()),
            Reply::Drop => None,
        }
    }

    pub(crate) fn request(method: &str, target: &str, token: Option<&str>, body: &str) -> String {
        let token = token.map_or(String::new(), |t| format!("X-Rinha-Token: {t}\r\n"));
        format!(
            "{method} {target} HTTP/1.1\r\nHost: x\r\n{token}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    pub(crate) fn status(response: &str) -> u16 {
        response[9..12].parse().unwrap()
    }

    pub(crate) fn body(response: &str) -> &str {
        response.split_once("\r\n\r\n").unwrap().1
    }

    pub(crate) const ID: &str = "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3";

    pub(crate) fn payment(id: &str, amount: &str, at: &str) -> String {
        let body = format!(r#"{{"correlationId":"{id}","amount":{amount},"requestedAt":"{at}"}}"#);
        request("POST", "/payments", None, &body)
    }
}

#[cfg(test)]
mod tests;

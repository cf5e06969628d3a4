//! What each endpoint does with a parsed request.
//!
//! | request                     | answer                                             |
//! |-----------------------------|----------------------------------------------------|
//! | `POST /payments`            | 200 empty once queued; 400 bad body; 503 ring full or stale |
//! | `GET /payments-summary`     | 200 summary JSON; 400 bad `from`/`to`              |
//! | `POST /purge-payments`      | 200 when enabled; 403 when `--no-purge`            |
//! | other method on those paths | 405                                                |
//! | any other path              | 404                                                |
//!
//! A payment is answered as soon as it sits in the shared ring: the client
//! never waits on a processor.
//!
//! A payment whose client has probably given up is refused, not queued. The
//! contest's client counts a POST as failed after 1.5 s; if we queued it
//! anyway it would be paid and reported, and "reported more than was
//! acknowledged" is a negative lag, which disqualifies. HAProxy stamps each
//! request with its arrival time (`X-Rinha-Arrived`, see `haproxy.cfg`); a
//! `POST /payments` older than [`Options::max_request_age_ms`] when we read
//! it gets 503 with nothing queued, which the client may retry. Requests
//! without the stamp (no HAProxy in front) are served as before. The contest counts any 2xx as success and never
//! reads the body, so the success answer is the shortest response HTTP allows.
//! Every error body is one line of JSON. Nothing here allocates: responses are
//! appended to the connection's output buffer, which keeps its capacity.
//!
//! [`floor`] is the benchmark reference (`rinha api --floor`): the same routes
//! answered with fixed responses, never touching the shared file, so a run
//! against it measures HAProxy, the kernel, the event loop and the HTTP
//! parser alone, and the gap to [`handle`] is what the payment path costs.

use crate::domain::{summary, time};
use crate::http::{self, Method, Request};
use crate::store::shared_file::{AcceptError, SharedFile};

pub mod payment_body;

const PAYMENTS: &[u8] = b"/payments";
const SUMMARY: &[u8] = b"/payments-summary";
const PURGE: &[u8] = b"/purge-payments";

const PURGED: &[u8] = br#"{"message":"All payments purged."}"#;
const STALE: &[u8] =
    br#"{"error":"the request waited too long before reaching this instance; not queued"}"#;
const PURGE_DISABLED: &[u8] = br#"{"error":"purge is disabled on this instance"}"#;
const METHOD_NOT_ALLOWED: &[u8] = br#"{"error":"method not allowed"}"#;
const NOT_FOUND: &[u8] = br#"{"error":"not found"}"#;

/// The one-line JSON body sent with the 503 when the store refuses a
/// payment: the store says why, the API says it to clients.
fn refusal_body(error: AcceptError) -> &'static [u8] {
    match error {
        AcceptError::Full => br#"{"error":"too many payments pending, retry later"}"#,
        AcceptError::LedgerFull => {
            br#"{"error":"the shared file's ledger is full: no more payments can be recorded"}"#
        }
    }
}

/// How an instance answers, beyond what the shared file decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Whether `POST /purge-payments` is honoured (`--no-purge` turns it off).
    pub purge_enabled: bool,
    /// A `POST /payments` stamped by HAProxy more than this many
    /// milliseconds before we read it is refused with 503; 0 turns the
    /// check off (`--max-request-age-ms`).
    pub max_request_age_ms: u64,
}

impl Default for Options {
    /// Purge on; requests older than 1 000 ms refused: the client gives up
    /// at 1 500 ms, and the answer still has to travel back through HAProxy
    /// and the client's own scheduling, which a stalled machine can stretch
    /// by hundreds of milliseconds (a CFS-throttled period is 100 ms).
    fn default() -> Options {
        Options {
            purge_enabled: true,
            max_request_age_ms: 1_000,
        }
    }
}

/// Whether HAProxy received `request` more than `max_age_ms` ago. Reads the
/// clock only for a stamped request (a vDSO call, no system call).
fn is_stale(request: &Request, max_age_ms: u64) -> bool {
    match request.arrived_ms {
        Some(arrived) if max_age_ms > 0 => {
            // A stamp in the future (clocks are one kernel's here, so only
            // a forged one) has age zero.
            let now = u64::try_from(time::now_millis()).unwrap_or(0);
            now.saturating_sub(arrived) > max_age_ms
        }
        _ => false,
    }
}

/// Answers `request` by appending one complete response to `out`, and says
/// whether the connection stays open (the request's keep-alive wish: every
/// answer here leaves the connection's framing intact).
pub fn handle(
    request: &Request,
    shared: &SharedFile,
    options: &Options,
    out: &mut Vec<u8>,
) -> bool {
    let keep_alive = request.keep_alive;
    let json = |out: &mut Vec<u8>, status: u16, body: &[u8]| {
        http::write_response(out, status, true, body, keep_alive);
    };
    match (request.path, request.method) {
        (PAYMENTS, Method::Post) if is_stale(request, options.max_request_age_ms) => {
            json(out, 503, STALE);
        }
        (PAYMENTS, Method::Post) => match payment_body::parse_payment(request.body) {
            Ok(payment) => match shared.producer().accept(&payment) {
                Ok(()) => http::write_response(out, 200, false, b"", keep_alive),
                Err(error) => json(out, 503, refusal_body(error)),
            },
            Err(error) => json(out, 400, error.message().as_bytes()),
        },
        (SUMMARY, Method::Get) => match summary::parse_window(request.query) {
            Ok(window) => write_summary(out, shared.reader().summary(window), keep_alive),
            Err(error) => json(out, 400, error.message().as_bytes()),
        },
        (PURGE, Method::Post) if options.purge_enabled => {
            shared.producer().purge();
            json(out, 200, PURGED);
        }
        (PURGE, Method::Post) => json(out, 403, PURGE_DISABLED),
        (PAYMENTS | SUMMARY | PURGE, _) => json(out, 405, METHOD_NOT_ALLOWED),
        _ => json(out, 404, NOT_FOUND),
    }
    keep_alive
}

/// Answers `request` like [`handle`] would in shape, but with fixed content:
/// a payment is 200 without its body being read, a summary is all zeros,
/// a purge succeeds. Says whether the connection stays open.
pub fn floor(request: &Request, out: &mut Vec<u8>) -> bool {
    let keep_alive = request.keep_alive;
    let json = |out: &mut Vec<u8>, status: u16, body: &[u8]| {
        http::write_response(out, status, true, body, keep_alive);
    };
    match (request.path, request.method) {
        (PAYMENTS, Method::Post) => http::write_response(out, 200, false, b"", keep_alive),
        (SUMMARY, Method::Get) => write_summary(out, summary::Summary::default(), keep_alive),
        (PURGE, Method::Post) => json(out, 200, PURGED),
        (PAYMENTS | SUMMARY | PURGE, _) => json(out, 405, METHOD_NOT_ALLOWED),
        _ => json(out, 404, NOT_FOUND),
    }
    keep_alive
}

/// The head must announce the body's length, known only once the JSON is
/// written: write the body, then the head after it, then rotate the head in
/// front. A few hundred bytes move in place; nothing is allocated.
fn write_summary(out: &mut Vec<u8>, summary: summary::Summary, keep_alive: bool) {
    let start = out.len();
    summary.write_json(out);
    let body_len = out.len() - start;
    http::write_head(out, 200, true, body_len, keep_alive);
    let head_len = out.len() - start - body_len;
    out[start..].rotate_right(head_len);
}

#[cfg(test)]
mod tests {
    use super::payment_body::PaymentError;
    use super::*;
    use crate::config::Capacities;
    use crate::domain::summary::{QueryError, Summary};
    use crate::http::{Status, parse_request};
    use crate::store::test_support::TempStore;

    const PAYMENT: &str =
        r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90}"#;

    /// A store of its own with `ring_slots` slots.
    fn temp_store(name: &str, ring_slots: u32) -> TempStore {
        let capacities = Capacities {
            ring_slots,
            ledger_entries: 16,
        };
        TempStore::new(&format!("api-{name}"), capacities)
    }

    fn post(path: &str, body: &str) -> String {
        format!(
            "POST {path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    fn get(target: &str) -> String {
        format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n")
    }

    /// Runs one raw request through `handle`; returns the status line, the
    /// body, whether the connection is kept, and the whole response.
    fn exchange(shared: &SharedFile, purge: bool, raw: &str) -> (String, String, bool, String) {
        let Ok(Status::Complete(request)) = parse_request(raw.as_bytes()) else {
            panic!("not a complete request: {raw:?}");
        };
        let mut out = b"earlier response|".to_vec();
        let options = Options {
            purge_enabled: purge,
            ..Options::default()
        };
        let keep = handle(&request, shared, &options, &mut out);
        let out = String::from_utf8(out).unwrap();
        let out = out.strip_prefix("earlier response|").unwrap().to_string();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let status_line = head.lines().next().unwrap().to_string();
        let length = format!("Content-Length: {}\r\n", body.len());
        assert!(out.contains(&length), "{out:?}");
        (status_line, body.to_string(), keep, out)
    }

    fn zero_summary() -> String {
        let mut json = Vec::new();
        Summary::default().write_json(&mut json);
        String::from_utf8(json).unwrap()
    }

    #[test]
    fn each_route_gives_its_status_and_body() {
        let temp = temp_store("routes", 1024);
        let zero = zero_summary();
        let cases: &[(String, bool, &str, &str)] = &[
            (post("/payments", PAYMENT), true, "200 OK", ""),
            (
                post("/payments", "{"),
                true,
                "400 Bad Request",
                PaymentError::NotJson.message(),
            ),
            (
                post(
                    "/payments",
                    r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"}"#,
                ),
                true,
                "400 Bad Request",
                PaymentError::MissingAmount.message(),
            ),
            // Nothing drains in this test, so the summary stays at zero.
            (get("/payments-summary"), true, "200 OK", &zero),
            (
                get("/payments-summary?from=2020-07-10T12:34:56.000Z&to=2030-07-10T12:34:56.000Z"),
                true,
                "200 OK",
                &zero,
            ),
            (
                get("/payments-summary?from=yesterday&to=2030-07-10T12:34:56.000Z"),
                true,
                "400 Bad Request",
                QueryError::BadFrom.message(),
            ),
            (
                post("/purge-payments", ""),
                true,
                "200 OK",
                r#"{"message":"All payments purged."}"#,
            ),
            (
                post("/purge-payments", ""),
                false,
                "403 Forbidden",
                r#"{"error":"purge is disabled on this instance"}"#,
            ),
            (
                get("/payments"),
                true,
                "405 Method Not Allowed",
                r#"{"error":"method not allowed"}"#,
            ),
            (
                post("/payments-summary", ""),
                true,
                "405 Method Not Allowed",
                r#"{"error":"method not allowed"}"#,
            ),
            (
                get("/purge-payments"),
                true,
                "405 Method Not Allowed",
                r#"{"error":"method not allowed"}"#,
            ),
            (get("/"), true, "404 Not Found", r#"{"error":"not found"}"#),
            (
                get("/payments/4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"),
                true,
                "404 Not Found",
                r#"{"error":"not found"}"#,
            ),
            (
                post("/Payments", PAYMENT),
                true,
                "404 Not Found",
                r#"{"error":"not found"}"#,
            ),
        ];
        for (raw, purge, status, body) in cases {
            let (got_status, got_body, keep, out) = exchange(&temp, *purge, raw);
            assert_eq!(got_status, format!("HTTP/1.1 {status}"), "{raw:?}");
            assert_eq!(&got_body, body, "{raw:?}");
            assert!(keep, "{raw:?}");
            assert_eq!(
                out.contains("Content-Type: application/json"),
                !body.is_empty(),
                "{out:?}"
            );
        }
    }

    #[test]
    fn the_connection_closes_when_the_client_asks() {
        let temp = temp_store("close", 1024);
        let cases = [
            (
                "POST /payments HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
                "400",
            ),
            ("GET /payments-summary HTTP/1.0\r\n\r\n", "200"),
            ("GET /x HTTP/1.1\r\nConnection: close\r\n\r\n", "404"),
        ];
        for (raw, status) in cases {
            let (status_line, _, keep, out) = exchange(&temp, true, raw);
            assert!(
                status_line.starts_with(&format!("HTTP/1.1 {status}")),
                "{out:?}"
            );
            assert!(!keep, "{raw:?}");
            assert!(out.contains("\r\nConnection: close\r\n"), "{out:?}");
        }
    }

    #[test]
    fn the_floor_answers_every_route_with_fixed_content() {
        let zero = zero_summary();
        let cases: &[(String, &str, &str)] = &[
            (post("/payments", PAYMENT), "200 OK", ""),
            // Not parsed, so not refused: the floor measures no validation.
            (post("/payments", "{"), "200 OK", ""),
            (get("/payments-summary"), "200 OK", &zero),
            (get("/payments-summary?from=yesterday"), "200 OK", &zero),
            (
                post("/purge-payments", ""),
                "200 OK",
                r#"{"message":"All payments purged."}"#,
            ),
            (
                get("/payments"),
                "405 Method Not Allowed",
                r#"{"error":"method not allowed"}"#,
            ),
            (get("/"), "404 Not Found", r#"{"error":"not found"}"#),
        ];
        for (raw, status, body) in cases {
            let Ok(Status::Complete(request)) = parse_request(raw.as_bytes()) else {
                panic!("not a complete request: {raw:?}");
            };
            let mut out = Vec::new();
            assert!(floor(&request, &mut out), "{raw:?}");
            let out = String::from_utf8(out).unwrap();
            let (head, got_body) = out.split_once("\r\n\r\n").unwrap();
            assert_eq!(head.lines().next().unwrap(), format!("HTTP/1.1 {status}"));
            assert_eq!(&got_body, body, "{raw:?}");
            assert!(out.contains(&format!("Content-Length: {}\r\n", body.len())));
        }
    }

    #[test]
    fn a_payment_stamped_too_long_ago_is_refused_and_not_queued() {
        let temp = temp_store("stale", 1024);
        let now = u64::try_from(crate::domain::time::now_millis()).unwrap();
        let stamped = |arrived: u64| {
            format!(
                "POST /payments HTTP/1.1\r\nX-Rinha-Arrived: {arrived}\r\nContent-Length: {}\r\n\r\n{PAYMENT}",
                PAYMENT.len()
            )
        };
        let stale_summary = format!(
            "GET /payments-summary HTTP/1.1\r\nX-Rinha-Arrived: {}\r\n\r\n",
            now - 60_000
        );
        // (request, max age ms, status, queued)
        let cases: &[(String, u64, &str, bool)] = &[
            (
                stamped(now - 5_000),
                1_000,
                "503 Service Unavailable",
                false,
            ),
            (
                stamped(now - 60_000),
                1_000,
                "503 Service Unavailable",
                false,
            ),
            (stamped(now), 1_000, "200 OK", true),
            (stamped(now + 60_000), 1_000, "200 OK", true),
            (post("/payments", PAYMENT), 1_000, "200 OK", true),
            (stamped(now - 60_000), 0, "200 OK", true),
            (stamped(now - 60_000), 120_000, "200 OK", true),
            // Only payments are refused: a summary has no client to outlive.
            (stale_summary, 1_000, "200 OK", false),
        ];
        for (raw, max_age, status, queued) in cases {
            let Ok(Status::Complete(request)) = parse_request(raw.as_bytes()) else {
                panic!("not a complete request: {raw:?}");
            };
            let options = Options {
                max_request_age_ms: *max_age,
                ..Options::default()
            };
            let mut out = Vec::new();
            assert!(handle(&request, &temp, &options, &mut out));
            let out = String::from_utf8(out).unwrap();
            assert!(
                out.starts_with(&format!("HTTP/1.1 {status}\r\n")),
                "{raw:?}: {out:?}"
            );
            if status.starts_with("503") {
                assert!(
                    out.ends_with(std::str::from_utf8(STALE).unwrap()),
                    "{out:?}"
                );
            }
            let drained = temp.ring().drain_all_for_test();
            assert_eq!(drained.len(), usize::from(*queued), "{raw:?}");
        }
    }

    #[test]
    fn a_full_ring_is_answered_503_until_drained() {
        let temp = temp_store("full", 2);
        let pay = || exchange(&temp, true, &post("/payments", PAYMENT));
        assert_eq!(pay().0, "HTTP/1.1 200 OK");
        assert_eq!(pay().0, "HTTP/1.1 200 OK");
        let (status_line, body, kept, _) = pay();
        assert_eq!(status_line, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(body.as_bytes(), refusal_body(AcceptError::Full));
        assert!(kept, "a 503 keeps the connection");
        // Drain as the leader does (each slot marked done, then freed): the
        // two accepted payments come out, the refused one was never queued,
        // and the ring takes payments again.
        let drained = temp.ring().drain_all_for_test();
        assert_eq!(drained.len(), 2);
        assert!(drained.iter().all(|p| p.payment.amount_cents == 1990));
        assert_eq!(pay().0, "HTTP/1.1 200 OK");
        assert_eq!(pay().0, "HTTP/1.1 200 OK");
        assert_eq!(pay().0, "HTTP/1.1 503 Service Unavailable");
    }
}

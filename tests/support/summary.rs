//! The numbers the contest compares: the backend's `GET /payments-summary`
//! and each processor's `GET /admin/payments-summary`, read exactly, and the
//! wait until the two agree.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use super::emulator::TOKEN;
use super::http::Client;
use super::json;

/// Milliseconds since the epoch, UTC.
pub fn now_ms() -> i64 {
    rinha::domain::time::now_millis()
}

/// `2025-07-10T12:34:56.789Z` for `ms`.
pub fn iso(ms: i64) -> String {
    let mut out = [0; rinha::domain::time::ISO8601_LEN];
    rinha::domain::time::format_iso8601(ms, &mut out);
    String::from_utf8(out.to_vec()).expect("ASCII")
}

/// An inclusive window in milliseconds; `None` means all payments.
pub type Window = Option<(i64, i64)>;

/// `?from=…&to=…` for `window`, or nothing.
fn window_query(window: Window) -> String {
    match window {
        Some((from, to)) => format!("?from={}&to={}", iso(from), iso(to)),
        None => String::new(),
    }
}

/// What one processor (or one side of a summary) counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// `totalRequests`.
    pub requests: u64,
    /// `totalAmount`, in cents.
    pub cents: u64,
}

/// Both processors' totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The default processor's.
    pub default: Totals,
    /// The fallback processor's.
    pub fallback: Totals,
}

impl Summary {
    /// Requests on both sides.
    pub fn requests(&self) -> u64 {
        self.default.requests + self.fallback.requests
    }
}

/// `totalRequests` and `totalAmount` of a JSON object.
pub fn totals(json: &str) -> Option<Totals> {
    Some(Totals {
        requests: json::number(json, "totalRequests")?.parse().ok()?,
        cents: json::cents(json::number(json, "totalAmount")?)?,
    })
}

/// A backend summary's body: `{"default":{…},"fallback":{…}}`.
pub fn parse_summary(body: &str) -> Option<Summary> {
    let at = body.find("\"fallback\"")?;
    Some(Summary {
        default: totals(&body[..at])?,
        fallback: totals(&body[at..])?,
    })
}

/// `GET target` with `headers` from `client`: the body of a 200, or what
/// came instead, for a failure message.
fn get_ok(mut client: Client, target: &str, headers: &[(&str, &str)]) -> Result<String, String> {
    match client.send("GET", target, headers, b"") {
        Ok(r) if r.status == 200 => Ok(r.body),
        other => Err(format!("{target}: expected 200, got {other:?}")),
    }
}

/// `GET /payments-summary` from the backend at `addr`: the body, or why not.
fn ask_backend(addr: SocketAddr, window: Window) -> Result<String, String> {
    let target = format!("/payments-summary{}", window_query(window));
    get_ok(Client::new(addr), &target, &[]).map_err(|why| format!("{why} from {addr}"))
}

/// `GET /admin/payments-summary` from the emulator on `port`: the body, or
/// why not.
fn ask_processor(port: u16, window: Window) -> Result<String, String> {
    let target = format!("/admin/payments-summary{}", window_query(window));
    get_ok(Client::local(port), &target, &[("X-Rinha-Token", TOKEN)])
}

/// `GET /payments-summary` from the backend at `addr`; fails unless it
/// answers 200 with both sides.
pub fn backend_summary(addr: SocketAddr, window: Window) -> Summary {
    let body = ask_backend(addr, window).unwrap_or_else(|why| panic!("{why}"));
    parse_summary(&body).unwrap_or_else(|| panic!("bad summary {body}"))
}

/// [`backend_summary`], or `None` when the backend does not answer (one
/// killed under the question, or not up yet).
pub fn try_backend_summary(addr: SocketAddr, window: Window) -> Option<Summary> {
    parse_summary(&ask_backend(addr, window).ok()?)
}

/// `GET /admin/payments-summary` from the emulator on `port`; fails unless
/// it answers 200.
pub fn processor_totals(port: u16, window: Window) -> Totals {
    let body = ask_processor(port, window).unwrap_or_else(|why| panic!("{why}"));
    totals(&body).unwrap_or_else(|| panic!("bad admin summary {body}"))
}

/// [`processor_totals`], or `None` when the emulator does not answer 200.
pub fn try_processor_totals(port: u16, window: Window) -> Option<Totals> {
    totals(&ask_processor(port, window).ok()?)
}

/// Both processors' admin summaries, as the backend's summary would read.
pub fn processors_summary(ports: [u16; 2], window: Window) -> Summary {
    Summary {
        default: processor_totals(ports[0], window),
        fallback: processor_totals(ports[1], window),
    }
}

/// Waits until the backend's summary equals the processors' and neither
/// changes for a few polls, with at least `min_requests` paid in all;
/// fails after `timeout` with the last readings. `read` gives (backend,
/// processors). Returns the settled summary.
pub fn settle_with(
    min_requests: u64,
    timeout: Duration,
    mut read: impl FnMut() -> (Summary, Summary),
) -> Summary {
    const STABLE_POLLS: u32 = 5;
    let deadline = Instant::now() + timeout;
    let mut last = None;
    let mut stable = 0;
    loop {
        let (backend, processors) = read();
        let agreed = backend == processors && processors.requests() >= min_requests;
        stable = match (agreed, last == Some(processors)) {
            (true, true) => stable + 1,
            (true, false) => 1,
            (false, _) => 0,
        };
        last = Some(processors);
        if stable >= STABLE_POLLS {
            return processors;
        }
        assert!(
            Instant::now() < deadline,
            "not settled after {timeout:?} (want ≥ {min_requests} paid):\n\
             backend    {backend:?}\nprocessors {processors:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}
